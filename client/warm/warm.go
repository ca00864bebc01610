package warm

import (
	"bufio"
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
	"github.com/gomirror/gomirror/layout"
)

// Fetch is one file to fetch from the mirror.
type Fetch struct {
	Mod  module.Version
	Kind layout.Kind // layout.Info, layout.Mod or layout.Zip
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
	Fetches []Fetch          // .info and .mod of each, .zip of those in the build list
}

// Resolve asks the go command, through mirror, for everything needed to
// build with the go.mod file gomod (its go.sum next to it is used if it
// exists); if gomod is empty, for the module@version arguments mods
// (golist.Load, with the requirement graph). Neither the go.mod nor the
// go.sum is changed.
func Resolve(ctx context.Context, g golist.GoCommand, mirror, gomod string, mods []string) (*Plan, error) {
	out, err := golist.Load(ctx, g, mirror, gomod, mods, true)
	if err != nil {
		return nil, err
	}
	return NewPlan(out.List, out.Graph, out.Replace)
}

// NewPlan makes a plan from the output of `go list -m -json all` and
// `go mod graph` and the main module's replacements.
func NewPlan(list, graph []byte, replace []*modfile.Replace) (*Plan, error) {
	// apply returns what m is replaced by; ok is false for a local directory.
	apply := func(m module.Version) (module.Version, bool) {
		var best *modfile.Replace
		for _, r := range replace {
			if r.Old.Path == m.Path && (r.Old.Version == m.Version || r.Old.Version == "" && best == nil) {
				best = r
			}
		}
		if best == nil {
			return m, true
		}
		return best.New, best.New.Version != ""
	}
	mods := map[module.Version]bool{} // to true if its zip is needed
	add := func(m module.Version, zip bool) {
		if m.Version == "" || m.Path == "go" || m.Path == "toolchain" {
			return
		}
		m, ok := apply(m)
		if ok {
			mods[m] = mods[m] || zip
		}
	}

	listed, err := golist.Modules(list)
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
				mods[module.Version{Path: r.Path, Version: r.Version}] = true
			}
			continue
		}
		add(module.Version{Path: lm.Path, Version: lm.Version}, true)
	}

	sc := bufio.NewScanner(bytes.NewReader(graph))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 {
			continue
		}
		if len(fields) != 2 {
			return nil, fmt.Errorf("unexpected go mod graph line %q", sc.Text())
		}
		for _, node := range fields {
			p, v, _ := strings.Cut(node, "@")
			add(module.Version{Path: p, Version: v}, false)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}

	plan := &Plan{}
	for m := range mods {
		plan.Modules = append(plan.Modules, m)
	}
	module.Sort(plan.Modules)
	for _, m := range plan.Modules {
		plan.Fetches = append(plan.Fetches, Fetch{m, layout.Info}, Fetch{m, layout.Mod})
		if mods[m] {
			plan.Fetches = append(plan.Fetches, Fetch{m, layout.Zip})
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
}

// Progress gets told about each fetch as it finishes. Calls may come from
// several goroutines at once.
type Progress interface {
	Done(f Fetch, bytes int64, err error)
}

// Run fetches every file of plan from mirror, jobs at a time (1 if less),
// and reports each one to progress (if not nil). The failures are sorted.
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
				if err != nil {
					sum.Failures = append(sum.Failures, Failure{f, err.Error()})
				} else {
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
	slices.SortFunc(sum.Failures, func(a, b Failure) int { return strings.Compare(a.Fetch.String(), b.Fetch.String()) })
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
		return 0, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
		msg := strings.TrimSpace(string(b))
		if i := strings.IndexByte(msg, '\n'); i >= 0 {
			msg = msg[:i]
		}
		if msg != "" {
			return 0, fmt.Errorf("%s: %s", resp.Status, msg)
		}
		return 0, errors.New(resp.Status)
	}
	n, err := io.Copy(io.Discard, resp.Body)
	if err != nil {
		return n, fmt.Errorf("reading body after %d bytes: %v", n, err)
	}
	return n, nil
}

// Reporter is a Progress writing to W: a bar redrawn in place if TTY,
// otherwise a line every Every fetches or Interval (whichever comes first,
// checked as fetches finish).
type Reporter struct {
	W        io.Writer
	Total    int
	TTY      bool
	Every    int           // lines: every this many fetches; 50 if 0
	Interval time.Duration // lines: at least this often while fetches finish; 5s if 0

	mu     sync.Mutex
	done   int
	failed int
	bytes  int64
	last   time.Time
	lastN  int
}

// Done implements Progress.
func (r *Reporter) Done(_ Fetch, n int64, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.done++
	r.bytes += n
	if err != nil {
		r.failed++
	}
	if r.TTY {
		const width = 30
		fill := width
		if r.Total > 0 {
			fill = width * r.done / r.Total
		}
		fmt.Fprintf(r.W, "\r[%s%s] %d/%d files, %s, %d failed", strings.Repeat("=", fill), strings.Repeat(" ", width-fill), r.done, r.Total, Bytes(r.bytes), r.failed)
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
		fmt.Fprintf(r.W, "warm: %d/%d files, %s, %d failed\n", r.done, r.Total, Bytes(r.bytes), r.failed)
		r.last, r.lastN = now, r.done
	}
}

// Bytes formats n for people: 512 B, 1.5 KiB, 3.2 MiB.
func Bytes(n int64) string { return humanize.IBytes(uint64(max(n, 0))) }
