package snapshot

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"sync"
	"time"

	"golang.org/x/mod/module"
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
	viewManifestBytes = 64 << 20 // their approximate size (manifestWeight)
	viewNames         = 4096     // environments and missing names remembered
)

// Views serves snapshots and environments as GOPROXY views
// (proxy.Views): the view of a snapshot answers from its manifest, in
// front of the mirror's own Mirror (gated, cached and verified as usual).
//
// Manifests are read from storage once and kept (bounded, least recently
// used out first); since a name can be deleted and created again, a kept
// manifest's object is checked (Stat: size and modification time) once
// per Refresh. An environment's record in force is read again once per
// Refresh: a promotion is served by every replica within Refresh. A name
// that does not exist is remembered as such for Refresh, so made-up
// names cost storage one read per name and Refresh.
type Views struct {
	store   storage.Storage
	base    proxy.Mirror
	refresh time.Duration
	now     func() time.Time

	flight    singleflight.Group
	manifests *weightlru.Cache[string, *keptManifest]

	mu   sync.Mutex
	envs *weightlru.Cache[string, *keptEnv]
	miss *weightlru.Cache[string, time.Time] // "s/NAME" or "e/NAME" -> when found missing
}

var _ proxy.Views = (*Views)(nil)

type keptManifest struct {
	m       *Manifest
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
	one := func(time.Time) int64 { return 1 }
	return &Views{store: store, base: base, refresh: opts.Refresh, now: opts.Now,
		manifests: weightlru.New[string, *keptManifest](viewManifests, viewManifestBytes, func(k *keptManifest) int64 { return manifestWeight(k.m) }),
		envs:      weightlru.New[string, *keptEnv](viewNames, viewNames, func(*keptEnv) int64 { return 1 }),
		miss:      weightlru.New[string, time.Time](viewNames, viewNames, one),
	}
}

// manifestWeight approximates the memory m holds.
func manifestWeight(m *Manifest) int64 {
	n := int64(256)
	for _, e := range m.Modules {
		n += int64(len(e.Path)+len(e.Version)+len(e.Hash)+len(e.GoModHash)) + 64
	}
	return n
}

// View returns the Mirror of the snapshot or environment v. One that does
// not exist is a "not found" naming it.
func (vs *Views) View(ctx context.Context, v layout.View) (proxy.Mirror, error) {
	switch v.Kind {
	case layout.SnapshotView:
		m, err := vs.manifest(ctx, v.Name)
		if err != nil {
			return nil, err
		}
		return &view{base: vs.base, m: m, label: "snapshot " + m.Name}, nil
	case layout.EnvView:
		snap, err := vs.env(ctx, v.Name)
		if err != nil {
			return nil, err
		}
		m, err := vs.manifest(ctx, snap)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("environment %s points at snapshot %s: %w", v.Name, snap, err)
		}
		if err != nil {
			return nil, err
		}
		return &view{base: vs.base, m: m, label: "environment " + v.Name + " (snapshot " + m.Name + ")"}, nil
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

// manifest returns the snapshot name's manifest (see Views).
func (vs *Views) manifest(ctx context.Context, name string) (*Manifest, error) {
	if vs.missing("s/" + name) {
		return nil, &NotFoundError{name}
	}
	k, ok := vs.manifests.Get(name)
	if ok && vs.now().Sub(k.checked) < vs.refresh {
		return k.m, nil
	}
	// One read per name at a time, detached from the request that
	// started it (others wait on it).
	ch := vs.flight.DoChan("s/"+name, func() (any, error) {
		ctx := context.WithoutCancel(ctx)
		now := vs.now()
		key := layout.SnapshotKey(name)
		if ok {
			info, err := vs.store.Stat(ctx, key)
			if err == nil && info.Size == k.info.Size && info.ModTime.Equal(k.info.ModTime) {
				vs.manifests.Add(name, &keptManifest{m: k.m, info: info, checked: now})
				return k.m, nil
			}
			vs.manifests.Remove(name)
		}
		info, err := vs.store.Stat(ctx, key)
		if err == nil {
			var m *Manifest
			if m, err = Get(ctx, vs.store, name); err == nil {
				vs.manifests.Add(name, &keptManifest{m: m, info: info, checked: now})
				return m, nil
			}
		}
		if errors.Is(err, fs.ErrNotExist) {
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
		return res.Val.(*Manifest), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
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
	// go.mod-only requirement).
	GoModOnly bool
}

func (e *NotInError) Error() string {
	switch {
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
	m     *Manifest
	label string
}

var _ proxy.Mirror = (*view)(nil)

func (v *view) List(ctx context.Context, mod layout.Module) ([]byte, cache.Source, error) {
	path := mod.Version().Path
	vers := v.m.Versions(path)
	if len(vers) == 0 {
		return nil, cache.Source{}, &NotInError{View: v.label, Path: path}
	}
	return []byte(strings.Join(vers, "\n") + "\n"), cache.Source{}, nil
}

func (v *view) Latest(ctx context.Context, mod layout.Module) ([]byte, cache.Source, error) {
	path := mod.Version().Path
	ver, ok := v.m.Latest(path)
	if !ok {
		return nil, cache.Source{}, &NotInError{View: v.label, Path: path}
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
	e, ok := v.m.Find(mv.Path, mv.Version)
	switch {
	case !ok:
		return &NotInError{View: v.label, Path: mv.Path, Version: mv.Version}
	case zip && e.Hash == "":
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
