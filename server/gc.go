package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gomirror/gomirror/api"
	"github.com/gomirror/gomirror/cache"
	"github.com/gomirror/gomirror/config"
	"github.com/gomirror/gomirror/gc"
	"github.com/gomirror/gomirror/layout"
	"github.com/gomirror/gomirror/modpattern"
	"github.com/gomirror/gomirror/obs"
	"github.com/gomirror/gomirror/snapshot"
	"github.com/gomirror/gomirror/storage"
)

// collector runs the garbage collector in serve (with storage-max-size or
// retention set): every gc-interval, and soon after the bytes stored since
// the last run take the store past the quota (a kicked run: only once the
// bytes have grown by kickMargin since the last run's result, and at
// least kickGap after the last run, so that a quota the collector cannot
// reach, the rest being pinned, private or in use, does not make every
// store walk the whole store again). With a coordinator
// (redis), one replica at a time collects (the lock layout.GCLock); a
// replica that finds it held skips that run.
type collector struct {
	cfg     *config.Serve
	log     *slog.Logger
	store   storage.Storage
	private modpattern.List
	tracker *gc.Tracker
	coord   cache.Coordinator // nil without redis
	records *records          // nil with database off
	pins    []gc.Pins         // the snapshots' and the vulnerability database's pins
	// mem holds the downloads with the database off (across runs).
	mem  *gc.Memory
	kick chan struct{} // a run is wanted now (over quota)
	// stored is the module files' bytes as the last run left them plus
	// what was stored since (-1 before the first run).
	stored atomic.Int64
	// after is the module files' bytes the last run left (-1 before it).
	after atomic.Int64

	mu    sync.Mutex
	state obs.GCState
	// lastStart is when the last run started (kicked runs wait kickGap
	// after it); unreachable the last warning's reason (kept categories).
	lastStart   time.Time
	unreachable string
}

func newCollector(cfg *config.Serve, log *slog.Logger, store storage.Storage, private modpattern.List, tracker *gc.Tracker, coord cache.Coordinator, recs *records) *collector {
	c := &collector{cfg: cfg, log: log, store: store, private: private, tracker: tracker, coord: coord, records: recs,
		kick: make(chan struct{}, 1),
		// Every version a stored snapshot lists stays (read at each run).
		pins: []gc.Pins{snapshot.Pins{Storage: store}}}
	if recs == nil {
		c.mem = gc.NewMemory(gc.MemoryMax)
	}
	c.stored.Store(-1)
	c.after.Store(-1)
	c.state = obs.GCState{MaxBytes: cfg.MaxStoredBytes, Evictions: map[string]uint64{}, Freed: map[string]uint64{}}
	return c
}

// stored is told of every artifact the cache stores (cache.Options.OnStore);
// past the quota it asks for a run.
func (c *collector) storedArtifact(key string, size int64) {
	if c.cfg.MaxStoredBytes <= 0 {
		return
	}
	after := c.after.Load()
	if n := c.stored.Load(); n < 0 {
		return // before the first run
	}
	if n := c.stored.Add(size); n > c.cfg.MaxStoredBytes && n >= after+c.kickMargin() {
		select {
		case c.kick <- struct{}{}:
		default:
		}
	}
}

// kickMargin is how much the bytes stored must grow past the last run's
// result before storing asks for a run: 1% of the quota, at least 1 MiB.
func (c *collector) kickMargin() int64 { return max(c.cfg.MaxStoredBytes/100, 1<<20) }

// kickGap is the least time between the start of a run and a kicked run:
// a tenth of gc-interval, at least a minute (at most gc-interval).
func (c *collector) kickGap() time.Duration {
	return min(max(c.cfg.GCInterval/10, time.Minute), c.cfg.GCInterval)
}

// kickDelay is how long a kicked run at now must wait (kickGap after the
// last run's start).
func (c *collector) kickDelay(now time.Time) time.Duration {
	c.mu.Lock()
	last := c.lastStart
	c.mu.Unlock()
	if last.IsZero() {
		return 0
	}
	return last.Add(c.kickGap()).Sub(now)
}

// run collects at start, every gc-interval and when kicked (kickDelay),
// until ctx ends.
func (c *collector) run(ctx context.Context) {
	tick := time.NewTicker(c.cfg.GCInterval)
	defer tick.Stop()
	for {
		wait := tick.C
		if !c.once(ctx) {
			// The database is not open yet: collect as soon as it is.
			select {
			case <-ctx.Done():
				return
			case <-c.records.Opened():
				continue
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-wait:
		case <-c.kick:
			if d := c.kickDelay(time.Now()); d > 0 {
				delay := time.NewTimer(d)
				select {
				case <-ctx.Done():
					delay.Stop()
					return
				case <-delay.C:
				case <-wait:
					delay.Stop()
				}
			}
		}
	}
}

// once runs one collection, under the cross-replica lock if there is a
// coordinator, and records its outcome for the metrics and the console.
// It reports false, having done nothing, while the database is configured
// but not open: the recorded downloads decide what goes, and without them
// a version downloaded yesterday but stored long ago would.
func (c *collector) once(ctx context.Context) bool {
	if c.records != nil && c.records.DB() == nil {
		c.log.Debug("gc: the database is not open yet; collecting once it is")
		return false
	}
	c.mu.Lock()
	c.lastStart = time.Now()
	c.mu.Unlock()
	var held func(context.Context) bool
	if c.coord != nil {
		lease, err := c.coord.TryLock(ctx, layout.GCLock)
		if errors.Is(err, cache.ErrLockHeld) {
			c.log.Debug("gc: another replica is collecting; skipping this run")
			return true
		}
		if err != nil {
			c.log.Warn("gc: the replica lock cannot be taken (redis); skipping this run", "err", err)
			return true
		}
		defer lease.Unlock()
		held = lease.Valid
	}
	opts := c.options(ctx)
	opts.Held = held
	_, err := c.collect(ctx, opts)
	sweepLeftovers(ctx, c.store, c.log)
	if err != nil {
		if ctx.Err() == nil {
			c.log.Warn("gc: collection failed; trying again at the next run", "err", err)
		}
	}
	return true
}

// options are a collection's options from the settings, with this
// replica's accesses flushed to the database first (so that the
// collection sees them).
func (c *collector) options(ctx context.Context) gc.Options {
	opts := gc.Options{Storage: c.store, MaxBytes: c.cfg.MaxStoredBytes, Retention: c.cfg.RetentionPeriod,
		EvictMetadata: c.cfg.GCEvictMetadata, EvictPrivate: c.cfg.GCEvictPrivate, Private: c.private.Match,
		Serving: c.tracker.Serving, Pins: c.pins, Logger: c.log,
		// Never what was stored or downloaded just now: a fill whose
		// requester is being served, another replica's (review finding 1,
		// 8).
		Grace: gc.MinAge}
	if c.records != nil {
		if d := c.records.DB(); d != nil {
			// This replica's accesses first, so that the collection sees them.
			if err := c.tracker.Flush(ctx, d, time.Now()); err != nil {
				c.log.Warn("gc: flushing access times failed", "err", err)
			}
			opts.Accesses, opts.Catalog = d, d
		}
	}
	if c.mem != nil {
		// database off: this process's downloads, remembered in memory
		// across runs (bounded: once it overflowed, retention evicts only
		// what it has a record of).
		if err := c.tracker.Flush(ctx, c.mem, time.Now()); err != nil {
			c.log.Warn("gc: flushing access times failed", "err", err)
		}
		opts.Accesses, opts.Catalog = c.mem, c.mem
		opts.RetentionRecordedOnly = c.mem.Overflowed()
	}
	return opts
}

// collect runs one collection with opts and records its outcome.
func (c *collector) collect(ctx context.Context, opts gc.Options) (gc.Report, error) {
	rep, err := gc.Collect(ctx, opts)
	if err != nil && !errors.Is(err, gc.ErrLockLost) {
		return rep, err
	}
	// With the lock lost, what was done before is recorded.
	c.stored.Store(rep.AfterBytes)
	c.after.Store(rep.AfterBytes)
	why, detail := "", ""
	if rep.MaxBytes > 0 && rep.AfterBytes > rep.MaxBytes && !opts.DryRun {
		why, detail = unreachable(rep.Kept)
	}
	c.mu.Lock()
	changed := why != c.unreachable
	c.unreachable, c.state.QuotaUnreachable = why, detail
	c.state.Ran, c.state.LastRun, c.state.LastDuration, c.state.Stored = true, time.Now(), rep.Duration, rep.AfterBytes
	for r, n := range rep.Evicted {
		c.state.Evictions[r] += uint64(n)
	}
	for r, n := range rep.Freed {
		c.state.Freed[r] += uint64(n)
	}
	c.mu.Unlock()
	level := slog.LevelDebug
	if len(rep.Evictions) > 0 || rep.Failed > 0 {
		level = slog.LevelInfo
	}
	switch {
	case changed && why != "":
		c.log.Warn("gc: the quota cannot be reached: what is left may not go; kicked runs wait for more growth", "after_bytes", rep.AfterBytes,
			"quota_bytes", rep.MaxBytes, "kept", detail)
	case changed:
		c.log.Info("gc: the store is within its quota again", "after_bytes", rep.AfterBytes, "quota_bytes", rep.MaxBytes)
	}
	c.log.Log(ctx, level, "gc: collection done", "versions", rep.Versions, "stored_bytes", rep.StoredBytes, "after_bytes", rep.AfterBytes,
		"quota_bytes", rep.MaxBytes, "evicted", rep.Evicted, "freed_bytes", rep.Freed, "kept", rep.Kept, "failed", rep.Failed, "took", rep.Duration)
	return rep, err
}

// unreachable says why a run left the store over its quota: the
// categories of what it kept (why, which changes rarely: it decides when
// to warn again) and with their counts (detail, for the console).
func unreachable(kept map[string]int) (why, detail string) {
	var cats, parts []string
	for _, k := range []string{"pinned", "private", "serving", "grace"} {
		if n := kept[k]; n > 0 {
			cats = append(cats, k)
			parts = append(parts, fmt.Sprintf("%s %d", k, n))
		}
	}
	if len(cats) == 0 {
		// Nothing was kept: what is over is not evictable (lists,
		// metadata without gc-evict-metadata) or deletions failed.
		return "other", "other files (lists, .mod/.info without gc-evict-metadata) or failed deletions"
	}
	return strings.Join(cats, ","), strings.Join(parts, ", ")
}

// sweepLeftovers removes what crashed processes left in the store that
// no key shows (storage.LeftoverSweeper: S3's stale multipart uploads).
// Best effort: a store that refuses still stores and serves.
func sweepLeftovers(ctx context.Context, store storage.Storage, log *slog.Logger) {
	sw, ok := storage.As[storage.LeftoverSweeper](store)
	if !ok {
		return
	}
	n, err := sw.SweepLeftovers(ctx)
	switch {
	case err != nil && ctx.Err() == nil:
		log.Warn("removing leftovers of crashed processes from storage failed", "err", err)
	case n > 0:
		log.Info("removed leftovers of crashed processes from storage", "count", n)
	}
}

// State is the collector's state for the metrics and the console.
func (c *collector) State() obs.GCState {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.state
	s.Evictions, s.Freed = maps.Clone(s.Evictions), maps.Clone(s.Freed)
	if n := c.stored.Load(); n >= 0 {
		s.Stored = n
	}
	return s
}

// accessRecorder is the tracker's flush target: the database once open.
func (r *records) accessRecorder() gc.AccessRecorder {
	if r == nil || r.catalogOnly {
		return nil
	}
	if d := r.db.Load(); d != nil {
		return d
	}
	return nil
}

// apiState is the collector's state for the API and the console.
func (c *collector) apiState() api.GC {
	st := c.State()
	return api.GC{Quota: st.MaxBytes, Retention: c.cfg.Retention, Ran: st.Ran, Used: st.Stored, LastRun: st.LastRun, QuotaUnreachable: st.QuotaUnreachable,
		Evicted: st.Evictions, Freed: st.Freed}
}
