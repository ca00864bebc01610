package main

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomirror/gomirror/internal/fakeproxy"
	"github.com/gomirror/gomirror/internal/testutil"
)

// runWarmCmd runs newWarm() with args, the go command it runs finding
// modules nowhere but through the mirror it is given.
func runWarmCmd(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("GOPROXY", "off")
	t.Setenv("GOPATH", filepath.Join(dir, "gopath"))
	t.Setenv("GOENV", "off")
	return testutil.RunCommand(t, newWarm(), nil, args...)
}

func TestWarmArgs(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "--mirror"},
		{[]string{"--mirror", "127.0.0.1:3000"}, "http or https"},
		{[]string{"--mirror", "http://127.0.0.1:1", "--jobs", "0"}, "--jobs"},
		{[]string{"--mirror", "http://127.0.0.1:1", "a/go.mod", "b/go.mod"}, "one go.mod"},
		{[]string{"--mirror", "http://127.0.0.1:1", "go.mod", "example.com/hello@v1.1.0"}, "one go.mod"},
	} {
		_, _, err := runWarmCmd(t, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("warm %q: error %v, want one containing %q", tc.args, err, tc.want)
		}
	}
}

func TestWarmModuleArgs(t *testing.T) {
	up := fakeproxy.New(t)
	stdout, stderr, err := runWarmCmd(t, "--mirror", up.URL, "example.com/hello@v1.1.0")
	if err != nil {
		t.Fatalf("%v\nstdout:\n%s\nstderr:\n%s", err, stdout, stderr)
	}
	want := "modules: 2\nfiles fetched: 6\nbytes: "
	if !strings.HasPrefix(stdout, want) || !strings.HasSuffix(stdout, "failures: 0\n") {
		t.Errorf("summary:\n%s\nwant it to start with:\n%s", stdout, want)
	}
	for _, p := range []string{"/example.com/hello/@v/v1.1.0.zip", "/example.com/dep/@v/v1.0.0.zip"} {
		if up.Hits(p) != 1 {
			t.Errorf("%d requests for %s, want 1", up.Hits(p), p)
		}
	}
}

func TestWarmGoModFailure(t *testing.T) {
	up := fakeproxy.New(t)
	up.SetHook(func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path == "/example.com/dep/@v/v1.0.0.zip" {
			http.Error(w, "upstream broke", http.StatusBadGateway)
			return true
		}
		return false
	})
	dir := t.TempDir()
	gomod := filepath.Join(dir, "go.mod")
	content := "module example.com/app\n\ngo 1.21\n\nrequire (\n\texample.com/hello v1.1.0\n\texample.com/dep v1.0.0 // indirect\n)\n"
	if err := os.WriteFile(gomod, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, err := runWarmCmd(t, "--mirror", up.URL, gomod)
	if err == nil || err.Error() != "1 of 6 files could not be fetched" {
		t.Errorf("error %v\nstderr:\n%s", err, stderr)
	}
	for _, want := range []string{"modules: 2\n", "files fetched: 5\n", "failures: 1\n  example.com/dep@v1.0.0 .zip: 502 Bad Gateway: upstream broke\n"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("summary lacks %q:\n%s", want, stdout)
		}
	}
	if got, _ := os.ReadFile(gomod); string(got) != content {
		t.Errorf("go.mod changed:\n%s", got)
	}
	if _, err := os.Stat(filepath.Join(dir, "go.sum")); err == nil {
		t.Error("warm wrote a go.sum next to the go.mod")
	}
}
