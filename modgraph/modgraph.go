// Package modgraph computes the requirement graph of a stored module
// version from stored .mod files only: what `go list -m all` lists for a
// main module whose go.mod is the stored go.mod of M@V.
//
// The algorithm is the go command's (cmd/go/internal/modload, readModGraph
// and expandGraph, with cmd/go/internal/mvs's Graph), re-done here on
// golang.org/x/mod:
//
//   - The roots are the main module's requirements, less the versions its
//     exclude directives name.
//   - Module graph pruning: when the main module's go version is 1.17 or
//     later, the graph is pruned: a root's go.mod is read, but the go.mod
//     files of what it requires are read only when the root itself is
//     unpruned (go < 1.17, or no go directive), in which case everything
//     below it is read transitively. When the main module is unpruned,
//     every reachable go.mod is read.
//   - The selected version of a path is the highest version any read
//     go.mod (of any version, selected or not) requires: minimal version
//     selection over the loaded graph. Requirements on excluded versions
//     are dropped wherever they appear.
//   - When a root is not at its selected version in a pruned graph, the
//     roots are moved to their selected versions and the graph is read
//     again until it is stable, as the go command's updatePrunedRoots
//     does (with -mod=mod; with -mod=readonly the go command would refuse
//     such a go.mod as needing updates).
//   - The main module's replace directives apply: a module replaced by
//     another module version has the replacement's stored go.mod read in
//     its place (the node keeps its own path and version, with the
//     replacement shown). A module replaced by a directory cannot be read
//     from the mirror: it is reported in Missing and its requirements are
//     unknown.
//
// Nothing is fetched: a needed .mod that is not stored is listed in
// Graph.Missing and the graph is then incomplete (it lacks what that go.mod
// would have added). The go and toolchain pseudo-modules are not shown,
// as `go list -m all` does not show them.
package modgraph

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"

	"github.com/gomirror/gomirror/layout"
	"github.com/gomirror/gomirror/storage"
)

// Reader is what Compute reads: a storage.Storage's Get and Stat.
type Reader interface {
	Get(ctx context.Context, key string) (*storage.Object, error)
	Stat(ctx context.Context, key string) (storage.Info, error)
}

var _ Reader = storage.Storage(nil)

// Limits bound the work of one Compute, whatever the stored go.mod files
// say. A zero field takes its default.
type Limits struct {
	// Loads is the most go.mod files read (default 5,000).
	Loads int
	// Edges is the most requirement edges kept (default 100,000).
	Edges int
	// ModBytes is the largest go.mod read (default 1 MiB); a larger one is
	// reported in Missing.
	ModBytes int64
	// Rounds is the most times the graph is read again to move roots to
	// their selected versions (default 20).
	Rounds int
	// TotalBytes is the most bytes of go.mod files read in all, the main
	// module's included (default 32 MiB): the graph is then Truncated.
	// Parsing is what a graph costs (about 37 ms for 1 MiB of comments),
	// so this bounds its time whatever the go.mod files hold.
	TotalBytes int64
}

func (l *Limits) setDefaults() {
	if l.Loads <= 0 {
		l.Loads = 5000
	}
	if l.Edges <= 0 {
		l.Edges = 100_000
	}
	if l.ModBytes <= 0 {
		l.ModBytes = 1 << 20
	}
	if l.Rounds <= 0 {
		l.Rounds = 20
	}
	if l.TotalBytes <= 0 {
		l.TotalBytes = 32 << 20
	}
}

// Mod is a module path and version. Version is empty for the main module
// in Edge.From, and for a directory replacement (whose Path is then the
// directory as the go.mod names it).
type Mod struct {
	Path    string `json:"path"`
	Version string `json:"version,omitempty"`
}

// Node is one module of the build list.
type Node struct {
	Path string `json:"path"`
	// Version is the selected version; the main module's is its stored
	// version.
	Version string `json:"version"`
	// Main marks the main module (the version the graph is computed for).
	Main bool `json:"main,omitempty"`
	// Replace is the main module's replacement of this version, if any.
	Replace *Mod `json:"replace,omitempty"`
	// Depth is the shortest number of requirement steps from the main
	// module (0 for it, 1 for its requirements), over every read go.mod.
	Depth int `json:"depth"`
	// ModStored says whether the .mod of Version (of its replacement, if
	// replaced) is stored. It may be stored but not read: Loaded.
	ModStored bool `json:"mod_stored"`
	// Loaded says whether the go.mod of the selected version was read:
	// pruning leaves the requirements of some modules unread, as the go
	// command does.
	Loaded bool `json:"loaded"`
}

// Edge is one requirement: From's go.mod requires To at Version. From may
// be a version that is not selected: its requirements count all the same.
type Edge struct {
	From    Mod    `json:"from"`
	To      string `json:"to"`
	Version string `json:"version"`
}

// Missing is a go.mod the go command would read that could not be read
// from storage: not stored, too large, replaced by a directory, or
// invalid.
type Missing struct {
	Path    string `json:"path"`
	Version string `json:"version"`
	Error   string `json:"error"`
}

// Graph is the requirement graph of a stored module version.
type Graph struct {
	Main Mod `json:"main"`
	// Go is the main module's go version ("" if its go.mod has none).
	Go string `json:"go"`
	// Pruned says whether module graph pruning applies (go 1.17 or later).
	Pruned bool `json:"pruned"`
	// Nodes is the build list: the main module first, then every other
	// selected module by path. This is what `go list -m all` lists.
	Nodes []Node `json:"nodes"`
	// Edges are the requirements of every go.mod read, by from and to.
	Edges []Edge `json:"edges"`
	// Missing lists the go.mod files that were needed but could not be
	// read. When it is not empty the graph is incomplete.
	Missing []Missing `json:"missing"`
	// Complete is true when nothing is missing and no limit was reached.
	Complete bool `json:"complete"`
	// Truncated names the limit reached, if one was: the graph is then
	// what was read until then.
	Truncated string `json:"truncated,omitempty"`
	// Replaces are the main module's replace directives, by old path and
	// version (an Old.Version of "" replaces every version): whose go.mod
	// the requirements in Edges of a replaced version come from.
	Replaces []Replace `json:"replaces,omitempty"`
}

// Replace is a replace directive of the main module's go.mod.
type Replace struct {
	Old Mod `json:"old"`
	New Mod `json:"new"`
}

// Pruning as in cmd/go: a module's go version decides how its
// requirements are followed.
type pruning uint8

const (
	pruned pruning = iota
	unpruned
)

// pruningFor returns the pruning of a go.mod with go version v: pruned
// from go 1.17 on, unpruned before and without a go directive.
func pruningFor(v string) pruning {
	if v == "" || compareGo(v, "1.17") < 0 {
		return unpruned
	}
	return pruned
}

// compareGo compares go versions by their numbers (1.21.3, 1.22rc1: the
// leading major.minor.patch numbers only; enough to place 1.17).
func compareGo(a, b string) int {
	pa, pb := goNumbers(a), goNumbers(b)
	return slices.Compare(pa, pb)
}

func goNumbers(v string) []int {
	out := make([]int, 0, 3)
	for part := range strings.SplitSeq(v, ".") {
		end := 0
		for end < len(part) && part[end] >= '0' && part[end] <= '9' {
			end++
		}
		n, err := strconv.Atoi(part[:end])
		if err != nil {
			break
		}
		out = append(out, n)
		if end < len(part) || len(out) == 3 {
			break
		}
	}
	for len(out) < 3 {
		out = append(out, 0)
	}
	return out
}

// summary is what the graph needs of one go.mod.
type summary struct {
	require []module.Version
	pruning pruning
}

// computer holds one Compute's state.
type computer struct {
	ctx     context.Context
	st      Reader
	lim     Limits
	main    module.Version
	exclude map[module.Version]bool
	replace map[module.Version]module.Version // Old (Version "" for all versions) to New

	summaries map[module.Version]*summary // read go.mod files (nil: failed)
	missing   map[module.Version]string   // why a go.mod could not be read
	loads     int                         // go.mod files read
	reqs      int                         // requirements held in summaries
	truncated string
	budget    *budget
}

// budget is the bytes of go.mod files one Compute may still read; the
// prefetch's goroutines take from it concurrently.
type budget struct {
	left atomic.Int64
}

// errBudget is a go.mod not read because the bytes limit was reached.
var errBudget = errors.New("go.mod bytes limit reached")

// take reserves n bytes, or fails with errBudget when fewer are left.
func (b *budget) take(n int64) error {
	if b.left.Add(-n) < 0 {
		return errBudget
	}
	return nil
}

// graph is one reading of the module graph from a set of roots: the
// loaded part of the go command's mvs.Graph.
type graph struct {
	required map[module.Version][]module.Version // loaded versions
	selected map[string]string
	order    []module.Version // loaded versions, in load order
	failed   []module.Version // versions whose go.mod this reading needed and could not read
}

// mainKey is the main module in a graph: version "", as in cmd/go, so
// that a dependency's requirement on the main module's path at some
// version is a module version of its own.
func (c *computer) mainKey() module.Version { return module.Version{Path: c.main.Path} }

// Compute returns the requirement graph of m, stored, as the main module:
// see the package documentation. Its error wraps fs.ErrNotExist when m's
// .mod is not stored, and is ctx's when ctx ends (never a graph read in
// part, shown as complete); missing dependencies are not errors but
// Graph.Missing. A storage error other than "not found" is an error.
func Compute(ctx context.Context, st Reader, m module.Version, lim Limits) (*Graph, error) {
	lim.setDefaults()
	if err := module.Check(m.Path, m.Version); err != nil {
		return nil, err
	}
	b := &budget{}
	b.left.Store(lim.TotalBytes)
	data, err := readMod(ctx, st, m, lim.ModBytes, b)
	if err != nil {
		return nil, err
	}
	f, err := modfile.Parse(m.Path+"@"+m.Version+"/go.mod", data, nil)
	if err != nil {
		return nil, fmt.Errorf("%s@%s: %w", m.Path, m.Version, err)
	}
	c := &computer{ctx: ctx, st: st, lim: lim, main: m, budget: b,
		exclude: map[module.Version]bool{}, replace: map[module.Version]module.Version{},
		summaries: map[module.Version]*summary{}, missing: map[module.Version]string{}}
	for _, x := range f.Exclude {
		c.exclude[x.Mod] = true
	}
	for _, r := range f.Replace {
		c.replace[r.Old] = r.New
	}
	goVersion := ""
	if f.Go != nil {
		goVersion = f.Go.Version
	}
	mainPruning := pruningFor(goVersion)
	var roots []module.Version
	for _, r := range f.Require {
		if c.exclude[r.Mod] {
			continue // the go command drops a requirement on an excluded version
		}
		roots = append(roots, r.Mod)
	}

	g := c.read(roots, mainPruning)
	if mainPruning == pruned {
		// expandGraph / updatePrunedRoots: each root at its selected
		// version, read again until nothing moves.
		for round := 0; round < lim.Rounds && c.truncated == "" && ctx.Err() == nil; round++ {
			next, moved := make([]module.Version, 0, len(roots)), false
			seen := map[string]bool{m.Path: true} // a root on the main module's path is dropped
			for _, r := range roots {
				if seen[r.Path] {
					moved = true // a redundant root is dropped
					continue
				}
				seen[r.Path] = true
				v := g.selected[r.Path]
				next = append(next, module.Version{Path: r.Path, Version: v})
				moved = moved || v != r.Version
			}
			if !moved {
				break
			}
			roots = next
			g = c.read(roots, mainPruning)
			if round == lim.Rounds-1 {
				c.truncated = fmt.Sprintf("roots still moving after %d rounds", lim.Rounds)
			}
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out, err := c.result(g, goVersion, mainPruning == pruned)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// read is readModGraph: the graph read from roots with the main module's
// pruning.
func (c *computer) read(roots []module.Version, mainPruning pruning) *graph {
	g := &graph{required: map[module.Version][]module.Version{}, selected: map[string]string{}}
	g.require(c.mainKey(), roots)
	type key struct {
		m module.Version
		p pruning
	}
	enqueued := map[key]bool{}
	queue := make([]key, 0, len(roots))
	for _, r := range roots {
		queue = append(queue, key{r, mainPruning})
		enqueued[key{r, mainPruning}] = true
	}
	// A FIFO queue where cmd/go runs a parallel one: the graph read does
	// not depend on the order. The go.mod files are read ahead, several at
	// once (prefetch), then taken in queue order.
	for len(queue) > 0 && c.truncated == "" {
		if c.ctx.Err() != nil {
			return g
		}
		if _, ok := c.summaries[queue[0].m]; !ok {
			ms := make([]module.Version, len(queue))
			for i, k := range queue {
				ms[i] = k.m
			}
			c.prefetch(ms)
		}
		k := queue[0]
		queue = queue[1:]
		s := c.load(k.m)
		if s == nil {
			if _, ok := c.missing[k.m]; ok && !slices.Contains(g.failed, k.m) {
				g.failed = append(g.failed, k.m)
			}
			continue
		}
		if _, done := g.required[k.m]; !done {
			g.require(k.m, s.require)
		}
		next := s.pruning
		if k.p == unpruned {
			next = unpruned
		}
		for _, r := range s.require {
			if k.p != pruned || s.pruning == unpruned {
				nk := key{r, next}
				if !enqueued[nk] {
					enqueued[nk] = true
					queue = append(queue, nk)
				}
			}
		}
	}
	return g
}

// require records that m (loaded) requires reqs, and raises the selected
// versions.
func (g *graph) require(m module.Version, reqs []module.Version) {
	g.required[m] = reqs
	g.order = append(g.order, m)
	for _, r := range reqs {
		if cur, ok := g.selected[r.Path]; !ok || semver.Compare(cur, r.Version) < 0 {
			g.selected[r.Path] = r.Version
		}
	}
}

// load returns the summary of m's go.mod (read from its replacement's, if
// replaced), excluded requirements dropped; nil if it cannot be read,
// which is then recorded in c.missing.
func (c *computer) load(m module.Version) *summary {
	if s, ok := c.summaries[m]; ok {
		return s
	}
	if c.loads >= c.lim.Loads {
		c.truncated = fmt.Sprintf("more than %d go.mod files to read", c.lim.Loads)
		return nil
	}
	s, err := c.loadUncached(m)
	return c.keep(m, s, err)
}

// keep records the outcome of reading m's go.mod and returns the summary
// to use (nil if it failed or a limit was reached). A go.mod not read
// because ctx ended or the bytes limit was reached is not missing: ctx's
// end fails Compute, the limit truncates the graph.
func (c *computer) keep(m module.Version, s *summary, err error) *summary {
	if c.ctx.Err() != nil && err != nil {
		return nil // not recorded: Compute fails with ctx's error
	}
	if errors.Is(err, errBudget) {
		if c.truncated == "" {
			c.truncated = fmt.Sprintf("more than %d bytes of go.mod files to read", c.lim.TotalBytes)
		}
		return nil
	}
	c.loads++
	if err != nil {
		c.missing[m] = err.Error()
		s = nil
	}
	if s != nil {
		if c.reqs += len(s.require); c.reqs > c.lim.Edges {
			c.truncated = fmt.Sprintf("more than %d requirements", c.lim.Edges)
			s = nil
		}
	}
	c.summaries[m] = s
	return s
}

// Reading ahead: at most prefetchBatch go.mod files at a time, by
// prefetchWorkers goroutines (storage round trips, on S3, overlap).
const (
	prefetchBatch   = 64
	prefetchWorkers = 8
)

// prefetch reads the go.mod files of the first versions of ms not read
// yet, concurrently, and keeps them in ms's order (so limits are reached
// as a sequential read would reach them).
func (c *computer) prefetch(ms []module.Version) {
	var todo []module.Version
	seen := map[module.Version]bool{}
	room := min(prefetchBatch, c.lim.Loads-c.loads)
	for _, m := range ms {
		if len(todo) >= room {
			break
		}
		if _, ok := c.summaries[m]; !ok && !seen[m] {
			seen[m] = true
			todo = append(todo, m)
		}
	}
	type result struct {
		s   *summary
		err error
	}
	results := make([]result, len(todo))
	var wg sync.WaitGroup
	next := make(chan int)
	for range min(prefetchWorkers, len(todo)) {
		wg.Go(func() {
			for i := range next {
				if err := c.ctx.Err(); err != nil {
					results[i] = result{nil, err}
					continue
				}
				s, err := c.loadUncached(todo[i])
				results[i] = result{s, err}
			}
		})
	}
	sent := 0
feed:
	for ; sent < len(todo); sent++ {
		select {
		case next <- sent:
		case <-c.ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	for i := range todo[:sent] {
		c.keep(todo[i], results[i].s, results[i].err)
	}
}

func (c *computer) loadUncached(m module.Version) (*summary, error) {
	actual := m
	if r, ok := c.replacement(m); ok {
		if r.Version == "" {
			return nil, fmt.Errorf("replaced by directory %s, which the mirror cannot read", r.Path)
		}
		actual = r
	}
	if err := module.Check(actual.Path, actual.Version); err != nil {
		return nil, err
	}
	data, err := readMod(c.ctx, c.st, actual, c.lim.ModBytes, c.budget)
	if err != nil {
		return nil, err
	}
	// Dependencies' go.mod files are read leniently, as the go command
	// reads them: unknown directives and non-main directives are ignored.
	f, err := modfile.ParseLax(actual.Path+"@"+actual.Version+"/go.mod", data, nil)
	if err != nil {
		return nil, err
	}
	if f.Module == nil || f.Module.Mod.Path == "" {
		return nil, errors.New("go.mod has no module line")
	}
	if p := f.Module.Mod.Path; p != m.Path && p != actual.Path {
		return nil, fmt.Errorf("go.mod declares its path as %s but was required as %s", p, m.Path)
	}
	s := &summary{pruning: unpruned}
	if f.Go != nil {
		s.pruning = pruningFor(f.Go.Version)
	}
	for _, r := range f.Require {
		if !c.exclude[r.Mod] {
			s.require = append(s.require, r.Mod)
		}
	}
	return s, nil
}

// replacement returns the main module's replacement of m: of m's version
// if there is one, else of all versions of m's path.
func (c *computer) replacement(m module.Version) (module.Version, bool) {
	if r, ok := c.replace[m]; ok {
		return r, true
	}
	r, ok := c.replace[module.Version{Path: m.Path}]
	return r, ok
}

// readMod reads m's stored .mod, at most max bytes, taken from b.
func readMod(ctx context.Context, st Reader, m module.Version, max int64, b *budget) ([]byte, error) {
	key, err := layout.Key(m, layout.Mod)
	if err != nil {
		return nil, err
	}
	obj, err := st.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	defer obj.Body.Close()
	if obj.Size > max {
		return nil, fmt.Errorf("go.mod of %d bytes is over the limit of %d", obj.Size, max)
	}
	// The size is reserved from the budget, and is the most read: a body
	// longer than its size is refused.
	size := obj.Size
	if size < 0 {
		size = max
	}
	if err := b.take(size); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(obj.Body, size+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > size {
		return nil, fmt.Errorf("go.mod is longer than its size of %d bytes", size)
	}
	return data, nil
}

// result builds the Graph of g. Its error is the storage's (ctx's, or
// another than "not found") when a node's .mod could not be looked up.
func (c *computer) result(g *graph, goVersion string, isPruned bool) (*Graph, error) {
	out := &Graph{Main: Mod{c.main.Path, c.main.Version}, Go: goVersion, Pruned: isPruned,
		Nodes: []Node{}, Edges: []Edge{}, Missing: []Missing{}, Truncated: c.truncated}
	for o, n := range c.replace {
		out.Replaces = append(out.Replaces, Replace{Mod{o.Path, o.Version}, Mod{n.Path, n.Version}})
	}
	slices.SortFunc(out.Replaces, func(a, b Replace) int { return cmpMods(a.Old, b.Old, "", "") })

	// Depth: breadth first over every loaded version.
	depth := map[string]int{c.main.Path: 0}
	seen := map[module.Version]bool{c.mainKey(): true}
	frontier := []module.Version{c.mainKey()}
	for d := 1; len(frontier) > 0; d++ {
		var next []module.Version
		for _, m := range frontier {
			for _, r := range g.required[m] {
				if seen[r] {
					continue
				}
				seen[r] = true
				if _, ok := depth[r.Path]; !ok {
					depth[r.Path] = d
				}
				next = append(next, r)
			}
		}
		frontier = next
	}

	out.Nodes = append(out.Nodes, Node{Path: c.main.Path, Version: c.main.Version, Main: true, ModStored: true, Loaded: true})
	paths := make([]string, 0, len(g.selected))
	for p := range g.selected {
		if p != c.main.Path {
			paths = append(paths, p)
		}
	}
	slices.Sort(paths)
	for _, p := range paths {
		m := module.Version{Path: p, Version: g.selected[p]}
		n := Node{Path: p, Version: m.Version, Depth: depth[p]}
		_, n.Loaded = g.required[m]
		actual := m
		if r, ok := c.replacement(m); ok {
			n.Replace = &Mod{r.Path, r.Version}
			actual = r
		}
		if n.Loaded {
			// Read from storage: stored.
			n.ModStored = true
		} else if actual.Version != "" {
			if key, err := layout.Key(actual, layout.Mod); err == nil {
				_, err := c.st.Stat(c.ctx, key)
				if err != nil && !errors.Is(err, fs.ErrNotExist) {
					return nil, err
				}
				n.ModStored = err == nil
			}
		}
		out.Nodes = append(out.Nodes, n)
	}

	for _, m := range g.order {
		from := Mod{m.Path, m.Version}
		if m == c.mainKey() {
			from.Version = c.main.Version
		}
		for _, r := range g.required[m] {
			if len(out.Edges) >= c.lim.Edges {
				if out.Truncated == "" {
					out.Truncated = fmt.Sprintf("more than %d requirements", c.lim.Edges)
				}
				break
			}
			out.Edges = append(out.Edges, Edge{From: from, To: r.Path, Version: r.Version})
		}
	}
	slices.SortFunc(out.Edges, func(a, b Edge) int {
		return cmpMods(a.From, b.From, a.To, b.To)
	})

	// Only what the last reading of the graph needed: a go.mod of a
	// version an earlier round needed and then moved away from is not.
	for _, m := range g.failed {
		out.Missing = append(out.Missing, Missing{m.Path, m.Version, c.missing[m]})
	}
	slices.SortFunc(out.Missing, func(a, b Missing) int {
		return cmpMods(Mod{a.Path, a.Version}, Mod{b.Path, b.Version}, "", "")
	})
	out.Complete = len(out.Missing) == 0 && out.Truncated == ""
	return out, nil
}

func cmpMods(a, b Mod, ta, tb string) int {
	if c := strings.Compare(a.Path, b.Path); c != 0 {
		return c
	}
	if c := semver.Compare(a.Version, b.Version); c != 0 {
		return c
	}
	return strings.Compare(ta, tb)
}
