package cache

import (
	"context"
	"sync"

	"github.com/gomirror/gomirror/layout"
	"github.com/gomirror/gomirror/storage"
)

// prefetchVersion starts the fills of em's .mod and .zip in the
// background, if a prefetch slot is free; otherwise it starts only the
// checksum database lookup. Failures are left for the client's own request
// to meet and report. Call it only for a canonical version the upstream has
// said exists (by its valid .info answer).
func (m *Mirror) prefetchVersion(ctx context.Context, em layout.Module) {
	path, version := em.Version().Path, em.Version().Version
	select {
	case m.prefetch <- struct{}{}:
	default:
		m.prefetchLookup(ctx, path, version)
		return
	}
	ctx = context.WithoutCancel(ctx)
	m.fills.Add(1)
	go func() {
		defer m.fills.Done()
		defer func() { <-m.prefetch }()
		var wg sync.WaitGroup
		for _, p := range []struct {
			file string
			get  func(ctx context.Context, em layout.Module) (*storage.Object, Source, error)
		}{{"mod", m.goMod}, {"zip", m.wholeZip}} {
			wg.Go(func() {
				obj, _, err := p.get(ctx, em)
				if err != nil {
					m.opts.Logger.Debug("prefetch failed", "module", path, "version", version, "file", p.file, "err", err)
					return
				}
				obj.Body.Close()
			})
		}
		wg.Wait()
	}()
}

// lookupAhead starts the checksum database lookup for path@version while
// the artifact at key downloads, unless the upstream said within
// NegativeTTL that it does not have that artifact (the fetch then asks
// nobody, and neither does the lookup).
//
// The lookup starts before the upstream has said whether the version
// exists, so a .mod or .zip of a version that does not exist costs a
// lookup as well as the fetch: one request to the database, whose "not
// found" the Verifier remembers for the negative TTL (no tiles are read
// for it). The overlap is worth it for versions that do exist: a .mod the
// go command asks for directly (a go.mod-only requirement) is otherwise
// answered a database round trip later.
func (m *Mirror) lookupAhead(ctx context.Context, key, path, version string) {
	if m.negative.Get(key) != nil {
		return // the upstream said "not found" a moment ago
	}
	m.prefetchLookup(ctx, path, version)
}

// prefetchLookup starts the checksum database lookup for path@version so
// that it runs while the artifact downloads.
func (m *Mirror) prefetchLookup(ctx context.Context, path, version string) {
	if v := m.opts.Verifier; v != nil && !v.Exempt(path) {
		// Counted as a fill: shutdown waits for it like for the fill
		// that started it.
		m.fills.Add(1)
		go func() {
			defer m.fills.Done()
			v.Lookup(ctx, path, version)
		}()
	}
}

// wholeZip is zip, returning once the zip is stored (or its fill failed)
// rather than as soon as its first bytes can be read: a prefetch slot is
// held for the whole fill.
func (m *Mirror) wholeZip(ctx context.Context, em layout.Module) (*storage.Object, Source, error) {
	obj, src, err := m.zip(ctx, em)
	if err != nil {
		return nil, src, err
	}
	if z, ok := obj.Body.(*StreamingZip); ok {
		if _, err := z.Complete(ctx); err != nil { // its Close does nothing
			obj.Body.Close()
			return nil, src, err
		}
	}
	return obj, src, nil
}
