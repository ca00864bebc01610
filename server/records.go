package server

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gomirror/gomirror/api"
	"github.com/gomirror/gomirror/audit"
	"github.com/gomirror/gomirror/catalog"
	"github.com/gomirror/gomirror/config"
	"github.com/gomirror/gomirror/console"
	"github.com/gomirror/gomirror/db"
	"github.com/gomirror/gomirror/internal/redact"
	"github.com/gomirror/gomirror/internal/wire"
	"github.com/gomirror/gomirror/layout"
	"github.com/gomirror/gomirror/obs"
	"github.com/gomirror/gomirror/proxy"
	"github.com/gomirror/gomirror/storage"
)

// records is the server's operator data: the database (opened at start
// and, when that fails, again every dbRetry until it answers: serving
// never depends on it), the audit recorder that writes to it off the
// request path, the catalog feed, and the daily pruning of old audit
// records.
type records struct {
	cfg   *config.Serve
	log   *slog.Logger
	store storage.Storage
	dsn   string // the database to open, with its password

	db       atomic.Pointer[db.DB] // nil until opened
	opened   chan struct{}         // closed once db is set
	tried    chan struct{}         // closed once the first attempt to open db has ended
	recorder *audit.Recorder
	feed     *catalog.Feed
	feedDone chan struct{} // closed when the feed has written what it holds, after start's context ends; nil before start
	runDone  chan struct{} // closed when run has returned; nil before start
	replica  string
	lines    io.WriteCloser // audit-log: the JSON-lines copy, closed at the end; nil for none
	// catalogOnly: an operator command's in-process mirror
	// (StartLoopback): the database for the catalog feed only, no audit
	// record, no access time, no rebuild or pruning.
	catalogOnly bool

	closeOnce sync.Once
	triedOnce sync.Once
}

// dbRetry is how often a database that could not be opened is tried again.
const dbRetry = 30 * time.Second

// errNoDB is what the audit sink and the API get while the database is not
// open.
var errNoDB = fmt.Errorf("%w (not open yet; gomirror retries every %v)", api.ErrUnavailable, dbRetry)

// newRecords prepares the operator data of cfg; nil with database off (or
// empty: a config built in code rather than loaded). The database is
// opened by start.
func newRecords(cfg *config.Serve, store storage.Storage, log *slog.Logger) (*records, error) {
	if cfg.DatabaseOff() || cfg.Database == "" {
		return nil, nil
	}
	dsn, err := wire.DatabaseDSN(cfg)
	if err != nil {
		return nil, err
	}
	r := &records{cfg: cfg, log: log, store: store, dsn: dsn, opened: make(chan struct{}), tried: make(chan struct{})}
	if !cfg.PostgresDatabase() {
		if err := os.MkdirAll(filepath.Dir(cfg.Database), 0o700); err != nil {
			return nil, &config.Error{Key: "database", Source: cfg.Database, Err: err}
		}
	}
	r.replica = replicaName(cfg.Listen)
	lines, err := audit.OpenLines(cfg.AuditLog, os.Stdout)
	if err != nil {
		return nil, &config.Error{Key: "audit-log", Source: cfg.AuditLog, Err: err}
	}
	r.lines = lines
	rec, err := audit.New(audit.Options{
		Sink:     sink{r},
		SpillDir: filepath.Join(cfg.StorageDir, filepath.FromSlash(layout.AuditSpillDir)),
		Lines:    lines, // a nil io.WriteCloser is a nil io.Writer
		Replica:  r.replica,
		Logger:   log,
	})
	if err != nil {
		if r.lines != nil {
			r.lines.Close()
		}
		return nil, &config.Error{Key: "storage-dir", Source: cfg.StorageDir, Err: err}
	}
	r.recorder = rec
	r.feed = catalog.NewFeed(r.catalogStore, 4096, log)
	return r, nil
}

// DB returns the database, or nil while it is not open.
func (r *records) DB() *db.DB { return r.db.Load() }

// Opened is closed once the database is open (DB is not nil).
func (r *records) Opened() <-chan struct{} { return r.opened }

// Tried is closed once the first attempt to open the database has ended,
// opened or not (or start's context ended before it did).
func (r *records) Tried() <-chan struct{} { return r.tried }

// apiStore is api.Options.Store.
func (r *records) apiStore() (api.Store, error) {
	if d := r.db.Load(); d != nil {
		return d, nil
	}
	return nil, errNoDB
}

// catalogStore is the catalog feed's store: a nil *db.DB while the
// database is not open (which the feed takes as no store).
func (r *records) catalogStore() catalog.Store { return r.db.Load() }

// sink is the recorder's audit.Sink: the database once it is open.
type sink struct{ r *records }

func (s sink) WriteAudit(ctx context.Context, batch []audit.Record) error {
	d := s.r.db.Load()
	if d == nil {
		return errNoDB
	}
	return d.WriteAudit(ctx, batch)
}

// open opens the database, retrying every dbRetry until it answers or ctx
// ends. A database that cannot be opened is logged, never fatal: modules
// are served without it, and audit records wait in the spill directory.
// Opening applies the schema migrations the database lacks, which on a
// large audit log can take minutes: it is not cut short but by ctx (an
// unreachable PostgreSQL fails when its connection attempt does).
func (r *records) open(ctx context.Context) {
	defer r.triedOnce.Do(func() { close(r.tried) })
	for attempt := 0; ; attempt++ {
		d, err := db.Open(ctx, r.dsn)
		if err == nil && ctx.Err() != nil {
			d.Close() // opened as the server stops
			return
		}
		if err == nil {
			r.db.Store(d)
			close(r.opened)
			r.log.Info("database open", "database", redact.URL(r.cfg.Database))
			return
		}
		if ctx.Err() != nil {
			return
		}
		level := slog.LevelWarn
		if attempt == 0 {
			level = slog.LevelError
		}
		r.log.Log(ctx, level, "database not available; serving modules without it (audit records wait in the spill directory, the API answers 503) and trying again",
			"database", redact.URL(r.cfg.Database), "every", dbRetry, "attempt", attempt+1, "err", redact.Err(err))
		r.triedOnce.Do(func() { close(r.tried) })
		select {
		case <-time.After(dbRetry):
		case <-ctx.Done():
			return
		}
	}
}

// start starts the catalog feed and run, until ctx ends.
func (r *records) start(ctx context.Context) {
	r.feedDone = make(chan struct{})
	go func() {
		defer close(r.feedDone)
		r.feed.Run(ctx, 5*time.Second)
	}()
	r.runDone = make(chan struct{})
	go func() {
		defer close(r.runDone)
		r.run(ctx)
	}()
}

// run opens the database and keeps the catalog and the audit log in
// shape until ctx ends: it rebuilds the catalog from storage when the
// database is new (its catalog empty) or the feed lost updates, and prunes
// audit records older than audit-retention once a day.
func (r *records) run(ctx context.Context) {
	r.open(ctx)
	if r.db.Load() == nil || r.catalogOnly {
		return
	}
	if t, err := r.db.Load().CatalogTotals(ctx); err == nil && t.Objects == 0 {
		r.feed.MarkBehind()
	}
	if _, err := os.Stat(r.behindMarker()); err == nil {
		r.feed.MarkBehind() // a previous process stopped with updates unwritten
	}
	tick := time.NewTicker(time.Minute)
	defer tick.Stop()
	var lastPrune time.Time
	for {
		if r.feed.Behind() {
			r.rebuild(ctx)
		}
		if r.cfg.AuditRetention > 0 && time.Since(lastPrune) >= 24*time.Hour {
			lastPrune = time.Now()
			n, err := r.db.Load().PruneAudit(ctx, lastPrune.Add(-r.cfg.AuditRetention))
			switch {
			case err != nil && ctx.Err() == nil:
				r.log.Warn("pruning old audit records failed", "err", err)
			case n > 0:
				r.log.Info("pruned old audit records", "records", n, "older_than", r.cfg.AuditRetention)
			}
		}
		// The console's expired sessions, once a minute: a few rows.
		if _, err := r.db.Load().DeleteExpiredSessions(ctx, time.Now()); err != nil && ctx.Err() == nil {
			r.log.Warn("deleting expired console sessions failed", "err", err)
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return
		}
	}
}

// sessions is the console's Options.Sessions: the database once it is
// open.
func (r *records) sessions() (console.Sessions, error) {
	if d := r.db.Load(); d != nil {
		return d, nil
	}
	return nil, errNoDB
}

// rebuild recreates the catalog from storage.
func (r *records) rebuild(ctx context.Context) {
	r.feed.Caught()
	start := time.Now()
	added, removed, err := catalog.Rebuild(ctx, r.store, r.db.Load(), 8)
	if err != nil {
		if ctx.Err() == nil {
			r.log.Warn("rebuilding the catalog from storage failed; trying again in a minute", "err", err)
			r.feed.MarkBehind()
		}
		return
	}
	r.log.Info("catalog rebuilt from storage", "added", added, "removed", removed, "took", time.Since(start))
	if !r.feed.Behind() {
		os.Remove(r.behindMarker())
	}
}

// behindMarker is the file that tells the next process that the catalog
// lacks updates this one could not write (at shutdown), so that it
// rebuilds the catalog.
func (r *records) behindMarker() string {
	return filepath.Join(r.cfg.StorageDir, filepath.FromSlash(layout.CatalogBehindMarker))
}

// close writes what the recorder holds (to the database, or the spill
// file) within ctx and closes the database, after the context given to
// start has ended (the caller ends it first) and what it ran has stopped.
func (r *records) close(ctx context.Context) error {
	var err error
	r.closeOnce.Do(func() {
		err = r.recorder.Close(ctx)
		// The catalog updates of the last fills are written, and a prune
		// or rebuild under way has stopped, before the database closes
		// (both end once start's context does).
		for _, done := range []chan struct{}{r.feedDone, r.runDone} {
			if done != nil {
				select {
				case <-done:
				case <-ctx.Done():
				}
			}
		}
		if r.lines != nil {
			r.lines.Close()
		}
		if r.feed.Behind() || r.feed.Queued() > 0 {
			if werr := os.WriteFile(r.behindMarker(), nil, 0o600); werr != nil {
				r.log.Warn("the catalog lacks updates and the mark that says so could not be written; run gomirror index rebuild", "err", werr)
			}
		}
		if d := r.db.Load(); d != nil {
			d.Close()
		}
	})
	return err
}

// audit records rec, a finished request that started at start, in the
// audit log and for the alert rules, if it is for a module artifact or the
// checksum database. What it names is read from the parse of its path
// that the edge put in ctx, its edge context (so that a request refused by
// auth is audited too).
func (s *Server) audit(ctx context.Context, req *http.Request, rec *obs.Request, start time.Time) {
	if (s.records == nil || s.records.catalogOnly) && s.alerts == nil {
		return
	}
	p, err := proxy.ParsedIn(ctx, rec.Path)
	if err != nil {
		return
	}
	kind := p.Kind.String()
	if !audit.Audited(kind) {
		return
	}
	mod, _ := p.NamedModule()
	var agent string // req.UserAgent(), without canonicalising the key
	if v := req.Header["User-Agent"]; len(v) > 0 {
		agent = v[0]
	}
	r := audit.Record{
		Time:     start.UTC(),
		Client:   rec.Client,
		Remote:   rec.Remote,
		Method:   audit.Clean(rec.Method), // net/http takes a method of any length
		Module:   audit.Clean(mod),
		Version:  audit.Clean(p.Version),
		Kind:     kind,
		Status:   rec.Status,
		Bytes:    rec.Bytes,
		Duration: rec.Duration,
		Cache:    rec.Cache(),
		Upstream: rec.Upstream,
		Agent:    audit.Clean(agent),
		Policy:   audit.Clean(rec.Policy),
	}
	s.alerts.Observe(r)
	if s.records != nil && !s.records.catalogOnly {
		s.records.recorder.Record(r)
	}
}

// errDatabaseOff is the API's answer with database off.
var errDatabaseOff = fmt.Errorf("%w: database is off", api.ErrUnavailable)

// noStore is api.Options.Store with database off.
func noStore() (api.Store, error) { return nil, errDatabaseOff }

// storageTotals is what the catalog says storage holds, for
// gomirror_storage_bytes and _objects; ok is false without a database.
func (r *records) storageTotals() (bytes, objects int64, ok bool) {
	d := r.db.Load()
	if d == nil {
		return 0, 0, false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	t, err := d.CatalogTotals(ctx)
	if err != nil {
		return 0, 0, false
	}
	return t.Bytes, t.Objects, true
}

// auditStats are the recorder's counts, for the audit metrics.
func (r *records) auditStats() obs.AuditStats {
	st := r.recorder.Stats()
	return obs.AuditStats{Queued: st.Queued, Written: st.Written, Spilled: st.Spilled, Replayed: st.Replayed, Dropped: st.Dropped}
}

// replicaName names this process in its audit records: its host name and
// listen address, or its process ID when the port is chosen at start.
func replicaName(listen string) string {
	host, _ := os.Hostname()
	if _, port, _ := net.SplitHostPort(listen); port == "0" {
		return fmt.Sprintf("%s pid %d", host, os.Getpid())
	}
	return host + " " + listen
}
