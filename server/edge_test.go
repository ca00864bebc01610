package server

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gomirror/gomirror/auth"
	"github.com/gomirror/gomirror/config"
	"github.com/gomirror/gomirror/internal/fakeproxy"
	"github.com/gomirror/gomirror/internal/testcert"
)

// edgeServer is a server whose main listener is on 127.0.0.1 whatever
// cfg.Listen says (the access rules look at the setting, and tests send
// traffic to loopback only), with its admin listener bound if configured.
type edgeServer struct {
	*testServer
	AdminURL string // "" without admin-listen
}

func startEdge(t *testing.T, up *fakeproxy.Server, edit func(*config.Serve)) *edgeServer {
	t.Helper()
	e := &edgeServer{testServer: start(t, up, edit)}
	if a := e.AdminAddr(); a != nil {
		e.AdminURL = "http://" + a.String()
	}
	return e
}

// requireBasicAuth makes up answer 401 to any request without the Basic
// credentials user:password, and returns the count of requests that had
// them.
func requireBasicAuth(up *fakeproxy.Server, user, password string) *atomic.Int64 {
	var ok atomic.Int64
	up.SetHook(func(w http.ResponseWriter, r *http.Request) bool {
		if u, p, has := r.BasicAuth(); has && u == user && p == password {
			ok.Add(1)
			return false
		}
		w.Header().Set("WWW-Authenticate", `Basic realm="upstream"`)
		http.Error(w, "upstream needs credentials", http.StatusUnauthorized)
		return true
	})
	return &ok
}

// closedURL returns the URL of a loopback port that refuses connections.
func closedURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr
}

func withUser(rawURL, userinfo string) string {
	return strings.Replace(rawURL, "http://", "http://"+userinfo+"@", 1)
}

// TestUpstreamCredentialsAreNeverShown configures upstreams with
// credentials in their URLs (a password, and a token as user name), then
// looks for the secret everywhere an operator or a client can see
// something: /upstreams, /metrics, the log, the error body of a failing
// fetch. The upstreams must still receive the credentials.
func TestUpstreamCredentialsAreNeverShown(t *testing.T) {
	const secret = "Pa55-s3cret-xyzzy"
	up := fakeproxy.New(t)
	authed := requireBasicAuth(up, "alice", secret)
	mirror := fakeproxy.NewMirror(t, up)
	requireBasicAuth(mirror, "bob", secret)
	closed := closedURL(t)
	s := startEdge(t, up, func(c *config.Serve) {
		c.Upstream = withUser(up.URL, "alice:"+secret) + "|grp"
		c.UpstreamGroups = []config.UpstreamGroup{{Name: "grp", Mirrors: []string{
			withUser(closed, secret), // a token as the user name
			withUser(mirror.URL, "bob:"+secret),
		}}}
	})
	if r := get(t, s.URL+"/example.com/hello/@v/v1.0.0.info"); r.code != 200 {
		t.Fatalf("info through an upstream with credentials: %d %s", r.code, r.body)
	}
	if authed.Load() == 0 {
		t.Fatal("the upstream never received its credentials")
	}
	// A module that no upstream has: the error travels through the group,
	// whose first mirror refuses connections.
	failing := get(t, s.URL+"/example.com/nope/@v/v1.0.0.info")
	if failing.code < 400 {
		t.Fatalf("unknown module: %d %s", failing.code, failing.body)
	}

	// A second server whose only upstream refuses connections: its error
	// body has the transport's error, URL included.
	s2 := startEdge(t, up, func(c *config.Serve) {
		c.Upstream = withUser(closed, "alice:"+secret)
		c.SumDB = "off"
	})
	refused := get(t, s2.URL+"/example.com/hello/@v/v1.0.0.info")
	if refused.code != http.StatusBadGateway || !strings.Contains(refused.body, strings.TrimPrefix(closed, "http://")) {
		t.Errorf("fetch from a closed upstream: %d %q; want 502 naming the upstream", refused.code, refused.body)
	}

	upstreams := get(t, s.URL+"/upstreams")
	metrics := get(t, s.URL+"/metrics")
	if upstreams.code != 200 || metrics.code != 200 {
		t.Fatalf("/upstreams %d, /metrics %d", upstreams.code, metrics.code)
	}
	// The URLs are still shown, without their userinfo.
	for _, want := range []string{up.URL + "|grp", `"url": "` + closed + `"`, `"url": "` + mirror.URL + `"`} {
		if !strings.Contains(upstreams.body, want) {
			t.Errorf("/upstreams lacks %s:\n%s", want, upstreams.body)
		}
	}
	if want := `mirror="` + closed + `"`; !strings.Contains(metrics.body, want) {
		t.Errorf("/metrics lacks %s", want)
	}
	for what, text := range map[string]string{
		"/upstreams":                   upstreams.body,
		"/metrics":                     metrics.body,
		"the log":                      s.Logs.String() + s2.Logs.String(),
		"the error body (group)":       failing.body,
		"the error body (closed port)": refused.body,
	} {
		for _, leak := range []string{secret, "alice", "bob:"} {
			if strings.Contains(text, leak) {
				t.Errorf("%s shows %q:\n%s", what, leak, text)
			}
		}
	}
}

// TestOperatorEndpointsNotAnonymousOnAnOpenListener is the attack on a
// default config listening on all interfaces: an anonymous client must get
// neither /upstreams nor /metrics.
func TestOperatorEndpointsNotAnonymousOnAnOpenListener(t *testing.T) {
	up := fakeproxy.New(t)
	s := startEdge(t, up, func(c *config.Serve) {
		c.Listen = "0.0.0.0:0"
		c.Upstream = withUser(up.URL, "alice:hunter2")
	})
	for _, p := range []string{"/upstreams", "/metrics", "//upstreams", "/./metrics", "/x/../upstreams", "/metrics?format=text",
		"/debug/pprof/", "/debug/pprof/heap?debug=1", "/debug/pprof/cmdline", "/debug/pprof/goroutine"} {
		r := get(t, s.URL+p)
		if r.code != http.StatusUnauthorized {
			t.Errorf("anonymous GET %s on 0.0.0.0: %d, want 401", p, r.code)
		}
		if strings.Contains(r.body, "hunter2") || strings.Contains(r.body, "gomirror_") || strings.Contains(r.body, up.URL) || strings.Contains(r.body, "profile") {
			t.Errorf("anonymous GET %s answered operator data: %q", p, truncate(r.body))
		}
	}
	if r := get(t, s.URL+"/healthz"); r.code != 200 {
		t.Errorf("/healthz: %d, want 200 anonymous", r.code)
	}
	if r := get(t, s.URL+"/readyz"); r.code != 200 {
		t.Errorf("/readyz: %d, want 200 anonymous", r.code)
	}
	if !strings.Contains(s.Logs.String(), "no tokens file") {
		t.Errorf("no warning that no admin token can pass:\n%s", s.Logs)
	}
}

// tokensFile writes a tokens file with a client token "ci" and an admin
// token "prom" and returns its path and their secrets.
func tokensFile(t *testing.T) (path, client, admin string) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "tokens.json")
	store := auth.NewTokens(path)
	var err error
	if client, err = store.AddRole("ci", auth.RoleClient); err != nil {
		t.Fatal(err)
	}
	if admin, err = store.AddRole("prom", auth.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	return path, client, admin
}

func bearer(token string) http.Header {
	if token == "" {
		return nil
	}
	return http.Header{"Authorization": {"Bearer " + token}}
}

func TestOperatorEndpointAccess(t *testing.T) {
	up := fakeproxy.New(t)
	path, client, admin := tokensFile(t)
	const (
		open    = iota // anonymous 200
		guarded        // anonymous 401, client 403, admin 200
		hidden         // 404 to everyone
	)
	for _, tt := range []struct {
		name       string
		edit       func(*config.Serve)
		main       int    // what the main listener does with operator endpoints
		admin      int    // what the admin listener does (with admin-listen)
		warn       string // in the log at start
		noWarnings bool
	}{
		{name: "loopback, auth off, auto: open", edit: func(c *config.Serve) {}, main: open, noWarnings: true},
		{name: "all interfaces, auth off, auto: admin token", edit: func(c *config.Serve) { c.Listen = "0.0.0.0:3000" }, main: guarded,
			warn: "travels in clear"},
		{name: "loopback, auth private, auto: admin token", edit: func(c *config.Serve) { c.Auth, c.Private = "private", "corp.example" }, main: guarded},
		{name: "loopback, admin-auth token", edit: func(c *config.Serve) { c.AdminAuth = "token" }, main: guarded},
		{name: "all interfaces, admin-auth off: open, with a warning", edit: func(c *config.Serve) { c.Listen, c.AdminAuth = "[::]:3000", "off" }, main: open,
			warn: "open to anyone"},
		{name: "admin-listen on loopback: open there, 404 on listen", edit: func(c *config.Serve) {
			c.Listen, c.Auth, c.Private, c.AdminListen = "0.0.0.0:3000", "private", "corp.example", "127.0.0.1:0"
		}, main: hidden, admin: open},
		{name: "admin-listen with admin-auth token", edit: func(c *config.Serve) { c.AdminListen, c.AdminAuth = "127.0.0.1:0", "token" }, main: hidden, admin: guarded},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := startEdge(t, up, func(c *config.Serve) {
				c.TokensFile = path
				tt.edit(c)
			})
			check := func(base string, want int) {
				t.Helper()
				// The pprof handlers are operator endpoints like /metrics.
				for _, p := range []string{"/metrics", "/upstreams", "/debug/pprof/", "/debug/pprof/heap?debug=1"} {
					anon, cl, ad := do(t, "GET", base+p, nil), do(t, "GET", base+p, bearer(client)), do(t, "GET", base+p, bearer(admin))
					got := [3]int{anon.code, cl.code, ad.code}
					wantCodes := map[int][3]int{open: {200, 200, 200}, guarded: {401, 403, 200}, hidden: {404, 404, 404}}[want]
					if got != wantCodes {
						t.Errorf("GET %s%s anonymous, client token, admin token: %v; want %v", base, p, got, wantCodes)
					}
					if want == guarded && (strings.Contains(anon.body, "gomirror_") || strings.Contains(cl.body, "gomirror_") || strings.Contains(cl.body, `"mirrors"`) ||
						strings.Contains(anon.body, "profile") || strings.Contains(cl.body, "profile") || strings.Contains(cl.body, "serve")) {
						t.Errorf("refused request got operator data")
					}
				}
				// Not even an admin gets the command line, which can hold a
				// secret given as a flag.
				if r := do(t, "GET", base+"/debug/pprof/cmdline", bearer(admin)); r.code == http.StatusOK || strings.Contains(r.body, os.Args[0]) {
					t.Errorf("GET %s/debug/pprof/cmdline as admin: %d %q, want no command line", base, r.code, truncate(r.body))
				}
				if r := get(t, base+"/healthz"); r.code != 200 {
					t.Errorf("%s/healthz: %d, want 200", base, r.code)
				}
				// The console, by the same rule: open, or the sign-in
				// page whatever Authorization header comes (it takes
				// sessions only), or 404.
				for _, hdr := range []http.Header{nil, bearer(client), bearer(admin)} {
					r := do(t, "GET", base+"/ui/", hdr) // the overview answers without a database
					switch {
					case want == open && (r.code != 200 || !strings.Contains(r.body, "<h1>Overview</h1>")),
						want == guarded && (r.code != 200 || !strings.Contains(r.body, `name="token"`) || strings.Contains(r.body, "<h1>Overview</h1>")),
						want == hidden && r.code != 404:
						t.Errorf("GET %s/ui/ (%v): %d %s", base, hdr, r.code, truncate(r.body))
					}
				}
			}
			check(s.URL, tt.main)
			// A browser's GET / goes to the console where the console is
			// served; the go command's GET / is still not a module
			// request.
			html := http.Header{"Accept": {"text/html,application/xhtml+xml"}}
			if r := do(t, "GET", s.URL+"/", html); tt.main == hidden && r.code != 400 || tt.main != hidden && (r.code != 200 || !strings.Contains(r.body, "<title>")) {
				t.Errorf("a browser's GET / on listen: %d %s", r.code, truncate(r.body))
			}
			if r := get(t, s.URL+"/"); r.code != 400 {
				t.Errorf("GET / without Accept: text/html: %d, want 400", r.code)
			}
			if s.AdminURL != "" {
				if r := do(t, "GET", s.AdminURL+"/", html); r.code != 200 || !strings.Contains(r.body, "<title>") {
					t.Errorf("a browser's GET / on admin-listen: %d %s", r.code, truncate(r.body))
				}
			}
			if tt.admin != 0 || tt.main == hidden {
				if s.AdminURL == "" {
					t.Fatal("no admin listener")
				}
				check(s.AdminURL, tt.admin)
				// Only operator endpoints are served there (behind the
				// guard, which comes first).
				if r := do(t, "GET", s.AdminURL+"/example.com/hello/@v/list", bearer(admin)); r.code != 404 {
					t.Errorf("module request on the admin listener: %d, want 404", r.code)
				}
				if r := get(t, s.URL+"/example.com/hello/@v/list"); r.code != 200 {
					t.Errorf("module request on the main listener: %d, want 200", r.code)
				}
			}
			logs := s.Logs.String()
			if tt.warn != "" && !strings.Contains(logs, tt.warn) {
				t.Errorf("no warning %q at start:\n%s", tt.warn, logs)
			}
			if tt.noWarnings && strings.Contains(logs, "level=WARN") {
				t.Errorf("unexpected warning:\n%s", logs)
			}
			for _, secret := range []string{client, admin} {
				if strings.Contains(logs, secret) {
					t.Error("a token secret is in the log")
				}
			}
		})
	}
}

// TestAdminTokenCannotReadPrivateModules: the roles are disjoint, so a
// scraper's token is no key to private source.
func TestAdminTokenCannotReadPrivateModules(t *testing.T) {
	up := fakeproxy.New(t)
	path, client, admin := tokensFile(t)
	s := startEdge(t, up, func(c *config.Serve) {
		c.TokensFile, c.Auth, c.Private = path, "all", "corp.example"
	})
	if r := do(t, "GET", s.URL+"/example.com/hello/@v/list", bearer(admin)); r.code != http.StatusForbidden {
		t.Errorf("module list with an admin token: %d, want 403", r.code)
	}
	if r := do(t, "GET", s.URL+"/example.com/hello/@v/list", bearer(client)); r.code != 200 {
		t.Errorf("module list with a client token: %d %s, want 200", r.code, r.body)
	}
}

// TestXForwardedFor is the attack on the failure limit: a client sending
// wrong tokens with a new X-Forwarded-For on every request. Unless its
// socket peer is a trusted proxy, the header changes nothing.
func TestXForwardedFor(t *testing.T) {
	up := fakeproxy.New(t)
	path, _, _ := tokensFile(t)
	const priv = "/corp.example/x/@v/list"
	wrong := bearer("gm_wrong")
	attack := func(t *testing.T, base string, xff func(i int) string, n int) (codes []int) {
		for i := range n {
			h := wrong.Clone()
			h.Set("X-Forwarded-For", xff(i))
			codes = append(codes, do(t, "GET", base+priv, h).code)
		}
		return codes
	}
	rotating := func(i int) string { return fmt.Sprintf("203.0.113.%d", i+1) }
	for _, trusted := range []string{"", "10.0.0.0/8"} {
		t.Run("untrusted peer, trusted-proxies="+trusted, func(t *testing.T) {
			s := startEdge(t, up, func(c *config.Serve) {
				c.TokensFile, c.Auth, c.Private, c.TrustedProxies = path, "private", "corp.example", trusted
			})
			codes := attack(t, s.URL, rotating, 12)
			if codes[9] != http.StatusUnauthorized || codes[10] != http.StatusTooManyRequests || codes[11] != http.StatusTooManyRequests {
				t.Errorf("codes with rotating X-Forwarded-For: %v; want ten 401 then 429", codes)
			}
			logs := s.Logs.String()
			if strings.Contains(logs, "203.0.113.") || !strings.Contains(logs, "remote=127.0.0.1 ") {
				t.Errorf("the log believed X-Forwarded-For from an untrusted peer:\n%s", logs)
			}
		})
	}
	t.Run("trusted proxy", func(t *testing.T) {
		s := startEdge(t, up, func(c *config.Serve) {
			c.TokensFile, c.Auth, c.Private, c.TrustedProxies = path, "private", "corp.example", "127.0.0.1/32, 10.0.0.0/8"
		})
		// Behind the proxy, every request is another client: none is
		// limited by the others' failures.
		for i, code := range attack(t, s.URL, rotating, 15) {
			if code != http.StatusUnauthorized {
				t.Errorf("request %d from its own client address: %d, want 401", i, code)
			}
		}
		// One client behind it is limited, on its own address: what it
		// wrote itself on the left is not believed, and the proxy's own
		// hop (10.x, trusted) is skipped.
		one := func(int) string { return "198.51.100.1, 192.0.2.55, 10.1.1.1" }
		if codes := attack(t, s.URL, one, 11); codes[9] != http.StatusUnauthorized || codes[10] != http.StatusTooManyRequests {
			t.Errorf("codes of one client behind the proxy: %v; want ten 401 then 429", codes)
		}
		if codes := attack(t, s.URL, func(int) string { return "192.0.2.56" }, 1); codes[0] != http.StatusUnauthorized {
			t.Errorf("another client behind the proxy: %d, want 401", codes[0])
		}
		logs := s.Logs.String()
		if !strings.Contains(logs, "remote=192.0.2.55 ") || !strings.Contains(logs, "via=127.0.0.1") || strings.Contains(logs, "remote=198.51.100.1") {
			t.Errorf("the access log does not name the client behind the proxy:\n%s", logs)
		}
	})
}

// TestUpstreamNetrc: credentials for upstream proxies come from a .netrc
// file instead of the URL (and so stay off the command line), reach the
// upstream and its group's mirrors as Basic auth, and are shown nowhere.
func TestUpstreamNetrc(t *testing.T) {
	const secret = "netrc-s3cret-plugh"
	up := fakeproxy.New(t)
	authed := requireBasicAuth(up, "alice", secret)
	mirror := fakeproxy.NewMirror(t, up)
	mirrorAuthed := requireBasicAuth(mirror, "bob", secret)
	netrc := filepath.Join(t.TempDir(), "netrc")
	host, mirrorHost := strings.TrimPrefix(up.URL, "http://"), strings.TrimPrefix(mirror.URL, "http://")
	if err := os.WriteFile(netrc, []byte(fmt.Sprintf("machine %s login alice password %s\nmachine %s\n  login bob\n  password %s\n", host, secret, mirrorHost, secret)), 0o600); err != nil {
		t.Fatal(err)
	}
	edit := func(c *config.Serve) {
		c.Upstream = up.URL + ",grp"
		c.UpstreamGroups = []config.UpstreamGroup{{Name: "grp", Mirrors: []string{mirror.URL}, Hedge: new(bool)}}
	}
	// Without the file, the upstream refuses.
	without := startEdge(t, up, edit)
	if r := get(t, without.URL+"/example.com/hello/@v/v1.0.0.info"); r.code == 200 {
		t.Fatalf("without upstream-netrc the fetch succeeded: the upstream does not check credentials")
	}

	s := startEdge(t, up, func(c *config.Serve) { edit(c); c.UpstreamNetrc = netrc })
	if r := get(t, s.URL+"/example.com/hello/@v/v1.0.0.info"); r.code != 200 {
		t.Fatalf("info with upstream-netrc: %d %s", r.code, r.body)
	}
	if authed.Load() == 0 {
		t.Error("the upstream never received the netrc credentials")
	}
	// The group's mirror is asked for what the first upstream does not have.
	up.SetHook(func(w http.ResponseWriter, r *http.Request) bool {
		http.NotFound(w, r)
		return true
	})
	if r := get(t, s.URL+"/example.com/hello/@v/v1.1.0.info"); r.code != 200 {
		t.Fatalf("info from the group's mirror with upstream-netrc: %d %s", r.code, r.body)
	}
	if mirrorAuthed.Load() == 0 {
		t.Error("the group's mirror never received the netrc credentials")
	}
	all := s.Logs.String() + get(t, s.URL+"/upstreams").body + get(t, s.URL+"/metrics").body
	if strings.Contains(all, secret) {
		t.Error("the netrc password is shown in the log, /upstreams or /metrics")
	}
	if !strings.Contains(s.Logs.String(), "hosts="+host+","+mirrorHost) && !strings.Contains(s.Logs.String(), "hosts="+mirrorHost+","+host) {
		t.Errorf("the log does not say which hosts got netrc credentials:\n%s", s.Logs)
	}
}

// TestAdminListenServesHTTPSWithTLS: with tls-cert, the admin listener
// speaks HTTPS like the main one, so admin tokens are not sent in clear.
func TestAdminListenServesHTTPSWithTLS(t *testing.T) {
	up := fakeproxy.New(t)
	cert := testcert.New(t)
	path, _, admin := tokensFile(t)
	s := startEdge(t, up, func(c *config.Serve) {
		c.TLSCert, c.TLSKey, c.TokensFile = cert.CertFile, cert.KeyFile, path
		c.AdminListen, c.AdminAuth = "127.0.0.1:0", "token"
	})
	if s.AdminURL == "" {
		t.Fatal("no admin listener")
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: cert.ClientConfig()}}
	adminHTTPS := strings.Replace(s.AdminURL, "http://", "https://", 1)
	req, _ := http.NewRequest("GET", adminHTTPS+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+admin)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("HTTPS to the admin listener: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("GET /metrics over HTTPS with an admin token: %d", resp.StatusCode)
	}
	if resp, err := http.Get(s.AdminURL + "/metrics"); err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest { // Go's answer to plain HTTP on a TLS port
			t.Errorf("plain HTTP to the admin listener: %d, want it refused", resp.StatusCode)
		}
	}
}

// TestNoProxyModulesNeedATokenLikePrivateOnes is the confused deputy
// through noproxy: noproxy modules are fetched in the private sandbox, with
// the VCS credentials, so with auth private an anonymous client must not get
// them, whatever the private setting says. Nothing here reaches a VCS: the
// refusal comes first.
func TestNoProxyModulesNeedATokenLikePrivateOnes(t *testing.T) {
	up := fakeproxy.New(t)
	path, client, _ := tokensFile(t)
	s := startEdge(t, up, func(c *config.Serve) {
		c.TokensFile, c.Auth, c.Private, c.NoProxy = path, "private", "secret.example", "corp.example"
	})
	for _, p := range []string{"/corp.example/x/@v/list", "/corp.example/x/@v/v1.0.0.info", "/corp.example/x/@latest", "/corp.example/!x/@v/list"} {
		if r := do(t, "GET", s.URL+p, nil); r.code != http.StatusUnauthorized {
			t.Errorf("anonymous GET %s: %d %s, want 401", p, r.code, r.body)
		}
	}
	if r := do(t, "GET", s.URL+"/example.com/hello/@v/list", bearer(client)); r.code != 200 {
		t.Errorf("a public module with a client token: %d %s, want 200", r.code, r.body)
	}
	if r := do(t, "GET", s.URL+"/example.com/hello/@v/list", nil); r.code != 200 {
		t.Errorf("a public module anonymously: %d %s, want 200", r.code, r.body)
	}
}

// TestOperatorMuxRoutes: the operator mux's path check before its match
// never hides a route (a request the mux would serve or redirect), and
// keeps module requests away from the match.
func TestOperatorMuxRoutes(t *testing.T) {
	m := newOperatorMux()
	ok := func(http.ResponseWriter, *http.Request) {}
	for _, p := range []string{"GET /metrics", "GET /upstreams", "/console/", "GET /api/{name}/x", "POST\texample.test/hooks/%7Bx%7D"} {
		m.HandleFunc(p, ok)
	}
	for _, tt := range []struct{ method, target string }{
		{"GET", "/metrics"},
		{"HEAD", "/metrics"},
		{"POST", "/metrics"},
		{"GET", "/metrics/"},
		{"GET", "/x/../metrics"},
		{"GET", "//metrics"},
		{"GET", "/upstreams?x=1"},
		{"GET", "/console"},
		{"GET", "/console/a/b"},
		{"GET", "/api/one/x"},
		{"GET", "/api/one/y"},
		{"POST", "http://example.test/hooks/%7Bx%7D"},
		{"GET", "/example.com/hello/@v/v1.0.0.zip"},
		{"GET", "/example.com/metrics/@v/list"},
		{"GET", "/sumdb/sum.example.test/lookup/example.com/hello@v1.0.0"},
		{"GET", "/healthz"},
	} {
		r, err := http.NewRequest(tt.method, tt.target, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(tt.target, "http") {
			r.URL.Path = strings.SplitN(tt.target, "?", 2)[0] // keep it as sent, not cleaned
		}
		_, pattern := m.Handler(r)
		if got := m.routes(r); got != (pattern != "") {
			t.Errorf("%s %s: routes = %v; the mux's pattern is %q", tt.method, tt.target, got, pattern)
		}
		if pattern == "" && strings.HasPrefix(tt.target, "/example.com/") && m.mayRoute(r.URL.Path) {
			t.Errorf("%s %s: a module request goes to the operator mux's match", tt.method, tt.target)
		}
	}
}

// TestWithModulesRoutesAsTheMux: skipping the mux for module requests
// changes no request's handler, redirect or status.
func TestWithModulesRoutesAsTheMux(t *testing.T) {
	named := func(name string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, name) })
	}
	modules := named("modules")
	mux := http.NewServeMux()
	mux.Handle("GET /healthz", named("healthz"))
	mux.Handle("GET /readyz", named("readyz"))
	mux.Handle("/", modules)
	h := withModules(mux, modules, nil, "/healthz", "/readyz")
	for _, method := range []string{"GET", "HEAD", "POST", "CONNECT", "OPTIONS"} {
		for _, target := range []string{"/", "/healthz", "/readyz", "/healthz/", "//healthz", "/./readyz", "/x/../healthz",
			"/example.com/x/@v/list", "/example.com//x/@v/list", "/example.com/x/../y/@v/v1.0.0.info", "/a/./b", "/x/", "*"} {
			req := func() *http.Request {
				r := httptest.NewRequest(method, "http://gomirror.test/", nil)
				r.RequestURI = target
				r.URL = &url.URL{Path: target}
				if target == "*" {
					r.URL = &url.URL{Path: "*"}
				}
				return r
			}
			want, got := httptest.NewRecorder(), httptest.NewRecorder()
			mux.ServeHTTP(want, req())
			h.ServeHTTP(got, req())
			if got.Code != want.Code || got.Body.String() != want.Body.String() || got.Header().Get("Location") != want.Header().Get("Location") {
				t.Errorf("%s %s: %d %q (Location %q); the mux: %d %q (Location %q)", method, target,
					got.Code, got.Body, got.Header().Get("Location"), want.Code, want.Body, want.Header().Get("Location"))
			}
		}
	}
}

// TestIsClean checks isClean against path.Clean on paths with and without
// what cleaning changes.
func TestIsClean(t *testing.T) {
	for _, p := range []string{"", "/", "//", "/a", "/a/", "a", "a/b", "/a/b", "/a//b", "/a/./b", "/a/../b", "/a/.", "/a/..", "/.",
		"/..", "/.a", "/a/.b/c", "/a.b/c.d", "/a/b.", "/example.com/m/@v/v1.0.0.info", "/example.com/m/@v/list/", "/a/...", "/a/b/.../c"} {
		want := p != "" && p[0] == '/' && path.Clean(p) == p
		if got := isClean(p); got != want {
			t.Errorf("isClean(%q) = %v, want %v", p, got, want)
		}
	}
}

// TestAnonymousOperatorEndpointsCheckHost is the DNS rebinding attack: a
// web page whose name now resolves to 127.0.0.1 reads the anonymous
// operator endpoints (the console's CSV export, the API, /metrics) from a
// browser on the operator's machine. Where they are anonymous on a
// loopback listener, they answer only a Host that is an IP address,
// localhost or the listener's host: 421 otherwise. Where they need a
// token, the token is the guard; where they are open on another listener
// (admin-auth off), to anyone who reaches it, by any name (a scraper on a
// container network).
func TestAnonymousOperatorEndpointsCheckHost(t *testing.T) {
	up := fakeproxy.New(t)
	paths := []string{"/ui/activity.csv", "/ui/", "/api/v1/modules", "/metrics", "/upstreams", "/debug/pprof/"}
	for _, tt := range []struct {
		name string
		edit func(*config.Serve)
	}{
		{"loopback, auth off", func(c *config.Serve) {}},
		{"admin-listen on loopback", func(c *config.Serve) { c.AdminListen = "127.0.0.1:0" }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := startEdge(t, up, func(c *config.Serve) {
				c.Database = filepath.Join(t.TempDir(), "gomirror.db")
				tt.edit(c)
			})
			waitDB(t, s.testServer)
			base := s.URL
			if s.AdminURL != "" {
				base = s.AdminURL
			}
			port := base[strings.LastIndexByte(base, ':')+1:]
			for _, p := range paths {
				for _, host := range []string{"rebind.attacker.example:" + port, "rebind.attacker.example", "127.0.0.1.attacker.example:" + port, "localhost.attacker.example"} {
					r := do(t, "GET", base+p, http.Header{"Host": {host}})
					if r.code != http.StatusMisdirectedRequest || strings.Contains(r.body, "example.com/hello") || strings.Contains(r.body, "gomirror_") {
						t.Errorf("GET %s with Host %s: %d %s; want 421", p, host, r.code, truncate(r.body))
					}
				}
				for _, host := range []string{"127.0.0.1:" + port, "localhost:" + port, "LOCALHOST.", "[::1]:" + port, "127.0.0.1"} {
					if r := do(t, "GET", base+p, http.Header{"Host": {host}}); r.code != http.StatusOK {
						t.Errorf("GET %s with Host %s: %d %s; want 200", p, host, r.code, truncate(r.body))
					}
				}
			}
		})
	}
	// With a token needed, the Host is not checked: the token is the guard.
	path, _, admin := tokensFile(t)
	s := startEdge(t, up, func(c *config.Serve) { c.TokensFile, c.AdminAuth = path, "token" })
	if r := do(t, "GET", s.URL+"/metrics", http.Header{"Host": {"mirror.corp.example"}, "Authorization": {"Bearer " + admin}}); r.code != http.StatusOK {
		t.Errorf("/metrics with an admin token and a host name: %d", r.code)
	}
	// Open on all interfaces (admin-auth off): by any name.
	s = startEdge(t, up, func(c *config.Serve) { c.Listen, c.AdminAuth = "0.0.0.0:0", "off" })
	if r := do(t, "GET", s.URL+"/metrics", http.Header{"Host": {"gomirror-1:3001"}}); r.code != http.StatusOK {
		t.Errorf("/metrics on 0.0.0.0 with admin-auth off, by a name: %d", r.code)
	}
}

func TestAnonymousHost(t *testing.T) {
	for _, tt := range []struct {
		host, listen string
		want         bool
	}{
		{"127.0.0.1:3000", "127.0.0.1", true},
		{"[::1]:3000", "::1", true},
		{"[fe80::1%25eth0]:3000", "", true},
		{"10.1.2.3", "", true},
		{"localhost:3000", "127.0.0.1", true},
		{"LocalHost.", "", true},
		{"", "127.0.0.1", true},
		{"mirror.local:3000", "mirror.local", true},
		{"MIRROR.local", "mirror.local.", true},
		{"mirror.local:3000", "127.0.0.1", false},
		{"attacker.example", "", false},
		{"attacker.example:3000", "localhost", false},
		{"localhost.attacker.example", "localhost", false},
		{"127.0.0.1.nip.example", "127.0.0.1", false},
		{"2130706433", "", false},
	} {
		if got := anonymousHost(tt.host, tt.listen); got != tt.want {
			t.Errorf("anonymousHost(%q, %q) = %v, want %v", tt.host, tt.listen, got, tt.want)
		}
	}
}

// TestConsoleAccessLogNamesViewer: the console's page views and CSV exports
// are tied to the session's token in the access log.
func TestConsoleAccessLogNamesViewer(t *testing.T) {
	up := fakeproxy.New(t)
	path, client, _ := tokensFile(t)
	s := startEdge(t, up, func(c *config.Serve) {
		c.TokensFile, c.Auth, c.Private, c.Database = path, "private", "corp.example", filepath.Join(t.TempDir(), "gomirror.db")
	})
	waitDB(t, s.testServer)
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := hc.Get(s.URL + "/ui/signin")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	m := regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`).FindSubmatch(body)
	if m == nil {
		t.Fatalf("no CSRF token in the sign-in page:\n%s", body)
	}
	req, _ := http.NewRequest("POST", s.URL+"/ui/signin", strings.NewReader(url.Values{"token": {client}, "csrf": {string(m[1])}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", s.URL)
	if res, err = hc.Do(req); err != nil || res.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in: %v %v", res.Status, err)
	}
	res.Body.Close()
	for _, p := range []string{"/ui/activity", "/ui/activity.csv"} {
		res, err := hc.Get(s.URL + p)
		if err != nil || res.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %v %v", p, res.Status, err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
	}
	for _, p := range []string{"/ui/signin", "/ui/activity", "/ui/activity.csv"} {
		line := regexp.MustCompile(`(?m)^.*msg=request method=(GET|POST) path=`+regexp.QuoteMeta(p)+` .*$`).FindAllString(s.Logs.String(), -1)
		if len(line) == 0 || !strings.Contains(line[len(line)-1], " client=ci") {
			t.Errorf("the access log of %s does not name the token ci: %q", p, line)
		}
	}
}
