// Package diskspace reports how full the file system holding a directory
// is: the one place gomirror asks the operating system (statfs(2) on Unix,
// GetDiskFreeSpaceExW on Windows).
package diskspace

// Usage is the space of a file system in bytes, as df(1) counts it: the
// blocks reserved for the superuser are neither used nor available, so a
// file system full for an unprivileged process is at 100 %.
type Usage struct {
	Used  int64 // bytes in use
	Avail int64 // bytes an unprivileged process may still write
}

// Total is the size of the file system as an unprivileged process sees
// it: Used + Avail.
func (u Usage) Total() int64 { return u.Used + u.Avail }
