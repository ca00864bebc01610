// Package storage defines the interface gomirror keeps its artifacts behind.
//
// Keys are slash-separated paths in the GOPROXY URL space, without a leading
// slash: "github.com/!burnt!sushi/toml/@v/v1.4.0.zip", "golang.org/x/mod/@v/list",
// "sumdb/<name>/tile/8/0/001". Keys whose first element starts with a dot
// (".gomirror/...") hold gomirror's own state; no module path can start with a
// dot, so they never collide with artifacts.
//
// Every driver must pass the conformance suite in package storagetest.
package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"
	"time"
)

// Storage stores immutable and mutable blobs by key.
//
// Contracts every driver honours:
//   - A missing key is reported with an error for which errors.Is(err, fs.ErrNotExist).
//   - Put is atomic: readers see either the previous content or the complete new
//     content, never a prefix. If Put fails (including because r fails or ctx is
//     cancelled), the previous content, if any, is left unchanged.
//   - An invalid key (see ValidKey) is an error, never a path outside the
//     store. The base wrapper that Open puts around every driver (see Wrap)
//     checks keys, so a driver is only ever given valid ones.
//
// Drivers register themselves with Register; optional capabilities
// (FileAdopter, SyncedAdopter, TempDirer, Unsyncer, Presigner, Rooter, Walker,
// AfterLister, Creator) are found with As.
type Storage interface {
	// Get opens the content stored at key. The caller must close Body.
	Get(ctx context.Context, key string) (*Object, error)
	// Stat reports the size and modification time of key without opening it.
	Stat(ctx context.Context, key string) (Info, error)
	// Put stores everything read from r at key, atomically replacing any
	// previous content.
	Put(ctx context.Context, key string, r io.Reader) error
	// Delete removes key. Deleting a missing key is not an error.
	Delete(ctx context.Context, key string) error
	// List returns the keys that start with prefix, in lexical order.
	List(ctx context.Context, prefix string) ([]string, error)
}

// FileAdopter is an optional capability of a Storage: it takes over a
// complete local file as the content of key, atomically, and removes it from
// its old place. The local-disk driver renames the file instead of copying
// it. Callers find it with As and fall back to Put.
type FileAdopter interface {
	// AdoptFile moves the file at name to key. The file must not be written
	// to afterwards.
	AdoptFile(ctx context.Context, key, name string) error
}

// SyncedAdopter is an optional capability of a Storage that is a
// FileAdopter: AdoptSynced is AdoptFile for a file whose caller has
// already made its content and its mode (0644) durable (fsynced after its
// last write and chmod), so that the store only moves it: for a file
// written well before the moment it is adopted, when that moment is on a
// client's path.
type SyncedAdopter interface {
	AdoptSynced(ctx context.Context, key, name string) error
}

// TempDirer is an optional capability of a Storage: TempDir names a local
// directory for files that will be adopted, on the same filesystem as the
// store, so that AdoptFile is a rename.
type TempDirer interface {
	TempDir() string
}

// Unsyncer is an optional capability of a Storage: Unsynced returns a view
// of the same store whose writes stay atomic but skip what makes them
// durable against a power cut (fsync), for data that is cheap to fetch again
// and checked whenever it is read.
type Unsyncer interface {
	Unsynced() Storage
}

// Unsynced returns s's unsynced view if it has one (see Unsyncer), else s.
func Unsynced(s Storage) Storage {
	if u, ok := As[Unsyncer](s); ok {
		return u.Unsynced()
	}
	return s
}

// Info describes a stored object.
type Info struct {
	Size    int64
	ModTime time.Time
}

// Object is an open stored object.
type Object struct {
	Info
	// Body yields the object's bytes. Drivers return an io.ReadSeeker where
	// they can (ranges are then served without buffering) and, for local
	// disk, the *os.File itself so that the kernel can send it (sendfile).
	Body io.ReadCloser
}

// ReadAll reads the whole object stored at key. It is meant for small
// objects (.info, .mod, lists); stream zips through Get instead.
func ReadAll(ctx context.Context, s Storage, key string) ([]byte, error) {
	obj, err := s.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	defer obj.Body.Close()
	return io.ReadAll(obj.Body)
}

// BytesObject returns an object whose body reads b without copying it: an
// io.ReadSeeker (ranges and conditional requests work) whose Close does
// nothing. Its modification time is unknown (zero). Many objects may share
// one b; b must not be modified afterwards.
// Its body is an InMemory.
func BytesObject(b []byte) *Object {
	// One allocation for the object, its body and its reader (a memory
	// cache hit makes one per request).
	o := &struct {
		obj  Object
		body bytesBody
		r    bytes.Reader
	}{}
	o.r.Reset(b)
	o.body = bytesBody{&o.r, b}
	o.obj = Object{Info: Info{Size: int64(len(b))}, Body: &o.body}
	return &o.obj
}

// InMemory is the optional capability of an Object's Body that holds the
// object in memory (BytesObject's): Bytes returns all of the object,
// whatever has been read from the Body (as a seek to its start would),
// without copying it. The caller must not modify the returned bytes.
type InMemory interface {
	Bytes() []byte
}

var _ InMemory = bytesBody{}

type bytesBody struct {
	*bytes.Reader
	b []byte // all of it
}

func (bytesBody) Close() error { return nil }

func (b bytesBody) Bytes() []byte { return b.b }

// PutBytes stores b at key.
func PutBytes(ctx context.Context, s Storage, key string, b []byte) error {
	return s.Put(ctx, key, strings.NewReader(string(b)))
}

// ErrInvalidKey is returned for keys that ValidKey rejects.
var ErrInvalidKey = errors.New("invalid storage key")

// MaxKeyLen bounds the length of a key; longer keys are invalid.
const MaxKeyLen = 1024

// ValidKey reports whether key is a clean, relative, slash-separated path
// with no empty, "." or ".." elements, no backslashes or NULs, no element
// longer than 255 bytes, and at most MaxKeyLen bytes in all.
func ValidKey(key string) error {
	if key == "" || len(key) > MaxKeyLen || !fs.ValidPath(key) || strings.ContainsAny(key, "\\\x00") {
		return fmt.Errorf("%w: %q", ErrInvalidKey, key)
	}
	for elem := range strings.SplitSeq(key, "/") {
		if len(elem) > 255 {
			return fmt.Errorf("%w: element longer than 255 bytes", ErrInvalidKey)
		}
	}
	if path.Clean(key) != key {
		return fmt.Errorf("%w: %q", ErrInvalidKey, key)
	}
	return nil
}

// NotFound returns an error that wraps fs.ErrNotExist for key.
func NotFound(key string) error {
	return &fs.PathError{Op: "get", Path: key, Err: fs.ErrNotExist}
}

// ContextReader returns a reader of r that fails with ctx's error once ctx
// is done, so that a driver's copy of a Put's body stops then.
func ContextReader(ctx context.Context, r io.Reader) io.Reader { return ctxReader{ctx, r} }

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
