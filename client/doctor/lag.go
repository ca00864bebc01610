package doctor

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"

	"github.com/gomirror/gomirror/i18n"
	"github.com/gomirror/gomirror/internal/redact"
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
	why      i18n.Text // when not ok
	latency  time.Duration
}

// checkLag compares the version lists of modules across sources (the
// proxies of GOPROXY that speak the protocol, and the --compare URLs) and
// returns, for each GOPROXY proxy, ok or a warning naming the releases it
// lacks that another source lists. Only releases count (no
// pseudo-versions, as the go command's proxy lists), and only those
// published more than o.LagGrace ago by the .info Time of the source that
// lists them (at most maxInfo .info reads per proxy and module, newest
// first: a mirror that has not yet fetched a tag of the last hour is not
// lagging). private are modules the go command never asks a proxy for
// (GONOPROXY/GOPRIVATE): not compared, said so. With fewer than two
// sources it returns one ok result saying that lag was not checked. A
// source whose list fails (an error, a 5xx) is left out of that module's
// comparison: the proxy check reports its failures.
func checkLag(ctx context.Context, o *Options, sources []source, modules, private []string) []Result {
	reported := 0
	for _, s := range sources {
		if s.report {
			reported++
		}
	}
	if reported == 0 {
		return nil
	}
	if len(sources) < 2 {
		return []Result{{Check: "lag", Target: redact.URL(sources[0].url), Status: OK,
			Message: i18n.T("not checked: one proxy in GOPROXY and no --compare URL to compare its lists with (gomirror doctor --compare URL)")}}
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
				code, status, body, err := get(lctx, s.client, s.url+"/"+escaped(m)+"/@v/list", maxList)
				l := listOf{latency: time.Since(start)}
				switch {
				case err != nil:
					l.why = listErr(err)
				case code == http.StatusOK:
					l.ok = true
					l.versions = releases(body)
				case code == http.StatusNotFound || code == http.StatusGone:
					l.ok = true
				default:
					l.why = i18n.T("%s", status)
				}
				lists[i][j] = l
			})
		}
	}
	wg.Wait()

	ages := &infoTimes{o: o, ctx: ctx, times: map[string]time.Time{}}
	var out []Result
	for i, s := range sources {
		if !s.report {
			continue
		}
		r := Result{Check: "lag", Target: redact.URL(s.url)}
		var lacks []string
		compared := 0
		for _, m := range private {
			r.Steps = append(r.Steps, skipped("list", i18n.T("%s: private (GONOPROXY/GOPRIVATE): the go command does not ask a proxy for it; not compared", m)))
		}
		for j, m := range modules {
			own := lists[i][j]
			if !own.ok {
				st := skipped("list", i18n.T("%s: the list could not be read (%s); not compared", m, own.why))
				st.Status = Warn
				r.Steps = append(r.Steps, st)
				continue
			}
			have := map[string]bool{}
			for _, v := range own.versions {
				have[v] = true
			}
			var missing []string
			lister := map[string]source{} // a source listing each missing version
			others := 0
			for k, other := range sources {
				if k == i || !lists[k][j].ok {
					continue
				}
				others++
				for _, v := range lists[k][j].versions {
					if !have[v] {
						have[v] = true
						missing = append(missing, v)
						lister[v] = other
					}
				}
			}
			if others == 0 {
				r.Steps = append(r.Steps, skipped("list", i18n.T("%s: no other proxy answered; not compared", m)))
				continue
			}
			compared++
			semver.Sort(missing)
			missing, recent := ages.old(m, missing, lister)
			st := Step{Name: "list", Status: OK, LatencyMS: float64(own.latency.Microseconds()) / 1000, latency: own.latency,
				Detail: i18n.T("%s: versions: %d, as many as the others list", m, len(own.versions))}
			if len(missing) > 0 {
				from := map[string]bool{}
				var froms []string
				for _, v := range missing {
					if u := redact.URL(lister[v].url); !from[u] {
						from[u] = true
						froms = append(froms, u)
					}
				}
				shown := strings.Join(missing, " ")
				if len(missing) > maxMissingShown {
					shown = strings.Join(missing[len(missing)-maxMissingShown:], " ") + fmt.Sprintf(" (+%d)", len(missing)-maxMissingShown)
				}
				st.Status = Warn
				st.Detail = i18n.T("%s: missing versions that %s list: %d: %s", m, strings.Join(froms, ", "), len(missing), shown)
				lacks = append(lacks, fmt.Sprintf("%s %s", m, shown))
			}
			if recent > 0 {
				st.Detail = i18n.T("%s; missing, published within %v (not counted): %d", st.Detail, o.LagGrace, recent)
			}
			r.Steps = append(r.Steps, st)
		}
		switch {
		case len(lacks) > 0:
			r.Status, r.Problem = Warn, "lagging"
			r.Message = i18n.T("lags behind the other proxies: its version lists lack %s", strings.Join(lacks, "; "))
			r.Fix = i18n.T("Through this proxy, go get M@latest and go get -u resolve to an older version, and a go get of a missing version fails (or, with '|' or ',' fallbacks, goes on to the next proxy): tell its operator that it is out of date, or put an up-to-date mirror first in GOPROXY (gomirror setup --fastest measures the public ones).")
		case compared == 0:
			r.Status, r.Message = OK, i18n.T("not compared: no list could be compared with another proxy's")
		default:
			r.Status, r.Message = OK, i18n.T("lists the same versions as the other proxies (modules compared: %d)", compared)
		}
		out = append(out, r)
	}
	return out
}

// maxInfo bounds the .info reads of the grace check per proxy and module.
const maxInfo = 3

// infoTimes reads (once each) the .info Time of versions from the source
// that lists them.
type infoTimes struct {
	o     *Options
	ctx   context.Context
	mu    sync.Mutex
	times map[string]time.Time // "M@V": zero when unknown
}

// old splits missing (sorted, oldest first) into those published longer
// ago than the grace period and a count of recent ones. It reads the
// .info of the newest missing versions, at most maxInfo of them: the
// first old one (or one whose time is unknown) and every older version
// count as missing.
func (a *infoTimes) old(mod string, missing []string, lister map[string]source) ([]string, int) {
	recent := 0
	for k := len(missing) - 1; k >= 0 && len(missing)-1-k < maxInfo; k-- {
		t := a.time(mod, missing[k], lister[missing[k]])
		if t.IsZero() || time.Since(t) > a.o.LagGrace {
			break
		}
		recent++
	}
	return missing[:len(missing)-recent], recent
}

func (a *infoTimes) time(mod, v string, s source) time.Time {
	key := mod + "@" + v
	a.mu.Lock()
	t, ok := a.times[key]
	a.mu.Unlock()
	if ok {
		return t
	}
	ctx, cancel := context.WithTimeout(a.ctx, a.o.Timeout)
	defer cancel()
	ev, err := module.EscapeVersion(v)
	if err != nil {
		return time.Time{}
	}
	code, _, body, err := get(ctx, s.client, s.url+"/"+escaped(mod)+"/@v/"+ev+".info", 16<<10)
	var info struct{ Time time.Time }
	if err != nil || code != http.StatusOK || json.Unmarshal(body, &info) != nil {
		info.Time = time.Time{}
	}
	a.mu.Lock()
	a.times[key] = info.Time
	a.mu.Unlock()
	return info.Time
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
