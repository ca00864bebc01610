//go:build unix

package setup

import (
	"os"

	"golang.org/x/sys/unix"
)

// lock takes an exclusive flock(2) on f, waiting for it; closing f lets
// go of it.
func lock(f *os.File) error {
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX)
		if err != unix.EINTR {
			return err
		}
	}
}
