package console

import (
	"bytes"
	"context"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/module"
	modzip "golang.org/x/mod/zip"
	"golang.org/x/net/html"
	"golang.org/x/tools/txtar"

	"github.com/gomirror/gomirror/internal/testutil"
	"github.com/gomirror/gomirror/layout"
	"github.com/gomirror/gomirror/modgraph"
	"github.com/gomirror/gomirror/storage"
	"github.com/gomirror/gomirror/storage/mem"
	"github.com/gomirror/gomirror/uphistory"
)

// zipFile is a file of a module zip, for modzip.Create.
type zipFile struct {
	name string
	data []byte
}

func (f zipFile) Path() string                 { return f.name }
func (f zipFile) Lstat() (fs.FileInfo, error)  { return zipInfo{f}, nil }
func (f zipFile) Open() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(f.data)), nil }

type zipInfo struct{ f zipFile }

func (i zipInfo) Name() string       { return i.f.name[strings.LastIndex(i.f.name, "/")+1:] }
func (i zipInfo) Size() int64        { return int64(len(i.f.data)) }
func (i zipInfo) Mode() fs.FileMode  { return 0o644 }
func (i zipInfo) ModTime() time.Time { return time.Time{} }
func (i zipInfo) IsDir() bool        { return false }
func (i zipInfo) Sys() any           { return nil }

// storeFixture stores the module versions of testdata/store.txtar: each
// go.mod as the version's .mod, and a zip of the version's files when it
// has others.
func storeFixture(t *testing.T) storage.Storage {
	t.Helper()
	ar, err := txtar.ParseFile("testdata/store.txtar")
	if err != nil {
		t.Fatal(err)
	}
	st := mem.New()
	files := map[module.Version][]modzip.File{}
	put := func(m module.Version, k layout.Kind, b []byte) {
		key, err := layout.Key(m, k)
		if err != nil {
			t.Fatal(err)
		}
		if err := storage.PutBytes(context.Background(), st, key, b); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range ar.Files {
		mv, name, _ := strings.Cut(f.Name, "/")
		for strings.Count(mv, "@") == 0 { // the path has slashes
			var rest string
			rest, name, _ = strings.Cut(name, "/")
			mv += "/" + rest
		}
		p, v, _ := strings.Cut(mv, "@")
		m := module.Version{Path: p, Version: v}
		if name == "go.mod" {
			put(m, layout.Mod, f.Data)
		}
		files[m] = append(files[m], zipFile{name, f.Data})
	}
	for m, fs := range files {
		if len(fs) < 2 {
			continue
		}
		var z bytes.Buffer
		if err := modzip.Create(&z, m, fs); err != nil {
			t.Fatal(err)
		}
		put(m, layout.Zip, z.Bytes())
	}
	return st
}

// upstreamsFixture is the upstream history of the tests: a chain element
// and a group mirror with a score, a breaker and a last error with markup.
func upstreamsFixture(now time.Time) []uphistory.Upstream {
	score := 0.25
	t0 := now.Truncate(time.Minute)
	return []uphistory.Upstream{
		{Name: "https://up.example/", Requests: 10, Failures: 1, Points: []uphistory.Point{
			{Time: t0.Add(-2 * time.Hour), Requests: 4, P50: 0.01, P95: 0.2},
			{Time: t0.Add(-time.Hour), Requests: 6, Failures: 1, ErrorRate: 1.0 / 6, P50: 0.02, P95: 0.4},
			{Time: t0.Add(-time.Hour + 5*time.Minute), Requests: 6, P50: 0.02, P95: 0.1},
		}},
		{Name: "https://mirror.example/", Group: "g1", Breaker: "open", Score: &score, Requests: 3, Failures: 3,
			LastError: `<script>alert("upstream")</script>`, LastErrorAt: t0,
			Points: []uphistory.Point{{Time: t0.Add(-time.Minute), Requests: 3, Failures: 3, ErrorRate: 1, P50: 1, P95: 2, Score: &score, Breaker: "open"}}},
	}
}

var graphLine = regexp.MustCompile(`data-line="([^"]*)"`)

// graphLines returns the nodes of a graph page, as `go list -m all` lines.
func graphLines(body string) []string {
	var out []string
	for _, m := range graphLine.FindAllStringSubmatch(body, -1) {
		out = append(out, m[1])
	}
	return out
}

// TestVersionAndGraphPages: the version page shows the version's files,
// marks, go.mod, README and license; the graph page lists the build list
// and its depth and search filters narrow it, without script; the module
// page marks retracted versions and the deprecation.
func TestVersionAndGraphPages(t *testing.T) {
	e := newEnv(t, true)
	cl := e.client()
	w := cl.do("GET", "/ui/modules/example.com/hello/@v/v1.1.0", nil, nil)
	body := w.Body.String()
	if w.Code != http.StatusOK {
		t.Fatalf("version page: %d %s", w.Code, body)
	}
	for _, want := range []string{`<pre id="go-mod" class="text">`, "require (", ">MIT<", `value="go get example.com/hello@v1.1.0"`, `id="readme"`, `>zip</td>`, `>mod</td>`, `id="deprecated"`} {
		if !strings.Contains(body, want) {
			t.Errorf("version page lacks %q", want)
		}
	}
	body = cl.do("GET", "/ui/modules/example.com/hello/@v/v1.0.0", nil, nil).Body.String()
	if !strings.Contains(body, `id="retracted"`) {
		t.Errorf("the version page of a retracted version does not say so")
	}
	body = cl.do("GET", "/ui/modules/example.com/hello", nil, nil).Body.String()
	if n := strings.Count(body, `class="mark retracted"`); n != 1 || !strings.Contains(body, `id="deprecated"`) || !strings.Contains(body, `href="/ui/modules/example.com/hello/@v/v1.0.0"`) {
		t.Errorf("module page: %d retracted marks (want 1), deprecation, links to the version pages", n)
	}
	for target, code := range map[string]int{
		"/ui/modules/example.com/hello/@v/v1.2.0":               http.StatusNotFound,
		"/ui/modules/example.com/hello/@v/v1.1":                 http.StatusBadRequest,
		"/ui/modules/example.com/hello/@v/v1.1.0/graph?depth=x": http.StatusBadRequest,
		"/ui/modules/example.com/hello/@v/v1.2.0/graph":         http.StatusNotFound,
	} {
		if w := cl.do("GET", target, nil, nil); w.Code != code {
			t.Errorf("GET %s: %d, want %d", target, w.Code, code)
		}
	}

	all := []string{"example.com/hello", "corp.example/gone v1.0.0", "corp.example/hidden v1.0.0", "corp.example/secret v0.1.0", "example.com/deeper v1.0.0", "example.com/dep v1.0.0"}
	for _, tc := range []struct {
		query string
		want  []string
	}{
		{"", all},
		{"?depth=1", []string{"example.com/hello", "corp.example/secret v0.1.0", "example.com/dep v1.0.0"}},
		{"?q=DEEP", []string{"example.com/hello", "example.com/dep v1.0.0", "example.com/deeper v1.0.0"}},
		{"?q=hidden&depth=1", []string{"example.com/hello"}},
	} {
		body := cl.do("GET", "/ui/modules/example.com/hello/@v/v1.1.0/graph"+tc.query, nil, nil).Body.String()
		got := graphLines(body)
		if strings.Join(got, "\n") != strings.Join(sortedTree(tc.want), "\n") {
			t.Errorf("graph%s lists %q, want %q", tc.query, got, sortedTree(tc.want))
		}
	}
	body = cl.do("GET", "/ui/modules/example.com/hello/@v/v1.1.0/graph", nil, nil).Body.String()
	if !strings.Contains(body, `href="/ui/modules/corp.example/hidden"`) || strings.Contains(body, `href="/ui/modules/example.com/deeper/@v/v1.0.0"`) {
		t.Errorf("graph: want a link to the stored corp.example/hidden, none to example.com/deeper's v1.0.0 (no .mod stored)")
	}
	if !strings.Contains(body, "Incomplete") || !strings.Contains(body, `<table id="missing">`) || strings.Count(body, `class="mark missing">go.mod not stored<`) != 1 {
		t.Errorf("graph: the missing go.mod of corp.example/gone (and it alone) is not said plainly")
	}
	// example.com/deeper: pruned, its go.mod not needed, another version
	// stored: marked neutrally, linked to its module page.
	deeper := regexp.MustCompile(`data-line="example.com/deeper v1.0.0"><span class="leaf">(.*?)</span></li>`).FindStringSubmatch(body)
	if deeper == nil || !strings.Contains(deeper[1], `<a href="/ui/modules/example.com/deeper" class="mod">`) ||
		!strings.Contains(deeper[1], `class="mark pruned">requirements not needed (pruned)<`) || strings.Contains(deeper[1], "missing") {
		t.Errorf("graph: example.com/deeper (pruned, not stored, v0.9.0 stored) is %q, want a neutral mark and a link to its module page", deeper)
	}
}

// sortedTree orders the fixture's build list as the tree shows it: depth
// first, children by path (the fixture's tree: hello > secret > hidden >
// gone, hello > dep > deeper).
func sortedTree(lines []string) []string {
	order := []string{"example.com/hello", "corp.example/secret v0.1.0", "corp.example/hidden v1.0.0", "corp.example/gone v1.0.0", "example.com/dep v1.0.0", "example.com/deeper v1.0.0"}
	var out []string
	for _, o := range order {
		for _, l := range lines {
			if l == o {
				out = append(out, l)
			}
		}
	}
	return out
}

// TestDetailPagesClientToken: a client token sees the version and graph
// pages only of modules it may download; in a graph, a module it may not
// read is a name without a link, and what is known only through that
// module's go.mod is hidden. The Upstreams page is for operators.
func TestDetailPagesClientToken(t *testing.T) {
	e := newEnv(t, false)
	alice := e.client()
	alice.signIn("gm_alice")
	for _, target := range []string{"/ui/modules/corp.example/secret/@v/v0.1.0", "/ui/modules/corp.example/secret/@v/v0.1.0/graph"} {
		if w := alice.do("GET", target, nil, nil); w.Code != http.StatusForbidden || strings.Contains(w.Body.String(), "corp.example/hidden") {
			t.Errorf("GET %s as alice: %d, want 403", target, w.Code)
		}
	}
	w := alice.do("GET", "/ui/modules/example.com/hello/@v/v1.1.0/graph", nil, nil)
	body := w.Body.String()
	got := graphLines(body)
	want := sortedTree([]string{"example.com/hello", "corp.example/secret v0.1.0", "example.com/dep v1.0.0", "example.com/deeper v1.0.0"})
	if w.Code != http.StatusOK || strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("graph as alice: %d %q, want %q", w.Code, got, want)
	}
	if strings.Contains(body, "corp.example/hidden") || strings.Contains(body, "corp.example/gone") || strings.Contains(body, `href="/ui/modules/corp.example/secret`) || !strings.Contains(body, `id="hidden"`) {
		t.Errorf("graph as alice: shows what only secret's go.mod says (hidden, and gone's missing go.mod), or links to secret, or does not say that modules are hidden")
	}
	if w := alice.do("GET", "/ui/modules/example.com/hello/@v/v1.1.0", nil, nil); w.Code != http.StatusOK || strings.Contains(w.Body.String(), `id="downloads"`) {
		t.Errorf("version page as alice: %d (want 200, without everyone's download count)", w.Code)
	}
	if w := alice.do("GET", "/ui/upstreams", nil, nil); w.Code != http.StatusForbidden || strings.Contains(w.Body.String(), "mirror.example") {
		t.Errorf("upstreams as alice: %d, want 403", w.Code)
	}
	ops := e.client()
	ops.signIn("gm_ops")
	if body := ops.do("GET", "/ui/modules/example.com/hello/@v/v1.1.0/graph", nil, nil).Body.String(); len(graphLines(body)) != 6 || strings.Contains(body, `id="hidden"`) ||
		!strings.Contains(body, "<td>corp.example/gone</td>") {
		t.Errorf("graph as ops: %q, want every module, and gone's missing go.mod", graphLines(body))
	}
	if w := ops.do("GET", "/ui/modules/example.com/hello/@v/v1.1.0", nil, nil); !strings.Contains(w.Body.String(), `id="downloads"`) {
		t.Errorf("version page as ops: no download count")
	}
}

// TestDetailPagesInert: markup in a README, a go.mod (its comments, its
// deprecation, a retraction's rationale) and an upstream's last error is
// shown as text: no element, no javascript: link.
func TestDetailPagesInert(t *testing.T) {
	e := newEnv(t, true)
	cl := e.client()
	for _, target := range []string{"/ui/modules/example.com/hello/@v/v1.1.0", "/ui/modules/example.com/hello/@v/v1.0.0",
		"/ui/modules/example.com/hello", "/ui/modules/example.com/hello/@v/v1.1.0/graph", "/ui/upstreams"} {
		w := cl.do("GET", target, nil, nil)
		body := w.Body.String()
		if w.Code != http.StatusOK {
			t.Fatalf("GET %s: %d", target, w.Code)
		}
		for _, bad := range activeMarkup(body) {
			t.Errorf("GET %s: %s", target, bad)
		}
	}
	body := cl.do("GET", "/ui/modules/example.com/hello/@v/v1.1.0", nil, nil).Body.String()
	for _, want := range []string{`&lt;script&gt;alert(&#34;readme&#34;)&lt;/script&gt;`, `&lt;script&gt;alert(&#34;go.mod&#34;)&lt;/script&gt;`, `[click](javascript:alert(&#34;md&#34;))`} {
		if !strings.Contains(body, want) && !strings.Contains(body, strings.ReplaceAll(want, "javascript:", "javascript&#58;")) {
			t.Errorf("version page: the text %q is not shown escaped", want)
		}
	}
}

// activeMarkup parses page as a browser does and returns what in it could
// run or load something: a script element other than the layout's
// console.js, an element the fixtures' markup would add (img, b), an
// event-handler attribute, a javascript: URL.
func activeMarkup(page string) []string {
	var bad []string
	z := html.NewTokenizer(strings.NewReader(page))
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			return bad
		}
		if tt != html.StartTagToken && tt != html.SelfClosingTagToken {
			continue
		}
		tok := z.Token()
		switch tok.Data {
		case "script":
			if len(tok.Attr) == 0 || tok.Attr[0].Key != "src" || tok.Attr[0].Val != "/ui/static/console.js" {
				bad = append(bad, "a script element "+tok.String())
			}
		case "img", "b", "iframe", "object", "embed":
			bad = append(bad, "an element "+tok.String())
		}
		for _, a := range tok.Attr {
			if strings.HasPrefix(a.Key, "on") || strings.HasPrefix(strings.ToLower(strings.TrimSpace(a.Val)), "javascript:") {
				bad = append(bad, "an attribute "+a.Key+"="+a.Val)
			}
		}
	}
}

// TestUpstreamsPage: every upstream the API lists, with its breaker, score
// and last error, and a chart of each series with points.
func TestUpstreamsPage(t *testing.T) {
	e := newEnv(t, true)
	body := e.client().do("GET", "/ui/upstreams", nil, nil).Body.String()
	for _, u := range upstreamsFixture(e.clock()) {
		if !strings.Contains(body, "<code>"+u.Name+"</code>") {
			t.Errorf("upstreams page lacks %s", u.Name)
		}
	}
	for _, want := range []string{`class="breaker">open<`, "0.25", "&lt;script&gt;alert(&#34;upstream&#34;)", `class="line p95"`, `class="line p50"`, `class="dot errors"`, `class="dot score"`, `id="scope"`} {
		if !strings.Contains(body, want) {
			t.Errorf("upstreams page lacks %q", want)
		}
	}
}

// TestBuildTree: the tree puts each module under the first module whose
// go.mod requires it; when the edges were truncated, an operator still
// sees every module of the build list, a client token only those reached.
func TestBuildTree(t *testing.T) {
	g := &modgraph.Graph{
		Main: modgraph.Mod{Path: "m", Version: "v1.0.0"},
		Nodes: []modgraph.Node{{Path: "m", Version: "v1.0.0", Main: true}, {Path: "a", Version: "v1.0.0", Depth: 1},
			{Path: "b", Version: "v1.1.0", Depth: 2}, {Path: "c", Version: "v1.0.0", Depth: 2}},
		Edges: []modgraph.Edge{{From: modgraph.Mod{Path: "m", Version: "v1.0.0"}, To: "a", Version: "v1.0.0"},
			{From: modgraph.Mod{Path: "a", Version: "v1.0.0"}, To: "b", Version: "v1.0.0"}},
		// c's requirement was cut (Truncated).
	}
	names := func(root *treeNode) string {
		var out []string
		walk(root, func(n *treeNode) { out = append(out, strings.Repeat(">", n.Level)+n.Path) })
		return strings.Join(out, " ")
	}
	all := func(string) bool { return true }
	for _, tc := range []struct {
		admin bool
		may   func(string) bool
		want  string
		n     int
	}{
		{true, all, "m >a >>b >>c", 4},
		{false, all, "m >a >>b", 3},
		{false, func(p string) bool { return p != "a" }, "m >a", 2},
	} {
		root, n := buildTree(g, tc.admin, tc.may, nil)
		if got := names(root); got != tc.want || n != tc.n {
			t.Errorf("admin %v: tree %q (%d nodes), want %q (%d)", tc.admin, got, n, tc.want, tc.n)
		}
	}
}

// TestGraphClientTokenView: a client token's graph is what the go.mod
// files it may read say. Alice may not read corp.example/secret*: not
// what corp.example/secret/fork's go.mod requires although it replaces
// the readable example.com/pub (F1), not the version of example.com/shared
// raised by corp.example/secret/lib's go.mod (F3a), not that
// corp.example/secret/missing's go.mod is missing (F3b: the graph she sees
// is complete), nor how much is hidden (F3c). An operator sees it all.
func TestGraphClientTokenView(t *testing.T) {
	e := newEnv(t, false)
	alice := e.client()
	alice.signIn("gm_alice")
	const target = "/ui/modules/example.com/app/@v/v1.0.0/graph"
	w := alice.do("GET", target, nil, nil)
	body := w.Body.String()
	want := []string{"example.com/app", "corp.example/secret/lib v1.0.0", "corp.example/secret/missing v1.0.0",
		"example.com/open v1.0.0", "example.com/shared v1.0.0", "example.com/pub v1.0.0 =&gt; corp.example/secret/fork v1.0.0"}
	if got := graphLines(body); w.Code != http.StatusOK || strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("graph as alice: %d %q, want %q", w.Code, got, want)
	}
	for _, bad := range []string{"example.com/leaked", "v1.5.0", "Incomplete", `id="missing"`, `href="/ui/modules/example.com/pub`} {
		if strings.Contains(body, bad) {
			t.Errorf("graph as alice shows %q", bad)
		}
	}
	if !strings.Contains(body, `class="ok-box"`) || !strings.Contains(body, "6 of 6 modules shown") {
		t.Errorf("graph as alice: want Complete, 6 of 6 modules")
	}
	hint := regexp.MustCompile(`<p class="hint" id="hidden">([^<]*)</p>`).FindStringSubmatch(body)
	if hint == nil || strings.ContainsAny(hint[1], "0123456789") {
		t.Errorf("graph as alice: the note on what is left out is %q: want one, with no count", hint)
	}
	if got := graphLines(alice.do("GET", target+"?q=leaked", nil, nil).Body.String()); len(got) != 1 {
		t.Errorf("graph as alice, ?q=leaked: %q, want the main module alone", got)
	}
	ops := e.client()
	ops.signIn("gm_ops")
	body = ops.do("GET", target, nil, nil).Body.String()
	for _, want := range []string{"example.com/leaked v1.0.0", "example.com/shared v1.5.0", "Incomplete", "<td>corp.example/secret/missing</td>"} {
		if !strings.Contains(body, want) {
			t.Errorf("graph as ops lacks %q", want)
		}
	}
	if strings.Contains(body, `id="hidden"`) {
		t.Errorf("graph as ops: a note on hidden modules")
	}
}

// TestGraphTruncatedClientToken: a graph that reached a limit is said to
// be truncated to everyone, but only an operator reads which limit (its
// figure tells the size of the whole graph).
func TestGraphTruncatedClientToken(t *testing.T) {
	e := newEnv(t, false)
	const limit = "more than 5000 go.mod files"
	g := &modgraph.Graph{Main: modgraph.Mod{Path: "example.com/hello", Version: "v1.1.0"}, Truncated: limit}
	for _, v := range []*viewer{{Name: "alice"}, {Name: "ops", Admin: true}} {
		w := httptest.NewRecorder()
		r := httptest.NewRequest("GET", "/ui/modules/example.com/hello/@v/v1.1.0/graph", nil)
		root := &treeNode{Path: g.Main.Path, Version: g.Main.Version, main: true, readable: true}
		e.c.render(w, r, http.StatusOK, v, "graph", "Requirement graph", graphData{Graph: g, Root: root, Depth: -1, Client: !v.Admin}, "")
		body := w.Body.String()
		if !strings.Contains(body, "Truncated:") || strings.Contains(body, limit) != v.Admin {
			t.Errorf("%s: says truncated %v, names the limit %v (want %v)", v.Name, strings.Contains(body, "Truncated:"), strings.Contains(body, limit), v.Admin)
		}
	}
}

// TestBuildTreeReadsLikeMVS: a client token that may read every module
// sees the build list the operator sees, versions included: the
// versions worked out over the go.mod files it may read are those of
// minimal version selection when it may read them all (on modgraph's
// fixture: pruned, unpruned with exclude and replace, roots that move).
func TestBuildTreeReadsLikeMVS(t *testing.T) {
	st := mem.New()
	testutil.StoreGoMods(t, st, "../modgraph/testdata/graph.txtar")
	lines := func(root *treeNode) []string {
		var out []string
		walk(root, func(n *treeNode) { out = append(out, n.GoList) })
		return out
	}
	for _, v := range []string{"v1.0.0", "v1.1.0", "v1.2.0"} {
		g, err := modgraph.Compute(context.Background(), st, module.Version{Path: "example.com/g/root", Version: v}, modgraph.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		admin, n := buildTree(g, true, nil, nil)
		client, m := buildTree(g, false, func(string) bool { return true }, nil)
		if a, c := lines(admin), lines(client); strings.Join(a, "|") != strings.Join(c, "|") || n != m || n != len(g.Nodes) {
			t.Errorf("root %s: a client token reading everything sees %q (%d), an operator %q (%d)", v, c, m, a, n)
		}
	}
}
