package warm

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"golang.org/x/mod/module"

	"github.com/gomirror/gomirror/internal/fakeproxy"
)

func TestLookups(t *testing.T) {
	up := fakeproxy.New(t)
	mods := []module.Version{
		{Path: "example.com/hello", Version: "v1.1.0"},
		{Path: "example.com/dep", Version: "v1.0.0"},
		{Path: "example.com/nosuch", Version: "v1.0.0"},
		{Path: "corp.example/private", Version: "v1.0.0"},
	}
	exempt := func(p string) bool { return module.MatchPrefixPatterns("corp.example", p) }
	sum, err := Lookups(context.Background(), nil, up.URL, up.DBKey, mods, exempt, 2)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Lookups != 2 || sum.Exempt != 1 || len(sum.Failures) != 1 || sum.Failures[0].Mod.Path != "example.com/nosuch" {
		t.Errorf("summary %+v", sum)
	}
	prefix := "/sumdb/" + fakeproxy.DBName + "/"
	for _, p := range []string{"supported", "lookup/example.com/hello@v1.1.0", "lookup/example.com/dep@v1.0.0"} {
		if up.Hits(prefix+p) != 1 {
			t.Errorf("%d requests for %s, want 1", up.Hits(prefix+p), p)
		}
	}
	var tiles, latest int
	for _, r := range up.Requests() {
		if strings.Contains(r, prefix+"tile/") {
			tiles++
		}
		if strings.Contains(r, prefix+"latest") {
			latest++
		}
	}
	if tiles == 0 || latest != 0 {
		t.Errorf("%d tiles and %d latest asked, want some tiles and no latest:\n%s", tiles, latest, strings.Join(up.Requests(), "\n"))
	}
	if up.Hits(prefix+"lookup/corp.example/private@v1.0.0") != 0 {
		t.Error("an exempt path was looked up")
	}
	if sum.Files != 1+2+tiles { // supported, two lookups, the tiles (not the failed lookup)
		t.Errorf("files %d, want %d", sum.Files, 1+2+tiles)
	}
}

func TestLookupsNotProxied(t *testing.T) {
	up := fakeproxy.New(t)
	up.SetHook(func(w http.ResponseWriter, r *http.Request) bool {
		if strings.HasPrefix(r.URL.Path, "/sumdb/") {
			http.NotFound(w, r)
			return true
		}
		return false
	})
	_, err := Lookups(context.Background(), nil, up.URL, up.DBKey, []module.Version{{Path: "example.com/hello", Version: "v1.1.0"}}, nil, 1)
	if err == nil || !strings.Contains(err.Error(), "does not proxy the checksum database") {
		t.Errorf("error %v", err)
	}
}

func TestLookupsWrongKey(t *testing.T) {
	up := fakeproxy.New(t)
	other := fakeproxy.New(t) // another database of the same name
	sum, err := Lookups(context.Background(), nil, up.URL, other.DBKey, []module.Version{{Path: "example.com/hello", Version: "v1.1.0"}}, nil, 1)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Lookups != 0 || len(sum.Failures) != 1 {
		t.Errorf("summary %+v: a lookup signed with another key passed", sum)
	}
}
