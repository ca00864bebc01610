package vulndb

import (
	"context"
	"fmt"
	"io/fs"
	"testing"

	"golang.org/x/mod/module"

	"github.com/gomirror/gomirror/cache"
	"github.com/gomirror/gomirror/layout"
	"github.com/gomirror/gomirror/storage"
	"github.com/gomirror/gomirror/storage/mem"
)

// fakeModules answers as the upstream does for golang.org/x/vulndb: no
// @latest, a list of pseudo-versions, zips.
type fakeModules struct {
	latest string // "" for 404
	list   string
	zips   map[string][]byte
	asked  []string
}

func (f *fakeModules) Latest(_ context.Context, em layout.Module) ([]byte, cache.Source, error) {
	f.asked = append(f.asked, "latest")
	if f.latest == "" {
		return nil, cache.Source{}, fmt.Errorf("not found: %w", fs.ErrNotExist)
	}
	return []byte(`{"Version":"` + f.latest + `"}`), cache.Source{}, nil
}

func (f *fakeModules) List(context.Context, layout.Module) ([]byte, cache.Source, error) {
	f.asked = append(f.asked, "list")
	return []byte(f.list), cache.Source{}, nil
}

func (f *fakeModules) Zip(_ context.Context, em layout.Module) (*storage.Object, cache.Source, error) {
	f.asked = append(f.asked, "zip "+em.Version().Version)
	b, ok := f.zips[em.Version().Version]
	if !ok {
		return nil, cache.Source{}, fs.ErrNotExist
	}
	return storage.BytesObject(b), cache.Source{}, nil
}

func TestModuleSource(t *testing.T) {
	ctx := context.Background()
	old, newest := "v0.0.0-20250101000000-aaaaaaaaaaaa", testVersion
	fm := &fakeModules{
		list: old + "\n" + newest + "\nnot-a-version\nv1\n",
		zips: map[string][]byte{old: makeZip(t, old, "GO-2021-0113"), newest: makeZip(t, newest, fixtureIDs...)},
	}
	st := mem.New()
	src := &ModuleSource{Mirror: fm, Storage: st}
	if _, err := src.Stored(ctx); err == nil {
		t.Fatal("Stored with nothing stored succeeded")
	}
	z, err := src.Fetch(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if z.Origin != DefaultModule+"@"+newest {
		t.Errorf("@latest 404: fetched %s, want the newest of the list", z.Origin)
	}
	if z, err := src.Fetch(ctx, DefaultModule+"@"+newest); z != nil || err != nil {
		t.Errorf("Fetch of the current version: %v, %v", z, err)
	}
	fm.latest = old
	if z, err := src.Fetch(ctx, DefaultModule+"@"+newest); err == nil || z != nil {
		t.Errorf("with @latest naming an older version, Fetch = %v, %v; want an error (no rollback)", z, err)
	}
	if z, err := src.Fetch(ctx, ""); err != nil || z == nil || z.Origin != DefaultModule+"@"+old {
		t.Errorf("with @latest answering, Fetch = %v, %v; want its version", z, err)
	}

	// Stored: the highest version whose zip is in storage.
	for v, b := range fm.zips {
		key, _ := layout.Key(module.Version{Path: DefaultModule, Version: v}, layout.Zip)
		storage.PutBytes(ctx, st, key, b)
	}
	infoKey, _ := layout.Key(module.Version{Path: DefaultModule, Version: "v0.0.0-20270101000000-bbbbbbbbbbbb"}, layout.Info)
	storage.PutBytes(ctx, st, infoKey, []byte(`{}`)) // a newer .info without its zip
	z, err = src.Stored(ctx)
	if err != nil || z.Origin != DefaultModule+"@"+newest {
		t.Fatalf("Stored = %v, %v", z, err)
	}
	db := New(Options{Source: &fakeSource{stored: z}})
	if err := db.Load(ctx); err != nil || db.Status().Entries != len(fixtureIDs) {
		t.Errorf("Load from storage: %v, %+v", err, db.Status())
	}
}
