package cache

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/expirable"
	"golang.org/x/sync/singleflight"

	"github.com/gomirror/gomirror/internal/negcache"
	"github.com/gomirror/gomirror/internal/smallcache"
	"github.com/gomirror/gomirror/internal/syncx"
	"github.com/gomirror/gomirror/internal/writebehind"
	"github.com/gomirror/gomirror/layout"
	"github.com/gomirror/gomirror/storage"
	"github.com/gomirror/gomirror/sumdb"
	"github.com/gomirror/gomirror/upstream"
)

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
	Hit  Outcome = "hit"  // from storage, upstream not asked
	Miss Outcome = "miss" // fetched from the upstream (and stored if immutable)
	// Prefetched: a zip that a prefetch fetched and verified, held until
	// this request (heldZips) and stored for it: the upstream not asked now.
	Prefetched Outcome = "prefetched"
	Fresh      Outcome = "fresh" // mutable answer, from the upstream
	Stale      Outcome = "stale" // mutable answer, from storage because the upstream failed
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
	// its requests instead of following them. A prefetched zip that no
	// client has asked for by the time it is verified is held in TempDir,
	// not stored (at most 1 GiB in 4,096 zips, each for at most 10
	// minutes, oldest out first), and stored when a client asks for it.
	// Zero disables prefetching.
	Prefetch int
	// NoPrefetch, if set, reports whether the module at path must not be
	// fetched ahead of a client because another module requires it:
	// private modules, fetched with gomirror's own credentials, which only
	// the request of a client allowed to read them may cause. (A version's
	// own .mod and .zip after its .info are the same module the client
	// asked for, and are prefetched whatever its path.)
	NoPrefetch func(path string) bool
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
	// SmallCache is how many bytes of stored .info and .mod files (of
	// canonical versions, each at most smallcache.MaxEntry) are kept in
	// memory, least recently used first out, and served from there
	// without a storage access; zero or negative keeps none. Every reader
	// of one reads the same slice.
	SmallCache int64
	// OnFetch, if set, is called after every upstream fetch.
	OnFetch func(op, upstream string, d time.Duration, err error)
	// OnVerify, if set, is called after every check against the checksum
	// database with the module version and file checked ("go.mod" or
	// "zip") and its outcome.
	OnVerify func(path, version, file string, err error)
	// OnStore, if set, is called after an artifact (.info, .mod or .zip of
	// a canonical version) is stored at key, with its size: the catalog's
	// feed. It must not block.
	OnStore func(key string, size int64)
}

// Mirror answers module proxy requests from storage and the upstream.
type Mirror struct {
	opts     Options
	flight   singleflight.Group
	zipsMu   sync.Mutex
	zips     map[string]*zipStream // zip fills in progress, by key (and their clients counts)
	fills    sync.WaitGroup
	negative *negcache.Cache                  // upstream "not found" by key; nil if disabled
	recent   *expirable.LRU[string, struct{}] // list/@latest keys fetched within ListTTL; nil if disabled
	pending  *expirable.LRU[string, struct{}] // keys of prefetched .mod files no client asked for yet; nil without prefetch
	behind   *writebehind.Writer              // small artifacts being stored
	small    *smallcache.Cache                // stored small artifacts in memory; nil if disabled
	prefetch chan struct{}                    // semaphore for prefetches; nil if disabled
	held     *heldZips                        // prefetched zips no client asked for yet, outside storage
	hasher   *zipHasher
}

// pendingMods and pendingTTL bound Mirror.pending: at most that many
// prefetched .mod files are remembered, each for at most that long,
// waiting for a client to ask for the .mod and so for its requirements.
const (
	pendingMods = 4096
	pendingTTL  = 10 * time.Minute
)

// rememberedKeys bounds the list-ttl cache as negcache bounds the negative
// cache: when one is full, its least recently used entries make room.
const rememberedKeys = negcache.Size

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
	m := &Mirror{opts: opts, zips: make(map[string]*zipStream), behind: writebehind.New(opts.Storage, opts.FetchTimeout, opts.Logger), hasher: newZipHasher(),
		small: smallcache.New(opts.SmallCache), held: newHeldZips(heldZipsBytes, heldZipsCount, heldZipTTL)}
	if opts.Prefetch > 0 {
		m.prefetch = make(chan struct{}, opts.Prefetch)
		m.pending = expirable.NewLRU[string, struct{}](pendingMods, nil, pendingTTL)
	}
	if m.opts.SharedTTL == 0 {
		m.opts.SharedTTL = 5 * time.Second
	}
	m.negative = negcache.New(opts.NegativeTTL)
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

// Close removes the zips that prefetches fetched and no client asked for
// (held in the temporary directory, never stored) and stops their expiry
// timer: call it after Wait, at shutdown. Nothing is held after it (a
// fill still running stores or drops its zip); a client that asks for one
// of them later has it fetched again.
func (m *Mirror) Close() error {
	m.held.drop()
	return nil
}

// HeldZips returns the counts of the prefetched zips held until a client
// asks for them (see Options.Prefetch).
func (m *Mirror) HeldZips() HeldZipStats { return m.held.stats() }

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

// Info answers $module/@v/$query.info for em, the module and its version
// or query with their escaped forms (the request's, layout.ParseURLPath;
// or layout.Escape's): a hit escapes nothing, and a miss escapes only where
// the upstream builds its URL. The caller closes the returned object's
// Body. For a canonical version it is the stored object (or, while a
// fill's write is pending, a reader over the fill's one copy); for a query
// it is the upstream's answer in memory.
func (m *Mirror) Info(ctx context.Context, em layout.Module) (*storage.Object, Source, error) {
	path, query := em.Version().Path, em.Version().Version
	if !em.Canonical() {
		// A query (branch, commit, version prefix) is resolved by the
		// upstream every time; its answer names the canonical version.
		if _, err := keyOf(em, layout.List); err != nil {
			return nil, Source{Outcome: Miss}, err // no version of it can be stored
		}
		// Remembered as not found under a name that is no storage key:
		// queries are never stored.
		b, a, err := m.fetchBytes(ctx, "info", "query "+path+"@"+query, func(ctx context.Context) ([]byte, upstream.Answer, error) {
			ctx, cancel := context.WithTimeout(ctx, m.opts.FetchTimeout)
			defer cancel()
			return m.opts.Upstream.Info(ctx, path, query)
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
	return m.info(ctx, em, true)
}

// InfoNoPrefetch is Info for em, a canonical version, except that a fetch
// of the .info starts nothing for the version's .mod and .zip (neither
// their fills nor the checksum database lookup): for a caller that reads
// the .info to decide whether the version may be served at all (package
// gate: a min-age rule's time), so that a version it refuses is not
// downloaded. If it decides to serve the version, PrefetchVersion starts
// what Info would have started.
func (m *Mirror) InfoNoPrefetch(ctx context.Context, em layout.Module) (*storage.Object, Source, error) {
	if err := checkCanonical(em); err != nil {
		return nil, Source{Outcome: Miss}, err
	}
	return m.info(ctx, em, false)
}

// PrefetchVersion starts the fills of em's .mod and .zip ahead of the
// client's requests (or, without a free prefetch slot, its checksum
// database lookup), as a fetch of its .info by Info does. Call it only for
// a canonical version whose .info has been answered.
func (m *Mirror) PrefetchVersion(ctx context.Context, em layout.Module) {
	if em.Canonical() {
		m.prefetchVersion(ctx, em)
	}
}

// info is Info for a canonical version; prefetch: a fetch of the .info
// starts the fills of the version's .mod and .zip.
func (m *Mirror) info(ctx context.Context, em layout.Module, prefetch bool) (*storage.Object, Source, error) {
	path, query := em.Version().Path, em.Version().Version
	key, err := keyOf(em, layout.Info)
	if err != nil {
		return nil, Source{Outcome: Miss}, err
	}
	if obj, ok := m.small.Get(key); ok {
		return obj, Source{Outcome: Hit}, nil // as immutable would, without making its fetch
	}
	return m.immutable(ctx, key, func(ctx context.Context) (filled, error) {
		b, answered, err := m.fetchBytes(ctx, "info", key, func(ctx context.Context) ([]byte, upstream.Answer, error) {
			return m.opts.Upstream.Info(ctx, path, query)
		})
		if err != nil {
			return filled{from: answered}, err
		}
		b, err = checkInfo(b, path, query)
		if err != nil {
			return filled{from: answered}, upstreamErr("info", path, query, err)
		}
		// Only now is the version known to exist. The go command asks for
		// its .mod and .zip next: they are fetched ahead. Starting them
		// before the .info answer would cost a version that does not exist
		// three upstream requests and a checksum lookup instead of one.
		if prefetch {
			m.prefetchVersion(ctx, em)
		}
		return filled{b: b, from: answered}, nil
	})
}

// GoMod answers $module/@v/$version.mod for em, a canonical version with
// its escaped forms (see Info). The caller closes the returned object's
// Body (see Info).
func (m *Mirror) GoMod(ctx context.Context, em layout.Module) (*storage.Object, Source, error) {
	if err := checkCanonical(em); err != nil {
		return nil, Source{Outcome: Miss}, err
	}
	obj, src, err := m.goMod(ctx, em)
	if err != nil || m.prefetch == nil {
		return obj, src, err
	}
	switch {
	case src.Outcome != Hit:
		if b, ok := obj.Body.(storage.InMemory); ok { // a fill's answer
			m.prefetchRequirements(ctx, b.Bytes())
		}
	case m.pending.Len() > 0: // else a hit costs no key
		if key, err := keyOf(em, layout.Mod); err == nil {
			m.prefetchPending(ctx, key)
		}
	}
	return obj, src, nil
}

// goMod is GoMod for a canonical version.
func (m *Mirror) goMod(ctx context.Context, em layout.Module) (*storage.Object, Source, error) {
	path, version := em.Version().Path, em.Version().Version
	key, err := keyOf(em, layout.Mod)
	if err != nil {
		return nil, Source{Outcome: Miss}, err
	}
	if obj, ok := m.small.Get(key); ok {
		return obj, Source{Outcome: Hit}, nil // as immutable would, without making its fetch
	}
	return m.immutable(ctx, key, func(ctx context.Context) (filled, error) {
		m.lookupAhead(ctx, key, path, version)
		b, answered, err := m.fetchBytes(ctx, "mod", key, func(ctx context.Context) ([]byte, upstream.Answer, error) {
			return m.opts.Upstream.GoMod(ctx, path, version)
		})
		if err != nil {
			return filled{from: answered}, err
		}
		// Hashed once: the checksum database's check and the hash
		// recorded next to the stored .mod both use h1.
		h1, err := sumdb.HashGoMod(b)
		if err != nil {
			return filled{from: answered}, err
		}
		if err := m.verify(path, version, "go.mod", func(v Verifier) error { return v.CheckGoMod(ctx, path, version, h1) }); err != nil {
			return filled{from: answered}, err
		}
		return filled{b: b, h1: h1, from: answered}, nil
	})
}

// Zip answers $module/@v/$version.zip for em, a canonical version with
// its escaped forms (see Info). The caller closes the returned object's
// Body.
func (m *Mirror) Zip(ctx context.Context, em layout.Module) (*storage.Object, Source, error) {
	if err := checkCanonical(em); err != nil {
		return nil, Source{Outcome: Miss}, err
	}
	return m.zip(ctx, em, false)
}

// zip is Zip for a canonical version, for a client or (prefetch) for a
// prefetch. On a miss of a large zip, it returns
// once the fill has released the zip's first megabyte (see zipStream),
// with an object whose Body reads the zip as it arrives and is verified;
// otherwise once the zip is stored, with the stored object.
func (m *Mirror) zip(ctx context.Context, em layout.Module, prefetch bool) (*storage.Object, Source, error) {
	path, version := em.Version().Path, em.Version().Version
	key, err := keyOf(em, layout.Zip)
	if err != nil {
		return nil, Source{Outcome: Miss}, err
	}
	if obj, err := m.opts.Storage.Get(ctx, key); err == nil {
		return obj, Source{Outcome: Hit}, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, Source{Outcome: Hit}, err
	}
	s, led := m.zipFill(ctx, key, path, version, prefetch)
	obj, from, err := s.follow(ctx)
	o := Miss
	if s.prefetched.Load() {
		o = Prefetched
	}
	src := ledSource(o, from, led)
	if err != nil {
		return nil, src, err
	}
	if obj == nil { // stored
		obj, err = m.opts.Storage.Get(ctx, key)
	}
	return obj, src, err
}
