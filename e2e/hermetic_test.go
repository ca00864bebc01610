package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/gomirror/gomirror/internal/fakeproxy"
)

// TestGoCommandThroughMirror builds a project whose dependencies come from a
// fake upstream, with the go command verifying checksums through gomirror's
// /sumdb/ proxy, then again from storage alone with the upstream off.
func TestGoCommandThroughMirror(t *testing.T) {
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

	mixed "example.com/MixedCase"
	"example.com/hello"
	hello2 "example.com/hello/v2"
	"example.com/legacy"
)

func main() { fmt.Println(hello.Hello(), hello2.Hello(), mixed.Answer, legacy.Legacy) }
`,
	})
	env := goEnv(t, m.URL, up.DBKey)
	mustGo(ctx, t, project, env, "get", "example.com/hello@v1.1.0", "example.com/legacy@v2.1.0+incompatible")
	mustGo(ctx, t, project, env, "mod", "tidy")
	out := mustGo(ctx, t, project, env, "run", ".")
	if !strings.Contains(out, "hello v1.1.0 dep hello v2 42 true") {
		t.Errorf("program output %q", out)
	}
	logs := m.logs.String()
	if !strings.Contains(logs, "path=/sumdb/"+fakeproxy.DBName+"/lookup/example.com/hello@v1.1.0") {
		t.Errorf("the go command's checksum lookups did not go through gomirror")
	}

	// The upstream disappears; a fresh client builds from storage alone.
	m.stop(t)
	up.Close()
	off := startMirror(t, "--storage-dir", store, "--upstream", "off", "--sumdb", up.DBKey)
	env = goEnv(t, off.URL, up.DBKey)
	mustGo(ctx, t, project, env, "mod", "download")
	if out := mustGo(ctx, t, project, env, "run", "."); !strings.Contains(out, "hello v1.1.0 dep") {
		t.Errorf("offline program output %q", out)
	}
}

// TestGoCommandSeesTamperingRefused shows what a developer sees when the
// upstream serves a zip that disagrees with the checksum database.
func TestGoCommandSeesTamperingRefused(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	up := fakeproxy.New(t)
	up.Tamper(t, "example.com/hello", "v1.0.0", true, false)
	m := startMirror(t, "--storage-dir", t.TempDir(), "--upstream", up.URL, "--sumdb", up.DBKey)
	project := t.TempDir()
	writeFiles(t, project, map[string]string{"go.mod": "module example.com/app\n\ngo 1.21\n"})
	out, err := goCmd(ctx, t, project, goEnv(t, m.URL, up.DBKey), "get", "example.com/hello@v1.0.0")
	if err == nil {
		t.Fatalf("go get of a tampered module succeeded:\n%s", out)
	}
	for _, want := range []string{"502 Bad Gateway", "checksum mismatch", "SECURITY ERROR"} {
		if !strings.Contains(out, want) {
			t.Errorf("go command output lacks %q:\n%s", want, out)
		}
	}
}
