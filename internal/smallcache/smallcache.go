// Package smallcache keeps small immutable artifacts (the .info and .mod
// files of canonical versions) in memory, bounded by their total size, so
// that a hit costs no storage access.
package smallcache

import (
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"

	"github.com/gomirror/gomirror/storage"
)

// MaxEntry is the largest artifact kept, in bytes. Larger ones are
// streamed from storage on every request, as before: they are rare, and
// one of them would push out hundreds of small ones.
const MaxEntry = 64 << 10

// entryOverhead is what an entry costs beyond its key and bytes (the list
// element, the map slot, the value's header: about 150 bytes, rounded up),
// counted against the bound.
const entryOverhead = 256

// Cache is a least-recently-used set of artifacts whose keys, bytes and
// per-entry overhead together stay within a byte bound. It is safe for
// concurrent use.
//
// Memory does not grow with readers: every reader of an entry reads the one
// slice it holds through its own bytes.Reader (storage.BytesObject), never a
// copy, and an evicted entry's slice lives on only while a reader still has
// it.
type Cache struct {
	max int64

	mu   sync.Mutex
	lru  *simplelru.LRU[string, entry]
	used int64 // bytes counted for the entries in lru
}

type entry struct {
	b   []byte
	mod time.Time
}

// cost is what e counts against the bound: its key, the capacity of its
// slice (what was allocated, not only what is used) and entryOverhead. The
// allocator's rounding up to its size classes is not counted, so the bound
// is approximate: real memory can exceed it by a few percent.
func cost(key string, e entry) int64 { return int64(len(key)+cap(e.b)) + entryOverhead }

// New returns a Cache of at most maxBytes, or nil (a valid, empty cache
// that keeps nothing) if maxBytes is not positive.
func New(maxBytes int64) *Cache {
	if maxBytes <= 0 {
		return nil
	}
	c := &Cache{max: maxBytes}
	// The bound is on bytes: the count bound is one no byte bound reaches.
	c.lru, _ = simplelru.NewLRU(int(maxBytes/entryOverhead)+1, func(key string, e entry) { c.used -= cost(key, e) })
	return c
}

// Get returns the artifact at key as a new object over the kept slice
// (size and modification time as stored), or false.
func (c *Cache) Get(key string) (*storage.Object, bool) {
	if c == nil {
		return nil, false
	}
	c.mu.Lock()
	e, ok := c.lru.Get(key)
	c.mu.Unlock()
	if !ok {
		return nil, false
	}
	obj := storage.BytesObject(e.b)
	obj.ModTime = e.mod
	return obj, true
}

// Add keeps b, the whole artifact stored at key, modified at mod, unless
// it is larger than MaxEntry or than the bound allows; then it evicts the
// least recently used entries until the bound holds. b must not be
// modified afterwards.
func (c *Cache) Add(key string, b []byte, mod time.Time) {
	e := entry{b: b, mod: mod}
	if c == nil || len(b) > MaxEntry || cost(key, e) > c.max {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.lru.Contains(key) {
		return
	}
	c.lru.Add(key, e)
	c.used += cost(key, e)
	for c.used > c.max {
		c.lru.RemoveOldest()
	}
}

// Len returns the number of entries and the bytes counted for them.
func (c *Cache) Len() (entries int, bytes int64) {
	if c == nil {
		return 0, 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len(), c.used
}
