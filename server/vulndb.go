package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"strings"
	"time"

	"golang.org/x/mod/module"

	"github.com/gomirror/gomirror/config"
	"github.com/gomirror/gomirror/gate"
	"github.com/gomirror/gomirror/gc"
	"github.com/gomirror/gomirror/layout"
	"github.com/gomirror/gomirror/modinfo"
	"github.com/gomirror/gomirror/obs"
	"github.com/gomirror/gomirror/policy"
	"github.com/gomirror/gomirror/storage"
	"github.com/gomirror/gomirror/vulndb"
)

// vulnPrefix is where the vulnerability database's API is served.
const vulnPrefix = "/vuln/"

// newVulnDB sets up the vulnerability database (s.vulndb) of the vulndb
// setting: with "module", the OSV files of vulndb-module's newest version,
// fetched through s.mirror (verified and kept in storage like any module);
// nil with "off"; with a URL, read with client (the upstreams' client: the
// URL's host is trusted, a redirect elsewhere must pass the egress
// policy), a minute per request. Its API is mounted by New; Serve runs
// its refreshes.
func (s *Server) newVulnDB(mux *http.ServeMux, tempDir string, client *http.Client) error {
	var src vulndb.Source
	switch s.cfg.VulnDB {
	case "off":
		return nil
	case "module":
		src = &vulndb.ModuleSource{Path: s.cfg.VulnDBModule, Mirror: s.mirror, Storage: s.store, TempDir: tempDir}
	default:
		hc := &http.Client{Transport: client.Transport, CheckRedirect: client.CheckRedirect, Timeout: time.Minute}
		src = &vulndb.URLSource{URL: s.cfg.VulnDB, Storage: s.store, TempDir: tempDir, HTTP: hc}
	}
	s.vulndb = vulndb.New(vulndb.Options{
		Source:  src,
		Refresh: s.cfg.VulnDBRefresh,
		Logger:  s.log,
		// A new copy may change what deny-vulnerable decided.
		OnChange: func() {
			if s.policy != nil {
				s.policy.Invalidate()
			}
		},
	})
	s.metrics.WatchVulnDB(func() obs.VulnDBState {
		st := s.vulndb.Status()
		return obs.VulnDBState{Entries: st.Entries, LastSuccess: st.LastSuccess, Failing: st.LastError != ""}
	})
	return nil
}

// vulnKind marks the requests of the vulnerability database's API "vuln"
// in the access log and the request metrics.
func vulnKind(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		obs.RequestFrom(r.Context()).Kind = "vuln"
		next.ServeHTTP(w, r)
	})
}

// vulnReadyz writes /readyz's details of the vulnerability database: the
// copy served and, while the last refresh failed, why. Serving goes on
// with the last good copy, so it does not make the server unready.
func (s *Server) vulnReadyz(w io.Writer) {
	if s.vulndb == nil {
		return
	}
	st := s.vulndb.Status()
	switch {
	case st.Copy == "" && st.LastAttempt.IsZero():
		fmt.Fprintf(w, "vulndb: loading (%s)\n", st.Source)
	case st.Copy == "":
		fmt.Fprintf(w, "vulndb: not loaded (%s): %s\n", st.Source, st.LastError)
	case st.LastError != "":
		fmt.Fprintf(w, "vulndb: serving the last good copy %s (%d entries, loaded %s); last refresh failed: %s\n",
			st.Copy, st.Entries, st.Loaded.UTC().Format(time.RFC3339), st.LastError)
	default:
		fmt.Fprintf(w, "vulndb: %s (%d entries, loaded %s)\n", st.Copy, st.Entries, st.Loaded.UTC().Format(time.RFC3339))
	}
}

// vulnLoading reports whether the policy has a deny-vulnerable rule and
// the vulnerability database's first load or refresh has not finished:
// until then such a rule cannot judge (503s), so /readyz says not ready
// (a deploy waits for it). A first attempt that failed makes the server
// ready again: the 503s and /readyz's vulndb line tell why.
func (s *Server) vulnLoading() bool {
	if s.vulndb == nil || s.policy == nil || !s.policy.Policy().Needs().Vulns {
		return false
	}
	st := s.vulndb.Status()
	return st.Copy == "" && st.LastAttempt.IsZero()
}

// policyVulns returns the vulnerability database as the policy's gate
// asks it, or nil with vulndb off.
func (s *Server) policyVulns() gate.Vulns {
	if s.vulndb == nil {
		return nil
	}
	return policyVulns{s.vulndb}
}

// policyVulns answers the gate from a vulndb.DB: before its first copy is
// loaded, an error wrapping policy.ErrNoVulnDB.
type policyVulns struct{ db *vulndb.DB }

var _ gate.Vulns = policyVulns{}

func (p policyVulns) Vulns(ctx context.Context, m module.Version) ([]policy.Advisory, error) {
	advs, err := p.db.Vulns(ctx, m)
	if errors.Is(err, vulndb.ErrNotLoaded) {
		return nil, fmt.Errorf("%w: %w", policy.ErrNoVulnDB, err)
	}
	if err != nil || len(advs) == 0 {
		return nil, err
	}
	out := make([]policy.Advisory, len(advs))
	for i, a := range advs {
		out[i] = policy.Advisory{ID: a.ID, Aliases: a.Aliases, Summary: a.Summary}
	}
	return out, nil
}

// VulnDBPins is the collector's pins of the vulnerability database's
// module (vulndb: module; nil otherwise): the version of the copy being
// served (status, nil from the command line) and the highest version
// whose zip is stored (what a restart, even with upstream off, loads).
// Nothing a client downloads records these versions, so without the pins
// the collector would evict the database in use.
func VulnDBPins(cfg *config.Serve, store storage.Storage, status func() vulndb.Status) gc.Pins {
	if cfg.VulnDB != "module" {
		return nil
	}
	path := cfg.VulnDBModule
	if path == "" {
		path = vulndb.DefaultModule
	}
	return gc.PinsFunc(func(ctx context.Context) (map[module.Version]struct{}, error) {
		pins := map[module.Version]struct{}{}
		if status != nil {
			if p, v, ok := strings.Cut(status().Copy, "@"); ok && p == path {
				pins[module.Version{Path: p, Version: v}] = struct{}{}
			}
		}
		versions, err := modinfo.StoredVersions(ctx, store, path, modinfo.Limits{})
		if errors.Is(err, fs.ErrNotExist) {
			return pins, nil
		}
		if err != nil {
			return nil, fmt.Errorf("the vulnerability database's stored versions: %w", err)
		}
		for i := len(versions) - 1; i >= 0; i-- {
			m := module.Version{Path: path, Version: versions[i]}
			key, err := layout.Key(m, layout.Zip)
			if err != nil {
				return nil, err
			}
			if _, err := store.Stat(ctx, key); err == nil {
				pins[m] = struct{}{}
				break
			} else if !errors.Is(err, fs.ErrNotExist) {
				return nil, err
			}
		}
		return pins, nil
	})
}
