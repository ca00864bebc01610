// Package fs is the local-disk storage driver, gomirror's default.
//
// The directory layout is the GOPROXY URL space itself: the object stored at
// key "golang.org/x/mod/@v/v0.20.0.zip" is the file <root>/golang.org/x/mod/@v/v0.20.0.zip,
// so a storage directory can be handed to the go command as GOPROXY=file://<root>.
// Writes go to a temporary file under <root>/.gomirror/tmp, are synced, and are
// renamed into place, so a reader never sees a partial file and a crash leaves
// at most orphaned temporary files, in the crashed process's own directory
// under .gomirror/tmp, which the next New on the same host removes (see
// internal/tempdir for what is removed when, with replicas sharing a store).
//
// The driver registers itself as "fs" (see storage.Register); its one
// setting is storage-dir. A Store's methods expect valid keys: use it
// through storage.Open or storage.Wrap, which check them.
package fs

import (
	"context"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"github.com/gomirror/gomirror/config"
	"github.com/gomirror/gomirror/internal/tempdir"
	"github.com/gomirror/gomirror/layout"
	"github.com/gomirror/gomirror/storage"
)

func init() { storage.Register("fs", open) }

// open is the factory of storage "fs": a Store in the directory of the
// setting storage-dir. Errors are *config.Error.
func open(ctx context.Context, settings storage.Settings) (storage.Storage, error) {
	dir, _ := settings.Setting("storage-dir")
	s, err := New(dir)
	if err != nil {
		return nil, &config.Error{Key: "storage-dir", Source: dir, Err: err}
	}
	return s, nil
}

// tmpDir is where partial writes live, relative to the root.
const tmpDir = layout.TempDir

// Store is a storage.Storage on local disk.
type Store struct {
	root string
	// tmp is this process's temporary directory, under tmpDir.
	tmp string
	// sync makes Put and AdoptFile fsync the file before renaming it, so
	// that it survives an operating system crash, not only a process crash.
	sync bool
}

var (
	_ storage.Storage       = (*Store)(nil)
	_ storage.FileAdopter   = (*Store)(nil)
	_ storage.SyncedAdopter = (*Store)(nil)
	_ storage.TempDirer     = (*Store)(nil)
	_ storage.Unsyncer      = (*Store)(nil)
	_ storage.Rooter        = (*Store)(nil)
	_ storage.Walker        = (*Store)(nil)
	_ storage.AfterLister   = (*Store)(nil)
	_ storage.Creator       = (*Store)(nil)
	_ storage.TopLeveler    = (*Store)(nil)
)

// New returns a Store rooted at dir, creating it if needed, and removes
// temporary files left behind by a crash.
func New(dir string) (*Store, error) {
	root, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	tmp, err := tempdir.Open(filepath.Join(root, tmpDir))
	if err != nil {
		return nil, fmt.Errorf("storage dir: %w", err)
	}
	return &Store{root: root, tmp: tmp, sync: true}, nil
}

// Unsynced returns a Store over the same directory whose writes are atomic
// but not fsynced: for data that is cheap to fetch again and checked when
// read (the checksum database's tiles and records), where an fsync per
// write would dominate the time taken.
func (s *Store) Unsynced() storage.Storage { return &Store{root: s.root, tmp: s.tmp, sync: false} }

// Root returns the absolute path of the storage directory.
func (s *Store) Root() string { return s.root }

// String names the store for logs: its root directory.
func (s *Store) String() string { return s.Root() }

// path is the file of key, which storage.Wrap has checked.
func (s *Store) path(key string) string {
	return filepath.Join(s.root, filepath.FromSlash(key))
}

// Get opens key. The returned Body is the *os.File, so net/http can use
// sendfile for it.
func (s *Store) Get(ctx context.Context, key string) (*storage.Object, error) {
	f, err := os.Open(s.path(key))
	if err != nil {
		return nil, notExist(key, err)
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if info.IsDir() {
		f.Close()
		return nil, storage.NotFound(key)
	}
	return &storage.Object{Info: storage.Info{Size: info.Size(), ModTime: info.ModTime()}, Body: f}, nil
}

// Stat reports key's size and modification time.
func (s *Store) Stat(ctx context.Context, key string) (storage.Info, error) {
	info, err := os.Stat(s.path(key))
	if err != nil {
		return storage.Info{}, notExist(key, err)
	}
	if info.IsDir() {
		return storage.Info{}, storage.NotFound(key)
	}
	return storage.Info{Size: info.Size(), ModTime: info.ModTime()}, nil
}

// Put writes r to a temporary file, syncs it and renames it to key.
func (s *Store) Put(ctx context.Context, key string, r io.Reader) (err error) {
	p := s.path(key)
	tmp, err := s.tempFile("put-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err = io.Copy(tmp, storage.ContextReader(ctx, r)); err != nil {
		return err
	}
	if s.sync {
		if err = tmp.Sync(); err != nil {
			return err
		}
	}
	// fchmod on the open file: no second lookup of its path.
	if err = tmp.Chmod(0o644); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	return renameInto(tmp.Name(), p)
}

// CreateIfAbsent stores r at key unless key exists (an error wrapping
// fs.ErrExist): the complete temporary file is hard-linked to key's path
// (link(2) fails with EEXIST if anything is there, atomically), then
// removed. A file system without hard links (some network or FUSE file
// systems) fails with the link's error: nothing is stored.
func (s *Store) CreateIfAbsent(ctx context.Context, key string, r io.Reader) (err error) {
	p := s.path(key)
	tmp, err := s.tempFile("create-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // linked or not, the temporary name goes
	defer func() {
		if err != nil {
			tmp.Close()
		}
	}()
	if _, err = io.Copy(tmp, storage.ContextReader(ctx, r)); err != nil {
		return err
	}
	if s.sync {
		if err = tmp.Sync(); err != nil {
			return err
		}
	}
	if err = tmp.Chmod(0o644); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	err = os.Link(tmp.Name(), p)
	if errors.Is(err, iofs.ErrNotExist) {
		if err = os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		err = os.Link(tmp.Name(), p)
	}
	if errors.Is(err, iofs.ErrExist) {
		return &iofs.PathError{Op: "create", Path: key, Err: iofs.ErrExist}
	}
	return err
}

// renameInto renames the file at name to p, creating p's directory only when
// the rename finds it missing: most keys a fill stores go next to one stored
// before them (a version's .info, .mod, hash and .zip), so this saves the
// stat of MkdirAll on most Puts. It is rename(2) itself, without the lstat
// of p that os.Rename adds to refuse replacing a directory (rename(2)
// refuses that too, with EISDIR).
func renameInto(name, p string) error {
	err := rename(name, p)
	if err == nil || !errors.Is(err, iofs.ErrNotExist) {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return rename(name, p)
}

// rename is rename(2), its error an *os.LinkError like os.Rename's.
func rename(from, to string) error {
	if err := syscall.Rename(from, to); err != nil {
		return &os.LinkError{Op: "rename", Old: from, New: to, Err: err}
	}
	return nil
}

// tempFile creates a temporary file in s.tmp, making s.tmp again if
// another host's New removed it (see internal/tempdir).
func (s *Store) tempFile(pattern string) (*os.File, error) {
	f, err := os.CreateTemp(s.tmp, pattern)
	if errors.Is(err, iofs.ErrNotExist) {
		if err := os.MkdirAll(s.tmp, 0o755); err != nil {
			return nil, err
		}
		f, err = os.CreateTemp(s.tmp, pattern)
	}
	return f, err
}

// TempDir returns the directory where the store keeps this process's
// partial writes; files created there are adopted by rename, and those a
// crash leaves are removed by the next New (see internal/tempdir).
func (s *Store) TempDir() string { return s.tmp }

// AdoptFile syncs the file at name and renames it to key. A file on another
// filesystem is copied with Put instead.
func (s *Store) AdoptFile(ctx context.Context, key, name string) error {
	f, err := os.OpenFile(name, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	if s.sync {
		err = f.Sync()
	}
	if err == nil {
		err = f.Chmod(0o644)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return s.AdoptSynced(ctx, key, name)
}

// AdoptSynced moves the file at name, synced and of mode 0644 already
// (storage.SyncedAdopter), to key: a rename, or a copy (Put) and a
// removal when name is on another filesystem.
func (s *Store) AdoptSynced(ctx context.Context, key, name string) error {
	p := s.path(key)
	if err := renameInto(name, p); err != nil {
		if !errors.Is(err, syscall.EXDEV) {
			return err
		}
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := s.Put(ctx, key, f); err != nil {
			return err
		}
		return os.Remove(name)
	}
	return nil
}

// Delete removes key; a missing key is not an error.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := os.Remove(s.path(key)); err != nil && !errors.Is(err, iofs.ErrNotExist) {
		return err
	}
	return nil
}

// List returns the keys under prefix, in lexical order. Temporary files are
// never listed.
func (s *Store) List(ctx context.Context, prefix string) ([]string, error) {
	var keys []string
	err := s.walkDir(ctx, prefix, func(key string, _ iofs.DirEntry) error {
		keys = append(keys, key)
		return nil
	})
	sort.Strings(keys)
	return keys, err
}

// walkDir calls fn for every entry other than a directory whose key starts
// with prefix, walking only the deepest directory that contains every such
// key, and never the temporary directory. A directory that disappears
// meanwhile is not an error.
func (s *Store) walkDir(ctx context.Context, prefix string, fn func(key string, d iofs.DirEntry) error) error {
	start := s.root
	if i := strings.LastIndex(prefix, "/"); i >= 0 && prefix[:i] != "" {
		start = s.path(prefix[:i])
	}
	return filepath.WalkDir(start, func(p string, d iofs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, iofs.ErrNotExist) {
				return nil
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rel, _ := filepath.Rel(s.root, p)
		key := filepath.ToSlash(rel)
		if d.IsDir() {
			if key == tmpDir {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasPrefix(key, prefix) {
			return nil
		}
		return fn(key, d)
	})
}

// ListAfter returns the keys under prefix after after, in lexical order.
// A prefix that is a directory of files only (an environment's records)
// is one directory read, its names compared before any key is made;
// anything else is List's walk, filtered. Either way the directory's
// names are read: on local disk that is one getdents loop, with no
// request per key.
func (s *Store) ListAfter(ctx context.Context, prefix, after string) ([]string, error) {
	if dir, ok := strings.CutSuffix(prefix, "/"); ok && dir != "" {
		entries, err := os.ReadDir(s.path(dir))
		if errors.Is(err, iofs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		var keys []string
		flat := true
		for _, e := range entries {
			if e.IsDir() {
				flat = false
				break
			}
			if k := prefix + e.Name(); k > after {
				keys = append(keys, k)
			}
		}
		if flat {
			return keys, nil // ReadDir sorts by name
		}
	}
	keys, err := s.List(ctx, prefix)
	if err != nil {
		return nil, err
	}
	return keys[sort.SearchStrings(keys, after+"\x00"):], nil
}

func notExist(key string, err error) error {
	if errors.Is(err, iofs.ErrNotExist) {
		return storage.NotFound(key)
	}
	// A path through a regular file ("a.zip/b") is ENOTDIR: also absent.
	if errors.Is(err, syscall.ENOTDIR) {
		return storage.NotFound(key)
	}
	return err
}

// TopLevel returns the first elements of the keys (storage.TopLeveler):
// one read of the root directory; a directory with no file below it may
// be among them (fs keeps emptied directories).
func (s *Store) TopLevel(ctx context.Context) ([]string, error) {
	des, err := os.ReadDir(s.root)
	if errors.Is(err, iofs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, de := range des {
		switch {
		case de.IsDir():
			out = append(out, de.Name()+"/")
		case de.Type().IsRegular():
			out = append(out, de.Name())
		}
	}
	return out, nil
}

// Walk calls fn for every key under prefix with its size and modification
// time, directory by directory (lexical within each), holding no more
// than the directory being read; temporary files are never walked.
func (s *Store) Walk(ctx context.Context, prefix string, fn func(key string, info storage.Info) error) error {
	return s.walkDir(ctx, prefix, func(key string, d iofs.DirEntry) error {
		if !d.Type().IsRegular() {
			return nil
		}
		fi, err := d.Info()
		if errors.Is(err, iofs.ErrNotExist) {
			return nil // deleted meanwhile
		}
		if err != nil {
			return err
		}
		return fn(key, storage.Info{Size: fi.Size(), ModTime: fi.ModTime()})
	})
}
