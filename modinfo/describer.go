package modinfo

import (
	"context"
	"sync"

	"github.com/google/licensecheck"
	"golang.org/x/mod/module"
	"golang.org/x/sync/semaphore"

	"github.com/gomirror/gomirror/internal/flight"
	"github.com/gomirror/gomirror/internal/weightlru"
	"github.com/gomirror/gomirror/storage"
)

// Describer answers Get for a server: what a version's zip tells (README,
// licenses, or why the zip cannot be read) is computed once per stored
// zip and kept in an LRU cache bounded in entries and bytes, at most
// Concurrency zips are read at a time, and concurrent requests for the
// same zip share one reading.
// A module's retractions and deprecation are cached per latest version
// (its stored go.mod does not change; the latest is found on each call,
// from the storage's listing). The rest of the details (stored files,
// go.mod) is read on each call.
//
// A stored zip is known by its version, size and modification time: a zip
// replaced by another of the same size at the same instant would be shown
// with the old one's details until it leaves the cache.
type Describer struct {
	st    Reader
	lim   Limits
	sem   *semaphore.Weighted
	cache *weightlru.Cache[zipKey, *zipDetails]
	marks *weightlru.Cache[module.Version, *Marks] // by latest version
	scan  scanFunc

	readings flight.Group[zipKey, *zipDetails] // readings under way

	warmOnce sync.Once
	warmed   chan struct{} // closed when Warm's scan is done
}

// DescriberOptions size a Describer. A zero field takes its default.
type DescriberOptions struct {
	// Limits bound each reading (see Limits).
	Limits Limits
	// CacheEntries is the most zips whose details are kept, and the most
	// modules whose marks are kept (default 1,024 each); CacheBytes the
	// most bytes each of the two caches holds (default 32 MiB: a zip's
	// details hold a README of up to Limits.ReadmeBytes, a module's marks
	// the retract directives of a go.mod of up to Limits.ModBytes).
	CacheEntries int
	CacheBytes   int64
	// Concurrency is the most zips read at a time (default 2); callers
	// beyond it wait, until their context ends.
	Concurrency int
}

// zipKey identifies a stored zip.
type zipKey struct {
	m       module.Version
	size    int64
	modTime int64 // UnixNano
}

// NewDescriber returns a Describer reading st.
func NewDescriber(st Reader, opts DescriberOptions) *Describer {
	opts.Limits.setDefaults()
	if opts.CacheEntries <= 0 {
		opts.CacheEntries = 1024
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = 2
	}
	if opts.CacheBytes <= 0 {
		opts.CacheBytes = 32 << 20
	}
	return &Describer{st: st, lim: opts.Limits, sem: semaphore.NewWeighted(int64(opts.Concurrency)),
		cache:  weightlru.New[zipKey](opts.CacheEntries, opts.CacheBytes, zipWeight),
		marks:  weightlru.New[module.Version](opts.CacheEntries, opts.CacheBytes, marksWeight),
		scan:   licensecheck.Scan,
		warmed: make(chan struct{})}
}

// warmText is what Warm scans: a license notice, short.
const warmText = "Permission is hereby granted, free of charge, to any person obtaining a copy of this software"

// Warm starts, once, a goroutine that scans a short text for licenses,
// and returns at once; the channel returned is closed when that scan is
// done. licensecheck builds its set of licenses at its first scan (1-2 s
// of CPU): warming it when the server starts spares that wait to the
// first version page asked for. A reading that comes before the warm
// scan is done waits for licensecheck's set as it would have anyway.
func (d *Describer) Warm() <-chan struct{} {
	d.warmOnce.Do(func() {
		go func() {
			defer close(d.warmed)
			d.scan([]byte(warmText))
		}()
	})
	return d.warmed
}

// Get is the package's Get with d's limits, caches and concurrency bound.
// The Details returned share their README, licenses and retraction with
// other callers': they are not to be modified.
func (d *Describer) Get(ctx context.Context, m module.Version) (*Details, error) {
	return get(ctx, d.st, m, d.lim, func(info storage.Info) (*zipDetails, error) {
		return d.zip(ctx, zipKey{m, info.Size, info.ModTime.UnixNano()})
	}, func() (*Marks, error) {
		return d.ModuleMarks(ctx, m.Path)
	})
}

// ModuleMarks is the package's ModuleMarks with d's limits, the marks of
// a latest version read once. The Marks returned are shared with other
// callers: not to be modified.
func (d *Describer) ModuleMarks(ctx context.Context, path string) (*Marks, error) {
	return moduleMarks(ctx, d.st, path, d.lim, func(latest module.Version) (*Marks, error) {
		if mk, ok := d.marks.Get(latest); ok {
			return mk, nil
		}
		mk, lasting, err := readMarks(ctx, d.st, latest, d.lim)
		if err == nil && lasting {
			d.marks.Add(latest, mk)
		}
		return mk, err
	})
}

// zip returns the details of the zip k: cached, or read by a call that
// the concurrent callers for k share. A caller whose ctx ends stops
// waiting; the reading stops when no caller waits for it.
func (d *Describer) zip(ctx context.Context, k zipKey) (*zipDetails, error) {
	if zd, ok := d.cache.Get(k); ok {
		return zd, nil
	}
	// The reading outlives the caller that starts it if others wait.
	return d.readings.Do(ctx, k, func(ctx context.Context) (*zipDetails, error) { return d.read(ctx, k) })
}

// read reads the zip k within the concurrency bound, and caches what
// lasts (not a storage or context error).
func (d *Describer) read(ctx context.Context, k zipKey) (*zipDetails, error) {
	if err := d.sem.Acquire(ctx, 1); err != nil {
		return nil, err
	}
	defer d.sem.Release(1)
	zd, err := readZip(ctx, d.st, k.m, d.lim, d.scan)
	if err == nil {
		d.cache.Add(k, zd)
	}
	return zd, err
}
