package gc

import (
	"context"
	"hash/maphash"
	"sync"
	"time"

	"golang.org/x/mod/module"

	"github.com/gomirror/gomirror/db"
)

// Tracker is what the request path tells the collector, in memory: which
// module versions were downloaded since the last flush (their access
// times, flushed in batches to the database: Flush, Run), and which are
// being served right now (Serving). Begin, End and Touch take one of 64
// locks, chosen by the module path's hash, for two map operations on
// keys the request already holds: no allocation once a version has been
// seen since the last flush (the maps keep their buckets across flushes).
//
// An access is recorded with the time of the flush that writes it, so its
// resolution is the flush interval (FlushEvery).
//
// A Tracker is safe for concurrent use. The zero value is not usable:
// use NewTracker.
type Tracker struct {
	seed   maphash.Seed
	shards [trackerShards]shard
}

const trackerShards = 64

// maxTouched bounds the versions a shard remembers between flushes
// (requests are for stored artifacts, so the store's size bounds them
// anyway); a download of a version beyond it is dropped (not recorded
// later): that version keeps its earlier recorded time, or its stored
// time, and a client requesting it again after the flush is recorded.
// About 100 bytes each: 64 × 16384 × 100 B = 100 MiB at most.
const maxTouched = 16384

type shard struct {
	mu      sync.Mutex
	touched map[module.Version]struct{}
	open    map[module.Version]int32
	_       [40]byte // keeps shards' locks on separate cache lines
}

// NewTracker returns an empty Tracker.
func NewTracker() *Tracker {
	t := &Tracker{seed: maphash.MakeSeed()}
	for i := range t.shards {
		t.shards[i].touched = map[module.Version]struct{}{}
		t.shards[i].open = map[module.Version]int32{}
	}
	return t
}

func (t *Tracker) shard(m module.Version) *shard {
	return &t.shards[maphash.String(t.seed, m.Path)%trackerShards]
}

// Begin records that an artifact of m is being served (or fetched to be
// served: the request path calls it before the mirror). It does not
// record a download: Touch does, once the artifact is there. Every Begin
// must be followed by one End.
func (t *Tracker) Begin(m module.Version) {
	s := t.shard(m)
	s.mu.Lock()
	s.open[m]++
	s.mu.Unlock()
}

// End records that the artifact of a Begin has been served.
func (t *Tracker) End(m module.Version) {
	s := t.shard(m)
	s.mu.Lock()
	if n := s.open[m] - 1; n > 0 {
		s.open[m] = n
	} else {
		delete(s.open, m)
	}
	s.mu.Unlock()
}

// Touch records that m was downloaded.
func (t *Tracker) Touch(m module.Version) {
	s := t.shard(m)
	s.mu.Lock()
	s.touch(m)
	s.mu.Unlock()
}

func (s *shard) touch(m module.Version) {
	if _, ok := s.touched[m]; !ok && len(s.touched) < maxTouched {
		s.touched[m] = struct{}{}
	}
}

// Serving reports whether an artifact of m is being served (between Begin
// and End).
func (t *Tracker) Serving(m module.Version) bool {
	s := t.shard(m)
	s.mu.Lock()
	n := s.open[m]
	s.mu.Unlock()
	return n > 0
}

// Touched reports whether m was downloaded since the last flush.
func (t *Tracker) Touched(m module.Version) bool {
	s := t.shard(m)
	s.mu.Lock()
	_, ok := s.touched[m]
	s.mu.Unlock()
	return ok
}

// take returns the versions touched since the last take and forgets them.
func (t *Tracker) take() []module.Version {
	var out []module.Version
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
		for m := range s.touched {
			out = append(out, m)
		}
		clear(s.touched)
		s.mu.Unlock()
	}
	return out
}

// AccessRecorder is where a Tracker flushes its accesses. *db.DB is one.
type AccessRecorder interface {
	RecordAccess(ctx context.Context, batch []db.VersionAccess) error
}

var _ AccessRecorder = (*db.DB)(nil)

// Flush writes the versions touched since the last flush to r, with the
// time now. If r is nil (no database, or not open yet) or fails, they are
// touched again, to be written by a later flush.
func (t *Tracker) Flush(ctx context.Context, r AccessRecorder, now time.Time) error {
	ms := t.take()
	if len(ms) == 0 {
		return nil
	}
	if r == nil {
		t.retouch(ms)
		return nil
	}
	batch := make([]db.VersionAccess, len(ms))
	for i, m := range ms {
		batch[i] = db.VersionAccess{Module: m.Path, Version: m.Version, Time: now}
	}
	if err := r.RecordAccess(ctx, batch); err != nil {
		t.retouch(ms)
		return err
	}
	return nil
}

func (t *Tracker) retouch(ms []module.Version) {
	for _, m := range ms {
		t.Touch(m)
	}
}

// FlushEvery is how often Run flushes.
const FlushEvery = 30 * time.Second

// Run flushes every FlushEvery to the recorder that recorder returns at
// the time (nil while there is none) until ctx ends; the caller flushes
// once more at shutdown, after the last request.
func (t *Tracker) Run(ctx context.Context, recorder func() AccessRecorder, onError func(error)) {
	tick := time.NewTicker(FlushEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			if err := t.Flush(ctx, recorder(), now); err != nil && onError != nil && ctx.Err() == nil {
				onError(err)
			}
		}
	}
}
