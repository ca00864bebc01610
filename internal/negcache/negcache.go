// Package negcache remembers "not found" answers for a while, so that a
// question whose answer was "not found" is not asked again within the
// time-to-live: the one rule behind cache.Options.NegativeTTL (the
// upstream's "not found") and sumdb.VerifierOptions.NegativeTTL (the
// checksum database's).
package negcache

import (
	"errors"
	"io/fs"
	"time"

	"github.com/hashicorp/golang-lru/v2/expirable"
)

// DefaultTTL is how long an answer is remembered when New is given zero.
const DefaultTTL = time.Minute

// Size bounds a Cache: when it is full, its least recently used entries
// make room.
const Size = 100_000

// Cache remembers "not found" errors by key. A nil *Cache remembers
// nothing; a Cache is safe for concurrent use.
type Cache struct {
	lru *expirable.LRU[string, error]
}

// New returns a Cache that remembers an answer for ttl: zero means
// DefaultTTL, and a negative ttl disables remembering (New returns nil).
func New(ttl time.Duration) *Cache {
	switch {
	case ttl < 0:
		return nil
	case ttl == 0:
		ttl = DefaultTTL
	}
	return &Cache{lru: expirable.NewLRU[string, error](Size, nil, ttl)}
}

// Get returns the "not found" error remembered for key, or nil.
func (c *Cache) Get(key string) error {
	if c == nil {
		return nil
	}
	err, _ := c.lru.Get(key)
	return err
}

// Note remembers err for key if it means "not found" (errors.Is(err,
// fs.ErrNotExist)), and does nothing for any other error or nil.
func (c *Cache) Note(key string, err error) {
	if c != nil && errors.Is(err, fs.ErrNotExist) {
		c.lru.Add(key, err)
	}
}
