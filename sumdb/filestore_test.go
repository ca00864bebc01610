package sumdb_test

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb"

	"github.com/gomirror/gomirror/internal/fakeproxy"
	"github.com/gomirror/gomirror/internal/sumdbtest"
	"github.com/gomirror/gomirror/layout"
	fsstore "github.com/gomirror/gomirror/storage/fs"
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
