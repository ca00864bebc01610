package main

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gomirror/gomirror/client/golist"
	"github.com/gomirror/gomirror/i18n"
	"github.com/gomirror/gomirror/internal/gocmd"
	"github.com/gomirror/gomirror/internal/redact"
	"github.com/gomirror/gomirror/modgraph"
)

// graphLong is graph's Long help text (a key of the catalogue, translated
// as it is).
const graphLong = `Print the module requirement graph of a project (the go.mod in DIR, or the
go.mod file given; ./go.mod if none) as the go command sees it: go mod graph,
run through the proxy of --proxy (default: go env GOPROXY), without changing
the project's go.mod or go.sum. Every module version a go.mod requires is a
node (path@version); the versions of the build list (go list -m all), which
minimal version selection picks, are marked (bold), the main module
highlighted (filled in Mermaid, boxed in DOT).

--format mermaid (the default) writes a Mermaid flowchart (graph TD) to paste
into Markdown; dot a Graphviz digraph (dot -Tsvg); json the nodes and edges in
a stable order, for programs. Mermaid draws at most 500 edges by default: a
larger graph gets a hint on standard error.

--depth N keeps the module versions at most N requirement steps from the main
module. --focus MODULE (a path, or path@version) keeps only the requirement
paths from the main module to it: who requires it, and through whom; its
selected version is printed on standard error. A module deeper than --depth
is reported with its depth.

The graph goes to standard output, messages to standard error.`

// newGraph returns `gomirror graph`: a project's module requirement graph
// as the go command sees it, drawn as Mermaid, DOT or JSON.
func newGraph() *cobra.Command {
	var (
		proxy, format, focus string
		depth                int
	)
	cmd := &cobra.Command{
		Use:   "graph [DIR | go.mod] [--format mermaid|dot|json] [--depth N] [--focus MODULE]",
		Short: "Draw a project's module requirement graph (Mermaid, DOT or JSON)",
		Long:  graphLong,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 1 {
				return i18n.Errorf("give one directory or go.mod file")
			}
			switch format {
			case "mermaid", "dot", "json":
			default:
				return i18n.Errorf("--format %q: want mermaid, dot or json", format)
			}
			if depth < 0 {
				return i18n.Errorf("--depth %v: want 0 (no limit) or more", strconv.Itoa(depth))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := printer(cmd)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			stdout, stderr := cmd.OutOrStdout(), cmd.ErrOrStderr()
			gomod := "go.mod"
			if len(args) == 1 {
				gomod = args[0]
				if st, err := os.Stat(gomod); err == nil && st.IsDir() {
					gomod = filepath.Join(gomod, "go.mod")
				}
			}
			if proxy == "" {
				env, err := gocmd.Cmd{}.Env(ctx, "GOPROXY")
				if err != nil {
					return i18n.Errorf("reading go env GOPROXY: %v", err)
				}
				proxy = env["GOPROXY"]
			}
			p.Fprintf(stderr, "resolving the module graph of %s through %s\n", gomod, redact.List(proxy))
			out, err := golist.Load(ctx, golist.GoCommand{}, proxy, gomod, nil, true)
			if err != nil {
				return i18n.Errorf("resolving the module graph: %v", redact.Err(err))
			}
			g, err := modgraph.ParseGoModGraph(out.Graph)
			if err != nil {
				return err
			}
			sub, err := g.View(modgraph.View{Depth: depth, Focus: focus})
			if nig := (*modgraph.NotInGraphError)(nil); errors.As(err, &nig) {
				if nig.At > 0 {
					return i18n.Errorf("%s is in the module graph of %s at depth %d, beyond --depth %d", focus, gomod, nig.At, depth)
				}
				return i18n.Errorf("%s is not in the module graph of %s", focus, gomod)
			} else if err != nil {
				return err
			}
			switch format {
			case "dot":
				err = sub.WriteDOT(stdout)
			case "json":
				err = sub.WriteJSON(stdout)
			default:
				err = sub.WriteMermaid(stdout)
			}
			if err != nil {
				return err
			}
			p.Fprintf(stderr, "module versions: %d, requirements: %d\n", len(sub.Nodes), len(sub.Edges))
			graphSizeHint(p, stderr, format, len(sub.Edges))
			if focus != "" {
				if path, _, _ := strings.Cut(focus, "@"); path == sub.Main {
					p.Fprintf(stderr, "%s is the main module\n", path)
				} else {
					p.Fprintf(stderr, "selected version of %s: %s\n", path, sub.Selected)
				}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&proxy, "proxy", "", "the module proxy the go command asks, in GOPROXY syntax (default: go env GOPROXY)")
	f.StringVar(&format, "format", "mermaid", "mermaid, dot or json")
	f.IntVar(&depth, "depth", 0, "keep module versions at most this many requirement steps from the main module (0: no limit)")
	f.StringVar(&focus, "focus", "", "keep only the requirement paths from the main module to this module (path or path@version)")
	return cmd
}

// mermaidMaxEdges is the number of edges Mermaid draws at most by default
// (its maxEdges setting): GitHub and most Markdown viewers show an error
// instead of a larger graph.
const mermaidMaxEdges = 500

// graphSizeHint warns on w when a graph of edges edges in format is
// larger than Mermaid draws by default.
func graphSizeHint(p *i18n.Printer, w io.Writer, format string, edges int) {
	if format == "mermaid" && edges > mermaidMaxEdges {
		p.Fprintf(w, "warning: %d requirements are more than Mermaid draws by default (%d): cut the graph with --depth or --focus, or use --format dot\n", edges, mermaidMaxEdges)
	}
}
