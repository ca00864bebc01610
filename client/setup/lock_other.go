//go:build !unix && !windows

package setup

import "os"

// lock is a no-op where flock(2) does not exist: concurrent setups there
// are not serialised.
func lock(f *os.File) error { return nil }
