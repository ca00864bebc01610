package sumdb

import (
	"context"
	"errors"
	"sync"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// readAhead fetches the tiles a lookup's proofs need as soon as the lookup's
// answer arrives. When the answer's tree head differs from the verified
// one, sumdb.Client reads them in two rounds, one after the other: first
// the tiles proving the two heads consistent, then those proving the record
// is in the tree. Both sets follow from the answer and the verified tree
// head alone, so they can be fetched in one parallel round, saving a round
// trip. (When the heads agree there is one round either way, and it only
// starts a little earlier.)
//
// Prefetched tiles are handed to the client through ReadRemote, exactly as
// the database sent them: the client verifies them as it would any answer,
// and only the client writes tiles to the cache. Nothing here is trusted.
type readAhead struct {
	get func(path string) ([]byte, error) // a remote read ("tile/8/0/123")
	now func() time.Time

	mu      sync.Mutex
	pending map[string]*tileFetch // remote path -> fetch started ahead
}

// tileFetch is a tile read started ahead of the client's request.
type tileFetch struct {
	done    chan struct{} // closed when data and err are set
	data    []byte
	err     error
	started time.Time
}

// A prefetched tile waits readAheadTTL to be claimed: the client asks
// within moments or not at all (the prediction was off: another lookup
// moved the verified tree head in between). At most readAheadMax wait at
// once, which bounds the memory they hold (a tile is at most 8 KiB); beyond
// that, lookups go without read-ahead.
const (
	readAheadTTL = 10 * time.Second
	readAheadMax = 1024
)

func newReadAhead(get func(path string) ([]byte, error)) *readAhead {
	return &readAhead{get: get, now: time.Now, pending: map[string]*tileFetch{}}
}

// start begins fetching the tiles in the background, except those that
// cached reports held already (the client reads those from the cache and
// never asks for them here). It returns at once: the client is waiting for
// the lookup answer that prompted it.
func (ra *readAhead) start(tiles []tlog.Tile, cached func(tlog.Tile) bool) {
	now := ra.now()
	ra.mu.Lock()
	defer ra.mu.Unlock()
	for path, f := range ra.pending {
		if now.Sub(f.started) > readAheadTTL {
			delete(ra.pending, path)
		}
	}
	for _, t := range tiles {
		path := t.Path()
		if _, ok := ra.pending[path]; ok {
			continue
		}
		if len(ra.pending) >= readAheadMax {
			return
		}
		f := &tileFetch{done: make(chan struct{}), started: now}
		ra.pending[path] = f
		go func() {
			defer close(f.done)
			if cached(t) {
				f.err = errCached
				return
			}
			f.data, f.err = ra.get(path)
		}()
	}
}

var errCached = errors.New("tile cached; not read ahead")

// take returns the tile at remote path if a fetch of it was started ahead,
// waiting for it to finish; ok is false if there was none, or if it failed
// (the caller then reads the tile itself, so a failure is met first hand).
func (ra *readAhead) take(ctx context.Context, path string) (data []byte, ok bool) {
	ra.mu.Lock()
	f := ra.pending[path]
	delete(ra.pending, path)
	ra.mu.Unlock()
	if f == nil {
		return nil, false
	}
	select {
	case <-f.done:
		return f.data, f.err == nil
	case <-ctx.Done():
		return nil, false
	}
}

// proofTiles returns the tiles sumdb.Client reads to check a lookup answer
// for record id with signed tree head treeNote, given the tree head it has
// verified (the zero Tree if none): those of the consistency proof between
// the two heads, then those of the record's inclusion proof in the larger.
// It runs tlog's own proof code over a TileReader that only records what is
// asked, so it needs no knowledge of the tiling beyond tlog's.
func proofTiles(verified tlog.Tree, treeNote []byte, id int64, verifiers note.Verifiers) ([]tlog.Tile, error) {
	n, err := note.Open(treeNote, verifiers)
	if err != nil {
		return nil, err
	}
	tree, err := tlog.ParseTree([]byte(n.Text))
	if err != nil {
		return nil, err
	}
	older, newer := verified, tree
	if tree.N < verified.N {
		older, newer = tree, verified
	}
	var rec tileRecorder
	if older.N > 0 && older.N != newer.N {
		// sumdb.Client.checkTrees: the older tree's hash, read in the newer.
		tlog.TreeHash(older.N, tlog.TileHashReader(newer, &rec))
	}
	if id >= 0 && id < newer.N {
		// sumdb.Client.checkRecord: the record's hash, read in the newer.
		tlog.TileHashReader(newer, &rec).ReadHashes([]int64{tlog.StoredHashIndex(0, id)})
	}
	return rec.tiles, nil
}

// tileRecorder is a tlog.TileReader that notes the tiles asked of it and
// answers none, which ends the read that asked.
type tileRecorder struct{ tiles []tlog.Tile }

var _ tlog.TileReader = (*tileRecorder)(nil)

var errRecorded = errors.New("tile recorded, not read")

func (r *tileRecorder) Height() int { return tileHeight }

func (r *tileRecorder) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	r.tiles = append(r.tiles, tiles...)
	return nil, errRecorded
}

func (r *tileRecorder) SaveTiles([]tlog.Tile, [][]byte) {}
