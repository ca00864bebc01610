package server

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"golang.org/x/mod/module"

	"github.com/gomirror/gomirror/internal/fakeproxy"
)

// TestLongElementsAreNotServerErrors asks for module paths and versions
// whose storage key would have an element longer than 255 bytes (which no
// file system or the go command's module cache can hold): each is a 404
// that says why, never a 5xx, and reaches neither the upstream nor the
// checksum database.
func TestLongElementsAreNotServerErrors(t *testing.T) {
	up := fakeproxy.New(t)
	s := start(t, up, nil)
	long := strings.Repeat("a", 300)
	mid := strings.Repeat("b", 200)
	versions := []struct{ path, version string }{
		{"example.com/hello", "v1.0.0-" + long},                                    // prerelease
		{"example.com/hello", "v1.2.3-" + long + ".0.20240102030405-abcdefabcdef"}, // pseudo-version
		{"example.com/hello", "v0.0.0-20240102030405-" + strings.Repeat("f", 280)}, // pseudo-version, long revision
		{"example.com/legacy", "v2.0.0-" + long + "+incompatible"},                 // +incompatible
		{"example.com/" + long, "v1.0.0"},                                          // path element
		{"example.com/" + strings.ToUpper(mid[:130]), "v1.0.0"},                    // 130 bytes, 260 escaped
		{"example.com/hello", "v1.0.0-" + strings.Repeat("c", 245)},                // 252 bytes, 260 with .ziphash
	}
	var paths []string
	for _, v := range versions {
		ep, err := module.EscapePath(v.path)
		if err != nil {
			t.Fatal(err)
		}
		for _, ext := range []string{".info", ".mod", ".zip"} {
			paths = append(paths, "/"+ep+"/@v/"+v.version+ext)
		}
		paths = append(paths, "/sumdb/"+fakeproxy.DBName+"/lookup/"+ep+"@"+v.version)
	}
	for _, p := range []string{"example.com/" + long, "example.com/x/" + long + "/y"} {
		paths = append(paths, "/"+p+"/@v/list", "/"+p+"/@latest", "/"+p+"/@v/main.info")
	}
	// Each element fits, but the lookup's last one, path element and
	// version joined by "@", does not.
	paths = append(paths, "/sumdb/"+fakeproxy.DBName+"/lookup/example.com/"+mid+"@v1.0.0-"+strings.Repeat("d", 100))
	before := len(up.Requests())
	for _, p := range paths {
		r := get(t, s.URL+p)
		if r.code != http.StatusNotFound || !strings.Contains(r.body, "255") {
			t.Errorf("GET %.80s... (%d bytes): %d %q; want 404 saying why", p, len(p), r.code, r.body)
		}
	}
	if err := s.WaitFills(context.Background()); err != nil {
		t.Fatal(err)
	}
	if reqs := up.Requests()[before:]; len(reqs) != 0 {
		t.Errorf("the upstream was asked %d times: %.200q", len(reqs), reqs)
	}
}
