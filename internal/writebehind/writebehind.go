// Package writebehind writes small objects to storage in the background
// while keeping them readable from memory until the write has landed, so
// that a request path need not wait for the disk.
package writebehind

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/gomirror/gomirror/internal/syncx"
	"github.com/gomirror/gomirror/storage"
)

// Writer writes behind to a storage.Storage.
type Writer struct {
	store   storage.Storage
	timeout time.Duration
	log     *slog.Logger

	pending sync.Map // key -> *[]byte being written
	writes  sync.WaitGroup
}

// MinTimeout is the least time a write is given, whatever New is told: the
// bytes written behind are verified already, and a caller's short fetch
// timeout is no reason to drop them when the disk is slow for a moment.
const MinTimeout = 30 * time.Second

// New returns a Writer for store; each write may take at most timeout, or
// MinTimeout if that is longer.
func New(store storage.Storage, timeout time.Duration, log *slog.Logger) *Writer {
	return &Writer{store: store, timeout: max(timeout, MinTimeout), log: log}
}

// Put starts writing b to key and returns at once. Until the write ends,
// Read returns b for key. A failed write is logged, and key is then absent
// (or holds its previous content) as if Put had not been called.
func (w *Writer) Put(key string, b []byte) {
	w.PutFunc(key, b, func(ctx context.Context) error { return storage.PutBytes(ctx, w.store, key, b) })
}

// PutFunc is Put with the write done by write, which stores b at key in
// the Writer's store, and may store first what must land before it (such
// as a hash recorded next to it). Read returns b for key until write
// returns.
func (w *Writer) PutFunc(key string, b []byte, write func(ctx context.Context) error) {
	entry := &b // a pointer, so that only this write's entry is deleted
	w.pending.Store(key, entry)
	w.writes.Add(1)
	go func() {
		defer w.writes.Done()
		ctx, cancel := context.WithTimeout(context.Background(), w.timeout)
		defer cancel()
		if err := write(ctx); err != nil {
			w.log.Error("storing in the background", "key", key, "err", err)
		}
		w.pending.CompareAndDelete(key, entry)
	}()
}

// Read returns the content of key, from memory if it is still being written.
func (w *Writer) Read(ctx context.Context, key string) ([]byte, error) {
	if b, ok := w.pending.Load(key); ok {
		return *b.(*[]byte), nil
	}
	return storage.ReadAll(ctx, w.store, key)
}

// Get opens the content of key: while it is still being written, a reader
// over the one in-memory copy Put was given (shared by every reader, never
// copied); after that, the stored object (on local disk an *os.File, which
// the HTTP server can send with sendfile). The caller closes Body.
func (w *Writer) Get(ctx context.Context, key string) (*storage.Object, error) {
	if b, ok := w.pending.Load(key); ok {
		return storage.BytesObject(*b.(*[]byte)), nil
	}
	return w.store.Get(ctx, key)
}

// Pending returns the keys with prefix that are still being written.
func (w *Writer) Pending(prefix string) []string {
	var keys []string
	w.pending.Range(func(k, _ any) bool {
		if key := k.(string); strings.HasPrefix(key, prefix) {
			keys = append(keys, key)
		}
		return true
	})
	return keys
}

// Wait blocks until every write in progress has ended or ctx is done.
func (w *Writer) Wait(ctx context.Context) error { return syncx.Wait(ctx, &w.writes) }
