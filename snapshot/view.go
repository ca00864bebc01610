package snapshot

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/mod/module"
	"golang.org/x/sync/semaphore"
	"golang.org/x/sync/singleflight"

	"github.com/gomirror/gomirror/cache"
	"github.com/gomirror/gomirror/internal/weightlru"
	"github.com/gomirror/gomirror/layout"
	"github.com/gomirror/gomirror/proxy"
	"github.com/gomirror/gomirror/storage"
)

// DefaultRefresh is how long Views trusts what it read of an environment
// (and the absence of a snapshot) before reading storage again: the
// bound on how long after a promotion a replica still serves the previous
// snapshot.
const DefaultRefresh = 2 * time.Second

// Bounds of what Views keeps in memory.
const (
	viewManifests     = 64       // manifests kept
	viewManifestBytes = 32 << 20 // their approximate size (index.weight)
	viewNames         = 4096     // environments and missing names remembered
	// DefaultMaxLoadBytes bounds the manifests being read at a time, by
	// their stored size: reading one holds at most about its size
	// (streamed, kept as an index smaller than its JSON), so concurrent
	// requests for many large snapshots wait rather than add up. It
	// takes the largest manifest (MaxManifestBytes) twice.
	DefaultMaxLoadBytes = 2 * MaxManifestBytes
)

// Views serves snapshots and environments as GOPROXY views
// (proxy.Views): the view of a snapshot answers from its manifest, in
// front of the mirror's own Mirror (gated, cached and verified as usual).
//
// Manifests are read from storage once, streamed (DecodeEntries) into
// what a view needs (index: paths, versions, zip or not; no hashes), and
// kept (bounded, least recently used out first); reads at a time are
// bounded by the bytes they may hold (ViewOptions.MaxLoadBytes, a
// weighted semaphore). Since a name can be deleted and created again, a
// kept manifest's object is checked (Stat: size and modification time)
// once per Refresh; a Stat that fails keeps the last known manifest
// served, and a manifest that cannot be decoded is remembered as such
// (the error, until its object changes). An environment's record in force
// is read again once per Refresh: a promotion is served by every replica
// within Refresh. A name that does not exist is remembered as such for
// Refresh, so made-up names cost storage one read per name and Refresh.
type Views struct {
	store   storage.Storage
	base    proxy.Mirror
	refresh time.Duration
	now     func() time.Time

	flight    singleflight.Group
	manifests *weightlru.Cache[string, *keptManifest]
	load      *semaphore.Weighted
	maxLoad   int64
	// waiting, if set (tests), is called when a read must wait for
	// others to end (the semaphore is taken).
	waiting func()

	mu   sync.Mutex
	envs *weightlru.Cache[string, *keptEnv]
	miss *weightlru.Cache[string, time.Time] // "s/NAME" or "e/NAME" -> when found missing
}

var _ proxy.Views = (*Views)(nil)

type keptManifest struct {
	ix      *index // nil with err
	err     error  // the manifest could not be decoded
	info    storage.Info
	checked time.Time
}

type keptEnv struct {
	snapshot string
	read     time.Time
}

// ViewOptions configure Views.
type ViewOptions struct {
	Refresh time.Duration    // DefaultRefresh if 0
	Now     func() time.Time // time.Now if nil (tests move time)
	// MaxLoadBytes bounds the stored bytes of the manifests read at a
	// time (DefaultMaxLoadBytes if 0; a larger manifest is read alone).
	MaxLoadBytes int64
}

// NewViews returns the views of the snapshots and environments in store,
// served in front of base.
func NewViews(store storage.Storage, base proxy.Mirror, opts ViewOptions) *Views {
	if opts.Refresh <= 0 {
		opts.Refresh = DefaultRefresh
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxLoadBytes <= 0 {
		opts.MaxLoadBytes = DefaultMaxLoadBytes
	}
	one := func(time.Time) int64 { return 1 }
	return &Views{store: store, base: base, refresh: opts.Refresh, now: opts.Now,
		manifests: weightlru.New[string, *keptManifest](viewManifests, viewManifestBytes, func(k *keptManifest) int64 {
			if k.ix == nil {
				return 256
			}
			return k.ix.weight()
		}),
		load:    semaphore.NewWeighted(opts.MaxLoadBytes),
		maxLoad: opts.MaxLoadBytes,
		envs:    weightlru.New[string, *keptEnv](viewNames, viewNames, func(*keptEnv) int64 { return 1 }),
		miss:    weightlru.New[string, time.Time](viewNames, viewNames, one),
	}
}

// View returns the Mirror of the snapshot or environment v. One that does
// not exist is a "not found" naming it.
func (vs *Views) View(ctx context.Context, v layout.View) (proxy.Mirror, error) {
	switch v.Kind {
	case layout.SnapshotView:
		ix, err := vs.manifest(ctx, v.Name)
		if err != nil {
			return nil, err
		}
		return &view{base: vs.base, ix: ix, label: "snapshot " + ix.name}, nil
	case layout.EnvView:
		snap, err := vs.env(ctx, v.Name)
		if err != nil {
			return nil, err
		}
		ix, err := vs.manifest(ctx, snap)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("environment %s points at snapshot %s: %w", v.Name, snap, err)
		}
		if err != nil {
			return nil, err
		}
		return &view{base: vs.base, ix: ix, label: "environment " + v.Name + " (snapshot " + ix.name + ")"}, nil
	}
	return nil, fmt.Errorf("not a view: %v", v)
}

// missing reports whether key was found missing less than refresh ago.
func (vs *Views) missing(key string) bool {
	vs.mu.Lock()
	defer vs.mu.Unlock()
	t, ok := vs.miss.Get(key)
	if ok && vs.now().Sub(t) < vs.refresh {
		return true
	}
	if ok {
		vs.miss.Remove(key)
	}
	return false
}

func (vs *Views) setMissing(key string) {
	vs.mu.Lock()
	defer vs.mu.Unlock()
	vs.miss.Add(key, vs.now())
}

// manifest returns the index of the snapshot name's manifest (see Views).
func (vs *Views) manifest(ctx context.Context, name string) (*index, error) {
	if vs.missing("s/" + name) {
		return nil, &NotFoundError{name}
	}
	k, ok := vs.manifests.Get(name)
	if ok && vs.now().Sub(k.checked) < vs.refresh {
		return k.ix, k.err
	}
	// One read per name at a time, detached from the request that
	// started it (others wait on it).
	ch := vs.flight.DoChan("s/"+name, func() (any, error) {
		ctx := context.WithoutCancel(ctx)
		now := vs.now()
		key := layout.SnapshotKey(name)
		info, err := vs.store.Stat(ctx, key)
		switch {
		case ok && err == nil && info.Size == k.info.Size && info.ModTime.Equal(k.info.ModTime),
			ok && err != nil && !errors.Is(err, fs.ErrNotExist):
			// Unchanged, or storage failing: the last known stays.
			vs.manifests.Add(name, &keptManifest{ix: k.ix, err: k.err, info: k.info, checked: now})
			return k.ix, k.err
		case ok:
			vs.manifests.Remove(name)
		}
		if errors.Is(err, fs.ErrNotExist) {
			vs.setMissing("s/" + name)
			return nil, &NotFoundError{name}
		}
		if err != nil {
			return nil, err
		}
		ix, err := vs.read(ctx, name, info)
		var de *decodeError
		switch {
		case err == nil:
			vs.manifests.Add(name, &keptManifest{ix: ix, info: info, checked: now})
			return ix, nil
		case errors.As(err, &de):
			vs.manifests.Add(name, &keptManifest{err: err, info: info, checked: now})
		case errors.Is(err, fs.ErrNotExist):
			vs.setMissing("s/" + name)
			return nil, &NotFoundError{name}
		}
		return nil, err
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			return nil, res.Err
		}
		return res.Val.(*index), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// decodeError is a manifest that is stored but cannot be decoded.
type decodeError struct{ err error }

func (e *decodeError) Error() string { return e.err.Error() }
func (e *decodeError) Unwrap() error { return e.err }

// read reads the manifest of name, whose object info has, into an index,
// holding the load semaphore for its size (Views).
func (vs *Views) read(ctx context.Context, name string, info storage.Info) (*index, error) {
	w := min(max(info.Size, 1), vs.maxLoad)
	if !vs.load.TryAcquire(w) {
		if vs.waiting != nil {
			vs.waiting()
		}
		if err := vs.load.Acquire(ctx, w); err != nil {
			return nil, err
		}
	}
	defer vs.load.Release(w)
	obj, err := vs.store.Get(ctx, layout.SnapshotKey(name))
	if err != nil {
		return nil, err
	}
	defer obj.Body.Close()
	ix, err := readIndex(storage.ContextReader(ctx, obj.Body))
	if err != nil {
		if ctx.Err() != nil {
			return nil, err
		}
		return nil, &decodeError{fmt.Errorf("snapshot %s: %w", name, err)}
	}
	if ix.name != name {
		return nil, &decodeError{fmt.Errorf("snapshot %s: its manifest names %q", name, ix.name)}
	}
	return ix, nil
}

// env returns the name of the snapshot environment name points at (see
// Views).
func (vs *Views) env(ctx context.Context, name string) (string, error) {
	if vs.missing("e/" + name) {
		return "", &EnvNotFoundError{name}
	}
	vs.mu.Lock()
	k, ok := vs.envs.Get(name)
	vs.mu.Unlock()
	if ok && vs.now().Sub(k.read) < vs.refresh {
		return k.snapshot, nil
	}
	ch := vs.flight.DoChan("e/"+name, func() (any, error) {
		now := vs.now()
		r, err := Current(context.WithoutCancel(ctx), vs.store, name)
		if errors.Is(err, fs.ErrNotExist) {
			vs.setMissing("e/" + name)
			vs.mu.Lock()
			vs.envs.Remove(name)
			vs.mu.Unlock()
			return "", &EnvNotFoundError{name}
		}
		if err != nil {
			return "", err
		}
		vs.mu.Lock()
		vs.envs.Add(name, &keptEnv{snapshot: r.Snapshot, read: now})
		vs.mu.Unlock()
		return r.Snapshot, nil
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			return "", res.Err
		}
		return res.Val.(string), nil
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// NotInError is a module or version that a view does not have (a "not
// found"); its message names the view.
type NotInError struct {
	View    string // "snapshot NAME" or "environment ENV (snapshot NAME)"
	Path    string
	Version string // "" for the module as a whole
	// GoModOnly: the version is in the view, but its zip is not (a
	// go.mod-only requirement); with no Version, the module has no
	// version with its zip in the view.
	GoModOnly bool
}

func (e *NotInError) Error() string {
	switch {
	case e.Version == "" && e.GoModOnly:
		return fmt.Sprintf("not found: module %s is in %s for go.mod files only, no zip", e.Path, e.View)
	case e.Version == "":
		return fmt.Sprintf("not found: module %s is not in %s", e.Path, e.View)
	case e.GoModOnly:
		return fmt.Sprintf("not found: %s@%s is in %s for its go.mod only, not its zip", e.Path, e.Version, e.View)
	}
	return fmt.Sprintf("not found: %s@%s is not in %s", e.Path, e.Version, e.View)
}

// Unwrap makes a NotInError a "not found".
func (e *NotInError) Unwrap() error { return fs.ErrNotExist }

// maxLatestInfo bounds the .info a view's @latest reads.
const maxLatestInfo = 1 << 20

// view is the Mirror of one snapshot.
type view struct {
	base  proxy.Mirror
	ix    *index
	label string
}

var _ proxy.Mirror = (*view)(nil)

// ListFilter is an optional capability of the Mirror behind the views
// (the policy's gate, *gate.Mirror): FilterList returns a list answer of
// module path without the versions it would refuse the client in ctx.
// A view's list and @latest go through it, so they name only versions the
// policy lets the client have, as the mirror's own do.
type ListFilter interface {
	FilterList(ctx context.Context, path string, list []byte) ([]byte, error)
}

// allowed returns vers (versions of path) without those the mirror
// behind refuses (ListFilter), all of them if it has no filter.
func (v *view) allowed(ctx context.Context, path string, vers []string) ([]string, error) {
	f, ok := v.base.(ListFilter)
	if !ok || len(vers) == 0 {
		return vers, nil
	}
	b, err := f.FilterList(ctx, path, []byte(strings.Join(vers, "\n")+"\n"))
	if err != nil {
		return nil, err
	}
	return strings.Fields(string(b)), nil
}

func (v *view) List(ctx context.Context, mod layout.Module) ([]byte, cache.Source, error) {
	path := mod.Version().Path
	vers := v.ix.versions(path)
	if len(vers) == 0 {
		return nil, cache.Source{}, &NotInError{View: v.label, Path: path}
	}
	// As a module proxy's list: tagged versions only (a pseudo-version of
	// the view is served, and @latest may answer it).
	vers = slices.DeleteFunc(vers, module.IsPseudoVersion)
	vers, err := v.allowed(ctx, path, vers)
	if err != nil {
		return nil, cache.Source{}, err
	}
	if len(vers) == 0 {
		return []byte{}, cache.Source{}, nil
	}
	return []byte(strings.Join(vers, "\n") + "\n"), cache.Source{}, nil
}

// Latest answers the highest version of the view that the policy allows
// whose zip the view has; with none such, the highest whose zip the view
// has (whose .info the policy then refuses, saying why). A module with no
// zip in the view (none of its versions, or go.mod-only ones) is a
// NotInError naming the view.
func (v *view) Latest(ctx context.Context, mod layout.Module) ([]byte, cache.Source, error) {
	path := mod.Version().Path
	ver, ok := v.ix.latest(path)
	if !ok {
		return nil, cache.Source{}, &NotInError{View: v.label, Path: path, GoModOnly: len(v.ix.versions(path)) > 0}
	}
	if _, filtered := v.base.(ListFilter); filtered {
		vers, err := v.allowed(ctx, path, v.ix.versions(path))
		if err != nil {
			return nil, cache.Source{}, err
		}
		for i := len(vers) - 1; i >= 0; i-- {
			if _, zip := v.ix.find(path, vers[i]); zip {
				ver = vers[i]
				break
			}
		}
	}
	lm, err := layout.Escape(module.Version{Path: path, Version: ver})
	if err != nil {
		return nil, cache.Source{}, err
	}
	obj, src, err := v.base.Info(ctx, lm)
	if err != nil {
		return nil, src, err
	}
	defer obj.Body.Close()
	b, err := io.ReadAll(io.LimitReader(obj.Body, maxLatestInfo))
	return b, src, err
}

// check returns the error for a request of mod's file outside the view,
// nil for one in it.
func (v *view) check(mod layout.Module, zip bool) error {
	mv := mod.Version()
	if !mod.Canonical() {
		return &NotInError{View: v.label, Path: mv.Path, Version: mv.Version}
	}
	found, hasZip := v.ix.find(mv.Path, mv.Version)
	switch {
	case !found:
		return &NotInError{View: v.label, Path: mv.Path, Version: mv.Version}
	case zip && !hasZip:
		return &NotInError{View: v.label, Path: mv.Path, Version: mv.Version, GoModOnly: true}
	}
	return nil
}

func (v *view) Info(ctx context.Context, mod layout.Module) (*storage.Object, cache.Source, error) {
	if err := v.check(mod, false); err != nil {
		return nil, cache.Source{}, err
	}
	return v.base.Info(ctx, mod)
}

func (v *view) GoMod(ctx context.Context, mod layout.Module) (*storage.Object, cache.Source, error) {
	if err := v.check(mod, false); err != nil {
		return nil, cache.Source{}, err
	}
	return v.base.GoMod(ctx, mod)
}

func (v *view) Zip(ctx context.Context, mod layout.Module) (*storage.Object, cache.Source, error) {
	if err := v.check(mod, true); err != nil {
		return nil, cache.Source{}, err
	}
	return v.base.Zip(ctx, mod)
}
