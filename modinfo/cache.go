package modinfo

import (
	"fmt"
	"sync/atomic"

	lru "github.com/hashicorp/golang-lru/v2"
)

// weightedLRU is an LRU cache bounded both in entries and in bytes (as
// weigh estimates a value's): the least recently used entries leave
// until both bounds hold.
type weightedLRU[K comparable, V any] struct {
	c     *lru.Cache[K, V]
	bytes atomic.Int64 // weight of the entries held
	max   int64
	weigh func(V) int64
}

func newWeightedLRU[K comparable, V any](entries int, maxBytes int64, weigh func(V) int64) *weightedLRU[K, V] {
	w := &weightedLRU[K, V]{max: maxBytes, weigh: weigh}
	c, err := lru.NewWithEvict(entries, func(_ K, v V) { w.bytes.Add(-weigh(v)) })
	if err != nil {
		panic(fmt.Sprintf("modinfo: %v", err)) // only for entries <= 0
	}
	w.c = c
	return w
}

// Get returns k's value, if held, and marks it recently used.
func (w *weightedLRU[K, V]) Get(k K) (V, bool) { return w.c.Get(k) }

// Add holds v as k's value unless k is held already, then evicts the
// least recently used entries over the bytes bound (v itself if it alone
// is over it).
func (w *weightedLRU[K, V]) Add(k K, v V) {
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
func (w *weightedLRU[K, V]) Len() int { return w.c.Len() }

// zipWeight estimates the bytes zd holds.
func zipWeight(zd *zipDetails) int64 {
	n := int64(256 + len(zd.err))
	if zd.readme != nil {
		n += int64(len(zd.readme.Name) + len(zd.readme.Text))
	}
	for _, l := range zd.licenses {
		n += int64(64 + len(l.File))
		for _, id := range l.IDs {
			n += int64(16 + len(id))
		}
	}
	return n
}

// marksWeight estimates the bytes mk holds.
func marksWeight(mk *Marks) int64 {
	n := int64(256 + len(mk.Path) + len(mk.Latest) + len(mk.Deprecated) + len(mk.Error))
	for _, r := range mk.Retractions {
		n += int64(64 + len(r.Low) + len(r.High) + len(r.Rationale))
	}
	return n
}
