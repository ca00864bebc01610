package cache

import (
	"context"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gomirror/gomirror/internal/fakeproxy"
	"github.com/gomirror/gomirror/internal/smallcache"
	"github.com/gomirror/gomirror/storage"
	fsstore "github.com/gomirror/gomirror/storage/fs"
	"github.com/gomirror/gomirror/upstream"
)

// countingStore counts the Gets by kind of key (kindOf).
type countingStore struct {
	storage.Storage
	gets [3]atomic.Int32
}

// kindOf is 0 for a .info key, 1 for a .mod, 2 for others.
func kindOf(key string) int {
	switch {
	case strings.HasSuffix(key, ".info"):
		return 0
	case strings.HasSuffix(key, ".mod"):
		return 1
	}
	return 2
}

func (c *countingStore) Get(ctx context.Context, key string) (*storage.Object, error) {
	c.gets[kindOf(key)].Add(1)
	return c.Storage.Get(ctx, key)
}

// TestStoredSmallArtifactsAreServedFromMemory: with Options.SmallCache, a
// stored .info or .mod is read from storage once, then answered from
// memory with the same bytes and modification time; one larger than
// smallcache.MaxEntry, or any with the cache disabled, is read from
// storage every time.
func TestStoredSmallArtifactsAreServedFromMemory(t *testing.T) {
	up := fakeproxy.New(t)
	bigMod := "module example.com/bigmod\n" + strings.Repeat("// "+strings.Repeat("x", 1000)+"\n", smallcache.MaxEntry/1000+1)
	if _, err := up.Add("example.com/bigmod", "v1.0.0", map[string][]byte{"go.mod": []byte(bigMod)}); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name             string
		smallCache       int64
		path             string
		get              func(m *Mirror, ctx context.Context) (*storage.Object, Source, error)
		kind             int
		wantStorageReads int32 // of 4 hits
	}{
		{"info, cached", 1 << 20, "example.com/hello", func(m *Mirror, ctx context.Context) (*storage.Object, Source, error) {
			return m.Info(ctx, escaped("example.com/hello", "v1.0.0"))
		}, 0, 1},
		{"mod, cached", 1 << 20, "example.com/hello", func(m *Mirror, ctx context.Context) (*storage.Object, Source, error) {
			return m.GoMod(ctx, escaped("example.com/hello", "v1.0.0"))
		}, 1, 1},
		{"info, cache disabled", 0, "example.com/hello", func(m *Mirror, ctx context.Context) (*storage.Object, Source, error) {
			return m.Info(ctx, escaped("example.com/hello", "v1.0.0"))
		}, 0, 4},
		{"mod larger than MaxEntry", 1 << 20, "example.com/bigmod", func(m *Mirror, ctx context.Context) (*storage.Object, Source, error) {
			return m.GoMod(ctx, escaped("example.com/bigmod", "v1.0.0"))
		}, 1, 4},
	} {
		t.Run(tt.name, func(t *testing.T) {
			fsys, err := fsstore.New(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			store := &countingStore{Storage: fsys}
			p, err := upstream.NewProxy(up.URL, nil)
			if err != nil {
				t.Fatal(err)
			}
			m := New(Options{Storage: store, Upstream: p, Logger: slog.New(slog.DiscardHandler), SmallCache: tt.smallCache})
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			want, _, err := readObject(tt.get(m, ctx)) // the fill
			if err != nil {
				t.Fatal(err)
			}
			if err := m.Wait(ctx); err != nil {
				t.Fatal(err)
			}
			base := store.gets[tt.kind].Load()
			key := tt.path + "/@v/v1.0.0." + [...]string{"info", "mod"}[tt.kind]
			stored, err := fsys.Stat(ctx, key)
			if err != nil {
				t.Fatal(err)
			}
			for i := range 4 {
				obj, src, err := tt.get(m, ctx)
				if err != nil || src.Outcome != Hit {
					t.Fatalf("hit %d: %s, %v", i, src, err)
				}
				if obj.Size != stored.Size || !obj.ModTime.Equal(stored.ModTime) {
					t.Errorf("hit %d: size %d, modified %v; stored: %d, %v", i, obj.Size, obj.ModTime, stored.Size, stored.ModTime)
				}
				got, _, err := readObject(obj, src, nil)
				if err != nil || string(got) != string(want) {
					t.Errorf("hit %d: %d bytes, %v; want the %d filled", i, len(got), err, len(want))
				}
			}
			if n := store.gets[tt.kind].Load() - base; n != tt.wantStorageReads {
				t.Errorf("4 hits read storage %d times, want %d", n, tt.wantStorageReads)
			}
		})
	}
}
