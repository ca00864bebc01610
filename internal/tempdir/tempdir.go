// Package tempdir owns the per-process temporary directories of gomirror:
// each process keeps its temporary files in a directory named after it, and
// a start removes what dead processes left (see Open). storage/fs keeps its
// own under <root>/.gomirror/tmp; the server keeps one under
// <storage-dir>/tmp for stores without their own (S3), where prefetched
// zips wait for a client.
package tempdir

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Temporary files and their owners.
//
// Every process keeps its temporary files in its own directory
// <parent>/<owner>, where owner is "<host>_<pid>_<start>": the
// host name, the process id and the process's start time (the 22nd field of
// /proc/<pid>/stat, in clock ticks since boot; "0" where there is no /proc).
// When Open is called it removes, in parent:
//
//   - an owner directory of this host whose process is gone: no process has
//     the pid, or the process that has it started at another time (the pid
//     was reused, say pid 1 of a restarted container); so temporary files of
//     a crashed (killed) process on this host go at the next start;
//   - in an owner directory of another host (replicas sharing one store
//     over NFS), or of this host without a start time, the files untouched
//     for StaleTemp: another host's processes cannot be seen from here, and
//     one may be writing right now; the directory itself once it is empty
//     and untouched for staleOwnerDir (a live owner that idled that long
//     makes it again, as storage/fs's Store.tempFile does);
//   - a file left at the top (older versions put their files there) older
//     than StaleTemp.
//
// The process's own directory is never removed.

// StaleTemp is how long a temporary directory of another host (or a file
// at the top of parent) must be untouched before Open removes it; a younger
// one may belong to another replica writing right now.
const StaleTemp = time.Hour

// Open makes this process's temporary directory under parent and returns
// its path, having removed what dead processes left in parent (see above).
func Open(parent string) (string, error) {
	return openAt(parent, time.Now())
}

func openAt(parent string, now time.Time) (string, error) {
	self := ownerOf()
	dir := filepath.Join(parent, self.String())
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	removeStaleTemps(parent, self, now)
	return dir, nil
}

// owner names the temporary directory of this process.
type owner struct {
	host  string
	pid   int
	start string
}

// ownerOf returns this process's owner.
func ownerOf() owner {
	host, _ := os.Hostname()
	pid := os.Getpid()
	start, ok := procStart(pid)
	if !ok {
		start = "0"
	}
	return owner{host: cleanHost(host), pid: pid, start: start}
}

// cleanHost keeps a host name's letters, digits, dots and hyphens, so that
// the owner's name splits on "_" and is one path element.
func cleanHost(h string) string {
	h = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' {
			return r
		}
		return '-'
	}, h)
	if h == "" {
		h = "unknown"
	}
	return h
}

func (o owner) String() string { return fmt.Sprintf("%s_%d_%s", o.host, o.pid, o.start) }

// parseOwner parses a directory name made by owner.String.
func parseOwner(name string) (owner, bool) {
	i := strings.LastIndexByte(name, '_')
	if i < 0 {
		return owner{}, false
	}
	j := strings.LastIndexByte(name[:i], '_')
	if j <= 0 {
		return owner{}, false
	}
	pid, err := strconv.Atoi(name[j+1 : i])
	if err != nil || pid <= 0 {
		return owner{}, false
	}
	return owner{host: name[:j], pid: pid, start: name[i+1:]}, true
}

// HasProc reports whether this host's processes can be seen (/proc), so
// that Open removes a dead process's directory at once rather than by age.
func HasProc() bool { return ownerOf().start != "0" }

// procStart returns the start time of process pid as /proc reports it, and
// false if there is no such process or no /proc.
func procStart(pid int) (string, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return "", false
	}
	// The command name (field 2) is in parentheses and may hold spaces.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return "", false
	}
	fields := strings.Fields(s[i+1:]) // fields 3, 4, ...
	if len(fields) < 20 {
		return "", false
	}
	return fields[19], true // field 22: starttime
}

// gone reports whether o, an owner of this host, is a process that no
// longer runs; false when that cannot be known.
// o has a start time.
func (o owner) gone() bool {
	start, ok := procStart(o.pid)
	if !ok {
		_, procOK := procStart(os.Getpid())
		return procOK // /proc works and has no such pid
	}
	return start != o.start
}

// removeStaleTemps removes, under tmp, what crashed processes left (see
// the comment on owner), never self's directory.
func removeStaleTemps(tmp string, self owner, now time.Time) {
	entries, _ := os.ReadDir(tmp)
	for _, e := range entries {
		p := filepath.Join(tmp, e.Name())
		if !e.IsDir() {
			if info, err := e.Info(); err == nil && now.Sub(info.ModTime()) > StaleTemp {
				os.Remove(p)
			}
			continue
		}
		if e.Name() == self.String() {
			continue
		}
		o, ok := parseOwner(e.Name())
		switch {
		case ok && o.host == self.host && o.pid == self.pid && o.start == self.start:
			continue
		case ok && o.host == self.host && o.start != "0":
			if o.gone() {
				os.RemoveAll(p)
			}
		default:
			removeOld(p, now)
		}
	}
}

// staleOwnerDir is how long an empty owner directory of another host must
// be untouched before Open removes it.
const staleOwnerDir = 7 * 24 * time.Hour

// removeOld removes the files in dir untouched for StaleTemp, and dir
// itself if then empty and untouched for staleOwnerDir.
func removeOld(dir string, now time.Time) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	left := 0
	for _, e := range entries {
		if info, err := e.Info(); err == nil && now.Sub(info.ModTime()) > StaleTemp {
			if os.RemoveAll(filepath.Join(dir, e.Name())) == nil {
				continue
			}
		}
		left++
	}
	if info, err := os.Stat(dir); left == 0 && err == nil && now.Sub(info.ModTime()) > staleOwnerDir {
		os.Remove(dir) // fails if a file was created meanwhile
	}
}
