// Package weightlru is an LRU cache bounded both in entries and in bytes,
// over hashicorp/golang-lru: for caches of values whose sizes differ
// widely (READMEs, requirement graphs), where a bound in entries alone
// does not bound memory.
package weightlru

import (
	"fmt"
	"sync/atomic"

	lru "github.com/hashicorp/golang-lru/v2"
)

// Cache is an LRU cache bounded both in entries and in bytes (as
// weigh estimates a value's): the least recently used entries leave
// until both bounds hold. It is safe for concurrent use.
type Cache[K comparable, V any] struct {
	c     *lru.Cache[K, V]
	bytes atomic.Int64 // weight of the entries held
	max   int64
	weigh func(V) int64
}

// New returns a cache of at most entries values (entries > 0) weighing at
// most maxBytes in all, as weigh estimates each.
func New[K comparable, V any](entries int, maxBytes int64, weigh func(V) int64) *Cache[K, V] {
	w := &Cache[K, V]{max: maxBytes, weigh: weigh}
	c, err := lru.NewWithEvict(entries, func(_ K, v V) { w.bytes.Add(-weigh(v)) })
	if err != nil {
		panic(fmt.Sprintf("weightlru: %v", err)) // only for entries <= 0
	}
	w.c = c
	return w
}

// Get returns k's value, if held, and marks it recently used.
func (w *Cache[K, V]) Get(k K) (V, bool) { return w.c.Get(k) }

// Add holds v as k's value unless k is held already, then evicts the
// least recently used entries over the bytes bound (v itself if it alone
// is over it).
func (w *Cache[K, V]) Add(k K, v V) {
	if held, _ := w.c.ContainsOrAdd(k, v); held {
		return
	}
	w.bytes.Add(w.weigh(v))
	for w.bytes.Load() > w.max {
		if _, _, ok := w.c.RemoveOldest(); !ok {
			break
		}
	}
}

// Len is the number of entries held.
func (w *Cache[K, V]) Len() int { return w.c.Len() }

// Bytes is the weight of the entries held.
func (w *Cache[K, V]) Bytes() int64 { return w.bytes.Load() }

// Remove drops k's value, if held.
func (w *Cache[K, V]) Remove(k K) { w.c.Remove(k) }
