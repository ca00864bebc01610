package cache

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"time"

	"github.com/gomirror/gomirror/internal/smallcache"
	"github.com/gomirror/gomirror/layout"
	"github.com/gomirror/gomirror/storage"
	"github.com/gomirror/gomirror/upstream"
)

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

// fetch runs an upstream call for the artifact at key with timing and
// metrics, and returns which upstream answered (the call's Answer). A "not
// found" is remembered for NegativeTTL and returned again without asking
// the upstream.
func (m *Mirror) fetch(ctx context.Context, op, key string, call func(ctx context.Context) (upstream.Answer, error)) (upstream.Answer, error) {
	if err := m.negative.Get(key); err != nil {
		return upstream.Answer{}, err
	}
	a, err := m.fetchUpstream(ctx, op, call)
	m.negative.Note(key, err)
	return a, err
}

// fetchBytes is fetch for an upstream call that answers with bytes.
func (m *Mirror) fetchBytes(ctx context.Context, op, key string, call func(ctx context.Context) ([]byte, upstream.Answer, error)) ([]byte, upstream.Answer, error) {
	var b []byte
	a, err := m.fetch(ctx, op, key, func(ctx context.Context) (a upstream.Answer, err error) {
		b, a, err = call(ctx)
		return a, err
	})
	return b, a, err
}

func (m *Mirror) fetchUpstream(ctx context.Context, op string, call func(ctx context.Context) (upstream.Answer, error)) (upstream.Answer, error) {
	start := time.Now()
	a, err := call(ctx)
	if m.opts.OnFetch != nil {
		name := a.Upstream
		if name == "" {
			name = m.opts.Upstream.String()
		}
		ferr := err
		if errors.Is(err, errAbandoned) {
			ferr = nil // the upstream answered; we gave up
		}
		m.opts.OnFetch(op, name, time.Since(start), ferr)
	}
	return a, err
}

// filled is what a fill yields to every caller that shares it.
type filled struct {
	b    []byte          // the artifact, for small ones; nil for zips
	h1   string          // a fetched .mod's h1: hash, recorded next to it (putSmall)
	from upstream.Answer // the upstream that answered; zero if none was asked
}

// fill runs f once for key however many callers ask at the same time, and
// returns its result to each of them, and whether this call was the one
// that ran f (led). f runs with a context that is not cancelled when the
// callers go away, bounded by FetchTimeout, so that a fill is never
// abandoned half-way.
//
// Every caller counts in m.fills from before it starts or joins the fill
// until the fill's result is out, which is after f has returned: so Wait,
// once the callers have returned, waits for the fill, even if they left
// early and before the fill's goroutine ran.
func (m *Mirror) fill(ctx context.Context, key string, f func(ctx context.Context) (filled, error)) (r filled, led bool, err error) {
	m.fills.Add(1)
	ran := false // written by the leader's f before its result is sent
	ch := m.flight.DoChan(key, func() (any, error) {
		ran = true
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), m.opts.FetchTimeout)
		defer cancel()
		return f(fctx)
	})
	select {
	case res := <-ch:
		m.fills.Done()
		r, _ = res.Val.(filled)
		return r, ran, res.Err
	case <-ctx.Done():
		go func() { <-ch; m.fills.Done() }()
		return filled{}, false, ctx.Err()
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

// immutable serves a small immutable artifact (.info, .mod) from storage,
// filling it from fetch on a miss. A filled artifact is answered from memory
// while it is written to storage in the background.
//
// Memory does not grow with the number of readers: a hit is the slice kept
// in the memory cache (Options.SmallCache), read once from storage, or,
// for an artifact the cache does not keep, the stored object, streamed (on
// local disk the *os.File, sent with sendfile); the answer of a fill, and
// a pending write, is one slice. Every reader reads a slice through its
// own bytes.Reader, never a copy per request. The caller closes the
// object's Body.
//
// fetch returns the artifact (with its hash, for a .mod) and the upstream
// that answered, also with an error; the Source names that upstream for
// the call that led the fill only.
func (m *Mirror) immutable(ctx context.Context, key string, fetch func(ctx context.Context) (filled, error)) (*storage.Object, Source, error) {
	if obj, ok := m.small.Get(key); ok {
		return obj, Source{Outcome: Hit}, nil
	}
	if obj, err := m.behind.Get(ctx, key); err == nil {
		obj, err = m.keepSmall(key, obj)
		return obj, Source{Outcome: Hit}, err
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, Source{Outcome: Hit}, err
	}
	r, led, err := m.fill(ctx, key, func(ctx context.Context) (filled, error) {
		if b, err := m.readSmall(ctx, key); err == nil {
			return filled{b: b}, nil // filled by a fill that finished just before ours began
		}
		if m.opts.Coordinator == nil {
			r, err := fetch(ctx)
			if err != nil {
				return r, err
			}
			// The client need not wait for the disk; until the write
			// lands, readSmall answers from memory, so nothing is fetched
			// twice. If it fails, the next request fetches it again.
			m.behind.PutFunc(key, r.b, func(ctx context.Context) error { return m.putSmall(ctx, key, r) })
			return r, nil
		}
		// Other replicas wait for the artifact in storage, so it is
		// written before the fill lock is released.
		var r filled
		stored := func(ctx context.Context) bool {
			var err error
			r.b, err = m.readSmall(ctx, key)
			return err == nil
		}
		err := m.coordinated(ctx, key, stored, func(ctx context.Context, lease Lease) error {
			var err error
			if r, err = fetch(ctx); err != nil {
				return err
			}
			if lostLease(ctx, lease) {
				return nil // the new holder writes it; r.b is still a verified answer
			}
			return m.putSmall(ctx, key, r)
		})
		return r, err
	})
	src := ledSource(Miss, r.from, led)
	if err != nil {
		return nil, src, err
	}
	return storage.BytesObject(r.b), src, nil
}

// keepSmall adds obj, the artifact just read from storage at key, to the
// memory cache (Options.SmallCache) if it fits there, and returns an object
// that reads it: the cached bytes, or obj itself if it is not kept. A
// pending write (no modification time yet) is not kept: the next request
// after it lands reads it from storage, so that the cached copy has the
// stored copy's Last-Modified. If obj cannot be read whole, the error is
// returned and obj is closed.
func (m *Mirror) keepSmall(key string, obj *storage.Object) (*storage.Object, error) {
	if m.small == nil || obj.ModTime.IsZero() || obj.Size < 0 || obj.Size > smallcache.MaxEntry {
		return obj, nil
	}
	defer obj.Body.Close()
	b := make([]byte, obj.Size)
	if _, err := io.ReadFull(obj.Body, b); err != nil {
		return nil, fmt.Errorf("reading %s: %w", key, err)
	}
	m.small.Add(key, b, obj.ModTime)
	kept := storage.BytesObject(b)
	kept.ModTime = obj.ModTime
	return kept, nil
}

// putSmall stores the small artifact r.b at key. Before it stores a .mod,
// it stores that file's hash, r.h1, computed once by the fill (see
// putHash), so that a stored .mod always has its recorded hash. If the hash
// cannot be stored, neither is the .mod (the next request fetches it
// again); a crash between the two leaves a hash without a .mod, which is
// harmless.
func (m *Mirror) putSmall(ctx context.Context, key string, r filled) error {
	if _, ok := layout.HashKey(key); ok { // not .info
		if err := m.putHash(ctx, key, r.h1); err != nil {
			return err
		}
	}
	if err := storage.PutBytes(ctx, m.opts.Storage, key, r.b); err != nil {
		return err
	}
	m.stored(key, int64(len(r.b)))
	return nil
}

// stored tells Options.OnStore that an artifact of size bytes is stored at
// key.
func (m *Mirror) stored(key string, size int64) {
	if m.opts.OnStore != nil {
		m.opts.OnStore(key, size)
	}
}

// putHash stores h1, the h1: hash of the .mod or .zip at key, at
// layout.HashKey(key).
func (m *Mirror) putHash(ctx context.Context, key, h1 string) error {
	hashKey, ok := layout.HashKey(key)
	if !ok || h1 == "" {
		return fmt.Errorf("storing the hash of %s: no hash to record", key)
	}
	return storage.PutBytes(ctx, m.opts.Storage, hashKey, []byte(h1+"\n"))
}

// readSmall reads a small artifact, including one still being written.
func (m *Mirror) readSmall(ctx context.Context, key string) ([]byte, error) {
	return m.behind.Read(ctx, key)
}
