package snapshot

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"

	"golang.org/x/sync/errgroup"

	"github.com/gomirror/gomirror/layout"
	"github.com/gomirror/gomirror/storage"
)

// maxStoredErrors bounds the differences CheckStored reports.
const maxStoredErrors = 10

// CheckStored checks m against the hashes s recorded when its cache
// verified and stored the files (layout.HashKey: .modhash, .ziphash): for
// each entry its go.mod's and, if it has a Hash, its zip's. A hash that
// differs, or a file not stored, is an error saying which (the first
// maxStoredErrors of them). jobs reads run at a time (8 if 0). It is what
// a manifest recorded without fetching (import --no-fetch) must pass: the
// store then serves what the manifest says.
func CheckStored(ctx context.Context, s storage.Storage, m *Manifest, jobs int) error {
	if jobs <= 0 {
		jobs = 8
	}
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(jobs)
	errs := make([]error, len(m.Modules))
	for i, e := range m.Modules {
		g.Go(func() error {
			errs[i] = checkEntry(ctx, s, e)
			if errs[i] != nil && !errors.Is(errs[i], errDiffers) && !errors.Is(errs[i], fs.ErrNotExist) {
				return errs[i] // storage failing: stop
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	var out []error
	for _, err := range errs {
		if err != nil && len(out) < maxStoredErrors {
			out = append(out, err)
		}
	}
	return errors.Join(out...)
}

var errDiffers = errors.New("differs from the manifest")

func checkEntry(ctx context.Context, s storage.Storage, e Entry) error {
	lm, err := layout.Escape(e.Module())
	if err != nil {
		return err
	}
	for _, c := range []struct {
		kind layout.Kind
		want string
		what string
	}{{layout.ModHash, e.GoModHash, "go.mod"}, {layout.ZipHash, e.Hash, "zip"}} {
		if c.want == "" {
			continue
		}
		key, err := lm.Key(c.kind)
		if err != nil {
			return err
		}
		got, err := storage.ReadAll(ctx, s, key)
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%s@%s: its %s is not stored (import it, e.g. from a bundle, or import without --no-fetch): %w", e.Path, e.Version, c.what, err)
		}
		if err != nil {
			return err
		}
		if h := string(bytes.TrimSpace(got)); h != c.want {
			return fmt.Errorf("%s@%s: the stored %s's hash is %s, the manifest says %s: %w", e.Path, e.Version, c.what, h, c.want, errDiffers)
		}
	}
	return nil
}
