package console

import (
	"html/template"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"

	"github.com/gomirror/gomirror/api"
	"github.com/gomirror/gomirror/modgraph"
	"github.com/gomirror/gomirror/modinfo"
	"github.com/gomirror/gomirror/vulndb"
)

// The pages of a stored version: GET /ui/modules/{module}/@v/{version}
// (versionPage) and GET /ui/modules/{module}/@v/{version}/graph
// (graphPage). ServeMux patterns cannot put a wildcard of many segments in
// the middle, so module splits the path as the API does: no element of a
// module path starts with "@".

// versionOf splits the rest of a /ui/modules/ path into a checked module
// version (api.CheckVersion) and whether its graph is asked for; ok is
// false when rest names no version (a module page).
func versionOf(rest string) (m module.Version, graph, ok bool, err error) {
	p, tail, ok := strings.Cut(rest, "/@v/")
	if !ok {
		return m, false, false, nil
	}
	v, graph := strings.CutSuffix(tail, "/graph")
	m, err = api.CheckVersion(p, v)
	return m, graph, true, err
}

// badParam is a malformed query parameter of a page: 400 (api.StatusOf).
type badParam string

func (e badParam) Error() string    { return string(e) }
func (e badParam) BadRequest() bool { return true }

// versionData is a version page's.
type versionData struct {
	*modinfo.Details
	Downloads int64 // over StatsDays, for operators (Counted)
	Counted   bool
	StatsDays int
	Size      int64 // of every file
	// Advisories affecting the version (the vulnerability database);
	// VulnsShown says the database is there, VulnsError why they are
	// unknown.
	Advisories []vulndb.Advisory
	VulnsShown bool
	VulnsError string
}

// versionPage answers GET /ui/modules/{module}/@v/{version}: the version's
// files, marks, go.mod, README (as text) and licenses (api.Service.Version).
func (c *Console) versionPage(w http.ResponseWriter, r *http.Request, v *viewer, m module.Version) {
	d, err := c.opts.API.Version(r.Context(), m)
	if err != nil {
		c.fail(w, r, v, err)
		return
	}
	vd := versionData{Details: d, StatsDays: moduleStatsDays}
	for _, f := range d.Files {
		vd.Size += f.Size
	}
	if v.Admin { // counts of every client's downloads
		st, err := c.opts.API.ModuleStats(r.Context(), m.Path, c.opts.API.LastDays(moduleStatsDays))
		if err == nil {
			var n int64
			for _, day := range st.Days {
				if day.Version == m.Version {
					n += day.Downloads
				}
			}
			vd.Downloads, vd.Counted = n, true
		}
	}
	if c.opts.Vulns != nil {
		vd.VulnsShown = true
		if vd.Advisories, err = c.opts.Vulns.Vulns(r.Context(), m); err != nil {
			vd.VulnsError = vulnsError(err)
		}
	}
	c.render(w, r, http.StatusOK, v, "version", "Module version", vd, "")
}

// graphData is a graph page's.
type graphData struct {
	*modgraph.Graph
	Root     *treeNode
	Complete bool // nothing missing from what the viewer sees, no limit reached
	Client   bool // a client token's view: what only unreadable go.mod files say is left out
	Shown    int  // nodes shown after the filters
	Total    int  // nodes the viewer may see
	MaxDepth int  // of the tree the viewer may see
	Depth    int  // the depth filter; -1 for none
	Depths   []int
	Q        string
	Missing  []modgraph.Missing // of the modules the viewer sees
}

// treeNode is a module of the build list in the requirement tree: each
// module appears once, under the first module (breadth first, by path)
// whose go.mod requires it, at its depth (modgraph.Node.Depth). Its fields
// are flat, what the template shows worked out here: the tree is most of
// the page's rendering time.
type treeNode struct {
	Path, Version string
	Replace       *modgraph.Mod
	Children      []*treeNode
	Link          bool         // the viewer may read it and its .mod is stored: a link to its version page
	Href          template.URL // of its module page, when the viewer may read it and a version of it is stored
	Match         bool         // matches the search
	Level         int          // depth in the tree
	GoList        string       // the node as a line of `go list -m all`
	Mark          string       // its mark (main module, go.mod not stored, ...), in the page's language
	MarkClass     string

	main     bool
	readable bool // the viewer may read its go.mod (and its replacement's)
	stored   bool // its go.mod (its replacement's) is stored
	loaded   bool // its go.mod was read
	missing  bool // its go.mod could not be read
	actual   string
}

// graphLabels are the marks of the tree's nodes, in the page's language.
type graphLabels struct{ Main, NoMod, Pruned, NotNeeded, Unreadable string }

// mark sets n's mark.
func (n *treeNode) mark(l *graphLabels) {
	switch {
	case n.main:
		n.Mark = l.Main
	case !n.readable:
		n.Mark = l.Unreadable
	case n.missing:
		n.Mark, n.MarkClass = l.NoMod, "missing"
	case !n.loaded && !n.stored: // pruning did not need it: nothing is missing
		n.Mark, n.MarkClass = l.NotNeeded, "pruned"
	case !n.stored:
		n.Mark, n.MarkClass = l.NoMod, "missing"
	case !n.loaded:
		n.Mark, n.MarkClass = l.Pruned, "pruned"
	}
}

// maxGraphDepth bounds the depth filter.
const maxGraphDepth = 100

// maxModuleLookups bounds the look-ups of a graph page for modules whose
// go.mod of the selected version is not stored, to link to their module
// page when another version is.
const maxModuleLookups = 64

// graphPage answers GET /ui/modules/{module}/@v/{version}/graph?depth=&q=:
// the requirement graph of the version (api.Service.Graph) as a tree, cut
// at depth and narrowed to the modules whose path contains q (with the
// modules above them), without script.
//
// A client token sees only the graph of a version it may read, and in it
// only what go.mod files it may read say (buildTree): the requirements of
// a module it may not read, or whose replacement it may not read, are not
// followed, and that module is shown as a name, without a link; versions
// are those its readable go.mod files select; the status and the missing
// go.mod files are of what it sees; nothing tells how much is left out.
func (c *Console) graphPage(w http.ResponseWriter, r *http.Request, v *viewer, m module.Version) {
	g, err := c.opts.API.Graph(r.Context(), m)
	if err != nil {
		c.fail(w, r, v, err)
		return
	}
	may := func(path string) bool { return v.Admin || c.opts.Auth.MayRead(v.Name, path) }
	q := r.URL.Query()
	gd := graphData{Graph: g, Depth: -1, Q: strings.TrimSpace(q.Get("q")), Client: !v.Admin}
	if s := q.Get("depth"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 || n > maxGraphDepth {
			c.fail(w, r, v, badParam("parameter depth: want a number from 0 to "+strconv.Itoa(maxGraphDepth)))
			return
		}
		gd.Depth = n
	}
	missing := map[string]bool{}
	for _, ms := range g.Missing {
		missing[ms.Path+"@"+ms.Version] = true
	}
	gd.Root, gd.Total = buildTree(g, v.Admin, may, missing)
	seen := map[string]bool{} // the go.mod files of the modules the viewer may read
	lookups := 0
	walk(gd.Root, func(n *treeNode) {
		if n.readable {
			seen[n.actual] = true
		}
		if n.Href == "" && n.readable && n.Replace == nil && !n.main && lookups < maxModuleLookups && module.CheckPath(n.Path) == nil {
			lookups++ // another stored version: its module page exists
			if _, err := c.opts.API.ModuleMarks(r.Context(), n.Path); err == nil {
				n.Href = template.URL("/ui/modules/" + n.Path)
			}
		}
	})
	for _, ms := range g.Missing {
		if v.Admin || seen[ms.Path+"@"+ms.Version] {
			gd.Missing = append(gd.Missing, ms)
		}
	}
	gd.Complete = len(gd.Missing) == 0 && g.Truncated == ""
	if v.Admin {
		gd.Complete = g.Complete
	}
	walk(gd.Root, func(n *treeNode) { gd.MaxDepth = max(gd.MaxDepth, n.Level) })
	for i := 1; i <= gd.MaxDepth; i++ {
		gd.Depths = append(gd.Depths, i)
	}
	gd.Shown = filterTree(gd.Root, gd.Depth, strings.ToLower(gd.Q))
	_, p := c.language(r)
	labels := &graphLabels{Main: p.Sprintf("main module"), NoMod: p.Sprintf("go.mod not stored"),
		Pruned: p.Sprintf("requirements not read (pruned)"), NotNeeded: p.Sprintf("requirements not needed (pruned)"),
		Unreadable: p.Sprintf("not readable with your token")}
	walk(gd.Root, func(n *treeNode) { n.mark(labels) })
	c.render(w, r, http.StatusOK, v, "graph", "Requirement graph", gd, "")
}

// buildTree returns the spanning tree of g's build list: breadth first
// from the main module over the requirements of every go.mod read (as
// modgraph computes Node.Depth); and the number of nodes in it.
//
// Unless all (an operator, who sees every module: those that no
// requirement reaches, g.Edges truncated, are put under the main module
// at their depth), the tree is what the go.mod files the viewer may read
// say: the requirements of a version are followed only if may allows its
// path and, when the main module replaces it by another module, the
// replacement's path (whose go.mod they come from); modules reached only
// otherwise are left out; and each module's version is the highest that
// a followed go.mod requires (minimal version selection over what the
// viewer may read), not one raised by a go.mod it may not read.
func buildTree(g *modgraph.Graph, all bool, may func(string) bool, missing map[string]bool) (*treeNode, int) {
	if len(g.Nodes) == 0 {
		return &treeNode{Path: g.Main.Path, Version: g.Main.Version, main: true, readable: true}, 0
	}
	replacement := func(path, version string) *modgraph.Mod {
		var any *modgraph.Mod
		for i, r := range g.Replaces {
			if r.Old.Path == path && r.Old.Version == version {
				return &g.Replaces[i].New
			}
			if r.Old.Path == path && r.Old.Version == "" {
				any = &g.Replaces[i].New
			}
		}
		return any
	}
	readable := func(path, version string) bool {
		if all {
			return true
		}
		if !may(path) {
			return false
		}
		r := replacement(path, version)
		return r == nil || r.Version == "" || may(r.Path) // a directory's go.mod is never read
	}
	nodes := map[string]*treeNode{}
	byPath := map[string]modgraph.Node{}
	for _, n := range g.Nodes {
		nodes[n.Path] = &treeNode{Path: n.Path, main: n.Main}
		byPath[n.Path] = n
	}
	root := nodes[g.Nodes[0].Path]
	// The requirements of each version read, in the order of g.Edges
	// (by path and version).
	type key struct{ path, version string }
	reqs := map[key][]key{}
	for _, e := range g.Edges {
		from := key{e.From.Path, e.From.Version}
		reqs[from] = append(reqs[from], key{e.To, e.Version})
	}
	placed := map[string]bool{root.Path: true}
	rootKey := key{root.Path, g.Nodes[0].Version}
	seen := map[key]bool{rootKey: true}
	selected := map[string]string{} // the highest version reached of each path
	frontier := []key{rootKey}
	count := 1
	for level := 1; len(frontier) > 0; level++ {
		var next []key
		for _, k := range frontier {
			parent := nodes[k.path]
			if parent == nil || (k != rootKey && !readable(k.path, k.version)) {
				continue // its go.mod is not the viewer's to see
			}
			for _, r := range reqs[k] {
				if semver.Compare(r.version, selected[r.path]) > 0 {
					selected[r.path] = r.version
				}
				if seen[r] {
					continue
				}
				seen[r] = true
				next = append(next, r)
				if n := nodes[r.path]; n != nil && !placed[r.path] {
					placed[r.path] = true
					n.Level = level
					parent.Children = append(parent.Children, n)
					count++
				}
			}
		}
		frontier = next
	}
	if all { // reached by no requirement shown: the edges were truncated
		for _, n := range g.Nodes[1:] {
			if !placed[n.Path] {
				tn := nodes[n.Path]
				tn.Level = max(1, n.Depth)
				root.Children = append(root.Children, tn)
				count++
			}
		}
	}
	walk(root, func(tn *treeNode) {
		n := byPath[tn.Path]
		tn.Version, tn.Replace, tn.stored, tn.loaded = n.Version, n.Replace, n.ModStored, n.Loaded
		if v := selected[tn.Path]; !all && !n.Main && v != n.Version && v != "" {
			// Selected higher by a go.mod the viewer may not read.
			_, read := reqs[key{tn.Path, v}]
			tn.Version, tn.Replace, tn.stored, tn.loaded = v, replacement(tn.Path, v), read, read
		}
		tn.readable = n.Main || readable(tn.Path, tn.Version)
		tn.GoList = tn.Path
		if !n.Main {
			tn.GoList += " " + tn.Version
		}
		tn.actual = tn.Path + "@" + tn.Version
		if tn.Replace != nil {
			tn.GoList += " => " + strings.TrimSpace(tn.Replace.Path+" "+tn.Replace.Version)
			tn.actual = tn.Replace.Path + "@" + tn.Replace.Version
		}
		tn.missing = tn.readable && missing[tn.actual]
		tn.Link = tn.readable && tn.stored && tn.Replace == nil && module.CheckPath(tn.Path) == nil
		if tn.Link { // a checked path: letters, digits, "-._~/", nothing to escape
			tn.Href = template.URL("/ui/modules/" + tn.Path)
		}
		sort.Slice(tn.Children, func(i, j int) bool { return tn.Children[i].Path < tn.Children[j].Path })
	})
	return root, count
}

// walk calls f on n and everything below it, depth first.
func walk(n *treeNode, f func(*treeNode)) {
	f(n)
	for _, ch := range n.Children {
		walk(ch, f)
	}
}

// filterTree cuts the tree below depth (if depth >= 0) and, if q is not
// empty, keeps only the modules whose path contains q (lower case) and the
// modules above them, marking the matches. It returns the number of nodes
// kept, n included.
func filterTree(n *treeNode, depth int, q string) int {
	n.Match = q != "" && strings.Contains(strings.ToLower(n.Path), q)
	var kept []*treeNode
	count := 1
	for _, ch := range n.Children {
		if depth >= 0 && ch.Level > depth {
			continue
		}
		k := filterTree(ch, depth, q)
		if q != "" && !ch.Match && len(ch.Children) == 0 {
			continue
		}
		kept = append(kept, ch)
		count += k
	}
	n.Children = kept
	return count
}
