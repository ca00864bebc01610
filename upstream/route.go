package upstream

import (
	"context"
	"io"

	"github.com/gomirror/gomirror/modpattern"
)

// Route sends modules whose paths match Patterns to Private and everything
// else to Public. It is how private modules (GOPRIVATE, GONOPROXY) reach
// only their version control servers: Public never hears of them, nor of a
// path that differs from a private one only in case (modpattern.List.Match).
type Route struct {
	// Patterns lists the private module path patterns.
	Patterns modpattern.List
	Private  Fetcher
	Public   Fetcher
}

var _ Fetcher = (*Route)(nil)

// For returns the fetcher that serves path.
func (r *Route) For(path string) Fetcher {
	if r.Patterns.Match(path) {
		return r.Private
	}
	return r.Public
}

// String names the public side; requests for private modules answer with
// Private's name.
func (r *Route) String() string { return r.Public.String() }

func (r *Route) List(ctx context.Context, path string) ([]byte, Answer, error) {
	f := r.For(path)
	b, a, err := f.List(ctx, path)
	return b, r.answered(f, a, err), err
}

func (r *Route) Latest(ctx context.Context, path string) ([]byte, Answer, error) {
	f := r.For(path)
	b, a, err := f.Latest(ctx, path)
	return b, r.answered(f, a, err), err
}

func (r *Route) Info(ctx context.Context, path, query string) ([]byte, Answer, error) {
	f := r.For(path)
	b, a, err := f.Info(ctx, path, query)
	return b, r.answered(f, a, err), err
}

func (r *Route) GoMod(ctx context.Context, path, version string) ([]byte, Answer, error) {
	f := r.For(path)
	b, a, err := f.GoMod(ctx, path, version)
	return b, r.answered(f, a, err), err
}

func (r *Route) Zip(ctx context.Context, path, version string) (io.ReadCloser, int64, Answer, error) {
	f := r.For(path)
	body, size, a, err := f.Zip(ctx, path, version)
	return body, size, r.answered(f, a, err), err
}

// answered names the private fetcher as the one that answered (direct if
// it or what answered inside it is); the public side's answer stands.
func (r *Route) answered(f Fetcher, a Answer, err error) Answer {
	if f == r.Private && err == nil {
		return Answer{Upstream: f.String(), Direct: a.Direct || IsDirect(f)}
	}
	return a
}
