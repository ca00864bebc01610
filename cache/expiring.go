package cache

import (
	"sync"
	"time"
)

// expiring is a bounded map whose entries live for a fixed time. The Mirror
// uses one to remember the upstream's "not found" answers, so that the go
// command's probing of path prefixes does not reach the upstream again and
// again, and one to remember which list and @latest answers are recent
// enough to serve without asking.
//
// A nil *expiring is a disabled one: it keeps nothing.
type expiring[V any] struct {
	ttl time.Duration
	max int
	now func() time.Time

	mu      sync.Mutex
	entries map[string]expiringEntry[V]
}

type expiringEntry[V any] struct {
	v       V
	expires time.Time
}

func newExpiring[V any](ttl time.Duration, max int) *expiring[V] {
	return &expiring[V]{ttl: ttl, max: max, now: time.Now, entries: map[string]expiringEntry[V]{}}
}

// get returns the live value for key.
func (c *expiring[V]) get(key string) (v V, ok bool) {
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

// put keeps v for key for the cache's TTL.
func (c *expiring[V]) put(key string, v V) {
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
	c.entries[key] = expiringEntry[V]{v: v, expires: now.Add(c.ttl)}
}
