package server

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/gomirror/gomirror/config"
	"github.com/gomirror/gomirror/internal/fakeproxy"
)

// TestCredentialFilesLeftByAKilledServerAreRemoved stands in for a server
// killed with SIGKILL: its plaintext credential store is still on disk. The
// next start, even one that holds no credentials, must remove it, and a
// start that holds credentials keeps them in a directory only its user can
// enter; stopping removes them.
func TestCredentialFilesLeftByAKilledServerAreRemoved(t *testing.T) {
	up := fakeproxy.New(t)
	directDir := t.TempDir()
	stale := filepath.Join(directDir, "credentials", "git-credentials")
	if err := os.MkdirAll(filepath.Dir(stale), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(stale, []byte("https://bot:old-secret@git.example\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	s := start(t, up, func(c *config.Serve) { c.DirectDir = directDir })
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("the killed server's credential file is still there after a start without credentials (stat: %v)", err)
	}
	s.stop()

	t.Setenv("GIT_TOKEN", "new-secret")
	s = start(t, up, func(c *config.Serve) {
		c.DirectDir = directDir
		c.VCSCredentials = []config.VCSCredential{{Host: "git.example", Username: "bot", PasswordEnv: "GIT_TOKEN"}}
	})
	dir := filepath.Join(directDir, "credentials")
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o700 {
		t.Errorf("credential directory mode %v, want 0700", fi.Mode().Perm())
	}
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if fi, err := d.Info(); err == nil && fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", p, fi.Mode().Perm())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	s.stop()
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("the credentials outlived the server (stat: %v)", err)
	}
}
