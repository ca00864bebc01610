package cache

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/gomirror/gomirror/internal/fakeproxy"
	"github.com/gomirror/gomirror/storage"
	fsstore "github.com/gomirror/gomirror/storage/fs"
	"github.com/gomirror/gomirror/upstream"
)

// gatedStore holds every Put of a .mod until released, and can fail them.
type gatedStore struct {
	storage.Storage
	release chan struct{}
	fail    error
}

func (g *gatedStore) Put(ctx context.Context, key string, r io.Reader) error {
	if strings.HasSuffix(key, ".mod") {
		<-g.release
		if g.fail != nil {
			return g.fail
		}
	}
	return g.Storage.Put(ctx, key, r)
}

func newMirror(t *testing.T, store storage.Storage) (*Mirror, *fakeproxy.Server) {
	t.Helper()
	up := fakeproxy.New(t)
	p, err := upstream.NewProxy(up.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := New(Options{Storage: store, Upstream: p, Logger: slog.New(slog.DiscardHandler)})
	// Background writes must land before the storage directory is removed.
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		m.Wait(ctx)
	})
	return m, up
}

// readObject reads and closes the body of an object the Mirror returned.
func readObject(obj *storage.Object, src Source, err error) ([]byte, Source, error) {
	if err != nil {
		return nil, src, err
	}
	defer obj.Body.Close()
	b, err := io.ReadAll(obj.Body)
	return b, src, err
}

func TestSmallArtifactsAreAnsweredBeforeTheyAreStored(t *testing.T) {
	fsys, err := fsstore.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	store := &gatedStore{Storage: fsys, release: make(chan struct{})}
	m, up := newMirror(t, store)
	ctx := context.Background()
	want := up.Module("example.com/hello", "v1.0.0").Mod

	// The write is held, yet the client gets its answer.
	b, src, err := readObject(m.GoMod(ctx, escaped("example.com/hello", "v1.0.0")))
	if err != nil || string(b) != string(want) || src.Outcome != Miss {
		t.Fatalf("GoMod while the write is held: %q, %s, %v", b, src, err)
	}
	// Meanwhile another request is answered from memory, not refetched.
	if b, src, err := readObject(m.GoMod(ctx, escaped("example.com/hello", "v1.0.0"))); err != nil || string(b) != string(want) || src.Outcome != Hit {
		t.Errorf("second GoMod: %q, %s, %v", b, src, err)
	}
	if n := up.Hits("/example.com/hello/@v/v1.0.0.mod"); n != 1 {
		t.Errorf("upstream fetches = %d, want 1", n)
	}
	close(store.release)
	if err := m.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if got, err := storage.ReadAll(ctx, fsys, "example.com/hello/@v/v1.0.0.mod"); err != nil || string(got) != string(want) {
		t.Errorf("after Wait, stored %q, %v", got, err)
	}
}

func TestFailedBackgroundWriteIsFetchedAgain(t *testing.T) {
	fsys, err := fsstore.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	store := &gatedStore{Storage: fsys, release: make(chan struct{}), fail: errors.New("disk full")}
	close(store.release)
	m, up := newMirror(t, store)
	ctx := context.Background()
	if _, _, err := m.GoMod(ctx, escaped("example.com/hello", "v1.0.0")); err != nil {
		t.Fatal(err)
	}
	if err := m.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	store.fail = nil
	if _, src, err := m.GoMod(ctx, escaped("example.com/hello", "v1.0.0")); err != nil || src.Outcome != Miss {
		t.Errorf("after a failed write: %s, %v; want a new fetch", src, err)
	}
	if n := up.Hits("/example.com/hello/@v/v1.0.0.mod"); n != 2 {
		t.Errorf("upstream fetches = %d, want 2", n)
	}
}
