package deploy

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/gomirror/gomirror/config"
	"github.com/gomirror/gomirror/server"
)

// offlineServer builds the gomirror server that cfg describes, as a
// deployment would run it, with everything that would reach another machine
// made local and offline: storage fs in a temp dir, no Redis, upstream and
// sumdb off, no TLS, no VCS credentials. What decides who reaches the
// operator endpoints and which client address a request has (listen,
// admin-listen, admin-auth, auth, tokens-file, private, trusted-proxies) is
// kept as is. Nothing listens: requests go to its handlers directly. The
// server logs at debug level, as JSON, to the returned buffer.
func offlineServer(t *testing.T, cfg *config.Serve) (*server.Server, *bytes.Buffer) {
	t.Helper()
	c := *cfg
	dir := t.TempDir()
	c.Storage, c.StorageDir, c.DirectDir = "fs", filepath.Join(dir, "store"), filepath.Join(dir, "direct")
	c.Redis, c.RedisPasswordFile = "", ""
	c.Upstream, c.UpstreamGroups, c.UpstreamNetrc, c.SumDB = "off", nil, "", "off"
	c.TLSCert, c.TLSKey = "", ""
	c.VCSCredentials, c.VCSNetrc, c.VCSSSHKey, c.VCSSSHKnownHosts = nil, "", "", ""
	c.S3AccessKeyFile, c.S3SecretKeyFile = "", ""
	var logs bytes.Buffer
	s, err := server.New(&c, slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatalf("gomirror does not start with this configuration: %v", err)
	}
	return s, &logs
}

// get sends GET path to h from the socket address remote, with the given
// headers ("Authorization: Bearer x" etc., as key, value pairs), and returns
// the status.
func get(h http.Handler, path, remote string, header ...string) int {
	r := httptest.NewRequest(http.MethodGet, path, nil)
	r.RemoteAddr = remote
	for i := 0; i+1 < len(header); i += 2 {
		if header[i] == "Host" {
			r.Host = header[i+1]
			continue
		}
		r.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Code
}

// bearer is the header pair for an admin token, or none for "".
func bearer(token string) []string {
	if token == "" {
		return nil
	}
	return []string{"Authorization", "Bearer " + token}
}

// operatorAccess is what a deployment promises about the operator
// endpoints, checked against the server built from its configuration.
type operatorAccess struct {
	// adminOnly: they are served on admin-listen, and answer 404 on listen.
	adminOnly bool
	// token is the admin token the scraper sends; "" for an anonymous
	// scraper, which must then get 200 (and a scraper with a token, 200,
	// and without one, 401).
	token string
}

// checkOperatorAccess checks want against the real server for cfg: /metrics
// and /upstreams on the listener where the deployment scrapes them (with
// its token, if any), 401 without the token where one is needed, and 404 on
// listen when they are on admin-listen. where names the deployment.
func checkOperatorAccess(t *testing.T, where string, cfg *config.Serve, want operatorAccess) {
	t.Helper()
	s, _ := offlineServer(t, cfg)
	const peer = "192.0.2.10:40000" // not loopback, not a trusted proxy
	scraped := s.Handler()
	switch {
	case want.adminOnly && (cfg.AdminListen == "" || s.AdminHandler() == nil):
		// Go on with listen, to show what its scraper gets there.
		t.Errorf("%s: the operator endpoints should be on admin-listen, but admin-listen is %q", where, cfg.AdminListen)
	case want.adminOnly:
		scraped = s.AdminHandler()
		for _, p := range []string{"/metrics", "/upstreams"} {
			if code := get(s.Handler(), p, peer, bearer(want.token)...); code != http.StatusNotFound {
				t.Errorf("%s: GET %s on listen %s: %d, want 404 (they are on admin-listen %s only)", where, p, cfg.Listen, code, cfg.AdminListen)
			}
		}
	}
	// The scraper asks for the address it dials (anonymous operator
	// endpoints on loopback answer only an IP address or localhost there:
	// DNS rebinding).
	host := cfg.Listen
	if want.adminOnly && cfg.AdminListen != "" {
		host = cfg.AdminListen
	}
	for _, p := range []string{"/metrics", "/upstreams"} {
		if code := get(scraped, p, peer, append([]string{"Host", host}, bearer(want.token)...)...); code != http.StatusOK {
			t.Errorf("%s: GET %s as the scraper does (token: %v): %d, want 200", where, p, want.token != "", code)
		}
		if want.token != "" {
			if code := get(scraped, p, peer); code != http.StatusUnauthorized {
				t.Errorf("%s: GET %s without the admin token: %d, want 401", where, p, code)
			}
		}
	}
	anonymous, on := cfg.AdminAnonymous()
	if anonymous != (want.token == "") {
		t.Errorf("%s: config.AdminAnonymous() = %v on %s, but the deployment scrapes with a token: %v", where, anonymous, on, want.token != "")
	}
}

// clientAddr returns the client address that the server built from cfg logs
// for a request from the socket address peer with X-Forwarded-For xff.
func clientAddr(t *testing.T, cfg *config.Serve, peer, xff string) string {
	t.Helper()
	s, logs := offlineServer(t, cfg)
	logs.Reset()
	if code := get(s.Handler(), "/healthz", peer, "X-Forwarded-For", xff); code != http.StatusOK {
		t.Fatalf("GET /healthz: %d", code)
	}
	for _, line := range bytes.Split(logs.Bytes(), []byte("\n")) {
		var rec struct{ Msg, Path, Remote string }
		if json.Unmarshal(line, &rec) == nil && rec.Msg == "request" && rec.Path == "/healthz" {
			return rec.Remote
		}
	}
	t.Fatalf("no access log line for /healthz in:\n%s", logs)
	return ""
}
