package policy

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"golang.org/x/mod/module"
)

// LiveOptions configure a Live. A zero field takes its default.
type LiveOptions struct {
	// Path is the policy file.
	Path string
	// Interval is how often the file is read to see whether it changed
	// (default 2s).
	Interval time.Duration
	// CacheSize bounds the cached decisions (default 32768).
	CacheSize int
	// RetractedTTL bounds how long a cached decision that asked whether
	// the version is retracted is kept (default 10m): the facts' own
	// cache of a module's retractions should not be longer.
	RetractedTTL time.Duration
	// Log receives reloads and bad edits (default slog.Default()).
	Log *slog.Logger
	// OnReload, if not nil, is called after every attempt to load a
	// changed file, with its error (nil when the new policy is in force).
	OnReload func(error)
}

// Live is the policy in force, read from a file and read again when the
// file changes, with a cache of its decisions. A bad edit keeps the last
// good policy in force; Status says so.
//
// The file is polled (Run): it is read every Interval and compared by its
// SHA-256 with the file in force. Polling, not file-system notification,
// because it needs no dependency, sees every kind of replacement (an
// editor's rename, a Kubernetes ConfigMap's symlink swap, a network file
// system) and costs one small read per interval.
//
// Live is safe for concurrent use.
type Live struct {
	opts  LiveOptions
	state atomic.Pointer[liveState]

	mu        sync.Mutex // reload
	sum       [32]byte   // of the file in force
	badSum    [32]byte   // of the last bad file, not logged again
	seenSum   [32]byte   // of the changed file the last Poll read (seen)
	seen      bool
	lastErr   error
	lastErrAt time.Time
	loadedAt  time.Time
	reloads   atomic.Uint64 // successful reloads after the first load
	failures  atomic.Uint64
}

// liveState is a policy with the cache of its decisions: replaced whole
// on a reload or an Invalidate, so that no decision of another policy or
// of older facts is ever read.
type liveState struct {
	pol   *Policy
	cache *lru.Cache[cacheKey, cached]
	gen   uint64
}

type cacheKey struct {
	set     int // index in pol.sets, -1 for the top level
	path    string
	version string
	zip     bool // KindZip or KindCheck: licenses judged
}

type cached struct {
	d       Decision
	expires int64 // UnixNano; 0: until the state is replaced
}

// Open loads the policy file and returns it live. Its error is the file's
// (a *SyntaxError names the line). Call Run to follow the file's changes.
func Open(opts LiveOptions) (*Live, error) {
	if opts.Interval <= 0 {
		opts.Interval = 2 * time.Second
	}
	if opts.CacheSize <= 0 {
		opts.CacheSize = 32768
	}
	if opts.RetractedTTL <= 0 {
		opts.RetractedTTL = 10 * time.Minute
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	l := &Live{opts: opts}
	data, err := readFile(opts.Path)
	if err != nil {
		return nil, err
	}
	pol, err := Parse(opts.Path, data)
	if err != nil {
		return nil, err
	}
	l.sum = sha256.Sum256(data)
	l.loadedAt = time.Now()
	l.install(pol)
	return l, nil
}

func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return data, nil
}

// install puts pol in force with an empty cache.
func (l *Live) install(pol *Policy) {
	c, _ := lru.New[cacheKey, cached](l.opts.CacheSize)
	var gen uint64
	if old := l.state.Load(); old != nil {
		gen = old.gen + 1
	}
	l.state.Store(&liveState{pol: pol, cache: c, gen: gen})
}

// Policy returns the policy in force.
func (l *Live) Policy() *Policy { return l.state.Load().pol }

// Invalidate forgets every cached decision: call it when facts that
// decisions are cached on change as a whole (the vulnerability database
// was refreshed).
func (l *Live) Invalidate() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.install(l.state.Load().pol)
}

// Cached returns the cached decision for subj, m and k, if one is.
// It does not allocate.
func (l *Live) Cached(subj Subject, m module.Version, k Kind) (Decision, bool) {
	st := l.state.Load()
	return st.get(st.key(subj, m, k))
}

func (st *liveState) key(subj Subject, m module.Version, k Kind) cacheKey {
	set := -1
	if p := st.pol; subj.Token != "" && len(p.byToken) > 0 {
		if i, ok := p.byToken[subj.Token]; ok {
			set = i
		}
	}
	return cacheKey{set: set, path: m.Path, version: m.Version, zip: k == KindZip || k == KindCheck}
}

func (st *liveState) get(k cacheKey) (Decision, bool) {
	c, ok := st.cache.Get(k)
	if !ok {
		return Decision{}, false
	}
	if c.expires != 0 && time.Now().UnixNano() >= c.expires {
		st.cache.Remove(k)
		return Decision{}, false
	}
	return c.d, true
}

// Decide is the policy in force's Decide, cached: a decision is kept
// until a reload or Invalidate, a min-age refusal no longer than its
// Until, one that asked for retractions no longer than RetractedTTL, and
// one that could not be judged whole (Cacheable false) not at all.
func (l *Live) Decide(ctx context.Context, subj Subject, m module.Version, k Kind, facts Facts) (Decision, error) {
	st := l.state.Load()
	key := st.key(subj, m, k)
	if d, ok := st.get(key); ok {
		return d, nil
	}
	d, err := st.pol.Decide(ctx, subj, m, k, facts)
	if err != nil || !d.Cacheable() {
		return d, err
	}
	var exp int64
	if !d.Until.IsZero() {
		exp = d.Until.UnixNano()
	}
	if d.AskedRetracted() {
		if r := time.Now().Add(l.opts.RetractedTTL).UnixNano(); exp == 0 || r < exp {
			exp = r
		}
	}
	st.cache.Add(key, cached{d: d, expires: exp})
	return d, nil
}

// Run polls the file every Interval until ctx is done (see Poll).
func (l *Live) Run(ctx context.Context) {
	t := time.NewTicker(l.opts.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			l.Poll()
		}
	}
}

// Reload reads the file and, if it changed, parses it: a good file is put
// in force (and the cached decisions dropped), a bad one (or a file that
// is gone) is logged once and kept out, the last good policy staying in
// force, until the file changes again. It reports whether a new policy is
// in force, and the bad file's error.
func (l *Live) Reload() (bool, error) {
	return l.reload(false)
}

// Poll is Reload for a file read on a timer (Run): a changed file is put
// in force (or refused) only when the previous Poll read the same content,
// so that a file caught while an editor or a copy writes it in place is
// neither put in force half written (a cut that is valid YAML can be a
// policy that allows what the whole file refuses) nor reported as bad.
// A file written elsewhere and renamed into place is never seen half
// written; Poll only delays it by one interval.
func (l *Live) Poll() (bool, error) {
	return l.reload(true)
}

func (l *Live) reload(settle bool) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	data, err := readFile(l.opts.Path)
	var sum [32]byte
	if err == nil {
		sum = sha256.Sum256(data)
		if sum == l.sum {
			if l.lastErr != nil {
				// Back to the file in force: nothing is wrong any more.
				l.lastErr = nil
				l.opts.Log.Info("policy file is again the one in force", "file", l.opts.Path)
			}
			return false, nil
		}
		if l.lastErr != nil && sum == l.badSum {
			return false, l.lastErr
		}
		if settle && (!l.seen || sum != l.seenSum) {
			l.seen, l.seenSum = true, sum // changed since the last poll: wait for it to settle
			return false, nil
		}
	} else if l.lastErr != nil && l.lastErr.Error() == err.Error() {
		return false, l.lastErr
	}
	var pol *Policy
	if err == nil {
		pol, err = Parse(l.opts.Path, data)
	}
	if err != nil {
		l.lastErr, l.lastErrAt, l.badSum = err, time.Now(), sum
		l.failures.Add(1)
		l.opts.Log.Error("policy file not reloaded: the last good policy stays in force", "file", l.opts.Path, "err", err)
		if l.opts.OnReload != nil {
			l.opts.OnReload(err)
		}
		return false, err
	}
	l.sum, l.lastErr, l.loadedAt = sum, nil, time.Now()
	l.install(pol)
	l.reloads.Add(1)
	l.opts.Log.Info("policy reloaded", "file", l.opts.Path, "rules", pol.Rules())
	if l.opts.OnReload != nil {
		l.opts.OnReload(nil)
	}
	return true, nil
}

// LiveStatus is what Status reports.
type LiveStatus struct {
	File string `json:"file"`
	// Loaded is when the policy in force was read.
	Loaded time.Time `json:"loaded"`
	Rules  int       `json:"rules"`
	// Reloads counts the changed files put in force since Open;
	// Failures the changed files refused.
	Reloads  uint64 `json:"reloads"`
	Failures uint64 `json:"failures"`
	// Error is why the file as it is now is not in force, "" when it is.
	Error string `json:"error,omitempty"`
	// ErrorLine is the line the error names (0: none, or the file as a
	// whole): what an anonymous caller may be shown instead of Error.
	ErrorLine int       `json:"error_line,omitempty"`
	ErrorAt   time.Time `json:"error_at,omitzero"`
}

// Status reports the policy in force and whether the file as it is now is
// refused.
func (l *Live) Status() LiveStatus {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := LiveStatus{File: l.opts.Path, Loaded: l.loadedAt, Rules: l.state.Load().pol.Rules(),
		Reloads: l.reloads.Load(), Failures: l.failures.Load()}
	if l.lastErr != nil {
		s.Error, s.ErrorAt = l.lastErr.Error(), l.lastErrAt
		if se := (*SyntaxError)(nil); errors.As(l.lastErr, &se) {
			s.ErrorLine = se.Line
		}
	}
	return s
}
