package e2e

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gomirror/gomirror/internal/fakeproxy"
	"github.com/gomirror/gomirror/internal/gitserver"
	"github.com/gomirror/gomirror/internal/testcert"
	"github.com/gomirror/gomirror/internal/testutil"
)

// These tests attack a running gomirror the way an anonymous client on the
// network would, through the public `direct` upstream. A module path's
// first element is a host the go command asks over HTTPS on port 443, so
// the hosts the attacks name are loopback addresses of their own
// (127.0.0.3x) with a listener on port 443: binding it needs root or
// CAP_NET_BIND_SERVICE, which CI has.

// listen443 listens on ip:443 or skips the test, loudly, when the
// process may not bind a privileged port.
func listen443(t *testing.T, ip string) *countingListener {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, "443"))
	if errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.EPERM) {
		t.Skipf("!!! SKIPPING: binding %s:443 needs root or CAP_NET_BIND_SERVICE (%v); the attacks through direct cannot be staged without it !!!", ip, err)
	}
	if err != nil {
		t.Fatal(err)
	}
	cl := &countingListener{Listener: ln, accepted: make(chan struct{})}
	t.Cleanup(func() { ln.Close() })
	return cl
}

// countingListener counts the connections it accepts; accepted is closed
// at the first.
type countingListener struct {
	net.Listener
	n        atomic.Int64
	accepted chan struct{}
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil && l.n.Add(1) == 1 {
		close(l.accepted)
	}
	return c, err
}

// serveTLS serves h with a certificate for the listener's address.
func serveTLS(t *testing.T, ln net.Listener, cert *testcert.Cert, h http.Handler) {
	t.Helper()
	kp, err := tls.LoadX509KeyPair(cert.CertFile, cert.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, TLSConfig: &tls.Config{Certificates: []tls.Certificate{kp}}, ErrorLog: nil}
	go srv.ServeTLS(ln, "", "")
	t.Cleanup(func() { srv.Close() })
}

// metaServer answers every ?go-get=1 request with a go-import tag naming
// root as a git repository at repoURL.
func metaServer(root, repoURL string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "<html><head><meta name=\"go-import\" content=\"%s git %s\"></head></html>\n", root, repoURL)
	})
}

// holdingListener accepts connections and never answers them, until the
// test ends: a host that stalls.
func holdingListener(t *testing.T, ln net.Listener) {
	t.Helper()
	var (
		mu    sync.Mutex
		conns []net.Conn
	)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
}

// getBody fetches url with client and returns the status and body.
func getBody(t *testing.T, client *http.Client, url string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return testutil.Do(t, client, req)
}

// TestDirectRefusesInternalAddresses is the server-side request forgery
// through `direct`: module paths and go-import tags that name loopback
// addresses, directly or through a name, on the first hop or a later one.
// gomirror must refuse them without a single connection reaching the
// listeners standing in for internal services, and its answers must not
// show its sandbox's paths.
func TestDirectRefusesInternalAddresses(t *testing.T) {
	internalLiteral := listen443(t, "127.0.0.31") // an internal HTTPS service
	internalByName := listen443(t, "127.0.0.1")   // what "localhost" resolves to
	allowedMeta := listen443(t, "127.0.0.32")     // a host the operator allows
	cert := testcert.NewFor(t, "127.0.0.32")
	holdingListener(t, internalLiteral)
	holdingListener(t, internalByName)
	mux := http.NewServeMux()
	// The allowed host's tags send git on to the internal services.
	mux.Handle("/hop-literal", metaServer("127.0.0.32/hop-literal", "https://127.0.0.31/secret"))
	mux.Handle("/hop-name", metaServer("127.0.0.32/hop-name", "https://localhost/secret"))
	// ... or redirect the go command's own ?go-get=1 request to a loopback
	// literal, which the go command does not send through a proxy.
	mux.HandleFunc("/redirect-open", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "https://127.0.0.33/internal/admin?go-get=1", http.StatusFound)
	})
	mux.HandleFunc("/redirect-closed", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "https://127.0.0.33:1/internal/admin?go-get=1", http.StatusFound)
	})
	serveTLS(t, allowedMeta, cert, mux)
	// An internal HTTPS service whose certificate the operator's own
	// certificate authorities (gomirror's SSL_CERT_FILE) vouch for.
	victim := listen443(t, "127.0.0.33")
	victimCert := testcert.NewFor(t, "127.0.0.33")
	var victimRequests atomic.Int64
	serveTLS(t, victim, victimCert, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		victimRequests.Add(1)
		fmt.Fprintf(w, "<meta name=\"go-import\" content=\"127.0.0.32/redirect-open mod https://127.0.0.33/internal\">")
	}))
	operatorCAs := filepath.Join(t.TempDir(), "cas.pem")
	writeConcat(t, operatorCAs, cert.CertFile, victimCert.CertFile)

	directDir := t.TempDir()
	m := startMirrorEnv(t, []string{"SSL_CERT_FILE=" + operatorCAs},
		"--upstream", "direct", "--sumdb", "off", "--storage-dir", t.TempDir(),
		"--direct-dir", directDir, "--direct-allow-networks", "127.0.0.32/32", "--direct-ca-file", cert.CertFile)

	for _, tt := range []struct {
		name, path string
		target     *countingListener
	}{
		{"a loopback literal as the module's host", "/127.0.0.31/ssrf/@v/list", internalLiteral},
		{"a loopback literal as the module's host, .info", "/127.0.0.31/ssrf/@v/v1.0.0.info", internalLiteral},
		{"an allowed host whose tag names a loopback literal", "/127.0.0.32/hop-literal/@v/list", internalLiteral},
		{"an allowed host whose tag names localhost", "/127.0.0.32/hop-name/@latest", internalByName},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := tt.target.n.Load()
			code, _, body := getBody(t, http.DefaultClient, m.URL+tt.path)
			if code == http.StatusOK {
				t.Fatalf("GET %s = 200 %q", tt.path, body)
			}
			if n := tt.target.n.Load() - before; n > 0 {
				t.Errorf("GET %s: %d connections reached the internal listener %s", tt.path, n, tt.target.Addr())
			}
			for _, leak := range []string{directDir, "exit status", "git ls-remote"} {
				if strings.Contains(body, leak) {
					t.Errorf("GET %s: the answer %q shows %q", tt.path, body, leak)
				}
			}
			t.Logf("GET %s: %d %s", tt.path, code, strings.TrimSpace(body))
		})
	}
	if n := allowedMeta.n.Load(); n == 0 {
		t.Error("the allowed host was never asked: the hop tests proved nothing")
	}

	// The redirect to a loopback literal: the go command may knock (it
	// connects without the proxy), but with only direct-ca-file to trust
	// it cannot complete TLS, so no request reaches the service, and the
	// answer is the same whether the port is open or closed.
	openCode, _, openBody := getBody(t, http.DefaultClient, m.URL+"/127.0.0.32/redirect-open/@v/list")
	closedCode, _, closedBody := getBody(t, http.DefaultClient, m.URL+"/127.0.0.32/redirect-closed/@v/list")
	if n := victimRequests.Load(); n > 0 {
		t.Errorf("%d requests reached the internal service behind a redirect", n)
	}
	if openCode == http.StatusOK || openCode != closedCode {
		t.Errorf("redirected to an open port: %d %q; to a closed one: %d %q; want the same refusal (no port scanning)", openCode, openBody, closedCode, closedBody)
	}
	t.Logf("redirect to an open loopback port: %d %s; to a closed one: %d %s", openCode, strings.TrimSpace(openBody), closedCode, strings.TrimSpace(closedBody))
}

// writeConcat writes the concatenation of files to name.
func writeConcat(t *testing.T, name string, files ...string) {
	t.Helper()
	var all []byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, b...)
	}
	if err := os.WriteFile(name, all, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestPublicDirectNeverUsesTheVCSCredentials is the confused deputy of the
// issue: gomirror holds credentials for a git server, and its operator's
// git configuration maps the private host to it. A public path whose
// go-import tag names that private host must not be fetched with them: no
// request at all may reach the git server on behalf of an anonymous client,
// while a token holder's private fetch still works.
func TestPublicDirectNeverUsesTheVCSCredentials(t *testing.T) {
	meta := listen443(t, "127.0.0.34")
	cert := testcert.NewFor(t, "127.0.0.1", "127.0.0.34")
	serveTLS(t, meta, cert, metaServer("127.0.0.34/ssrf2", "https://"+gitserver.Host+"/private"))
	p := newPrivateRepo(t)
	up := fakeproxy.New(t)
	tokens := filepath.Join(t.TempDir(), "tokens.json")
	devToken := addToken(t, tokens, "dev")
	cfg := filepath.Join(t.TempDir(), "gomirror.yaml")
	yaml := privateYAML(p, cert) + fmt.Sprintf(`auth: private
tokens-file: %s
direct-allow-networks: 127.0.0.34/32
direct-ca-file: %s
`, tokens, cert.CertFile)
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	m := startMirrorEnv(t, privateEnv(t, p), "--config", cfg, "--storage-dir", t.TempDir(), "--upstream", up.URL+",direct", "--sumdb", "off",
		"--direct-dir", gitserver.TempDir(t))
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: cert.ClientConfig()}}

	for _, path := range []string{"/127.0.0.34/ssrf2/@v/main.info", "/127.0.0.34/ssrf2/@v/list", "/127.0.0.34/ssrf2/@latest"} {
		code, _, body := getBody(t, client, m.URL+path)
		if code == http.StatusOK {
			t.Errorf("anonymous GET %s = 200 %q: answered from the private repository", path, body)
		}
		if strings.Contains(body, "private v1") {
			t.Errorf("anonymous GET %s shows private data: %q", path, body)
		}
	}
	if meta.n.Load() == 0 {
		t.Fatal("the public host's go-import tag was never asked for: the attack did not run")
	}
	if reqs := p.srv.Requests(); len(reqs) > 0 {
		t.Errorf("anonymous requests for a public path reached the private git server: %q", reqs)
	}

	// The credentials still serve the token holder's private modules.
	req, err := http.NewRequest("GET", m.URL+"/"+escaped(t, p.path)+"/@v/v1.0.0.info", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth("dev", devToken)
	if code, _, body := testutil.Do(t, client, req); code != http.StatusOK {
		t.Errorf("the token holder's private .info = %d %q", code, body)
	}
}

// httpsGit serves a git repository over HTTPS on ip:443 together with its
// go-import tag, as a public code host does: the module ip/name is the
// repository https://ip/name.
type httpsGit struct {
	ip, module string
	cert       *testcert.Cert
	repo       *gitserver.Repo
}

func newHTTPSGit(t *testing.T, ip, name string) *httpsGit {
	t.Helper()
	ln := listen443(t, ip)
	srv := gitserver.New(t)
	repo := srv.InitRepo(t, name)
	mod := ip + "/" + name
	repo.Commit(t, map[string]string{
		"go.mod": "module " + mod + "\n\ngo 1.21\n",
		"pub.go": "package pub\n\nconst Version = \"v1.0.0\"\n",
	}, "v1.0.0")
	repo.Tag(t, "v1.0.0")
	target, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	git := httputil.NewSingleHostReverseProxy(target)
	meta := metaServer(mod, "https://"+mod)
	cert := testcert.NewFor(t, ip)
	serveTLS(t, ln, cert, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("go-get") == "1" {
			meta.ServeHTTP(w, r)
			return
		}
		git.ServeHTTP(w, r)
	}))
	return &httpsGit{ip: ip, module: mod, cert: cert, repo: repo}
}

// TestPublicDirectThroughTheEgressProxy fetches a public module from an
// allowed network with the real go command: the go-import lookup, then
// git through gomirror's egress proxy, into a sandbox without credentials.
func TestPublicDirectThroughTheEgressProxy(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	g := newHTTPSGit(t, "127.0.0.35", "pub")
	m := startMirror(t, "--upstream", "direct", "--sumdb", "off", "--storage-dir", t.TempDir(),
		"--direct-dir", gitserver.TempDir(t), "--direct-allow-networks", g.ip+"/32", "--direct-ca-file", g.cert.CertFile)
	project := t.TempDir()
	writeFiles(t, project, map[string]string{
		"go.mod":  "module example.com/app\n\ngo 1.21\n\nrequire " + g.module + " v1.0.0\n",
		"main.go": "package main\n\nimport (\n\t\"fmt\"\n\n\tpub \"" + g.module + "\"\n)\n\nfunc main() { fmt.Println(pub.Version) }\n",
	})
	env := append(goEnv(t, m.URL, "off"), "GOFLAGS=-mod=mod")
	if out := mustGo(ctx, t, project, env, "run", "."); !strings.Contains(out, "v1.0.0") {
		t.Errorf("go run through the mirror printed %q", out)
	}
}

// TestPrivateFetchesNotStarvedByStalledPublicOnes queues 50 anonymous
// public direct fetches for a host that accepts connections and never
// answers, and checks that a token holder's private fetch is still served
// within 2 s, that another anonymous client still gets a public module
// (one client holds at most half of the public pool), and that the queued
// requests end with 503 and Retry-After within the queue timeout instead of
// waiting for the fetch timeout.
func TestPrivateFetchesNotStarvedByStalledPublicOnes(t *testing.T) {
	stall := listen443(t, "127.0.0.36")
	holdingListener(t, stall)
	g := newHTTPSGit(t, "127.0.0.37", "pub")
	p := newPrivateRepo(t)
	tokens := filepath.Join(t.TempDir(), "tokens.json")
	devToken := addToken(t, tokens, "dev")
	m := startPrivateMirror(t, p, fmt.Sprintf(`auth: private
tokens-file: %s
direct-procs: 2
direct-queue-timeout: 3s
direct-allow-networks: 127.0.0.36/32, 127.0.0.37/32
direct-ca-file: %s
`, tokens, g.cert.CertFile), "--upstream", "direct", "--sumdb", "off", "--fetch-timeout", "20s")
	// The private repository is cloned once beforehand, so that the timing
	// below measures waiting for a slot, not the clone.
	code, _, body := m.get(t, "/"+escaped(t, p.path)+"/@v/v1.0.0.info", "dev", devToken)
	if code != http.StatusOK {
		t.Fatalf("private .info before the flood = %d %q", code, body)
	}

	const stalled = 50
	type result struct {
		code       int
		retryAfter string
	}
	results := make(chan result, stalled)
	for i := range stalled {
		go func() {
			resp, err := m.client.Get(fmt.Sprintf("%s/127.0.0.36/stall%d/@v/v1.0.0.info", m.URL, i))
			if err != nil {
				results <- result{code: -1}
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			results <- result{resp.StatusCode, resp.Header.Get("Retry-After")}
		}()
	}
	// Wait until the stalled fetches hold their slot: the host sees them.
	select {
	case <-stall.accepted:
	case <-time.After(30 * time.Second):
		t.Fatal("no stalled fetch reached the stalling host")
	}

	start := time.Now()
	code, _, body = m.get(t, "/"+escaped(t, p.path)+"/@v/v1.1.0.info", "dev", devToken)
	if took := time.Since(start); code != http.StatusOK || took > 2*time.Second {
		t.Errorf("private .info while %d public fetches stall: %d %q after %v; want 200 within 2s", stalled, code, body, took)
	}

	// Another anonymous client (another source address) still gets a slot.
	other := &http.Client{Transport: &http.Transport{
		TLSClientConfig: m.cert.ClientConfig(),
		DialContext:     (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.38")}}).DialContext,
	}}
	start = time.Now()
	code, _, body = getBody(t, other, m.URL+"/"+g.module+"/@v/v1.0.0.info")
	if code != http.StatusOK {
		t.Errorf("another client's public .info while the first holds its share: %d %q after %v", code, body, time.Since(start))
	}

	busy := 0
	for range stalled {
		r := <-results
		if r.code == http.StatusServiceUnavailable {
			busy++
			if r.retryAfter == "" {
				t.Error("503 without Retry-After")
			}
		}
	}
	t.Logf("%d of %d stalled requests ended with 503 and Retry-After", busy, stalled)
	if busy == 0 {
		t.Error("no queued request was turned away: the queue is not bounded")
	}
}
