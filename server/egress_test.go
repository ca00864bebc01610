package server

import (
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/gomirror/gomirror/config"
	"github.com/gomirror/gomirror/internal/fakeproxy"
	"golang.org/x/mod/sumdb/note"
)

// countedServer is an HTTP server on 127.0.0.1 that counts the connections
// it accepts.
type countedServer struct {
	*httptest.Server
	mu        sync.Mutex
	cond      *sync.Cond
	n         int
	sentinels int
	seen      map[string]bool
}

func newCountedServer(t *testing.T, h http.Handler) *countedServer {
	t.Helper()
	s := &countedServer{Server: httptest.NewUnstartedServer(h), seen: map[string]bool{}}
	s.cond = sync.NewCond(&s.mu)
	s.Config.ConnState = func(c net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.mu.Lock()
			s.n++
			s.seen[c.RemoteAddr().String()] = true
			s.cond.Broadcast()
			s.mu.Unlock()
		}
	}
	s.Start()
	t.Cleanup(s.Close)
	return s
}

// connections returns how many connections reached the server so far,
// including any whose handshake completed but which the server has not
// accepted yet: it connects itself and waits until the accept loop (which
// reports StateNew in order) has seen that connection.
func (s *countedServer) connections(t *testing.T) int {
	t.Helper()
	c, err := net.Dial("tcp", s.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	me := c.LocalAddr().String()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sentinels++
	for !s.seen[me] {
		s.cond.Wait()
	}
	return s.n - s.sentinels
}

// TestUpstreamRedirectsFollowAddressRules: an upstream proxy's redirect may
// not lead gomirror to an internal address that is not a configured
// upstream, nor to a scheme other than http(s). The target is a loopback
// server that would serve the genuine artifacts, so the refusal is the
// policy's, not a broken answer's.
func TestUpstreamRedirectsFollowAddressRules(t *testing.T) {
	up := fakeproxy.New(t)
	mirror := fakeproxy.NewMirror(t, up)
	mirrorURL, _ := url.Parse(mirror.URL)
	internal := newCountedServer(t, httputil.NewSingleHostReverseProxy(mirrorURL))
	_, port, _ := net.SplitHostPort(internal.Listener.Addr().String())

	var mu sync.Mutex
	var location string
	up.SetHook(func(w http.ResponseWriter, r *http.Request) bool {
		mu.Lock()
		loc := location
		mu.Unlock()
		if !strings.HasPrefix(r.URL.Path, "/example.com/hello/@v/v1.") || r.URL.Query().Has("again") {
			return false
		}
		http.Redirect(w, r, strings.ReplaceAll(loc, "PATH", r.URL.Path), http.StatusFound)
		return true
	})
	redirect := func(loc string) {
		mu.Lock()
		location = loc
		mu.Unlock()
	}

	s := start(t, up, nil)
	refused := []struct{ name, location, file string }{
		{"loopback address, zip", "http://127.0.0.1:" + port + "PATH", "/example.com/hello/@v/v1.0.0.zip"},
		{"loopback address, info", "http://127.0.0.1:" + port + "PATH", "/example.com/hello/@v/v1.0.0.info"},
		{"localhost", "http://localhost:" + port + "PATH", "/example.com/hello/@v/v1.1.0.zip"},
		{"file scheme", "file:///etc/passwd", "/example.com/hello/@v/v1.1.0.mod"},
	}
	for _, tt := range refused {
		redirect(tt.location)
		if r := get(t, s.URL+tt.file); r.code == 200 {
			t.Errorf("%s: %s answered 200 through a redirect to %s", tt.name, tt.file, tt.location)
		}
	}
	if n := internal.connections(t); n != 0 {
		t.Fatalf("redirects made %d connections to an internal address that is not a configured upstream", n)
	}

	// A redirect to the configured upstream itself is followed.
	redirect(up.URL + "PATH?again")
	if r := get(t, s.URL+"/example.com/hello/@v/v1.0.0.zip"); r.code != 200 {
		t.Errorf("redirect to the configured upstream: %d %s", r.code, r.body)
	}

	// With loopback allowed, the same internal redirect is followed.
	allowed := start(t, up, func(c *config.Serve) { c.DirectAllowNetworks = "127.0.0.0/8, ::1" })
	redirect("http://127.0.0.1:" + port + "PATH")
	if r := get(t, allowed.URL+"/example.com/hello/@v/v1.0.0.info"); r.code != 200 {
		t.Errorf("redirect to an allowed network: %d %s", r.code, r.body)
	}
	if n := internal.connections(t); n == 0 {
		t.Error("redirect to an allowed network made no connection")
	}
}

func TestTrustedHostPorts(t *testing.T) {
	_, vkey, err := note.GenerateKey(nil, "sum.example.test")
	if err != nil {
		t.Fatal(err)
	}
	cfg := &config.Serve{
		Upstream: "https://u:p@Mirror.Corp.Example|grp, http://10.1.2.3:8080/base,direct,file:///srv/mirror,off",
		SumDB:    vkey + " https://sumdb.corp.example:8443",
		VulnDB:   "https://vuln.corp.example/vuln",
		UpstreamGroups: []config.UpstreamGroup{
			{Name: "grp", Mirrors: []string{"https://[fd00::5]/", "http://mirror-b.corp.example"}},
		},
	}
	got := strings.Join(trustedHostPorts(cfg), " ")
	want := "Mirror.Corp.Example:443 10.1.2.3:8080 [fd00::5]:443 mirror-b.corp.example:80 sumdb.corp.example:8443 vuln.corp.example:443"
	if got != want {
		t.Errorf("trusted = %s; want %s", got, want)
	}

	t.Setenv("HTTPS_PROXY", "proxy.corp.example:3128")
	t.Setenv("HTTP_PROXY", "https://proxy2.corp.example")
	t.Setenv("https_proxy", "")
	t.Setenv("http_proxy", "")
	if got := strings.Join(envProxyHostPorts(), " "); got != "proxy.corp.example:3128 proxy2.corp.example:443" {
		t.Errorf("environment proxies = %s", got)
	}
}
