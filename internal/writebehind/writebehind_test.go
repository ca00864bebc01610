package writebehind

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/gomirror/gomirror/storage"
	fsstore "github.com/gomirror/gomirror/storage/fs"
)

// gate holds every Put until released, then makes it fail with err if set.
type gate struct {
	storage.Storage
	release chan struct{}
	err     error
}

func (g *gate) Put(ctx context.Context, key string, r io.Reader) error {
	<-g.release
	if g.err != nil {
		return g.err
	}
	return g.Storage.Put(ctx, key, r)
}

func newGate(t *testing.T, err error) (*gate, storage.Storage) {
	s, e := fsstore.New(t.TempDir())
	if e != nil {
		t.Fatal(e)
	}
	return &gate{Storage: s, release: make(chan struct{}), err: err}, s
}

func TestReadableWhileWritingThenStored(t *testing.T) {
	g, disk := newGate(t, nil)
	w := New(g, time.Minute, slog.New(slog.DiscardHandler))
	ctx := context.Background()
	w.Put("m.example/x/@v/v1.0.0.mod", []byte("module m.example/x\n"))
	if b, err := w.Read(ctx, "m.example/x/@v/v1.0.0.mod"); err != nil || string(b) != "module m.example/x\n" {
		t.Errorf("Read while the write is held: %q, %v", b, err)
	}
	if got := w.Pending("m.example/x/@v/"); !slices.Equal(got, []string{"m.example/x/@v/v1.0.0.mod"}) {
		t.Errorf("Pending = %q", got)
	}
	if _, err := storage.ReadAll(ctx, disk, "m.example/x/@v/v1.0.0.mod"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("on disk before the write was released: %v", err)
	}
	close(g.release)
	if err := w.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if b, err := storage.ReadAll(ctx, disk, "m.example/x/@v/v1.0.0.mod"); err != nil || string(b) != "module m.example/x\n" {
		t.Errorf("after Wait: %q, %v", b, err)
	}
	if got := w.Pending(""); len(got) != 0 {
		t.Errorf("still pending after Wait: %q", got)
	}
}

func TestFailedWriteLeavesNothing(t *testing.T) {
	g, _ := newGate(t, errors.New("disk full"))
	close(g.release)
	w := New(g, time.Minute, slog.New(slog.DiscardHandler))
	ctx := context.Background()
	w.Put("m.example/x/@v/v1.0.0.info", []byte("{}"))
	if err := w.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Read(ctx, "m.example/x/@v/v1.0.0.info"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("after a failed write: %v, want fs.ErrNotExist", err)
	}
}

// TestPutFuncWritesWhatItIsGiven: PutFunc's write stores what it must
// land first and then the key; Read answers from memory until it returns.
func TestPutFuncWritesWhatItIsGiven(t *testing.T) {
	g, disk := newGate(t, nil)
	w := New(g, time.Minute, slog.New(slog.DiscardHandler))
	ctx := context.Background()
	const key, first = "m.example/x/@v/v1.0.0.mod", "m.example/x/@v/v1.0.0.modhash"
	b := []byte("module m.example/x\n")
	w.PutFunc(key, b, func(ctx context.Context) error {
		if err := storage.PutBytes(ctx, g, first, []byte("h1:x\n")); err != nil {
			return err
		}
		return storage.PutBytes(ctx, g, key, b)
	})
	if got, err := w.Read(ctx, key); err != nil || string(got) != string(b) {
		t.Errorf("Read while the write is held: %q, %v", got, err)
	}
	close(g.release)
	if err := w.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{first: "h1:x\n", key: string(b)} {
		if got, err := storage.ReadAll(ctx, disk, k); err != nil || string(got) != want {
			t.Errorf("%s after Wait: %q, %v; want %q", k, got, err, want)
		}
	}
	if got := w.Pending(""); len(got) != 0 {
		t.Errorf("still pending after Wait: %q", got)
	}
}

// deadlineStore records the deadline of the context each Put gets.
type deadlineStore struct {
	storage.Storage
	deadlines chan time.Duration
}

func (d *deadlineStore) Put(ctx context.Context, key string, r io.Reader) error {
	dl, ok := ctx.Deadline()
	if !ok {
		dl = time.Now().Add(1000 * time.Hour)
	}
	d.deadlines <- time.Until(dl)
	return d.Storage.Put(ctx, key, r)
}

// TestShortTimeoutIsRaisedToMinTimeout: a Writer told a timeout shorter
// than MinTimeout (a fetch timeout of 500ms, say) still gives each write
// MinTimeout, so that a slow moment of the disk does not drop a verified
// artifact.
func TestShortTimeoutIsRaisedToMinTimeout(t *testing.T) {
	s, err := fsstore.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	d := &deadlineStore{Storage: s, deadlines: make(chan time.Duration, 1)}
	w := New(d, 500*time.Millisecond, slog.New(slog.DiscardHandler))
	w.Put("k", []byte("v"))
	if left := <-d.deadlines; left < MinTimeout-5*time.Second {
		t.Errorf("the write was given %v, want about MinTimeout (%v)", left, MinTimeout)
	}
	if err := w.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
}
