package bundle

import (
	"fmt"
	"slices"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// tileHeight is the tile height of the checksum database protocol (the
// go command's and x/mod's sumdb client's).
const tileHeight = 8

// record is a checksum database lookup as a bundle carries it: the record
// and the tree head signed with it.
type record struct {
	file string // lookup/<escaped path>@<escaped version>
	id   int64
	text []byte
	tree tlog.Tree
	note []byte // the signed tree head, as in the lookup
}

// parseLookup parses and checks a lookup response: its tree head must be
// signed by verifiers' key and the record must lie within that tree.
func parseLookup(file string, data []byte, verifiers note.Verifiers) (record, error) {
	id, text, treeMsg, err := tlog.ParseRecord(data)
	if err != nil {
		return record{}, fmt.Errorf("%s: %v", file, err)
	}
	tree, err := openTree(treeMsg, verifiers)
	if err != nil {
		return record{}, fmt.Errorf("%s: %v", file, err)
	}
	if id >= tree.N {
		return record{}, fmt.Errorf("%s: record %d outside its tree of size %d", file, id, tree.N)
	}
	return record{file: file, id: id, text: text, tree: tree, note: treeMsg}, nil
}

// openTree checks a signed tree head's signature and parses it.
func openTree(msg []byte, verifiers note.Verifiers) (tlog.Tree, error) {
	n, err := note.Open(msg, verifiers)
	if err != nil {
		return tlog.Tree{}, fmt.Errorf("tree head: %v", err)
	}
	tree, err := tlog.ParseTree([]byte(n.Text))
	if err != nil {
		return tlog.Tree{}, fmt.Errorf("tree head: %v", err)
	}
	return tree, nil
}

// trees returns the distinct tree heads of recs, smallest first, and fails
// if two of the same size differ (a forked log).
func trees(recs []record) ([]tlog.Tree, error) {
	by := make(map[int64]tlog.Tree)
	for _, r := range recs {
		if t, ok := by[r.tree.N]; ok && t.Hash != r.tree.Hash {
			return nil, fmt.Errorf("two tree heads of size %d with different hashes: the log has forked", r.tree.N)
		}
		by[r.tree.N] = r.tree
	}
	out := make([]tlog.Tree, 0, len(by))
	for _, t := range by {
		out = append(out, t)
	}
	slices.SortFunc(out, func(a, b tlog.Tree) int { return int(min(max(a.N-b.N, -1), 1)) })
	return out, nil
}

// prove makes every proof a checksum database client may make while it
// looks up recs in any order, reading tiles through tr, and fails if one
// does not hold. A client's latest tree head is always one of the records'
// trees (the largest it has seen); it checks each record's hash in it
// (x/mod's Client.checkRecord) and, on seeing a tree of another size, the
// older tree's hash in the newer (Client.checkTrees). So prove checks, in
// each tree T, the record of every lookup that T contains and the hash of
// every smaller tree. tlog.TileHashReader authenticates every tile it reads
// against T's hash, so every tile tr serves is proven to be the log's.
func prove(recs []record, tr tlog.TileReader) error {
	ts, err := trees(recs)
	if err != nil {
		return err
	}
	for i, t := range ts {
		thr := tlog.TileHashReader(t, tr)
		for _, r := range recs {
			if r.id >= t.N {
				continue
			}
			h, err := thr.ReadHashes([]int64{tlog.StoredHashIndex(0, r.id)})
			if err != nil {
				return fmt.Errorf("%s in the tree of size %d: %v", r.file, t.N, err)
			}
			if h[0] != tlog.RecordHash(r.text) {
				return fmt.Errorf("%s: not the log's record %d (tree of size %d)", r.file, r.id, t.N)
			}
		}
		for _, older := range ts[:i] {
			h, err := tlog.TreeHash(older.N, thr)
			if err != nil {
				return fmt.Errorf("tree of size %d in the tree of size %d: %v", older.N, t.N, err)
			}
			if h != older.Hash {
				return fmt.Errorf("the tree of size %d is not a prefix of the tree of size %d", older.N, t.N)
			}
		}
	}
	return nil
}

// headOf returns the signed tree head of the largest tree among recs.
func headOf(recs []record) []byte {
	var best *record
	for i := range recs {
		if best == nil || recs[i].tree.N > best.tree.N {
			best = &recs[i]
		}
	}
	if best == nil {
		return nil
	}
	return best.note
}

// tileSet is a tlog.TileReader over a set of tiles by path, recording which
// it served. With fetch set, a tile it lacks is fetched and kept;
// otherwise it is an error.
type tileSet struct {
	tiles map[string][]byte
	used  map[string]bool
	fetch func(path string) ([]byte, error)
}

func newTileSet(fetch func(string) ([]byte, error)) *tileSet {
	return &tileSet{tiles: make(map[string][]byte), used: make(map[string]bool), fetch: fetch}
}

func (s *tileSet) Height() int { return tileHeight }

func (s *tileSet) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, t := range tiles {
		p := t.Path()
		b, ok := s.tiles[p]
		if !ok {
			if s.fetch == nil {
				return nil, fmt.Errorf("the bundle lacks %s", p)
			}
			var err error
			if b, err = s.fetch(p); err != nil {
				return nil, err
			}
			if len(b) != t.W*tlog.HashSize {
				return nil, fmt.Errorf("%s: %d bytes, want %d", p, len(b), t.W*tlog.HashSize)
			}
			s.tiles[p] = b
		}
		s.used[p] = true
		out[i] = b
	}
	return out, nil
}

func (s *tileSet) SaveTiles([]tlog.Tile, [][]byte) {}
