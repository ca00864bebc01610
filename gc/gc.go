// Package gc keeps the store within its quota and retention: the
// collector (Collect) walks the store, joins what it holds with when each
// module version was last downloaded (recorded by a Tracker, flushed to
// the database), and evicts least recently downloaded zips first until
// the store is under storage-max-size, and every artifact not downloaded
// within retention.
//
// What it never evicts: a version a snapshot or the vulnerability
// database in use pins (Pins), a private
// module's (unless configured), a version being served (Options.Serving:
// the server's Tracker; from the command line, a grace window of recent
// accesses and stores), the checksum database's data (sumdb/...) and
// gomirror's own state (.gomirror/...): only module version files are
// ever considered.
//
// A version whose downloads were never recorded (stored before access
// times were kept, or by a replica with a database of its own) counts as
// last downloaded when its newest file was stored (the file's
// modification time in storage): the collector's order then does not
// depend on when, or on which replica, it first ran.
package gc

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"

	"golang.org/x/mod/module"

	"github.com/gomirror/gomirror/db"
	"github.com/gomirror/gomirror/layout"
	"github.com/gomirror/gomirror/storage"
)

// Pins is the set of module versions that snapshots pin. The snapshot
// package provides one (snapshot.Pinned over the store).
type Pins interface {
	Pinned(ctx context.Context) (map[module.Version]struct{}, error)
}

// PinsFunc adapts a function to Pins.
type PinsFunc func(ctx context.Context) (map[module.Version]struct{}, error)

// Pinned calls f.
func (f PinsFunc) Pinned(ctx context.Context) (map[module.Version]struct{}, error) { return f(ctx) }

// Accesses is where the collector reads the recorded access times.
// *db.DB is one.
type Accesses interface {
	AccessTimes(ctx context.Context, f func(db.VersionAccess) error) error
}

// Catalog is told of every file the collector removes (the database's
// catalog of stored artifacts, and its access times once a version has
// no file left). *db.DB is one.
type Catalog interface {
	DeleteArtifact(ctx context.Context, module, version, file string) error
	ForgetAccess(ctx context.Context, module, version string) error
}

var (
	_ Accesses = (*db.DB)(nil)
	_ Catalog  = (*db.DB)(nil)
	_ Pins     = PinsFunc(nil)
)

// Options configure one collection.
type Options struct {
	Storage storage.Storage
	// MaxBytes is the quota of the module files (0: none); Retention how
	// long a version may go without a download before its zip goes (0:
	// forever).
	MaxBytes  int64
	Retention time.Duration
	// EvictMetadata lets a version's .mod and .info go (never hash files):
	// with retention, together with its zip; for the quota, once no zip is
	// left to evict. By default only zips (and their .ziphash) go.
	EvictMetadata bool
	// Private reports whether a module path is private (nil: none is);
	// private modules are kept unless EvictPrivate.
	Private      func(path string) bool
	EvictPrivate bool
	// Pins are the sources of pinned versions (snapshots, the
	// vulnerability database's module in use...): a version any of them
	// pins stays. Pins, Accesses, Catalog and Serving may be nil.
	Pins     []Pins
	Accesses Accesses
	Catalog  Catalog
	// Serving reports whether an artifact of a version is being served
	// (the server's Tracker.Serving).
	Serving func(module.Version) bool
	// Grace keeps a version whose last recorded access or stored file is
	// more recent than this, whatever else: from the command line, whose
	// process cannot see the server's downloads of the last flush interval
	// (give at least twice FlushEvery) nor its Serving.
	Grace time.Duration
	// RetentionRecordedOnly lets retention evict only versions with a
	// recorded download: when Accesses may have missed some (a Memory that
	// overflowed), the stored time proves nothing.
	RetentionRecordedOnly bool
	// Held, if set, reports whether the collection's cross-replica lock
	// is still held (cache.Lease.Valid); it is asked before each batch of
	// DeleteBatch evictions, and once it says no the collection stops
	// with ErrLockLost (another replica may be collecting).
	Held func(ctx context.Context) bool
	// DryRun decides and reports without deleting anything.
	DryRun bool
	// Now is the collection's clock (nil: time.Now).
	Now    func() time.Time
	Logger *slog.Logger
}

// MinAge is the least age of what serve's collector evicts: a version
// downloaded or with a file stored less than MinAge ago stays (counted as
// kept by "grace"). It covers a fill that the request path could not yet
// register, another replica's fills and downloads it has not yet written
// to the database (it writes them every FlushEvery), and the tracker's
// resolution: max(2×FlushEvery, 5 minutes).
const MinAge = max(2*FlushEvery, 5*time.Minute)

// DeleteBatch is how many versions a collection evicts between two checks
// of its lock (Options.Held).
const DeleteBatch = 32

// ErrLockLost is Collect's error when its lock was lost (Options.Held):
// it stopped, and its report holds only what it evicted before.
var ErrLockLost = errors.New("gc: the collection lock was lost; stopped")

// Reasons for an eviction.
const (
	ReasonQuota     = "quota"
	ReasonRetention = "retention"
)

// Eviction is one version's files that went (or, in a dry run, would go).
type Eviction struct {
	Module     string    `json:"module"`
	Version    string    `json:"version"`
	Files      []string  `json:"files"` // "zip", "mod", "info" (hash side-files stay)
	Bytes      int64     `json:"bytes"`
	Reason     string    `json:"reason"`
	LastAccess time.Time `json:"last_access"`
	// Recorded is false when LastAccess is the stored file's time.
	Recorded bool `json:"recorded"`
	// Failed says a deletion failed (left for the next run): the
	// eviction is counted neither in Evicted nor in Freed, and its bytes
	// stay in AfterBytes.
	Failed bool `json:"failed,omitempty"`
}

// Report is what a collection found and did.
type Report struct {
	Versions    int   `json:"versions"`     // module versions in the store
	StoredBytes int64 `json:"stored_bytes"` // module files' bytes before
	AfterBytes  int64 `json:"after_bytes"`  // and after (as planned, in a dry run)
	MaxBytes    int64 `json:"max_bytes"`
	// Kept counts versions that would have gone but for why they stay:
	// "pinned", "private", "serving", "grace", "unrecorded" (retention
	// with RetentionRecordedOnly).
	Kept      map[string]int   `json:"kept"`
	Evictions []Eviction       `json:"evictions"`
	Freed     map[string]int64 `json:"freed_bytes"` // by reason
	Evicted   map[string]int   `json:"evicted"`     // versions by reason
	// Failed counts versions whose deletion failed (left for the next
	// run; their Eviction is marked Failed).
	Failed   int           `json:"failed"`
	DryRun   bool          `json:"dry_run"`
	Duration time.Duration `json:"duration_ns"`
}

// version is what the walk found of one module version.
type version struct {
	mv module.Version
	// files by kind: Info, Mod, Zip, ZipHash, ModHash; size -1 if absent.
	size     [layout.ModHash + 1]int64
	newest   time.Time // the newest file's modification time
	last     time.Time // last access: recorded, or newest
	recorded bool
}

func (v *version) has(k layout.Kind) bool { return v.size[k] >= 0 }

// Collect runs one collection: it walks the store, decides, and (unless
// DryRun) deletes. Deleting a file that fails is counted in Failed and
// logged; the collection goes on. Its memory is a small record per module
// version in the store (about 150 bytes), whatever the files' sizes.
func Collect(ctx context.Context, opts Options) (Report, error) {
	start := time.Now()
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	rep := Report{MaxBytes: opts.MaxBytes, DryRun: opts.DryRun, Kept: map[string]int{}, Freed: map[string]int64{}, Evicted: map[string]int{}}
	versions, used, err := walk(ctx, opts.Storage)
	if err != nil {
		return rep, err
	}
	rep.Versions, rep.StoredBytes = len(versions), used
	if opts.Accesses != nil {
		err := opts.Accesses.AccessTimes(ctx, func(a db.VersionAccess) error {
			if v := versions[module.Version{Path: a.Module, Version: a.Version}]; v != nil && a.Time.After(v.last) {
				v.last, v.recorded = a.Time, true
			}
			return nil
		})
		if err != nil {
			return rep, fmt.Errorf("gc: reading access times: %w", err)
		}
	}
	pinned := map[module.Version]struct{}{}
	for _, p := range opts.Pins {
		ps, err := p.Pinned(ctx)
		if err != nil {
			// Without the pins nothing may go: any version could be one.
			return rep, fmt.Errorf("gc: reading the pins: %w", err)
		}
		maps.Copy(pinned, ps)
	}
	t := now()
	// keep reports why v must stay, or "".
	keep := func(v *version) string {
		switch {
		case hasPin(pinned, v.mv):
			return "pinned"
		case opts.Private != nil && !opts.EvictPrivate && opts.Private(v.mv.Path):
			return "private"
		case opts.Serving != nil && opts.Serving(v.mv):
			return "serving"
		case opts.Grace > 0 && t.Sub(v.last) < opts.Grace:
			return "grace"
		}
		return ""
	}
	// The candidates, least recently downloaded first; among versions
	// recorded at the same time (one flush: the tracker's resolution is
	// the flush interval), the one stored earlier first.
	cands := make([]*version, 0, len(versions))
	for _, v := range versions {
		cands = append(cands, v)
	}
	clear(versions)
	slices.SortFunc(cands, func(a, b *version) int {
		return cmp.Or(a.last.Compare(b.last), a.newest.Compare(b.newest), strings.Compare(a.mv.Path, b.mv.Path), strings.Compare(a.mv.Version, b.mv.Version))
	})
	after := used
	plan := func(v *version, reason string, kinds ...layout.Kind) {
		e := Eviction{Module: v.mv.Path, Version: v.mv.Version, Reason: reason, LastAccess: v.last, Recorded: v.recorded}
		for _, k := range kinds {
			if !v.has(k) {
				continue
			}
			e.Files = append(e.Files, k.String())
			e.Bytes += v.size[k]
			v.size[k] = -1
			// Its hash file stays: see evict.
		}
		if len(e.Files) == 0 {
			return
		}
		after -= e.Bytes
		rep.Evictions = append(rep.Evictions, e)
	}
	kept := map[*version]bool{}
	keepCounted := func(v *version) bool {
		why := keep(v)
		if why != "" && !kept[v] {
			kept[v] = true
			rep.Kept[why]++
		}
		return why != ""
	}
	meta := []layout.Kind{layout.Zip, layout.Mod, layout.Info}
	if opts.Retention > 0 {
		for _, v := range cands {
			if t.Sub(v.last) < opts.Retention {
				break // sorted: the rest are more recent
			}
			if !v.has(layout.Zip) && !(opts.EvictMetadata && (v.has(layout.Mod) || v.has(layout.Info))) {
				continue
			}
			if opts.RetentionRecordedOnly && !v.recorded {
				if !kept[v] {
					kept[v] = true
					rep.Kept["unrecorded"]++
				}
				continue
			}
			if keepCounted(v) {
				continue
			}
			if opts.EvictMetadata {
				plan(v, ReasonRetention, meta...)
			} else {
				plan(v, ReasonRetention, layout.Zip)
			}
		}
	}
	if opts.MaxBytes > 0 {
		// Zips first, least recently downloaded first; then, if allowed
		// and still over, the versions' other files in the same order.
		for _, v := range cands {
			if after <= opts.MaxBytes {
				break
			}
			if v.has(layout.Zip) && !keepCounted(v) {
				plan(v, ReasonQuota, layout.Zip)
			}
		}
		if opts.EvictMetadata {
			for _, v := range cands {
				if after <= opts.MaxBytes {
					break
				}
				if (v.has(layout.Mod) || v.has(layout.Info)) && !keepCounted(v) {
					plan(v, ReasonQuota, meta...)
				}
			}
		}
	}
	rep.AfterBytes = after
	gone := map[module.Version]bool{} // versions left with no file
	for _, v := range cands {
		if !v.has(layout.Zip) && !v.has(layout.Mod) && !v.has(layout.Info) {
			gone[v.mv] = true
		}
	}
	var stopped error
	for i := range rep.Evictions {
		if !opts.DryRun {
			if err := ctx.Err(); err != nil {
				stopped = err
			} else if opts.Held != nil && i%DeleteBatch == 0 && !opts.Held(ctx) {
				stopped = ErrLockLost
			}
			if stopped != nil {
				// What is left is neither done nor reported.
				for _, e := range rep.Evictions[i:] {
					rep.AfterBytes += e.Bytes
				}
				rep.Evictions = rep.Evictions[:i]
				break
			}
		}
		e := &rep.Evictions[i]
		rep.Freed[e.Reason] += e.Bytes
		rep.Evicted[e.Reason]++
		if opts.DryRun {
			continue
		}
		mv := module.Version{Path: e.Module, Version: e.Version}
		if opts.Serving != nil && opts.Serving(mv) {
			// Began being served since the plan: it stays this time.
			rep.Freed[e.Reason] -= e.Bytes
			rep.Evicted[e.Reason]--
			rep.AfterBytes += e.Bytes
			rep.Kept["serving"]++
			e.Files = nil
			continue
		}
		deleted, err := evict(ctx, opts, mv, e.Files, gone[mv])
		if !deleted {
			// Counted as kept: some of its files may be gone, but the
			// next run measures again.
			rep.Freed[e.Reason] -= e.Bytes
			rep.Evicted[e.Reason]--
			rep.AfterBytes += e.Bytes
			rep.Failed++
			e.Failed = true
			log.Warn("gc: evicting failed; left for the next run", "module", e.Module, "version", e.Version, "err", err)
		} else if err != nil {
			log.Warn("gc: evicted, but the catalog was not told", "module", e.Module, "version", e.Version, "err", err)
		}
	}
	if !opts.DryRun {
		rep.Evictions = slices.DeleteFunc(rep.Evictions, func(e Eviction) bool { return e.Files == nil })
	}
	rep.Duration = time.Since(start)
	return rep, stopped
}

func hasPin(pinned map[module.Version]struct{}, mv module.Version) bool {
	if len(pinned) == 0 {
		return false
	}
	_, ok := pinned[mv]
	return ok
}

// hashKind is the kind of the hash file of k's file, or 0.
func hashKind(k layout.Kind) layout.Kind {
	switch k {
	case layout.Zip:
		return layout.ZipHash
	case layout.Mod:
		return layout.ModHash
	}
	return 0
}

// evict deletes mv's files of the named kinds, and tells the catalog.
// It leaves their hash files (.ziphash, .modhash): a hash without its
// artifact is harmless (package cache reads a hash only with its
// artifact, and a fill writes the hash first, then the artifact), whereas
// deleting it could take the hash of a refill that raced the eviction,
// leaving an artifact without its hash. They are never removed: a few
// dozen bytes per evicted version, counted in the store's bytes (an
// operator may delete a hash file whose artifact is absent when nothing
// runs). deleted reports whether every file was deleted from
// storage (err may then still be the catalog's).
func evict(ctx context.Context, opts Options, mv module.Version, files []string, gone bool) (deleted bool, err error) {
	var errs []error
	deleted = true
	for _, name := range files {
		k := kindNamed(name)
		key, err := layout.Key(mv, k)
		if err != nil {
			errs, deleted = append(errs, err), false
			continue
		}
		if err := opts.Storage.Delete(ctx, key); err != nil {
			errs, deleted = append(errs, err), false
			continue
		}
		if opts.Catalog != nil {
			if err := opts.Catalog.DeleteArtifact(ctx, mv.Path, mv.Version, name); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if gone && opts.Catalog != nil && len(errs) == 0 {
		if err := opts.Catalog.ForgetAccess(ctx, mv.Path, mv.Version); err != nil {
			errs = append(errs, err)
		}
	}
	return deleted, errors.Join(errs...)
}

func kindNamed(name string) layout.Kind {
	for _, k := range []layout.Kind{layout.Zip, layout.Mod, layout.Info} {
		if k.String() == name {
			return k
		}
	}
	return 0
}

// walk reads the store: the module versions with their files, and the
// bytes of every module file (lists included, hash side-files not; the checksum database's
// data and gomirror's state are neither counted nor considered, nor even
// walked: the store's top level is read first, storage.TopLevel, and each
// other directory walked on its own; a key with no "/" is no module's).
func walk(ctx context.Context, s storage.Storage) (map[module.Version]*version, int64, error) {
	versions := map[module.Version]*version{}
	var (
		used     int64
		lastPath string // interned: one string per module path
	)
	tops, err := storage.TopLevel(ctx, s)
	if errors.Is(err, fs.ErrNotExist) {
		return versions, 0, nil
	}
	if err != nil {
		return nil, 0, err
	}
	slices.Sort(tops)
	fn := func(key string, info storage.Info) error {
		mv, k, err := layout.Parse(key)
		if err == nil && (k == layout.ZipHash || k == layout.ModHash) {
			// Hash side-files are never evicted (see evict) nor counted:
			// a few dozen bytes each.
			return nil
		}
		used += info.Size
		if err != nil || !k.PerVersion() || !layout.IsCanonical(mv) {
			return nil // a list, @latest, or a file gomirror does not know: counted, kept
		}
		if mv.Path == lastPath {
			mv.Path = lastPath
		} else {
			lastPath = mv.Path
		}
		v := versions[mv]
		if v == nil {
			v = &version{mv: mv}
			for i := range v.size {
				v.size[i] = -1
			}
			versions[mv] = v
		}
		v.size[k] = info.Size
		if info.ModTime.After(v.newest) {
			v.newest = info.ModTime
			v.last = info.ModTime
		}
		return nil
	}
	for _, top := range tops {
		if !strings.HasSuffix(top, "/") || top == layout.SumDBDir+"/" || top == layout.StateDir+"/" {
			continue
		}
		err := storage.Walk(ctx, s, top, fn)
		if errors.Is(err, fs.ErrNotExist) {
			err = nil
		}
		if err != nil {
			return nil, 0, err
		}
	}
	return versions, used, nil
}
