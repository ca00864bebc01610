package bundle

import (
	"errors"
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

// needTiles returns the paths of the tiles a checksum database client may
// read while it looks up recs in any order. A client's latest tree head is
// always one of the records' trees (the largest it has seen); it checks
// each record's hash in it (x/mod's Client.checkRecord) and, on seeing a
// tree of another size, the older tree's hash in the newer
// (Client.checkTrees). So a client may read, in each tree T, the tiles of
// the record of every lookup T contains and of the hash of every smaller
// tree. tlog.TileHashReader asks for all the tiles of a request in one
// ReadTiles call, which needTiles records without reading any: no tile is
// hashed here (verify does that once per tile).
func needTiles(recs []record) ([]string, error) {
	ts, err := trees(recs)
	if err != nil {
		return nil, err
	}
	rec := &tileRecorder{tiles: make(map[tlog.Tile]bool)}
	for i, t := range ts {
		thr := tlog.TileHashReader(t, rec)
		for _, r := range recs {
			if r.id < t.N {
				thr.ReadHashes([]int64{tlog.StoredHashIndex(0, r.id)})
			}
		}
		for _, older := range ts[:i] {
			tlog.TreeHash(older.N, thr)
		}
	}
	paths := make([]string, 0, len(rec.tiles))
	for t := range rec.tiles {
		paths = append(paths, t.Path())
	}
	slices.Sort(paths)
	return paths, nil
}

// errRecorded ends a tlog request once its tiles are recorded.
var errRecorded = errors.New("tiles recorded")

// tileRecorder is a tlog.TileReader that records the tiles asked for and
// fails every read.
type tileRecorder struct{ tiles map[tlog.Tile]bool }

func (r *tileRecorder) Height() int { return tileHeight }

func (r *tileRecorder) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	for _, t := range tiles {
		r.tiles[t] = true
	}
	return nil, errRecorded
}

func (r *tileRecorder) SaveTiles([]tlog.Tile, [][]byte) {}

// verify checks recs and tiles: every record is the log's (its hash in
// the largest tree), every tree is a prefix of the largest, and every tile
// is the log's, authenticated by tlog.TileHashReader against the hash of a
// tree in which it has its width. Each tile is hashed about once, so
// verify costs in proportion to the records and tiles, whatever the
// number of distinct trees. It fails if anything does not hold, a tile
// included.
func verify(recs []record, tiles *tileSet) error {
	ts, err := trees(recs)
	if err != nil {
		return err
	}
	if len(ts) == 0 {
		if len(tiles.tiles) > 0 {
			return errors.New("tiles without records")
		}
		return nil
	}
	head := ts[len(ts)-1]
	thr := tlog.TileHashReader(head, tiles)
	leaves := make([]int64, len(recs))
	for i, r := range recs {
		leaves[i] = tlog.StoredHashIndex(0, r.id)
	}
	hashes, err := thr.ReadHashes(leaves)
	if err != nil {
		return fmt.Errorf("records in the tree of size %d: %v", head.N, err)
	}
	for i, r := range recs {
		if hashes[i] != tlog.RecordHash(r.text) {
			return fmt.Errorf("%s: not the log's record %d", r.file, r.id)
		}
	}
	for _, t := range ts[:len(ts)-1] {
		h, err := tlog.TreeHash(t.N, thr)
		if err != nil {
			return fmt.Errorf("tree of size %d in the tree of size %d: %v", t.N, head.N, err)
		}
		if h != t.Hash {
			return fmt.Errorf("the tree of size %d is not a prefix of the tree of size %d", t.N, head.N)
		}
	}
	// Every other tile, in a tree where it has its width (the largest
	// first), with its siblings there in one request if they all hold.
	pending := make(map[tlog.Tree][]tlog.Tile)
	for p := range tiles.tiles {
		if tiles.ok[p] {
			continue
		}
		t, err := tlog.ParseTilePath(p)
		if err != nil {
			return err
		}
		placed := false
		for i := len(ts) - 1; i >= 0; i-- {
			if widthIn(t, ts[i]) == t.W {
				pending[ts[i]] = append(pending[ts[i]], t)
				placed = true
				break
			}
		}
		if !placed {
			return fmt.Errorf("%s: a tile of none of the trees", p)
		}
	}
	for tree, group := range pending {
		thr := tlog.TileHashReader(tree, tiles)
		if _, err := thr.ReadHashes(tileEntries(group...)); err == nil {
			continue
		}
		for _, t := range group { // one by one, trying every tree it fits
			if tiles.ok[t.Path()] {
				continue
			}
			for i := len(ts) - 1; i >= 0 && !tiles.ok[t.Path()]; i-- {
				if widthIn(t, ts[i]) == t.W {
					tlog.TileHashReader(ts[i], tiles).ReadHashes(tileEntries(t))
				}
			}
			if !tiles.ok[t.Path()] {
				return fmt.Errorf("%s: not proven to be the log's", t.Path())
			}
		}
	}
	return nil
}

// widthIn returns the width tile t's coordinates have in tree (0 if
// outside it).
func widthIn(t tlog.Tile, tree tlog.Tree) int {
	n := tree.N >> uint(t.L*t.H)
	w := n - t.N<<uint(t.H)
	return int(max(0, min(w, 1<<uint(t.H))))
}

// tileEntries returns the stored hash indexes of the entries of tiles.
func tileEntries(tiles ...tlog.Tile) []int64 {
	var out []int64
	for _, t := range tiles {
		for i := range int64(t.W) {
			out = append(out, tlog.StoredHashIndex(t.L*t.H, t.N<<uint(t.H)+i))
		}
	}
	return out
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

// tileSet is a tlog.TileReader over a set of tiles by path. A tile
// tlog.TileHashReader authenticated (SaveTiles) is marked ok.
type tileSet struct {
	tiles map[string][]byte
	ok    map[string]bool
}

func newTileSet() *tileSet {
	return &tileSet{tiles: make(map[string][]byte), ok: make(map[string]bool)}
}

func (s *tileSet) Height() int { return tileHeight }

func (s *tileSet) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, t := range tiles {
		b, ok := s.tiles[t.Path()]
		if !ok {
			return nil, fmt.Errorf("the bundle lacks %s", t.Path())
		}
		out[i] = b
	}
	return out, nil
}

func (s *tileSet) SaveTiles(tiles []tlog.Tile, _ [][]byte) {
	for _, t := range tiles {
		s.ok[t.Path()] = true
	}
}
