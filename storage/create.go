package storage

import (
	"context"
	"io"
)

// Creator is an optional capability of a Storage: CreateIfAbsent stores
// everything read from r at key only if key holds nothing, atomically
// with that check: of concurrent CreateIfAbsent calls for one key, at
// most one succeeds, and the others fail with an error wrapping
// fs.ErrExist having stored nothing (as when key existed before). The
// local-disk driver links the complete temporary file to key (link(2)
// fails if key exists); S3 uses a conditional PUT (If-None-Match: *); mem
// checks under its lock. A driver without it offers no such guarantee:
// callers find it with As and fall back to what they can (Stat, Put and
// reading back), documenting the race.
type Creator interface {
	CreateIfAbsent(ctx context.Context, key string, r io.Reader) error
}

type checkedCreator struct{ c Creator }

func (c checkedCreator) CreateIfAbsent(ctx context.Context, key string, r io.Reader) error {
	if err := ValidKey(key); err != nil {
		return err
	}
	return c.c.CreateIfAbsent(ctx, key, r)
}

var _ Creator = checkedCreator{}
