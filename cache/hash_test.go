package cache

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gomirror/gomirror/internal/fakeproxy"
	"github.com/gomirror/gomirror/internal/sumdbtest"
	"github.com/gomirror/gomirror/internal/testutil"
	"github.com/gomirror/gomirror/layout"
	"github.com/gomirror/gomirror/storage"
	fsstore "github.com/gomirror/gomirror/storage/fs"
	"github.com/gomirror/gomirror/sumdb"
)

// orderStore records the order in which keys become visible (Put and
// AdoptFile), and what was already visible at each moment.
type orderStore struct {
	*fsstore.Store
	mu      sync.Mutex
	events  []string // keys in the order they were stored
	visible map[string]bool
}

func (s *orderStore) stored(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events = append(s.events, key)
	s.visible[key] = true
}

func (s *orderStore) wasStoredBefore(first, second string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	i, j := -1, -1
	for n, k := range s.events {
		if k == first && i < 0 {
			i = n
		}
		if k == second && j < 0 {
			j = n
		}
	}
	return i >= 0 && j >= 0 && i < j
}

func (s *orderStore) Put(ctx context.Context, key string, r io.Reader) error {
	if err := s.Store.Put(ctx, key, r); err != nil {
		return err
	}
	s.stored(key)
	return nil
}

func (s *orderStore) AdoptFile(ctx context.Context, key, name string) error {
	if err := s.Store.AdoptFile(ctx, key, name); err != nil {
		return err
	}
	s.stored(key)
	return nil
}

// verifyingMirror returns a Mirror over store that verifies against the
// fake upstream's checksum database, except for modules matching noSumDB.
func verifyingMirror(t *testing.T, store storage.Storage, noSumDB string) (*Mirror, *fakeproxy.Server) {
	t.Helper()
	up := fakeproxy.New(t)
	v, chain := sumdbtest.Verifier(t, up, store, noSumDB)
	m := New(Options{Storage: store, Upstream: chain, Verifier: v, Logger: slog.New(slog.DiscardHandler)})
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		m.Wait(ctx)
	})
	return m, up
}

// TestFilledArtifactsHaveRecordedHashes fills a verified and an exempt
// module and checks the .ziphash and .modhash files stored next to them,
// and that the hash of a zip becomes visible before the zip does.
func TestFilledArtifactsHaveRecordedHashes(t *testing.T) {
	fsys, err := fsstore.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	store := &orderStore{Store: fsys, visible: map[string]bool{}}
	m, up := verifyingMirror(t, store, "example.com/legacy")
	ctx := context.Background()
	for _, mv := range []struct{ path, version, escPath string }{
		{"example.com/hello", "v1.0.0", "example.com/hello"},                // verified
		{"example.com/legacy", "v2.1.0+incompatible", "example.com/legacy"}, // exempt
		{"example.com/MixedCase", "v1.0.0", "example.com/!mixed!case"},      // case-encoded
	} {
		if _, _, err := m.GoMod(ctx, escaped(mv.path, mv.version)); err != nil {
			t.Fatal(err)
		}
		obj, _, err := m.Zip(ctx, escaped(mv.path, mv.version))
		if err != nil {
			t.Fatal(err)
		}
		obj.Body.Close()
		if err := m.Wait(ctx); err != nil {
			t.Fatal(err)
		}
		base := mv.escPath + "/@v/" + mv.version
		want := up.Module(mv.path, mv.version)

		zipHash, err := storage.ReadAll(ctx, fsys, base+".ziphash")
		if err != nil {
			t.Fatalf("%s: %v", base+".ziphash", err)
		}
		if w := testutil.MustHashZip(t, want.Zip) + "\n"; string(zipHash) != w {
			t.Errorf("%s.ziphash = %q, want %q", base, zipHash, w)
		}
		if k, _ := layout.HashKey(base + ".zip"); k != base+".ziphash" {
			t.Errorf("HashKey(%q) = %q", base+".zip", k)
		}
		if !store.wasStoredBefore(base+".ziphash", base+".zip") {
			t.Errorf("%s: the zip became visible before its hash: %q", base, store.events)
		}

		modHash, err := storage.ReadAll(ctx, fsys, base+".modhash")
		if err != nil {
			t.Fatalf("%s: %v", base+".modhash", err)
		}
		wantMod, err := sumdb.HashGoMod(want.Mod)
		if err != nil {
			t.Fatal(err)
		}
		if string(modHash) != wantMod+"\n" {
			t.Errorf("%s.modhash = %q, want %q", base, modHash, wantMod+"\n")
		}
		if !store.wasStoredBefore(base+".modhash", base+".mod") {
			t.Errorf("%s: the .mod became visible before its hash: %q", base, store.events)
		}
	}

	// The hash files are not versions: the list holds exactly the
	// upstream's versions, also from storage alone.
	up.Close()
	b, src, err := m.List(ctx, escaped("example.com/hello", ""))
	if err != nil || src.Outcome != Stale && src.Outcome != Fresh {
		t.Fatalf("List: %v, %s", err, src)
	}
	if got := strings.Fields(string(b)); strings.Join(got, " ") != "v1.0.0" {
		t.Errorf("stored versions of example.com/hello = %q, want just v1.0.0", got)
	}
}

// holdModStore holds every Put of a .mod until released, announcing it.
type holdModStore struct {
	storage.Storage
	arrived chan struct{}
	release chan struct{}
}

func (s *holdModStore) Put(ctx context.Context, key string, r io.Reader) error {
	if strings.HasSuffix(key, ".mod") {
		s.arrived <- struct{}{}
		<-s.release
	}
	return s.Storage.Put(ctx, key, r)
}

// TestModHashIsStoredBeforeMod shows the ordering of the background write:
// when the .mod is about to be stored, its hash already is.
func TestModHashIsStoredBeforeMod(t *testing.T) {
	fsys, err := fsstore.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	store := &holdModStore{Storage: fsys, arrived: make(chan struct{}, 1), release: make(chan struct{})}
	m, up := newMirror(t, store) // no checksum database: hashes are recorded all the same
	ctx := context.Background()
	if _, _, err := m.GoMod(ctx, escaped("example.com/dep", "v1.0.0")); err != nil {
		t.Fatal(err)
	}
	select {
	case <-store.arrived:
	case <-time.After(10 * time.Second):
		t.Fatal("the .mod was never written")
	}
	want, _ := sumdb.HashGoMod(up.Module("example.com/dep", "v1.0.0").Mod)
	if b, err := storage.ReadAll(ctx, fsys, "example.com/dep/@v/v1.0.0.modhash"); err != nil || string(b) != want+"\n" {
		t.Errorf("modhash while the .mod write is held: %q, %v; want %q", b, err, want+"\n")
	}
	if _, err := fsys.Stat(ctx, "example.com/dep/@v/v1.0.0.mod"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf(".mod stored before it was released: %v", err)
	}
	close(store.release)
	if err := m.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := fsys.Stat(ctx, "example.com/dep/@v/v1.0.0.mod"); err != nil {
		t.Errorf(".mod after the write: %v", err)
	}
}
