package bundle_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"sync/atomic"
	"testing"

	"github.com/gomirror/gomirror/bundle"
	"github.com/gomirror/gomirror/layout"
	"github.com/gomirror/gomirror/storage"
	"github.com/gomirror/gomirror/storage/mem"
)

type cancelAfter struct {
	storage.Storage
	left   *atomic.Int64
	cancel context.CancelFunc
}

func (s cancelAfter) Put(ctx context.Context, key string, r io.Reader) error {
	if s.left.Add(-1) == 0 {
		s.cancel()
	}
	return s.Storage.Put(context.WithoutCancel(ctx), key, r)
}

// TestCancelWhileStoring: the caller's context cancelled in the
// middle of storing: a PartlyStoredError wrapping context.Canceled, the
// invariants kept, the report counting what was stored.
func TestCancelWhileStoring(t *testing.T) {
	f := newFixture(t)
	b := f.export(t, nil)
	for n := 1; n < 80; n += 3 {
		ctx, cancel := context.WithCancel(context.Background())
		inner := mem.New()
		left := new(atomic.Int64)
		left.Store(int64(n))
		puts := new(atomic.Int64)
		_ = puts
		rep, err := bundle.Import(ctx, bytes.NewReader(b), bundle.ImportOptions{Storage: cancelAfter{inner, left, cancel}, DB: f.db})
		cancel()
		if err == nil {
			break
		}
		if !errors.As(err, new(*bundle.PartlyStoredError)) || !errors.Is(err, context.Canceled) {
			t.Fatalf("after %d: %v", n, err)
		}
		added := 0
		for _, k := range rep.AddedKeys {
			if _, err := inner.Stat(context.Background(), k); err != nil {
				t.Errorf("after %d: %s reported added, not stored", n, k)
			}
			added++
		}
		for _, m := range f.mods {
			has := func(k layout.Kind) bool {
				key, _ := layout.Key(module(m.Path, m.Version), k)
				_, err := inner.Stat(context.Background(), key)
				return err == nil
			}
			if !m.ModOnly && (has(layout.Mod) || has(layout.Info)) && !has(layout.Zip) {
				t.Errorf("after %d: %s@%s listable without its zip", n, m.Path, m.Version)
			}
			if has(layout.Info) && !has(layout.Mod) {
				t.Errorf("after %d: %s@%s has a .info without its .mod", n, m.Path, m.Version)
			}
		}
	}
}
