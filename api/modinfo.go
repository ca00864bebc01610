package api

import (
	"context"
	"fmt"
	"io/fs"
	"net/http"
	"strings"
	"time"

	"golang.org/x/mod/module"
	"golang.org/x/sync/semaphore"

	"github.com/gomirror/gomirror/internal/flight"
	"github.com/gomirror/gomirror/internal/weightlru"
	"github.com/gomirror/gomirror/layout"
	"github.com/gomirror/gomirror/modgraph"
	"github.com/gomirror/gomirror/modinfo"
)

// Stored is what the version endpoints read: the artifact storage (a
// storage.Storage).
type Stored interface {
	modinfo.Reader
}

// graphConcurrency is the most requirement graphs computed at a time;
// more wait, until their request's timeout.
const graphConcurrency = 2

// versions is the version endpoints' state: the zip details cache and
// concurrency bound of modinfo.Describer, and the graphs' bound, sharing
// and cache.
type versions struct {
	describer *modinfo.Describer
	graphs    *semaphore.Weighted
	// computing shares the computation of a version's graph among the
	// requests for it that arrive while it runs.
	computing flight.Group[module.Version, *modgraph.Graph]
	// cache holds the graphs computed: those that can no longer change
	// (settled: complete, with every node's go.mod stored; stored files
	// never change, and a graph reads only the go.mod files it needs, so
	// more stored versions add nothing to it) until they leave the LRU
	// cache; others for unsettledGraphTTL only, since a go.mod stored
	// since may complete them.
	cache *weightlru.Cache[module.Version, cachedGraph]
}

// cachedGraph is a graph of versions.cache; expires is zero for a
// settled graph.
type cachedGraph struct {
	g       *modgraph.Graph
	expires time.Time
}

// unsettledGraphTTL is how long a graph that can still change is answered
// again without computing it: a go.mod stored since shows in its graph
// after at most this long.
const unsettledGraphTTL = 30 * time.Second

// Bounds of the graphs' cache: a 300-module graph weighs about 100 KB.
const (
	cachedGraphs     = 256
	cachedGraphBytes = 32 << 20
)

// graphWeight estimates the bytes c holds.
func graphWeight(c cachedGraph) int64 {
	g := c.g
	n := int64(256 + len(g.Main.Path) + len(g.Main.Version))
	for _, nd := range g.Nodes {
		n += int64(96 + len(nd.Path) + len(nd.Version))
	}
	for _, e := range g.Edges {
		n += int64(80 + len(e.From.Path) + len(e.From.Version) + len(e.To) + len(e.Version))
	}
	for _, r := range g.Replaces {
		n += int64(96 + len(r.Old.Path) + len(r.Old.Version) + len(r.New.Path) + len(r.New.Version))
	}
	return n
}

// settled reports whether g can no longer change (versions.settled).
func settled(g *modgraph.Graph) bool {
	if !g.Complete || g.Truncated != "" || len(g.Missing) > 0 {
		return false
	}
	for _, nd := range g.Nodes {
		if !nd.ModStored {
			return false
		}
	}
	return true
}

// newVersions returns the state of the version endpoints over st; nil
// without storage.
func newVersions(st Stored) *versions {
	if st == nil {
		return nil
	}
	return &versions{describer: modinfo.NewDescriber(st, modinfo.DescriberOptions{}),
		graphs: semaphore.NewWeighted(graphConcurrency),
		cache:  weightlru.New[module.Version](cachedGraphs, cachedGraphBytes, graphWeight)}
}

// errNoStorage answers the version endpoints when Options.Storage is nil.
var errNoStorage = fmt.Errorf("%w: no artifact storage given to the API", ErrUnavailable)

// moduleRoutes serves the {module...} wildcard of GET
// /api/v1/modules/{module...}: a module path with "/@v/{version}" or
// "/@v/{version}/graph" after it is a stored version's details or graph
// (read from storage, without the database), one with "/@latest" after it
// the module's retractions and deprecation; anything else is the module's
// catalog entry, next. (ServeMux patterns cannot have a wildcard of many
// segments in the middle, so the module path is split here: no module path
// has an element starting with "@".)
func (h *Handler) moduleRoutes(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rest := r.PathValue("module")
		if p, tail, ok := strings.Cut(rest, "/@v/"); ok {
			version, graph := strings.CutSuffix(tail, "/graph")
			m, err := versionParam(p, version)
			if err != nil {
				writeError(w, err)
				return
			}
			if graph {
				g, err := h.svc.Graph(r.Context(), m)
				answer(w, g, err)
				return
			}
			d, err := h.svc.Version(r.Context(), m)
			answer(w, d, err)
			return
		}
		if p, ok := strings.CutSuffix(rest, "/@latest"); ok {
			if err := module.CheckPath(p); err != nil {
				writeError(w, &paramError{"module", err})
				return
			}
			mk, err := h.svc.ModuleMarks(r.Context(), p)
			answer(w, mk, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// CheckVersion checks a module path and a canonical version, as the
// version endpoints do: its error is a malformed parameter (400).
func CheckVersion(path, version string) (module.Version, error) { return versionParam(path, version) }

// versionParam checks a module path and a canonical version.
func versionParam(path, version string) (module.Version, error) {
	m := module.Version{Path: path, Version: version}
	if err := module.CheckPath(path); err != nil {
		return m, &paramError{"module", err}
	}
	if err := module.Check(path, version); err != nil || !layout.IsCanonical(m) {
		if err == nil {
			err = fmt.Errorf("%q is not a canonical version", version)
		}
		return m, &paramError{"version", err}
	}
	return m, nil
}

// Version returns the details of the stored version m (a
// modinfo.Describer's Get with the default limits: a zip's README and
// licenses are read once per stored zip, two zips at a time): GET
// /api/v1/modules/{module}/@v/{version}. Its error wraps fs.ErrNotExist
// when nothing of m is stored, ErrUnavailable without storage. The
// Details are shared with other callers: not to be modified.
func (s *Service) Version(ctx context.Context, m module.Version) (*modinfo.Details, error) {
	if s.opts.Storage == nil {
		return nil, errNoStorage
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	return s.vers.describer.Get(ctx, m)
}

// Graph returns the requirement graph of the stored version m
// (modgraph.Compute with the default limits, at most graphConcurrency at
// a time): GET /api/v1/modules/{module}/@v/{version}/graph. Its error
// wraps fs.ErrNotExist when m's .mod is not stored, and is the context's
// when the timeout ends while it waits or computes.
//
// Requests for m that arrive while its graph is computed share that
// computation (flight.Group: it goes on while one of them waits, within
// its own timeout). A graph that can no longer change (settled) is kept
// and returned again until it leaves the bounded cache; another one for
// unsettledGraphTTL. What Graph returns is shared: callers must not
// modify it.
func (s *Service) Graph(ctx context.Context, m module.Version) (*modgraph.Graph, error) {
	if s.opts.Storage == nil {
		return nil, errNoStorage
	}
	if c, ok := s.vers.cache.Get(m); ok {
		if c.expires.IsZero() || s.opts.Now().Before(c.expires) {
			return c.g, nil
		}
		s.vers.cache.Remove(m)
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	return s.vers.computing.Do(ctx, m, func(ctx context.Context) (*modgraph.Graph, error) {
		if err := s.vers.graphs.Acquire(ctx, 1); err != nil {
			return nil, err
		}
		defer s.vers.graphs.Release(1)
		g, err := modgraph.Compute(ctx, s.opts.Storage, m, modgraph.Limits{})
		if err != nil {
			return nil, err
		}
		c := cachedGraph{g: g}
		if !settled(g) {
			c.expires = s.opts.Now().Add(unsettledGraphTTL)
		}
		s.vers.cache.Add(m, c)
		return g, nil
	})
}

// ModuleMarks returns the retractions and deprecation of the module path,
// from its latest stored go.mod: GET /api/v1/modules/{module}/@latest.
// A module of which no go.mod is stored is not found.
func (s *Service) ModuleMarks(ctx context.Context, path string) (*modinfo.Marks, error) {
	if s.opts.Storage == nil {
		return nil, errNoStorage
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	mk, err := s.vers.describer.ModuleMarks(ctx, path)
	if err == nil && mk.Latest == "" {
		err = fmt.Errorf("no go.mod of %s is stored: %w", path, fs.ErrNotExist)
	}
	return mk, err
}
