package sumdb

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"
)

// TestReadAheadBoundsWhatWaits checks that tiles nobody claims are dropped
// after readAheadTTL and that no more than readAheadMax wait at once.
func TestReadAheadBoundsWhatWaits(t *testing.T) {
	var fetched atomic.Int64
	ra := newReadAhead(func(string) ([]byte, error) {
		fetched.Add(1)
		return []byte("tile"), nil
	})
	now := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)
	ra.now = func() time.Time { return now }
	notCached := func(tlog.Tile) bool { return false }
	tiles := func(from, n int) []tlog.Tile {
		var ts []tlog.Tile
		for i := range n {
			ts = append(ts, tlog.Tile{H: tileHeight, L: 0, N: int64(from + i), W: 1 << tileHeight})
		}
		return ts
	}
	pending := func() int {
		ra.mu.Lock()
		defer ra.mu.Unlock()
		return len(ra.pending)
	}

	ra.start(tiles(0, readAheadMax+100), notCached)
	if n := pending(); n != readAheadMax {
		t.Fatalf("%d tiles wait after asking for %d, want at most %d", n, readAheadMax+100, readAheadMax)
	}
	ra.start(tiles(0, 3), notCached) // already waiting: not fetched again
	if n := pending(); n != readAheadMax {
		t.Fatalf("%d tiles wait, want still %d", n, readAheadMax)
	}

	now = now.Add(readAheadTTL + time.Second)
	ra.start(tiles(5000, 2), notCached)
	if n := pending(); n != 2 {
		t.Fatalf("%d tiles wait after the others expired, want the 2 new ones", n)
	}
	if b, ok := ra.take(context.Background(), tiles(5000, 1)[0].Path()); !ok || string(b) != "tile" {
		t.Fatalf("take of a tile read ahead = %q, %v; want its bytes", b, ok)
	}
	if _, ok := ra.take(context.Background(), tiles(0, 1)[0].Path()); ok {
		t.Fatal("take of an expired tile succeeded; it should have been dropped")
	}
	if got, want := fetched.Load(), int64(readAheadMax+2); got > want {
		t.Fatalf("%d fetches for %d distinct tiles started", got, want)
	}
}

// TestReadAheadSkipsCachedTiles checks that a tile the cache holds is not
// fetched, and that taking it reports nothing read ahead (the client then
// reads the cache, as it would anyway).
func TestReadAheadSkipsCachedTiles(t *testing.T) {
	var fetched atomic.Int64
	ra := newReadAhead(func(string) ([]byte, error) {
		fetched.Add(1)
		return []byte("tile"), nil
	})
	tile := tlog.Tile{H: tileHeight, L: 1, N: 7, W: 1 << tileHeight}
	ra.start([]tlog.Tile{tile}, func(tlog.Tile) bool { return true })
	if _, ok := ra.take(context.Background(), tile.Path()); ok {
		t.Fatal("take of a cached tile reported it read ahead")
	}
	if n := fetched.Load(); n != 0 {
		t.Fatalf("%d fetches of a cached tile", n)
	}
}
