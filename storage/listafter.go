package storage

import (
	"context"
	"sort"
)

// AfterLister is an optional capability of a Storage: ListAfter returns
// the keys that start with prefix and sort after after, in lexical order,
// without reading those before it where the store can (S3's StartAfter:
// one request for a few keys at the end of a long listing). Callers use
// the package function ListAfter, which falls back to List.
type AfterLister interface {
	ListAfter(ctx context.Context, prefix, after string) ([]string, error)
}

var _ AfterLister = (*base)(nil)

// ListAfter returns the keys of s that start with prefix and sort after
// after (all of prefix's if after is ""), in lexical order: through s's
// AfterLister if it has one, else by List.
func ListAfter(ctx context.Context, s Storage, prefix, after string) ([]string, error) {
	if l, ok := As[AfterLister](s); ok {
		return l.ListAfter(ctx, prefix, after)
	}
	keys, err := s.List(ctx, prefix)
	if err != nil {
		return nil, err
	}
	return keys[sort.SearchStrings(keys, after+"\x00"):], nil
}

// ListAfter is the driver's ListAfter with the prefix checked as List
// checks it, or ListAfter's fallback for a driver without one.
func (b *base) ListAfter(ctx context.Context, prefix, after string) ([]string, error) {
	if err := checkPrefix(prefix); err != nil {
		return nil, err
	}
	return ListAfter(ctx, b.d, prefix, after)
}
