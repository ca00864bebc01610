//go:build windows

package diskspace

import (
	"io/fs"

	"golang.org/x/sys/windows"
)

// Of returns the usage of the volume holding dir (the quota of the
// calling user, if any, is what it may still write).
func Of(dir string) (Usage, error) {
	p, err := windows.UTF16PtrFromString(dir)
	if err != nil {
		return Usage{}, &fs.PathError{Op: "GetDiskFreeSpaceEx", Path: dir, Err: err}
	}
	var avail, total, free uint64
	if err := windows.GetDiskFreeSpaceEx(p, &avail, &total, &free); err != nil {
		return Usage{}, &fs.PathError{Op: "GetDiskFreeSpaceEx", Path: dir, Err: err}
	}
	// total and avail are the caller's (its disk quota, if any); free is
	// the whole volume's: mixing them would make Used negative under a
	// quota.
	return Usage{Used: int64(total - min(avail, total)), Avail: int64(avail)}, nil
}
