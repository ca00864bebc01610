// Package cache decides, for each module proxy request, whether to answer
// from storage or from the upstream, and fills storage on a miss.
//
// Immutable artifacts (.info, .mod and .zip of canonical versions) are
// storage-first and kept forever; each is fetched once, verified against the
// checksum database, and stored atomically. Mutable answers (list, @latest)
// are upstream-first under a short deadline and fall back to what storage
// holds (stale-if-error); list is the union of the two. Concurrent misses for
// one artifact share one upstream fetch, which runs to completion even if
// every client that asked for it goes away.
//
// Every stored .zip and .mod has its h1: hash recorded next to it (see
// layout.HashKey), stored before the artifact itself: a .zip's hash before the zip
// is renamed into place, a .mod's hash before the .mod in the same
// background write. So a .zip or .mod visible in storage always has its
// hash; a crash may leave a hash without its artifact, which is harmless.
package cache

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/expirable"
	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"
	modzip "golang.org/x/mod/zip"
	"golang.org/x/sync/singleflight"

	"github.com/gomirror/gomirror/internal/syncx"
	"github.com/gomirror/gomirror/internal/writebehind"
	"github.com/gomirror/gomirror/layout"
	"github.com/gomirror/gomirror/storage"
	"github.com/gomirror/gomirror/sumdb"
	"github.com/gomirror/gomirror/upstream"
)

// Verifier checks artifacts against a checksum database. *sumdb.Verifier
// implements it.
type Verifier interface {
	// Exempt reports whether path is never verified (GONOSUMDB).
	Exempt(path string) bool
	// Lookup fetches the database's record for path@version ahead of the
	// checks, so that the round trip overlaps the download.
	Lookup(ctx context.Context, path, version string) ([]string, error)
	CheckGoMod(ctx context.Context, path, version string, gomod []byte) error
	CheckZip(ctx context.Context, path, version, h1 string) error
}

// Coordinator coordinates replicas that share one storage (see package
// coord for the Redis one).
type Coordinator interface {
	// TryLock takes the cross-replica fill lock for key, or returns an
	// error wrapping ErrLockHeld if another replica holds it.
	TryLock(ctx context.Context, key string) (Lease, error)
	GetShared(ctx context.Context, key string) ([]byte, bool, error)
	SetShared(ctx context.Context, key string, b []byte, ttl time.Duration) error
}

// A Lease is a held fill lock.
type Lease interface {
	// Valid reports whether the lock is still held (checked before the
	// final write, so that a replica that lost it does not write).
	Valid(ctx context.Context) bool
	Unlock()
}

// ErrLockHeld means another replica holds a fill lock.
var ErrLockHeld = errors.New("fill lock held by another replica")

// Source says where an answer came from, for logs and metrics.
type Source struct {
	Outcome Outcome
	// Upstream names the upstream that answered the fetch this call made
	// (upstream.Answer.Upstream). It is empty when this call fetched
	// nothing: a hit, a "not found" remembered, or a fetch that another
	// caller (or replica) made and this one shared.
	Upstream string
}

// Outcome is what the cache did for an answer.
type Outcome string

const (
	Hit   Outcome = "hit"   // from storage, upstream not asked
	Miss  Outcome = "miss"  // fetched from the upstream (and stored if immutable)
	Fresh Outcome = "fresh" // mutable answer, from the upstream
	Stale Outcome = "stale" // mutable answer, from storage because the upstream failed
)

// String returns the Outcome, as the access log's cache field shows it.
func (s Source) String() string { return string(s.Outcome) }

// Options configures a Mirror.
type Options struct {
	Storage  storage.Storage
	Upstream upstream.Fetcher
	// Verifier may be nil: nothing is verified (the checksum database is "off").
	Verifier Verifier
	// FreshTimeout is how long a list or @latest request waits for the
	// upstream when storage has an answer to fall back on. Default 3s.
	FreshTimeout time.Duration
	// FetchTimeout bounds one upstream fetch and its verification. Default 10m.
	FetchTimeout time.Duration
	// TempDir holds zips while they are checked; default: the storage's own
	// temporary directory if it has one (storage.TempDirer), else os.TempDir().
	TempDir string
	Logger  *slog.Logger
	// Prefetch, if positive, is how many .mod and .zip fills may run ahead of
	// the client: a miss on a canonical .info, once the upstream's answer
	// has arrived and is valid, starts the fills of that version's .mod and
	// .zip, which the go command asks for next, so that they overlap with
	// its requests instead of following them. Zero disables prefetching.
	Prefetch int
	// NegativeTTL is how long the upstream's "not found" for a key is
	// remembered; zero means 1 minute, negative disables it.
	NegativeTTL time.Duration
	// ListTTL is how long a list or @latest answer that came from a
	// "direct" upstream (version control, through the go command) is served
	// from storage before the upstream is asked again: each such question
	// costs a go and a git process. Zero asks every time. Answers from
	// proxies are always fresh (FreshTimeout): proxies cache for themselves.
	ListTTL time.Duration
	// Coordinator, if set, makes replicas that share Storage fill each
	// artifact once between them and share fresh list/@latest answers for
	// SharedTTL (default 5s). Its failures are logged and the replica goes
	// on alone.
	Coordinator Coordinator
	SharedTTL   time.Duration
	// OnFetch, if set, is called after every upstream fetch.
	OnFetch func(op, upstream string, d time.Duration, err error)
	// OnVerify, if set, is called after every check against the checksum
	// database with the file checked ("go.mod" or "zip") and its outcome.
	OnVerify func(file string, err error)
}

// Mirror answers module proxy requests from storage and the upstream.
type Mirror struct {
	opts     Options
	flight   singleflight.Group
	fills    sync.WaitGroup
	negative *expirable.LRU[string, error]    // upstream "not found" by key; nil if disabled
	recent   *expirable.LRU[string, struct{}] // list/@latest keys fetched within ListTTL; nil if disabled
	behind   *writebehind.Writer              // small artifacts being stored
	prefetch chan struct{}                    // semaphore for prefetches; nil if disabled
	hasher   *zipHasher
}

// rememberedKeys bounds the negative cache and the list-ttl cache: when
// one is full, its least recently used entries make room.
const rememberedKeys = 100_000

// New returns a Mirror.
func New(opts Options) *Mirror {
	if opts.FreshTimeout == 0 {
		opts.FreshTimeout = 3 * time.Second
	}
	if opts.FetchTimeout == 0 {
		opts.FetchTimeout = 10 * time.Minute
	}
	if opts.TempDir == "" {
		if td, ok := storage.As[storage.TempDirer](opts.Storage); ok {
			opts.TempDir = td.TempDir()
		} else {
			opts.TempDir = os.TempDir()
		}
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	m := &Mirror{opts: opts, behind: writebehind.New(modHashFirst{opts.Storage}, opts.FetchTimeout, opts.Logger), hasher: newZipHasher()}
	if opts.Prefetch > 0 {
		m.prefetch = make(chan struct{}, opts.Prefetch)
	}
	if m.opts.SharedTTL == 0 {
		m.opts.SharedTTL = 5 * time.Second
	}
	switch {
	case opts.NegativeTTL == 0:
		m.negative = expirable.NewLRU[string, error](rememberedKeys, nil, time.Minute)
	case opts.NegativeTTL > 0:
		m.negative = expirable.NewLRU[string, error](rememberedKeys, nil, opts.NegativeTTL)
	}
	if opts.ListTTL > 0 {
		m.recent = expirable.NewLRU[string, struct{}](rememberedKeys, nil, opts.ListTTL)
	}
	return m
}

// Wait blocks until every fill and background write in progress has
// finished or ctx is done. Call it after the HTTP server stops accepting
// requests.
func (m *Mirror) Wait(ctx context.Context) error {
	if err := syncx.Wait(ctx, &m.fills); err != nil {
		return err
	}
	return m.behind.Wait(ctx)
}

// FetchTimeout returns the limit for one upstream fetch (Options.FetchTimeout).
func (m *Mirror) FetchTimeout() time.Duration { return m.opts.FetchTimeout }

// BadRequestError is a request for something that cannot exist, such as a
// non-canonical version of a .mod or .zip.
type BadRequestError struct {
	Module, Version string
	Err             error
}

func (e *BadRequestError) Error() string {
	return fmt.Sprintf("%s@%s: %v", e.Module, e.Version, e.Err)
}
func (e *BadRequestError) Unwrap() error { return e.Err }

// BadRequest reports true: the edge answers a BadRequestError with 400
// (proxy.BadRequester).
func (e *BadRequestError) BadRequest() bool { return true }

// storageKey returns the storage key of m's file of kind k (layout.Key), failing
// with a *BadRequestError for a path or version that does not escape, and
// with a *layout.NotStorableError if any file of the version (or, for List
// and Latest, the file itself) would have an invalid key.
func storageKey(m module.Version, k layout.Kind) (string, error) {
	key, err := layout.Key(m, k)
	if err != nil && !errors.As(err, new(*layout.NotStorableError)) {
		return "", &BadRequestError{m.Path, m.Version, err}
	}
	return key, err
}

// fetch runs an upstream call for the artifact at key with timing and
// metrics, and returns which upstream answered (the call's Answer). A "not
// found" is remembered for NegativeTTL and returned again without asking
// the upstream.
func (m *Mirror) fetch(ctx context.Context, op, key string, call func(ctx context.Context) (upstream.Answer, error)) (upstream.Answer, error) {
	if m.negative != nil {
		if err, ok := m.negative.Get(key); ok {
			return upstream.Answer{}, err
		}
	}
	a, err := m.fetchUpstream(ctx, op, call)
	if m.negative != nil && upstream.IsNotExist(err) {
		m.negative.Add(key, err)
	}
	return a, err
}

func (m *Mirror) fetchUpstream(ctx context.Context, op string, call func(ctx context.Context) (upstream.Answer, error)) (upstream.Answer, error) {
	start := time.Now()
	a, err := call(ctx)
	if m.opts.OnFetch != nil {
		name := a.Upstream
		if name == "" {
			name = m.opts.Upstream.String()
		}
		m.opts.OnFetch(op, name, time.Since(start), err)
	}
	return a, err
}

// fill runs f once for key however many callers ask at the same time. f runs
// with a context that is not cancelled when the callers go away, bounded by
// FetchTimeout, so that a fill is never abandoned half-way.
func (m *Mirror) fill(ctx context.Context, key string, f func(ctx context.Context) error) error {
	_, err := m.fillValue(ctx, key, func(ctx context.Context) (any, error) { return nil, f(ctx) })
	return err
}

// fillValue is fill for a fill that yields a value, shared by all callers.
//
// Every caller counts in m.fills from before it starts or joins the fill
// until the fill's result is out, which is after f has returned: so Wait,
// once the callers have returned, waits for the fill, even if they left
// early and before the fill's goroutine ran.
func (m *Mirror) fillValue(ctx context.Context, key string, f func(ctx context.Context) (any, error)) (any, error) {
	m.fills.Add(1)
	ch := m.flight.DoChan(key, func() (any, error) {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), m.opts.FetchTimeout)
		defer cancel()
		return f(fctx)
	})
	select {
	case r := <-ch:
		m.fills.Done()
		return r.Val, r.Err
	case <-ctx.Done():
		go func() { <-ch; m.fills.Done() }()
		return nil, ctx.Err()
	}
}

// coordinated runs fill for key once across replicas: it takes the
// cross-replica lock, or waits while another replica holds it until stored
// reports the artifact there (or the lock is free, for instance because
// its holder died and it expired). Without a coordinator, or if the
// coordinator fails, the replica fills alone. fill gets the lock it holds,
// or nil when it fills alone; it checks lostLease before it writes.
func (m *Mirror) coordinated(ctx context.Context, key string, stored func(ctx context.Context) bool, fill func(ctx context.Context, lease Lease) error) error {
	c := m.opts.Coordinator
	if c == nil {
		return fill(ctx, nil)
	}
	for {
		lease, err := c.TryLock(ctx, key)
		switch {
		case err == nil:
			if stored(ctx) {
				lease.Unlock()
				return nil // another replica filled it while we waited
			}
			err := fill(ctx, lease)
			lease.Unlock()
			if !errors.Is(err, errLostLease) {
				return err
			}
			// Another replica took the lock over (ours expired): wait
			// for its result like any other waiter.
		case errors.Is(err, ErrLockHeld):
			if stored(ctx) {
				return nil
			}
			t := time.NewTimer(50 * time.Millisecond)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			}
		default:
			m.opts.Logger.Warn("replica coordination unavailable; filling alone", "key", key, "err", err)
			return fill(ctx, nil)
		}
	}
}

// lostLease reports whether the fill lock lease (nil: none, the replica
// fills alone) was lost (expired and taken over): the fill must not write,
// the new holder does.
func lostLease(ctx context.Context, lease Lease) bool {
	return lease != nil && !lease.Valid(ctx)
}

// errLostLease is a fill that stopped because another replica took over.
var errLostLease = errors.New("fill lock lost to another replica; not writing")

// Info answers $module/@v/$query.info. The caller closes the returned
// object's Body. For a canonical version it is the stored object (or, while
// a fill's write is pending, a reader over the fill's one copy); for a query
// it is the upstream's answer in memory.
func (m *Mirror) Info(ctx context.Context, path, query string) (*storage.Object, Source, error) {
	if !layout.IsCanonical(module.Version{Path: path, Version: query}) {
		// A query (branch, commit, version prefix) is resolved by the
		// upstream every time; its answer names the canonical version.
		if _, err := storageKey(module.Version{Path: path}, layout.List); err != nil {
			return nil, Source{Outcome: Miss}, err // no version of it can be stored
		}
		var b []byte
		// Remembered as not found under a name that is no storage key:
		// queries are never stored.
		a, err := m.fetch(ctx, "info", "query "+path+"@"+query, func(ctx context.Context) (a upstream.Answer, err error) {
			ctx, cancel := context.WithTimeout(ctx, m.opts.FetchTimeout)
			defer cancel()
			b, a, err = m.opts.Upstream.Info(ctx, path, query)
			return a, err
		})
		src := Source{Outcome: Miss, Upstream: a.Upstream}
		if err != nil {
			return nil, src, err
		}
		b, err = checkInfo(b, path, "")
		if err != nil {
			return nil, src, upstreamErr("info", path, query, err)
		}
		return storage.BytesObject(b), src, nil
	}
	key, err := storageKey(module.Version{Path: path, Version: query}, layout.Info)
	if err != nil {
		return nil, Source{Outcome: Miss}, err
	}
	var answered upstream.Answer // set by this call's fill only
	obj, src, err := m.immutable(ctx, key, func(ctx context.Context) ([]byte, error) {
		var (
			b   []byte
			err error
		)
		answered, err = m.fetch(ctx, "info", key, func(ctx context.Context) (a upstream.Answer, err error) {
			b, a, err = m.opts.Upstream.Info(ctx, path, query)
			return a, err
		})
		if err != nil {
			return nil, err
		}
		b, err = checkInfo(b, path, query)
		if err != nil {
			return nil, upstreamErr("info", path, query, err)
		}
		// Only now is the version known to exist. The go command asks for
		// its .mod and .zip next: they are fetched ahead. Starting them
		// before the .info answer would cost a version that does not exist
		// three upstream requests and a checksum lookup instead of one.
		m.prefetchVersion(ctx, path, query)
		return b, nil
	})
	return obj, answeredBy(ctx, src, answered), err
}

// GoMod answers $module/@v/$version.mod for a canonical version. The
// caller closes the returned object's Body (see Info).
func (m *Mirror) GoMod(ctx context.Context, path, version string) (*storage.Object, Source, error) {
	key, err := m.canonicalKey(path, version, layout.Mod)
	if err != nil {
		return nil, Source{Outcome: Miss}, err
	}
	var answered upstream.Answer // set by this call's fill only
	obj, src, err := m.immutable(ctx, key, func(ctx context.Context) ([]byte, error) {
		m.lookupAhead(ctx, key, path, version)
		var (
			b   []byte
			err error
		)
		answered, err = m.fetch(ctx, "mod", key, func(ctx context.Context) (a upstream.Answer, err error) {
			b, a, err = m.opts.Upstream.GoMod(ctx, path, version)
			return a, err
		})
		if err != nil {
			return nil, err
		}
		if err := m.verify(path, "go.mod", func(v Verifier) error { return v.CheckGoMod(ctx, path, version, b) }); err != nil {
			return nil, err
		}
		return b, nil
	})
	return obj, answeredBy(ctx, src, answered), err
}

// Zip answers $module/@v/$version.zip for a canonical version. The caller
// closes the returned object's Body.
func (m *Mirror) Zip(ctx context.Context, path, version string) (*storage.Object, Source, error) {
	key, err := m.canonicalKey(path, version, layout.Zip)
	if err != nil {
		return nil, Source{Outcome: Miss}, err
	}
	if obj, err := m.opts.Storage.Get(ctx, key); err == nil {
		return obj, Source{Outcome: Hit}, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, Source{Outcome: Hit}, err
	}
	stored := func(ctx context.Context) bool {
		_, err := m.opts.Storage.Stat(ctx, key)
		return err == nil
	}
	var answered upstream.Answer // set by this call's fill only
	err = m.fill(ctx, key, func(ctx context.Context) error {
		if stored(ctx) {
			return nil // filled by a fill that finished just before ours began
		}
		return m.coordinated(ctx, key, stored, func(ctx context.Context, lease Lease) (err error) {
			answered, err = m.fillZip(ctx, lease, key, path, version)
			return err
		})
	})
	src := answeredBy(ctx, Source{Outcome: Miss}, answered)
	if err != nil {
		return nil, src, err
	}
	obj, err := m.opts.Storage.Get(ctx, key)
	return obj, src, err
}

// fillZip fetches, checks and stores the zip at key; under a fill lock
// (lease not nil) it stores it only while it still holds the lock. It
// returns which upstream answered, also with an error after the download.
func (m *Mirror) fillZip(ctx context.Context, lease Lease, key, path, version string) (answered upstream.Answer, err error) {
	m.lookupAhead(ctx, key, path, version)
	tmp, err := os.CreateTemp(m.opts.TempDir, "gomirror-zip-*")
	if err != nil {
		return answered, err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()

	// download fetches the zip into tmp; its Answer names the upstream that
	// answered even if the body then broke off.
	download := func(ctx context.Context) (a upstream.Answer, err error) {
		if _, err := tmp.Seek(0, io.SeekStart); err != nil {
			return a, err
		}
		if err := tmp.Truncate(0); err != nil {
			return a, err
		}
		body, size, a, err := m.opts.Upstream.Zip(ctx, path, version)
		if err != nil {
			return a, err
		}
		defer body.Close()
		if size > modzip.MaxZipFile {
			return a, upstreamErr("zip", path, version, fmt.Errorf("zip is %d bytes, more than the %d allowed", size, int64(modzip.MaxZipFile)))
		}
		w := &errWriter{w: tmp}
		n, err := io.Copy(w, io.LimitReader(body, modzip.MaxZipFile+1))
		if w.err != nil { // our disk, not the upstream
			return a, fmt.Errorf("storing zip %s@%s: %w", path, version, w.err)
		}
		if err != nil {
			return a, upstreamErr("zip", path, version, &transferError{fmt.Errorf("reading zip: %w", err)})
		}
		if n > modzip.MaxZipFile {
			return a, upstreamErr("zip", path, version, fmt.Errorf("zip larger than the %d bytes allowed", int64(modzip.MaxZipFile)))
		}
		if size >= 0 && n != size {
			return a, upstreamErr("zip", path, version, &transferError{fmt.Errorf("truncated zip: got %d of %d bytes", n, size)})
		}
		return a, nil
	}
	// A zip that breaks off in transit (reset, truncation) is asked for
	// again, a bounded number of times: unlike a small answer, it is not
	// retried below the cache (an upstream group retries only until a body
	// starts), and a client's go command does not retry at all.
	for attempt := 0; ; attempt++ {
		var a upstream.Answer
		a, err = m.fetch(ctx, "zip", key, download)
		if a.Upstream != "" {
			answered = a
		}
		var te *transferError
		if err == nil || !errors.As(err, &te) || attempt == zipTransferRetries || ctx.Err() != nil {
			break
		}
		m.opts.Logger.Warn("zip transfer broke off; asking again", "module", path, "version", version, "attempt", attempt+1, "err", err)
	}
	if err != nil {
		return answered, err
	}
	h1, err := m.checkZip(ctx, path, version, tmp.Name())
	if err != nil {
		return answered, err
	}
	if err := m.verify(path, "zip", func(v Verifier) error { return v.CheckZip(ctx, path, version, h1) }); err != nil {
		return answered, err
	}
	if lostLease(ctx, lease) {
		return answered, errLostLease
	}
	// The hash lands before the zip becomes visible, so that a stored zip
	// always has its recorded hash. A crash in between leaves a hash
	// without a zip, which is harmless: the next fill writes it again.
	hashKey, _ := layout.HashKey(key)
	if err := storage.PutBytes(ctx, m.opts.Storage, hashKey, []byte(h1+"\n")); err != nil {
		return answered, err
	}
	if a, ok := storage.As[storage.FileAdopter](m.opts.Storage); ok {
		if err := tmp.Close(); err != nil {
			return answered, err
		}
		return answered, a.AdoptFile(ctx, key, tmp.Name())
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return answered, err
	}
	return answered, m.opts.Storage.Put(ctx, key, tmp)
}

// checkZip checks that the zip in file is a valid module zip for
// path@version and returns its h1: hash.
func (m *Mirror) checkZip(ctx context.Context, path, version, file string) (string, error) {
	if _, err := modzip.CheckZip(module.Version{Path: path, Version: version}, file); err != nil {
		return "", upstreamErr("zip", path, version, fmt.Errorf("invalid module zip: %w", err))
	}
	h1, err := m.hasher.hash(ctx, file)
	if err != nil {
		return "", upstreamErr("zip", path, version, fmt.Errorf("hashing zip: %w", err))
	}
	return h1, nil
}

// prefetchVersion starts the fills of path@version's .mod and .zip in the
// background, if a prefetch slot is free; otherwise it starts only the
// checksum database lookup. Failures are left for the client's own request
// to meet and report. Call it only for a version the upstream has said
// exists (by its valid .info answer).
func (m *Mirror) prefetchVersion(ctx context.Context, path, version string) {
	select {
	case m.prefetch <- struct{}{}:
	default:
		m.prefetchLookup(ctx, path, version)
		return
	}
	ctx = context.WithoutCancel(ctx)
	m.fills.Add(1)
	go func() {
		defer m.fills.Done()
		defer func() { <-m.prefetch }()
		var wg sync.WaitGroup
		wg.Go(func() {
			obj, _, err := m.GoMod(ctx, path, version)
			if err != nil {
				m.opts.Logger.Debug("prefetch failed", "module", path, "version", version, "file", "mod", "err", err)
				return
			}
			obj.Body.Close()
		})
		wg.Go(func() {
			obj, _, err := m.Zip(ctx, path, version)
			if err != nil {
				m.opts.Logger.Debug("prefetch failed", "module", path, "version", version, "file", "zip", "err", err)
				return
			}
			obj.Body.Close()
		})
		wg.Wait()
	}()
}

// lookupAhead starts the checksum database lookup for path@version while
// the artifact at key downloads, unless the upstream said within
// NegativeTTL that it does not have that artifact (the fetch then asks
// nobody, and neither does the lookup).
//
// The lookup starts before the upstream has said whether the version
// exists, so a .mod or .zip of a version that does not exist costs a
// lookup as well as the fetch: one request to the database, whose "not
// found" the Verifier remembers for the negative TTL (no tiles are read
// for it). The overlap is worth it for versions that do exist: a .mod the
// go command asks for directly (a go.mod-only requirement) is otherwise
// answered a database round trip later.
func (m *Mirror) lookupAhead(ctx context.Context, key, path, version string) {
	if m.negative != nil {
		if _, notFound := m.negative.Get(key); notFound {
			return
		}
	}
	m.prefetchLookup(ctx, path, version)
}

// prefetchLookup starts the checksum database lookup for path@version so
// that it runs while the artifact downloads.
func (m *Mirror) prefetchLookup(ctx context.Context, path, version string) {
	if v := m.opts.Verifier; v != nil && !v.Exempt(path) {
		// Counted as a fill: shutdown waits for it like for the fill
		// that started it.
		m.fills.Add(1)
		go func() {
			defer m.fills.Done()
			v.Lookup(ctx, path, version)
		}()
	}
}

func (m *Mirror) verify(path, file string, check func(Verifier) error) error {
	v := m.opts.Verifier
	if v == nil || v.Exempt(path) {
		return nil
	}
	err := check(v)
	if errors.Is(err, context.DeadlineExceeded) {
		// Only the wait for the database can time out here; say so.
		err = fmt.Errorf("verifying %s %s: the checksum database did not answer within the fetch timeout (%v): %w", path, file, m.opts.FetchTimeout, err)
	}
	if m.opts.OnVerify != nil {
		m.opts.OnVerify(file, err)
	}
	if err != nil {
		m.opts.Logger.Error("verification failed; artifact refused", "module", path, "err", err)
		return err
	}
	return nil
}

func (m *Mirror) canonicalKey(path, version string, k layout.Kind) (string, error) {
	mv := module.Version{Path: path, Version: version}
	if !layout.IsCanonical(mv) {
		return "", &BadRequestError{path, version, errors.New("invalid version: not a canonical version of this module")}
	}
	return storageKey(mv, k)
}

// immutable serves a small immutable artifact (.info, .mod) from storage,
// filling it from fetch on a miss. A filled artifact is answered from memory
// while it is written to storage in the background.
//
// Memory does not grow with the number of readers: a hit is the stored
// object, streamed (on local disk the *os.File, sent with sendfile); the
// answer of a fill, and a pending write, is one slice that every reader
// reads through its own bytes.Reader, never a copy per request. The caller
// closes the object's Body.
func (m *Mirror) immutable(ctx context.Context, key string, fetch func(ctx context.Context) ([]byte, error)) (*storage.Object, Source, error) {
	if obj, err := m.behind.Get(ctx, key); err == nil {
		return obj, Source{Outcome: Hit}, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, Source{Outcome: Hit}, err
	}
	v, err := m.fillValue(ctx, key, func(ctx context.Context) (any, error) {
		if b, err := m.readSmall(ctx, key); err == nil {
			return b, nil // filled by a fill that finished just before ours began
		}
		if m.opts.Coordinator == nil {
			b, err := fetch(ctx)
			if err != nil {
				return nil, err
			}
			// The client need not wait for the disk; until the write
			// lands, readSmall answers from memory, so nothing is fetched
			// twice. If it fails, the next request fetches it again.
			m.behind.Put(key, b)
			return b, nil
		}
		// Other replicas wait for the artifact in storage, so it is
		// written before the fill lock is released.
		var b []byte
		stored := func(ctx context.Context) bool {
			var err error
			b, err = m.readSmall(ctx, key)
			return err == nil
		}
		err := m.coordinated(ctx, key, stored, func(ctx context.Context, lease Lease) error {
			var err error
			if b, err = fetch(ctx); err != nil {
				return err
			}
			if lostLease(ctx, lease) {
				return nil // the new holder writes it; b is still a verified answer
			}
			return modHashFirst{m.opts.Storage}.Put(ctx, key, bytes.NewReader(b))
		})
		return b, err
	})
	if err != nil {
		return nil, Source{Outcome: Miss}, err
	}
	return storage.BytesObject(v.([]byte)), Source{Outcome: Miss}, nil
}

// answeredBy returns src naming the upstream of answered, the Answer a
// call's fill closure recorded. A fill closure runs only for the call that
// started the fill (the callers that join it share its result but fetched
// nothing), and its writes are seen once fillValue has returned its result;
// fillValue returns early only when ctx is done, so answered is read only
// while ctx is not.
func answeredBy(ctx context.Context, src Source, answered upstream.Answer) Source {
	if ctx.Err() == nil {
		src.Upstream = answered.Upstream
	}
	return src
}

// zipTransferRetries is how many more times a zip whose transfer broke off
// is asked for.
const zipTransferRetries = 2

// transferError is a zip body that broke off in transit.
type transferError struct{ err error }

func (e *transferError) Error() string { return e.err.Error() }
func (e *transferError) Unwrap() error { return e.err }

// modHashFirst is the storage that small artifacts are written behind to:
// before it stores a .mod, it stores that file's hash at its layout.HashKey, so that
// a stored .mod always has its recorded hash. If the hash cannot be stored,
// neither is the .mod (the next request fetches it again); a crash between
// the two leaves a hash without a .mod, which is harmless.
type modHashFirst struct{ storage.Storage }

func (s modHashFirst) Put(ctx context.Context, key string, r io.Reader) error {
	hashKey, ok := layout.HashKey(key)
	if !ok { // .info
		return s.Storage.Put(ctx, key, r)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	h1, err := sumdb.HashGoMod(b)
	if err != nil {
		return err
	}
	if err := storage.PutBytes(ctx, s.Storage, hashKey, []byte(h1+"\n")); err != nil {
		return err
	}
	return s.Storage.Put(ctx, key, bytes.NewReader(b))
}

// readSmall reads a small artifact, including one still being written.
func (m *Mirror) readSmall(ctx context.Context, key string) ([]byte, error) {
	return m.behind.Read(ctx, key)
}

// List answers $module/@v/list: the upstream's versions together with every
// version in storage, so that nothing once served disappears.
func (m *Mirror) List(ctx context.Context, path string) ([]byte, Source, error) {
	key, err := storageKey(module.Version{Path: path}, layout.List)
	if err != nil {
		return nil, Source{Outcome: Miss}, err
	}
	stored, hadList, storedErr := m.storedVersions(ctx, path, key)
	var (
		fresh    []byte
		answerer upstream.Answer
		led      bool
		src      = Fresh
	)
	if m.isRecent(key) && storedErr == nil {
		src = Hit // asked the version control server less than ListTTL ago
	} else {
		// Only a stored list is a fallback worth answering with after the
		// short fresh-timeout; the versions of the stored files alone are
		// likely incomplete, so the upstream gets the full fetch timeout
		// (they are still served if it fails).
		fresh, answerer, led, err = m.mutable(ctx, "list", key, hadList, func(ctx context.Context) ([]byte, upstream.Answer, error) {
			return m.opts.Upstream.List(ctx, path)
		})
		if err != nil && (storedErr != nil || len(stored) == 0) {
			return nil, ledSource(Miss, answerer, led), err
		}
		if err != nil {
			src = Stale
			m.opts.Logger.Warn("upstream failed; serving stored list", "module", path, "err", err)
		}
	}
	versions := slices.Clone(stored)
	for v := range strings.FieldsSeq(string(fresh)) {
		if listable(v) {
			versions = append(versions, v)
		}
	}
	semver.Sort(versions)
	versions = slices.Compact(versions)
	var b bytes.Buffer
	for _, v := range versions {
		b.WriteString(v + "\n")
	}
	if src == Fresh {
		m.storeIfChanged(ctx, key, b.Bytes())
		m.markRecent(key, answerer)
	}
	return b.Bytes(), ledSource(src, answerer, led), nil
}

// storedVersions returns the tagged versions in the stored list and the
// versions that have artifacts in storage, and whether there was a stored
// list.
func (m *Mirror) storedVersions(ctx context.Context, path, listKey string) (versions []string, hadList bool, err error) {
	b, err := storage.ReadAll(ctx, m.opts.Storage, listKey)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, false, err
	}
	hadList = err == nil
	for v := range strings.FieldsSeq(string(b)) {
		if listable(v) {
			versions = append(versions, v)
		}
	}
	prefix := layout.VersionsPrefix(listKey)
	keys, err := m.opts.Storage.List(ctx, prefix)
	if err != nil {
		return versions, hadList, err
	}
	keys = append(keys, m.behind.Pending(prefix)...) // stored a moment from now
	for _, k := range keys {
		v, kind, err := layout.ParseVersionFile(strings.TrimPrefix(k, prefix))
		if err == nil && kind.Artifact() && semver.IsValid(v) && !module.IsPseudoVersion(v) {
			versions = append(versions, v)
		}
	}
	return versions, hadList, nil
}

// listable reports whether v, a line of a list answer, is a version to
// list: canonical, so that a list cut short by the upstream ("v1.2" of
// "v1.2.0") adds no version that does not exist, and none is stored.
func listable(v string) bool {
	return semver.IsValid(v) && module.CanonicalVersion(v) == v
}

// Latest answers $module/@latest.
func (m *Mirror) Latest(ctx context.Context, path string) ([]byte, Source, error) {
	key, err := storageKey(module.Version{Path: path}, layout.Latest)
	if err != nil {
		return nil, Source{Outcome: Miss}, err
	}
	stored, storedErr := storage.ReadAll(ctx, m.opts.Storage, key)
	if m.isRecent(key) && storedErr == nil {
		return stored, Source{Outcome: Hit}, nil // asked the version control server less than ListTTL ago
	}
	b, answerer, led, err := m.mutable(ctx, "latest", key, storedErr == nil, func(ctx context.Context) ([]byte, upstream.Answer, error) {
		b, a, err := m.opts.Upstream.Latest(ctx, path)
		if err == nil {
			b, err = checkInfo(b, path, "")
			if err != nil {
				err = upstreamErr("latest", path, "", err)
			}
		}
		return b, a, err
	})
	if err == nil {
		m.storeIfChanged(ctx, key, b)
		m.markRecent(key, answerer)
		return b, ledSource(Fresh, answerer, led), nil
	}
	if storedErr == nil {
		m.opts.Logger.Warn("upstream failed; serving stored @latest", "module", path, "err", err)
		return stored, ledSource(Stale, answerer, led), nil
	}
	return nil, ledSource(Miss, answerer, led), err
}

// mutable asks the upstream for a mutable answer, sharing the request among
// concurrent callers. With a fallback in storage it waits only FreshTimeout.
// It returns the answer, which upstream gave it (shared by every caller;
// zero if another replica asked; set with an error that came after an
// upstream answered), and whether this call was the one that asked (led).
func (m *Mirror) mutable(ctx context.Context, op, key string, haveFallback bool, get func(ctx context.Context) ([]byte, upstream.Answer, error)) (b []byte, from upstream.Answer, led bool, err error) {
	type answer struct {
		b    []byte
		from upstream.Answer
	}
	var leader bool // set by this call's closure only, read after its result
	ch := m.flight.DoChan(key, func() (any, error) {
		leader = true
		timeout := m.opts.FetchTimeout
		if haveFallback {
			timeout = m.opts.FreshTimeout
		}
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
		defer cancel()
		c := m.opts.Coordinator
		if c != nil {
			if b, ok, err := c.GetShared(fctx, key); ok {
				return answer{b, upstream.Answer{}}, nil // another replica asked a moment ago
			} else if err != nil {
				m.opts.Logger.Warn("replica coordination unavailable", "key", key, "err", err)
			}
		}
		var b []byte
		answered, err := m.fetch(fctx, op, key, func(ctx context.Context) (a upstream.Answer, err error) {
			b, a, err = get(ctx)
			return a, err
		})
		if err == nil && c != nil {
			if err := c.SetShared(fctx, key, b, m.opts.SharedTTL); err != nil {
				m.opts.Logger.Warn("replica coordination unavailable", "key", key, "err", err)
			}
		}
		return answer{b, answered}, err
	})
	select {
	case r := <-ch:
		a, _ := r.Val.(answer)
		if r.Err != nil {
			return nil, a.from, leader, r.Err
		}
		return a.b, a.from, leader, nil
	case <-ctx.Done():
		return nil, upstream.Answer{}, false, ctx.Err()
	}
}

// ledSource is the Source of a mutable answer: it names the upstream only
// for the call that asked it (led), not for those that shared the answer.
func ledSource(o Outcome, answerer upstream.Answer, led bool) Source {
	if !led {
		return Source{Outcome: o}
	}
	return Source{Outcome: o, Upstream: answerer.Upstream}
}

// markRecent remembers that key was just fetched from answerer: answers
// from version control (Answer.Direct) are reused for ListTTL.
func (m *Mirror) markRecent(key string, answerer upstream.Answer) {
	if answerer.Direct && m.recent != nil {
		m.recent.Add(key, struct{}{})
	}
}

// isRecent reports whether key was marked by markRecent within ListTTL.
func (m *Mirror) isRecent(key string) bool {
	if m.recent == nil {
		return false
	}
	_, ok := m.recent.Get(key)
	return ok
}

func (m *Mirror) storeIfChanged(ctx context.Context, key string, b []byte) {
	if old, err := storage.ReadAll(ctx, m.opts.Storage, key); err == nil && bytes.Equal(old, b) {
		return
	}
	if err := storage.PutBytes(context.WithoutCancel(ctx), m.opts.Storage, key, b); err != nil {
		m.opts.Logger.Warn("storing", "key", key, "err", err)
	}
}

// Info is the JSON of a .info file (and of @latest), with the fields the
// go command writes: the canonical version, its time, and where it came
// from.
type Info struct {
	Version string
	Time    time.Time
	Origin  *Origin `json:",omitempty"`
}

// Origin says where a version came from (the go command's
// codehost.Origin), which lets the go command reuse earlier answers
// (-reuse).
type Origin struct {
	VCS       string `json:",omitempty"`
	URL       string `json:",omitempty"`
	Subdir    string `json:",omitempty"`
	Hash      string `json:",omitempty"`
	TagPrefix string `json:",omitempty"`
	TagSum    string `json:",omitempty"`
	Ref       string `json:",omitempty"`
	RepoSum   string `json:",omitempty"`
}

// checkInfo validates an upstream's .info or @latest answer for module
// path: at most upstream.MaxInfo bytes (any Fetcher's), a JSON object whose Version is want (the
// canonical version asked for) or, if want is "" (@latest, queries), any
// canonical version of path, and whose Time is present and in RFC 3339.
// It returns the answer re-encoded as an Info, so that whatever else the
// upstream put in it is neither stored nor served.
func checkInfo(b []byte, path, want string) ([]byte, error) {
	if len(b) > upstream.MaxInfo {
		return nil, fmt.Errorf("malformed info: %d bytes, more than the %d allowed", len(b), upstream.MaxInfo)
	}
	if t := bytes.TrimLeft(b, " \t\r\n"); len(t) == 0 || t[0] != '{' {
		return nil, errors.New("malformed info: not a JSON object")
	}
	var info struct {
		Version string
		Time    *time.Time // RFC 3339, as time.Time's UnmarshalJSON requires
		Origin  *Origin
	}
	if err := json.Unmarshal(b, &info); err != nil {
		return nil, fmt.Errorf("malformed info: %w", err)
	}
	switch {
	case want != "" && info.Version != want:
		return nil, fmt.Errorf("malformed info: upstream answered version %q, not %q", info.Version, want)
	case !layout.IsCanonical(module.Version{Path: path, Version: info.Version}):
		return nil, fmt.Errorf("malformed info: version %q is not a canonical version of %s", info.Version, path)
	case info.Time == nil:
		return nil, errors.New("malformed info: no Time")
	}
	return json.Marshal(Info{Version: info.Version, Time: *info.Time, Origin: info.Origin})
}

func upstreamErr(op, path, version string, err error) error {
	return &upstream.Error{Upstream: "upstream", Op: op, Module: path, Version: version, Err: err}
}

// errWriter remembers the error of a failed write, so that a copy's local
// failure (disk full, read-only) is told apart from the upstream's.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	n, err := e.w.Write(p)
	if err != nil {
		e.err = err
	}
	return n, err
}
