//go:build windows

package setup

import (
	"os"

	"golang.org/x/sys/windows"
)

// lock takes an exclusive LockFileEx lock on f's first byte, waiting for
// it; closing f lets go of it.
func lock(f *os.File) error {
	return windows.LockFileEx(windows.Handle(f.Fd()), windows.LOCKFILE_EXCLUSIVE_LOCK, 0, 1, 0, new(windows.Overlapped))
}
