package warm

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"golang.org/x/mod/module"

	"github.com/gomirror/gomirror/internal/fakeproxy"
	"github.com/gomirror/gomirror/sumdb"
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
	sum, err := Lookups(context.Background(), nil, up.URL, up.DBKey, nil, mods, exempt, 2)
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
	_, err := Lookups(context.Background(), nil, up.URL, up.DBKey, nil, []module.Version{{Path: "example.com/hello", Version: "v1.1.0"}}, nil, 1)
	if err == nil || !strings.Contains(err.Error(), "does not proxy the checksum database") {
		t.Errorf("error %v", err)
	}
}

func TestLookupsWrongKey(t *testing.T) {
	up := fakeproxy.New(t)
	other := fakeproxy.New(t) // another database of the same name
	sum, err := Lookups(context.Background(), nil, up.URL, other.DBKey, nil, []module.Version{{Path: "example.com/hello", Version: "v1.1.0"}}, nil, 1)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Lookups != 0 || len(sum.Failures) != 1 {
		t.Errorf("summary %+v: a lookup signed with another key passed", sum)
	}
}

// cachingMirror stands in for a mirror in front of up: the first answer
// to each path is stored and served from then on; with offline set, a
// path not stored is 404.
type cachingMirror struct {
	up      string
	mu      sync.Mutex
	stored  map[string][]byte
	offline bool
}

func (c *cachingMirror) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if b, ok := c.stored[r.URL.Path]; ok {
		w.Write(b)
		return
	}
	if c.offline {
		http.NotFound(w, r)
		return
	}
	resp, err := http.Get(c.up + r.URL.Path)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		w.WriteHeader(resp.StatusCode)
		return
	}
	c.stored[r.URL.Path] = b
	w.Write(b)
}

// TestLookupsFromTheLocalTree: a go command whose checksum database state
// already holds a tree (its $GOPATH/pkg/sumdb/<name>/latest), newer than
// the lookups a mirror stored, proves the lookups' trees consistent with
// it: Lookups given that tree fetches those proofs' tiles too, so that the
// mirror serves such a client offline.
func TestLookupsFromTheLocalTree(t *testing.T) {
	up := fakeproxy.New(t)
	cm := &cachingMirror{up: up.URL, stored: map[string][]byte{}}
	mirror := httptest.NewServer(cm)
	defer mirror.Close()
	ctx := context.Background()
	mods := []module.Version{{Path: "example.com/hello", Version: "v1.1.0"}, {Path: "example.com/dep", Version: "v1.0.0"}}
	// The mirror has the lookups at the database's tree of the time.
	if sum, err := Lookups(ctx, nil, mirror.URL, up.DBKey, nil, mods, nil, 1); err != nil || sum.Lookups != 2 {
		t.Fatalf("first Lookups: %+v, %v", sum, err)
	}
	// The database grows; the local go command has seen the newer tree.
	base := up.URL + "/sumdb/" + fakeproxy.DBName
	for _, p := range []string{"/lookup/example.com/hello@v1.2.0", "/lookup/example.com/hello@v1.0.0"} {
		if b, err := httpGet(t, base+p); err != nil {
			t.Fatalf("%s: %v %s", p, err, b)
		}
	}
	latest, err := httpGet(t, base+"/latest")
	if err != nil {
		t.Fatal(err)
	}
	sum, err := Lookups(ctx, nil, mirror.URL, up.DBKey, latest, mods, nil, 1)
	if err != nil || sum.Lookups != 2 || len(sum.Failures) != 0 || sum.LocalTree != 4 {
		t.Fatalf("Lookups from the local tree: %+v, %v", sum, err)
	}
	// Offline, a client at that tree verifies the lookups.
	cm.mu.Lock()
	cm.offline = true
	cm.mu.Unlock()
	c := sumdb.NewProxyClient(ctx, nil, mirror.URL+"/sumdb/"+fakeproxy.DBName, up.DBKey, 0).WithLatest(latest)
	for _, m := range mods {
		if _, err := c.Lookup(m.Path, m.Version); err != nil {
			t.Errorf("offline lookup of %s at the local tree: %v", m, c.Reason(err))
		}
	}

	// A local tree not signed with the key is not used: a failure of the
	// whole.
	other := fakeproxy.New(t)
	otherLatest, err := httpGet(t, other.URL+"/sumdb/"+fakeproxy.DBName+"/latest")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Lookups(ctx, nil, up.URL, up.DBKey, otherLatest, mods, nil, 1); err == nil {
		t.Error("Lookups accepted a local tree signed with another key")
	}
}

func httpGet(t *testing.T, url string) ([]byte, error) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = errors.New(resp.Status)
	}
	return b, err
}
