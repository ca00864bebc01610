package cache

import (
	"sync"
	"time"
)

// negativeCache remembers, for a short time, the keys the upstream said do
// not exist, with the error it gave, so that the go command's probing of
// path prefixes does not reach the upstream again and again.
type negativeCache struct {
	ttl time.Duration
	max int
	now func() time.Time

	mu      sync.Mutex
	entries map[string]negativeEntry
}

type negativeEntry struct {
	err     error
	expires time.Time
}

func newNegativeCache(ttl time.Duration, max int) *negativeCache {
	return &negativeCache{ttl: ttl, max: max, now: time.Now, entries: map[string]negativeEntry{}}
}

// get returns the remembered error for key, or nil.
func (c *negativeCache) get(key string) error {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if !ok {
		return nil
	}
	if c.now().After(e.expires) {
		delete(c.entries, key)
		return nil
	}
	return e.err
}

// put remembers err for key.
func (c *negativeCache) put(key string, err error) {
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
			clear(c.entries) // all fresh: start over rather than grow
		}
	}
	c.entries[key] = negativeEntry{err: err, expires: now.Add(c.ttl)}
}
