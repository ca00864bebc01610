package cache

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gomirror/gomirror/internal/fakeproxy"
	"github.com/gomirror/gomirror/storage"
	"github.com/gomirror/gomirror/storage/mem"
	"github.com/gomirror/gomirror/upstream"
)

// putLog is a store without a temporary directory or file adoption (like
// S3) that records the keys of its Puts.
type putLog struct {
	storage.Storage
	mu   sync.Mutex
	keys []string
}

func (p *putLog) Put(ctx context.Context, key string, r io.Reader) error {
	p.mu.Lock()
	p.keys = append(p.keys, key)
	p.mu.Unlock()
	return p.Storage.Put(ctx, key, r)
}

func (p *putLog) take() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	k := p.keys
	p.keys = nil
	return k
}

const heldPath = "example.com/hello"

// heldMirror returns a Mirror over store with prefetch on, which holds
// heldPath@v1.0.0's zip after a client asked for its .info.
func heldMirror(t *testing.T, store storage.Storage) (*Mirror, *fakeproxy.Server) {
	t.Helper()
	up := fakeproxy.New(t)
	p, err := upstream.NewProxy(up.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := New(Options{Storage: store, Upstream: p, Prefetch: 4, TempDir: t.TempDir(), Logger: slog.New(slog.DiscardHandler)})
	t.Cleanup(func() { m.Close() })
	ctx := t.Context()
	if _, _, err := readObject(m.Info(ctx, escaped(heldPath, "v1.0.0"))); err != nil {
		t.Fatal(err)
	}
	if err := m.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if n, _ := m.held.len(); n != 1 {
		t.Fatalf("%d zips held after the prefetch, want 1", n)
	}
	return m, up
}

// TestHeldZipHashStoredAtHold: on a store that cannot adopt files (S3),
// the hash side-file of a held zip is stored when the zip is held (a hash
// without its zip is harmless), so that the client's request waits for
// one upload, the zip's, not two.
func TestHeldZipHashStoredAtHold(t *testing.T) {
	store := &putLog{Storage: mem.New()}
	m, _ := heldMirror(t, store)
	ctx := t.Context()
	const key = heldPath + "/@v/v1.0.0"
	if got := store.take(); !slices.Contains(got, key+".ziphash") || slices.Contains(got, key+".zip") {
		t.Errorf("stored at hold time %q, want the .ziphash and not the .zip", got)
	}
	if _, _, err := readObject(m.Zip(ctx, escaped(heldPath, "v1.0.0"))); err != nil {
		t.Fatal(err)
	}
	if got := store.take(); !slices.Equal(got, []string{key + ".zip"}) {
		t.Errorf("the client's request stored %q, want the zip only", got)
	}
}

// TestHeldZipAlteredIsFetchedAgain: a held zip whose file changed while
// held (size, modification time or file other than the one held) is
// dropped, and the client's request fetches the zip from the upstream
// as a miss: the client never gets, nor does the store keep, altered
// bytes.
func TestHeldZipAlteredIsFetchedAgain(t *testing.T) {
	tests := []struct {
		name  string
		alter func(t *testing.T, name string)
	}{
		{"byte flipped", func(t *testing.T, name string) {
			f, err := os.OpenFile(name, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			b := make([]byte, 1)
			f.ReadAt(b, 40)
			b[0] ^= 0xff
			if _, err := f.WriteAt(b, 40); err != nil {
				t.Fatal(err)
			}
			// Later than when it was held (it sits there for minutes),
			// also where the clock is too coarse to tell.
			later := time.Now().Add(time.Minute)
			os.Chtimes(name, later, later)
		}},
		{"truncated", func(t *testing.T, name string) {
			fi, _ := os.Stat(name)
			mt := fi.ModTime()
			if err := os.Truncate(name, fi.Size()-1); err != nil {
				t.Fatal(err)
			}
			os.Chtimes(name, mt, mt) // only the size tells
		}},
		{"replaced", func(t *testing.T, name string) {
			fi, _ := os.Stat(name)
			b, _ := os.ReadFile(name)
			b[40] ^= 0xff
			if err := os.WriteFile(name+".new", b, 0o644); err != nil {
				t.Fatal(err)
			}
			os.Chtimes(name+".new", fi.ModTime(), fi.ModTime()) // only the inode tells
			if err := os.Rename(name+".new", name); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := mem.New()
			m, up := heldMirror(t, store)
			ctx := t.Context()
			m.held.mu.Lock()
			name := m.held.order.Front().Value.(*heldZip).name
			m.held.mu.Unlock()
			tt.alter(t, name)
			want := up.Module(heldPath, "v1.0.0").Zip
			b, src, err := readObject(m.Zip(ctx, escaped(heldPath, "v1.0.0")))
			if err != nil || !bytes.Equal(b, want) || src.Outcome != Miss {
				t.Fatalf("Zip = %d bytes, %+v, %v; want the module's %d bytes, a miss", len(b), src, err, len(want))
			}
			if n := up.Hits("/" + heldPath + "/@v/v1.0.0.zip"); n != 2 {
				t.Errorf("upstream asked %d times for the zip, want twice (the prefetch, then the refetch)", n)
			}
			if got, err := storage.ReadAll(ctx, store, heldPath+"/@v/v1.0.0.zip"); err != nil || !bytes.Equal(got, want) {
				t.Errorf("stored zip: %d bytes (equal: %v), %v", len(got), bytes.Equal(got, want), err)
			}
		})
	}
}

// TestHeldZipNotStoredBySecondPrefetch: a prefetch of a zip that is held
// already neither fetches nor stores it; the zip stays held for a client.
func TestHeldZipNotStoredBySecondPrefetch(t *testing.T) {
	store := mem.New()
	m, up := heldMirror(t, store)
	ctx := t.Context()
	if _, _, err := m.wholeZip(ctx, escaped(heldPath, "v1.0.0")); !errors.Is(err, errHeld) {
		t.Errorf("second prefetch: %v, want errHeld", err)
	}
	if _, err := store.Stat(ctx, heldPath+"/@v/v1.0.0.zip"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a second prefetch stored the zip no client asked for: %v", err)
	}
	if n, _ := m.held.len(); n != 1 {
		t.Errorf("%d zips held, want 1", n)
	}
	if n := up.Hits("/" + heldPath + "/@v/v1.0.0.zip"); n != 1 {
		t.Errorf("upstream asked %d times for the zip, want once", n)
	}
}

// fakeTimers is a clock for heldZips: its timers run when the test says.
type fakeTimers struct {
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	at      time.Time
	f       func()
	stopped bool
}

func (t *fakeTimer) Stop() bool {
	was := !t.stopped
	t.stopped = true
	return was
}

func (c *fakeTimers) afterFunc(d time.Duration, f func()) timerStopper {
	t := &fakeTimer{at: c.now.Add(d), f: f}
	c.timers = append(c.timers, t)
	return t
}

// advance moves the clock by d and runs the timers due by then.
func (c *fakeTimers) advance(d time.Duration) {
	c.now = c.now.Add(d)
	for {
		var due *fakeTimer
		for _, t := range c.timers {
			if !t.stopped && !t.at.After(c.now) {
				due = t
				break
			}
		}
		if due == nil {
			return
		}
		due.stopped = true
		due.f()
	}
}

// pending returns how many timers are armed.
func (c *fakeTimers) pending() int {
	n := 0
	for _, t := range c.timers {
		if !t.stopped {
			n++
		}
	}
	return n
}

// TestHeldZipsExpireWhenIdle: held zips expire at their TTL by a timer,
// with no add or take after them (an idle mirror), their files deleted;
// the timer follows the oldest; drop (Mirror.Close) stops it.
func TestHeldZipsExpireWhenIdle(t *testing.T) {
	dir := t.TempDir()
	clock := &fakeTimers{now: time.Unix(1e9, 0)}
	h := newHeldZips(100, 10, time.Minute)
	h.now = func() time.Time { return clock.now }
	h.afterFunc = clock.afterFunc
	add := func(key string) string {
		name := filepath.Join(dir, key)
		if err := os.WriteFile(name, []byte(key), 0o644); err != nil {
			t.Fatal(err)
		}
		if !h.add(&heldZip{key: key, name: name, size: 1}) {
			t.Fatalf("add(%q) refused", key)
		}
		return name
	}
	exists := func(name string) bool { _, err := os.Stat(name); return err == nil }

	a := add("a")
	clock.advance(30 * time.Second)
	b := add("b")
	clock.advance(30 * time.Second) // a's minute is up
	if exists(a) || !exists(b) {
		t.Errorf("after a's TTL: a's file exists %v, b's %v; want false, true", exists(a), exists(b))
	}
	if n, _ := h.len(); n != 1 {
		t.Errorf("%d held after a's TTL, want 1", n)
	}
	clock.advance(30 * time.Second) // b's
	if exists(b) {
		t.Error("b's file exists after its TTL")
	}
	if n, _ := h.len(); n != 0 || clock.pending() != 0 {
		t.Errorf("%d held, %d timers armed with nothing held; want 0, 0", n, clock.pending())
	}
	if got := h.stats(); got.Expired != 2 {
		t.Errorf("stats %+v, want 2 expired", got)
	}
	c := add("c")
	if clock.pending() != 1 {
		t.Errorf("%d timers armed with one held, want 1", clock.pending())
	}
	h.drop()
	if exists(c) || clock.pending() != 0 {
		t.Errorf("after drop: c's file exists %v, %d timers armed; want false, 0", exists(c), clock.pending())
	}
	if h.add(&heldZip{key: "d", name: filepath.Join(dir, "d"), size: 1}) || clock.pending() != 0 {
		t.Error("held after drop (Close)")
	}
}

// unsizedZips sends zips without their size (no Content-Length) and
// counts the bytes the mirror read of them.
type unsizedZips struct {
	*fakeUpstream
	read atomic.Int64
}

type countingReader struct {
	io.ReadCloser
	n *atomic.Int64
}

func (c countingReader) Read(p []byte) (int, error) {
	n, err := c.ReadCloser.Read(p)
	c.n.Add(int64(n))
	return n, err
}

func (u *unsizedZips) Zip(ctx context.Context, path, version string) (io.ReadCloser, int64, upstream.Answer, error) {
	body, _, a, err := u.fakeUpstream.Zip(ctx, path, version)
	if err != nil {
		return nil, 0, a, err
	}
	return countingReader{body, &u.read}, -1, a, nil
}

// TestLargeUnsizedZipNotPrefetched: a prefetch gives up a zip that no
// client asked for once it has read more than prefetchZipMax of it, also
// when the upstream does not say its size: it is neither held nor stored.
func TestLargeUnsizedZipNotPrefetched(t *testing.T) {
	z, _, _ := bigZip(t)
	answers := fakeVersion(t, "v1.0.0")
	answers["zip "+fakePath+"@v1.0.0"] = fakeAnswer{b: z}
	u := &unsizedZips{fakeUpstream: newFakeUpstream(answers)}
	m, store := newFakeMirror(t, u, Options{Prefetch: 16})
	if _, _, err := readObject(m.Info(t.Context(), escaped(fakePath, "v1.0.0"))); err != nil {
		t.Fatal(err)
	}
	if err := m.Wait(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n, b := m.held.len(); n != 0 {
		t.Errorf("%d zips (%d bytes) held, want none", n, b)
	}
	if _, err := store.Stat(t.Context(), fakePath+"/@v/v1.0.0.zip"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("stored: %v", err)
	}
	if n := u.read.Load(); n > prefetchZipMax+64<<10 {
		t.Errorf("the prefetch read %d bytes of the zip, want at most about %d", n, prefetchZipMax)
	}
	b, _, err := get(t.Context(), m, "zip", "v1.0.0")
	if err != nil || !bytes.Equal(b, z) {
		t.Fatalf("the client's zip: %d bytes, %v", len(b), err)
	}
}

// TestPrefetchAfterCloseStoresNothing: a prefetch's zip fill that ends
// after Close (a shutdown whose wait for the fills timed out) neither
// holds nor stores its zip, and leaves no file behind.
func TestPrefetchAfterCloseStoresNothing(t *testing.T) {
	g := &gatedZips{fakeUpstream: newFakeUpstream(fakeVersion(t, "v1.0.0")), arrived: make(chan struct{}, 1), gate: make(chan struct{})}
	tmp := t.TempDir()
	m, store := newFakeMirror(t, g, Options{Prefetch: 16, TempDir: tmp})
	if _, _, err := readObject(m.Info(t.Context(), escaped(fakePath, "v1.0.0"))); err != nil {
		t.Fatal(err)
	}
	<-g.arrived // the prefetch's zip fill waits at the upstream
	m.Close()
	close(g.gate)
	if err := m.Wait(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Stat(t.Context(), fakePath+"/@v/v1.0.0.zip"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("zip stored after Close with no client: %v", err)
	}
	if n, _ := m.held.len(); n != 0 {
		t.Errorf("%d held after Close", n)
	}
	if files, _ := os.ReadDir(tmp); len(files) != 0 {
		t.Errorf("%d files left in the temporary directory", len(files))
	}
}
