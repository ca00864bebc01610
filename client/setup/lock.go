package setup

import (
	"context"
	"os"
	"path/filepath"

	"github.com/gomirror/gomirror/internal/gocmd"
)

// LockFileName is the name of the lock file, next to the GOENV file, that
// Locked holds while a setup reads and changes the GOENV, state and
// profiles files.
const LockFileName = "gomirror-setup.lock"

// Locked runs fn holding an exclusive lock on the lock file next to the
// go command's GOENV file (waiting for another holder, of this process or
// another, to let go), so that setups run at the same time do not lose
// each other's profiles or save a half-changed file as the original. Apply,
// Switch, Undo and every read-modify-write of the profiles file must run
// inside it when setups may run concurrently; they do not lock themselves
// (a lock is not re-entrant). GOENV=off is refused, as by Apply. Where the
// system has no flock(2), fn runs unlocked.
func Locked(ctx context.Context, r gocmd.Runner, fn func() error) error {
	goenv, err := envFile(ctx, r)
	if err != nil {
		return err
	}
	dir := filepath.Dir(goenv)
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return err
	}
	f, err := os.OpenFile(filepath.Join(dir, LockFileName), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	defer f.Close() // lets go of the lock
	if err := lock(f); err != nil {
		return err
	}
	return fn()
}
