package console

import (
	"context"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gomirror/gomirror/api"
	"github.com/gomirror/gomirror/audit"
	"github.com/gomirror/gomirror/auth"
	"github.com/gomirror/gomirror/db"
	"github.com/gomirror/gomirror/i18n"
)

// TestEveryTextIsInTheCatalogue fails when a template or a page handler
// shows a text that the catalogue lacks (and so has no Chinese): the keys
// of the templates' .T calls, the titles and error texts that the Go
// code passes to render and showSignIn, the error pages' texts (errorText)
// and the literal texts of the package's errors. (TestErrorPagesInChinese
// requests the error pages of every kind in Chinese.)
func TestEveryTextIsInTheCatalogue(t *testing.T) {
	cat := i18n.Default()
	keys := map[string]string{} // key -> where
	tmplKey := regexp.MustCompile(`\.T "([^"]+)"`)
	names, _ := fs.Glob(templateFS, "templates/*.html")
	for _, n := range names {
		b, _ := templateFS.ReadFile(n)
		for _, m := range tmplKey.FindAllStringSubmatch(string(b), -1) {
			keys[m[1]] = n
		}
	}
	fset := token.NewFileSet()
	files, _ := filepath.Glob("*.go")
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(file, func(n ast.Node) bool {
			// The texts of error pages: what errorText returns, and the
			// literal texts of the package's errors (shown when they
			// are keys, as errExpiredCursor is).
			if fn, ok := n.(*ast.FuncDecl); ok && fn.Body != nil && (fn.Name.Name == "errorText" || fn.Name.Name == "Error" && fn.Recv != nil) {
				ast.Inspect(fn.Body, func(n ast.Node) bool {
					if ret, ok := n.(*ast.ReturnStmt); ok && len(ret.Results) > 0 {
						if lit, ok := ret.Results[0].(*ast.BasicLit); ok && lit.Kind == token.STRING {
							s, _ := strconv.Unquote(lit.Value)
							keys[s] = fset.Position(lit.Pos()).String()
						}
					}
					return true
				})
			}
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			var args []int // the arguments that are texts shown
			switch sel.Sel.Name {
			case "render":
				args = []int{5, 7}
			case "showSignIn":
				args = []int{3}
			}
			for _, i := range args {
				if lit, ok := call.Args[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
					s, _ := strconv.Unquote(lit.Value)
					if s != "" {
						keys[s] = fset.Position(lit.Pos()).String()
					}
				}
			}
			return true
		})
	}
	if len(keys) < 50 {
		t.Fatalf("found only %d texts: is the scan broken?", len(keys))
	}
	for k, where := range keys {
		if !cat.Has(k) {
			t.Errorf("%s: %q is not in the i18n catalogue", where, k)
		}
	}
}

// fakeAuth is the tokens: name -> role and fingerprint, and secrets.
type fakeAuth struct {
	mu      sync.Mutex
	roles   map[string]auth.Role
	fps     map[string]string
	secrets map[string]string // secret -> name
	denied  map[string]string // name -> module prefix it may not read
}

func (a *fakeAuth) SignIn(r *http.Request, secret string) (string, auth.Role, string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	name, ok := a.secrets[secret]
	if !ok {
		return "", "", "", auth.ErrWrongToken
	}
	return name, a.roles[name], a.fps[name], nil
}

func (a *fakeAuth) Current(name string) (auth.Role, string, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	r, ok := a.roles[name]
	return r, a.fps[name], ok
}

func (a *fakeAuth) MayRead(name, mod string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	p, ok := a.denied[name]
	return !ok || !strings.HasPrefix(mod, p)
}

// env is a console over a real SQLite database with a few modules and
// records, and a clock.
type env struct {
	t    *testing.T
	c    *Console
	d    *db.DB
	auth *fakeAuth
	mu   sync.Mutex
	now  time.Time
}

func (e *env) clock() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.now
}

func (e *env) advance(d time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.now = e.now.Add(d)
}

func newEnv(t *testing.T, open bool) *env {
	t.Helper()
	ctx := context.Background()
	d, err := db.Open(ctx, filepath.Join(t.TempDir(), "gomirror.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	e := &env{t: t, d: d, now: time.Now().UTC(), auth: &fakeAuth{
		roles:   map[string]auth.Role{"ops": auth.RoleAdmin, "alice": auth.RoleClient, "bob": auth.RoleClient},
		fps:     map[string]string{"ops": "fp-ops", "alice": "fp-alice", "bob": "fp-bob"},
		secrets: map[string]string{"gm_ops": "ops", "gm_alice": "alice", "gm_bob": "bob"},
		denied:  map[string]string{"alice": "corp.example/secret"},
	}}
	for _, a := range []db.Artifact{
		{Module: "example.com/hello", Version: "v1.0.0", File: "zip", Size: 100},
		{Module: "example.com/hello", Version: "v1.1.0", File: "zip", Size: 110},
		{Module: "corp.example/secret", Version: "v0.1.0", File: "zip", Size: 10},
	} {
		a.Stored = e.now.Add(-time.Hour)
		if err := d.PutArtifact(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	var recs []audit.Record
	for i, who := range []string{"alice", "bob", "bob"} {
		recs = append(recs, audit.Record{ID: "r" + strconv.Itoa(i), Time: e.now.Add(-time.Duration(i+1) * time.Minute), Client: who, Remote: "10.0.0.1",
			Method: "GET", Module: "example.com/hello", Version: "v1.1.0", Kind: "zip", Status: 200, Cache: "hit"})
	}
	if err := d.WriteAudit(ctx, recs); err != nil {
		t.Fatal(err)
	}
	svc := api.NewService(api.Options{Store: func() (api.Store, error) { return d, nil }, Now: e.clock,
		Storage: storeFixture(t), UpstreamHistory: upstreamsFixture,
		GC: func() api.GC {
			return api.GC{Quota: 50 << 30, Retention: "180d", Ran: true, Used: 40 << 30, LastRun: e.now.Add(-time.Hour),
				Evicted: map[string]uint64{"quota": 3, "retention": 4}, Freed: map[string]uint64{"quota": 1 << 20, "retention": 1 << 20},
				QuotaUnreachable: "pinned 3"}
		}})
	c, err := New(Options{API: svc, Open: open, Auth: e.auth, Sessions: func() (Sessions, error) { return d, nil }, Now: e.clock, SessionTTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	e.c = c
	return e
}

// client is a browser: its cookies.
type client struct {
	e       *env
	cookies map[string]string
}

func (e *env) client() *client { return &client{e: e, cookies: map[string]string{}} }

func (cl *client) do(method, target string, form url.Values, hdr map[string]string) *httptest.ResponseRecorder {
	cl.e.t.Helper()
	var r *http.Request
	if form != nil {
		r = httptest.NewRequest(method, target, strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else {
		r = httptest.NewRequest(method, target, nil)
	}
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	for k, v := range cl.cookies {
		r.AddCookie(&http.Cookie{Name: k, Value: v})
	}
	w := httptest.NewRecorder()
	cl.e.c.ServeHTTP(w, r)
	for _, ck := range w.Result().Cookies() {
		if ck.MaxAge < 0 {
			delete(cl.cookies, ck.Name)
		} else {
			cl.cookies[ck.Name] = ck.Value
		}
	}
	if csp := w.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") || strings.Contains(csp, "unsafe") {
		cl.e.t.Errorf("%s %s: Content-Security-Policy %q", method, target, csp)
	}
	return w
}

var csrfInput = regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`)

func csrfOf(t *testing.T, body string) string {
	t.Helper()
	m := csrfInput.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no CSRF token in\n%s", body)
	}
	return m[1]
}

// signIn signs cl in with secret and returns the response of the POST.
func (cl *client) signIn(secret string) *httptest.ResponseRecorder {
	cl.e.t.Helper()
	w := cl.do("GET", "/ui/signin?next=/ui/modules", nil, nil)
	return cl.do("POST", "/ui/signin", url.Values{"token": {secret}, "csrf": {csrfOf(cl.e.t, w.Body.String())}, "next": {"/ui/modules"}},
		map[string]string{"Origin": "http://example.com", "Sec-Fetch-Site": "same-origin"})
}

// TestSessionLifecycle checks a session from sign-in to its end: stored by
// the hash of its ID only, expired after its TTL, ended when its token is
// removed or changes role, ended by sign-out.
func TestSessionLifecycle(t *testing.T) {
	e := newEnv(t, false)
	cl := e.client()
	if w := cl.do("GET", "/ui/modules", nil, nil); w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/ui/signin?next=%2Fui%2Fmodules" {
		t.Fatalf("without a session: %d %q", w.Code, w.Header().Get("Location"))
	}
	if w := cl.signIn("gm_wrong"); w.Code != http.StatusUnauthorized || cl.cookies[sessionCookie] != "" {
		t.Fatalf("wrong token: %d, cookies %v", w.Code, cl.cookies)
	}
	w := cl.signIn("gm_ops")
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/ui/modules" {
		t.Fatalf("sign-in: %d %q %s", w.Code, w.Header().Get("Location"), w.Body)
	}
	id := cl.cookies[sessionCookie]
	if _, err := e.d.Session(context.Background(), hashOf("session", id), e.clock()); err != nil {
		t.Errorf("the session is not stored by its ID's hash: %v", err)
	}
	if _, err := e.d.Session(context.Background(), id, e.clock()); err == nil {
		t.Error("the session ID itself is a key of the database")
	}
	if w := cl.do("GET", "/ui/alerts", nil, nil); w.Code != http.StatusOK {
		t.Fatalf("alerts as ops: %d", w.Code)
	}
	// Expired.
	e.advance(time.Hour + time.Second)
	if w := cl.do("GET", "/ui/alerts", nil, nil); w.Code != http.StatusSeeOther {
		t.Errorf("after the TTL: %d, want a redirect to the sign-in", w.Code)
	}
	// Role lost, token replaced, token removed: each ends the session.
	for name, change := range map[string]func(){
		"role lost":      func() { e.auth.roles["ops"] = auth.RoleClient },
		"token replaced": func() { e.auth.fps["ops"] = "fp-new" },
		"token removed":  func() { delete(e.auth.roles, "ops") },
	} {
		e.auth.roles["ops"], e.auth.fps["ops"] = auth.RoleAdmin, "fp-ops"
		cl := e.client()
		cl.signIn("gm_ops")
		if w := cl.do("GET", "/ui/alerts", nil, nil); w.Code != http.StatusOK {
			t.Fatalf("%s: before: %d", name, w.Code)
		}
		e.auth.mu.Lock()
		change()
		e.auth.mu.Unlock()
		if w := cl.do("GET", "/ui/alerts", nil, nil); w.Code != http.StatusSeeOther {
			t.Errorf("%s: %d, want the session ended", name, w.Code)
		}
		if _, err := e.d.Session(context.Background(), hashOf("session", cl.cookies[sessionCookie]), e.clock()); err == nil {
			t.Errorf("%s: the session is still in the database", name)
		}
	}
	// Sign-out: only with the session's CSRF token, from this origin.
	e.auth.roles["ops"], e.auth.fps["ops"] = auth.RoleAdmin, "fp-ops"
	cl = e.client()
	cl.signIn("gm_ops")
	token := csrfOf(t, cl.do("GET", "/ui/modules", nil, nil).Body.String())
	for _, tc := range []struct {
		form url.Values
		hdr  map[string]string
	}{
		{url.Values{}, nil},
		{url.Values{"csrf": {"x" + token[1:]}}, nil},
		{url.Values{"csrf": {token}}, map[string]string{"Sec-Fetch-Site": "cross-site"}},
		{url.Values{"csrf": {token}}, map[string]string{"Origin": "https://evil.example"}},
	} {
		if w := cl.do("POST", "/ui/signout", tc.form, tc.hdr); w.Code != http.StatusForbidden {
			t.Errorf("sign-out %v %v: %d, want 403", tc.form, tc.hdr, w.Code)
		}
	}
	if w := cl.do("POST", "/ui/signout", url.Values{"csrf": {token}}, map[string]string{"Origin": "http://example.com"}); w.Code != http.StatusSeeOther {
		t.Errorf("sign-out: %d", w.Code)
	}
	if w := cl.do("GET", "/ui/modules", nil, nil); w.Code != http.StatusSeeOther {
		t.Errorf("after sign-out: %d", w.Code)
	}
}

// TestClientTokenView checks what a client token sees: the modules it may
// download, its own activity whatever it asks for, no operator page.
func TestClientTokenView(t *testing.T) {
	e := newEnv(t, false)
	cl := e.client()
	cl.signIn("gm_alice")
	body := cl.do("GET", "/ui/modules", nil, nil).Body.String()
	if !strings.Contains(body, "example.com/hello") || strings.Contains(body, "corp.example/secret") {
		t.Errorf("modules as alice: want example.com/hello only:\n%s", body)
	}
	if w := cl.do("GET", "/ui/modules/corp.example/secret", nil, nil); w.Code != http.StatusForbidden || strings.Contains(w.Body.String(), "v0.1.0") {
		t.Errorf("a module alice may not download: %d", w.Code)
	}
	if w := cl.do("GET", "/ui/modules/example.com/hello", nil, nil); w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "go get example.com/hello@v1.1.0") || strings.Contains(w.Body.String(), "Downloads (") {
		t.Errorf("a module page as alice: %d (want the versions, and no download counts of others)", w.Code)
	}
	for _, target := range []string{"/ui/activity", "/ui/activity?client=bob"} {
		body := cl.do("GET", target, nil, nil).Body.String()
		table := body[strings.Index(body, `<table id="activity"`):]
		if n := strings.Count(table, ">zip</td>"); n != 1 || strings.Contains(table, "bob") {
			t.Errorf("%s as alice: %d rows, want her 1", target, n)
		}
	}
	csv := cl.do("GET", "/ui/activity.csv?client=bob", nil, nil).Body.String()
	if lines := strings.Split(strings.TrimSpace(csv), "\n"); len(lines) != 2 || !strings.Contains(lines[1], ",alice,") {
		t.Errorf("CSV as alice: %q", csv)
	}
	for _, target := range []string{"/ui/alerts"} {
		if w := cl.do("GET", target, nil, nil); w.Code != http.StatusForbidden {
			t.Errorf("%s as alice: %d, want 403", target, w.Code)
		}
	}
	// An operator sees everyone.
	ops := e.client()
	ops.signIn("gm_ops")
	if n := strings.Count(ops.do("GET", "/ui/activity", nil, nil).Body.String(), ">zip</td>"); n != 3 {
		t.Errorf("activity as ops: %d rows, want 3", n)
	}
}

// TestOpenConsole: where the operator endpoints are anonymous, the console
// is too, every page without signing in.
func TestOpenConsole(t *testing.T) {
	e := newEnv(t, true)
	cl := e.client()
	for _, target := range []string{"/ui/", "/ui/modules?q=hel", "/ui/modules/example.com/hello", "/ui/activity", "/ui/alerts"} {
		if w := cl.do("GET", target, nil, nil); w.Code != http.StatusOK {
			t.Errorf("GET %s: %d", target, w.Code)
		}
	}
	if w := cl.do("GET", "/ui/signin", nil, nil); w.Code != http.StatusSeeOther {
		t.Errorf("sign-in page of an open console: %d", w.Code)
	}
	for _, target := range []string{"/ui/nope", "/ui/static/", "/ui/static/nope.css"} {
		if w := cl.do("GET", target, nil, nil); w.Code != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", target, w.Code)
		}
	}
	if w := cl.do("GET", "/ui/static/console.css", nil, nil); w.Code != http.StatusOK || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/css") {
		t.Errorf("GET /ui/static/console.css: %d %q", w.Code, w.Header().Get("Content-Type"))
	}
}

// TestLanguage checks the choice of language and its switch.
func TestLanguage(t *testing.T) {
	e := newEnv(t, true)
	cl := e.client()
	if body := cl.do("GET", "/ui/", nil, map[string]string{"Accept-Language": "zh-CN,zh;q=0.9"}).Body.String(); !strings.Contains(body, "<h1>概览</h1>") || !strings.Contains(body, `lang="zh-Hans"`) {
		t.Errorf("zh-CN: not Chinese")
	}
	w := cl.do("GET", "/ui/lang?to=en&back=/ui/activity", nil, nil)
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/ui/activity" || cl.cookies[i18n.CookieName] != "en" {
		t.Errorf("switch: %d %q %v", w.Code, w.Header().Get("Location"), cl.cookies)
	}
	if body := cl.do("GET", "/ui/", nil, map[string]string{"Accept-Language": "zh-CN"}).Body.String(); !strings.Contains(body, "<h1>Overview</h1>") {
		t.Error("the cookie does not win over Accept-Language")
	}
	// Only console pages are places to go back to.
	for _, back := range []string{"https://evil.example/", "//evil.example/ui/", "/ui//evil.example", "/elsewhere"} {
		if w := cl.do("GET", "/ui/lang?to=zh&back="+url.QueryEscape(back), nil, nil); w.Header().Get("Location") != "/ui/" {
			t.Errorf("back=%s: Location %q", back, w.Header().Get("Location"))
		}
	}
}

// TestSessionCookie checks the session cookie's attributes: HttpOnly,
// SameSite=Strict, Path /ui/, and Secure exactly when the request came
// over HTTPS (Options.HTTPS).
func TestSessionCookie(t *testing.T) {
	for _, https := range []bool{false, true} {
		e := newEnv(t, false)
		e.c.opts.HTTPS = func(*http.Request) bool { return https }
		w := e.client().signIn("gm_ops")
		var ck *http.Cookie
		for _, c := range w.Result().Cookies() {
			if c.Name == sessionCookie {
				ck = c
			}
		}
		if ck == nil || !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/ui/" || ck.Secure != https || ck.MaxAge != 3600 {
			t.Errorf("over HTTPS %v: session cookie %+v", https, ck)
		}
	}
}

// TestGCCard: the overview shows storage used against the quota and the
// evictions, in English and Chinese.
func TestGCCard(t *testing.T) {
	e := newEnv(t, true)
	cl := e.client()
	for lang, want := range map[string][]string{
		"en": {"Storage quota", "40 GiB", "of 50 GiB quota", "retention 180d", "7 versions evicted", "2.0 MiB", "freed", "last run ",
			"The quota cannot be reached; kept: pinned 3"},
		"zh": {"存储配额", "40 GiB", "配额 50 GiB", "保留期 180d", "已清理 7 个版本", "已释放", "上次运行 ", "无法达到配额；保留：pinned 3"},
	} {
		body := cl.do("GET", "/ui/", nil, map[string]string{"Accept-Language": lang}).Body.String()
		i := strings.Index(body, `id="gc"`)
		if i < 0 {
			t.Fatalf("%s: no gc card: %s", lang, body)
		}
		card := body[i:min(len(body), i+800)]
		for _, w := range want {
			if !strings.Contains(card, w) {
				t.Errorf("%s: gc card lacks %q:\n%s", lang, w, card)
			}
		}
	}
}
