package tempdir

import (
	"errors"
	iofs "io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestOpenRemovesStaleTemporaryFiles: Open removes what dead processes of
// this host left at once, and what other hosts (or older versions) left only
// once it is old; never what a live process may be writing.
func TestOpenRemovesStaleTemporaryFiles(t *testing.T) {
	self := ownerOf()
	if self.start == "0" {
		t.Skip("!!! SKIPPING: no /proc: owners on this host are judged by age only")
	}
	dead := exec.Command(os.Args[0], "-test.run=^$")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	parent := owner{host: self.host, pid: os.Getppid()}
	parent.start, _ = procStart(parent.pid)
	other := owner{host: "other-host", pid: self.pid, start: "1"}
	old := time.Now().Add(-2 * StaleTemp)
	tests := []struct {
		name    string
		file    string // under the parent
		old     bool   // its modification time is 2*StaleTemp ago
		removed bool
	}{
		{"this process", self.String() + "/put-1", true, false},
		{"dead process of this host", owner{self.host, dead.Process.Pid, "7"}.String() + "/put-1", false, true},
		{"reused pid of this host", owner{self.host, self.pid, self.start + "1"}.String() + "/put-1", false, true},
		{"live process of this host", parent.String() + "/put-1", true, false},
		{"other host, fresh", other.String() + "/put-fresh", false, false},
		{"other host, old", other.String() + "/put-old", true, true},
		{"older version, fresh", "put-fresh", false, false},
		{"older version, old", "put-old", true, true},
		{"not an owner, old", "junk/put-old", true, true},
	}
	dir := t.TempDir()
	for _, tt := range tests {
		p := filepath.Join(dir, filepath.FromSlash(tt.file))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("partial"), 0o644); err != nil {
			t.Fatal(err)
		}
		if tt.old {
			os.Chtimes(p, old, old)
		}
	}
	if _, err := Open(dir); err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		_, err := os.Stat(filepath.Join(dir, filepath.FromSlash(tt.file)))
		if gone := errors.Is(err, iofs.ErrNotExist); gone != tt.removed {
			t.Errorf("%s: removed = %v, want %v (%v)", tt.name, gone, tt.removed, err)
		}
	}
	// The dead process's directory goes whole; the other host's stays
	// while a file in it is young.
	if _, err := os.Stat(filepath.Join(dir, owner{self.host, dead.Process.Pid, "7"}.String())); !errors.Is(err, iofs.ErrNotExist) {
		t.Errorf("dead process's directory survived: %v", err)
	}
}
