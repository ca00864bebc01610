package e2e

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gomirror/gomirror/internal/fakeproxy"
)

// runWarm runs `gomirror warm args...` in dir and returns its standard
// output, standard error and exit code.
func runWarm(ctx context.Context, t *testing.T, dir string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	// The go command that warm runs must not find modules anywhere else.
	return runWarmEnv(ctx, t, dir, goEnv(t, "off", "off"), args...)
}

// runWarmEnv is runWarm with the environment env.
func runWarmEnv(ctx context.Context, t *testing.T, dir string, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.CommandContext(ctx, gomirrorBin, append([]string{"warm"}, args...)...)
	cmd.Dir = dir
	cmd.Env = env
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		code = exit.ExitCode()
	default:
		t.Fatalf("running gomirror warm: %v", err)
	}
	return out.String(), errOut.String(), code
}

// TestWarmThenOffline warms a mirror with a project's whole module graph,
// then builds the project with a fresh module cache from a mirror on the
// same storage with the upstream off.
func TestWarmThenOffline(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	up := fakeproxy.New(t)
	// example.com/tool requires example.com/hello v1.0.0, which the build
	// does not use (v1.1.0 wins): only its go.mod is in the graph.
	if _, err := up.Add("example.com/tool", "v1.0.0", map[string][]byte{
		"go.mod":  []byte("module example.com/tool\n\ngo 1.21\n\nrequire example.com/hello v1.0.0\n"),
		"tool.go": []byte("package tool\n\n// Name is the tool's name.\nconst Name = \"tool\"\n"),
	}); err != nil {
		t.Fatal(err)
	}

	project := t.TempDir()
	writeFiles(t, project, map[string]string{
		"go.mod": `module example.com/app

go 1.21

require (
	example.com/hello v1.1.0
	example.com/tool v1.0.0
)

require example.com/dep v1.0.0 // indirect
`,
		"main.go": `package main

import (
	"fmt"

	"example.com/hello"
	"example.com/tool"
)

func main() { fmt.Println(hello.Hello(), tool.Name) }
`,
	})
	// The project's go.sum, made straight from the upstream: the mirror
	// sees nothing before warm.
	mustGo(ctx, t, project, goEnv(t, up.URL, up.DBKey), "mod", "tidy")
	gomod, _ := os.ReadFile(filepath.Join(project, "go.mod"))
	gosum, err := os.ReadFile(filepath.Join(project, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}

	store := t.TempDir()
	m := startMirror(t, "--storage-dir", store, "--upstream", up.URL, "--sumdb", up.DBKey)
	stdout, stderr, code := runWarm(ctx, t, project, "--mirror", m.URL, "--jobs", "3")
	t.Logf("gomirror warm:\n%s%s", stderr, stdout)
	if code != 0 {
		t.Fatalf("warm exited with %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	// hello v1.1.0, dep v1.0.0, tool v1.0.0 with .info, .mod, .zip;
	// hello v1.0.0 with .info and .mod.
	for _, want := range []string{"modules: 4\n", "files fetched: 11\n", "failures: 0\n"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("summary lacks %q:\n%s", want, stdout)
		}
	}
	if !strings.Contains(stderr, "warm: 11/11 files") {
		t.Errorf("no final progress line in stderr:\n%s", stderr)
	}
	if got, _ := os.ReadFile(filepath.Join(project, "go.mod")); string(got) != string(gomod) {
		t.Errorf("warm changed go.mod:\n%s", got)
	}
	if got, _ := os.ReadFile(filepath.Join(project, "go.sum")); string(got) != string(gosum) {
		t.Errorf("warm changed go.sum:\n%s", got)
	}
	for _, p := range []string{"/example.com/hello/@v/v1.0.0.mod", "/example.com/tool/@v/v1.0.0.zip", "/example.com/dep/@v/v1.0.0.zip"} {
		if up.Hits(p) == 0 {
			t.Errorf("the upstream was never asked for %s", p)
		}
	}

	// The upstream is gone; the warmed storage alone serves the build.
	m.stop(t)
	up.Close()
	off := startMirror(t, "--storage-dir", store, "--upstream", "off", "--sumdb", up.DBKey)
	env := goEnv(t, off.URL, up.DBKey)
	mustGo(ctx, t, project, env, "build", "-o", filepath.Join(t.TempDir(), "app"), ".")
	if out := mustGo(ctx, t, project, env, "run", "."); !strings.Contains(out, "hello v1.1.0 dep tool") {
		t.Errorf("offline program output %q", out)
	}

	// Warming a module version that the offline mirror lacks fails, naming it.
	stdout, stderr, code = runWarm(ctx, t, project, "--mirror", off.URL, "example.com/hello@v1.2.0")
	t.Logf("gomirror warm example.com/hello@v1.2.0:\n%s%s", stderr, stdout)
	if code != 1 {
		t.Errorf("warm of a module the mirror lacks exited with %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stderr, "example.com/hello") {
		t.Errorf("the error does not name the module:\n%s", stderr)
	}
}

// TestWarmClosedPort shows that warm against a mirror that does not answer
// fails with exit status 1.
func TestWarmClosedPort(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	stdout, stderr, code := runWarm(ctx, t, t.TempDir(), "--mirror", "http://"+addr, "example.com/hello@v1.1.0")
	t.Logf("gomirror warm:\n%s%s", stderr, stdout)
	if code != 1 {
		t.Fatalf("warm against a closed port exited with %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stderr, "gomirror: resolving the module graph") || !strings.Contains(stderr, addr) {
		t.Errorf("stderr does not say what failed:\n%s", stderr)
	}
}

// TestWarmSumDBThenOffline warms a mirror in front of the real upstream
// (go env GOPROXY) with a small real project and --sumdb, then restarts
// it on the same storage with the upstream off and no network, and builds
// the project with an empty go.sum and module cache and the default
// checksum database (go env GOSUMDB) reached through the mirror: the
// lookups and tiles the go command asks for are all stored.
func TestWarmSumDBThenOffline(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the real upstream; skipped in -short mode")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	sumdbName := goEnvValue(t, "GOSUMDB")
	src, err := os.ReadFile("testdata/bundleproject/go.mod")
	if err != nil {
		t.Fatal(err)
	}
	main, err := os.ReadFile("testdata/bundleproject/main.go.txt")
	if err != nil {
		t.Fatal(err)
	}
	project := t.TempDir()
	writeFiles(t, project, map[string]string{"go.mod": string(src), "main.go": string(main)})

	store := t.TempDir()
	m := startMirror(t, "--storage-dir", store)
	stdout, stderr, code := runWarmEnv(ctx, t, project, goEnv(t, "off", sumdbName), "--mirror", m.URL, "--sumdb")
	t.Logf("gomirror warm --sumdb:\n%s%s", stderr, stdout)
	if code != 0 {
		t.Fatalf("warm exited with %d", code)
	}
	for _, want := range []string{"failures: 0\n", "checksum database lookups: 4\n", "lookup failures: 0\n"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("summary lacks %q", want)
		}
	}
	if _, err := os.Stat(filepath.Join(project, "go.sum")); err == nil {
		t.Fatal("warm wrote a go.sum")
	}
	m.stop(t)

	// No network from here on.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + l.Addr().String()
	l.Close()
	noNet := []string{"HTTPS_PROXY=" + dead, "HTTP_PROXY=" + dead, "NO_PROXY=", "https_proxy=", "http_proxy=", "no_proxy="}
	off := startMirrorEnv(t, noNet, "--storage-dir", store, "--upstream", "off")
	env := append(goEnv(t, off.URL, sumdbName), noNet...)
	env = append(env, "GOFLAGS=-modcacherw -mod=mod")
	mustGo(ctx, t, project, env, "mod", "download")
	mustGo(ctx, t, project, env, "build", "-o", os.DevNull, ".")
	sum, err := os.ReadFile(filepath.Join(project, "go.sum"))
	if err != nil || !strings.Contains(string(sum), "rsc.io/quote v1.5.2 h1:") {
		t.Errorf("go.sum after the offline build: %q, %v", sum, err)
	}
	logs := off.logs.String()
	if !strings.Contains(logs, "/sumdb/"+sumdbName+"/lookup/rsc.io/quote@v1.5.2") {
		t.Errorf("the go command did not verify through the mirror's checksum database endpoint:\n%s", tail(logs, 30))
	}
	if strings.Contains(logs, "status=5") || strings.Contains(logs, "status=404") {
		t.Errorf("offline mirror failed a request:\n%s", tail(logs, 30))
	}
	// What the go command asked of the checksum database, for the record.
	for _, line := range strings.Split(logs, "\n") {
		if strings.Contains(line, "/sumdb/") {
			t.Logf("go command: %s", line)
		}
	}
}
