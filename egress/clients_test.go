package egress

import (
	"bytes"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomirror/gomirror/internal/gitserver"
)

// childEnv is a minimal environment for git or curl run by a test: no
// inherited proxy settings, no user or system git config.
func childEnv(t *testing.T, extra ...string) []string {
	home := t.TempDir()
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
func gitFront(t *testing.T) (port string, cnt *counter, certFile, commit string) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git")
	}
	gs := gitserver.New(t)
	repo := gs.InitRepo(t, "hello")
	commit = repo.Commit(t, map[string]string{"go.mod": "module " + repo.ModulePath() + "\n"}, "first")
	backend, err := url.Parse(gs.URL)
	if err != nil {
		t.Fatal(err)
	}
	_, cnt, cert := tlsServer(t, httputil.NewSingleHostReverseProxy(backend))
	return cnt.port, cnt, cert.CertFile, commit
}

// TestGitThroughProxy runs the real git against an HTTPS git server on
// loopback through the proxy: refused by default (git sends even
// https://localhost/ and https://127.0.0.1/ through https_proxy), reached
// when the operator allows loopback.
func TestGitThroughProxy(t *testing.T) {
	port, cnt, certFile, commit := gitFront(t)
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
