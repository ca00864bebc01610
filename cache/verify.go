package cache

import (
	"context"
	"errors"
	"fmt"
)

// Verifier checks artifacts against a checksum database. *sumdb.Verifier
// implements it.
type Verifier interface {
	// Exempt reports whether path is never verified (GONOSUMDB).
	Exempt(path string) bool
	// Lookup fetches the database's record for path@version ahead of the
	// checks, so that the round trip overlaps the download.
	Lookup(ctx context.Context, path, version string) ([]string, error)
	// CheckGoMod and CheckZip check the h1: hash of path@version's go.mod
	// (sumdb.HashGoMod) or zip against the database's.
	CheckGoMod(ctx context.Context, path, version, h1 string) error
	CheckZip(ctx context.Context, path, version, h1 string) error
}

func (m *Mirror) verify(path, version, file string, check func(Verifier) error) error {
	v := m.opts.Verifier
	if v == nil || v.Exempt(path) {
		return nil
	}
	err := check(v)
	if errors.Is(err, context.DeadlineExceeded) {
		// Only the wait for the database can time out here; say so.
		err = fmt.Errorf("verifying %s %s: the checksum database did not answer within the fetch timeout (%v): %w", path, file, m.opts.FetchTimeout, err)
	}
	if m.opts.OnVerify != nil {
		m.opts.OnVerify(path, version, file, err)
	}
	if err != nil {
		m.opts.Logger.Error("verification failed; artifact refused", "module", path, "err", err)
		return err
	}
	return nil
}
