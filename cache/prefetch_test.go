package cache

import (
	"context"
	"errors"
	"io/fs"
	"maps"
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

// TestZipsArePrefetchedForClientsThatDownloadZips: a .info miss prefetches
// the version's zip only for a client that asked for a zip lately (or one
// the mirror cannot tell apart): a client that reads metadata only (go
// list -m) does not make the mirror fetch, hash and store zips.
func TestZipsArePrefetchedForClientsThatDownloadZips(t *testing.T) {
	answers := map[string]fakeAnswer{}
	for _, v := range []string{"v1.0.0", "v1.1.0", "v1.2.0", "v1.3.0"} {
		maps.Copy(answers, fakeVersion(t, v))
	}
	f := newFakeUpstream(answers)
	m, _ := newFakeMirror(t, f, Options{Prefetch: 16})
	info := func(ctx context.Context, version string) {
		t.Helper()
		if _, _, err := readObject(m.Info(ctx, escaped(fakePath, version))); err != nil {
			t.Fatal(err)
		}
		if err := m.Wait(ctx); err != nil {
			t.Fatal(err)
		}
	}
	lister := upstream.WithRequester(t.Context(), "address 192.0.2.1")
	downloader := upstream.WithRequester(t.Context(), "address 192.0.2.2")

	info(lister, "v1.0.0")
	if n := f.Calls("zip " + fakePath + "@v1.0.0"); n != 0 {
		t.Errorf("a client that asked for no zip: its .info prefetched the zip (%d fetches)", n)
	}
	if n := f.Calls("mod " + fakePath + "@v1.0.0"); n != 1 {
		t.Errorf("the .mod was fetched %d times, want 1 (prefetched)", n)
	}
	if _, _, err := readObject(m.Zip(downloader, escaped(fakePath, "v1.1.0"))); err != nil {
		t.Fatal(err)
	}
	info(downloader, "v1.2.0")
	if n := f.Calls("zip " + fakePath + "@v1.2.0"); n != 1 {
		t.Errorf("a client that downloads zips: its .info prefetched the zip %d times, want 1", n)
	}
	info(t.Context(), "v1.3.0") // no requester known: as before, zips too
	if n := f.Calls("zip " + fakePath + "@v1.3.0"); n != 1 {
		t.Errorf("an unknown client: its .info prefetched the zip %d times, want 1", n)
	}
}
