// Package upstream fetches module artifacts from the places gomirror mirrors:
// other module proxies over HTTP, version control through the go command
// ("direct"), and chains of those with the go command's GOPROXY semantics.
//
// Module paths and versions passed to a Fetcher are unescaped and have been
// validated by the caller. Errors that mean "this module or version does not
// exist here" satisfy errors.Is(err, fs.ErrNotExist); that is what lets a
// chain fall through on ','.
package upstream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"time"
)

// A Fetcher answers the module proxy protocol's questions for one upstream.
// Each method returns, with its result, the Answer saying which upstream
// answered (the zero Answer with an error): facts travel back as values,
// not through the context. The one deliberate context value on the way in
// is the requester mark (WithRequester), a request-scoped input.
type Fetcher interface {
	// List returns the body of $module/@v/list: known versions, one a line.
	List(ctx context.Context, path string) ([]byte, Answer, error)
	// Latest returns the JSON of $module/@latest.
	Latest(ctx context.Context, path string) ([]byte, Answer, error)
	// Info returns the JSON of $module/@v/$query.info. query may be a
	// canonical version or any query the upstream resolves (branch, commit
	// prefix); the returned Version is canonical either way.
	Info(ctx context.Context, path, query string) ([]byte, Answer, error)
	// GoMod returns the go.mod file of a canonical version.
	GoMod(ctx context.Context, path, version string) ([]byte, Answer, error)
	// Zip opens the module zip of a canonical version. size is the length
	// the upstream announced, or -1 if it did not.
	Zip(ctx context.Context, path, version string) (body io.ReadCloser, size int64, a Answer, err error)
	// String names the upstream for logs and metrics; it contains no secrets.
	String() string
}

// An Answer says which upstream answered a fetch, for logs, metrics and
// the list-ttl decision (models: x/mod sumdb.ClientOps, the go command's
// modfetch.TryProxies).
type Answer struct {
	// Upstream names the upstream that answered, as its Fetcher's String;
	// for a group, the mirror that answered.
	Upstream string
	// Direct is true if the answer came from version control (Directer).
	Direct bool
}

// AnswerOf is the Answer of f answering for itself.
func AnswerOf(f Fetcher) Answer { return Answer{Upstream: f.String(), Direct: IsDirect(f)} }

// Directer is the optional capability of a Fetcher that fetches from
// version control (the "direct" element) rather than from a proxy. A chain
// ranks its errors by it, and an answer from it is reused for list-ttl.
type Directer interface {
	// IsDirect reports whether the Fetcher fetches from version control.
	IsDirect() bool
}

// IsDirect reports whether f fetches from version control (Directer).
func IsDirect(f Fetcher) bool {
	d, ok := f.(Directer)
	return ok && d.IsDirect()
}

// Error is an upstream failure for one module (and version, if any).
type Error struct {
	Upstream string // the upstream's name, as Fetcher.String
	Op       string // "list", "latest", "info", "mod", "zip"
	Module   string
	Version  string // the version or query; empty for list and latest
	Err      error
}

func (e *Error) Error() string {
	target := e.Module
	if e.Version != "" {
		target += "@" + e.Version
	}
	return fmt.Sprintf("%s %s from %s: %v", e.Op, target, e.Upstream, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// StatusError is a non-success HTTP status from an upstream proxy. 404 and
// 410 unwrap to fs.ErrNotExist.
type StatusError struct {
	Code int
	// Text is the start of the upstream's response body, which for the go
	// command's proxies says what went wrong ("not found: ...").
	Text string
	// RetryAfter is the delay the upstream asked for with Retry-After
	// (on 429 and 503), or 0.
	RetryAfter time.Duration
}

func (e *StatusError) Error() string {
	if e.Text == "" {
		return fmt.Sprintf("%d %s", e.Code, statusText(e.Code))
	}
	return fmt.Sprintf("%d %s: %s", e.Code, statusText(e.Code), e.Text)
}

func (e *StatusError) Unwrap() error {
	if e.Code == 404 || e.Code == 410 {
		return fs.ErrNotExist
	}
	return nil
}

// notExistError wraps fs.ErrNotExist with a message for the client.
type notExistError struct{ msg string }

func (e *notExistError) Error() string { return e.msg }
func (e *notExistError) Unwrap() error { return fs.ErrNotExist }

// NotExist returns an error that satisfies errors.Is(err, fs.ErrNotExist)
// and prints as msg.
func NotExist(msg string) error { return &notExistError{msg} }

// ErrOff is the error of GOPROXY=off: every lookup fails with it.
var ErrOff = NotExist("module lookup disabled by upstream \"off\"")

// IsNotExist reports whether err means the module or version does not exist.
func IsNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }

// Off is the Fetcher for "off": it refuses every request.
type Off struct{}

var _ Fetcher = Off{}

func (Off) List(context.Context, string) ([]byte, Answer, error) { return nil, Answer{}, ErrOff }
func (Off) Latest(context.Context, string) ([]byte, Answer, error) {
	return nil, Answer{}, ErrOff
}
func (Off) Info(context.Context, string, string) ([]byte, Answer, error) {
	return nil, Answer{}, ErrOff
}
func (Off) GoMod(context.Context, string, string) ([]byte, Answer, error) {
	return nil, Answer{}, ErrOff
}
func (Off) String() string { return "off" }
func (Off) Zip(context.Context, string, string) (io.ReadCloser, int64, Answer, error) {
	return nil, 0, Answer{}, ErrOff
}
