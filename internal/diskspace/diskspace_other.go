//go:build !(linux || darwin || freebsd || dragonfly || aix || windows)

package diskspace

import (
	"errors"
	"io/fs"
)

// Of fails with errors.ErrUnsupported: this platform is not asked.
func Of(dir string) (Usage, error) {
	return Usage{}, &fs.PathError{Op: "statfs", Path: dir, Err: errors.ErrUnsupported}
}
