package vulndb

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"time"

	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"

	"github.com/gomirror/gomirror/cache"
	"github.com/gomirror/gomirror/layout"
	"github.com/gomirror/gomirror/modinfo"
	"github.com/gomirror/gomirror/storage"
)

// DefaultModule is the module whose data/osv directory is the Go
// vulnerability database's OSV files: the default source.
const DefaultModule = "golang.org/x/vulndb"

// Modules is what ModuleSource needs of the mirror (a *cache.Mirror):
// module versions fetched through gomirror's own cache, so verified
// against the checksum database and kept in storage.
type Modules interface {
	Latest(ctx context.Context, em layout.Module) ([]byte, cache.Source, error)
	List(ctx context.Context, em layout.Module) ([]byte, cache.Source, error)
	Zip(ctx context.Context, em layout.Module) (*storage.Object, cache.Source, error)
}

var _ Modules = (*cache.Mirror)(nil)

// ModuleSource is the database carried by a module (DefaultModule, or a
// fork or import of it) in its data/osv directory.
type ModuleSource struct {
	// Path is the module path (DefaultModule if empty).
	Path string
	// Mirror fetches its versions (through the cache).
	Mirror Modules
	// Storage is where the mirror keeps them (read by Stored, with no
	// network access).
	Storage storage.Storage
	// TempDir holds the copy of a zip that storage cannot read at an
	// offset (an object that is not an io.ReaderAt, e.g. s3); "" is the
	// system's.
	TempDir string
}

var _ Source = (*ModuleSource)(nil)

func (ms *ModuleSource) path() string {
	if ms.Path == "" {
		return DefaultModule
	}
	return ms.Path
}

// String names the source: "module <path>".
func (ms *ModuleSource) String() string { return "module " + ms.path() }

// Stored opens the zip of the highest version of the module whose zip is
// in storage.
func (ms *ModuleSource) Stored(ctx context.Context) (*Zip, error) {
	return ms.StoredBefore(ctx, "")
}

var _ StoredBeforer = (*ModuleSource)(nil)

// StoredBefore opens the zip of the highest version of the module whose
// zip is in storage and that is lower than the version of origin (any, if
// origin is "" or names another module).
func (ms *ModuleSource) StoredBefore(ctx context.Context, origin string) (*Zip, error) {
	below := ""
	if p, v, ok := strings.Cut(origin, "@"); ok && p == ms.path() {
		below = v
	}
	versions, err := modinfo.StoredVersions(ctx, ms.Storage, ms.path(), modinfo.Limits{})
	if err != nil {
		return nil, err
	}
	for i := len(versions) - 1; i >= 0; i-- {
		if below != "" && semver.Compare(versions[i], below) >= 0 {
			continue
		}
		m := module.Version{Path: ms.path(), Version: versions[i]}
		key, err := layout.Key(m, layout.Zip)
		if err != nil {
			return nil, err
		}
		obj, err := ms.Storage.Get(ctx, key)
		if errors.Is(err, fs.ErrNotExist) {
			continue // its .info or .mod only
		}
		if err != nil {
			return nil, err
		}
		return ms.open(ctx, obj, m)
	}
	return nil, fmt.Errorf("no zip of %s in storage: %w", ms.path(), fs.ErrNotExist)
}

// Fetch resolves the newest version (the module's @latest or, when that
// fails, as upstream's does for golang.org/x/vulndb, which has only
// pseudo-versions, the highest of its list) and returns its zip, unless
// it is current. A version lower than current's (of the same module) is
// an error: the database never rolls back.
func (ms *ModuleSource) Fetch(ctx context.Context, current string) (*Zip, error) {
	v, err := ms.newest(ctx)
	if err != nil {
		return nil, err
	}
	m := module.Version{Path: ms.path(), Version: v}
	if origin(m) == current {
		return nil, nil
	}
	if p, cv, ok := strings.Cut(current, "@"); ok && p == ms.path() && semver.Compare(v, cv) < 0 {
		// The list and @latest are not verified: a stale or hostile
		// upstream could hide newer advisories by naming an old version.
		return nil, fmt.Errorf("%s names %s, older than the served %s: not rolling back", ms.path(), v, cv)
	}
	em, err := layout.Escape(m)
	if err != nil {
		return nil, err
	}
	obj, _, err := ms.Mirror.Zip(ctx, em)
	if err != nil {
		return nil, err
	}
	return ms.open(ctx, obj, m)
}

func origin(m module.Version) string { return m.Path + "@" + m.Version }

// newest returns the version @latest names, else the highest of the list.
func (ms *ModuleSource) newest(ctx context.Context) (string, error) {
	em, err := layout.Escape(module.Version{Path: ms.path()})
	if err != nil {
		return "", err
	}
	b, _, latestErr := ms.Mirror.Latest(ctx, em)
	if latestErr == nil {
		var info struct{ Version string }
		if err := json.Unmarshal(b, &info); err == nil && semver.IsValid(info.Version) && module.CheckPathMajor(info.Version, "") == nil {
			return info.Version, nil
		}
		latestErr = errors.New("malformed @latest answer")
	}
	b, _, err = ms.Mirror.List(ctx, em)
	if err != nil {
		return "", fmt.Errorf("%s@latest: %v; list: %w", ms.path(), latestErr, err)
	}
	best := ""
	for _, line := range bytesFields(b) {
		if semver.IsValid(line) && semver.Canonical(line) == line && (best == "" || semver.Compare(line, best) > 0) {
			best = line
		}
	}
	if best == "" {
		return "", fmt.Errorf("%s@latest: %v; and no version listed: %w", ms.path(), latestErr, fs.ErrNotExist)
	}
	return best, nil
}

func bytesFields(b []byte) []string {
	var out []string
	start := -1
	for i, c := range b {
		if c == '\n' || c == ' ' || c == '\r' || c == '\t' {
			if start >= 0 {
				out = append(out, string(b[start:i]))
				start = -1
			}
		} else if start < 0 {
			start = i
		}
	}
	if start >= 0 {
		out = append(out, string(b[start:]))
	}
	return out
}

// open turns a stored (or fetched) zip of m into a Zip of its data/osv.
func (ms *ModuleSource) open(ctx context.Context, obj *storage.Object, m module.Version) (*Zip, error) {
	ra, size, closeFn, err := readerAt(ctx, obj, ms.TempDir)
	if err != nil {
		return nil, err
	}
	return &Zip{RA: ra, Size: size, Close: closeFn, Dir: origin(m) + "/data/osv/", Origin: origin(m), Modified: ms.versionTime(ctx, m)}, nil
}

// versionTime is m's commit time: a pseudo-version's own, else the Time
// of the .info in storage (the mirror keeps it with the zip); zero if
// neither is known.
func (ms *ModuleSource) versionTime(ctx context.Context, m module.Version) time.Time {
	if module.IsPseudoVersion(m.Version) {
		if t, err := module.PseudoVersionTime(m.Version); err == nil {
			return t
		}
	}
	key, err := layout.Key(m, layout.Info)
	if err != nil {
		return time.Time{}
	}
	obj, err := ms.Storage.Get(ctx, key)
	if err != nil {
		return time.Time{}
	}
	defer obj.Body.Close()
	var info struct{ Time time.Time }
	if json.NewDecoder(io.LimitReader(obj.Body, 64<<10)).Decode(&info) != nil {
		return time.Time{}
	}
	return info.Time
}

// maxZip is the largest zip read: x/mod's limit of a module zip.
const maxZip = 500 << 20

// readerAt returns obj's body as an io.ReaderAt: itself if it is one (a
// file on local disk, an object in memory), else a copy in a temporary
// file in dir, unlinked at once (closing it frees it). close closes it.
func readerAt(ctx context.Context, obj *storage.Object, dir string) (io.ReaderAt, int64, func() error, error) {
	if ra, ok := obj.Body.(io.ReaderAt); ok {
		return ra, obj.Size, obj.Body.Close, nil
	}
	defer obj.Body.Close()
	f, err := os.CreateTemp(dir, "gomirror-vulndb-*.zip")
	if err != nil {
		return nil, 0, nil, err
	}
	os.Remove(f.Name())
	limit := obj.Size + 1
	if obj.Size < 0 { // not announced
		limit = maxZip + 1
	}
	n, err := io.Copy(f, storage.ContextReader(ctx, io.LimitReader(obj.Body, limit)))
	if err == nil && (n != obj.Size && obj.Size >= 0 || n > maxZip) {
		err = fmt.Errorf("zip of %d bytes read as %d", obj.Size, n)
	}
	if err != nil {
		f.Close()
		return nil, 0, nil, err
	}
	return f, n, f.Close, nil
}
