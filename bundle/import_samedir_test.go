package bundle_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/gomirror/gomirror/bundle"
	"github.com/gomirror/gomirror/internal/fakeproxy"
	"github.com/gomirror/gomirror/storage/mem"
	gsumdb "github.com/gomirror/gomirror/sumdb"
)

// TestSameParentVersions: many versions of one module (one @v
// directory, created by concurrent renames) imported into an empty fs
// store through the adopt path.
func TestSameParentVersions(t *testing.T) {
	up := fakeproxy.New(t)
	db, err := gsumdb.ParseGOSUMDB(up.DBKey, nil)
	if err != nil {
		t.Fatal(err)
	}
	var mods []bundle.Module
	for i := range 24 {
		v := fmt.Sprintf("v1.%d.0", i)
		if _, err := up.Add("example.com/many", v, map[string][]byte{"go.mod": []byte("module example.com/many\n"), "m.go": []byte("package m\n")}); err != nil {
			t.Fatal(err)
		}
		mods = append(mods, bundle.Module{Path: "example.com/many", Version: v})
	}
	var buf bytes.Buffer
	if _, err := bundle.Export(context.Background(), &buf, mods, bundle.ExportOptions{Storage: mem.New(), Fetch: upFetcher{up}, DB: db}); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		dst, _ := newFS(t)
		rep, err := bundle.Import(context.Background(), bytes.NewReader(buf.Bytes()), bundle.ImportOptions{Storage: dst, DB: db})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Added != 3*24 {
			t.Fatalf("added %d", rep.Added)
		}
	}
}
