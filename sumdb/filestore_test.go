package sumdb_test

import (
	"bytes"
	"context"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb"

	"github.com/gomirror/gomirror/internal/fakeproxy"
	"github.com/gomirror/gomirror/internal/sumdbtest"
	"github.com/gomirror/gomirror/layout"
	fsstore "github.com/gomirror/gomirror/storage/fs"
	mirrorsumdb "github.com/gomirror/gomirror/sumdb"
)

// storeOps is a checksum database client (as the go command's with
// GOPROXY=file://<store>) that reads the database only from a store's
// sumdb/<name>/ directory, with an empty cache and no tree head.
type storeOps struct {
	t    *testing.T
	dir  string // <store>/sumdb/<name>
	key  string
	conf map[string][]byte
}

func (o *storeOps) ReadRemote(path string) ([]byte, error) {
	return os.ReadFile(filepath.Join(o.dir, filepath.FromSlash(path)))
}
func (o *storeOps) ReadConfig(file string) ([]byte, error) {
	if file == "key" {
		return []byte(o.key), nil
	}
	return o.conf[file], nil
}
func (o *storeOps) WriteConfig(file string, old, new []byte) error {
	o.conf[file] = new
	return nil
}
func (o *storeOps) ReadCache(file string) ([]byte, error) { return nil, fs.ErrNotExist }
func (o *storeOps) WriteCache(file string, data []byte)   {}
func (o *storeOps) Log(msg string)                        {}
func (o *storeOps) SecurityError(msg string)              { o.t.Errorf("security error: %s", msg) }

// TestStoreServesVerifiedLookupsAsFileTree: after gomirror verified a
// module, its store holds what a client needs to verify it with the store
// alone: sumdb/<name>/supported, the lookup and the tiles that prove it.
func TestStoreServesVerifiedLookupsAsFileTree(t *testing.T) {
	up := fakeproxy.New(t)
	growDB(t, up, 0, 20) // a log of some size, with more than one tile level's worth of records
	dir := t.TempDir()
	store, err := fsstore.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	v, _ := sumdbtest.Verifier(t, up, store, "")
	ctx := context.Background()
	for _, m := range []string{"example.com/m003", "example.com/m017"} {
		if _, err := v.Lookup(ctx, m, "v1.0.0"); err != nil {
			t.Fatal(err)
		}
	}
	if err := v.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(layout.SumDBSupportedKey(fakeproxy.DBName)))); err != nil || len(b) != 0 {
		t.Fatalf("sumdb/<name>/supported: %q, %v; want an empty file", b, err)
	}
	// A store filled by a version that did not write it gets it at start.
	supported := filepath.Join(dir, filepath.FromSlash(layout.SumDBSupportedKey(fakeproxy.DBName)))
	if err := os.Remove(supported); err != nil {
		t.Fatal(err)
	}
	v2, _ := sumdbtest.Verifier(t, up, store, "")
	if err := v2.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(supported); err != nil {
		t.Fatalf("a restart over a store with a verified tree head did not write supported: %v", err)
	}
	up.Close() // the store alone
	c := sumdb.NewClient(&storeOps{t: t, dir: filepath.Join(dir, layout.SumDBDir, fakeproxy.DBName), key: up.DBKey, conf: map[string][]byte{}})
	for _, m := range []string{"example.com/m017", "example.com/m003"} {
		lines, err := c.Lookup(m, "v1.0.0")
		if err != nil {
			t.Fatalf("lookup of %s from the store alone: %v", m, err)
		}
		if len(lines) != 1 || !strings.HasPrefix(lines[0], m+" v1.0.0 h1:") {
			t.Errorf("lookup of %s from the store: %q", m, lines)
		}
	}
	// What the store does not hold is "not found", not a wrong answer.
	if _, err := c.Lookup("example.com/m010", "v1.0.0"); err == nil {
		t.Errorf("lookup of a module the store lacks succeeded")
	}
}

// TestStoreProvesLookupsSignedAtOlderTrees: a database's lookups can be
// signed at older tree sizes than the tree gomirror verified (a lookup
// answered from a cache in front of the database), each at its own. A
// fresh client reading only the store checks each record's tree against
// the others' (in the larger of the two), so the store must hold the
// partial tiles of every stored record's tree, not only those of the
// verified one, whatever order the client looks them up in.
func TestStoreProvesLookupsSignedAtOlderTrees(t *testing.T) {
	up := fakeproxy.New(t)
	dir := t.TempDir()
	store, err := fsstore.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	// Lookups answered as the database answered them while its log grew:
	// each signed at its own tree size, crossing a level-1 tile boundary
	// (256 records) on the way.
	steps := []struct {
		grow   int
		lookup string
	}{
		{20, "example.com/m003"},
		{40, "example.com/m030"},
		{300, "example.com/m017"},
		{330, "example.com/m310"},
		{600, "example.com/m005"},
	}
	old := make(map[string][]byte) // URL path -> the database's answer then
	var mods []string
	from := 0
	for _, s := range steps {
		growDB(t, up, from, s.grow)
		from = s.grow
		p := "/sumdb/" + fakeproxy.DBName + "/lookup/" + s.lookup + "@v1.0.0"
		resp, err := http.Get(up.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		old[p], err = io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("lookup %s: %s, %v", p, resp.Status, err)
		}
		mods = append(mods, s.lookup)
	}
	growDB(t, up, from, from+5)
	up.SetHook(func(w http.ResponseWriter, r *http.Request) bool {
		if b, ok := old[r.URL.Path]; ok {
			w.Write(b)
			return true
		}
		return false
	})
	v, _ := sumdbtest.Verifier(t, up, store, "")
	ctx := context.Background()
	// The verified tree first, then the older lookups.
	mods = append([]string{"example.com/m601"}, mods...)
	for _, m := range mods {
		if _, err := v.Lookup(ctx, m, "v1.0.0"); err != nil {
			t.Fatal(err)
		}
	}
	if err := v.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	up.Close() // the store alone
	orders := [][]int{{1, 2, 3, 4, 5, 0}, {5, 4, 3, 2, 1, 0}, {3, 1, 5, 2, 0, 4}, {4, 2}, {5, 1}, {2, 3}, {0, 1}}
	for _, order := range orders {
		c := sumdb.NewClient(&storeOps{t: t, dir: filepath.Join(dir, layout.SumDBDir, fakeproxy.DBName), key: up.DBKey, conf: map[string][]byte{}})
		for _, i := range order {
			m := mods[i]
			lines, err := c.Lookup(m, "v1.0.0")
			if err != nil {
				t.Fatalf("order %v: lookup of %s from the store alone: %v", order, m, err)
			}
			if len(lines) != 1 || !strings.HasPrefix(lines[0], m+" v1.0.0 h1:") {
				t.Errorf("order %v: lookup of %s from the store: %q", order, m, lines)
			}
		}
	}
}

// TestEndpointAnswersNarrowerTileFromWider: a narrower partial tile is
// the prefix of a stored wider or full tile at its position, so the
// endpoint answers it from storage, with the database gone, and stores it.
func TestEndpointAnswersNarrowerTileFromWider(t *testing.T) {
	up := fakeproxy.New(t)
	growDB(t, up, 0, 300)
	dir := t.TempDir()
	store, err := fsstore.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	v, chain := sumdbtest.Verifier(t, up, store, "")
	remote, err := mirrorsumdb.NewRemote(v.DB(), chain, nil)
	if err != nil {
		t.Fatal(err)
	}
	ep := mirrorsumdb.NewEndpoint(v, store, remote, time.Minute)
	ctx := context.Background()
	for _, m := range []string{"example.com/m003", "example.com/m290"} { // a full and a partial level-0 tile
		if _, err := v.Lookup(ctx, m, "v1.0.0"); err != nil {
			t.Fatal(err)
		}
	}
	if err := v.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	tileDir := filepath.Join(dir, layout.SumDBDir, fakeproxy.DBName)
	read := func(p string) []byte {
		b, err := os.ReadFile(filepath.Join(tileDir, filepath.FromSlash(p)))
		if err != nil {
			t.Fatalf("stored %s: %v", p, err)
		}
		return b
	}
	full := read("tile/8/0/000")
	var wide string // the verified tree's partial level-0 tile
	ents, err := os.ReadDir(filepath.Join(tileDir, "tile/8/0/001.p"))
	if err != nil || len(ents) == 0 {
		t.Fatalf("no partial level-0 tile stored: %v", err)
	}
	wide = "tile/8/0/001.p/" + ents[len(ents)-1].Name()
	wideData := read(wide)
	up.Close() // the store alone
	for _, tc := range []struct {
		path string
		want []byte
	}{
		{"tile/8/0/000.p/5", full[:5*32]},
		{"tile/8/0/000.p/255", full[:255*32]},
		{"tile/8/0/001.p/1", wideData[:32]},
	} {
		b, _, err := ep.Get(ctx, tc.path)
		if err != nil {
			t.Errorf("%s with the database gone: %v", tc.path, err)
			continue
		}
		if !bytes.Equal(b, tc.want) {
			t.Errorf("%s: not the prefix of the wider stored tile", tc.path)
		}
		if err := v.Wait(ctx); err != nil {
			t.Fatal(err)
		}
		if got := read(tc.path); !bytes.Equal(got, tc.want) {
			t.Errorf("%s stored as %d bytes, want %d", tc.path, len(got), len(tc.want))
		}
	}
	// Wider than anything stored: not made up.
	if b, _, err := ep.Get(ctx, "tile/8/0/001.p/255"); err == nil {
		t.Errorf("a tile wider than any stored one was answered (%d bytes)", len(b))
	}
}
