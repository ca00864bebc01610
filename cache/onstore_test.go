package cache

import (
	"context"
	"log/slog"
	"sync"
	"testing"

	"github.com/gomirror/gomirror/internal/fakeproxy"
	"github.com/gomirror/gomirror/layout"
	"github.com/gomirror/gomirror/storage"
	fsstore "github.com/gomirror/gomirror/storage/fs"
	"github.com/gomirror/gomirror/upstream"
)

// TestOnStoreNamesEveryStoredArtifact: the catalog's feed is told of each
// .info, .mod and .zip once it is stored, with its stored size, and of
// nothing else (hash side files, lists).
func TestOnStoreNamesEveryStoredArtifact(t *testing.T) {
	fsys, err := fsstore.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	up := fakeproxy.New(t)
	p, err := upstream.NewProxy(up.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu     sync.Mutex
		stored = map[string]int64{}
	)
	m := New(Options{Storage: fsys, Upstream: p, Logger: slog.New(slog.DiscardHandler),
		OnStore: func(key string, size int64) {
			mu.Lock()
			defer mu.Unlock()
			if _, dup := stored[key]; dup {
				t.Errorf("OnStore(%s) twice", key)
			}
			stored[key] = size
		}})
	ctx := context.Background()
	up.Module("example.com/hello", "v1.0.0")
	em := escaped("example.com/hello", "v1.0.0")
	for _, get := range []func(context.Context, layout.Module) (*storage.Object, Source, error){m.Info, m.GoMod, m.Zip} {
		if _, _, err := readObject(get(ctx, em)); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := m.List(ctx, escaped("example.com/hello", "")); err != nil {
		t.Fatal(err)
	}
	if err := m.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	want := []string{"example.com/hello/@v/v1.0.0.info", "example.com/hello/@v/v1.0.0.mod", "example.com/hello/@v/v1.0.0.zip"}
	mu.Lock()
	defer mu.Unlock()
	if len(stored) != len(want) {
		t.Errorf("OnStore was told of %v, want exactly %v", stored, want)
	}
	for _, key := range want {
		info, err := fsys.Stat(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		if size, ok := stored[key]; !ok || size != info.Size {
			t.Errorf("OnStore(%s) size %d (told: %v), stored size %d", key, size, ok, info.Size)
		}
	}
}
