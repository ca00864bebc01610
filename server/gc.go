package server

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/mod/module"

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
// the last run take the store past the quota. With a coordinator
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
	pins    gc.Pins           // the snapshots' pins
	kick    chan struct{}     // a run is wanted now (over quota)
	// stored is the module files' bytes as the last run left them plus
	// what was stored since (-1 before the first run).
	stored atomic.Int64

	mu    sync.Mutex
	state obs.GCState
}

func newCollector(cfg *config.Serve, log *slog.Logger, store storage.Storage, private modpattern.List, tracker *gc.Tracker, coord cache.Coordinator, recs *records) *collector {
	c := &collector{cfg: cfg, log: log, store: store, private: private, tracker: tracker, coord: coord, records: recs,
		kick: make(chan struct{}, 1),
		// Every version a stored snapshot lists stays (read at each run).
		pins: snapshot.Pins{Storage: store}}
	c.stored.Store(-1)
	c.state = obs.GCState{MaxBytes: cfg.MaxStoredBytes, Evictions: map[string]uint64{}, Freed: map[string]uint64{}}
	return c
}

// stored is told of every artifact the cache stores (cache.Options.OnStore);
// past the quota it asks for a run.
func (c *collector) storedArtifact(key string, size int64) {
	if c.cfg.MaxStoredBytes <= 0 {
		return
	}
	if n := c.stored.Load(); n >= 0 && c.stored.Add(size) > c.cfg.MaxStoredBytes {
		select {
		case c.kick <- struct{}{}:
		default:
		}
	}
}

// run collects at start, every gc-interval and when kicked, until ctx
// ends.
func (c *collector) run(ctx context.Context) {
	tick := time.NewTicker(c.cfg.GCInterval)
	defer tick.Stop()
	for {
		wait := tick.C
		if !c.once(ctx) {
			// The database is not open yet: try again soon.
			retry := time.NewTimer(dbRetry)
			select {
			case <-ctx.Done():
				retry.Stop()
				return
			case <-retry.C:
				continue
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-wait:
		case <-c.kick:
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
	}
	_, err := c.collect(ctx, c.options(ctx))
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
	if opts.Accesses == nil {
		// database off: no downloads are recorded, so what this process
		// has served since its last run, which the tracker holds, is
		// taken as downloaded now (a grace window would not do: nothing
		// records these downloads anywhere else).
		opts.Serving = c.servingOrTouched
	}
	return opts
}

// collect runs one collection with opts and records its outcome.
func (c *collector) collect(ctx context.Context, opts gc.Options) (gc.Report, error) {
	rep, err := gc.Collect(ctx, opts)
	if err != nil {
		return rep, err
	}
	if opts.Accesses == nil {
		// database off: the downloads since this collection are what
		// the next one keeps (servingOrTouched).
		c.tracker.Forget()
	}
	c.stored.Store(rep.AfterBytes)
	c.mu.Lock()
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
	c.log.Log(ctx, level, "gc: collection done", "versions", rep.Versions, "stored_bytes", rep.StoredBytes, "after_bytes", rep.AfterBytes,
		"quota_bytes", rep.MaxBytes, "evicted", rep.Evicted, "freed_bytes", rep.Freed, "kept", rep.Kept, "failed", rep.Failed, "took", rep.Duration)
	return rep, nil
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
	if r == nil {
		return nil
	}
	if d := r.db.Load(); d != nil {
		return d
	}
	return nil
}

// servingOrTouched is the Serving of a collection without a database:
// versions being served or downloaded since the last collection.
func (c *collector) servingOrTouched(m module.Version) bool {
	return c.tracker.Serving(m) || c.tracker.Touched(m)
}

// apiState is the collector's state for the API and the console.
func (c *collector) apiState() api.GC {
	st := c.State()
	return api.GC{Quota: st.MaxBytes, Retention: c.cfg.Retention, Ran: st.Ran, Used: st.Stored, LastRun: st.LastRun,
		Evicted: st.Evictions, Freed: st.Freed}
}
