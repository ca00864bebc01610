package fs

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/gomirror/gomirror/internal/tempdir"
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

// TestNewRemovesKilledProcessTemporaryFiles: a process killed in the
// middle of a write leaves its partial file, which the next start on the
// same host removes at once, not an hour later.
func TestNewRemovesKilledProcessTemporaryFiles(t *testing.T) {
	if dir := os.Getenv("GOMIRROR_FS_TEST_WRITER"); dir != "" {
		s, err := New(dir)
		if err != nil {
			t.Fatal(err)
		}
		f, err := os.CreateTemp(s.TempDir(), "put-*")
		if err != nil {
			t.Fatal(err)
		}
		f.WriteString("partial")
		fmt.Println(f.Name())
		io.Copy(io.Discard, os.Stdin) // until killed
		return
	}
	if !tempdir.HasProc() {
		t.Skip("!!! SKIPPING: no /proc: owners on this host are judged by age only")
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestNewRemovesKilledProcessTemporaryFiles$")
	cmd.Env = append(os.Environ(), "GOMIRROR_FS_TEST_WRITER="+dir)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	name, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	name = strings.TrimSpace(name)
	// While the writer lives, a start keeps its file.
	if _, err := New(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(name); err != nil {
		t.Fatalf("a live writer's temporary file was removed: %v", err)
	}
	cmd.Process.Kill()
	cmd.Wait()
	if _, err := New(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(name); !errors.Is(err, iofs.ErrNotExist) {
		t.Errorf("killed writer's temporary file survived New: %v", err)
	}
}

// TestPutRemakesTemporaryDirectory: a process whose temporary directory
// another host removed (after a week idle) still stores.
func TestPutRemakesTemporaryDirectory(t *testing.T) {
	s, err := New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(s.TempDir()); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(context.Background(), "k", strings.NewReader("v")); err != nil {
		t.Fatal(err)
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
	// adoptSynced adopts a file its caller made 0644 and synced.
	adoptSynced := func(key, content string) error {
		f, err := os.CreateTemp(s.TempDir(), "adopt-*")
		if err != nil {
			t.Fatal(err)
		}
		f.WriteString(content)
		f.Chmod(0o644)
		f.Sync()
		f.Close()
		return s.AdoptSynced(ctx, key, f.Name())
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
		{"adopt synced, new directories", adoptSynced, "example.com/c/@v/v1.0.0.zip", "zip"},
		{"adopt synced, replacing", adoptSynced, "example.com/c/@v/v1.0.0.zip", "zip 2"},
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
