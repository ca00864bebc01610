package cache

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"strings"
	"testing"

	"github.com/gomirror/gomirror/layout"
	"github.com/gomirror/gomirror/upstream"
)

// TestModRequirementsArePrefetched: a client's cold .mod starts the fills
// of the .mod files its go.mod requires (which the go command asks for
// next), one step of the module graph ahead of the client: the
// requirements of a prefetched .mod are fetched once a client asks for it.
func TestModRequirementsArePrefetched(t *testing.T) {
	mods := map[string]string{
		"example.com/a@v1.0.0": "module example.com/a\n\nrequire (\n\texample.com/b v1.0.0\n\texample.com/c v1.2.0\n\texample.com/bad v1.0.0-not+canonical\n)\n",
		"example.com/b@v1.0.0": "module example.com/b\n\nrequire example.com/d v0.1.0\n",
		"example.com/c@v1.2.0": "module example.com/c\n",
		"example.com/d@v0.1.0": "module example.com/d\n",
	}
	answers := map[string]fakeAnswer{}
	for at, gomod := range mods {
		answers["mod "+at] = fakeAnswer{b: []byte(gomod)}
	}
	stored := func(t *testing.T, m *Mirror, path, version string) bool {
		t.Helper()
		if err := m.Wait(t.Context()); err != nil {
			t.Fatal(err)
		}
		key, err := keyOf(escaped(path, version), layout.Mod)
		if err != nil {
			t.Fatal(err)
		}
		_, err = m.opts.Storage.Stat(t.Context(), key)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			t.Fatal(err)
		}
		return err == nil
	}
	for _, prefetch := range []int{0, 16} {
		f := newFakeUpstream(answers)
		m, _ := newFakeMirror(t, f, Options{Prefetch: prefetch})
		if _, _, err := readObject(m.GoMod(t.Context(), escaped("example.com/a", "v1.0.0"))); err != nil {
			t.Fatal(err)
		}
		on := prefetch > 0
		if b, c := stored(t, m, "example.com/b", "v1.0.0"), stored(t, m, "example.com/c", "v1.2.0"); b != on || c != on {
			t.Errorf("prefetch %d: requirements b, c stored: %v, %v; want %v", prefetch, b, c, on)
		}
		if stored(t, m, "example.com/d", "v0.1.0") {
			t.Errorf("prefetch %d: d, a requirement of a requirement, fetched before a client asked for b", prefetch)
		}
		// The client now asks for b (a hit when it was prefetched): b's
		// requirement follows.
		if _, _, err := readObject(m.GoMod(t.Context(), escaped("example.com/b", "v1.0.0"))); err != nil {
			t.Fatal(err)
		}
		if d := stored(t, m, "example.com/d", "v0.1.0"); d != on {
			t.Errorf("prefetch %d: d stored after the client asked for b: %v; want %v", prefetch, d, on)
		}
		if n := f.Calls("mod example.com/b@v1.0.0"); n != 1 {
			t.Errorf("prefetch %d: b fetched %d times, want 1", prefetch, n)
		}
	}
}

// TestPrivateRequirementsAreNotPrefetched: a go.mod that names a private
// module (Options.NoPrefetch) does not make the mirror fetch it, with its
// own credentials, for a client that did not ask for it.
func TestPrivateRequirementsAreNotPrefetched(t *testing.T) {
	answers := map[string]fakeAnswer{
		"mod example.com/a@v1.0.0":           {b: []byte("module example.com/a\n\nrequire (\n\tcorp.example.com/secret v1.0.0\n\texample.com/b v1.0.0\n)\n")},
		"mod example.com/b@v1.0.0":           {b: []byte("module example.com/b\n")},
		"mod corp.example.com/secret@v1.0.0": {b: []byte("module corp.example.com/secret\n")},
	}
	f := newFakeUpstream(answers)
	m, _ := newFakeMirror(t, f, Options{Prefetch: 16, NoPrefetch: func(path string) bool { return strings.HasPrefix(path, "corp.example.com/") }})
	if _, _, err := readObject(m.GoMod(t.Context(), escaped("example.com/a", "v1.0.0"))); err != nil {
		t.Fatal(err)
	}
	if err := m.Wait(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := f.Calls("mod corp.example.com/secret@v1.0.0"); n != 0 {
		t.Errorf("private requirement fetched %d times", n)
	}
	if n := f.Calls("mod example.com/b@v1.0.0"); n != 1 {
		t.Errorf("public requirement fetched %d times, want 1 (prefetched)", n)
	}
}

// gatedZips is a fakeUpstream whose Zip, once arrived is signalled, waits
// for gate.
type gatedZips struct {
	*fakeUpstream
	arrived, gate chan struct{}
}

func (g *gatedZips) Zip(ctx context.Context, path, version string) (io.ReadCloser, int64, upstream.Answer, error) {
	g.arrived <- struct{}{}
	<-g.gate
	return g.fakeUpstream.Zip(ctx, path, version)
}

// TestLargeZipsArePrefetchedOnlyForAClient: a .info miss prefetches the
// version's zip, but gives up one larger than prefetchZipMax that no
// client has asked for (a client that reads metadata only would pay for
// it in traffic, disk and CPU; a client that wants it gets it streamed),
// and keeps it when a client has joined the fill meanwhile.
func TestLargeZipsArePrefetchedOnlyForAClient(t *testing.T) {
	z, _, _ := bigZip(t)
	if len(z) <= prefetchZipMax {
		t.Fatalf("the test zip has %d bytes, not more than %d", len(z), prefetchZipMax)
	}
	answers := fakeVersion(t, "v1.0.0")
	answers["zip "+fakePath+"@v1.0.0"] = fakeAnswer{b: z}
	key := fakePath + "/@v/v1.0.0.zip"

	t.Run("no client", func(t *testing.T) {
		f := newFakeUpstream(answers)
		m, store := newFakeMirror(t, f, Options{Prefetch: 16})
		if _, _, err := readObject(m.Info(t.Context(), escaped(fakePath, "v1.0.0"))); err != nil {
			t.Fatal(err)
		}
		if err := m.Wait(t.Context()); err != nil {
			t.Fatal(err)
		}
		if _, err := store.Stat(t.Context(), key); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("a large zip no client asked for was stored: %v", err)
		}
		b, _, err := get(t.Context(), m, "zip", "v1.0.0")
		if err != nil || !bytes.Equal(b, z) {
			t.Fatalf("the client's zip: %d bytes, %v", len(b), err)
		}
		if n := f.Calls("zip " + fakePath + "@v1.0.0"); n != 2 {
			t.Errorf("upstream asked for the zip %d times, want 2 (the prefetch, given up; the client's)", n)
		}
	})
	t.Run("a client joined", func(t *testing.T) {
		g := &gatedZips{fakeUpstream: newFakeUpstream(answers), arrived: make(chan struct{}, 1), gate: make(chan struct{})}
		m, _ := newFakeMirror(t, g, Options{Prefetch: 16})
		if _, _, err := readObject(m.Info(t.Context(), escaped(fakePath, "v1.0.0"))); err != nil {
			t.Fatal(err)
		}
		<-g.arrived // the prefetch's zip fill waits at the upstream
		got := make(chan error, 1)
		go func() {
			b, _, err := get(t.Context(), m, "zip", "v1.0.0")
			if err == nil && !bytes.Equal(b, z) {
				err = errors.New("other bytes")
			}
			got <- err
		}()
		// The client has joined once the fill holds two callers' holds.
		m.zipsMu.Lock()
		s := m.zips[key]
		m.zipsMu.Unlock()
		s.mu.Lock()
		for s.refs < 3 { // the fill, the prefetch, the client
			s.wait(t.Context())
		}
		s.mu.Unlock()
		close(g.gate)
		if err := <-got; err != nil {
			t.Fatal(err)
		}
		if n := g.Calls("zip " + fakePath + "@v1.0.0"); n != 1 {
			t.Errorf("upstream asked for the zip %d times, want 1", n)
		}
	})
}
