package sumdb

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"sync"
	"time"

	"golang.org/x/mod/module"
	"golang.org/x/mod/sumdb/tlog"
	"golang.org/x/sync/singleflight"

	"github.com/gomirror/gomirror/layout"
	"github.com/gomirror/gomirror/storage"
	"github.com/gomirror/gomirror/upstream"
)

// Endpoint answers the checksum database requests that clients send to
// <gomirror>/sumdb/<name>/: it says "supported", keeps "latest" for a short
// time (serving the last copy if the database cannot be reached), and keeps
// tiles and verified lookups forever.
type Endpoint struct {
	v         *Verifier
	store     storage.Storage
	remote    *Remote
	latestTTL time.Duration
	now       func() time.Time

	flight   singleflight.Group
	mu       sync.Mutex
	latest   []byte
	latestAt time.Time

	shared Shared // nil: no replicas to share "latest" with
}

// Shared is a cache shared by replicas (see package coord).
type Shared interface {
	GetShared(ctx context.Context, key string) ([]byte, bool, error)
	SetShared(ctx context.Context, key string, b []byte, ttl time.Duration) error
}

// ShareLatest makes replicas share the tree head they fetch, for the
// latest TTL, so that they do not each ask the database.
func (p *Endpoint) ShareLatest(s Shared) { p.shared = s }

// NewEndpoint returns an Endpoint for v's database. latestTTL is how long a fetched
// tree head is served before the database is asked again.
func NewEndpoint(v *Verifier, store storage.Storage, remote *Remote, latestTTL time.Duration) *Endpoint {
	return &Endpoint{v: v, store: store, remote: remote, latestTTL: latestTTL, now: time.Now}
}

// Name returns the database's name, the <name> in /sumdb/<name>/.
func (p *Endpoint) Name() string { return p.v.db.Name }

// Kind classifies a database path for caching headers.
type Kind int

const (
	KindSupported Kind = iota
	KindLatest         // mutable: cache briefly
	KindImmutable      // tiles and lookups
)

// Get returns the content for path, the part of the URL after
// /sumdb/<name>/. Unknown paths are fs.ErrNotExist.
func (p *Endpoint) Get(ctx context.Context, path string) ([]byte, Kind, error) {
	switch {
	case path == "supported":
		return nil, KindSupported, nil
	case path == "latest":
		b, err := p.getLatest(ctx)
		return b, KindLatest, err
	case strings.HasPrefix(path, "lookup/"):
		b, err := p.getLookup(ctx, strings.TrimPrefix(path, "lookup/"))
		return b, KindImmutable, err
	case strings.HasPrefix(path, "tile/"):
		b, err := p.getTile(ctx, path)
		return b, KindImmutable, err
	}
	return nil, 0, upstream.NotExist("not found: " + path)
}

// key returns the storage key of the database's file at path (under
// /sumdb/<name>/).
func (p *Endpoint) key(path string) string { return layout.SumDBKey(p.Name() + "/" + path) }

func (p *Endpoint) getLatest(ctx context.Context) ([]byte, error) {
	p.mu.Lock()
	if p.latest != nil && p.now().Sub(p.latestAt) < p.latestTTL {
		b := p.latest
		p.mu.Unlock()
		return b, nil
	}
	p.mu.Unlock()

	v, err, _ := p.flight.Do("latest", func() (any, error) {
		sharedKey := p.key("latest")
		if p.shared != nil {
			if b, ok, _ := p.shared.GetShared(ctx, sharedKey); ok && p.v.ops.checkNote(b) == nil {
				p.mu.Lock()
				p.latest, p.latestAt = b, p.now()
				p.mu.Unlock()
				return b, nil
			}
		}
		b, err := p.remote.Get(ctx, "latest")
		if err != nil {
			return nil, err
		}
		// A tree head damaged in transit must be neither served nor kept
		// as the copy served when the database cannot be reached.
		if err := p.v.ops.checkNote(b); err != nil {
			return nil, &UnavailableError{DB: p.Name(), Err: fmt.Errorf("tree head: %w", err)}
		}
		p.mu.Lock()
		p.latest, p.latestAt = b, p.now()
		p.mu.Unlock()
		if p.shared != nil {
			if err := p.shared.SetShared(ctx, sharedKey, b, p.latestTTL); err != nil {
				p.v.ops.log.Warn("sharing the checksum database tree head", "err", err)
			}
		}
		p.v.ops.markSupported()
		if err := storage.PutBytes(context.WithoutCancel(ctx), p.store, p.key("latest"), b); err != nil {
			p.v.ops.log.Warn("storing checksum database tree head", "err", err)
		}
		return b, nil
	})
	if err == nil {
		return v.([]byte), nil
	}
	// Stale if error: the last tree head we had is still a valid one.
	if b, serr := storage.ReadAll(ctx, p.store, p.key("latest")); serr == nil {
		return b, nil
	}
	if errors.As(err, new(*OfflineError)) {
		return nil, err // not unreachable: not asked
	}
	return nil, &UnavailableError{DB: p.Name(), Err: err}
}

func (p *Endpoint) getLookup(ctx context.Context, rest string) ([]byte, error) {
	escPath, escVers, ok := strings.Cut(rest, "@")
	if !ok {
		return nil, &BadRequestError{fmt.Sprintf("malformed lookup %q", rest)}
	}
	path, err1 := module.UnescapePath(escPath)
	vers, err2 := module.UnescapeVersion(escVers)
	if err := errors.Join(err1, err2); err != nil {
		return nil, &BadRequestError{fmt.Sprintf("malformed lookup %q: %v", rest, err)}
	}
	key, err := layout.SumDBLookupKey(p.Name(), module.Version{Path: path, Version: vers})
	if errors.As(err, new(*layout.NotStorableError)) {
		// An element longer than 255 bytes (a "not found"): no file
		// system, nor the go command's module cache, holds such a module.
		return nil, err
	} else if err != nil {
		return nil, &BadRequestError{fmt.Sprintf("malformed lookup %q: %v", rest, err)}
	}
	if p.v.Exempt(path) {
		// Never ask the database about a path it must not learn of.
		return nil, upstream.NotExist(fmt.Sprintf("not found: %s is not looked up in the checksum database by this server", path))
	}
	if b, err := p.v.ops.behind.Read(ctx, key); err == nil {
		return b, nil
	}
	// Looking up through the Verifier checks the record against the tree
	// and stores it (ReadCache/WriteCache use the same key).
	if _, err := p.v.Lookup(ctx, path, vers); err != nil {
		return nil, err
	}
	if b, err := p.v.ops.behind.Read(ctx, key); err == nil {
		return b, nil
	}
	return p.remote.Get(ctx, "lookup/"+rest) // verified, but storing failed
}

func (p *Endpoint) getTile(ctx context.Context, path string) ([]byte, error) {
	tile, err := tlog.ParseTilePath(path)
	if err != nil {
		return nil, &BadRequestError{fmt.Sprintf("malformed tile path %q", path)}
	}
	key := p.key(path)
	if b, err := p.v.ops.behind.Read(ctx, key); err == nil {
		return b, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	v, err, _ := p.flight.Do(path, func() (any, error) {
		// A narrower tile is a prefix of a stored wider one: a client
		// checking a record signed at an older tree asks for it.
		if b, err := p.v.ops.widerTile(ctx, tile); err == nil {
			p.v.ops.put(key, b)
			return b, nil
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		b, err := p.remote.Get(ctx, path)
		if err != nil {
			return nil, err
		}
		if tile.L < 0 {
			// A data tile's size says nothing about its content, and the
			// go command never asks for one: pass it through unstored.
			return b, nil
		}
		// A hash tile holds exactly W hashes. A tile of another size is
		// damaged (truncated, padded).
		if len(b) != tile.W*tlog.HashSize {
			return nil, &UnavailableError{DB: p.Name(), Err: fmt.Errorf("tile %s: %d bytes, want %d", path, len(b), tile.W*tlog.HashSize)}
		}
		// Stored, a tile is served forever, so only a tile proven to
		// belong to the tree gomirror has verified is stored. Others
		// (damaged, or beyond that tree) pass through: the go command
		// verifies every tile itself.
		if p.v.ops.verifyTile(ctx, tile, b) {
			p.v.ops.put(key, b)
		}
		return b, nil
	})
	if err != nil {
		if !upstream.IsNotExist(err) && !IsUnavailable(err) {
			err = &UnavailableError{DB: p.Name(), Err: err}
		}
		return nil, err
	}
	return v.([]byte), nil
}

// BadRequestError is a malformed request.
type BadRequestError struct{ Msg string }

func (e *BadRequestError) Error() string { return e.Msg }

// BadRequest reports true: the edge answers a BadRequestError with 400
// (proxy.BadRequester).
func (e *BadRequestError) BadRequest() bool { return true }
