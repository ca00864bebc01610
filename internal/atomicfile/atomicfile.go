// Package atomicfile writes local files whole or not at all: through a
// temporary file in the same directory, synced and renamed over the
// target, so that a reader (or a crash) never sees a half-written file.
// It is the one owner of that sequence for the files the commands write
// (token files, setup's state and profiles, snapshot manifests, bundles);
// storage drivers have their own (storage/fs).
package atomicfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
)

// Write writes name with write, atomically. The file is created with mode
// perm less the umask (as os.WriteFile does), in name's directory, which
// must exist. On any error the temporary file is removed and name is left
// as it was.
func Write(name string, perm fs.FileMode, write func(io.Writer) error) (err error) {
	f, err := create(name, perm)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err := write(f); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), name); err != nil {
		return err
	}
	// Make the rename itself durable. Not every system can sync a
	// directory; the file is in place either way.
	if d, err := os.Open(filepath.Dir(name)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// WriteFile writes data to name atomically, as Write does.
func WriteFile(name string, data []byte, perm fs.FileMode) error {
	return Write(name, perm, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// create makes a new hidden file next to name, of mode perm less the
// umask (os.CreateTemp's is always 0600).
func create(name string, perm fs.FileMode) (*os.File, error) {
	dir, base := filepath.Split(name)
	for range 10000 {
		tmp := filepath.Join(dir, fmt.Sprintf(".%s.tmp-%d-%d", base, os.Getpid(), rand.Uint32()))
		f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
		if !errors.Is(err, fs.ErrExist) {
			return f, err
		}
	}
	return nil, fmt.Errorf("creating a temporary file next to %s: too many attempts", name)
}
