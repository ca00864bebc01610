package doctor

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/mod/semver"

	"github.com/gomirror/gomirror/i18n"
)

// DefaultLagModules returns the well-known modules, besides the probe
// module, whose version lists the lag check compares across proxies:
// modules that many builds need and that tag new versions often.
func DefaultLagModules() []string {
	return []string{"golang.org/x/text", "golang.org/x/net", "golang.org/x/sys", "github.com/google/uuid"}
}

// maxMissingShown caps the versions a lag message names per module.
const maxMissingShown = 5

// source is a proxy whose lists the lag check reads.
type source struct {
	url    string
	client *http.Client
	report bool // a GOPROXY entry (reported on), not only a --compare reference
}

// listOf is one source's version list of one module: ok when it answered
// (200, or 404/410: no versions).
type listOf struct {
	versions []string
	ok       bool
	latency  time.Duration
}

// checkLag compares the version lists of modules across sources (the
// proxies of GOPROXY that speak the protocol, and the --compare URLs) and
// returns, for each GOPROXY proxy, ok or a warning naming the versions it
// lacks that another source lists. It needs two sources; with fewer it
// returns nothing. A source whose list fails (an error, a 5xx) is left out
// of that module's comparison: the proxy check reports its failures.
func checkLag(ctx context.Context, o *Options, sources []source, modules []string) []Result {
	if len(sources) < 2 || len(modules) == 0 {
		return nil
	}
	lists := make([][]listOf, len(sources)) // [source][module]
	var wg sync.WaitGroup
	for i, s := range sources {
		lists[i] = make([]listOf, len(modules))
		for j, m := range modules {
			wg.Go(func() {
				lctx, cancel := context.WithTimeout(ctx, o.Timeout)
				defer cancel()
				start := time.Now()
				code, _, body, err := get(lctx, s.client, s.url+"/"+escaped(m)+"/@v/list", 1<<20)
				l := listOf{latency: time.Since(start)}
				switch {
				case err != nil:
				case code == http.StatusOK:
					l.ok = true
					for v := range strings.FieldsSeq(string(body)) {
						if semver.IsValid(v) {
							l.versions = append(l.versions, v)
						}
					}
				case code == http.StatusNotFound || code == http.StatusGone:
					l.ok = true
				}
				lists[i][j] = l
			})
		}
	}
	wg.Wait()

	var out []Result
	for i, s := range sources {
		if !s.report {
			continue
		}
		r := Result{Check: "lag", Target: s.url}
		var lacks []string
		compared := 0
		for j, m := range modules {
			own := lists[i][j]
			if !own.ok {
				r.Steps = append(r.Steps, Step{Name: m, Status: OK, Skipped: true, Detail: i18n.T("the list could not be read; not compared")})
				continue
			}
			have := map[string]bool{}
			for _, v := range own.versions {
				have[v] = true
			}
			var missing, from []string
			others := 0
			for k, other := range sources {
				if k == i || !lists[k][j].ok {
					continue
				}
				others++
				n := 0
				for _, v := range lists[k][j].versions {
					if !have[v] {
						have[v] = true
						missing = append(missing, v)
						n++
					}
				}
				if n > 0 {
					from = append(from, other.url)
				}
			}
			if others == 0 {
				r.Steps = append(r.Steps, Step{Name: m, Status: OK, Skipped: true, Detail: i18n.T("no other proxy answered; not compared")})
				continue
			}
			compared++
			st := Step{Name: m, Status: OK, LatencyMS: float64(own.latency.Microseconds()) / 1000, latency: own.latency,
				Detail: i18n.T("%d versions, as many as the others list", len(own.versions))}
			if len(missing) > 0 {
				semver.Sort(missing)
				shown := strings.Join(missing, " ")
				if len(missing) > maxMissingShown {
					shown = strings.Join(missing[len(missing)-maxMissingShown:], " ") + fmt.Sprintf(" (+%d)", len(missing)-maxMissingShown)
				}
				st.Status = Warn
				st.Detail = i18n.T("lacks %d versions that %s list: %s", len(missing), strings.Join(from, ", "), shown)
				lacks = append(lacks, fmt.Sprintf("%s %s", m, shown))
			}
			r.Steps = append(r.Steps, st)
		}
		switch {
		case len(lacks) > 0:
			r.Status, r.Problem = Warn, "lagging"
			r.Message = i18n.T("lags behind the other proxies: its version lists lack %s", strings.Join(lacks, "; "))
			r.Fix = i18n.T("A go get of a missing version fails through this proxy (or, with '|' or ',' fallbacks, goes on to the next): tell its operator that it is out of date, or put an up-to-date mirror first in GOPROXY (gomirror setup --fastest measures the public ones).")
		case compared == 0:
			r.Status, r.Message = OK, i18n.T("not compared: no list could be compared with another proxy's")
		default:
			r.Status, r.Message = OK, i18n.T("lists the same versions as the other proxies for %d modules", compared)
		}
		out = append(out, r)
	}
	return out
}

// lagModules returns the modules the lag check compares: the probe module
// and extra (DefaultLagModules() when nil), without duplicates.
func lagModules(probe string, extra []string) []string {
	if extra == nil {
		extra = DefaultLagModules()
	}
	mods := []string{probe}
	for _, m := range extra {
		if m = strings.TrimSpace(m); m != "" && !slices.Contains(mods, m) {
			mods = append(mods, m)
		}
	}
	return mods
}
