package warm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dustin/go-humanize"
	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"

	"github.com/gomirror/gomirror/client/golist"
	"github.com/gomirror/gomirror/i18n"
	"github.com/gomirror/gomirror/internal/httpstatus"
	"github.com/gomirror/gomirror/internal/redact"
	"github.com/gomirror/gomirror/layout"
	"github.com/gomirror/gomirror/modgraph"
)

// Fetch is one file to fetch from the mirror.
type Fetch struct {
	Mod  module.Version
	Kind layout.Kind // layout.Info, layout.Mod or layout.Zip
	// Extra marks a file that neither `go mod download` nor `go build`
	// of the project fetches (a zip of the build list beyond those, asked
	// for with all): the upstream's refusal of it (Refused) is a warning,
	// not a failure.
	Extra bool
}

func (f Fetch) String() string { return f.Mod.Path + "@" + f.Mod.Version + " ." + f.Kind.String() }

// URL is the file's address under the mirror base URL: its GOPROXY URL
// path (layout.URLPath) under mirror.
func (f Fetch) URL(mirror string) (string, error) {
	rel, err := layout.URLPath(f.Mod, f.Kind)
	if err != nil {
		return "", err
	}
	return strings.TrimRight(mirror, "/") + "/" + rel, nil
}

// Plan is what Resolve found to fetch.
type Plan struct {
	Modules []module.Version // every module version in the graph, sorted
	// Fetches are the .info and .mod of each module, the .zip of those
	// the build downloads, and (with all) the .zip of the rest of the
	// build list, Extra.
	Fetches []Fetch
}

// Resolve asks the go command, through mirror, for everything needed to
// build with the go.mod file gomod (its go.sum next to it is used if it
// exists); if gomod is empty, for the module@version arguments mods:
// golist.LoadWith with the requirement graph and the downloads, and
// NewPlan. Neither the go.mod nor the go.sum is changed. A module the
// build needs that cannot be downloaded fails it.
func Resolve(ctx context.Context, g golist.GoCommand, mirror, gomod string, mods []string, all bool) (*Plan, error) {
	out, err := golist.LoadWith(ctx, g, mirror, gomod, mods, golist.Ask{Graph: true, Downloads: true})
	if err != nil {
		return nil, err
	}
	return NewPlan(out, all)
}

// NewPlan makes a plan from what the go command said (golist.LoadWith
// with Ask{Graph: true, Downloads: true}): the .info and .mod of every
// module of the requirement graph (`go mod graph`, read by
// modgraph.ParseGoModGraph) and of the build list
// (`go list -m all`), the .zip of every module that `go mod download`
// fetched (those `go build ./...` and `go test ./...` of the main
// module's packages need), and, if all, the .zip of every other module of
// the build list, Extra. The main module's replacements are applied (what
// a module is replaced by is fetched in its place); a module replaced by
// a local directory is skipped. It is the one owner of "what the build
// needs" for warm and snapshots.
func NewPlan(out *golist.Output, all bool) (*Plan, error) {
	// apply returns what m is replaced by; ok is false for a local directory.
	apply := func(m module.Version) (module.Version, bool) {
		var best *modfile.Replace
		for _, r := range out.Replace {
			if r.Old.Path == m.Path && (r.Old.Version == m.Version || r.Old.Version == "" && best == nil) {
				best = r
			}
		}
		if best == nil {
			return m, true
		}
		return best.New, best.New.Version != ""
	}
	// zip is how much a module's zip is wanted.
	type zip int
	const (
		noZip zip = iota
		extraZip
		neededZip
	)
	mods := map[module.Version]zip{}
	add := func(m module.Version, z zip) {
		if m.Version == "" || m.Path == "go" || m.Path == "toolchain" {
			return
		}
		m, ok := apply(m)
		if ok {
			mods[m] = max(mods[m], z)
		}
	}
	listZip := noZip
	if all {
		listZip = extraZip
	}

	listed, err := golist.Modules(out.List)
	if err != nil {
		return nil, err
	}
	for _, lm := range listed {
		if lm.Main {
			continue
		}
		// go list has applied the replacement already.
		if r := lm.Replace; r != nil {
			if r.Version != "" {
				m := module.Version{Path: r.Path, Version: r.Version}
				mods[m] = max(mods[m], listZip)
			}
			continue
		}
		add(module.Version{Path: lm.Path, Version: lm.Version}, listZip)
	}

	if len(bytes.TrimSpace(out.Graph)) > 0 {
		g, err := modgraph.ParseGoModGraph(out.Graph)
		if err != nil {
			return nil, err
		}
		for _, e := range g.Edges {
			add(module.Version{Path: e.From.Path, Version: e.From.Version}, noZip)
			add(module.Version{Path: e.To, Version: e.Version}, noZip)
		}
	}
	for _, m := range out.Downloads {
		add(m, neededZip)
	}

	plan := &Plan{}
	for m := range mods {
		plan.Modules = append(plan.Modules, m)
	}
	module.Sort(plan.Modules)
	for _, m := range plan.Modules {
		plan.Fetches = append(plan.Fetches, Fetch{Mod: m, Kind: layout.Info}, Fetch{Mod: m, Kind: layout.Mod})
		if z := mods[m]; z != noZip {
			plan.Fetches = append(plan.Fetches, Fetch{Mod: m, Kind: layout.Zip, Extra: z == extraZip})
		}
	}
	return plan, nil
}

// Failure is a fetch that did not get a 200 and the whole body.
type Failure struct {
	Fetch  Fetch
	Reason string
}

// Summary is what Run did.
type Summary struct {
	Modules  int   // module versions in the plan
	Files    int   // files fetched (status 200, whole body read)
	Bytes    int64 // bytes of those bodies
	Failures []Failure
	// Warnings are the Extra fetches the upstream refused (Refused): the
	// build does not need them.
	Warnings []Failure
}

// Refused reports whether a mirror's status says that the upstream does
// not have, or will not give, the file: 404 and 410 as the go command's
// proxy protocol reads them, and 403, which a mirror answers for an
// upstream's refusal.
func Refused(code int) bool {
	return code == http.StatusNotFound || code == http.StatusGone || code == http.StatusForbidden
}

// refused reports whether err is a refusal (Refused).
func refused(err error) bool {
	var st *httpstatus.Error
	return errors.As(err, &st) && Refused(st.Code)
}

// Progress gets told about each fetch as it finishes. Calls may come from
// several goroutines at once.
type Progress interface {
	Done(f Fetch, bytes int64, err error)
}

// Run fetches every file of plan from mirror, jobs at a time (1 if less),
// and reports each one to progress (if not nil). A refused Extra fetch is
// a warning, any other failed fetch a failure; both lists are sorted.
func Run(ctx context.Context, client *http.Client, mirror string, plan *Plan, jobs int, progress Progress) Summary {
	if client == nil {
		client = http.DefaultClient
	}
	jobs = max(jobs, 1)
	var (
		mu    sync.Mutex
		sum   = Summary{Modules: len(plan.Modules)}
		next  atomic.Int64
		wg    sync.WaitGroup
		fetch = plan.Fetches
	)
	for range min(jobs, len(fetch)) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(fetch) {
					return
				}
				f := fetch[i]
				n, err := get(ctx, client, mirror, f)
				mu.Lock()
				switch {
				case err != nil && f.Extra && refused(err):
					sum.Warnings = append(sum.Warnings, Failure{f, err.Error()})
				case err != nil:
					sum.Failures = append(sum.Failures, Failure{f, err.Error()})
				default:
					sum.Files++
					sum.Bytes += n
				}
				mu.Unlock()
				if progress != nil {
					progress.Done(f, n, err)
				}
			}
		})
	}
	wg.Wait()
	byFetch := func(a, b Failure) int { return strings.Compare(a.Fetch.String(), b.Fetch.String()) }
	slices.SortFunc(sum.Failures, byFetch)
	slices.SortFunc(sum.Warnings, byFetch)
	return sum
}

// get fetches one file and returns the size of its body.
func get(ctx context.Context, client *http.Client, mirror string, f Fetch) (int64, error) {
	u, err := f.URL(mirror)
	if err != nil {
		return 0, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, redact.Err(err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, redact.Err(err) // the mirror URL's userinfo is often a token
	}
	defer resp.Body.Close()
	if err := httpstatus.Check(resp); err != nil {
		return 0, err
	}
	n, err := io.Copy(io.Discard, resp.Body)
	if err != nil {
		return n, fmt.Errorf("reading body after %d bytes: %v", n, err)
	}
	return n, nil
}

// Reporter is a Progress writing to W in P's language (English if nil):
// a bar redrawn in place if TTY, otherwise a line every Every fetches or
// Interval (whichever comes first, checked as fetches finish). A refused
// Extra fetch counts as a warning, not as failed.
type Reporter struct {
	W        io.Writer
	P        *i18n.Printer
	Total    int
	TTY      bool
	Every    int           // lines: every this many fetches; 50 if 0
	Interval time.Duration // lines: at least this often while fetches finish; 5s if 0

	mu       sync.Mutex
	done     int
	failed   int
	warnings int
	bytes    int64
	last     time.Time
	lastN    int
}

// Done implements Progress.
func (r *Reporter) Done(f Fetch, n int64, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.P
	if p == nil {
		p = i18n.English()
	}
	r.done++
	r.bytes += n
	switch {
	case err != nil && f.Extra && refused(err):
		r.warnings++
	case err != nil:
		r.failed++
	}
	if r.TTY {
		const width = 30
		fill := width
		if r.Total > 0 {
			fill = width * r.done / r.Total
		}
		p.Fprintf(r.W, "\r[%s%s] %d/%d files, %s, failed: %d, warnings: %d", strings.Repeat("=", fill), strings.Repeat(" ", width-fill), r.done, r.Total, Bytes(r.bytes), r.failed, r.warnings)
		if r.done == r.Total {
			fmt.Fprintln(r.W)
		}
		return
	}
	every, interval := r.Every, r.Interval
	if every <= 0 {
		every = 50
	}
	if interval <= 0 {
		interval = 5 * time.Second
	}
	now := time.Now()
	if r.last.IsZero() {
		r.last = now
	}
	if r.done-r.lastN >= every || now.Sub(r.last) >= interval || r.done == r.Total {
		p.Fprintf(r.W, "warm: %d/%d files, %s, failed: %d, warnings: %d\n", r.done, r.Total, Bytes(r.bytes), r.failed, r.warnings)
		r.last, r.lastN = now, r.done
	}
}

// Bytes formats n for people: 512 B, 1.5 KiB, 3.2 MiB.
func Bytes(n int64) string { return humanize.IBytes(uint64(max(n, 0))) }
