package console

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gomirror/gomirror/db"
	"github.com/gomirror/gomirror/obs"
)

// The attacks of an outside review of the console (issue 15), each
// performed against the console.

// hidden is the module alice may not download (fakeAuth's denied).
const hidden = "corp.example/secret"

// TestModulesPageOracle: a client token (alice) must learn nothing of the
// modules it may not download from the modules page, whatever it searches
// for. The attack grew a substring query one character at a time while
// the page said "N modules of this page are not shown", and rebuilt
// corp.example/secret; here, every query that attack would send must give
// alice the very page she gets when corp.example/secret is not stored at
// all.
func TestModulesPageOracle(t *testing.T) {
	e := newEnv(t, false)
	cl := e.client()
	cl.signIn("gm_alice")
	ctx := context.Background()
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789-._~/"
	queries := []string{"", hidden, "corp", "secret"}
	for _, c := range alphabet {
		queries = append(queries, string(c))
	}
	for i := range len(hidden) { // the attack's growing queries
		queries = append(queries, hidden[:i+1], hidden[i:])
	}
	page := func(q string) string {
		w := cl.do("GET", "/ui/modules?q="+url.QueryEscape(q), nil, nil)
		if w.Code != http.StatusOK {
			t.Fatalf("modules?q=%s: %d", q, w.Code)
		}
		return w.Body.String()
	}
	with := map[string]string{}
	for _, q := range queries {
		with[q] = page(q)
	}
	if err := e.d.DeleteArtifact(ctx, hidden, "v0.1.0", "zip"); err != nil {
		t.Fatal(err)
	}
	differ := 0
	for _, q := range queries {
		if without := page(q); with[q] != without {
			differ++
			if differ <= 3 {
				t.Errorf("q=%q: alice's page tells whether %s is stored:\nwith it:\n%s\nwithout it:\n%s", q, hidden, with[q], without)
			}
		}
	}
	if differ > 0 {
		t.Errorf("%d of %d queries are an oracle for a hidden module", differ, len(queries))
	}
}

// cursorRE finds the next page's cursor in a modules page.
var cursorRE = regexp.MustCompile(`cursor=([A-Za-z0-9_.-]+)`)

// checkCursor fails if cursor, in clear or decoded, names a hidden module.
func checkCursor(t *testing.T, cursor string) {
	t.Helper()
	b, _ := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(cursor, sealedPrefix))
	if strings.Contains(cursor, "secret") || strings.Contains(string(b), "secret") {
		t.Errorf("the cursor %s (%q) names a hidden module", cursor, b)
	}
}

// TestModulesCursorLeak: the next page's cursor was the last module the
// database returned, before the client token's filter; here that is
// corp.example/secret, row 100. Its path must not be in alice's page.
func TestModulesCursorLeak(t *testing.T) {
	e := newEnv(t, false)
	for i := range 99 { // sorts before corp.example/secret: it is row 100
		if err := e.d.PutArtifact(context.Background(), db.Artifact{Module: fmt.Sprintf("a.example/m%03d", i), Version: "v1.0.0", File: "zip", Size: 1, Stored: e.now}); err != nil {
			t.Fatal(err)
		}
	}
	cl := e.client()
	cl.signIn("gm_alice")
	body := cl.do("GET", "/ui/modules", nil, nil).Body.String()
	if strings.Contains(body, hidden) {
		t.Fatal("shown in clear")
	}
	m := cursorRE.FindStringSubmatch(body)
	if m != nil {
		checkCursor(t, m[1])
	}
	// 100 modules alice may download: one page, every one of them.
	if n := strings.Count(body, `<td><a href="/ui/modules/`); n != 100 || m != nil {
		t.Errorf("alice's page: %d modules, next link %v; want 100 and none", n, m)
	}
}

// TestModulesWalk: a client token pages through a catalog where long runs
// of hidden modules exhaust the scan budget: it sees every module it may
// download exactly once, in order, and no cursor of its pages names a
// hidden one (those that stop among hidden rows are sealed). A sealed
// cursor opens only for its session and query, and in the process that
// sealed it.
func TestModulesWalk(t *testing.T) {
	e := newEnv(t, false)
	e.c.listLimit, e.c.scanPage, e.c.scanBudget = 3, 2, 4
	ctx := context.Background()
	var visible []string
	for _, m := range []string{"a.example/v0", "a.example/v1", "b.example/v0", "corp.example/secret/x0", "corp.example/secret/x1",
		"corp.example/secret/x2", "corp.example/secret/x3", "corp.example/secret/x4", "corp.example/secret/x5", "corp.example/secret/x6",
		"d.example/v0", "d.example/v1", "d.example/v2", "d.example/v3", "z.example/v0"} {
		if err := e.d.PutArtifact(ctx, db.Artifact{Module: m, Version: "v1.0.0", File: "zip", Size: 1, Stored: e.now}); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(m, hidden) {
			visible = append(visible, m)
		}
	}
	visible = append(visible, "example.com/hello")
	slices.Sort(visible)
	alice := e.client()
	alice.signIn("gm_alice")
	row := regexp.MustCompile(`<td><a href="/ui/modules/([^"]+)">`)
	var seen []string
	sealed := ""
	cursor := ""
	for range 20 {
		w := alice.do("GET", "/ui/modules?q=.&cursor="+url.QueryEscape(cursor), nil, nil)
		if w.Code != http.StatusOK {
			t.Fatalf("cursor %q: %d %s", cursor, w.Code, w.Body)
		}
		body := w.Body.String()
		if strings.Contains(body, "secret") {
			t.Fatalf("a page names a hidden module:\n%s", body)
		}
		for _, m := range row.FindAllStringSubmatch(body, -1) {
			seen = append(seen, m[1])
		}
		m := cursorRE.FindStringSubmatch(body)
		if m == nil {
			break
		}
		cursor = m[1]
		checkCursor(t, cursor)
		if strings.HasPrefix(cursor, sealedPrefix) {
			sealed = cursor
		}
	}
	if !slices.Equal(seen, visible) {
		t.Errorf("alice saw %v\nwant %v", seen, visible)
	}
	if sealed == "" {
		t.Fatal("no page stopped among hidden modules: the test does not test sealing")
	}
	// The sealed cursor: for this session and query only.
	other := e.client()
	other.signIn("gm_alice")
	tampered := []byte(sealed)
	tampered[len(tampered)-2] ^= 1
	restarted, err := New(e.c.opts)
	if err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		cl     *client
		q      string
		cursor string
	}{
		"another session": {other, ".", sealed},
		"another query":   {alice, "", sealed},
		"tampered":        {alice, ".", string(tampered)},
	} {
		w := tc.cl.do("GET", "/ui/modules?q="+url.QueryEscape(tc.q)+"&cursor="+url.QueryEscape(tc.cursor), nil, nil)
		if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), "This page link has expired") {
			t.Errorf("%s: %d, want 400", name, w.Code)
		}
	}
	e.c = restarted
	if w := alice.do("GET", "/ui/modules?q=.&cursor="+url.QueryEscape(sealed), nil, nil); w.Code != http.StatusBadRequest {
		t.Errorf("after a restart: %d, want 400", w.Code)
	}
}

// TestSessionsPerToken: one sign-in cookie and CSRF pair, replayed (the
// double submit keeps no server state), signs a client token in again and
// again; each sign-in is a session in the database, but a token keeps only
// its MaxSessionsPerToken newest.
func TestSessionsPerToken(t *testing.T) {
	e := newEnv(t, false)
	cl := e.client()
	w := cl.do("GET", "/ui/signin", nil, nil)
	csrf := csrfOf(t, w.Body.String())
	signinCookie := cl.cookies[signInCookie]
	const n = 3 * MaxSessionsPerToken
	var ids []string
	for range n {
		c := e.client()
		c.cookies[signInCookie] = signinCookie
		if w := c.do("POST", "/ui/signin", url.Values{"token": {"gm_alice"}, "csrf": {csrf}}, nil); w.Code != http.StatusSeeOther {
			t.Fatalf("sign-in: %d", w.Code)
		}
		ids = append(ids, c.cookies[sessionCookie])
		e.advance(time.Millisecond) // distinct creation times
	}
	ops := e.client()
	ops.signIn("gm_ops")
	for i, id := range ids {
		_, err := e.d.Session(context.Background(), hashOf("session", id), e.clock())
		if live := i >= n-MaxSessionsPerToken; live != (err == nil) {
			t.Errorf("session %d of %d: live %v, want %v", i, n, err == nil, live)
		}
	}
	if w := ops.do("GET", "/ui/alerts", nil, nil); w.Code != http.StatusOK {
		t.Errorf("another token's session ended: %d", w.Code)
	}
}

// TestSignInEndsPreviousSession: a browser that signs in again (as ops,
// then as alice on a shared machine) no longer has the previous session,
// in the database either.
func TestSignInEndsPreviousSession(t *testing.T) {
	e := newEnv(t, false)
	cl := e.client()
	cl.signIn("gm_ops")
	old := cl.cookies[sessionCookie]
	cl.signIn("gm_alice")
	if _, err := e.d.Session(context.Background(), hashOf("session", old), e.clock()); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the previous (admin) session is still valid after a sign-in as alice: %v", err)
	}
	if cl.cookies[sessionCookie] == old {
		t.Fatal("the same session ID")
	}
	if w := cl.do("GET", "/ui/alerts", nil, nil); w.Code != http.StatusForbidden {
		t.Errorf("alerts after signing in as alice: %d, want 403", w.Code)
	}
}

// failingDelete is a session store whose DeleteSession fails.
type failingDelete struct{ *db.DB }

func (failingDelete) DeleteSession(context.Context, string) error {
	return errors.New("db: deleting a session: disk I/O error")
}

// TestSignOutFailure: a sign-out that cannot delete the session says so
// (503) and keeps the cookie, instead of pretending: a stolen copy of the
// cookie would still be valid.
func TestSignOutFailure(t *testing.T) {
	for name, sessions := range map[string]func(e *env) func() (Sessions, error){
		"DeleteSession fails": func(e *env) func() (Sessions, error) {
			return func() (Sessions, error) { return failingDelete{e.d}, nil }
		},
		"no database at sign-out": func(e *env) func() (Sessions, error) {
			calls := 0
			return func() (Sessions, error) {
				if calls++; calls > 1 { // the session was read, then the database went away
					return nil, errors.New("database unavailable")
				}
				return e.d, nil
			}
		},
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, false)
			cl := e.client()
			cl.signIn("gm_ops")
			id := cl.cookies[sessionCookie]
			token := csrfOf(t, cl.do("GET", "/ui/modules", nil, nil).Body.String())
			e.c.opts.Sessions = sessions(e)
			w := cl.do("POST", "/ui/signout", url.Values{"csrf": {token}}, map[string]string{"Origin": "http://example.com"})
			if w.Code != http.StatusServiceUnavailable || !strings.Contains(w.Body.String(), "could not be ended") {
				t.Errorf("sign-out: %d, want 503 saying the session could not be ended\n%s", w.Code, w.Body)
			}
			if cl.cookies[sessionCookie] != id {
				t.Error("the cookie was cleared: the person believes the session ended")
			}
			if _, err := e.d.Session(context.Background(), hashOf("session", id), e.clock()); err != nil {
				t.Fatalf("the session: %v (the test's failure did not happen)", err)
			}
		})
	}
}

// TestLocalPath: the places a sign-in or the language switch may send the
// browser back to: console paths only, without control bytes (which a
// browser drops, or reads as a slash), backslashes, dot segments or
// escapes that leave /ui/.
func TestLocalPath(t *testing.T) {
	for _, tt := range []struct {
		next, want string
	}{
		{"/ui/modules?q=hello&cursor=abc", "/ui/modules?q=hello&cursor=abc"},
		{"/ui/modules/example.com/hello", "/ui/modules/example.com/hello"},
		{"/ui/activity?module=corp.example%2F%2A", "/ui/activity?module=corp.example%2F%2A"},
		{"/ui/", "/ui/"},
		{"https://evil.example/", "/ui/"},
		{"//evil.example/ui/", "/ui/"},
		{"/ui//evil.example", "/ui/"},
		{"/ui/../..//evil.example", "/ui/"},
		{"/ui/%2e%2e/%2e%2e//evil.example", "/ui/"},
		{"/ui/\t/evil.example", "/ui/"},
		{"/ui/..\t/..//evil.example", "/ui/"},
		{"/ui/../\x01/evil.example", "/ui/"},
		{"/ui/x\x01y", "/ui/"},
		{"/ui/x\x7fy", "/ui/"},
		{"/ui/?q=\x00", "/ui/"},
		{"/ui/%5c%5cevil.example", "/ui/"},
		{"/ui/../%2f%2fevil.example", "/ui/"},
		{"/ui/./../../\x7f//evil.example", "/ui/"},
		{"/ui/../elsewhere", "/ui/"},
	} {
		if got := localPath(tt.next); got != tt.want {
			t.Errorf("localPath(%q) = %q, want %q", tt.next, got, tt.want)
		}
	}
	// Through the language switch.
	e := newEnv(t, true)
	if w := e.client().do("GET", "/ui/lang?to=zh&back="+url.QueryEscape("/ui/\x01/evil.example"), nil, nil); w.Header().Get("Location") != "/ui/" {
		t.Errorf("back with a control byte: Location %q", w.Header().Get("Location"))
	}
}

// TestAccessLogNamesViewer: a page view, a CSV export and a sign-in are
// attributed to the session's token in the access log (obs.Request.Client).
func TestAccessLogNamesViewer(t *testing.T) {
	e := newEnv(t, false)
	cl := e.client()
	get := func(target string) *obs.Request {
		rec := &obs.Request{}
		r := httptest.NewRequest("GET", target, nil).WithContext(obs.WithRequest(context.Background(), rec))
		for k, v := range cl.cookies {
			r.AddCookie(&http.Cookie{Name: k, Value: v})
		}
		w := httptest.NewRecorder()
		e.c.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			t.Fatalf("GET %s: %d", target, w.Code)
		}
		return rec
	}
	if rec := get("/ui/signin"); rec.Client != "" {
		t.Errorf("sign-in page without a session: client %q", rec.Client)
	}
	cl.signIn("gm_alice")
	for _, target := range []string{"/ui/activity", "/ui/activity.csv", "/ui/modules"} {
		if rec := get(target); rec.Client != "alice" {
			t.Errorf("GET %s: access log client %q, want alice", target, rec.Client)
		}
	}
}
