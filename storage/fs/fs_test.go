package fs

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/gomirror/gomirror/storage"
	"github.com/gomirror/gomirror/storage/storagetest"
)

func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Storage {
		s, err := New(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestConformanceUnsynced(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Storage {
		s, err := New(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return s.Unsynced()
	})
}

func TestLayoutIsGOPROXYURLSpace(t *testing.T) {
	dir := t.TempDir()
	s, err := New(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := storage.PutBytes(context.Background(), s, "github.com/!burnt!sushi/toml/@v/list", []byte("v1.0.0\n")); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "github.com", "!burnt!sushi", "toml", "@v", "list"))
	if err != nil || string(b) != "v1.0.0\n" {
		t.Fatalf("file at URL-space path: %q, %v", b, err)
	}
}

func TestNewRemovesStaleTemporaryFiles(t *testing.T) {
	dir := t.TempDir()
	if _, err := New(dir); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(dir, tmpDir, "put-stale")
	fresh := filepath.Join(dir, tmpDir, "put-fresh")
	for _, p := range []string{stale, fresh} {
		if err := os.WriteFile(p, []byte("partial"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-2 * staleTemp)
	os.Chtimes(stale, old, old)
	if _, err := New(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("stale temporary file survived New: %v", err)
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("fresh temporary file (maybe another writer's) was removed: %v", err)
	}
}

// TestUnsyncedCapability: callers find the unsynced view through
// storage.Unsynced; a wrong method signature would silently give them the
// synced store (an fsync per checksum database tile and record).
func TestUnsyncedCapability(t *testing.T) {
	s, err := New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	u, ok := storage.Unsynced(s).(*Store)
	if !ok || u == s || u.sync {
		t.Errorf("storage.Unsynced(fs store) = %#v; want an unsynced *Store over the same root", storage.Unsynced(s))
	}
}

// TestPutAndAdoptFileModesAndDirectories: a stored file is 0644 whatever the
// umask, lands in a directory created on demand or already there, and
// replaces an existing key; a rename into a path under a file fails.
func TestPutAndAdoptFileModesAndDirectories(t *testing.T) {
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	dir := t.TempDir()
	s, err := New(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	adopt := func(key, content string) error {
		f, err := os.CreateTemp(s.TempDir(), "adopt-*")
		if err != nil {
			t.Fatal(err)
		}
		f.WriteString(content)
		f.Close()
		return s.AdoptFile(ctx, key, f.Name())
	}
	put := func(key, content string) error {
		return storage.PutBytes(ctx, s, key, []byte(content))
	}
	for _, tc := range []struct {
		name    string
		store   func(key, content string) error
		key     string
		content string
	}{
		{"put, new directories", put, "example.com/a/@v/v1.0.0.info", "info"},
		{"put, existing directory", put, "example.com/a/@v/v1.0.0.mod", "mod"},
		{"put, replacing", put, "example.com/a/@v/v1.0.0.mod", "mod 2"},
		{"adopt, new directories", adopt, "example.com/b/@v/v1.0.0.zip", "zip"},
		{"adopt, existing directory", adopt, "example.com/b/@v/v1.1.0.zip", "zip 2"},
		{"adopt, replacing", adopt, "example.com/b/@v/v1.1.0.zip", "zip 3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.store(tc.key, tc.content); err != nil {
				t.Fatal(err)
			}
			p := filepath.Join(dir, filepath.FromSlash(tc.key))
			info, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			if info.Mode().Perm() != 0o644 {
				t.Errorf("mode %v, want 0644", info.Mode().Perm())
			}
			if b, _ := os.ReadFile(p); string(b) != tc.content {
				t.Errorf("content %q, want %q", b, tc.content)
			}
		})
	}
	if err := put("example.com/a/@v/v1.0.0.info/x", "under a file"); err == nil {
		t.Error("Put under a file succeeded")
	}
	if err := adopt("example.com/a/@v/v1.0.0.info/y", "under a file"); err == nil {
		t.Error("AdoptFile under a file succeeded")
	}
}

// BenchmarkPut stores small files the way a cold fill does: four keys per
// version directory (.info, .mod, its hash, .zip), each synced.
func BenchmarkPut(b *testing.B) {
	s, err := New(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	body := make([]byte, 500)
	exts := []string{".info", ".mod", ".ziphash", ".zip"}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		key := fmt.Sprintf("example.com/m%d/@v/v1.0.0%s", i/len(exts), exts[i%len(exts)])
		if err := storage.PutBytes(ctx, s, key, body); err != nil {
			b.Fatal(err)
		}
	}
}

// TestPutOntoDirectoryFails: a key that names a directory is not replaced
// by a file.
func TestPutOntoDirectoryFails(t *testing.T) {
	dir := t.TempDir()
	s, err := New(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := storage.PutBytes(ctx, s, "example.com/a/@v/list", []byte("v1.0.0\n")); err != nil {
		t.Fatal(err)
	}
	if err := storage.PutBytes(ctx, s, "example.com/a/@v", []byte("file")); err == nil {
		t.Fatal("Put onto a directory succeeded")
	}
	if b, err := os.ReadFile(filepath.Join(dir, "example.com", "a", "@v", "list")); err != nil || string(b) != "v1.0.0\n" {
		t.Fatalf("after the failed Put: %q, %v", b, err)
	}
}
