package e2e

import (
	"context"
	"net"
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
	// The filling client does not use the checksum database: what the
	// store holds of it is what gomirror stored verifying the modules.
	fill := goEnv(t, m.URL, "off")
	mustGo(ctx, t, project, fill, "get", "example.com/hello@v1.1.0")
	mustGo(ctx, t, project, fill, "mod", "tidy")
	m.stop(t)
	up.Close()
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
