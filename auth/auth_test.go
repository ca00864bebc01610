package auth_test

import (
	"encoding/base64"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gomirror/gomirror/auth"
	"github.com/gomirror/gomirror/internal/testutil"
	"github.com/gomirror/gomirror/proxy"
)

// moduleData is what the guarded handler serves; it must never reach a
// client that was refused.
const moduleData = "MODULE-DATA"

// clock is a settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// env is an Authenticator over a fresh tokens file, with a fake clock and a
// captured debug log.
type env struct {
	t       *testing.T
	path    string
	secrets map[string]string
	auth    *auth.Authenticator
	clock   *clock
	log     *testutil.Buffer
	handler http.Handler
	served  int // requests that reached the guarded handler
}

// newEnv writes tokens named names to a new tokens file and builds an
// Authenticator from opts (TokensFile and Logger are filled in).
func newEnv(t *testing.T, opts auth.Options, names ...string) *env {
	t.Helper()
	e := &env{t: t, path: filepath.Join(t.TempDir(), "tokens.json"), secrets: map[string]string{}, log: &testutil.Buffer{}}
	store := auth.NewTokens(e.path)
	for _, name := range names {
		secret, err := store.Add(name)
		if err != nil {
			t.Fatal(err)
		}
		e.secrets[name] = secret
	}
	if opts.TokensFile == "" {
		opts.TokensFile = e.path
	}
	opts.Logger = slog.New(slog.NewTextHandler(e.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	a, err := auth.New(opts)
	if err != nil {
		t.Fatalf("auth.New: %v", err)
	}
	e.auth = a
	e.clock = &clock{t: time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)}
	auth.SetClock(a, e.clock.Now)
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.served++
		w.Header().Set("X-Identity", auth.Identity(r.Context()))
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		io.WriteString(w, moduleData)
	})
	e.handler = a.Wrap(next, moduleOf)
	return e
}

// moduleOf reads GOPROXY-style paths: /<module>/@v/... and /<module>/@latest
// name a module; anything else (/sumdb/..., /metrics) names none.
func moduleOf(r *http.Request) (string, bool) {
	p := strings.TrimPrefix(r.URL.Path, "/")
	if strings.HasPrefix(p, "sumdb/") {
		return "", false
	}
	if mod, _, ok := strings.Cut(p, "/@v/"); ok {
		return mod, true
	}
	if mod, ok := strings.CutSuffix(p, "/@latest"); ok {
		return mod, true
	}
	return "", false
}

// cred sets credentials on a request.
type cred func(e *env, r *http.Request)

func basic(name, secretOf string) cred {
	return func(e *env, r *http.Request) { r.SetBasicAuth(name, e.secrets[secretOf]) }
}

func bearer(secretOf string) cred {
	return func(e *env, r *http.Request) { r.Header.Set("Authorization", "Bearer "+e.secrets[secretOf]) }
}

func header(v string) cred {
	return func(e *env, r *http.Request) { r.Header.Set("Authorization", v) }
}

// do sends a GET for path from remote with credentials c (nil: none).
func (e *env) do(path, remote string, c cred) *httptest.ResponseRecorder {
	e.t.Helper()
	r := httptest.NewRequest(http.MethodGet, "http://mirror.test:8080"+path, nil)
	if remote != "" {
		r.RemoteAddr = remote
	}
	if c != nil {
		c(e, r)
	}
	w := httptest.NewRecorder()
	e.handler.ServeHTTP(w, r)
	return w
}

const (
	privateMod = "/corp.example/private/lib/@v/list"
	publicMod  = "/public.example/lib/@v/list"
	secretMod  = "/corp.example/secret/x/@v/v1.0.0.zip"
	nonModule  = "/sumdb/sum.example/latest"
)

func TestWrap(t *testing.T) {
	private := auth.Options{Mode: auth.ModePrivate, Private: "corp.example"}
	all := auth.Options{Mode: auth.ModeAll}
	withRule := auth.Options{
		Mode:    auth.ModePrivate,
		Private: "corp.example",
		Rules:   []auth.Rule{{Modules: "corp.example/secret", Tokens: []string{"ci"}}},
	}
	tests := []struct {
		name         string
		opts         auth.Options
		path         string
		cred         cred
		wantStatus   int
		wantIdentity string
		wantBody     string // substring of the body
	}{
		{"basic auth with the right token", private, privateMod, basic("ci", "ci"), 200, "ci", moduleData},
		{"bearer with the right token", private, privateMod, bearer("dev"), 200, "dev", moduleData},
		{"bearer scheme is case-insensitive", private, privateMod, func(e *env, r *http.Request) {
			r.Header.Set("Authorization", "bearer  "+e.secrets["ci"])
		}, 200, "ci", moduleData},
		{"basic with another token's password is 401", private, privateMod, basic("ci", "dev"), 401, "", "token is required"},
		{"basic with an unknown name is 401", private, privateMod, basic("nobody", "ci"), 401, "", "token is required"},
		{"bearer with a wrong token is 401", private, privateMod, header("Bearer gm_wrong"), 401, "", "token is required"},
		{"unsupported scheme is 401", private, privateMod, header("Digest username=ci"), 401, "", "token is required"},
		{"empty bearer is 401", private, privateMod, header("Bearer "), 401, "", "token is required"},
		{"no credentials on a private module is 401", private, privateMod, nil, 401, "", `module "corp.example/private/lib"`},
		{"a case variant of a private module is still private", private, "/Corp.Example/private/lib/@v/list", nil, 401, "", "token is required"},
		{"an escaped module path is decoded before matching", auth.Options{Mode: auth.ModePrivate, Private: "corp.example/Team"}, "/corp.example/!team/lib/@v/list", nil, 401, "", "token is required"},
		{"private patterns may have spaces and wildcards", auth.Options{Mode: auth.ModePrivate, Private: "other.example, *.corp.example/"}, "/git.corp.example/lib/@v/list", nil, 401, "", "token is required"},
		{"no credentials on a public module in mode private is 200", private, publicMod, nil, 200, "", moduleData},
		{"valid credentials on a public module set Identity", private, publicMod, bearer("ci"), 200, "ci", moduleData},
		{"wrong credentials on a public module are ignored", private, publicMod, header("Bearer gm_wrong"), 200, "", moduleData},
		{"non-module request in mode private is anonymous", private, nonModule, nil, 200, "", moduleData},
		{"non-module request in mode all needs a token", all, nonModule, nil, 401, "", "this request"},
		{"public module in mode all needs a token", all, publicMod, nil, 401, "", "token is required"},
		{"non-module request in mode all with a token", all, nonModule, basic("dev", "dev"), 200, "dev", moduleData},
		{"rule: listed token is allowed", withRule, secretMod, basic("ci", "ci"), 200, "ci", moduleData},
		{"rule: valid token not listed is 403", withRule, secretMod, basic("dev", "dev"), 403, "", `token "dev" may not read module "corp.example/secret/x"`},
		{"rule: bearer token not listed is 403", withRule, secretMod, bearer("dev"), 403, "", `"dev"`},
		{"rule: no credentials is 401", withRule, secretMod, nil, 401, "", "token is required"},
		{"rule: modules outside the rule follow the mode", withRule, privateMod, basic("dev", "dev"), 200, "dev", moduleData},
		{"rule in mode all: other modules take any token", auth.Options{Mode: auth.ModeAll, Rules: withRule.Rules}, publicMod, bearer("dev"), 200, "dev", moduleData},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, tt.opts, "ci", "dev")
			w := e.do(tt.path, "192.0.2.1:1234", tt.cred)
			body := w.Body.String()
			if w.Code != tt.wantStatus {
				t.Fatalf("status = %d, want %d; body %q", w.Code, tt.wantStatus, body)
			}
			if !strings.Contains(body, tt.wantBody) {
				t.Errorf("body = %q, want it to contain %q", body, tt.wantBody)
			}
			if w.Code != 200 {
				if e.served != 0 || strings.Contains(body, moduleData) {
					t.Errorf("refused request reached the handler (body %q)", body)
				}
				if ct := w.Header().Get("Content-Type"); ct != "text/plain; charset=utf-8" {
					t.Errorf("Content-Type = %q", ct)
				}
				if strings.Count(body, "\n") != 1 || !strings.HasSuffix(body, "\n") {
					t.Errorf("body is not one line: %q", body)
				}
				for name, secret := range e.secrets {
					if strings.Contains(body, secret) {
						t.Errorf("body contains the secret of %s", name)
					}
				}
			}
			if got := w.Header().Get("X-Identity"); got != tt.wantIdentity {
				t.Errorf("Identity = %q, want %q", got, tt.wantIdentity)
			}
			wwwAuth := w.Header().Get("WWW-Authenticate")
			if tt.wantStatus == 401 && wwwAuth != `Basic realm="gomirror"` {
				t.Errorf("WWW-Authenticate = %q, want Basic realm=\"gomirror\"", wwwAuth)
			}
			if tt.wantStatus != 401 && wwwAuth != "" {
				t.Errorf("WWW-Authenticate = %q on a %d", wwwAuth, w.Code)
			}
		})
	}
}

func TestUnauthorizedBodyNamesHost(t *testing.T) {
	e := newEnv(t, auth.Options{Mode: auth.ModeAll}, "ci")
	w := e.do(privateMod, "", nil)
	want := `"machine mirror.test:8080 login NAME password TOKEN"`
	if !strings.Contains(w.Body.String(), want) || !strings.Contains(w.Body.String(), "GOAUTH") {
		t.Errorf("body = %q, want the .netrc line %s and GOAUTH", w.Body.String(), want)
	}
}

func TestModeOffIsPassThrough(t *testing.T) {
	next := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	for _, opts := range []auth.Options{{}, {Mode: auth.ModeOff, Private: "corp.example"}} {
		a, err := auth.New(opts)
		if err != nil {
			t.Fatal(err)
		}
		if got := a.Wrap(next, moduleOf); got == nil || a.Mode() != auth.ModeOff {
			t.Fatal("Wrap returned nil")
		}
		h := a.Wrap(next, moduleOf)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", privateMod, nil))
		if w.Code != 200 {
			t.Errorf("mode off: status %d", w.Code)
		}
	}
	var nilAuth *auth.Authenticator
	if h := nilAuth.Wrap(next, moduleOf); h == nil {
		t.Error("nil Authenticator's Wrap returned nil")
	}
}

func TestAuthenticatedResponsesAreNotPublic(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"public becomes private", "public, max-age=31536000, immutable", "private, max-age=31536000, immutable"},
		{"s-maxage is dropped", "public, s-maxage=60, max-age=60", "private, max-age=60"},
		{"no-store stays", "no-store", "no-store"},
		{"private stays", "private, max-age=5", "private, max-age=5"},
		{"none stays none", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := auth.NewTokens(filepath.Join(t.TempDir(), "t.json"))
			secret, err := store.Add("ci")
			if err != nil {
				t.Fatal(err)
			}
			a, err := auth.New(auth.Options{Mode: auth.ModeAll, TokensFile: store.Path()})
			if err != nil {
				t.Fatal(err)
			}
			h := a.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tt.in != "" {
					w.Header().Set("Cache-Control", tt.in)
				}
				io.Copy(w, strings.NewReader(moduleData)) // through ReadFrom
			}), moduleOf)
			r := httptest.NewRequest("GET", privateMod, nil)
			r.Header.Set("Authorization", "Bearer "+secret)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != 200 || w.Body.String() != moduleData {
				t.Fatalf("status %d body %q", w.Code, w.Body.String())
			}
			if got := w.Header().Get("Cache-Control"); got != tt.want {
				t.Errorf("Cache-Control = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestRateLimit(t *testing.T) {
	e := newEnv(t, auth.Options{Mode: auth.ModePrivate, Private: "corp.example"}, "ci", "dev")
	const attacker, other = "192.0.2.1:1111", "192.0.2.2:2222"

	for i := range auth.DefaultFailureBurst {
		if w := e.do(privateMod, attacker, basic("ci", "dev")); w.Code != 401 {
			t.Fatalf("wrong attempt %d: status %d, want 401", i+1, w.Code)
		}
	}
	// The bucket is empty: even the right token is refused, before its
	// credentials are looked at.
	w := e.do(privateMod, attacker, basic("ci", "ci"))
	if w.Code != http.StatusTooManyRequests {
		t.Fatalf("right token after the burst: status %d, want 429", w.Code)
	}
	if ra := w.Header().Get("Retry-After"); ra != strconv.Itoa(int(auth.DefaultFailureRefill/time.Second)) {
		t.Errorf("Retry-After = %q, want %d", ra, int(auth.DefaultFailureRefill/time.Second))
	}
	if e.served != 0 || strings.Contains(w.Body.String(), moduleData) {
		t.Error("a 429 reached the handler")
	}
	// Another port of the same host is the same client.
	if w := e.do(privateMod, "192.0.2.1:9999", bearer("ci")); w.Code != 429 {
		t.Errorf("same host, other port: status %d, want 429", w.Code)
	}
	// Public modules stay open to the blocked address.
	if w := e.do(publicMod, attacker, nil); w.Code != 200 {
		t.Errorf("public module from the blocked address: status %d, want 200", w.Code)
	}
	// Another address is not affected.
	if w := e.do(privateMod, other, basic("ci", "ci")); w.Code != 200 {
		t.Errorf("other address: status %d, want 200", w.Code)
	}

	// One refill period forgives one failure.
	e.clock.Advance(auth.DefaultFailureRefill - time.Second)
	if w := e.do(privateMod, attacker, basic("ci", "ci")); w.Code != 429 || w.Header().Get("Retry-After") != "1" {
		t.Errorf("before the refill: status %d Retry-After %q, want 429 and 1", w.Code, w.Header().Get("Retry-After"))
	}
	e.clock.Advance(time.Second)
	if w := e.do(privateMod, attacker, basic("ci", "ci")); w.Code != 200 {
		t.Errorf("after the refill: status %d, want 200", w.Code)
	}
	if !strings.Contains(e.log.String(), "wrong credentials") {
		t.Error("failed attempts were not logged")
	}
}

func TestRateLimitIgnoresMissingCredentials(t *testing.T) {
	e := newEnv(t, auth.Options{Mode: auth.ModeAll, FailureBurst: 2}, "ci")
	for range 20 {
		if w := e.do(privateMod, "192.0.2.3:1", nil); w.Code != 401 {
			t.Fatalf("status %d, want 401", w.Code)
		}
	}
	if w := e.do(privateMod, "192.0.2.3:1", bearer("ci")); w.Code != 200 {
		t.Errorf("after requests without credentials: status %d, want 200", w.Code)
	}
	if n := auth.TrackedAddresses(e.auth); n != 0 {
		t.Errorf("%d addresses tracked, want 0", n)
	}
}

func TestRateLimitIPv6Network(t *testing.T) {
	e := newEnv(t, auth.Options{Mode: auth.ModeAll, FailureBurst: 1}, "ci")
	if w := e.do(privateMod, "[2001:db8:1:2::1]:1", header("Bearer gm_wrong")); w.Code != 401 {
		t.Fatalf("status %d, want 401", w.Code)
	}
	if w := e.do(privateMod, "[2001:db8:1:2::ffff]:1", bearer("ci")); w.Code != 429 {
		t.Errorf("same /64: status %d, want 429", w.Code)
	}
	if w := e.do(privateMod, "[2001:db8:1:3::1]:1", bearer("ci")); w.Code != 200 {
		t.Errorf("other /64: status %d, want 200", w.Code)
	}
}

func TestRateLimitPrunesRecoveredAddresses(t *testing.T) {
	e := newEnv(t, auth.Options{Mode: auth.ModeAll, FailureBurst: 1, FailureRefill: time.Second}, "ci")
	const n = 1024 // the limiter prunes once it tracks this many
	for i := range n {
		remote := "10.0." + strconv.Itoa(i/256) + "." + strconv.Itoa(i%256) + ":1"
		e.do(privateMod, remote, header("Bearer gm_wrong"))
	}
	if got := auth.TrackedAddresses(e.auth); got != n {
		t.Fatalf("%d addresses tracked before recovery, want %d", got, n)
	}
	e.clock.Advance(2 * time.Second) // every bucket is full again
	for i := range 2 {
		e.do(privateMod, "192.0.2."+strconv.Itoa(i)+":1", header("Bearer gm_wrong"))
	}
	if got := auth.TrackedAddresses(e.auth); got > 2 {
		t.Errorf("%d addresses tracked after recovery, want at most 2", got)
	}
	// Pruning keeps the addresses that have not recovered.
	if w := e.do(privateMod, "192.0.2.0:1", bearer("ci")); w.Code != 429 {
		t.Errorf("recent failure after pruning: status %d, want 429", w.Code)
	}
}

func TestTokensFileReload(t *testing.T) {
	e := newEnv(t, auth.Options{Mode: auth.ModeAll}, "ci", "dev")
	other := auth.NewTokens(e.path) // as `gomirror token` would
	ok := func(c cred, want int, what string) {
		t.Helper()
		if w := e.do(privateMod, "192.0.2.1:1", c); w.Code != want {
			t.Fatalf("%s: status %d, want %d", what, w.Code, want)
		}
	}
	ok(bearer("ci"), 200, "before revoking")

	if err := other.Revoke("ci"); err != nil {
		t.Fatal(err)
	}
	ok(bearer("ci"), 200, "revoked, within the reload interval")
	e.clock.Advance(time.Second)
	ok(bearer("ci"), 401, "revoked, after the reload interval")
	ok(basic("ci", "ci"), 401, "revoked, basic")
	ok(bearer("dev"), 200, "other token after reload")

	secret, err := other.Add("new")
	if err != nil {
		t.Fatal(err)
	}
	e.secrets["new"] = secret
	e.clock.Advance(time.Second)
	ok(bearer("new"), 200, "added token after reload")

	// A broken file keeps the previous tokens and is logged.
	writeAtomic(t, e.path, "{not json")
	e.clock.Advance(time.Second)
	ok(bearer("new"), 200, "after a broken rewrite")
	if !strings.Contains(e.log.String(), "cannot reload tokens file") || !strings.Contains(e.log.String(), "level=ERROR") {
		t.Errorf("broken file not logged as an error:\n%s", e.log.String())
	}
	before := strings.Count(e.log.String(), "cannot reload")
	e.clock.Advance(time.Second)
	ok(bearer("new"), 200, "still broken")
	if after := strings.Count(e.log.String(), "cannot reload"); after != before {
		t.Errorf("an unchanged broken file was reported again (%d times, was %d)", after, before)
	}

	// Fixed again.
	writeAtomic(t, e.path, `{"tokens":[]}`)
	e.clock.Advance(time.Second)
	ok(bearer("new"), 401, "after emptying the file")

	// A removed file is an empty store.
	if _, err := other.Add("again"); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Second)
	os.Remove(e.path)
	e.clock.Advance(time.Second)
	ok(bearer("dev"), 401, "after removing the file")
}

func writeAtomic(t *testing.T, path, content string) {
	t.Helper()
	tmp := path + ".new"
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func TestSecretsNeverLogged(t *testing.T) {
	e := newEnv(t, auth.Options{
		Mode:    auth.ModePrivate,
		Private: "corp.example",
		Rules:   []auth.Rule{{Modules: "corp.example/secret", Tokens: []string{"ci"}}},
	}, "ci", "dev")
	attempts := []cred{
		basic("ci", "ci"),
		bearer("ci"),
		basic("ci", "dev"),  // dev's secret as a wrong password
		basic("dev", "dev"), // 403 on the rule
		bearer("dev"),
		func(e *env, r *http.Request) { r.SetBasicAuth(e.secrets["ci"], e.secrets["ci"]) }, // secret as login
		func(e *env, r *http.Request) { r.SetBasicAuth(e.secrets["dev"], "x") },
		func(e *env, r *http.Request) { r.Header.Set("Authorization", "Bearer "+e.secrets["ci"]+"x") },
	}
	var bodies strings.Builder
	for _, path := range []string{privateMod, secretMod, publicMod} {
		for i, c := range attempts {
			w := e.do(path, "192.0.2."+strconv.Itoa(i)+":1", c)
			bodies.WriteString(w.Body.String())
		}
	}
	logs := e.log.String()
	if !strings.Contains(logs, "wrong credentials") || !strings.Contains(logs, "not allowed") {
		t.Fatalf("expected failures in the log:\n%s", logs)
	}
	if !strings.Contains(logs, "module=corp.example/secret/x") || !strings.Contains(logs, "remote=192.0.2.") || !strings.Contains(logs, "token=ci") {
		t.Errorf("failure log lacks module, remote or token name:\n%s", logs)
	}
	for name, secret := range e.secrets {
		raw := strings.TrimPrefix(secret, auth.SecretPrefix)
		b64 := base64.StdEncoding.EncodeToString([]byte(name + ":" + secret))
		for _, s := range []string{raw, b64} {
			if strings.Contains(logs, s) {
				t.Errorf("log contains the secret of %s:\n%s", name, logs)
			}
			if strings.Contains(bodies.String(), s) {
				t.Errorf("a response body contains the secret of %s", name)
			}
		}
	}
}

func TestIdentity(t *testing.T) {
	if got := auth.Identity(t.Context()); got != "" {
		t.Errorf("Identity of a bare context = %q", got)
	}
}

func TestNewOptionErrors(t *testing.T) {
	dir := t.TempDir()
	tokens := filepath.Join(dir, "tokens.json")
	broken := filepath.Join(dir, "broken.json")
	os.WriteFile(broken, []byte("{"), 0o600)
	tests := []struct {
		name       string
		opts       auth.Options
		wantOption string
	}{
		{"unknown mode", auth.Options{Mode: "some", TokensFile: tokens}, "Mode"},
		{"rules in mode off", auth.Options{Rules: []auth.Rule{{Modules: "x", Tokens: []string{"ci"}}}}, "Mode"},
		{"mode private without tokens file", auth.Options{Mode: auth.ModePrivate, Private: "corp.example"}, "TokensFile"},
		{"mode all without tokens file", auth.Options{Mode: auth.ModeAll}, "TokensFile"},
		{"unreadable tokens file", auth.Options{Mode: auth.ModeAll, TokensFile: broken}, "TokensFile"},
		{"tokens file is a directory", auth.Options{Mode: auth.ModeAll, TokensFile: dir}, "TokensFile"},
		{"bad private pattern", auth.Options{Mode: auth.ModePrivate, Private: "corp.example/[", TokensFile: tokens}, "Private"},
		{"rule without modules", auth.Options{Mode: auth.ModeAll, TokensFile: tokens, Rules: []auth.Rule{{Modules: " , ", Tokens: []string{"ci"}}}}, "Rules[0].Modules"},
		{"rule with a bad pattern", auth.Options{Mode: auth.ModeAll, TokensFile: tokens, Rules: []auth.Rule{{Modules: "a", Tokens: []string{"ci"}}, {Modules: "b/[", Tokens: []string{"ci"}}}}, "Rules[1].Modules"},
		{"rule without tokens", auth.Options{Mode: auth.ModeAll, TokensFile: tokens, Rules: []auth.Rule{{Modules: "corp.example"}}}, "Rules[0].Tokens"},
		{"rule with an invalid token name", auth.Options{Mode: auth.ModeAll, TokensFile: tokens, Rules: []auth.Rule{{Modules: "corp.example", Tokens: []string{"a b"}}}}, "Rules[0].Tokens"},
		{"negative burst", auth.Options{Mode: auth.ModeAll, TokensFile: tokens, FailureBurst: -1}, "FailureBurst"},
		{"negative refill", auth.Options{Mode: auth.ModeAll, TokensFile: tokens, FailureRefill: -time.Second}, "FailureRefill"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := auth.New(tt.opts)
			var oe *auth.OptionError
			if !errors.As(err, &oe) {
				t.Fatalf("New error = %v, want an *OptionError", err)
			}
			if oe.Option != tt.wantOption {
				t.Errorf("Option = %q, want %q (error %v)", oe.Option, tt.wantOption, err)
			}
			if !strings.Contains(err.Error(), tt.wantOption) {
				t.Errorf("error %q does not name %s", err, tt.wantOption)
			}
		})
	}
}

func TestNewWarnsAboutUnknownRuleTokens(t *testing.T) {
	var buf testutil.Buffer
	a, err := auth.New(auth.Options{
		Mode:       auth.ModePrivate,
		TokensFile: filepath.Join(t.TempDir(), "missing.json"),
		Rules:      []auth.Rule{{Modules: "corp.example", Tokens: []string{"later"}}},
		Logger:     slog.New(slog.NewTextHandler(&buf, nil)),
	})
	if err != nil || a == nil {
		t.Fatalf("New: %v", err)
	}
	if !strings.Contains(buf.String(), "token=later") || !strings.Contains(buf.String(), "level=WARN") {
		t.Errorf("no warning about the unknown token:\n%s", buf.String())
	}
}

func TestParseMode(t *testing.T) {
	tests := []struct {
		in   string
		want auth.Mode
		ok   bool
	}{
		{"", auth.ModeOff, true},
		{"off", auth.ModeOff, true},
		{"Private", auth.ModePrivate, true},
		{" all ", auth.ModeAll, true},
		{"none", "", false},
	}
	for _, tt := range tests {
		got, err := auth.ParseMode(tt.in)
		if got != tt.want || (err == nil) != tt.ok {
			t.Errorf("ParseMode(%q) = %q, %v; want %q, ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
	if _, err := auth.ParseMode("none"); err == nil || err.Error() != `unknown auth mode "none" (want off, private or all)` {
		t.Errorf("ParseMode(none): %v", err)
	}
	if _, err := auth.ParseRole("root"); err == nil || err.Error() != `unknown token role "root" (want client or admin)` {
		t.Errorf("ParseRole(root): %v", err)
	}
	for in, want := range map[string]auth.Role{"": auth.RoleClient, " Admin": auth.RoleAdmin, "client": auth.RoleClient} {
		if got, err := auth.ParseRole(in); got != want || err != nil {
			t.Errorf("ParseRole(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

// TestCaseVariantsOfPrivatePaths asks, through the proxy's own reading of
// request paths, for case variants of private paths (issue 11): each needs a
// token like the private path itself, in mode private and under a rule.
func TestCaseVariantsOfPrivatePaths(t *testing.T) {
	opts := auth.Options{
		Mode:    auth.ModePrivate,
		Private: "github.com/mycorp",
		Rules:   []auth.Rule{{Modules: "corp.example/secret", Tokens: []string{"ci"}}},
	}
	for _, tt := range []struct {
		path       string
		cred       cred
		wantStatus int
		wantBody   string
	}{
		{"/github.com/!my!corp/x/@v/v1.0.0.info", nil, 401, `module "github.com/MyCorp/x"`},
		{"/github.com/!m!y!c!o!r!p/x/@latest", nil, 401, `module "github.com/MYCORP/x"`},
		{"/sumdb/sum.example/lookup/github.com/!my!corp/x@v1.0.0", nil, 401, `module "github.com/MyCorp/x"`},
		{"/corp.example/!secret/x/@v/v1.0.0.zip", basic("dev", "dev"), 403, `token "dev" may not read module "corp.example/Secret/x"`},
		{"/corp.example/!secret/x/@v/v1.0.0.zip", basic("ci", "ci"), 200, moduleData},
		{"/github.com/!my!corp/x/@v/v1.0.0.info", bearer("dev"), 200, moduleData},
		{"/github.com/!other/x/@v/v1.0.0.info", nil, 200, moduleData},
	} {
		t.Run(tt.path, func(t *testing.T) {
			e := newEnv(t, opts, "ci", "dev")
			served := 0
			h := e.auth.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				served++
				io.WriteString(w, moduleData)
			}), proxy.ModuleOf)
			r := httptest.NewRequest("GET", tt.path, nil)
			r.RemoteAddr = "192.0.2.1:1234"
			if tt.cred != nil {
				tt.cred(e, r)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tt.wantStatus || !strings.Contains(w.Body.String(), tt.wantBody) {
				t.Errorf("%s: %d %q, want %d and %q", tt.path, w.Code, w.Body, tt.wantStatus, tt.wantBody)
			}
			if want := map[bool]int{true: 1, false: 0}[tt.wantStatus == 200]; served != want {
				t.Errorf("the guarded handler served %d requests, want %d", served, want)
			}
		})
	}
}
