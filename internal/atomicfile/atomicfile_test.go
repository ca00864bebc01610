package atomicfile

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestWrite: the file holds what was written, with the mode asked less the
// umask, and no temporary file is left.
func TestWrite(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	dir := t.TempDir()
	name := filepath.Join(dir, "f.json")
	for _, tt := range []struct {
		perm, want os.FileMode
	}{{0o600, 0o600}, {0o666, 0o644}} {
		if err := WriteFile(name, []byte("hello"), tt.perm); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(name)
		if err != nil || string(b) != "hello" {
			t.Fatalf("read back %q, %v", b, err)
		}
		if fi, _ := os.Stat(name); fi.Mode().Perm() != tt.want {
			t.Errorf("perm %v: mode %v; want %v", tt.perm, fi.Mode().Perm(), tt.want)
		}
		os.Remove(name)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 0 {
		t.Errorf("left behind: %v", entries)
	}
}

// TestWriteFailureKeepsTheOldFile: when write fails, the old file is as it
// was and no temporary file is left.
func TestWriteFailureKeepsTheOldFile(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "f")
	if err := WriteFile(name, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	err := Write(name, 0o644, func(w io.Writer) error {
		w.Write([]byte("half"))
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Write = %v; want boom", err)
	}
	if b, _ := os.ReadFile(name); string(b) != "old" {
		t.Errorf("after a failed write the file holds %q; want old", b)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("left behind: %v", entries)
	}
}
