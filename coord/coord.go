// Package coord coordinates gomirror replicas that share one storage,
// through Redis:
//
//   - a cross-replica single-flight lock around each upstream fill, so that
//     no replica fetches what another is already fetching. A lock expires
//     unless its holder renews it, so a dead replica's lock is taken over
//     within its TTL; every lock carries a fencing token (Lease.Fence), and
//     a holder checks, before its final write, that it still holds the lock
//     and that no later holder drew a larger token (Lease.Valid), so a
//     writer that lost its lock does not write over the newer holder's
//     result;
//   - a shared short-lived cache for mutable answers (list, @latest, the
//     checksum database's tree head), so that replicas do not each ask the
//     upstream within a few seconds of each other.
//
// Without Redis a replica works alone, exactly as before: callers treat a
// nil *Redis as "no coordination", and every Redis error as a reason to go
// on alone rather than to fail a request.
package coord

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Options configures a Redis coordinator.
type Options struct {
	// LockTTL is how long a lock lives without renewal; its holder renews it
	// every LockTTL/3. A dead replica's lock is free after at most this
	// long. Default 10s.
	LockTTL time.Duration
	// Prefix namespaces the keys (default "gomirror:").
	Prefix string
	Logger *slog.Logger
	// Password, if not empty, is the password to authenticate with,
	// instead of one in the URL (so that it need not be on a command line).
	Password string
}

// Redis is a coordinator over one Redis server.
type Redis struct {
	c      *redis.Client
	opts   Options
	holder string // this replica's random identity
}

// New returns a coordinator for the Redis at url
// (redis://[user:password@]host:port/db, or rediss:// for TLS). It does not
// connect yet; see Ping.
func New(url string, opts Options) (*Redis, error) {
	o, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("redis URL: %w", err)
	}
	if opts.Password != "" {
		o.Password = opts.Password
	}
	if opts.LockTTL <= 0 {
		opts.LockTTL = 10 * time.Second
	}
	if opts.Prefix == "" {
		opts.Prefix = "gomirror:"
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	// Coordination saves work but must never cost much: a Redis that is
	// down or slow fails fast, and the replica goes on alone.
	o.MaxRetries = 1
	o.DialTimeout = time.Second
	o.ReadTimeout = time.Second
	o.WriteTimeout = time.Second
	id := make([]byte, 8)
	rand.Read(id)
	return &Redis{c: redis.NewClient(o), opts: opts, holder: hex.EncodeToString(id)}, nil
}

// Ping checks that Redis answers. A Redis that does not answer yet is no
// reason not to start: until it does, every call fails and its callers go
// on alone; the client reconnects by itself.
func (r *Redis) Ping(ctx context.Context) error {
	if err := r.c.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redis %s: %w", r.c.Options().Addr, err)
	}
	return nil
}

// Close closes the connection pool.
func (r *Redis) Close() error { return r.c.Close() }

func (r *Redis) lockKey(key string) string  { return r.opts.Prefix + "lock:" + key }
func (r *Redis) fenceKey(key string) string { return r.opts.Prefix + "fence:" + key }
func (r *Redis) cacheKey(key string) string { return r.opts.Prefix + "cache:" + key }

// A Lease is a held lock. It is renewed in the background until Unlock.
type Lease struct {
	r     *Redis
	key   string
	token string // holder:nonce, what the lock key holds
	// Fence increases with every lock taken on the key, across replicas.
	Fence int64

	stop     chan struct{}
	done     chan struct{}
	mu       sync.Mutex
	lost     bool
	unlocked bool
}

// ErrHeld means another replica holds the lock.
var ErrHeld = errors.New("lock held by another replica")

// TryLock takes the lock for key if it is free; otherwise it returns
// ErrHeld. Other errors mean Redis could not be asked.
func (r *Redis) TryLock(ctx context.Context, key string) (*Lease, error) {
	nonce := make([]byte, 8)
	rand.Read(nonce)
	token := r.holder + ":" + hex.EncodeToString(nonce)
	ok, err := r.c.SetNX(ctx, r.lockKey(key), token, r.opts.LockTTL).Result()
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, ErrHeld
	}
	// The fence is drawn after the lock is taken, so each holder's is
	// larger than every earlier holder's; waiters polling a held lock draw
	// none. The counter lives fenceTTL past its last use.
	pipe := r.c.TxPipeline()
	incr := pipe.Incr(ctx, r.fenceKey(key))
	pipe.Expire(ctx, r.fenceKey(key), fenceTTL)
	if _, err := pipe.Exec(ctx); err != nil {
		unlockScript.Run(context.WithoutCancel(ctx), r.c, []string{r.lockKey(key)}, token)
		return nil, err
	}
	fence := incr.Val()
	l := &Lease{r: r, key: key, token: token, Fence: fence, stop: make(chan struct{}), done: make(chan struct{})}
	go l.renew()
	return l, nil
}

// fenceTTL is how long a key's fence counter lives past its last use (a
// lock taken or renewed).
const fenceTTL = 24 * time.Hour

// renewScript extends the lock (KEYS[1]) only if this lease still holds it,
// and keeps the key's fence counter (KEYS[2]) alive with it.
var renewScript = redis.NewScript(`
if redis.call("GET", KEYS[1]) == ARGV[1] then
	redis.call("PEXPIRE", KEYS[2], ARGV[3])
	return redis.call("PEXPIRE", KEYS[1], ARGV[2])
end
return 0`)

// validScript reports 1 if this lease still holds the lock (KEYS[1] holds
// its token ARGV[1]) and its fencing token is still the latest drawn for
// the key (KEYS[2] holds ARGV[2]).
var validScript = redis.NewScript(`
if redis.call("GET", KEYS[1]) == ARGV[1] and redis.call("GET", KEYS[2]) == ARGV[2] then
	return 1
end
return 0`)

// unlockScript deletes the lock only if this lease still holds it.
var unlockScript = redis.NewScript(`
if redis.call("GET", KEYS[1]) == ARGV[1] then
	return redis.call("DEL", KEYS[1])
end
return 0`)

func (l *Lease) renew() {
	defer close(l.done)
	t := time.NewTicker(l.r.opts.LockTTL / 3)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), l.r.opts.LockTTL/3)
		n, err := renewScript.Run(ctx, l.r.c, []string{l.r.lockKey(l.key), l.r.fenceKey(l.key)}, l.token, l.r.opts.LockTTL.Milliseconds(), fenceTTL.Milliseconds()).Int()
		cancel()
		if err == nil && n == 0 {
			l.mu.Lock()
			l.lost = true
			l.mu.Unlock()
			l.r.opts.Logger.Warn("fill lock lost (expired or taken over)", "key", l.key, "fence", l.Fence)
			return
		}
	}
}

// Abandon stops renewing the lock without releasing it, as a replica that
// dies does: the lock stays until its TTL runs out. For tests and for
// holders that must not release a lock they can no longer vouch for.
func (l *Lease) Abandon() { l.stopRenewal() }

// stopRenewal stops the renewal and waits for it to end; it reports false
// if an earlier Abandon or Unlock already did.
func (l *Lease) stopRenewal() bool {
	l.mu.Lock()
	if l.unlocked {
		l.mu.Unlock()
		return false
	}
	l.unlocked = true
	l.mu.Unlock()
	close(l.stop)
	<-l.done
	return true
}

// Valid reports whether the lease still holds its lock and its fencing
// token (Fence) is the latest drawn for the key, both checked in one atomic
// step: a holder checks it before its final write, so that it does not
// write after another replica took the lock over (fencing). It reports
// false once the renewal found the lock lost, and whenever Redis cannot be
// asked.
func (l *Lease) Valid(ctx context.Context) bool {
	l.mu.Lock()
	lost := l.lost
	l.mu.Unlock()
	if lost {
		return false
	}
	n, err := validScript.Run(ctx, l.r.c, []string{l.r.lockKey(l.key), l.r.fenceKey(l.key)}, l.token, strconv.FormatInt(l.Fence, 10)).Int()
	return err == nil && n == 1
}

// Unlock stops the renewal and releases the lock if it is still held.
func (l *Lease) Unlock() {
	if !l.stopRenewal() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), l.r.opts.LockTTL/3)
	defer cancel()
	unlockScript.Run(ctx, l.r.c, []string{l.r.lockKey(l.key)}, l.token)
}

// Held reports whether some replica holds the lock for key.
func (r *Redis) Held(ctx context.Context, key string) (bool, error) {
	n, err := r.c.Exists(ctx, r.lockKey(key)).Result()
	return n > 0, err
}

// GetShared returns the shared cached value of key, or ok false.
func (r *Redis) GetShared(ctx context.Context, key string) (b []byte, ok bool, err error) {
	b, err = r.c.Get(ctx, r.cacheKey(key)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, false, nil
	}
	return b, err == nil, err
}

// SetShared caches b for key for ttl.
func (r *Redis) SetShared(ctx context.Context, key string, b []byte, ttl time.Duration) error {
	return r.c.Set(ctx, r.cacheKey(key), b, ttl).Err()
}
