package bundle_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/gomirror/gomirror/bundle"
	"github.com/gomirror/gomirror/layout"
	"github.com/gomirror/gomirror/storage"
	fsstore "github.com/gomirror/gomirror/storage/fs"
)

type adoptFailing struct {
	*fsstore.Store
	left *atomic.Int64
}

func (a adoptFailing) Unsynced() storage.Storage {
	return adoptFailingU{a.Store.Unsynced().(*fsstore.Store), a.left}
}

type adoptFailingU struct {
	*fsstore.Store
	left *atomic.Int64
}

func (u adoptFailingU) AdoptFile(ctx context.Context, key, name string) error {
	if u.left.Add(-1) < 0 {
		return fmt.Errorf("adopt %s: disk full (test)", key)
	}
	return u.Store.AdoptFile(ctx, key, name)
}

// TestAdoptPartlyStored: TestImportPartlyStored through the
// adopt path (staging in the store's temp dir, renames in parallel).
func TestAdoptPartlyStored(t *testing.T) {
	f := newFixture(t)
	b := f.export(t, nil)
	ctx := context.Background()
	for n := 0; n < 200; n++ {
		s, _ := newFS(t)
		inner := s.(*fsstore.Store)
		left := new(atomic.Int64)
		left.Store(int64(n))
		rep, err := bundle.Import(ctx, bytes.NewReader(b), bundle.ImportOptions{Storage: adoptFailing{inner, left}, DB: f.db})
		if err == nil {
			t.Logf("whole after %d adoptions: %+v", n, rep.Added)
			break
		}
		var partly *bundle.PartlyStoredError
		if !errors.As(err, &partly) {
			t.Fatalf("after %d: %v", n, err)
		}
		stored := 0
		for _, m := range f.mods {
			has := func(k layout.Kind) bool {
				key, _ := layout.Key(module(m.Path, m.Version), k)
				_, err := inner.Stat(ctx, key)
				if err == nil {
					stored++
				}
				return err == nil
			}
			if !m.ModOnly && (has(layout.Mod) || has(layout.Info)) && !has(layout.Zip) {
				t.Errorf("after %d: %s@%s listable without its zip", n, m.Path, m.Version)
			}
			if has(layout.Info) && !has(layout.Mod) {
				t.Errorf("after %d: %s@%s has a .info without its .mod", n, m.Path, m.Version)
			}
		}
		if rep.Added+rep.Repaired > n {
			t.Errorf("after %d adoptions: report %d added, %d repaired", n, rep.Added, rep.Repaired)
		}
		if _, err := bundle.Import(ctx, bytes.NewReader(b), bundle.ImportOptions{Storage: inner}); err != nil && !errors.As(err, new(*bundle.RefusedError)) {
			t.Fatalf("import again after %d: %v", n, err)
		}
	}
}
