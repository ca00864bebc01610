//go:build linux || darwin || freebsd || dragonfly || aix

package diskspace

import (
	"io/fs"

	"golang.org/x/sys/unix"
)

// Of returns the usage of the file system holding dir.
func Of(dir string) (Usage, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return Usage{}, &fs.PathError{Op: "statfs", Path: dir, Err: err}
	}
	bs := int64(st.Bsize)
	// FreeBSD's Bavail is signed: negative while the superuser's reserve
	// is in use. Nothing is available then.
	return Usage{Used: int64(st.Blocks-st.Bfree) * bs, Avail: max(0, int64(st.Bavail)) * bs}, nil
}
