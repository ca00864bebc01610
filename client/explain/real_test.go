package explain

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"flag"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/gomirror/gomirror/internal/fakeproxy"
	"github.com/gomirror/gomirror/internal/gitserver"
	"github.com/gomirror/gomirror/internal/testcert"
	"github.com/gomirror/gomirror/internal/testutil"
)

// -capture DIR writes every scenario's go command output to DIR/<id>.txt,
// to refresh testdata/real (go test -run TestRealOutput -capture $PWD/testdata/real).
var captureDir = flag.String("capture", "", "write captured go command output to this directory")

// goEnv is a clean environment for the go command, as in e2e: only what the
// test sets decides where modules come from, and nothing is kept outside
// t.TempDir().
func goEnv(t *testing.T, proxy, sumdb string, extra ...string) []string {
	t.Helper()
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "GO") && k != "GOROOT" && k != "GOCACHE" ||
			strings.HasPrefix(k, "GIT_") || strings.HasPrefix(k, "XDG_") || k == "HOME" || k == "SSL_CERT_FILE" || k == "SSL_CERT_DIR" ||
			strings.HasSuffix(strings.ToUpper(k), "_PROXY") {
			continue
		}
		env = append(env, kv)
	}
	// A HOME of its own, with telemetry off: otherwise the go command
	// writes counters there and may start a background uploader.
	home := testutil.QuietHome(t, t.TempDir())
	env = append(env,
		"HOME="+home,
		"GOPATH="+t.TempDir(),
		"GOMODCACHE="+gitserver.TempDir(t),
		"GOPROXY="+proxy,
		"GOSUMDB="+sumdb,
		"GOENV=off",
		"GOFLAGS=-modcacherw",
		"GONOSUMDB=", "GONOPROXY=", "GOPRIVATE=", "GOINSECURE=",
		"GOTOOLCHAIN=local",
		"GO111MODULE=on",
		"GIT_TERMINAL_PROMPT=0",
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_CONFIG_GLOBAL="+os.DevNull,
	)
	return append(env, extra...)
}

// runGo runs the go command and returns its combined output; it fails the
// test if the command succeeds, as every scenario here is a failure.
func runGo(t *testing.T, dir string, env []string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir, cmd.Env = dir, env
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("go %s: timed out\n%s", strings.Join(args, " "), out)
	}
	if err == nil {
		t.Fatalf("go %s succeeded, want a failure\n%s", strings.Join(args, " "), out)
	}
	return string(out)
}

// module writes a main module that imports the given package path and
// requires its module.
func module(t *testing.T, goVersion, require string, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	mod := "module example.com/m\n\ngo " + goVersion + "\n"
	if require != "" {
		mod += "\nrequire " + require + "\n"
	}
	all := map[string]string{"go.mod": mod}
	for k, v := range files {
		all[k] = v
	}
	for name, content := range all {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// appendFile appends text to the file at path.
func appendFile(t *testing.T, path, text string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(text); err != nil {
		t.Fatal(err)
	}
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

const hello = "example.com/hello@v1.0.0"

// scenarios are real failures of the go command, each producing output
// that must contain an error of class want.
var scenarios = []struct {
	want string
	name string
	run  func(t *testing.T) string
}{
	{"conn-refused", "closed port", func(t *testing.T) string {
		return runGo(t, t.TempDir(), goEnv(t, "http://"+closedPort(t), "off"), "mod", "download", hello)
	}},
	{"not-found", "404", func(t *testing.T) string {
		p := fakeproxy.New(t)
		p.Inject(fakeproxy.Modules, fakeproxy.Status(404, "not found"))
		return runGo(t, t.TempDir(), goEnv(t, p.URL, "off"), "mod", "download", hello)
	}},
	{"not-found", "unknown module", func(t *testing.T) string {
		p := fakeproxy.New(t)
		return runGo(t, t.TempDir(), goEnv(t, p.URL, "off"), "mod", "download", "example.com/nosuchmodule@latest")
	}},
	{"forbidden", "403", func(t *testing.T) string {
		p := fakeproxy.New(t)
		p.Inject(fakeproxy.Modules, fakeproxy.Status(403, "module example.com/hello: not available"))
		return runGo(t, t.TempDir(), goEnv(t, p.URL, "off"), "mod", "download", hello)
	}},
	{"proxy-unavailable", "502", func(t *testing.T) string {
		p := fakeproxy.New(t)
		p.Inject(fakeproxy.Modules, fakeproxy.Status(502, "fetching from upstream: connection refused"))
		return runGo(t, t.TempDir(), goEnv(t, p.URL, "off"), "mod", "download", hello)
	}},
	{"auth-required", "proxy 401", func(t *testing.T) string {
		p := fakeproxy.New(t)
		p.Inject(fakeproxy.Modules, fakeproxy.Status(401, "token required"))
		return runGo(t, t.TempDir(), goEnv(t, p.URL, "off"), "mod", "download", hello)
	}},
	{"checksum-mismatch", "tampered zip against the checksum database", func(t *testing.T) string {
		p := fakeproxy.New(t)
		p.Tamper(t, "example.com/hello", "v1.0.0", true, false)
		return runGo(t, t.TempDir(), goEnv(t, p.URL, p.DBKey), "mod", "download", hello)
	}},
	{"checksum-mismatch", "wrong go.sum line", func(t *testing.T) string {
		p := fakeproxy.New(t)
		dir := module(t, "1.21", "example.com/hello v1.0.0", map[string]string{
			"go.sum":  "example.com/hello v1.0.0 h1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\nexample.com/hello v1.0.0/go.mod h1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
			"main.go": "package main\n\nimport \"example.com/hello\"\n\nfunc main() { println(hello.Hello()) }\n",
		})
		return runGo(t, dir, goEnv(t, p.URL, "off"), "mod", "download")
	}},
	{"sumdb-wrong-key", "GOSUMDB key of another database", func(t *testing.T) string {
		p := fakeproxy.New(t)
		_, vkey, err := note.GenerateKey(rand.Reader, fakeproxy.DBName)
		if err != nil {
			t.Fatal(err)
		}
		return runGo(t, t.TempDir(), goEnv(t, p.URL, vkey), "mod", "download", hello)
	}},
	{"sumdb-private", "checksum database answers 410", func(t *testing.T) string {
		p := fakeproxy.New(t)
		p.Inject(fakeproxy.Prefix("/sumdb/"+fakeproxy.DBName+"/lookup/"), fakeproxy.Status(410, "not found"))
		return runGo(t, t.TempDir(), goEnv(t, p.URL, p.DBKey), "mod", "download", hello)
	}},
	{"missing-gosum", "no go.sum, -mod=readonly", func(t *testing.T) string {
		p := fakeproxy.New(t)
		dir := module(t, "1.21", "example.com/hello v1.0.0", map[string]string{
			"main.go": "package main\n\nimport \"example.com/hello\"\n\nfunc main() { println(hello.Hello()) }\n",
		})
		return runGo(t, dir, goEnv(t, p.URL, "off"), "build", "-mod=readonly", ".")
	}},
	{"unknown-revision", "go get @v9.9.9", func(t *testing.T) string {
		p := fakeproxy.New(t)
		dir := module(t, "1.21", "", nil)
		return runGo(t, dir, goEnv(t, p.URL, "off"), "get", "example.com/hello@v9.9.9")
	}},
	{"toolchain", "go 1.999 with GOTOOLCHAIN=local", func(t *testing.T) string {
		dir := module(t, "1.999", "", map[string]string{"main.go": "package main\n\nfunc main() {}\n"})
		return runGo(t, dir, goEnv(t, "off", "off"), "build", ".")
	}},
	{"tls", "self-signed certificate", func(t *testing.T) string {
		c := testcert.New(t)
		ts := httptest.NewUnstartedServer(http.NotFoundHandler())
		cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			t.Fatal(err)
		}
		ts.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes
		ts.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
		ts.StartTLS()
		t.Cleanup(ts.Close)
		return runGo(t, t.TempDir(), goEnv(t, ts.URL, "off"), "mod", "download", hello)
	}},
	{"dns", "GOPROXY=direct, host that does not resolve", func(t *testing.T) string {
		return runGo(t, t.TempDir(), goEnv(t, "direct", "off"), "mod", "download", "private.example.invalid/m@v1.0.0")
	}},
	{"auth-required", "git server with basic auth, no credentials", func(t *testing.T) string {
		// The go command first probes the repository's scheme with git
		// ls-remote and hides why that fails ("no secure protocol found"),
		// so the server answers the probe and asks for credentials from
		// the next request on, as a server whose credentials expired would.
		g := gitserver.New(t)
		var mu sync.Mutex
		probes := 0
		g.SetHook(func(w http.ResponseWriter, r *http.Request) bool {
			mu.Lock()
			defer mu.Unlock()
			if strings.HasSuffix(r.URL.Path, "/info/refs") {
				probes++
			}
			if probes <= 1 {
				return false
			}
			w.Header().Set("WWW-Authenticate", `Basic realm="gitserver"`)
			http.Error(w, "authentication required", http.StatusUnauthorized)
			return true
		})
		r := g.InitRepo(t, "private")
		r.Commit(t, map[string]string{"go.mod": "module " + gitserver.Host + "/private.git\n\ngo 1.21\n"}, "init")
		r.Tag(t, "v1.0.0")
		return runGo(t, t.TempDir(), goEnv(t, "direct", "off", "GIT_CONFIG_GLOBAL="+g.PlainGitConfig(t)),
			"mod", "download", r.ModulePath()+"@v1.0.0")
	}},
	{"proxy-off", "GOPROXY=off", func(t *testing.T) string {
		return runGo(t, t.TempDir(), goEnv(t, "off", "off"), "mod", "download", hello)
	}},
	{"malformed-path", "no dot in first element", func(t *testing.T) string {
		p := fakeproxy.New(t)
		return runGo(t, t.TempDir(), goEnv(t, p.URL, "off"), "mod", "download", "nodot/m@v1.0.0")
	}},
	{"bad-env", "bad GOFLAGS", func(t *testing.T) string {
		env := goEnv(t, "off", "off")
		env = append(env, "GOFLAGS=-nosuchflag")
		return runGo(t, t.TempDir(), env, "mod", "download", hello)
	}},
	{"bad-env", "bad GOPROXY", func(t *testing.T) string {
		return runGo(t, t.TempDir(), goEnv(t, "ftp://127.0.0.1:1", "off"), "mod", "download", hello)
	}},
	{"no-main-module", "go build outside a module", func(t *testing.T) string {
		return runGo(t, t.TempDir(), goEnv(t, "off", "off"), "build", ".")
	}},
	{"bad-request", "proxy answers 400", func(t *testing.T) string {
		p := fakeproxy.New(t)
		p.Inject(fakeproxy.Modules, fakeproxy.Status(400, "bad request: invalid module path"))
		return runGo(t, t.TempDir(), goEnv(t, p.URL, "off"), "mod", "download", hello)
	}},
	{"bad-request", "go get through a proxy answering 400 on list", func(t *testing.T) string {
		p := fakeproxy.New(t)
		p.Inject(fakeproxy.Suffix("/@v/list", "/@latest"), fakeproxy.Status(400, "bad request"))
		dir := module(t, "1.21", "", nil)
		return runGo(t, dir, goEnv(t, p.URL, "off"), "get", "example.com/hello")
	}},
	{"gomod-syntax", "unknown directives", func(t *testing.T) string {
		dir := module(t, "1.21", "", map[string]string{"main.go": "package main\n\nfunc main() {}\n"})
		appendFile(t, filepath.Join(dir, "go.mod"), "\nfoo bar\nbaz\n")
		return runGo(t, dir, goEnv(t, "off", "off"), "build", ".")
	}},
	{"gomod-syntax", "require without a version", func(t *testing.T) string {
		dir := module(t, "1.21", "", map[string]string{"main.go": "package main\n\nfunc main() {}\n"})
		appendFile(t, filepath.Join(dir, "go.mod"), "\nrequire (\n\texample.com/hello\n)\n")
		return runGo(t, dir, goEnv(t, "off", "off"), "build", ".")
	}},
	{"vendor-inconsistent", "modules.txt without explicit marks", func(t *testing.T) string {
		dir := module(t, "1.21", "example.com/hello v1.0.0", map[string]string{
			"main.go":            "package main\n\nfunc main() {}\n",
			"vendor/modules.txt": "# example.com/hello v1.0.0\nexample.com/hello\n",
		})
		return runGo(t, dir, goEnv(t, "off", "off"), "build", ".")
	}},
	{"timeout", "TLS server that never answers", func(t *testing.T) string {
		if testing.Short() {
			t.Skip("waits for the go command's 10s TLS handshake timeout")
		}
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() {
			var conns []net.Conn
			defer func() {
				for _, c := range conns {
					c.Close()
				}
				close(done)
			}()
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				conns = append(conns, c) // hold it open, say nothing
			}
		}()
		t.Cleanup(func() { l.Close(); <-done })
		return runGo(t, t.TempDir(), goEnv(t, "https://"+l.Addr().String(), "off"), "mod", "download", hello)
	}},
}

// TestRealOutput runs the go command into each failure and checks that the
// catalogue explains what it printed.
func TestRealOutput(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command")
	}
	for _, sc := range scenarios {
		t.Run(sc.want+"/"+sc.name, func(t *testing.T) {
			t.Parallel()
			out := sc.run(t)
			t.Logf("go output:\n%s", out)
			if *captureDir != "" {
				name := sc.want + "-" + strings.NewReplacer(" ", "-", "/", "-", ",", "", "=", "-", "@", "").Replace(sc.name) + ".txt"
				if err := os.WriteFile(filepath.Join(*captureDir, name), []byte(out), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			errs, err := Parse(strings.NewReader(out))
			if err != nil {
				t.Fatal(err)
			}
			if len(errs) == 0 {
				t.Fatalf("found no errors in:\n%s", out)
			}
			if len(errs) != 1 {
				t.Errorf("%d errors, want one entry", len(errs))
			}
			for _, e := range errs {
				if e.Class.ID != sc.want {
					t.Errorf("line %d classified %s, want %s:\n%s", e.Line, e.Class.ID, sc.want, e.Text())
				}
			}
		})
	}
}
