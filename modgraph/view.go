package modgraph

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"
)

// This file is the requirement graph as the go command prints it (`go mod
// graph`) and the views `gomirror graph` draws of it: a Graph (the same
// type Compute returns from stored go.mod files) made by ParseGoModGraph,
// cut by View (depth, focus) into a Subgraph of module versions, written
// as Mermaid, DOT or JSON.

// maxGraphLine bounds one line of `go mod graph` output.
const maxGraphLine = 1 << 20

// ParseGoModGraph reads the output of `go mod graph`: lines of "from to",
// each a module path with "@version", but for the main module, which has
// no version. Its Nodes are the build list: the main module, then, by
// path, each module at its selected version, the highest the graph
// requires of it (minimal version selection over the graph the go
// command printed); each Node's Depth is the fewest requirement steps
// from the main module to any of its versions. Its Edges are every line
// but those of the go and toolchain pseudo-modules, by from and to.
// Replacements are not known from the graph alone: Replaces is empty.
func ParseGoModGraph(data []byte) (*Graph, error) {
	g := &Graph{Complete: true}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), maxGraphLine)
	mainPath := ""
	for n := 1; sc.Scan(); n++ {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 {
			continue
		}
		if len(fields) != 2 {
			return nil, fmt.Errorf("go mod graph line %d: want \"from to\", have %q", n, sc.Text())
		}
		from, err := parseVertex(fields[0])
		if err != nil {
			return nil, fmt.Errorf("go mod graph line %d: %v", n, err)
		}
		to, err := parseVertex(fields[1])
		if err != nil {
			return nil, fmt.Errorf("go mod graph line %d: %v", n, err)
		}
		if to.Version == "" {
			return nil, fmt.Errorf("go mod graph line %d: %s has no version", n, fields[1])
		}
		if from.Version == "" {
			if mainPath != "" && mainPath != from.Path {
				return nil, fmt.Errorf("go mod graph line %d: two main modules, %s and %s", n, mainPath, from.Path)
			}
			mainPath = from.Path
		}
		if pseudo(to.Path) || pseudo(from.Path) {
			if from.Version == "" && to.Path == "go" {
				g.Go = to.Version
			}
			continue
		}
		g.Edges = append(g.Edges, Edge{From: from, To: to.Path, Version: to.Version})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading go mod graph output: %v", err)
	}
	if mainPath == "" {
		return nil, fmt.Errorf("go mod graph output names no main module")
	}
	g.Main = Mod{Path: mainPath}
	g.Pruned = g.Go != "" && pruningFor(g.Go) == pruned
	slices.SortStableFunc(g.Edges, func(a, b Edge) int {
		return cmp.Or(cmpMods(a.From, b.From, "", ""), strings.Compare(a.To, b.To), semverCmp(a.Version, b.Version))
	})
	g.Edges = slices.Compact(g.Edges)

	// The selected versions and the depths (breadth first over versions).
	selected := map[string]string{}
	for _, e := range g.Edges {
		if v, ok := selected[e.To]; !ok || semver.Compare(e.Version, v) > 0 {
			selected[e.To] = e.Version
		}
	}
	depth := map[string]int{mainPath: 0}
	for v, d := range vertexDepths(g) {
		if old, ok := depth[v.Path]; !ok || d < old {
			depth[v.Path] = d
		}
	}
	g.Nodes = append(g.Nodes, Node{Path: mainPath, Main: true, Loaded: true})
	paths := make([]string, 0, len(selected))
	for p := range selected {
		if p != mainPath {
			paths = append(paths, p)
		}
	}
	slices.Sort(paths)
	for _, p := range paths {
		g.Nodes = append(g.Nodes, Node{Path: p, Version: selected[p], Depth: depth[p], Loaded: true})
	}
	return g, nil
}

// pseudo reports whether path is one of the go command's pseudo-modules
// (the go and toolchain lines of a go.mod).
func pseudo(path string) bool { return path == "go" || path == "toolchain" }

func parseVertex(s string) (Mod, error) {
	p, v, _ := strings.Cut(s, "@")
	if p == "" {
		return Mod{}, fmt.Errorf("%q: no module path", s)
	}
	return Mod{Path: p, Version: v}, nil
}

func semverCmp(a, b string) int { return cmp.Or(semver.Compare(a, b), strings.Compare(a, b)) }

// vertexDepths returns the fewest requirement steps from the main module
// to each module version reachable from it.
func vertexDepths(g *Graph) map[Mod]int {
	out := adjacency(g)
	depth := map[Mod]int{g.Main: 0}
	queue := []Mod{g.Main}
	for len(queue) > 0 {
		v := queue[0]
		queue = queue[1:]
		for _, w := range out[v] {
			if _, ok := depth[w]; !ok {
				depth[w] = depth[v] + 1
				queue = append(queue, w)
			}
		}
	}
	return depth
}

// adjacency returns each module version's requirements, in Edges' order.
func adjacency(g *Graph) map[Mod][]Mod {
	out := map[Mod][]Mod{}
	for _, e := range g.Edges {
		out[e.From] = append(out[e.From], Mod{Path: e.To, Version: e.Version})
	}
	return out
}

// View says which part of a graph to draw.
type View struct {
	// Depth, if positive, keeps the module versions at most Depth
	// requirement steps from the main module, and the requirements
	// between them.
	Depth int
	// Focus, if set, keeps only the requirement paths from the main
	// module to the module Focus names: a path (any of its versions) or
	// path@version. Who requires it, and through whom.
	Focus string
}

// Vertex is one module version of a Subgraph.
type Vertex struct {
	ID      string `json:"id"` // path@version; the main module's path
	Path    string `json:"path"`
	Version string `json:"version,omitempty"`
	Main    bool   `json:"main,omitempty"`
	// Selected marks the version of its path in the build list.
	Selected bool `json:"selected,omitempty"`
	Depth    int  `json:"depth"`
}

// Arc is one requirement of a Subgraph: the go.mod of From requires To.
type Arc struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// Subgraph is the part of a Graph a View keeps: the main module first,
// then module versions by path and version; arcs by from and to.
type Subgraph struct {
	Main     string   `json:"main"`
	Nodes    []Vertex `json:"nodes"`
	Edges    []Arc    `json:"edges"`
	Focus    string   `json:"focus,omitempty"`
	Depth    int      `json:"depth,omitempty"`
	Selected string   `json:"selected,omitempty"` // Focus's selected version
}

// NotInGraphError is returned by View for a Focus that names no module
// version of the view: none of the graph (At is 0), or only deeper than
// the view's Depth (At is the fewest requirement steps from the main
// module to it, beyond Depth).
type NotInGraphError struct {
	Focus string
	At    int // the focus's depth in the graph, beyond Depth; 0: not in the graph
	Depth int // the view's Depth
}

func (e *NotInGraphError) Error() string {
	if e.At > 0 {
		return fmt.Sprintf("%s is in the module graph at depth %d, beyond depth %d", e.Focus, e.At, e.Depth)
	}
	return e.Focus + " is not in the module graph"
}

func id(m Mod) string {
	if m.Version == "" {
		return m.Path
	}
	return m.Path + "@" + m.Version
}

// View returns the part of g that v keeps, over module versions (every
// version a go.mod requires is a vertex, selected or not).
func (g *Graph) View(v View) (*Subgraph, error) {
	selected := map[string]string{}
	for _, n := range g.Nodes {
		selected[n.Path] = n.Version
	}
	depth := vertexDepths(g)
	keep := func(m Mod) bool {
		d, ok := depth[m]
		return ok && (v.Depth <= 0 || d <= v.Depth)
	}
	sub := &Subgraph{Main: g.Main.Path, Focus: v.Focus, Depth: max(v.Depth, 0)}
	if v.Focus != "" {
		p, ver, _ := strings.Cut(v.Focus, "@")
		if err := module.CheckImportPath(p); err != nil {
			return nil, fmt.Errorf("--focus %q: %v", v.Focus, err)
		}
		sub.Selected = selected[p]
		// Backwards from every version of the focus to the main module.
		in := map[Mod][]Mod{}
		for from, tos := range adjacency(g) {
			for _, to := range tos {
				in[to] = append(in[to], from)
			}
		}
		onPath := map[Mod]bool{}
		var queue []Mod
		for m := range depth {
			if m.Path == p && (ver == "" || m.Version == ver) && keep(m) {
				onPath[m] = true
				queue = append(queue, m)
			}
		}
		if len(queue) == 0 {
			e := &NotInGraphError{Focus: v.Focus, Depth: v.Depth}
			for m, d := range depth {
				if m.Path == p && (ver == "" || m.Version == ver) && (e.At == 0 || d < e.At) {
					e.At = d
				}
			}
			return nil, e
		}
		for len(queue) > 0 {
			m := queue[0]
			queue = queue[1:]
			for _, from := range in[m] {
				if !onPath[from] && keep(from) {
					onPath[from] = true
					queue = append(queue, from)
				}
			}
		}
		inner := keep
		keep = func(m Mod) bool { return inner(m) && onPath[m] }
	}
	seen := map[Mod]bool{}
	add := func(m Mod) {
		if seen[m] {
			return
		}
		seen[m] = true
		sub.Nodes = append(sub.Nodes, Vertex{
			ID: id(m), Path: m.Path, Version: m.Version, Main: m == g.Main,
			Selected: m.Version != "" && selected[m.Path] == m.Version, Depth: depth[m],
		})
	}
	add(g.Main)
	for _, e := range g.Edges {
		to := Mod{Path: e.To, Version: e.Version}
		if !keep(e.From) || !keep(to) {
			continue
		}
		add(e.From)
		add(to)
		sub.Edges = append(sub.Edges, Arc{From: id(e.From), To: id(to)})
	}
	slices.SortFunc(sub.Nodes[1:], func(a, b Vertex) int {
		return cmp.Or(strings.Compare(a.Path, b.Path), semverCmp(a.Version, b.Version))
	})
	return sub, nil
}

// WriteJSON writes s as indented JSON, one object.
func (s *Subgraph) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(s)
}

// WriteMermaid writes s as a Mermaid flowchart (graph TD): a node per
// module version with an id of its own (n0 for the main module, then n1,
// n2... in Nodes' order) and its path@version as a quoted label, so that
// no module path can break the syntax; the main module in class main, the
// selected versions in class selected (drawn bold).
func (s *Subgraph) WriteMermaid(w io.Writer) error {
	var b strings.Builder
	b.WriteString("graph TD\n")
	ids := map[string]string{}
	for i, n := range s.Nodes {
		ids[n.ID] = "n" + strconv.Itoa(i)
		fmt.Fprintf(&b, "  %s[\"%s\"]\n", ids[n.ID], mermaidText(n.ID))
	}
	for _, e := range s.Edges {
		fmt.Fprintf(&b, "  %s --> %s\n", ids[e.From], ids[e.To])
	}
	b.WriteString("  classDef main fill:#e8f0fe,stroke:#1a73e8,stroke-width:2px\n")
	b.WriteString("  classDef selected font-weight:bold,stroke-width:2px\n")
	var sel []string
	for _, n := range s.Nodes {
		if n.Main {
			fmt.Fprintf(&b, "  class %s main\n", ids[n.ID])
		} else if n.Selected {
			sel = append(sel, ids[n.ID])
		}
	}
	if len(sel) > 0 {
		fmt.Fprintf(&b, "  class %s selected\n", strings.Join(sel, ","))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// mermaidText escapes s for a quoted Mermaid label: its entity codes for
// the characters that end or break one.
func mermaidText(s string) string {
	return strings.NewReplacer(`"`, "#quot;", "<", "#lt;", ">", "#gt;", "#", "#35;").Replace(s)
}

// WriteDOT writes s as a Graphviz digraph: each module version a node
// whose id is its quoted path@version; the main module a box, the
// selected versions bold.
func (s *Subgraph) WriteDOT(w io.Writer) error {
	var b strings.Builder
	b.WriteString("digraph modules {\n  rankdir=LR;\n  node [shape=ellipse];\n")
	for _, n := range s.Nodes {
		switch {
		case n.Main:
			fmt.Fprintf(&b, "  %s [shape=box, style=bold];\n", dotID(n.ID))
		case n.Selected:
			fmt.Fprintf(&b, "  %s [style=bold];\n", dotID(n.ID))
		default:
			fmt.Fprintf(&b, "  %s;\n", dotID(n.ID))
		}
	}
	for _, e := range s.Edges {
		fmt.Fprintf(&b, "  %s -> %s;\n", dotID(e.From), dotID(e.To))
	}
	b.WriteString("}\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// dotID is s as a quoted DOT id.
func dotID(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s) + `"`
}
