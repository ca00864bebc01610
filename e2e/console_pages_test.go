package e2e

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/gomirror/gomirror/internal/browsertest"
	"github.com/gomirror/gomirror/internal/fakeproxy"
	"github.com/gomirror/gomirror/modgraph"
	"github.com/gomirror/gomirror/modinfo"
	"github.com/gomirror/gomirror/uphistory"
)

// The console's version, graph and Upstreams pages in headless Chromium,
// against the mirrors of TestGraphIsWhatTheGoCommandLists (open: no
// sign-in), whose graphs the go command has just listed.

// apiGet decodes the JSON answer of base+path into v.
func apiGet(t *testing.T, base, path string, v any) {
	t.Helper()
	body, err := httpGet(base + path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(body), v); err != nil {
		t.Fatalf("GET %s: %v\n%s", path, err, body)
	}
}

// visibleLines is the script that lists the graph page's nodes that are
// shown (as `go list -m all` lines).
const visibleLines = `[...document.querySelectorAll("#graph li.node")].filter(e => !e.closest("[hidden]")).map(e => e.dataset.line)`

// sorted returns a sorted copy of s.
func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// nodeLines returns the goListLines of g's nodes that keep says.
func nodeLines(g *modgraph.Graph, keep func(modgraph.Node) bool) []string {
	var out []string
	lines := goListLines(g)
	for i, n := range g.Nodes {
		if keep(n) {
			out = append(out, lines[i])
		}
	}
	return out
}

// testConsoleGraphPages checks, for each main version, that the graph
// page lists exactly what the go command listed; that the depth filter,
// the server-side search and the script's search narrow it as the API's
// graph says; and that the version page shows the API's go.mod, license
// and README (as text). Chinese with Accept-Language zh-CN.
func testConsoleGraphPages(t *testing.T, base string, listed map[string][]string) {
	b := browsertest.New(t, 2*time.Minute)
	const root = "/ui/modules/example.com/g/root/@v/"
	for v, want := range listed {
		checkPage(t, b, base, root+v+"/graph")
		if got := browsertest.Eval[[]string](b, visibleLines); !slices.Equal(sorted(got), sorted(want)) {
			t.Errorf("graph page of root %s lists\n\t%s\nthe go command\n\t%s", v, strings.Join(sorted(got), "\n\t"), strings.Join(sorted(want), "\n\t"))
		}
		if s := b.Text("#graph-status"); !strings.Contains(s, "Complete") {
			t.Errorf("graph page of root %s: status %q, want complete", v, s)
		}
	}
	b.ScreenshotViewport("console-graph")

	var g modgraph.Graph
	apiGet(t, base, "/api/v1/modules/example.com/g/root/@v/v1.0.0/graph", &g)
	page := root + "v1.0.0/graph"
	// The depth filter, without script (a query parameter).
	checkPage(t, b, base, page+"?depth=1")
	want := nodeLines(&g, func(n modgraph.Node) bool { return n.Depth <= 1 })
	if got := browsertest.Eval[[]string](b, visibleLines); !slices.Equal(sorted(got), sorted(want)) || len(want) >= len(g.Nodes) {
		t.Errorf("depth ≤ 1: the page lists %q, the API's nodes of depth ≤ 1 are %q (of %d)", got, want, len(g.Nodes))
	}
	// The search, without script: the matches are the API's nodes whose
	// path contains q.
	const q = "g/c"
	matches := nodeLines(&g, func(n modgraph.Node) bool { return strings.Contains(n.Path, q) })
	checkPage(t, b, base, page+"?q="+q)
	if got := browsertest.Eval[[]string](b, `[...document.querySelectorAll("#graph li.match")].map(e => e.dataset.line)`); !slices.Equal(sorted(got), sorted(matches)) || len(matches) == 0 {
		t.Errorf("?q=%s: matches %q, the API's %q", q, got, matches)
	}
	if n := len(browsertest.Eval[[]string](b, visibleLines)); n >= len(g.Nodes) {
		t.Errorf("?q=%s: %d of %d modules shown: not narrowed", q, n, len(g.Nodes))
	}
	// The search as one types (the embedded script), then collapse all.
	checkPage(t, b, base, page)
	b.Do(chromedp.SendKeys(chromedp.ID("graph-q"), q))
	if got := browsertest.Eval[[]string](b, `[...document.querySelectorAll("#graph li.match")].map(e => e.dataset.line)`); !slices.Equal(sorted(got), sorted(matches)) {
		t.Errorf("typing %q: matches %q, the API's %q", q, got, matches)
	}
	if n := len(browsertest.Eval[[]string](b, visibleLines)); n >= len(g.Nodes) || n < len(matches) {
		t.Errorf("typing %q: %d of %d modules shown", q, n, len(g.Nodes))
	}
	b.Do(chromedp.Click(chromedp.ID("collapse-all")))
	if n := browsertest.Eval[int](b, `document.querySelectorAll("#graph details[open]").length`); n != 0 {
		t.Errorf("collapse all: %d still open", n)
	}
	if p := b.Problems(); len(p) > 0 {
		t.Errorf("graph page's script: %s", strings.Join(p, "\n"))
	}

	// The version page: the API's go.mod, license, README as text.
	var d modinfo.Details
	apiGet(t, base, "/api/v1/modules/example.com/g/root/@v/v1.0.0", &d)
	checkPage(t, b, base, root+"v1.0.0")
	if got := browsertest.Eval[string](b, `document.querySelector("#go-mod").textContent`); got != d.GoMod || d.GoMod == "" {
		t.Errorf("version page: go.mod %q, the API's %q", got, d.GoMod)
	}
	if got := b.Text("#licenses tbody"); len(d.Licenses) == 0 || !strings.Contains(got, d.Licenses[0].IDs[0]) || !strings.Contains(got, d.Licenses[0].File) {
		t.Errorf("version page: licenses %q, the API's %+v", got, d.Licenses)
	}
	if got := browsertest.Eval[string](b, `document.querySelector("#readme").textContent`); d.Readme == nil || got != d.Readme.Text {
		t.Errorf("version page: README %q, the API's %+v", got, d.Readme)
	}
	if n := browsertest.Eval[int](b, `document.querySelectorAll("#readme *").length`); n != 0 {
		t.Errorf("version page: the README's markup made %d elements", n)
	}
	if got := browsertest.Eval[string](b, `document.querySelector("#go-get").value`); got != "go get example.com/g/root@v1.0.0" {
		t.Errorf("version page: go get line %q", got)
	}
	b.ScreenshotViewport("console-version")
	b.Viewport(browsertest.PhoneWidth, browsertest.PhoneHeight, true)
	for _, p := range []string{root + "v1.0.0", page, "/ui/upstreams"} {
		checkPage(t, b, base, p)
		checkNoOverflow(t, b, p, browsertest.PhoneWidth)
	}
	b.ScreenshotViewport("console-graph-phone")
	b.Viewport(browsertest.DesktopWidth, browsertest.DesktopHeight, false)

	// Dark mode; the keyboard reaches the tree's first summary (a
	// <details> toggled by Enter).
	b.ColorScheme("dark")
	checkPage(t, b, base, page)
	if bg := browsertest.Eval[string](b, `getComputedStyle(document.body).backgroundColor`); bg == "rgb(255, 255, 255)" {
		t.Errorf("graph page in dark mode: the background is still white")
	}
	b.ScreenshotViewport("console-graph-dark")
	b.ColorScheme("")
	for range 40 {
		b.Do(chromedp.KeyEvent("\t"))
		if browsertest.Eval[string](b, `document.activeElement.tagName`) == "SUMMARY" {
			break
		}
	}
	if tag := browsertest.Eval[string](b, `document.activeElement.tagName`); tag != "SUMMARY" {
		t.Errorf("Tab through the graph page: focus on %s, never on the tree's first summary", tag)
	} else {
		b.Do(chromedp.KeyEvent("\r"))
		if open := browsertest.Eval[bool](b, `document.activeElement.parentElement.open`); open {
			t.Error("Enter on the tree's first summary: still open, want collapsed")
		}
	}

	// In Chinese.
	zh := browsertest.New(t, time.Minute)
	zh.SetHeaders(map[string]string{"Accept-Language": "zh-CN,zh;q=0.9"})
	for p, h1 := range map[string]string{page: "依赖图", root + "v1.0.0": "模块版本"} {
		checkPage(t, zh, base, p)
		if got := zh.Text("h1"); got != h1 {
			t.Errorf("%s in Chinese: h1 %q, want %q", p, got, h1)
		}
	}
	zh.ScreenshotViewport("console-graph-zh")
}

// testConsoleUpstreams checks that the Upstreams page shows each upstream
// the API lists, with charts.
func testConsoleUpstreams(t *testing.T, base string) {
	var ups struct{ Upstreams []uphistory.Upstream }
	apiGet(t, base, "/api/v1/upstreams", &ups)
	var want []string
	for _, u := range ups.Upstreams {
		want = append(want, u.Name)
	}
	b := browsertest.New(t, time.Minute)
	checkPage(t, b, base, "/ui/upstreams")
	if got := browsertest.Eval[[]string](b, `[...document.querySelectorAll(".up-name code")].map(e => e.textContent)`); !slices.Equal(got, want) || len(want) == 0 {
		t.Errorf("upstreams page lists %q, the API %q", got, want)
	}
	if n := browsertest.Eval[int](b, `document.querySelectorAll("svg.chart polyline, svg.chart circle").length`); n == 0 {
		t.Error("upstreams page: no point in its charts")
	}
	if s := b.Text("#scope"); !strings.Contains(s, "replica") {
		t.Errorf("upstreams page: %q does not say the history is this replica's", s)
	}
	b.ScreenshotViewport("console-upstreams")
}

// bigGraphPath is the module path of the big graph's module i (0: the
// main module): long, as real paths under an organisation are.
func bigGraphPath(i int) string {
	if i == 0 {
		return "example.com/bigproject/app"
	}
	return fmt.Sprintf("example.com/bigproject/team-%02d/service-module-%03d", i%12, i)
}

// TestGraphPage300: the graph page of a main module with 300 modules in
// its build list, four levels deep (go 1.16: every go.mod is read), in
// Chromium at 1280×800: it lists exactly the API's nodes, the depth
// filter and the search (server side and as one types) narrow it as the
// API's depths and paths say, and nothing is wider than the window
// (document.scrollWidth <= innerWidth). Screenshot: docs/console/graph-300.png.
//
// The go.mod files are served by a fakeproxy and stored through gomirror
// by fetching each .mod from it, as the go command does, not by running
// the go command: 300 go.mod fetches and checksum lookups by `go list -m
// all` would add about a minute on a busy two-core CI machine, and what
// this test checks is the page at that size; that the graph is what the
// go command lists is TestGraphIsWhatTheGoCommandLists's.
func TestGraphPage300(t *testing.T) {
	const n = 300
	up := fakeproxy.New(t)
	// Module i > 0 is required by the main module (i <= 12) or by module
	// (i-13)/4+1, and every tenth also requires another one.
	reqs := map[int][]int{}
	for i := 1; i <= n; i++ {
		parent := 0
		if i > 12 {
			parent = (i-13)/4 + 1
		}
		reqs[parent] = append(reqs[parent], i)
		if i%10 == 0 {
			if j := (i*7)%n + 1; j != i {
				reqs[i] = append(reqs[i], j)
			}
		}
	}
	for i := 0; i <= n; i++ {
		var gomod strings.Builder
		fmt.Fprintf(&gomod, "module %s\n\ngo 1.16\n", bigGraphPath(i))
		if len(reqs[i]) > 0 {
			gomod.WriteString("\nrequire (\n")
			for _, j := range reqs[i] {
				fmt.Fprintf(&gomod, "\t%s v1.0.0\n", bigGraphPath(j))
			}
			gomod.WriteString(")\n")
		}
		if _, err := up.Add(bigGraphPath(i), "v1.0.0", map[string][]byte{"go.mod": []byte(gomod.String()), "m.go": []byte("package m\n")}); err != nil {
			t.Fatal(err)
		}
	}
	store := t.TempDir()
	m := startMirror(t, "--storage-dir", store, "--upstream", up.URL, "--sumdb", up.DBKey)
	for i := 0; i <= n; i++ {
		if _, err := httpGet(m.URL + "/" + bigGraphPath(i) + "/@v/v1.0.0.mod"); err != nil {
			t.Fatal(err)
		}
	}
	m.stop(t) // stored writes complete
	off := startMirror(t, "--storage-dir", store, "--upstream", "off", "--sumdb", up.DBKey)

	page := "/ui/modules/" + bigGraphPath(0) + "/@v/v1.0.0/graph"
	var g modgraph.Graph
	apiGet(t, off.URL, "/api/v1/modules/"+bigGraphPath(0)+"/@v/v1.0.0/graph", &g)
	if len(g.Nodes) != n+1 || !g.Complete {
		t.Fatalf("the API's graph: %d nodes (want %d), complete %v %+v", len(g.Nodes), n+1, g.Complete, g.Missing)
	}
	all := goListLines(&g)
	b := browsertest.New(t, 2*time.Minute)
	wide := func(what string) {
		t.Helper()
		if w := browsertest.Eval[[]int](b, `[document.documentElement.scrollWidth, window.innerWidth]`); w[0] > w[1] {
			t.Errorf("%s: the page is %d px wide in a window of %d", what, w[0], w[1])
		}
	}
	checkPage(t, b, off.URL, page)
	if got := browsertest.Eval[[]string](b, visibleLines); !slices.Equal(sorted(got), sorted(all)) {
		t.Errorf("the page lists %d modules, the API %d:\n\t%s", len(got), len(all), strings.Join(sorted(got), "\n\t"))
	}
	if s := b.Text("#graph-shown"); !strings.Contains(s, fmt.Sprintf("%d of %d", n+1, n+1)) {
		t.Errorf("the page says %q", s)
	}
	wide("the whole tree")
	b.ScreenshotViewport("graph-300")

	// Depth.
	maxDepth := 0
	for _, nd := range g.Nodes {
		maxDepth = max(maxDepth, nd.Depth)
	}
	if maxDepth < 4 {
		t.Fatalf("the API's graph is %d deep, want 4", maxDepth)
	}
	checkPage(t, b, off.URL, page+"?depth=2")
	want := nodeLines(&g, func(nd modgraph.Node) bool { return nd.Depth <= 2 })
	if got := browsertest.Eval[[]string](b, visibleLines); !slices.Equal(sorted(got), sorted(want)) || len(want) >= len(all) {
		t.Errorf("depth ≤ 2: the page lists %d modules, the API's of depth ≤ 2 are %d (of %d)", len(got), len(want), len(all))
	}
	// The search, on the server and as one types.
	const q = "team-03/"
	matches := nodeLines(&g, func(nd modgraph.Node) bool { return strings.Contains(nd.Path, q) })
	const matched = `[...document.querySelectorAll("#graph li.match")].filter(e => !e.closest("[hidden]")).map(e => e.dataset.line)`
	checkPage(t, b, off.URL, page+"?q="+q)
	if got := browsertest.Eval[[]string](b, matched); !slices.Equal(sorted(got), sorted(matches)) || len(matches) < 20 {
		t.Errorf("?q=%s: matches %d, the API's %d", q, len(got), len(matches))
	}
	if got := len(browsertest.Eval[[]string](b, visibleLines)); got >= len(all) {
		t.Errorf("?q=%s: %d of %d modules shown: not narrowed", q, got, len(all))
	}
	checkPage(t, b, off.URL, page)
	b.Do(chromedp.SendKeys(chromedp.ID("graph-q"), q))
	if got := browsertest.Eval[[]string](b, matched); !slices.Equal(sorted(got), sorted(matches)) {
		t.Errorf("typing %q: matches %d, the API's %d", q, len(got), len(matches))
	}
	if got := len(browsertest.Eval[[]string](b, visibleLines)); got >= len(all) || got < len(matches) {
		t.Errorf("typing %q: %d of %d modules shown", q, got, len(all))
	}
	wide("the search's result")
	if p := b.Problems(); len(p) > 0 {
		t.Errorf("graph page: %s", strings.Join(p, "\n"))
	}
}
