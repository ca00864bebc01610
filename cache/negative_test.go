package cache

import (
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"testing"
	"time"

	fsstore "github.com/gomirror/gomirror/storage/fs"
	"github.com/gomirror/gomirror/upstream"
)

// notFoundCounter is an upstream call that always says "not found", and
// counts the calls by key.
type notFoundCounter map[string]int

func (c notFoundCounter) call(key string) func(context.Context) (upstream.Answer, error) {
	return func(context.Context) (upstream.Answer, error) {
		c[key]++
		return upstream.Answer{}, fmt.Errorf("%s: %w", key, fs.ErrNotExist)
	}
}

func newNegativeMirror(t *testing.T, ttl time.Duration) *Mirror {
	t.Helper()
	fsys, err := fsstore.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return New(Options{Storage: fsys, NegativeTTL: ttl, Logger: slog.New(slog.DiscardHandler)})
}

// TestNegativeCacheExpires: a "not found" is answered again without the
// upstream for NegativeTTL, and asked again after it.
func TestNegativeCacheExpires(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name      string
		ttl       time.Duration
		wantCalls int // for two fetches in a row
	}{
		{"remembered", time.Minute, 1},
		{"disabled", -1, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, calls := newNegativeMirror(t, tt.ttl), notFoundCounter{}
			for range 2 {
				if _, err := m.fetch(ctx, "mod", "a", calls.call("a")); err == nil {
					t.Fatal("fetch succeeded")
				}
			}
			if calls["a"] != tt.wantCalls {
				t.Errorf("upstream asked %d times, want %d", calls["a"], tt.wantCalls)
			}
		})
	}

	m, calls := newNegativeMirror(t, 50*time.Millisecond), notFoundCounter{}
	m.fetch(ctx, "mod", "a", calls.call("a"))
	time.Sleep(100 * time.Millisecond)
	m.fetch(ctx, "mod", "a", calls.call("a"))
	if calls["a"] != 2 {
		t.Errorf("after NegativeTTL, upstream asked %d times, want 2", calls["a"])
	}
}

// TestFullNegativeCacheEvictsTheOldest: one "not found" more than the
// cache holds pushes out the oldest entry, not all of them (which would
// send a burst of requests back to the upstream).
func TestFullNegativeCacheEvictsTheOldest(t *testing.T) {
	ctx := context.Background()
	m, calls := newNegativeMirror(t, time.Hour), notFoundCounter{}
	key := func(i int) string { return fmt.Sprint("k", i) }
	for i := range rememberedKeys + 1 {
		m.fetch(ctx, "mod", key(i), calls.call(key(i)))
	}
	for _, i := range []int{rememberedKeys, rememberedKeys / 2, 1, 0} {
		m.fetch(ctx, "mod", key(i), calls.call(key(i)))
	}
	for _, i := range []int{rememberedKeys, rememberedKeys / 2, 1} {
		if calls[key(i)] != 1 {
			t.Errorf("%s: upstream asked %d times, want 1 (still remembered)", key(i), calls[key(i)])
		}
	}
	if calls[key(0)] != 2 {
		t.Errorf("oldest entry: upstream asked %d times, want 2 (evicted)", calls[key(0)])
	}
}
