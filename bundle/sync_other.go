//go:build !linux

package bundle

import (
	"os"
	"path/filepath"
)

// syncfs fsyncs every file in dir (no syncfs(2) here).
func syncfs(_ *os.File, dir string) error {
	names, err := filepath.Glob(filepath.Join(dir, "*"))
	if err != nil {
		return err
	}
	for _, n := range names {
		f, err := os.Open(n)
		if err != nil {
			return err
		}
		err = f.Sync()
		f.Close()
		if err != nil {
			return err
		}
	}
	return nil
}
