// Package mem is an in-memory storage driver, for tests: nothing survives
// the process. It registers itself as "mem" (see storage.Register) and
// takes no settings. A Store's methods expect valid keys: use it through
// storage.Open or storage.Wrap, which check them.
package mem

import (
	"bytes"
	"context"
	"io"
	"io/fs"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gomirror/gomirror/storage"
)

func init() {
	storage.Register("mem", func(context.Context, storage.Settings) (storage.Storage, error) { return New(), nil })
}

// Store is a storage.Storage in memory: a map from key to content.
type Store struct {
	mu      sync.RWMutex
	objects map[string]object
}

// object is stored content; its data is never modified once stored.
type object struct {
	data    []byte
	modTime time.Time
}

var _ storage.Storage = (*Store)(nil)

// New returns an empty Store.
func New() *Store { return &Store{objects: map[string]object{}} }

// String names the store for logs.
func (s *Store) String() string { return "mem" }

// Get opens key. The body is an io.ReadSeeker over the stored bytes, which
// later Puts of the same key do not change.
func (s *Store) Get(ctx context.Context, key string) (*storage.Object, error) {
	o, err := s.get(ctx, key)
	if err != nil {
		return nil, err
	}
	obj := storage.BytesObject(o.data)
	obj.ModTime = o.modTime
	return obj, nil
}

// Stat reports key's size and modification time.
func (s *Store) Stat(ctx context.Context, key string) (storage.Info, error) {
	o, err := s.get(ctx, key)
	if err != nil {
		return storage.Info{}, err
	}
	return storage.Info{Size: int64(len(o.data)), ModTime: o.modTime}, nil
}

func (s *Store) get(ctx context.Context, key string) (object, error) {
	if err := ctx.Err(); err != nil {
		return object{}, err
	}
	s.mu.RLock()
	o, ok := s.objects[key]
	s.mu.RUnlock()
	if !ok {
		return object{}, storage.NotFound(key)
	}
	return o, nil
}

// Put reads r to its end and only then stores what it read at key, so a
// failed read (or a cancelled ctx) leaves the previous content in place.
func (s *Store) Put(ctx context.Context, key string, r io.Reader) error {
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(storage.ContextReader(ctx, r)); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	s.objects[key] = object{data: buf.Bytes(), modTime: time.Now()}
	s.mu.Unlock()
	return nil
}

// Delete removes key; a missing key is not an error.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	delete(s.objects, key)
	s.mu.Unlock()
	return nil
}

// List returns the keys that start with prefix, in lexical order.
func (s *Store) List(ctx context.Context, prefix string) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	var keys []string
	for k := range s.objects {
		if strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
	}
	s.mu.RUnlock()
	slices.Sort(keys)
	return keys, nil
}

var _ storage.Creator = (*Store)(nil)

// CreateIfAbsent stores r's bytes at key unless key exists (fs.ErrExist).
func (s *Store) CreateIfAbsent(ctx context.Context, key string, r io.Reader) error {
	b, err := io.ReadAll(storage.ContextReader(ctx, r))
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, exists := s.objects[key]; exists {
		return &fs.PathError{Op: "create", Path: key, Err: fs.ErrExist}
	}
	s.objects[key] = object{data: b, modTime: time.Now()}
	return nil
}

var _ storage.AfterLister = (*Store)(nil)

// ListAfter returns the keys that start with prefix and sort after after,
// in lexical order.
func (s *Store) ListAfter(ctx context.Context, prefix, after string) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	var keys []string
	for k := range s.objects {
		if strings.HasPrefix(k, prefix) && k > after {
			keys = append(keys, k)
		}
	}
	s.mu.RUnlock()
	slices.Sort(keys)
	return keys, nil
}

var (
	_ storage.Walker     = (*Store)(nil)
	_ storage.TopLeveler = (*Store)(nil)
)

// TopLevel returns the first elements of the keys (storage.TopLeveler).
func (s *Store) TopLevel(ctx context.Context) ([]string, error) {
	seen := map[string]bool{}
	var out []string
	s.mu.RLock()
	for k := range s.objects {
		if i := strings.IndexByte(k, '/'); i >= 0 {
			k = k[:i+1]
		}
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	s.mu.RUnlock()
	return out, nil
}

// Walk calls fn for every key under prefix with its size and modification
// time, in lexical order, from a copy of the keys taken first (fn may
// change the store).
func (s *Store) Walk(ctx context.Context, prefix string, fn func(key string, info storage.Info) error) error {
	keys, err := s.List(ctx, prefix)
	if err != nil {
		return err
	}
	for _, k := range keys {
		s.mu.RLock()
		o, ok := s.objects[k]
		s.mu.RUnlock()
		if !ok {
			continue
		}
		if err := fn(k, storage.Info{Size: int64(len(o.data)), ModTime: o.modTime}); err != nil {
			return err
		}
	}
	return nil
}
