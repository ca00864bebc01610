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

// String names the public side; requests for private modules report
// Private's name through Answered.
func (r *Route) String() string { return r.Public.String() }

func (r *Route) List(ctx context.Context, path string) ([]byte, error) {
	f := r.For(path)
	b, err := f.List(ctx, path)
	return b, r.answered(ctx, f, err)
}

func (r *Route) Latest(ctx context.Context, path string) ([]byte, error) {
	f := r.For(path)
	b, err := f.Latest(ctx, path)
	return b, r.answered(ctx, f, err)
}

func (r *Route) Info(ctx context.Context, path, query string) ([]byte, error) {
	f := r.For(path)
	b, err := f.Info(ctx, path, query)
	return b, r.answered(ctx, f, err)
}

func (r *Route) GoMod(ctx context.Context, path, version string) ([]byte, error) {
	f := r.For(path)
	b, err := f.GoMod(ctx, path, version)
	return b, r.answered(ctx, f, err)
}

func (r *Route) Zip(ctx context.Context, path, version string) (io.ReadCloser, int64, error) {
	f := r.For(path)
	body, size, err := f.Zip(ctx, path, version)
	return body, size, r.answered(ctx, f, err)
}

// answered reports the private fetcher as the one that answered; a chain on
// the public side reports for itself.
func (r *Route) answered(ctx context.Context, f Fetcher, err error) error {
	if f == r.Private && err == nil {
		Report(ctx, f.String())
	}
	return err
}
