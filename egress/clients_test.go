package egress

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomirror/gomirror/internal/gitserver"
	"github.com/gomirror/gomirror/internal/testcert"
	"github.com/gomirror/gomirror/internal/testutil"
)

// childEnv is a minimal environment for git or curl run by a test: no
// inherited proxy settings, no user or system git config.
func childEnv(t *testing.T, extra ...string) []string {
	home := testutil.QuietHome(t, t.TempDir())
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + home,
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_CONFIG_GLOBAL=" + os.DevNull,
		"GIT_TERMINAL_PROMPT=0",
		"GIT_ASKPASS=true",
		"CURL_HOME=" + home,
	}
	return append(env, extra...)
}

func run(t *testing.T, env []string, name string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// gitFront serves the repositories of a real git server over HTTPS on
// 127.0.0.1 (git refuses nothing over plain http, but the sandbox allows
// git only https) and counts the connections it gets.
func gitFront(t *testing.T, cert *testcert.Cert, module string) (port string, cnt *counter, commit string) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git")
	}
	gs := gitserver.New(t)
	repo := gs.InitRepo(t, "hello")
	commit = repo.Commit(t, map[string]string{"go.mod": "module " + module + "\n", "hello.go": "package hello\n"}, "first")
	repo.Tag(t, "v1.0.0")
	backend, err := url.Parse(gs.URL)
	if err != nil {
		t.Fatal(err)
	}
	_, cnt = tlsServerOn(t, nil, httputil.NewSingleHostReverseProxy(backend), cert)
	return cnt.port, cnt, commit
}

// TestGitThroughProxy runs the real git against an HTTPS git server on
// loopback through the proxy: refused by default (git sends even
// https://localhost/ and https://127.0.0.1/ through https_proxy), reached
// when the operator allows loopback.
func TestGitThroughProxy(t *testing.T) {
	cert := testcert.New(t)
	certFile := cert.CertFile
	port, cnt, commit := gitFront(t, cert, "example.test/hello")
	deny := startProxy(t, &Policy{}, ProxyOptions{}) // the real resolver: localhost from /etc/hosts
	for _, host := range []string{"localhost", "127.0.0.1"} {
		out, err := run(t, childEnv(t, append(deny.Env(), "GIT_SSL_CAINFO="+certFile)...),
			"git", "ls-remote", "https://"+host+":"+port+"/hello")
		if err == nil {
			t.Errorf("git ls-remote https://%s through the denying proxy succeeded:\n%s", host, out)
		} else if !strings.Contains(out, "403") {
			t.Errorf("git ls-remote https://%s: %v\n%s\nwant the proxy's 403", host, err, out)
		}
		if strings.Contains(out, deny.secret) {
			t.Errorf("git's output shows the proxy secret")
		}
	}
	if n := cnt.count(); n != 0 {
		t.Fatalf("git through the denying proxy: %d connections at the git server", n)
	}

	allow := startProxy(t, &Policy{Allow: mustNetworks(t, "127.0.0.0/8, ::1")}, ProxyOptions{})
	out, err := run(t, childEnv(t, append(allow.Env(), "GIT_SSL_CAINFO="+certFile)...),
		"git", "ls-remote", "https://localhost:"+port+"/hello")
	if err != nil || !strings.Contains(out, commit+"\trefs/heads/main") {
		t.Fatalf("git ls-remote through the allowing proxy: %v\n%s", err, out)
	}
	// And a clone, which is what the go command runs.
	dir := filepath.Join(t.TempDir(), "clone")
	if out, err := run(t, childEnv(t, append(allow.Env(), "GIT_SSL_CAINFO="+certFile)...),
		"git", "clone", "-q", "https://localhost:"+port+"/hello", dir); err != nil {
		t.Fatalf("git clone through the allowing proxy: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "go.mod")); err != nil {
		t.Fatalf("clone: %v", err)
	}
}

// TestCurlThroughProxy: curl honours the proxy for loopback URLs too, is
// refused, and without the secret gets 407.
func TestCurlThroughProxy(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("no curl")
	}
	ts, cnt, cert := tlsServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("reached")) }))
	_, port, _ := net.SplitHostPort(ts.Listener.Addr().String())
	deny := startProxy(t, &Policy{}, ProxyOptions{})
	for _, host := range []string{"localhost", "127.0.0.1", "[::ffff:127.0.0.1]"} {
		out, err := run(t, childEnv(t, deny.Env()...), "curl", "-sS", "--cacert", cert.CertFile, "https://"+host+":"+port+"/")
		if err == nil || strings.Contains(out, "reached") || !strings.Contains(out, "403") {
			t.Errorf("curl https://%s through the denying proxy: %v\n%s\nwant the proxy's 403", host, err, out)
		}
	}
	// Plain http through the same proxy.
	out, err := run(t, childEnv(t, deny.Env()...), "curl", "-sS", "-f", "http://localhost:"+port+"/")
	if err == nil || strings.Contains(out, "reached") {
		t.Errorf("curl http://localhost through the denying proxy: %v\n%s", err, out)
	}
	if n := cnt.count(); n != 0 {
		t.Fatalf("curl through the denying proxy: %d connections at the server", n)
	}

	allow := startProxy(t, &Policy{Allow: mustNetworks(t, "127.0.0.0/8, ::1")}, ProxyOptions{})
	out, err = run(t, childEnv(t, allow.Env()...), "curl", "-sS", "--cacert", cert.CertFile, "https://localhost:"+port+"/")
	if err != nil || out != "reached" {
		t.Fatalf("curl through the allowing proxy: %v\n%s", err, out)
	}
	// Another local process without the secret.
	before := cnt.count()
	noSecret := "http://" + allow.ln.Addr().String()
	out, err = run(t, childEnv(t, "https_proxy="+noSecret, "NO_PROXY=", "no_proxy="), "curl", "-sS", "--cacert", cert.CertFile, "https://localhost:"+port+"/")
	if err == nil || !strings.Contains(out, "407") {
		t.Errorf("curl through the proxy without its secret: %v\n%s\nwant 407", err, out)
	}
	if n := cnt.count(); n != before {
		t.Errorf("a client without the secret made %d connections through the proxy", n-before)
	}
}

// TestGoCommandThroughProxy runs the real go command (GOPROXY=direct) with
// the proxy's environment, as the public direct sandbox does. The module's
// host, metadata.test, exists only in the proxy's resolver, which maps it to
// a loopback address whose port 443 serves the ?go-get=1 meta tag; the tag
// points at an HTTPS git server on https://localhost:PORT.
//
//   - default policy: the meta tag fetch is refused (the go command says
//     Forbidden), nothing reaches the meta tag server or the git server;
//   - the meta tag host allowed but not the git server (the server-side
//     request forgery of issue 11: a public meta tag aiming git at an
//     internal service): git's CONNECT is refused, nothing reaches the git
//     server;
//   - loopback allowed: the module downloads.
func TestGoCommandThroughProxy(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command")
	}
	// Port 443 on a random loopback address (the go command has no other
	// port for meta tags), so that parallel tests do not collide.
	ip := netip.AddrFrom4([4]byte{127, byte(1 + rand.IntN(250)), byte(rand.IntN(256)), byte(1 + rand.IntN(250))})
	ln, err := net.Listen("tcp", net.JoinHostPort(ip.String(), "443"))
	if err != nil {
		t.Skipf("cannot listen on port 443 of %s: %v", ip, err)
	}
	cert := testcert.New(t, "metadata.test")
	gitPort, gitCnt, _ := gitFront(t, cert, "metadata.test/hello")
	_, metaCnt := tlsServerOn(t, ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `<html><head><meta name="go-import" content="metadata.test/hello git https://localhost:%s/hello"></head></html>`, gitPort)
	}), cert)

	download := func(x *Proxy) (string, error) {
		dir := t.TempDir()
		cmd := exec.Command("go", "mod", "download", "-json", "metadata.test/hello@v1.0.0")
		cmd.Dir = dir
		cmd.Env = childEnv(t, append(x.Env(),
			"GOPATH="+filepath.Join(dir, "gopath"), "GOMODCACHE="+filepath.Join(dir, "modcache"),
			"GOCACHE="+filepath.Join(dir, "gocache"), "GOENV=off", "GOFLAGS=-modcacherw",
			"GOPROXY=direct", "GOSUMDB=off", "GOTOOLCHAIN=local", "GO111MODULE=on",
			"SSL_CERT_FILE="+cert.CertFile, "GIT_SSL_CAINFO="+cert.CertFile)...)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	names := map[string]string{"metadata.test": ip.String(), "localhost": "127.0.0.1"}

	deny := startProxy(t, &Policy{Resolver: hosts(names)}, ProxyOptions{})
	out, err := download(deny)
	if err == nil || !strings.Contains(out, "Forbidden") {
		t.Errorf("go mod download through the denying proxy: %v\n%s\nwant the meta tag fetch refused", err, out)
	}
	if n := metaCnt.count(); n != 0 {
		t.Fatalf("denying proxy: %d connections at the meta tag server", n)
	}

	metaOnly := startProxy(t, &Policy{Resolver: hosts(names), Allow: []netip.Prefix{netip.PrefixFrom(ip, 32)}}, ProxyOptions{})
	out, err = download(metaOnly)
	if err == nil || !strings.Contains(out, "403") {
		t.Errorf("go mod download with only the meta tag host allowed: %v\n%s\nwant git's CONNECT refused", err, out)
	}
	if metaCnt.count() == 0 {
		t.Errorf("the meta tag server was not reached with its address allowed:\n%s", out)
	}
	if n := gitCnt.count(); n != 0 {
		t.Fatalf("a meta tag aimed git at an internal server: %d connections reached it", n)
	}

	allow := startProxy(t, &Policy{Resolver: hosts(names), Allow: mustNetworks(t, "127.0.0.0/8")}, ProxyOptions{})
	out, err = download(allow)
	if err != nil || !strings.Contains(out, `"Zip"`) {
		t.Fatalf("go mod download through the allowing proxy: %v\n%s", err, out)
	}
	if gitCnt.count() == 0 {
		t.Error("the module downloaded without reaching the git server")
	}
}
