package cache

import (
	"context"
	"errors"
	"io/fs"
	"sync"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"

	"github.com/gomirror/gomirror/layout"
	"github.com/gomirror/gomirror/storage"
)

// prefetchVersion starts the fills of em's .mod and .zip in the
// background, if a prefetch slot is free; otherwise it starts only the
// checksum database lookup. A zip of more than prefetchZipMax bytes is
// left for a client to ask for (see Mirror.abandon); a smaller one, once
// verified, is held outside storage (heldZips) until a client asks for it,
// and stored then: a client that only reads metadata (`go list -m`, whose
// .info requests look like `go mod download`'s) leaves no zip in storage.
// Failures are left for
// the client's own request to meet and report. Call it only for a
// canonical version the upstream has said exists (by its valid .info
// answer).
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
				if errors.Is(err, errHeld) {
					return // fetched and verified, kept outside storage until a client asks
				}
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

// wholeZip is zip, returning once the zip is stored, or held (errHeld: no
// client has asked for it yet, see heldZips), or its fill failed, rather than as soon as its first bytes can be read: a prefetch slot is
// held for the whole fill.
func (m *Mirror) wholeZip(ctx context.Context, em layout.Module) (*storage.Object, Source, error) {
	obj, src, err := m.zip(ctx, em, true)
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

// prefetchRequirements starts, in the background, the fills of the .mod
// files of the modules gomod requires, as far as prefetch slots are free:
// the go command, loading the module graph, asks for them next, and a cold
// .mod costs the mirror a checksum database lookup and its proof on top of
// the upstream's answer, which then overlap with the client's requests.
// It is called for a .mod a client asked for; a prefetched .mod is
// remembered (Mirror.pending) until a client asks for it, and its
// requirements are prefetched then (prefetchPending): so prefetching stays
// one step of the module graph ahead of the client instead of walking the
// whole graph, most of which module graph pruning spares the go command.
// A requirement that is stored, that the upstream said a moment ago it
// does not have, or that Options.NoPrefetch names (private modules,
// modules under auth rules) is skipped.
func (m *Mirror) prefetchRequirements(ctx context.Context, gomod []byte) {
	if m.prefetch != nil {
		m.prefetchMods(ctx, requirements(gomod))
	}
}

// maxRequirements bounds how many of a go.mod's requirements are
// prefetched: a hostile go.mod may name hundreds of thousands; a real one
// rarely a hundred.
const maxRequirements = 128

// requirements returns the first maxRequirements canonical module
// versions gomod requires, or none if it does not parse.
func requirements(gomod []byte) []module.Version {
	f, err := modfile.ParseLax("go.mod", gomod, nil)
	if err != nil {
		return nil
	}
	var reqs []module.Version
	for _, r := range f.Require {
		if len(reqs) == maxRequirements {
			break
		}
		if module.Check(r.Mod.Path, r.Mod.Version) == nil && module.CanonicalVersion(r.Mod.Version) == r.Mod.Version {
			reqs = append(reqs, r.Mod)
		}
	}
	return reqs
}

// prefetchPending starts the prefetch of the requirements of the .mod at
// key, a prefetched one that a client now asks for (it is in
// Mirror.pending), reading it again: pending keeps keys only, so that its
// memory does not depend on what the go.mod files hold.
func (m *Mirror) prefetchPending(ctx context.Context, key string) {
	if !m.pending.Remove(key) {
		return
	}
	if b, err := m.readSmall(ctx, key); err == nil {
		m.prefetchMods(ctx, requirements(b))
	}
}

// prefetchMods starts the fills of the .mod files of mods that are not
// stored, while prefetch slots are free; each prefetched one is kept in
// m.pending until a client asks for it.
func (m *Mirror) prefetchMods(ctx context.Context, mods []module.Version) {
	ctx = context.WithoutCancel(ctx)
	for _, mv := range mods {
		if m.opts.NoPrefetch != nil && m.opts.NoPrefetch(mv.Path) {
			continue
		}
		em, err := layout.Escape(mv)
		if err != nil {
			continue
		}
		key, err := keyOf(em, layout.Mod)
		if err != nil || m.negative.Get(key) != nil {
			continue
		}
		if _, ok := m.small.Get(key); ok {
			continue
		}
		if _, err := m.opts.Storage.Stat(ctx, key); !errors.Is(err, fs.ErrNotExist) {
			continue // stored, or storage cannot say: leave it to the client
		}
		select {
		case m.prefetch <- struct{}{}:
		default:
			return // no slot free: the client's own requests fetch the rest
		}
		m.fills.Add(1)
		go func() {
			defer m.fills.Done()
			defer func() { <-m.prefetch }()
			obj, src, err := m.goMod(ctx, em)
			if err != nil {
				m.opts.Logger.Debug("prefetch failed", "module", mv.Path, "version", mv.Version, "file", "mod", "err", err)
				return
			}
			obj.Body.Close()
			if src.Outcome == Miss { // fetched now: its requirements may not be
				m.pending.Add(key, struct{}{})
			}
		}()
	}
}
