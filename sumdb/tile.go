package sumdb

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/gomirror/gomirror/layout"
)

// tileHeight is the height of the checksum database's tiles (go.dev/design/25530-sumdb).
const tileHeight = 8

// verifiedTree returns the tree head gomirror has verified (the one the
// Verifier's client keeps), or an error if there is none yet.
func (o *clientOps) verifiedTree() (tlog.Tree, error) {
	b, err := o.ReadConfig(o.db.Name + "/latest")
	if err != nil {
		return tlog.Tree{}, err
	}
	if len(b) == 0 {
		return tlog.Tree{}, errors.New("no verified tree head yet")
	}
	return o.treeHead(b)
}

// verifyTile reports whether data is the content of the hash tile t in the
// tree gomirror has verified: tlog.TileHashReader reads one hash of t
// through a reader that answers t with data (and every other tile from
// storage or the database), and checks every tile it reads against the
// signed tree hash. Tiles it proves are stored along the way.
func (o *clientOps) verifyTile(ctx context.Context, t tlog.Tile, data []byte) bool {
	if t.H != tileHeight || t.L < 0 {
		return false
	}
	tree, err := o.verifiedTree()
	if err != nil {
		return false
	}
	level := t.L * t.H
	n := t.N<<uint(t.H) + int64(t.W) - 1 // the tile's last hash, at level
	if n >= tree.N>>uint(level) {
		return false // beyond the verified tree
	}
	r := &candidateReader{ctx: ctx, o: o, candidate: t, data: data}
	if _, err := tlog.TileHashReader(tree, r).ReadHashes([]int64{tlog.StoredHashIndex(level, n)}); err != nil {
		if r.used {
			o.log.Warn("checksum database tile does not match the verified tree; not stored", "db", o.db.Name, "tile", t.Path(), "err", err)
		}
		return false
	}
	// The reader asked for this very tile (not a wider or narrower one of
	// the same position), so its content is what was checked.
	return r.used
}

// candidateReader is a tlog.TileReader that answers one tile with candidate
// data and reads the others from storage or the database.
type candidateReader struct {
	ctx       context.Context
	o         *clientOps
	candidate tlog.Tile
	data      []byte
	used      bool
}

func (r *candidateReader) Height() int { return tileHeight }

func (r *candidateReader) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, t := range tiles {
		if t == r.candidate {
			out[i], r.used = r.data, true
			continue
		}
		file := r.o.db.Name + "/" + t.Path()
		b, err := r.o.ReadCache(file)
		if errors.Is(err, fs.ErrNotExist) {
			b, err = r.o.remote.Get(r.ctx, t.Path())
		}
		if err != nil {
			return nil, fmt.Errorf("tile %s: %w", strings.TrimPrefix(file, r.o.db.Name+"/"), err)
		}
		out[i] = b
	}
	return out, nil
}

// SaveTiles stores the tiles that TileHashReader verified, except the
// candidate, which verifyTile's caller stores.
func (r *candidateReader) SaveTiles(tiles []tlog.Tile, data [][]byte) {
	for i, t := range tiles {
		if t != r.candidate {
			r.o.WriteCache(r.o.db.Name+"/"+t.Path(), data[i])
		}
	}
}

// widthIn returns the width that tile t's position (level and index) has
// in tree: 0 if the tree does not reach it, 1<<t.H if it is full there.
func widthIn(t tlog.Tile, tree tlog.Tree) int {
	n := tree.N >> uint(t.L*t.H)
	w := n - t.N<<uint(t.H)
	return int(max(0, min(w, 1<<uint(t.H))))
}

// widerTile returns the content of hash tile t taken from a stored wider
// tile at its position (the full one, or the one of the verified tree):
// tlog tiles only grow, so a narrower tile is the first t.W hashes of
// any wider one. Only verified tiles are stored, so the prefix is the
// log's too. It reads at most two tiles; fs.ErrNotExist if neither is
// stored.
func (o *clientOps) widerTile(ctx context.Context, t tlog.Tile) ([]byte, error) {
	if t.H != tileHeight || t.L < 0 || t.W >= 1<<tileHeight {
		return nil, fs.ErrNotExist
	}
	widths := []int{1 << tileHeight}
	if tree, err := o.verifiedTree(); err == nil {
		if w := widthIn(t, tree); w > t.W && w < 1<<tileHeight {
			widths = append(widths, w)
		}
	}
	for _, w := range widths {
		wide := t
		wide.W = w
		b, err := o.behind.Read(ctx, layout.SumDBKey(o.db.Name+"/"+wide.Path()))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if len(b) != w*tlog.HashSize {
			continue // not a tile this code stored; never a prefix of it
		}
		return bytes.Clone(b[:t.W*tlog.HashSize]), nil
	}
	return nil, fs.ErrNotExist
}

// storeProofTiles stores, for a verified lookup record just stored, the
// tiles a client holding nothing but the store may read to check it. Its
// tree head is the tree the record was signed at, often older than the
// verified tree; a client checks the record in the largest tree it has
// seen (one record's) and one record's tree in another's. Every tile
// of a tree is either full, the same in every larger tree, or the
// rightmost one of its level, partial. So it stores the verified tree's
// tiles that tlog reads for the record's hash and for the record tree's
// hash (tlog.TreeHash: the tiles of tlog.ProveTree between the two), full
// ones included, and each partial tile of the record's tree, the prefix
// of the verified tree's tile at its position. That is O(log n) tiles
// per record, most of them already stored; every tile is verified
// against the verified tree (tlog.TileHashReader) before it is stored.
func (o *clientOps) storeProofTiles(data []byte) {
	id, _, msg, err := tlog.ParseRecord(data)
	if err != nil {
		return
	}
	tree, err := o.signedTree(msg)
	if err != nil || id >= tree.N {
		return // the client checked it; nothing to add
	}
	verified, err := o.verifiedTree()
	if err != nil || tree.N > verified.N {
		return
	}
	ctx, cancel := o.ctx()
	defer cancel()
	r := &proofReader{ctx: ctx, o: o, read: make(map[tlog.Tile][]byte), stored: make(map[tlog.Tile]bool), ok: make(map[tlog.Tile]bool)}
	indexes := []int64{tlog.StoredHashIndex(0, id)}
	var partial []tlog.Tile
	for l := 0; ; l++ {
		n := tree.N >> uint(l*tileHeight)
		if n == 0 {
			break
		}
		if w := int(n & (1<<tileHeight - 1)); w > 0 {
			partial = append(partial, tlog.Tile{H: tileHeight, L: l, N: n >> tileHeight, W: w})
			indexes = append(indexes, tlog.StoredHashIndex(l*tileHeight, n-1)) // its last hash
		}
	}
	thr := tlog.TileHashReader(verified, r)
	if _, err := thr.ReadHashes(indexes); err != nil {
		o.log.Warn("reading the tiles that prove a checksum database record", "db", o.db.Name, "record", id, "tree", tree.N, "err", err)
		return
	}
	if _, err := tlog.TreeHash(tree.N, thr); err != nil {
		o.log.Warn("reading the tiles that prove a checksum database tree", "db", o.db.Name, "tree", tree.N, "err", err)
		return
	}
	for _, t := range partial {
		wide := t
		wide.W = widthIn(t, verified)
		b, ok := r.read[wide]
		if wide == t || !ok || !r.ok[wide] || len(b) < t.W*tlog.HashSize {
			continue // the verified tree's own tile, stored by SaveTiles
		}
		key := layout.SumDBKey(o.db.Name + "/" + t.Path())
		if _, err := o.behind.Read(ctx, key); errors.Is(err, fs.ErrNotExist) {
			o.put(key, bytes.Clone(b[:t.W*tlog.HashSize]))
		}
	}
}

// signedTree returns the tree in a tree head signed by the database,
// without replacing the verified tree head treeHead remembers.
func (o *clientOps) signedTree(msg []byte) (tlog.Tree, error) {
	v, err := o.noteVerifier()
	if err != nil {
		return tlog.Tree{}, err
	}
	n, err := note.Open(msg, note.VerifierList(v))
	if err != nil {
		return tlog.Tree{}, err
	}
	return tlog.ParseTree([]byte(n.Text))
}

// proofReader is a tlog.TileReader over the verified tree for
// storeProofTiles: it reads a tile from storage, else (exact or a wider
// prefix), else from the database, keeps what it read (TileHashReader
// reads a tile again for every request), and stores the tiles
// TileHashReader verified that were not stored yet.
type proofReader struct {
	ctx    context.Context
	o      *clientOps
	read   map[tlog.Tile][]byte
	stored map[tlog.Tile]bool // read from storage
	ok     map[tlog.Tile]bool // verified against the tree
}

func (r *proofReader) Height() int { return tileHeight }

func (r *proofReader) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, t := range tiles {
		if b, ok := r.read[t]; ok {
			out[i] = b
			continue
		}
		b, err := r.o.behind.Read(r.ctx, layout.SumDBKey(r.o.db.Name+"/"+t.Path()))
		stored := err == nil
		if errors.Is(err, fs.ErrNotExist) {
			b, err = r.o.widerTile(r.ctx, t)
		}
		if errors.Is(err, fs.ErrNotExist) {
			b, err = r.o.remote.Get(r.ctx, t.Path())
		}
		if err != nil {
			return nil, fmt.Errorf("tile %s: %w", t.Path(), err)
		}
		r.read[t], r.stored[t], out[i] = b, stored, b
	}
	return out, nil
}

func (r *proofReader) SaveTiles(tiles []tlog.Tile, data [][]byte) {
	for i, t := range tiles {
		r.ok[t] = true
		if !r.stored[t] {
			r.stored[t] = true
			r.o.put(layout.SumDBKey(r.o.db.Name+"/"+t.Path()), data[i])
		}
	}
}
