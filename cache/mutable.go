package cache

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"slices"
	"strings"

	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"

	"github.com/gomirror/gomirror/layout"
	"github.com/gomirror/gomirror/storage"
	"github.com/gomirror/gomirror/upstream"
)

// List answers $module/@v/list for em, the module with its escaped path
// (see Info; em's version is ignored, as layout.Module.Key ignores it for
// a list): the upstream's versions together with every version in
// storage, so that nothing once served disappears.
func (m *Mirror) List(ctx context.Context, em layout.Module) ([]byte, Source, error) {
	path := em.Version().Path
	key, err := keyOf(em, layout.List)
	if err != nil {
		return nil, Source{Outcome: Miss}, err
	}
	stored, list, hadList, storedErr := m.storedVersions(ctx, path, key)
	var (
		fresh    []byte
		answerer upstream.Answer
		led      bool
		src      = Fresh
	)
	if m.isRecent(key) && storedErr == nil {
		src = Hit // asked the version control server less than ListTTL ago
	} else {
		// Only a stored list is a fallback worth answering with after the
		// short fresh-timeout; the versions of the stored files alone are
		// likely incomplete, so the upstream gets the full fetch timeout
		// (they are still served if it fails).
		fresh, answerer, led, err = m.mutable(ctx, "list", key, hadList, func(ctx context.Context) ([]byte, upstream.Answer, error) {
			return m.opts.Upstream.List(ctx, path)
		})
		if err != nil && (storedErr != nil || len(stored) == 0) {
			return nil, ledSource(Miss, answerer, led), err
		}
		if err != nil {
			src = Stale
			m.opts.Logger.Warn("upstream failed; serving stored list", "module", path, "err", err)
		}
	}
	versions := slices.Clone(stored)
	for v := range strings.FieldsSeq(string(fresh)) {
		if layout.Listable(v) {
			versions = append(versions, v)
		}
	}
	semver.Sort(versions)
	versions = slices.Compact(versions)
	var b bytes.Buffer
	for _, v := range versions {
		b.WriteString(v + "\n")
	}
	if src == Fresh {
		m.storeIfChanged(ctx, key, list, hadList, b.Bytes())
		m.markRecent(key, answerer)
	}
	return b.Bytes(), ledSource(src, answerer, led), nil
}

// storedVersions returns the tagged versions in the stored list and the
// versions that have artifacts in storage, the stored list as read, and
// whether there was a stored list.
func (m *Mirror) storedVersions(ctx context.Context, path, listKey string) (versions []string, list []byte, hadList bool, err error) {
	list, err = storage.ReadAll(ctx, m.opts.Storage, listKey)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, nil, false, err
	}
	hadList = err == nil
	for v := range strings.FieldsSeq(string(list)) {
		if layout.Listable(v) {
			versions = append(versions, v)
		}
	}
	prefix := layout.VersionsPrefix(listKey)
	keys, err := m.opts.Storage.List(ctx, prefix)
	if err != nil {
		return versions, list, hadList, err
	}
	keys = append(keys, m.behind.Pending(prefix)...) // stored a moment from now
	for _, k := range keys {
		v, kind, err := layout.ParseVersionFile(strings.TrimPrefix(k, prefix))
		if err == nil && kind.Artifact() && semver.IsValid(v) && !module.IsPseudoVersion(v) {
			versions = append(versions, v)
		}
	}
	return versions, list, hadList, nil
}

// Latest answers $module/@latest for em, the module with its escaped path
// (see List).
func (m *Mirror) Latest(ctx context.Context, em layout.Module) ([]byte, Source, error) {
	path := em.Version().Path
	key, err := keyOf(em, layout.Latest)
	if err != nil {
		return nil, Source{Outcome: Miss}, err
	}
	stored, storedErr := storage.ReadAll(ctx, m.opts.Storage, key)
	if m.isRecent(key) && storedErr == nil {
		return stored, Source{Outcome: Hit}, nil // asked the version control server less than ListTTL ago
	}
	b, answerer, led, err := m.mutable(ctx, "latest", key, storedErr == nil, func(ctx context.Context) ([]byte, upstream.Answer, error) {
		b, a, err := m.opts.Upstream.Latest(ctx, path)
		if err == nil {
			b, err = checkInfo(b, path, "")
			if err != nil {
				err = upstreamErr("latest", path, "", err)
			}
		}
		return b, a, err
	})
	if err == nil {
		m.storeIfChanged(ctx, key, stored, storedErr == nil, b)
		m.markRecent(key, answerer)
		return b, ledSource(Fresh, answerer, led), nil
	}
	if storedErr == nil {
		m.opts.Logger.Warn("upstream failed; serving stored @latest", "module", path, "err", err)
		return stored, ledSource(Stale, answerer, led), nil
	}
	return nil, ledSource(Miss, answerer, led), err
}

// mutable asks the upstream for a mutable answer, sharing the request among
// concurrent callers. With a fallback in storage it waits only FreshTimeout.
// It returns the answer, which upstream gave it (shared by every caller;
// zero if another replica asked; set with an error that came after an
// upstream answered), and whether this call was the one that asked (led).
func (m *Mirror) mutable(ctx context.Context, op, key string, haveFallback bool, get func(ctx context.Context) ([]byte, upstream.Answer, error)) (b []byte, from upstream.Answer, led bool, err error) {
	type answer struct {
		b    []byte
		from upstream.Answer
	}
	var leader bool // set by this call's closure only, read after its result
	ch := m.flight.DoChan(key, func() (any, error) {
		leader = true
		timeout := m.opts.FetchTimeout
		if haveFallback {
			timeout = m.opts.FreshTimeout
		}
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
		defer cancel()
		c := m.opts.Coordinator
		if c != nil {
			if b, ok, err := c.GetShared(fctx, key); ok {
				return answer{b, upstream.Answer{}}, nil // another replica asked a moment ago
			} else if err != nil {
				m.opts.Logger.Warn("replica coordination unavailable", "key", key, "err", err)
			}
		}
		b, answered, err := m.fetchBytes(fctx, op, key, get)
		if err == nil && c != nil {
			if err := c.SetShared(fctx, key, b, m.opts.SharedTTL); err != nil {
				m.opts.Logger.Warn("replica coordination unavailable", "key", key, "err", err)
			}
		}
		return answer{b, answered}, err
	})
	select {
	case r := <-ch:
		a, _ := r.Val.(answer)
		if r.Err != nil {
			return nil, a.from, leader, r.Err
		}
		return a.b, a.from, leader, nil
	case <-ctx.Done():
		return nil, upstream.Answer{}, false, ctx.Err()
	}
}

// ledSource is the Source of a mutable answer: it names the upstream only
// for the call that asked it (led), not for those that shared the answer.
func ledSource(o Outcome, answerer upstream.Answer, led bool) Source {
	if !led {
		return Source{Outcome: o}
	}
	return Source{Outcome: o, Upstream: answerer.Upstream}
}

// markRecent remembers that key was just fetched from answerer: answers
// from version control (Answer.Direct) are reused for ListTTL.
func (m *Mirror) markRecent(key string, answerer upstream.Answer) {
	if answerer.Direct && m.recent != nil {
		m.recent.Add(key, struct{}{})
	}
}

// isRecent reports whether key was marked by markRecent within ListTTL.
func (m *Mirror) isRecent(key string) bool {
	if m.recent == nil {
		return false
	}
	_, ok := m.recent.Get(key)
	return ok
}

// storeIfChanged stores b, a fresh list or @latest answer, at key unless
// it is old, what this request read there before it asked the upstream
// (had: it read something).
func (m *Mirror) storeIfChanged(ctx context.Context, key string, old []byte, had bool, b []byte) {
	if had && bytes.Equal(old, b) {
		return
	}
	if err := storage.PutBytes(context.WithoutCancel(ctx), m.opts.Storage, key, b); err != nil {
		m.opts.Logger.Warn("storing", "key", key, "err", err)
	}
}
