package storage

import (
	"context"
	"errors"
	"io/fs"
	"strings"
)

// Walker is an optional capability of a Storage: Walk calls fn for every
// key under prefix with its size and modification time, in no particular
// order, without holding the keys in memory (the local-disk driver walks
// its directories; the S3 driver reads the listing's pages, which carry
// both). Callers use the package function Walk, which falls back to List
// and Stat. fn's error stops the walk and is returned.
type Walker interface {
	Walk(ctx context.Context, prefix string, fn func(key string, info Info) error) error
}

var _ Walker = (*base)(nil)

// Walk calls fn for every key of s under prefix with its size and
// modification time: through s's Walker if it has one, else by List and a
// Stat per key (a key deleted in between is skipped). Keys are never
// those of a driver's temporary files.
func Walk(ctx context.Context, s Storage, prefix string, fn func(key string, info Info) error) error {
	if w, ok := As[Walker](s); ok {
		return w.Walk(ctx, prefix, fn)
	}
	keys, err := s.List(ctx, prefix)
	if err != nil {
		return err
	}
	for _, k := range keys {
		info, err := s.Stat(ctx, k)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		if err := fn(k, info); err != nil {
			return err
		}
	}
	return nil
}

// Walk is the driver's Walk with the prefix checked as List checks it, or
// Walk's fallback for a driver without one.
func (b *base) Walk(ctx context.Context, prefix string, fn func(key string, info Info) error) error {
	if err := checkPrefix(prefix); err != nil {
		return err
	}
	return Walk(ctx, b.d, prefix, fn)
}

// TopLeveler is an optional capability of a Storage: TopLevel returns the
// first elements of its keys, in no particular order and each once: a
// directory as "name/" (some key starts with it), a key with no "/" as
// itself, without reading what is below them (a directory read; an S3
// listing with the delimiter "/"). Callers use the package function
// TopLevel, which falls back to List. It lets a caller walk some subtrees
// and skip others (the collector skips sumdb/ and .gomirror/).
type TopLeveler interface {
	TopLevel(ctx context.Context) ([]string, error)
}

var _ TopLeveler = (*base)(nil)

// TopLevel returns the first elements of s's keys (see TopLeveler):
// through s's TopLeveler if it has one, else from List.
func TopLevel(ctx context.Context, s Storage) ([]string, error) {
	if t, ok := As[TopLeveler](s); ok {
		return t.TopLevel(ctx)
	}
	keys, err := s.List(ctx, "")
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []string
	for _, k := range keys {
		if i := strings.IndexByte(k, '/'); i >= 0 {
			k = k[:i+1]
		}
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	return out, nil
}

// TopLevel is the driver's TopLevel, or TopLevel's fallback.
func (b *base) TopLevel(ctx context.Context) ([]string, error) { return TopLevel(ctx, b.d) }

// LeftoverSweeper is an optional capability of a Storage: SweepLeftovers
// removes what crashed processes left behind that the store keeps (and may
// bill for) but no key shows, e.g. S3's unfinished multipart uploads, old
// enough not to be another process's work under way, and returns how many
// it removed. serve calls it in the background at start and at each
// garbage collection.
type LeftoverSweeper interface {
	SweepLeftovers(ctx context.Context) (int, error)
}
