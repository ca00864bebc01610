package testutil

import (
	"context"
	"strings"
	"testing"

	"golang.org/x/mod/module"
	"golang.org/x/tools/txtar"

	"github.com/gomirror/gomirror/layout"
	"github.com/gomirror/gomirror/storage"
)

// StoreGoMods puts into st the go.mod files of the txtar archive at path,
// each named "module@version/go.mod", under their layout keys (as the
// mirror stores a version's .mod).
func StoreGoMods(t testing.TB, st storage.Storage, path string) {
	t.Helper()
	ar, err := txtar.ParseFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range ar.Files {
		p, v, _ := strings.Cut(strings.TrimSuffix(f.Name, "/go.mod"), "@")
		key, err := layout.Key(module.Version{Path: p, Version: v}, layout.Mod)
		if err != nil {
			t.Fatal(err)
		}
		if err := storage.PutBytes(context.Background(), st, key, f.Data); err != nil {
			t.Fatal(err)
		}
	}
}
