// Package expiring is a bounded map whose entries live for a fixed time.
package expiring

import (
	"sync"
	"time"
)

// Map is a bounded map whose entries live for a fixed time. cache.Mirror
// uses one to remember the upstream's "not found" answers, so that the go
// command's probing of path prefixes does not reach the upstream again and
// again, and one to remember which list and @latest answers are recent
// enough to serve without asking; sumdb.Verifier one to remember the
// checksum database's "not found".
//
// A nil *Map is a disabled one: it keeps nothing. It is safe for concurrent
// use.
type Map[V any] struct {
	ttl time.Duration
	max int
	now func() time.Time

	mu      sync.Mutex
	entries map[string]entry[V]
}

type entry[V any] struct {
	v       V
	expires time.Time
}

// New returns a Map whose entries live for ttl, of at most max entries:
// when it is full of live entries it starts over rather than grow.
func New[V any](ttl time.Duration, max int) *Map[V] {
	return &Map[V]{ttl: ttl, max: max, now: time.Now, entries: map[string]entry[V]{}}
}

// Get returns the live value for key.
func (c *Map[V]) Get(key string) (v V, ok bool) {
	if c == nil {
		return v, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if !ok {
		return v, false
	}
	if c.now().After(e.expires) {
		delete(c.entries, key)
		return v, false
	}
	return e.v, true
}

// Put keeps v for key for the map's TTL.
func (c *Map[V]) Put(key string, v V) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if len(c.entries) >= c.max {
		for k, e := range c.entries {
			if now.After(e.expires) {
				delete(c.entries, k)
			}
		}
		if len(c.entries) >= c.max {
			clear(c.entries) // all live: start over rather than grow
		}
	}
	c.entries[key] = entry[V]{v: v, expires: now.Add(c.ttl)}
}
