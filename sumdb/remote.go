package sumdb

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"sync"

	"github.com/gomirror/gomirror/layout"
	"github.com/gomirror/gomirror/upstream"
)

// Remote reads a checksum database the way the go command does: through the
// first upstream proxy (or group of mirrors) that answers
// /sumdb/<name>/supported, else directly; with the upstream "off", not at
// all.
type Remote struct {
	db     *DB
	chain  *upstream.Chain
	direct *upstream.Proxy
	client *http.Client
	// offline is set when the chain is "off": the Remote connects to
	// nothing, not even the database's own URL, and every Get fails with
	// an *OfflineError.
	offline bool

	mu   sync.Mutex
	base getter // resolved access point; nil until resolved
}

// getter is what Remote needs of an upstream: *upstream.Proxy and
// *upstream.Group (which picks its healthiest mirror) both have it.
type getter interface {
	GetBytes(ctx context.Context, rel string) ([]byte, error)
	String() string
}

var (
	_ getter = (*upstream.Proxy)(nil)
	_ getter = (*upstream.Group)(nil)
)

// under is g's subtree at prefix.
type under struct {
	g      getter
	prefix string
}

func (u under) GetBytes(ctx context.Context, rel string) ([]byte, error) {
	return u.g.GetBytes(ctx, u.prefix+"/"+rel)
}

func (u under) String() string { return u.g.String() + "/" + u.prefix }

// NewRemote returns a Remote for db that looks for proxy support along chain.
// client may be nil. If the chain is "off" (upstream.Chain.Offline), the
// Remote never connects anywhere: gomirror then serves only the checksum
// database data it has stored.
func NewRemote(db *DB, chain *upstream.Chain, client *http.Client) (*Remote, error) {
	direct, err := upstream.NewProxy(db.URL, client)
	if err != nil {
		return nil, fmt.Errorf("checksum database URL: %w", err)
	}
	return &Remote{db: db, chain: chain, direct: direct, client: client, offline: chain.Offline()}, nil
}

// Offline reports whether the Remote connects to nothing (the upstream is
// "off").
func (r *Remote) Offline() bool { return r.offline }

// OfflineError is a request for checksum database data that gomirror has
// not stored, made while the upstream is "off": gomirror makes no outbound
// connection, so it cannot fetch it. It is a "not found", like every other
// answer of an offline mirror that it does not have (upstream.ErrOff).
type OfflineError struct {
	DB   string // the database's name
	What string // what was asked: "lookup/<path>@<version>", "tile/...", "latest"
}

func (e *OfflineError) Error() string {
	return fmt.Sprintf("not found: checksum database %s: %s is not stored here, and the upstream is off (gomirror makes no outbound connections)", e.DB, e.What)
}

func (e *OfflineError) Unwrap() error { return fs.ErrNotExist }

// Get fetches path ("latest", "lookup/...", "tile/...") from the database.
func (r *Remote) Get(ctx context.Context, path string) ([]byte, error) {
	if r.offline {
		return nil, &OfflineError{DB: r.db.Name, What: path}
	}
	base, err := r.resolve(ctx)
	if err != nil {
		return nil, err
	}
	return base.GetBytes(ctx, path)
}

// resolve finds the access point once; a failure is retried on the next call.
func (r *Remote) resolve(ctx context.Context) (getter, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.base != nil {
		return r.base, nil
	}
	rel := layout.SumDBKey(r.db.Name) // the database's URL path on a proxy
	for _, l := range r.chain.Links() {
		p, ok := l.Fetcher.(getter)
		if !ok {
			break // "direct" or "off": connect to the database itself
		}
		_, err := p.GetBytes(ctx, rel+"/supported")
		if err == nil {
			r.base = under{p, rel}
			return r.base, nil
		}
		if !upstream.IsNotExist(err) && !l.FallOnAnyErr {
			return nil, &UnavailableError{DB: r.db.Name, Err: fmt.Errorf("%s: %w", p, err)}
		}
	}
	r.base = r.direct
	return r.base, nil
}

// UnavailableError means the checksum database could not be reached, so a
// module could not be verified.
type UnavailableError struct {
	DB  string
	Err error
}

func (e *UnavailableError) Error() string {
	return fmt.Sprintf("checksum database %s unreachable: %v", e.DB, e.Err)
}

func (e *UnavailableError) Unwrap() error { return e.Err }

// IsUnavailable reports whether err means the database could not be reached.
func IsUnavailable(err error) bool {
	var ue *UnavailableError
	return errors.As(err, &ue)
}
