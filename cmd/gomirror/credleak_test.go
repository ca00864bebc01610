package main

import (
	"os"
	"strings"
	"testing"

	"github.com/gomirror/gomirror/internal/testutil"
)

// TestWarmRedactsMirror: warm --mirror with a token as the URL's
// user name prints the URL raw in its progress lines and errors.
func TestWarmRedactsMirror(t *testing.T) {
	stdout, stderr, err := runWarmCmd(t, "--mirror", "http://tok3nAsUser@127.0.0.1:1", "example.com/hello@v1.1.0")
	all := stdout + stderr
	if err != nil {
		all += err.Error()
	}
	if strings.Contains(all, "tok3nAsUser") {
		t.Errorf("the token is shown:\n%s", all)
	}
}

// TestGraphRedactsProxy: gomirror graph prints go env GOPROXY
// (or --proxy) raw on standard error, a CI log: a token in the URL's user
// name is shown.
func TestGraphRedactsProxy(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("GOENV", "off")
	t.Setenv("GOFLAGS", "")
	gomod := dir + "/go.mod"
	if err := os.WriteFile(gomod, []byte("module example.com/p\n\ngo 1.22\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, err := testutil.RunCommand(t, newGraph(), nil, "--proxy", "http://tok3nAsUser@127.0.0.1:1", gomod)
	all := stdout + stderr
	if err != nil {
		all += err.Error()
	}
	if strings.Contains(all, "tok3nAsUser") {
		t.Errorf("the token is shown:\n%s", all)
	}
}
