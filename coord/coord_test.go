package coord_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gomirror/gomirror/coord"
	"github.com/gomirror/gomirror/internal/redistest"
)

func newRedis(t *testing.T, url string, ttl time.Duration) *coord.Redis {
	t.Helper()
	r, err := coord.New(url, coord.Options{LockTTL: ttl})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func TestLockIsExclusiveAndFenced(t *testing.T) {
	srv := redistest.Start(t)
	a, b := newRedis(t, srv.URL, 5*time.Second), newRedis(t, srv.URL, 5*time.Second)
	ctx := context.Background()
	la, err := a.TryLock(ctx, "m/@v/v1.0.0.zip")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.TryLock(ctx, "m/@v/v1.0.0.zip"); !errors.Is(err, coord.ErrHeld) {
		t.Fatalf("second TryLock: %v, want ErrHeld", err)
	}
	if held, err := b.Held(ctx, "m/@v/v1.0.0.zip"); err != nil || !held {
		t.Errorf("Held = %v, %v", held, err)
	}
	if !la.Valid(ctx) {
		t.Error("the holder's lease is not valid")
	}
	la.Unlock()
	lb, err := b.TryLock(ctx, "m/@v/v1.0.0.zip")
	if err != nil {
		t.Fatalf("TryLock after Unlock: %v", err)
	}
	defer lb.Unlock()
	if lb.Fence <= la.Fence {
		t.Errorf("fence did not increase: %d then %d", la.Fence, lb.Fence)
	}
	if la.Valid(ctx) {
		t.Error("a released lease still claims the lock")
	}
}

// TestDeadHolderIsTakenOver: a holder that stops renewing (a replica that
// died) loses its lock within the TTL; a renewed lock outlives it.
func TestDeadHolderIsTakenOver(t *testing.T) {
	srv := redistest.Start(t)
	const ttl = 600 * time.Millisecond
	live, other := newRedis(t, srv.URL, ttl), newRedis(t, srv.URL, ttl)
	ctx := context.Background()

	renewed, err := live.TryLock(ctx, "renewed")
	if err != nil {
		t.Fatal(err)
	}
	defer renewed.Unlock()
	dying, err := live.TryLock(ctx, "dying")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	dying.Abandon() // stops renewing, like a killed replica
	var took time.Duration
	for {
		l, err := other.TryLock(ctx, "dying")
		if err == nil {
			took = time.Since(start)
			l.Unlock()
			break
		}
		if !errors.Is(err, coord.ErrHeld) {
			t.Fatal(err)
		}
		if time.Since(start) > 10*ttl {
			t.Fatalf("the abandoned lock was not free after %v (TTL %v)", time.Since(start), ttl)
		}
	}
	t.Logf("abandoned lock taken over after %v (TTL %v)", took.Round(time.Millisecond), ttl)
	if took > ttl+300*time.Millisecond {
		t.Errorf("takeover after %v, want within the TTL %v", took, ttl)
	}
	// Meanwhile, the renewed lock (alive for more than its TTL) still holds.
	if _, err := other.TryLock(ctx, "renewed"); !errors.Is(err, coord.ErrHeld) {
		t.Errorf("a renewed lock was taken after %v: %v", time.Since(start), err)
	}
	if !renewed.Valid(ctx) {
		t.Error("the renewed lease is not valid")
	}
}

func TestSharedCache(t *testing.T) {
	srv := redistest.Start(t)
	a, b := newRedis(t, srv.URL, time.Second), newRedis(t, srv.URL, time.Second)
	ctx := context.Background()
	if _, ok, err := b.GetShared(ctx, "m/@v/list"); ok || err != nil {
		t.Fatalf("empty cache: ok %v err %v", ok, err)
	}
	if err := a.SetShared(ctx, "m/@v/list", []byte("v1.0.0\n"), time.Minute); err != nil {
		t.Fatal(err)
	}
	got, ok, err := b.GetShared(ctx, "m/@v/list")
	if err != nil || !ok || string(got) != "v1.0.0\n" {
		t.Errorf("GetShared from another replica: %q %v %v", got, ok, err)
	}
}

func TestRedisDownIsAnError(t *testing.T) {
	srv := redistest.Start(t)
	r := newRedis(t, srv.URL, time.Second)
	srv.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := r.TryLock(ctx, "k"); err == nil || errors.Is(err, coord.ErrHeld) {
		t.Errorf("TryLock with Redis down: %v, want a connection error", err)
	}
}

// TestValidChecksTheFence: a lease is valid only while its fencing token
// is the latest drawn for its key, even if the lock still holds its token
// (as after a Redis failover or restore that kept an old lock but not the
// counter's history).
func TestValidChecksTheFence(t *testing.T) {
	srv := redistest.Start(t)
	r := newRedis(t, srv.URL, 5*time.Second)
	ctx := context.Background()
	l, err := r.TryLock(ctx, "m/@v/v1.0.0.zip")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Unlock()
	if !l.Valid(ctx) {
		t.Fatal("a fresh lease is not valid")
	}
	raw := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer raw.Close()
	// Another holder drew the next token (default prefix "gomirror:").
	if n, err := raw.Incr(ctx, "gomirror:fence:m/@v/v1.0.0.zip").Result(); err != nil || n != l.Fence+1 {
		t.Fatalf("INCR fence = %d, %v; want %d", n, err, l.Fence+1)
	}
	if l.Valid(ctx) {
		t.Errorf("lease with fence %d valid after fence %d was drawn", l.Fence, l.Fence+1)
	}
}
