package sumdb

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"golang.org/x/mod/sumdb/tlog"
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
