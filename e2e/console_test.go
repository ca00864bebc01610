package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/gomirror/gomirror/api"
	"github.com/gomirror/gomirror/console"
	"github.com/gomirror/gomirror/internal/browsertest"
	"github.com/gomirror/gomirror/internal/fakeproxy"
	"github.com/gomirror/gomirror/internal/testcert"
	"github.com/gomirror/gomirror/internal/testutil"
)

// consoleMirror is a mirror with auth on that the go command has filled:
// alice and bob (client tokens) each downloaded the same modules; ops is
// an admin token.
type consoleMirror struct {
	*mirror
	client     *http.Client // trusts the mirror's certificate
	alice, bob string
	ops        string
	tokens     string // the tokens file
}

// startConsoleMirror starts it and waits until the audit log holds the
// downloads.
func startConsoleMirror(t *testing.T) *consoleMirror {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	up := fakeproxy.New(t)
	cert := testcert.New(t)
	tokens := filepath.Join(t.TempDir(), "tokens.json")
	m := &consoleMirror{alice: addToken(t, tokens, "alice"), bob: addToken(t, tokens, "bob"), ops: addRoleToken(t, tokens, "ops", "admin"), tokens: tokens}
	cfg := filepath.Join(t.TempDir(), "gomirror.yaml")
	yaml := "alerts:\n  - name: mismatch\n    kind: checksum-mismatch\n  - name: errors\n    kind: error-rate\n    threshold: 50\n"
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	m.mirror = startMirror(t, "--config", cfg, "--storage-dir", t.TempDir(), "--upstream", up.URL, "--sumdb", up.DBKey,
		"--tls-cert", cert.CertFile, "--tls-key", cert.KeyFile, "--auth", "all", "--tokens-file", tokens, "--prefetch", "0",
		"--alert-interval", "1s")
	m.client = &http.Client{Transport: &http.Transport{TLSClientConfig: cert.ClientConfig()},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	host := strings.TrimPrefix(m.URL, "https://")
	project := t.TempDir()
	writeFiles(t, project, map[string]string{
		"go.mod":  "module example.com/app\n\ngo 1.21\n\nrequire (\n\texample.com/hello v1.1.0\n\texample.com/MixedCase v1.0.0\n)\n",
		"main.go": "package main\n\nimport (\n\t_ \"example.com/MixedCase\"\n\t_ \"example.com/hello\"\n)\n\nfunc main() {}\n",
	})
	for _, who := range [][2]string{{"alice", m.alice}, {"bob", m.bob}} {
		netrc := filepath.Join(t.TempDir(), "netrc")
		if err := os.WriteFile(netrc, []byte("machine "+host+" login "+who[0]+" password "+who[1]+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		env := append(goEnv(t, m.URL, up.DBKey), "NETRC="+netrc, "SSL_CERT_FILE="+cert.CertFile)
		mustGo(ctx, t, project, env, "mod", "tidy")
		mustGo(ctx, t, project, env, "mod", "download", "all")
	}
	// An upstream that lies: a zip whose hash is not the checksum
	// database's is refused, and is the overview's last mismatch.
	up.Tamper(t, "example.com/hello", "v1.0.0", true, false)
	req, _ := http.NewRequest("GET", m.URL+"/example.com/hello/@v/v1.0.0.zip", nil)
	req.SetBasicAuth("alice", m.alice)
	if code, _, body := testutil.Do(t, m.client, req); code == http.StatusOK {
		t.Fatalf("a tampered zip was served: %d %s", code, body)
	}
	eventually(t, "the mismatch alert fires", func() bool {
		var o api.Overview
		m.apiJSON(t, "/api/v1/overview", &o)
		return len(o.Mismatches) == 1 && len(o.Firing) > 0
	})
	// The recorder writes its batches within a second: wait until both
	// clients' zips (3 each) are in the database.
	eventually(t, "the downloads reach the audit log", func() bool {
		var page struct{ Records []struct{ Client string } }
		m.apiJSON(t, "/api/v1/audit?kind=zip&status=200&limit=1000", &page)
		return len(page.Records) >= 6
	})
	return m
}

// apiJSON reads an API answer with the admin token.
func (m *consoleMirror) apiJSON(t *testing.T, path string, v any) {
	t.Helper()
	req, _ := http.NewRequest("GET", m.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+m.ops)
	code, _, body := testutil.Do(t, m.client, req)
	if code != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, code, body)
	}
	if err := json.Unmarshal([]byte(body), v); err != nil {
		t.Fatalf("GET %s: %v\n%s", path, err, body)
	}
}

// signIn signs b in with token through the sign-in form.
func signIn(t *testing.T, b *browsertest.Browser, base, token string) {
	t.Helper()
	if code := b.Visit(base + "/ui/"); code != http.StatusOK || !strings.Contains(b.Text("h1"), "Sign in") {
		t.Fatalf("/ui/ without a session: %d, %q; want the sign-in page", code, b.Text("h1"))
	}
	submitSignIn(t, b, token)
}

// submitSignIn types token into the sign-in form that b shows and submits
// it, waiting for the next page.
func submitSignIn(t *testing.T, b *browsertest.Browser, token string) {
	t.Helper()
	_, err := chromedp.Run(b.Context(), chromedp.WaitEvent(page.LoadEventFired, nil, chromedp.Steps(
		chromedp.SendKeys(chromedp.ID("token"), token),
		chromedp.Submit(chromedp.ID("token")))))
	if err != nil {
		t.Fatalf("signing in: %v", err)
	}
}

// eventually polls cond until it holds, failing the test after 30s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: still waiting after 30s", what)
		}
		<-tick.C
	}
}

// checkPage loads path and fails the test on a status other than 200 or
// any problem of the page (console error, failed request).
func checkPage(t *testing.T, b *browsertest.Browser, base, path string) {
	t.Helper()
	if code := b.Visit(base + path); code != http.StatusOK {
		t.Errorf("%s: status %d", path, code)
	}
	if p := b.Problems(); len(p) > 0 {
		t.Errorf("%s: %d problems:\n%s", path, len(p), strings.Join(p, "\n"))
	}
}

// TestConsole runs the console's browser and access tests against one
// mirror that the go command has just filled.
func TestConsole(t *testing.T) {
	m := startConsoleMirror(t)
	t.Run("Pages", func(t *testing.T) { testConsolePages(t, m) })
	t.Run("Access", func(t *testing.T) { testConsoleAccess(t, m) })
}

// sameHour reports whether a and b have the same window and totals.
func sameHour(a, b api.Series) bool {
	return a.From.Equal(b.From) && a.Requests == b.Requests && a.Hits == b.Hits && a.Misses == b.Misses && a.RPS == b.RPS
}

// checkNoOverflow fails when the page in b is wider than width, the
// phone viewport's (wide tables and code must scroll in their own box,
// not the page). The page's scrolling width is compared with width, not
// only with innerWidth: in mobile emulation Chromium widens the layout
// viewport to a page that overflows, innerWidth with it.
func checkNoOverflow(t *testing.T, b *browsertest.Browser, path string, width int) {
	t.Helper()
	sw := browsertest.Eval[int](b, "document.scrollingElement.scrollWidth")
	iw := browsertest.Eval[int](b, "window.innerWidth")
	if sw > width || sw > iw {
		t.Errorf("%s: the page is %d px wide on a phone %d px wide (innerWidth %d)", path, sw, width, iw)
	}
}

// testConsolePages drives the console in headless Chromium: every page
// loads cleanly, at the desktop and the phone sizes (screenshots saved);
// the overview's figures, the search, the module page and the activity are
// the API's; Chinese with Accept-Language zh-CN.
func testConsolePages(t *testing.T, m *consoleMirror) {
	b := browsertest.New(t, 2*time.Minute)
	signIn(t, b, m.URL, m.ops)
	if p := b.Problems(); len(p) > 0 {
		t.Errorf("sign-in: %s", strings.Join(p, "\n"))
	}
	mod := "example.com/hello"
	pages := []struct{ name, path string }{
		{"overview", "/ui/"},
		{"modules", "/ui/modules?q=hello"},
		{"module", "/ui/modules/" + mod},
		{"activity", "/ui/activity"},
		{"alerts", "/ui/alerts"},
	}
	for _, p := range pages {
		checkPage(t, b, m.URL, p.path)
		if p.name == "overview" {
			b.ScreenshotViewport("console-overview") // for the README: what is above the fold
		} else {
			b.Screenshot("console-" + p.name)
		}
	}
	b.Viewport(browsertest.PhoneWidth, browsertest.PhoneHeight, true)
	for _, p := range pages {
		checkPage(t, b, m.URL, p.path)
		if p.name == "overview" {
			// The last hour's charts, below the figures.
			browsertest.Eval[bool](b, `(document.querySelector("#chart-rps-hour").scrollIntoView(), true)`)
			b.ScreenshotViewport("console-overview-phone")
		} else {
			b.Screenshot("console-" + p.name + "-phone")
		}
		checkNoOverflow(t, b, p.path, browsertest.PhoneWidth)
	}
	b.Viewport(browsertest.DesktopWidth, browsertest.DesktopHeight, false)

	// Dark mode, from the system setting.
	b.ColorScheme("dark")
	checkPage(t, b, m.URL, "/ui/")
	if bg := browsertest.Eval[string](b, `getComputedStyle(document.body).backgroundColor`); bg == "rgb(255, 255, 255)" {
		t.Errorf("dark mode: the page's background is still white")
	}
	b.ScreenshotViewport("console-overview-dark")
	b.ColorScheme("")

	// The overview weighs little (its charts are SVG in the page).
	checkPage(t, b, m.URL, "/ui/")
	if w := b.PageWeight(); w > 300<<10 || w == 0 {
		t.Errorf("the overview weighs %d bytes, want under 300 KiB", w)
	} else {
		t.Logf("the overview weighs %d bytes", w)
	}

	// Keyboard: the first Tab reaches the skip link, visibly focused; the
	// navigation is real links that Enter follows.
	b.Do(chromedp.KeyEvent("\t"))
	if f := browsertest.Eval[string](b, `document.activeElement.className + " " + getComputedStyle(document.activeElement).outlineStyle`); f != "skip solid" {
		t.Errorf("first Tab: focus on %q, want the skip link with a visible outline", f)
	}
	for range 10 {
		if browsertest.Eval[string](b, `document.activeElement.textContent`) == "Modules" {
			break
		}
		b.Do(chromedp.KeyEvent("\t"))
	}
	if _, err := chromedp.Run(b.Context(), chromedp.WaitEvent(page.LoadEventFired, nil, chromedp.KeyEvent("\r"))); err != nil {
		t.Fatal(err)
	}
	if h := b.Text("h1"); h != "Modules" {
		t.Errorf("Tab to the Modules link and Enter: page %q", h)
	}

	// The overview shows the API's figures. The last hour's move with the
	// clock and the audit's writes: the page is read between two answers
	// of the API that agree on them (a minute turning between them is
	// retried).
	var o api.Overview
	for try := 0; ; try++ {
		var after api.Overview
		m.apiJSON(t, "/api/v1/overview", &o)
		checkPage(t, b, m.URL, "/ui/")
		m.apiJSON(t, "/api/v1/overview", &after)
		if sameHour(o.Hour, after.Hour) && o.CurrentRPS == after.CurrentRPS {
			break
		}
		if try == 3 {
			t.Fatalf("the overview's last hour changed under each of 4 reads")
		}
	}
	text := func(sel string) string {
		return browsertest.Eval[string](b, `(e => e ? e.textContent : "missing")(document.querySelector(`+strconv.Quote(sel)+`))`)
	}
	count := func(sel string) int {
		return browsertest.Eval[int](b, `document.querySelectorAll(`+strconv.Quote(sel)+`).length`)
	}
	for _, c := range []struct{ sel, want string }{
		{"#rps-hour", console.FormatRate(o.Hour.RPS)},
		{"#rps-now", console.FormatRate(o.CurrentRPS)},
		{"#hit-ratio-hour", fmt.Sprintf("%.1f %%", 100*o.Hour.HitRatio)},
		{"#rps-day", console.FormatRate(o.Day.RPS)},
		{"#hit-ratio-day", fmt.Sprintf("%.1f %%", 100*o.Day.HitRatio)},
	} {
		if got := text(c.sel); got != c.want {
			t.Errorf("overview: %s %q, the API %q", c.sel, got, c.want)
		}
	}
	if o.Hour.Requests == 0 || o.Hour.HitRatio == 0 || o.Hour.RPS == 0 {
		t.Errorf("the API's last hour has no traffic although the go command just used the mirror: %+v", o.Hour)
	}
	// The charts: a bar per point, a dot per point with hits or misses, the
	// ticks' times.
	dots := func(s api.Series) (n int) {
		for _, p := range s.Points {
			if p.Hits+p.Misses > 0 {
				n++
			}
		}
		return n
	}
	for _, c := range []struct {
		sel  string
		want int
	}{
		{"#chart-rps-hour svg rect.bar", api.HourPoints},
		{"#chart-rps-day svg rect.bar", api.DayPoints},
		{"#chart-hits-hour svg circle.dot", dots(o.Hour)},
		{"#chart-hits-day svg circle.dot", dots(o.Day)},
		{"#chart-rps-hour .ticks span", 5},
	} {
		if got := count(c.sel); got != c.want || got == 0 {
			t.Errorf("overview: %d of %s, want %d", got, c.sel, c.want)
		}
	}
	if got, want := text("#chart-rps-hour .ticks span:nth-child(2)"), o.Hour.From.UTC().Format("15:04"); got != want {
		t.Errorf("overview: the last hour's chart starts at %q, the API's at %q", got, want)
	}
	if got, want := b.Text("#artifacts"), fmt.Sprint(o.Stored.Objects); got != want || o.Stored.Objects == 0 {
		t.Errorf("overview: %s artifacts stored, the API %s", got, want)
	}
	if got, want := b.Text("#hit-ratio"), fmt.Sprintf("%.1f %%", 100*o.Today.HitRatio); got != want || o.Today.HitRatio == 0 {
		t.Errorf("overview: hit ratio %s, the API %s", got, want)
	}

	// The last mismatch and the firing alerts, as the API has them.
	if got := b.Text("#mismatches tbody tr"); !strings.Contains(got, "example.com/hello") || !strings.Contains(got, "v1.0.0") || !strings.Contains(got, "zip") {
		t.Errorf("overview: last mismatch %q", got)
	}
	if got, want := b.Text("#firing"), fmt.Sprint(len(o.Firing)); got != want {
		t.Errorf("overview: %s alerts firing, the API %s", got, want)
	}
	checkPage(t, b, m.URL, "/ui/alerts")
	if got := b.Text("#alert-state"); !strings.Contains(got, "mismatch") || !strings.Contains(got, "firing") {
		t.Errorf("alerts page: state %q", got)
	}
	if got := b.Text("#rules"); !strings.Contains(got, "checksum-mismatch") || !strings.Contains(got, "error-rate") {
		t.Errorf("alerts page: rules %q", got)
	}

	// The search finds the module; its page lists exactly the stored
	// versions.
	checkPage(t, b, m.URL, "/ui/modules?q=ell")
	found := browsertest.Eval[[]string](b, `[...document.querySelectorAll("#modules tbody td:first-child a")].map(a => a.textContent)`)
	if !slices.Contains(found, mod) {
		t.Errorf("search for %q found %v", "ell", found)
	}
	var apiMod api.Module
	m.apiJSON(t, "/api/v1/modules/"+mod, &apiMod)
	var want []string
	for _, v := range apiMod.Versions {
		want = append(want, v.Version)
	}
	checkPage(t, b, m.URL, "/ui/modules/"+mod)
	got := browsertest.Eval[[]string](b, `[...document.querySelectorAll("#versions tbody th.version")].map(e => e.textContent)`)
	if !slices.Equal(got, want) || len(want) == 0 {
		t.Errorf("module page lists versions %v, the API %v", got, want)
	}
	if line := browsertest.Eval[string](b, `document.querySelector("#versions td.copy input").value`); line != "go get "+mod+"@"+want[0] {
		t.Errorf("go get line %q", line)
	}

	// The activity shows the downloads just made, by both clients.
	checkPage(t, b, m.URL, "/ui/activity?kind=zip&status=200")
	rows := browsertest.Eval[[]string](b, `[...document.querySelectorAll("#activity tbody tr")].map(r => r.innerText.replace(/\s+/g, " "))`)
	var alice, bob int
	for _, r := range rows {
		if strings.Contains(r, mod) && strings.Contains(r, " zip ") {
			switch {
			case strings.Contains(r, "alice"):
				alice++
			case strings.Contains(r, "bob"):
				bob++
			}
		}
	}
	if alice != 1 || bob != 1 {
		t.Errorf("activity: %d zips of %s by alice, %d by bob; want 1 each:\n%s", alice, mod, bob, strings.Join(rows, "\n"))
	}

	// In Chinese with Accept-Language: zh-CN (a new browser: no cookie).
	zh := browsertest.New(t, time.Minute)
	zh.SetHeaders(map[string]string{"Accept-Language": "zh-CN,zh;q=0.9"})
	if zh.Visit(m.URL + "/ui/"); !strings.Contains(zh.Text("h1"), "登录") {
		t.Errorf("sign-in page with Accept-Language zh-CN: h1 %q", zh.Text("h1"))
	}
	submitSignIn(t, zh, m.ops)
	checkPage(t, zh, m.URL, "/ui/")
	if h := zh.Text("h1"); h != "概览" {
		t.Errorf("overview with Accept-Language zh-CN: h1 %q", h)
	}
	zh.ScreenshotViewport("console-overview-zh")
	// Switched back to English by the link (a cookie).
	if _, err := chromedp.Run(zh.Context(), chromedp.WaitEvent(page.LoadEventFired, nil, chromedp.Click(chromedp.CSS(`.langs a`)))); err != nil {
		t.Fatal(err)
	}
	if h := zh.Text("h1"); h != "Overview" {
		t.Errorf("after the language link: h1 %q", h)
	}
	if p := zh.Problems(); len(p) > 0 {
		t.Errorf("Chinese pages: %s", strings.Join(p, "\n"))
	}
}

// hiddenInput matches the CSRF token of a console form.
var hiddenInput = regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`)

// session is an HTTP client of the console with its own cookies.
type session struct {
	t      *testing.T
	m      *consoleMirror
	client *http.Client
}

func (m *consoleMirror) newSession(t *testing.T) *session {
	jar, _ := cookiejar.New(nil)
	c := *m.client
	c.Jar = jar
	return &session{t: t, m: m, client: &c}
}

func (s *session) get(path string) (int, http.Header, string) {
	s.t.Helper()
	req, _ := http.NewRequest("GET", s.m.URL+path, nil)
	return testutil.Do(s.t, s.client, req)
}

// post sends a form, with an Origin header unless origin is "".
func (s *session) post(path, origin string, form url.Values) (int, http.Header, string) {
	s.t.Helper()
	req, _ := http.NewRequest("POST", s.m.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	return testutil.Do(s.t, s.client, req)
}

// csrf returns the CSRF token of the form of the page at path.
func (s *session) csrf(path string) string {
	s.t.Helper()
	code, _, body := s.get(path)
	mt := hiddenInput.FindStringSubmatch(body)
	if code != http.StatusOK || mt == nil {
		s.t.Fatalf("GET %s: %d, no CSRF token in\n%s", path, code, body)
	}
	return mt[1]
}

// signIn signs s in with token through the form, as a browser of this
// origin does.
func (s *session) signIn(token string) {
	s.t.Helper()
	form := url.Values{"token": {token}, "csrf": {s.csrf("/ui/signin")}, "next": {"/ui/activity"}}
	code, h, body := s.post("/ui/signin", s.m.URL, form)
	if code != http.StatusSeeOther || h.Get("Location") != "/ui/activity" {
		s.t.Fatalf("sign-in: %d %s %s", code, h.Get("Location"), body)
	}
	var ck string
	for _, c := range h.Values("Set-Cookie") {
		if strings.HasPrefix(c, "gomirror_session=") {
			ck = c
		}
	}
	for _, attr := range []string{"HttpOnly", "Secure", "SameSite=Strict", "Path=/ui/"} {
		if !strings.Contains(ck, attr) {
			s.t.Errorf("session cookie %q lacks %s", ck, attr)
		}
	}
}

// testConsoleAccess checks who sees what: without a session the console
// redirects to the sign-in and the API answers 401; a client token sees its
// own activity only, whatever it asks, and no operator page; state-changing
// requests without their CSRF token or from another origin are refused;
// a session ends when its token is revoked.
func testConsoleAccess(t *testing.T, m *consoleMirror) {
	anon := m.newSession(t)
	for _, p := range []string{"/api/v1/overview", "/api/v1/audit", "/ui/activity.csv"} {
		if code, _, body := anon.get(p); code != http.StatusUnauthorized {
			t.Errorf("GET %s without credentials: %d %s; want 401", p, code, body)
		}
	}
	for _, p := range []string{"/ui/", "/ui/activity", "/ui/modules/example.com/hello", "/ui/alerts", "/ui/upstreams",
		"/ui/modules/example.com/hello/@v/v1.1.0", "/ui/modules/example.com/hello/@v/v1.1.0/graph"} {
		if code, h, _ := anon.get(p); code != http.StatusSeeOther || !strings.HasPrefix(h.Get("Location"), "/ui/signin?next=") {
			t.Errorf("GET %s without a session: %d Location %q; want a redirect to the sign-in", p, code, h.Get("Location"))
		}
	}
	// A browser asking for / goes to the console; the go command's / stays a 400.
	req, _ := http.NewRequest("GET", m.URL+"/", nil)
	req.Header.Set("Accept", "text/html,application/xhtml+xml")
	if code, h, _ := testutil.Do(t, m.client, req); code != http.StatusSeeOther || h.Get("Location") != "/ui/" {
		t.Errorf("a browser's GET /: %d %q", code, h.Get("Location"))
	}

	// CSRF: a sign-in without the form's token, or from another origin,
	// is refused, even with a right token.
	s := m.newSession(t)
	token := s.csrf("/ui/signin")
	for name, tc := range map[string]struct {
		origin string
		form   url.Values
	}{
		"no CSRF token":  {m.URL, url.Values{"token": {m.alice}}},
		"wrong token":    {m.URL, url.Values{"token": {m.alice}, "csrf": {strings.Repeat("0", 64)}}},
		"another origin": {"https://evil.example", url.Values{"token": {m.alice}, "csrf": {token}}},
	} {
		if code, h, _ := s.post("/ui/signin", tc.origin, tc.form); code != http.StatusForbidden || h.Get("Set-Cookie") != "" && strings.Contains(h.Get("Set-Cookie"), "gomirror_session=") {
			t.Errorf("sign-in with %s: %d; want 403 and no session", name, code)
		}
	}

	// alice, a client token: her own activity only.
	s.signIn(m.alice)
	for _, p := range []string{"/ui/activity?kind=zip&status=200", "/ui/activity?kind=zip&status=200&client=bob"} {
		code, _, body := s.get(p)
		// The records: the table (the page's own links repeat the
		// query she typed).
		table := body[strings.Index(body, `<table id="activity"`)+1:]
		table = table[:strings.Index(table, "</table>")]
		if code != http.StatusOK || strings.Contains(table, "bob") || strings.Count(table, `>zip</td>`) != 3 {
			t.Errorf("GET %s as alice: %d, %d zip rows, mentions bob: %v; want her 3 zips only", p, code, strings.Count(table, `>zip</td>`), strings.Contains(table, "bob"))
		}
	}
	code, _, csv := s.get("/ui/activity.csv?client=bob")
	lines := strings.Split(strings.TrimSpace(csv), "\n")
	if code != http.StatusOK || len(lines) < 2 || strings.Contains(csv, "bob") {
		t.Errorf("CSV as alice asking for bob: %d\n%s", code, csv)
	}
	for _, l := range lines[1:] {
		if strings.Split(l, ",")[1] != "alice" {
			t.Errorf("CSV as alice: row %q", l)
		}
	}
	if code, _, _ := s.get("/ui/alerts"); code != http.StatusForbidden {
		t.Errorf("alerts page as alice: %d, want 403", code)
	}
	if code, _, _ := s.get("/ui/upstreams"); code != http.StatusForbidden {
		t.Errorf("upstreams page as alice: %d, want 403", code)
	}
	if code, _, body := s.get("/ui/modules/example.com/hello/@v/v1.1.0/graph"); code != http.StatusOK || !strings.Contains(body, `data-line="example.com/hello"`) {
		t.Errorf("graph page of a module alice downloads, as alice: %d", code)
	}
	if code, h, _ := s.get("/ui/"); code != http.StatusSeeOther || h.Get("Location") != "/ui/activity" {
		t.Errorf("/ui/ as alice: %d %q; want her activity", code, h.Get("Location"))
	}
	// Her session opens no API door.
	if code, _, _ := s.get("/api/v1/audit"); code != http.StatusUnauthorized {
		t.Errorf("/api/v1/audit with alice's session: %d, want 401", code)
	}

	// Sign-out needs the session's CSRF token and this origin.
	signOutToken := s.csrf("/ui/activity")
	if code, _, _ := s.post("/ui/signout", m.URL, url.Values{}); code != http.StatusForbidden {
		t.Errorf("sign-out without its CSRF token: %d, want 403", code)
	}
	if code, _, _ := s.post("/ui/signout", "https://evil.example", url.Values{"csrf": {signOutToken}}); code != http.StatusForbidden {
		t.Errorf("sign-out from another origin: %d, want 403", code)
	}
	if code, _, _ := s.get("/ui/activity"); code != http.StatusOK {
		t.Fatalf("after refused sign-outs the session should be there: %d", code)
	}
	if code, h, _ := s.post("/ui/signout", m.URL, url.Values{"csrf": {signOutToken}}); code != http.StatusSeeOther || h.Get("Location") != "/ui/signin" {
		t.Errorf("sign-out: %d %q", code, h.Get("Location"))
	}
	if code, _, _ := s.get("/ui/activity"); code != http.StatusSeeOther {
		t.Errorf("after sign-out: %d, want a redirect to the sign-in", code)
	}

	// bob signs in; revoking his token ends his session.
	bob := m.newSession(t)
	bob.signIn(m.bob)
	if code, _, _ := bob.get("/ui/activity"); code != http.StatusOK {
		t.Fatalf("bob's activity: %d", code)
	}
	if out, err := exec.Command(gomirrorBin, "token", "revoke", "bob", "--tokens-file", m.tokens).CombinedOutput(); err != nil {
		t.Fatalf("gomirror token revoke bob: %v %s", err, out)
	}
	eventually(t, "bob's session ends with his token", func() bool {
		code, _, _ := bob.get("/ui/activity")
		return code == http.StatusSeeOther
	})

	// Guessing tokens at the sign-in counts against the address, as
	// wrong credentials from the go command do: 401 until the allowance
	// (10) is used up, then 429 with Retry-After, even for a right token.
	// (Last: the address stays refused for a while.)
	guess := m.newSession(t)
	for i := range 11 {
		form := url.Values{"token": {fmt.Sprintf("gm_guess%d", i)}, "csrf": {guess.csrf("/ui/signin")}}
		code, h, _ := guess.post("/ui/signin", m.URL, form)
		if want := map[bool]int{true: http.StatusUnauthorized, false: http.StatusTooManyRequests}[i < 10]; code != want || code == http.StatusTooManyRequests && h.Get("Retry-After") == "" {
			t.Fatalf("wrong token %d: %d (Retry-After %q), want %d", i+1, code, h.Get("Retry-After"), want)
		}
	}
	form := url.Values{"token": {m.ops}, "csrf": {guess.csrf("/ui/signin")}}
	if code, _, _ := guess.post("/ui/signin", m.URL, form); code != http.StatusTooManyRequests {
		t.Errorf("a right token after 10 wrong ones: %d, want 429", code)
	}
}
