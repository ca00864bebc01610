// Package e2e runs the gomirror binary the way a user does and drives it
// with the real go command.
package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gomirror/gomirror/internal/testutil"
)

// gomirrorBin is the binary under test, built once by TestMain.
var gomirrorBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "gomirror-e2e-bin-*")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	gomirrorBin = filepath.Join(dir, "gomirror")
	build := exec.Command("go", "build", "-o", gomirrorBin, "../cmd/gomirror")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building gomirror:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// TestSourcesAreInputs makes every source file of the module an input of
// this package's tests. The binary under test is built by a child process,
// whose reads go test's result cache does not see; without this, a change
// to the server would leave `go test ./...` reporting a cached pass. (Reads
// in TestMain are not recorded either: only those during m.Run are.)
func TestSourcesAreInputs(t *testing.T) {
	n := 0
	filepath.WalkDir("..", func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && (strings.HasSuffix(p, ".go") || d.Name() == "go.mod" || d.Name() == "go.sum") {
			if _, err := os.Stat(p); err == nil {
				n++
			}
		}
		return nil
	})
	if n == 0 {
		t.Fatal("found no source files above the e2e directory")
	}
}

// mirror is a running gomirror process.
type mirror struct {
	URL  string
	cmd  *exec.Cmd
	logs *testutil.Buffer
	done chan error
}

var listening = regexp.MustCompile(`msg="gomirror listening" addr=\S+ url=(\S+)|"msg":"gomirror listening","addr":"[^"]+","url":"([^"]+)"`)

// startMirror runs `gomirror serve` with args on a free loopback port and
// waits until it listens. It is stopped with SIGTERM at the end of the test.
func startMirror(t *testing.T, args ...string) *mirror {
	t.Helper()
	return startMirrorEnv(t, nil, args...)
}

// startMirrorEnv is startMirror with env added to gomirror's environment.
func startMirrorEnv(t *testing.T, env []string, args ...string) *mirror {
	t.Helper()
	cmd := exec.Command(gomirrorBin, append([]string{"serve", "--listen", "127.0.0.1:0"}, args...)...)
	// The vulnerability database is off unless a test's env turns it on
	// (GOMIRROR_VULNDB=module): its first refresh would fetch a 25 MB
	// module from the upstream at every start.
	cmd.Env = append(append(os.Environ(), "GOFLAGS=", "GOMIRROR_VULNDB=off"), env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	m := &mirror{cmd: cmd, logs: &testutil.Buffer{}, done: make(chan error, 1)}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			m.logs.Write([]byte(line + "\n"))
			if mm := listening.FindStringSubmatch(line); mm != nil {
				addr <- mm[1] + mm[2]
			}
		}
		io.Copy(io.Discard, stderr)
		m.done <- cmd.Wait()
	}()
	select {
	case a := <-addr:
		m.URL = a
	case err := <-m.done:
		t.Fatalf("gomirror exited before listening: %v\n%s", err, m.logs)
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("gomirror did not start listening:\n%s", m.logs)
	}
	t.Cleanup(func() { m.stop(t) })
	return m
}

// httpGet returns the body of a 200 response to GET url.
func httpGet(url string) (string, error) {
	resp, err := http.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("%s: %s", resp.Status, b)
	}
	return string(b), err
}

// stop sends SIGTERM and waits for a clean exit.
func (m *mirror) stop(t *testing.T) {
	if m.cmd.ProcessState != nil {
		return
	}
	m.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-m.done:
		if err != nil {
			t.Errorf("gomirror exited with %v after SIGTERM\n%s", err, tail(m.logs.String(), 30))
		}
	case <-time.After(60 * time.Second):
		m.cmd.Process.Kill()
		t.Errorf("gomirror did not exit after SIGTERM")
	}
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// goEnv is a clean environment for the go command: only what the test sets
// decides where modules come from.
func goEnv(t *testing.T, proxy, sumdb string) []string {
	t.Helper()
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "GO") && k != "GOROOT" && k != "GOCACHE" {
			continue
		}
		env = append(env, kv)
	}
	return append(env,
		// Its own GOPATH: the go command keeps checksum database state in
		// $GOPATH/pkg/sumdb, which must not leak between tests.
		"GOPATH="+t.TempDir(),
		"GOPROXY="+proxy,
		"GOSUMDB="+sumdb,
		"GOMODCACHE="+t.TempDir(),
		"GOENV=off",
		"GOFLAGS=-modcacherw",
		"GONOSUMDB=", "GONOPROXY=", "GOPRIVATE=", "GOINSECURE=",
		"GOTOOLCHAIN=local",
		"GO111MODULE=on",
	)
}

// goCmd runs the go command in dir with env and returns its combined output.
func goCmd(ctx context.Context, t *testing.T, dir string, env []string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir, cmd.Env = dir, env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func mustGo(ctx context.Context, t *testing.T, dir string, env []string, args ...string) string {
	t.Helper()
	out, err := goCmd(ctx, t, dir, env, args...)
	if err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, tail(out, 40))
	}
	return out
}

// writeFiles creates files (name to content) under dir.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
