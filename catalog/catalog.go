// Package catalog keeps the database's catalog of stored module versions
// in step with storage, which stays the source of truth: Feed records each
// artifact the mirror stores, off the request path, and Rebuild recreates
// the whole catalog from what storage holds (`gomirror index rebuild`,
// and after the feed lost updates while the database was away).
package catalog

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/gomirror/gomirror/db"
	"github.com/gomirror/gomirror/layout"
	"github.com/gomirror/gomirror/storage"
)

// Store is the part of the database the catalog writes: *db.DB.
type Store interface {
	PutArtifact(ctx context.Context, a db.Artifact) error
	ReplaceCatalog(ctx context.Context, keep time.Time, next func() (db.Artifact, bool, error)) (added, removed int64, err error)
}

var _ Store = (*db.DB)(nil)

// Artifact returns the catalog entry for key, an artifact's storage key,
// stored with size bytes at time t; ok is false for keys that are not a
// canonical version's .info, .mod or .zip.
func Artifact(key string, size int64, t time.Time) (a db.Artifact, ok bool) {
	mv, k, err := layout.Parse(key)
	if err != nil || !k.Artifact() || !layout.IsCanonical(mv) {
		return db.Artifact{}, false
	}
	return db.Artifact{Module: mv.Path, Version: mv.Version, File: k.String(), Size: size, Stored: t.UTC()}, true
}

// Rebuild makes the catalog of d exactly the artifacts store holds, reading
// their sizes and times with up to workers Stat calls at once; entries
// written meanwhile (by a Feed: artifacts stored after the listing began)
// are kept. If storage cannot be read whole, the catalog is left as it
// was.
//
// Storage is read whole before the database is written: the catalog's
// transaction (on SQLite, the database's write lock, which audit writes
// and the Feed wait for) lasts as long as writing the catalog, not as
// long as a Stat of every object in a bucket. Memory grows with the
// number of stored objects, as the listing's does.
func Rebuild(ctx context.Context, store storage.Storage, d Store, workers int) (added, removed int64, err error) {
	// What the Feed writes from now on is newer than the listing: kept.
	listed := time.Now()
	keys, err := store.List(ctx, "")
	if err != nil {
		return 0, 0, fmt.Errorf("listing storage: %w", err)
	}
	var (
		mu   sync.Mutex
		arts []db.Artifact
	)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(1, workers))
	for _, key := range keys {
		if _, ok := Artifact(key, 0, time.Time{}); !ok {
			continue
		}
		if gctx.Err() != nil {
			break // g.Wait returns why
		}
		g.Go(func() error {
			info, err := store.Stat(gctx, key)
			if errors.Is(err, fs.ErrNotExist) {
				return nil // deleted since it was listed
			}
			if err != nil {
				return fmt.Errorf("reading %s: %w", key, err)
			}
			a, _ := Artifact(key, info.Size, info.ModTime)
			mu.Lock()
			arts = append(arts, a)
			mu.Unlock()
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return 0, 0, err // a partial listing is not the catalog
	}
	if err := ctx.Err(); err != nil {
		return 0, 0, err
	}
	next := 0
	return d.ReplaceCatalog(ctx, listed, func() (db.Artifact, bool, error) {
		if next == len(arts) {
			return db.Artifact{}, false, nil
		}
		next++
		return arts[next-1], true, nil
	})
}

// Feed records stored artifacts in the catalog, off the request path: Add
// queues, Run writes. When the queue is full or the database fails, the
// update is dropped and the feed remembers that the catalog is behind
// (Behind), for a Rebuild.
type Feed struct {
	store func() Store // returns nil while there is no database
	log   *slog.Logger
	queue chan db.Artifact
	// behind is set when an update was lost since the last Caught.
	behind atomic.Bool
}

// NewFeed returns a feed that writes to the store that store returns (nil
// while there is none), queueing up to size updates, and logs the first
// update lost since the last Caught to log (nil: nowhere). A nil pointer
// returned as a Store (`func() Store { return p.Load() }` for an
// atomic.Pointer[db.DB] before the database is open) is no store too,
// rather than a nil dereference on the feed's goroutine.
func NewFeed(store func() Store, size int, log *slog.Logger) *Feed {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Feed{store: store, log: log, queue: make(chan db.Artifact, size)}
}

// Add queues the catalog entry of key, an artifact stored with size bytes
// just now; keys that are not artifacts are ignored. It never blocks.
func (f *Feed) Add(key string, size int64) {
	a, ok := Artifact(key, size, time.Now())
	if !ok {
		return
	}
	select {
	case f.queue <- a:
	default:
		f.lost(a, errors.New("queue full"))
	}
}

// Queued returns how many updates wait to be written.
func (f *Feed) Queued() int { return len(f.queue) }

// Behind reports whether updates were lost since the last Caught, so that
// a Rebuild is due.
func (f *Feed) Behind() bool { return f.behind.Load() }

// MarkBehind records that the catalog may lack what storage holds (a new
// database, or a Rebuild that failed), so that a Rebuild is due.
func (f *Feed) MarkBehind() { f.behind.Store(true) }

// Caught records that a Rebuild started: updates lost before it are in it.
func (f *Feed) Caught() { f.behind.Store(false) }

// lost records that a's update was not written.
func (f *Feed) lost(a db.Artifact, err error) {
	if !f.behind.Swap(true) {
		f.log.Warn("catalog: an update could not be written; the catalog will be rebuilt from storage", "module", a.Module, "version", a.Version, "file", a.File, "err", err)
	}
}

// Run writes queued entries until ctx is done, then writes what is still
// queued within drain. A write under way when ctx ends is not cut off by
// it (each write has its own timeout): an update lost at shutdown would
// leave the catalog behind with nobody to remember it.
func (f *Feed) Run(ctx context.Context, drain time.Duration) {
	wctx := context.WithoutCancel(ctx)
	for {
		select {
		case a := <-f.queue:
			if ctx.Err() == nil {
				f.write(wctx, a)
				continue
			}
			// ctx ended too, and select picked the queue.
			f.drain(wctx, drain, &a)
			return
		case <-ctx.Done():
			f.drain(wctx, drain, nil)
			return
		}
	}
}

// drain writes first (if not nil) and what is queued, within d.
func (f *Feed) drain(ctx context.Context, d time.Duration, first *db.Artifact) {
	dctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	if first != nil {
		f.write(dctx, *first)
	}
	for {
		select {
		case a := <-f.queue:
			f.write(dctx, a)
		default:
			return
		}
	}
}

func (f *Feed) write(ctx context.Context, a db.Artifact) {
	d := f.store()
	if isNil(d) {
		f.lost(a, errors.New("no database"))
		return
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := d.PutArtifact(wctx, a); err != nil {
		f.lost(a, err)
	}
}

// isNil reports whether d is nil or holds a nil pointer.
func isNil(d Store) bool {
	if d == nil {
		return true
	}
	v := reflect.ValueOf(d)
	return v.Kind() == reflect.Pointer && v.IsNil()
}
