// Package flight shares one computation among the concurrent callers that
// ask for the same key, as golang.org/x/sync/singleflight does, but keeps
// each caller's context: a caller whose context ends leaves at once with
// its context's error, and the computation goes on for the others; it is
// cancelled only when the last caller waiting for it has left.
package flight

import (
	"context"
	"sync"
)

// Group runs computations by key. Its zero value is ready to use; it is
// safe for concurrent use.
type Group[K comparable, V any] struct {
	mu    sync.Mutex
	calls map[K]*call[V]
}

// call is one computation, shared by every caller waiting for it.
type call[V any] struct {
	done    chan struct{}
	v       V
	err     error
	waiters int
	cancel  context.CancelFunc
}

// Do returns what f returns for k, running f in a goroutine of its own
// unless a computation of k is under way, which it then waits for. f's
// context carries the values of the context of the caller that started it
// but not its deadline or cancellation: it is cancelled when every caller
// waiting has left (its own context ended). A caller leaving returns its
// context's error. A computation that has ended is not remembered: the
// next call for k runs f again (f caches what should last).
func (g *Group[K, V]) Do(ctx context.Context, k K, f func(context.Context) (V, error)) (V, error) {
	g.mu.Lock()
	c, ok := g.calls[k]
	if !ok {
		if g.calls == nil {
			g.calls = map[K]*call[V]{}
		}
		fctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		c = &call[V]{done: make(chan struct{}), cancel: cancel}
		g.calls[k] = c
		go g.run(fctx, k, c, f)
	}
	c.waiters++
	g.mu.Unlock()
	select {
	case <-c.done:
		g.leave(k, c)
		return c.v, c.err
	case <-ctx.Done():
		g.leave(k, c)
		var zero V
		return zero, ctx.Err()
	}
}

// run computes c and forgets it: later callers start anew.
func (g *Group[K, V]) run(ctx context.Context, k K, c *call[V], f func(context.Context) (V, error)) {
	defer close(c.done)
	c.v, c.err = f(ctx)
	g.mu.Lock()
	if g.calls[k] == c {
		delete(g.calls, k)
	}
	g.mu.Unlock()
}

// leave removes a waiter from c, cancelling c when none is left.
func (g *Group[K, V]) leave(k K, c *call[V]) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if c.waiters--; c.waiters == 0 {
		c.cancel()
		if g.calls[k] == c {
			delete(g.calls, k)
		}
	}
}

// Waiting returns the number of callers waiting for the computations
// under way whose key match accepts: for tests.
func (g *Group[K, V]) Waiting(match func(K) bool) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	n := 0
	for k, c := range g.calls {
		if match(k) {
			n += c.waiters
		}
	}
	return n
}
