package e2e

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
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
// (go env GOPROXY) with a small real project, then builds the project
// with an empty go.sum and module cache and the default checksum database
// (go env GOSUMDB) reached through the mirror with its upstream off and no
// network: warmSumDBMatters.
func TestWarmSumDBThenOffline(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the real upstream; skipped in -short mode")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
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
	warmSumDBMatters(ctx, t, project, nil, goEnvValue(t, "GOSUMDB"), "rsc.io/quote@v1.5.2")
}

// TestWarmSumDBFakeThenOffline is TestWarmSumDBThenOffline with the fake
// upstream and its checksum database.
func TestWarmSumDBFakeThenOffline(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	up := fakeproxy.New(t)
	project := t.TempDir()
	writeFiles(t, project, map[string]string{
		"go.mod":  "module example.com/app\n\ngo 1.21\n\nrequire example.com/hello v1.1.0\n\nrequire example.com/dep v1.0.0 // indirect\n",
		"main.go": "package main\n\nimport \"example.com/hello\"\n\nfunc main() { println(hello.Hello()) }\n",
	})
	warmSumDBMatters(ctx, t, project, []string{"--upstream", up.URL, "--sumdb", up.DBKey}, up.DBKey, "example.com/hello@v1.1.0")
}

// warmSumDBMatters shows that warm --sumdb is what lets a client with an
// empty go.sum, module cache and checksum database state build project
// (no go.sum) through a mirror with its upstream off, verifying with the
// checksum database gosumdb through the mirror: a mirror that verified
// the zips itself has the lookups stored already, so the store is first
// filled (warm), then copied without the checksum database's files
// (sumdb/ and .gomirror/sumdb/: as a store filled by a bundle import);
// warm without --sumdb on the copy leaves the offline build failing,
// warm --sumdb makes it succeed. upArgs are the mirror's upstream and
// checksum database flags; lookup is a module version whose lookup the
// go command must ask the mirror for.
func warmSumDBMatters(ctx context.Context, t *testing.T, project string, upArgs []string, gosumdb, lookup string) {
	t.Helper()
	name, _, _ := strings.Cut(gosumdb, "+")
	warmEnv := goEnv(t, "off", gosumdb)
	serve := func(store string, args ...string) *mirror {
		return startMirror(t, append(append([]string{"--storage-dir", store}, upArgs...), args...)...)
	}
	warmWith := func(store string, args ...string) string {
		m := serve(store)
		defer m.stop(t)
		stdout, stderr, code := runWarmEnv(ctx, t, project, warmEnv, append([]string{"--mirror", m.URL}, args...)...)
		t.Logf("gomirror warm %s:\n%s%s", strings.Join(args, " "), stderr, stdout)
		if code != 0 {
			t.Fatalf("warm %s exited with %d", strings.Join(args, " "), code)
		}
		return stdout
	}

	full := t.TempDir()
	warmWith(full)
	if _, err := os.Stat(filepath.Join(full, "sumdb", name)); err != nil {
		t.Fatalf("the mirror stored no checksum database files where this test expects them: %v", err)
	}

	// No network from here on.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + l.Addr().String()
	l.Close()
	noNet := []string{"HTTPS_PROXY=" + dead, "HTTP_PROXY=" + dead, "NO_PROXY=", "https_proxy=", "http_proxy=", "no_proxy="}
	// offlineBuild builds project with a fresh client through a mirror on
	// store with the upstream off, and returns the go command's error
	// and the mirror's log.
	offlineBuild := func(store string) (error, string) {
		off := startMirrorEnv(t, noNet, "--storage-dir", store, "--upstream", "off", "--sumdb", gosumdb)
		defer off.stop(t)
		dir := t.TempDir()
		if err := os.CopyFS(dir, os.DirFS(project)); err != nil {
			t.Fatal(err)
		}
		env := append(goEnv(t, off.URL, gosumdb), noNet...)
		env = append(env, "GOFLAGS=-modcacherw -mod=mod")
		out, err := goCmd(ctx, t, dir, env, "build", "-o", os.DevNull, ".")
		if err != nil {
			err = fmt.Errorf("%v\n%s", err, out)
		} else if sum, _ := os.ReadFile(filepath.Join(dir, "go.sum")); !strings.Contains(string(sum), strings.Replace(lookup, "@", " ", 1)+" h1:") {
			t.Errorf("go.sum after the offline build lacks %s:\n%s", lookup, sum)
		}
		return err, off.logs.String()
	}

	// Without --sumdb the lookups are not stored: the build fails.
	noSum := copyStoreWithoutSumDB(t, full)
	warmWith(noSum)
	if err, logs := offlineBuild(noSum); err == nil {
		t.Fatalf("the offline build succeeded after warm without --sumdb on a store without the checksum database's files:\n%s", tail(logs, 30))
	} else {
		t.Logf("offline build after warm without --sumdb (fails, as it must): %v", err)
	}

	// With --sumdb it builds, verifying through the mirror.
	withSum := copyStoreWithoutSumDB(t, full)
	stdout := warmWith(withSum, "--sumdb")
	for _, want := range []string{"failures: 0\n", "lookup failures: 0\n"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("summary lacks %q", want)
		}
	}
	if _, err := os.Stat(filepath.Join(project, "go.sum")); err == nil {
		t.Fatal("warm wrote a go.sum")
	}
	err, logs := offlineBuild(withSum)
	if err != nil {
		t.Fatalf("offline build after warm --sumdb: %v\nmirror log:\n%s", err, tail(logs, 30))
	}
	if !strings.Contains(logs, "/sumdb/"+name+"/lookup/"+lookup) {
		t.Errorf("the go command did not verify through the mirror's checksum database endpoint:\n%s", tail(logs, 30))
	}
	if strings.Contains(logs, "status=5") || strings.Contains(logs, "status=404") {
		t.Errorf("offline mirror failed a request:\n%s", tail(logs, 30))
	}
}

// copyStoreWithoutSumDB copies the file store src, less the checksum
// database's files (sumdb/ and .gomirror/sumdb/), to a new directory.
func copyStoreWithoutSumDB(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if rel == "sumdb" || rel == filepath.Join(".gomirror", "sumdb") {
			return fs.SkipDir
		}
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// TestWarmUntidyThenOffline: warm fetches every zip `go build ./...` of a
// project whose go.mod lacks a module its imports need (example.com/dep,
// imported by example.com/hello), from a mirror that fetches nothing on
// its own (--prefetch 0): afterwards the mirror with its upstream off
// serves GOFLAGS=-mod=mod go build ./... .
func TestWarmUntidyThenOffline(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	up := fakeproxy.New(t)
	project := t.TempDir()
	files := map[string]string{
		"go.mod":  "module example.com/app\n\ngo 1.21\n\nrequire example.com/hello v1.1.0\n",
		"main.go": "package main\n\nimport \"example.com/hello\"\n\nfunc main() { println(hello.Hello()) }\n",
	}
	writeFiles(t, project, files)
	store := t.TempDir()
	m := startMirror(t, "--storage-dir", store, "--upstream", up.URL, "--sumdb", up.DBKey, "--prefetch", "0")
	stdout, stderr, code := runWarm(ctx, t, project, "--mirror", m.URL)
	t.Logf("gomirror warm:\n%s%s", stderr, stdout)
	if code != 0 {
		t.Fatalf("warm exited with %d", code)
	}
	m.stop(t)
	for name, data := range files {
		if got, _ := os.ReadFile(filepath.Join(project, name)); string(got) != data {
			t.Errorf("warm changed %s:\n%s", name, got)
		}
	}
	off := startMirror(t, "--storage-dir", store, "--upstream", "off", "--sumdb", up.DBKey)
	env := append(goEnv(t, off.URL, up.DBKey), "GOFLAGS=-modcacherw -mod=mod")
	if out, err := goCmd(ctx, t, project, env, "build", "-o", os.DevNull, "./..."); err != nil {
		t.Fatalf("offline GOFLAGS=-mod=mod go build ./...: %v\n%s\nmirror log:\n%s", err, out, tail(off.logs.String(), 20))
	}
}
