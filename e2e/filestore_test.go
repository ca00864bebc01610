package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gomirror/gomirror/internal/fakeproxy"
)

// TestStoreAsFileGOPROXY: a store filled through gomirror is a complete
// GOPROXY=file:// tree for what it holds, checksum database included: the
// go command, configured with the database's key alone (as the default
// GOSUMDB is: no URL, no proxy that knows it), an empty go.sum and no
// network, downloads and builds from it, and refuses a go.mod tampered
// with in the store.
func TestStoreAsFileGOPROXY(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	up := fakeproxy.New(t)
	store := t.TempDir()
	m := startMirror(t, "--storage-dir", store, "--upstream", up.URL, "--sumdb", up.DBKey)

	project := fillHelloProject(ctx, t, m, up)
	if _, err := os.Stat(filepath.Join(store, "sumdb", fakeproxy.DBName, "supported")); err != nil {
		t.Fatalf("the store does not say it holds the checksum database: %v", err)
	}

	// No network: a proxy for anything not loopback at a closed port, and
	// the database's own host does not resolve.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + l.Addr().String()
	l.Close()
	offline := func() []string {
		return append(goEnv(t, "file://"+filepath.ToSlash(store), up.DBKey),
			"GOFLAGS=-modcacherw -mod=mod", "HTTPS_PROXY="+dead, "HTTP_PROXY="+dead, "NO_PROXY=")
	}
	if err := os.Remove(filepath.Join(project, "go.sum")); err != nil {
		t.Fatal(err)
	}
	env := offline()
	mustGo(ctx, t, project, env, "mod", "download")
	out := mustGo(ctx, t, project, env, "run", ".")
	if !strings.Contains(out, "hello v1.1.0") {
		t.Errorf("program output %q", out)
	}
	sum, err := os.ReadFile(filepath.Join(project, "go.sum"))
	if err != nil || !strings.Contains(string(sum), "example.com/hello v1.1.0 h1:") {
		t.Errorf("go.sum after the offline build: %q, %v", sum, err)
	}

	// A go.mod changed in the store is refused by the checksum database
	// data the store holds.
	if err := os.Remove(filepath.Join(project, "go.sum")); err != nil {
		t.Fatal(err)
	}
	mod := filepath.Join(store, "example.com", "hello", "@v", "v1.1.0.mod")
	b, err := os.ReadFile(mod)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(mod, append(b, "// tampered\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err = goCmd(ctx, t, project, offline(), "mod", "download")
	if err == nil {
		t.Fatalf("go mod download of a tampered store succeeded:\n%s", out)
	}
	for _, want := range []string{"example.com/hello@v1.1.0", "checksum mismatch", "SECURITY ERROR"} {
		if !strings.Contains(out, want) {
			t.Errorf("go command output lacks %q:\n%s", want, out)
		}
	}
}

// TestStoreAsFileGOPROXYOlderTrees: lookups answered (as a cache in front
// of a database does) with tree heads older than the one gomirror verified
// first, each its own. The go command reading the store alone checks one
// record's tree against another's, which needs those older trees' partial
// tiles: the store must hold them.
func TestStoreAsFileGOPROXYOlderTrees(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	up := fakeproxy.New(t)
	lookup := func(p string) []byte {
		t.Helper()
		resp, err := http.Get(up.URL + "/sumdb/" + fakeproxy.DBName + "/lookup/" + p)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("lookup %s: %s, %v", p, resp.Status, err)
		}
		return b
	}
	n := 0
	grow := func(k int) { // k more records in the log
		for range k {
			p := fmt.Sprintf("example.com/grow%04d", n)
			n++
			if _, err := up.Add(p, "v1.0.0", map[string][]byte{"go.mod": []byte("module " + p + "\n")}); err != nil {
				t.Fatal(err)
			}
			lookup(p + "@v1.0.0")
		}
	}
	old := make(map[string][]byte) // URL path -> the database's answer at an older tree
	for _, p := range []string{"example.com/hello@v1.1.0", "example.com/hello/v2@v2.0.0", "example.com/dep@v1.0.0", "example.com/hello@v1.0.0", "example.com/hello@v1.2.0"} {
		grow(150)
		old["/sumdb/"+fakeproxy.DBName+"/lookup/"+p] = lookup(p)
	}
	grow(10)
	store := t.TempDir()
	m := startMirror(t, "--storage-dir", store, "--upstream", up.URL, "--sumdb", up.DBKey)
	// The verified tree first: a lookup signed at the newest tree.
	resp, err := http.Get(m.URL + "/sumdb/" + fakeproxy.DBName + "/lookup/example.com/grow0000@v1.0.0")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("lookup through the mirror: %s", resp.Status)
	}
	up.SetHook(func(w http.ResponseWriter, r *http.Request) bool {
		if b, ok := old[r.URL.Path]; ok {
			w.Write(b)
			return true
		}
		return false
	})

	project := fillHelloProject(ctx, t, m, up)

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + l.Addr().String()
	l.Close()
	env := append(goEnv(t, "file://"+filepath.ToSlash(store), up.DBKey),
		"GOFLAGS=-modcacherw -mod=mod", "HTTPS_PROXY="+dead, "HTTP_PROXY="+dead, "NO_PROXY=")
	if err := os.Remove(filepath.Join(project, "go.sum")); err != nil {
		t.Fatal(err)
	}
	mustGo(ctx, t, project, env, "mod", "download")
	out := mustGo(ctx, t, project, env, "run", ".")
	if !strings.Contains(out, "hello v1.1.0") {
		t.Errorf("program output %q", out)
	}

	// The same store served with the upstream off, to a fresh go command
	// that reads the database through the mirror.
	off := startMirror(t, "--storage-dir", store, "--upstream", "off", "--sumdb", up.DBKey)
	env = append(goEnv(t, off.URL, up.DBKey), "GOFLAGS=-modcacherw -mod=mod", "HTTPS_PROXY="+dead, "HTTP_PROXY="+dead, "NO_PROXY=127.0.0.1")
	if err := os.Remove(filepath.Join(project, "go.sum")); err != nil {
		t.Fatal(err)
	}
	mustGo(ctx, t, project, env, "mod", "download")
	if out := mustGo(ctx, t, project, env, "run", "."); !strings.Contains(out, "hello v1.1.0") {
		t.Errorf("program output through the mirror, upstream off: %q", out)
	}
}

// fillHelloProject writes a project that uses example.com/hello v1 and v2
// and has the go command fill m's store with it, the checksum database off
// for that client (so what the store holds of the database is what gomirror
// stored verifying the modules); then it stops m and up. It returns the
// project's directory.
func fillHelloProject(ctx context.Context, t *testing.T, m *mirror, up *fakeproxy.Server) string {
	t.Helper()
	project := t.TempDir()
	writeFiles(t, project, map[string]string{
		"go.mod": "module example.com/app\n\ngo 1.21\n",
		"main.go": `package main

import (
	"fmt"

	"example.com/hello"
	hello2 "example.com/hello/v2"
)

func main() { fmt.Println(hello.Hello(), hello2.Hello()) }
`,
	})
	fill := goEnv(t, m.URL, "off")
	mustGo(ctx, t, project, fill, "get", "example.com/hello@v1.1.0")
	mustGo(ctx, t, project, fill, "mod", "tidy")
	m.stop(t)
	up.Close()
	return project
}
