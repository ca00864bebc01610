package vulndb

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/mod/module"
)

// Zip is a copy of the database as a source yields it: a zip whose OSV
// files are the entries under Dir ("<module>@<version>/data/osv/"), read
// through RA (Size bytes), closed by Close (may be nil) when the copy is
// no longer served. Origin names the copy: two Zips of one Origin are the
// same database.
type Zip struct {
	RA     io.ReaderAt
	Size   int64
	Close  func() error
	Dir    string
	Origin string
	// Modified is the copy's time (a module version's commit time, a
	// database's index/db.json time); zero if unknown (then its newest
	// entry's time is the database's).
	Modified time.Time
}

// Source yields copies of the database.
type Source interface {
	// Stored returns the newest copy kept in storage, without any
	// network access, or an error satisfying errors.Is(err,
	// fs.ErrNotExist) if none is.
	Stored(ctx context.Context) (*Zip, error)
	// Fetch returns the newest copy, fetched (and kept in storage) if
	// needed, or nil and no error if it is the copy named current (an
	// Origin).
	Fetch(ctx context.Context, current string) (*Zip, error)
	// String names the source for logs and /readyz.
	String() string
}

// StoredBeforer is the optional capability of a Source that keeps several
// copies in storage (ModuleSource: every version of the module fetched).
// StoredBefore returns the newest stored copy older than the one named
// origin, or an error satisfying errors.Is(err, fs.ErrNotExist) if none
// is. Load falls back on it when the newest stored copy does not build
// (a version a failed refresh left in storage), so that one bad version
// does not leave the server without a database after a restart.
type StoredBeforer interface {
	StoredBefore(ctx context.Context, origin string) (*Zip, error)
}

// maxLoadFallbacks is how many older stored copies Load tries.
const maxLoadFallbacks = 8

// Options configure a DB.
type Options struct {
	// Source yields the database's copies (required).
	Source Source
	// Refresh is how often Run asks Source for a newer copy (default
	// DefaultRefresh); a failed refresh is retried after min(Refresh, 5m).
	Refresh time.Duration
	// RefreshTimeout bounds a whole refresh, fetch and build (default
	// DefaultRefreshTimeout): a source that trickles (a URL source of a
	// million IDs at a minute each) fails instead of holding it forever.
	RefreshTimeout time.Duration
	// Logger receives one line per load, refresh and failure.
	Logger *slog.Logger
	// OnRefresh, if set, is called after each attempt to load or refresh
	// (err nil on success, also when nothing changed), for metrics.
	OnRefresh func(err error)
	// OnChange, if set, is called after a new copy replaces the served one
	// (cached policy decisions are then stale).
	OnChange func()
}

// DefaultRefresh is how often the database is refreshed by default.
const DefaultRefresh = time.Hour

// DefaultRefreshTimeout bounds a refresh by default.
const DefaultRefreshTimeout = 30 * time.Minute

// DB is the served copy of the vulnerability database. Lookups and the
// HTTP API read the current snapshot, which a refresh replaces atomically
// once the new one is completely built (nothing pauses while it builds);
// a failed load or refresh keeps the current one. The zero DB is not
// usable: use New.
type DB struct {
	opts Options
	log  *slog.Logger
	cur  atomic.Pointer[snapshot]

	refreshMu sync.Mutex // one load or refresh at a time

	mu          sync.Mutex // guards the fields below
	lastErr     error
	lastAttempt time.Time
	lastSuccess time.Time
}

// New returns a DB with nothing loaded; Run (or Load and Refresh) loads it.
func New(opts Options) *DB {
	if opts.Refresh <= 0 {
		opts.Refresh = DefaultRefresh
	}
	if opts.RefreshTimeout <= 0 {
		opts.RefreshTimeout = DefaultRefreshTimeout
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &DB{opts: opts, log: log}
}

// ErrNotLoaded is the error of a lookup or API request before any copy
// of the database is loaded. It is Unavailable (503).
var ErrNotLoaded error = notLoaded{}

type notLoaded struct{}

func (notLoaded) Error() string     { return "the vulnerability database is not loaded yet" }
func (notLoaded) Unavailable() bool { return true }

// Run loads the copy kept in storage, then refreshes from the source at
// once and every Refresh (a failure: again after min(Refresh, 5m)) until
// ctx ends. It returns when ctx ends.
func (db *DB) Run(ctx context.Context) {
	if err := db.Load(ctx); err != nil && ctx.Err() == nil {
		db.log.Info("vulnerability database: no copy in storage yet", "source", db.opts.Source.String(), "err", err)
	}
	for {
		wait := db.opts.Refresh
		if err := db.Refresh(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			wait = min(wait, 5*time.Minute)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// Load builds and serves the newest copy kept in storage, unless a copy
// is served already; if it does not build and the source is a
// StoredBeforer, the newest older one that does (at most
// maxLoadFallbacks older ones are tried).
func (db *DB) Load(ctx context.Context) error {
	db.refreshMu.Lock()
	defer db.refreshMu.Unlock()
	if db.cur.Load() != nil {
		return nil
	}
	z, err := db.opts.Source.Stored(ctx)
	if errors.Is(err, fs.ErrNotExist) {
		return err // nothing stored yet: not a failure, the refresh will tell
	}
	if err == nil {
		err = db.install(ctx, z, "loaded from storage")
		older, _ := db.opts.Source.(StoredBeforer)
		for i := 0; err != nil && older != nil && i < maxLoadFallbacks && ctx.Err() == nil; i++ {
			db.log.Warn("vulnerability database: stored copy does not build; trying an older one", "copy", z.Origin, "err", err)
			prev, oerr := older.StoredBefore(ctx, z.Origin)
			if oerr != nil {
				if !errors.Is(oerr, fs.ErrNotExist) {
					err = errors.Join(err, oerr)
				}
				break
			}
			z = prev
			if ierr := db.install(ctx, z, "loaded from storage (an older copy)"); ierr != nil {
				err = errors.Join(err, ierr)
			} else {
				err = nil
			}
		}
	}
	if err != nil {
		err = fmt.Errorf("vulnerability database from storage: %w", err)
	}
	db.attempted(err, false)
	return err
}

// Refresh asks the source for a newer copy and serves it once built,
// within RefreshTimeout. On failure the served copy stays, and the error
// is kept for Status.
func (db *DB) Refresh(ctx context.Context) error {
	db.refreshMu.Lock()
	defer db.refreshMu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, db.opts.RefreshTimeout)
	defer cancel()
	current := ""
	if s := db.cur.Load(); s != nil {
		current = s.origin
	}
	z, err := db.opts.Source.Fetch(ctx, current)
	if err == nil && z != nil {
		err = db.install(ctx, z, "refreshed")
	}
	if err != nil {
		err = fmt.Errorf("vulnerability database refresh from %s: %w", db.opts.Source, err)
		if current != "" {
			db.log.Warn("vulnerability database refresh failed; serving the last good copy", "copy", current, "err", err)
		} else {
			db.log.Warn("vulnerability database refresh failed; none loaded", "err", err)
		}
	}
	db.attempted(err, true)
	return err
}

// install builds a snapshot of z and swaps it in, retiring the old one.
func (db *DB) install(ctx context.Context, z *Zip, how string) error {
	start := time.Now()
	s, err := build(ctx, z.RA, z.Size, z.Close, z.Dir, z.Origin, z.Modified)
	if err != nil {
		return fmt.Errorf("%s: %w", z.Origin, err)
	}
	// Last-Modified (whole seconds) moves with every new copy, so that an
	// If-Modified-Since never gets a 304 for a changed file.
	s.lastMod = s.built.UTC().Truncate(time.Second)
	if prev := db.cur.Load(); prev != nil && !s.lastMod.After(prev.lastMod) {
		s.lastMod = prev.lastMod.Add(time.Second)
	}
	old := db.cur.Swap(s)
	if old != nil {
		old.retire()
	}
	db.log.Info("vulnerability database "+how, "copy", s.origin, "entries", len(s.entries), "modules", len(s.modules),
		"modified", s.modified.Format(time.RFC3339), "build", time.Since(start).Round(time.Millisecond))
	if db.opts.OnChange != nil {
		db.opts.OnChange()
	}
	return nil
}

func (db *DB) attempted(err error, refresh bool) {
	now := time.Now()
	db.mu.Lock()
	db.lastAttempt = now
	if err == nil {
		db.lastSuccess, db.lastErr = now, nil
	} else if refresh || db.lastErr == nil {
		db.lastErr = err
	}
	db.mu.Unlock()
	if db.opts.OnRefresh != nil {
		db.opts.OnRefresh(err)
	}
}

// acquire returns the current snapshot with a reference taken (release
// it), or nil if none is loaded.
func (db *DB) acquire() *snapshot {
	for {
		s := db.cur.Load()
		if s == nil || s.acquire() {
			return s
		}
	}
}

// Status is what the DB tells /readyz, metrics and the console.
type Status struct {
	Source      string    // the source's String
	Copy        string    // the served copy's Origin, "" if none is loaded
	Entries     int       // entries of the served copy
	Modified    time.Time // its time (index/db.json's): see Zip.Modified
	Loaded      time.Time // when it was built
	LastAttempt time.Time // the last load or refresh
	LastSuccess time.Time
	LastError   string // of the last refresh, "" if it succeeded
}

// Status returns the DB's state.
func (db *DB) Status() Status {
	st := Status{Source: db.opts.Source.String()}
	if s := db.cur.Load(); s != nil {
		st.Copy, st.Entries, st.Modified, st.Loaded = s.origin, len(s.entries), s.modified, s.built
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	st.LastAttempt, st.LastSuccess = db.lastAttempt, db.lastSuccess
	if db.lastErr != nil {
		st.LastError = db.lastErr.Error()
	}
	return st
}

// Vulns returns the advisories of the served copy that affect m (a module
// version; for StdlibModule and ToolchainModule a Go version), sorted by
// ID, withdrawn ones left out; none for a version that is not semver. It
// returns ErrNotLoaded before a copy is loaded. It reads memory only (no
// I/O): a map lookup and the ranges of the module's entries.
func (db *DB) Vulns(ctx context.Context, m module.Version) ([]Advisory, error) {
	s := db.cur.Load()
	if s == nil {
		return nil, ErrNotLoaded
	}
	v := canonicalVersion(m.Version)
	if v == "" {
		return nil, nil
	}
	return s.lookup(m.Path, v), nil
}

// Module returns every advisory of the served copy naming module path
// (withdrawn ones left out), by ID, each with the fix of the module index
// (LatestFix over all the entry's blocks for the module, "v"-prefixed): for a module page that lists them whatever
// the version.
func (db *DB) Module(ctx context.Context, path string) ([]Advisory, error) {
	s := db.cur.Load()
	if s == nil {
		return nil, ErrNotLoaded
	}
	var out []Advisory
	seen := map[string]bool{}
	mes := s.modules[path]
	for i, me := range mes {
		if me.adv.Withdrawn || seen[me.adv.ID] {
			continue
		}
		seen[me.adv.ID] = true
		// The fix over all the entry's blocks for the module (an entry may
		// have several, e.g. fixed in 9.5.5 and again in 9.6.3).
		blocks := [][]Range{me.ranges}
		for _, other := range mes[i+1:] {
			if other.adv == me.adv {
				blocks = append(blocks, other.ranges)
			}
		}
		fix := moduleFix(blocks)
		if fix != "" {
			fix = "v" + fix
		}
		out = append(out, Advisory{ID: me.adv.ID, Aliases: me.adv.Aliases, Summary: me.adv.Summary, Fixed: fix})
	}
	sortAdvisories(out)
	return out, nil
}

// Entry returns the entry id of the served copy, parsed; an error
// satisfying errors.Is(err, fs.ErrNotExist) if it has none.
func (db *DB) Entry(ctx context.Context, id string) (*Entry, error) {
	if !ValidID(id) {
		return nil, notFound(id)
	}
	s := db.acquire()
	if s == nil {
		return nil, ErrNotLoaded
	}
	defer s.release()
	b, err := s.entryJSON(ctx, id)
	if errors.Is(err, errNoEntry) {
		return nil, notFound(id)
	}
	if err != nil {
		return nil, err
	}
	return Parse(b)
}
