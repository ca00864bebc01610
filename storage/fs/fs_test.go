package fs

import (
	"context"
	"os"
	"path/filepath"
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
