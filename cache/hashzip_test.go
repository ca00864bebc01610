package cache

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/mod/sumdb/dirhash"
	"golang.org/x/sync/semaphore"

	"github.com/gomirror/gomirror/internal/fakeproxy"
)

// TestZipHasherMatchesHashZip checks that zipHasher's hash is the one
// dirhash.HashZip computes (the go.sum hash), for fixture modules and for
// one whose files are larger than yieldEvery, so that reads yield midway.
func TestZipHasherMatchesHashZip(t *testing.T) {
	up := fakeproxy.New(t)
	big := bytes.Repeat([]byte("package big // filler\n"), 3*yieldEvery/22)
	if _, err := up.Add("example.com/big", "v1.0.0", map[string][]byte{
		"go.mod":       []byte("module example.com/big\n"),
		"big.go":       big,
		"sub/small.go": []byte("package sub\n"),
		"sub/big.go":   append([]byte("package sub\n"), big...),
	}); err != nil {
		t.Fatal(err)
	}
	h := newZipHasher()
	for _, mv := range []struct{ path, version string }{
		{"example.com/hello", "v1.0.0"},
		{"example.com/legacy", "v2.1.0+incompatible"},
		{"example.com/MixedCase", "v1.0.0"},
		{"example.com/big", "v1.0.0"},
	} {
		t.Run(mv.path, func(t *testing.T) {
			m := up.Module(mv.path, mv.version)
			if m == nil {
				t.Fatalf("fixture %s@%s missing", mv.path, mv.version)
			}
			file := filepath.Join(t.TempDir(), "m.zip")
			if err := os.WriteFile(file, m.Zip, 0o644); err != nil {
				t.Fatal(err)
			}
			want, err := dirhash.HashZip(file, dirhash.Hash1)
			if err != nil {
				t.Fatal(err)
			}
			got, err := h.hash(context.Background(), file)
			if err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Errorf("zipHasher: %s, dirhash.HashZip: %s", got, want)
			}
		})
	}
}

// TestZipHasherGivesUpWaitingForASlot checks that a hash waiting for a
// free slot returns when its context ends.
func TestZipHasherGivesUpWaitingForASlot(t *testing.T) {
	h := &zipHasher{slots: semaphore.NewWeighted(1)}
	h.slots.Acquire(context.Background(), 1) // every slot taken
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := h.hash(ctx, "does-not-matter.zip"); !errors.Is(err, context.Canceled) {
		t.Fatalf("hash with all slots taken and a canceled context: %v, want %v", err, context.Canceled)
	}
}

// TestZipHasherRejectsNonZip checks that a file that is not a zip is an
// error, not a hash.
func TestZipHasherRejectsNonZip(t *testing.T) {
	file := filepath.Join(t.TempDir(), "not.zip")
	if err := os.WriteFile(file, []byte("not a zip"), 0o644); err != nil {
		t.Fatal(err)
	}
	if h1, err := newZipHasher().hash(context.Background(), file); err == nil {
		t.Fatalf("hash of a non-zip: %s, want an error", h1)
	}
}
