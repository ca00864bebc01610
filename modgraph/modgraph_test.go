package modgraph

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"testing"

	"golang.org/x/mod/module"
	"golang.org/x/tools/txtar"

	"github.com/gomirror/gomirror/layout"
	"github.com/gomirror/gomirror/storage"
	"github.com/gomirror/gomirror/storage/mem"
)

// store returns a storage holding the go.mod files of testdata/graph.txtar
// and extra (path@version to go.mod), less those named in drop.
func store(t *testing.T, extra map[string]string, drop ...string) storage.Storage {
	t.Helper()
	ar, err := txtar.ParseFile("testdata/graph.txtar")
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	for _, f := range ar.Files {
		files[strings.TrimSuffix(f.Name, "/go.mod")] = string(f.Data)
	}
	for k, v := range extra {
		files[k] = v
	}
	st := mem.New()
	for mv, gomod := range files {
		if slices.Contains(drop, mv) {
			continue
		}
		p, v, _ := strings.Cut(mv, "@")
		key, err := layout.Key(module.Version{Path: p, Version: v}, layout.Mod)
		if err != nil {
			t.Fatal(err)
		}
		if err := storage.PutBytes(context.Background(), st, key, []byte(gomod)); err != nil {
			t.Fatal(err)
		}
	}
	return st
}

// lines formats g's nodes as `go list -m all` does, with [depth] and
// flags: * not loaded (pruned), ? .mod not stored.
func lines(g *Graph) []string {
	var out []string
	for _, n := range g.Nodes {
		s := n.Path
		if !n.Main {
			s += " " + n.Version
		}
		if n.Replace != nil {
			s += " => " + strings.TrimSpace(n.Replace.Path+" "+n.Replace.Version)
		}
		s += fmt.Sprintf(" [%d]", n.Depth)
		if !n.Loaded {
			s += "*"
		}
		if !n.ModStored {
			s += "?"
		}
		out = append(out, s)
	}
	return out
}

func TestCompute(t *testing.T) {
	const g = "example.com/g/"
	tests := []struct {
		name    string
		main    string
		extra   map[string]string
		drop    []string
		want    []string
		missing []string // path@version: error substring
		pruned  bool
		repl    string // the main module's replaces, old => new; ...
	}{
		{
			name: "pruned: below a go 1.16 module everything, below a go 1.21 root nothing",
			main: "v1.0.0", pruned: true,
			want: []string{g + "root [0]", g + "a v1.0.0 [1]", g + "b v1.0.0 [1]", g + "c v1.0.0 [2]",
				g + "d v1.0.0 [3]", g + "e v1.0.0 [4]", g + "f v1.0.0 [2]*"},
		},
		{
			name: "unpruned main, exclude, replace",
			main: "v1.1.0",
			want: []string{g + "root [0]", g + "a v1.0.0 [1]", g + "b v1.0.0 [1]", g + "c v1.0.0 [2]",
				g + "d v1.2.0 [3]", g + "e v1.1.0 [4]", g + "f v1.0.0 => " + g + "ffork v1.0.0 [2]",
				g + "g v1.1.0 [3]", g + "h v1.0.0 [3]"},
			repl: g + "f v1.0.0 => " + g + "ffork v1.0.0",
		},
		{
			name: "roots move to their selected versions",
			main: "v1.2.0", pruned: true,
			want: []string{g + "root [0]", g + "a v1.0.0 [1]", g + "b v1.1.0 [1]", g + "c v1.0.0 [2]",
				g + "d v1.0.0 [3]", g + "e v1.0.0 [4]", g + "f v1.0.0 [2]*", g + "k v1.0.0 [1]", g + "m v1.0.0 [2]*"},
		},
		{
			name: "a needed go.mod not stored",
			main: "v1.0.0", pruned: true, drop: []string{g + "d@v1.0.0"},
			want: []string{g + "root [0]", g + "a v1.0.0 [1]", g + "b v1.0.0 [1]", g + "c v1.0.0 [2]",
				g + "d v1.0.0 [3]*?", g + "f v1.0.0 [2]*"},
			missing: []string{g + "d@v1.0.0: file does not exist"},
		},
		{
			name: "a pruned module's go.mod is not needed",
			main: "v1.0.0", pruned: true, drop: []string{g + "f@v1.0.0"},
			want: []string{g + "root [0]", g + "a v1.0.0 [1]", g + "b v1.0.0 [1]", g + "c v1.0.0 [2]",
				g + "d v1.0.0 [3]", g + "e v1.0.0 [4]", g + "f v1.0.0 [2]*?"},
		},
		{
			name: "directory replacement and a wrong module path",
			main: "v1.9.0",
			extra: map[string]string{
				g + "root@v1.9.0": "module example.com/g/root\n\nrequire (\n\texample.com/g/a v1.0.0\n\texample.com/g/x v1.0.0\n)\n\nreplace example.com/g/a => ../a\n",
				g + "x@v1.0.0":    "module example.com/g/y\n",
			},
			want: []string{g + "root [0]", g + "a v1.0.0 => ../a [1]*?", g + "x v1.0.0 [1]*"},
			repl: g + "a => ../a",
			missing: []string{g + "a@v1.0.0: replaced by directory ../a",
				g + "x@v1.0.0: declares its path as example.com/g/y"},
		},
		{
			name: "cycles end",
			main: "v1.8.0",
			extra: map[string]string{
				g + "root@v1.8.0": "module example.com/g/root\n\ngo 1.16\n\nrequire example.com/g/cyc v1.0.0\n",
				g + "cyc@v1.0.0":  "module example.com/g/cyc\n\ngo 1.16\n\nrequire example.com/g/cyc2 v1.0.0\n",
				g + "cyc2@v1.0.0": "module example.com/g/cyc2\n\nrequire example.com/g/cyc v1.0.0\n",
			},
			want: []string{g + "root [0]", g + "cyc v1.0.0 [1]", g + "cyc2 v1.0.0 [2]"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := store(t, tc.extra, tc.drop...)
			gr, err := Compute(context.Background(), st, module.Version{Path: g + "root", Version: tc.main}, Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if got := lines(gr); !slices.Equal(got, tc.want) {
				t.Errorf("nodes:\n\t%s\nwant\n\t%s", strings.Join(got, "\n\t"), strings.Join(tc.want, "\n\t"))
			}
			var repl []string
			for _, r := range gr.Replaces {
				repl = append(repl, strings.TrimSpace(r.Old.Path+" "+r.Old.Version)+" => "+strings.TrimSpace(r.New.Path+" "+r.New.Version))
			}
			if got := strings.Join(repl, "; "); got != tc.repl {
				t.Errorf("replaces = %q, want %q", got, tc.repl)
			}
			if gr.Pruned != tc.pruned {
				t.Errorf("pruned = %v, want %v", gr.Pruned, tc.pruned)
			}
			if len(gr.Missing) != len(tc.missing) {
				t.Fatalf("missing = %+v, want %q", gr.Missing, tc.missing)
			}
			for i, m := range gr.Missing {
				mv, msg, _ := strings.Cut(tc.missing[i], ": ")
				if m.Path+"@"+m.Version != mv || !strings.Contains(m.Error, msg) {
					t.Errorf("missing[%d] = %+v, want %s", i, m, tc.missing[i])
				}
			}
			if gr.Complete != (len(tc.missing) == 0) {
				t.Errorf("complete = %v with missing %v", gr.Complete, gr.Missing)
			}
		})
	}
}

func TestEdges(t *testing.T) {
	gr, err := Compute(context.Background(), store(t, nil), module.Version{Path: "example.com/g/root", Version: "v1.2.0"}, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range gr.Edges {
		got = append(got, fmt.Sprintf("%s@%s -> %s@%s", strings.TrimPrefix(e.From.Path, "example.com/g/"), e.From.Version, strings.TrimPrefix(e.To, "example.com/g/"), e.Version))
	}
	// b v1.0.0 is no longer required once the roots moved: its go.mod is
	// not part of the last reading.
	want := []string{"a@v1.0.0 -> c@v1.0.0", "b@v1.1.0 -> f@v1.0.0", "b@v1.1.0 -> m@v1.0.0",
		"c@v1.0.0 -> d@v1.0.0", "d@v1.0.0 -> e@v1.0.0", "k@v1.0.0 -> b@v1.1.0",
		"root@v1.2.0 -> a@v1.0.0", "root@v1.2.0 -> b@v1.1.0", "root@v1.2.0 -> k@v1.0.0"}
	if !slices.Equal(got, want) {
		t.Errorf("edges:\n\t%s\nwant\n\t%s", strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
	}
}

func TestMainNotStored(t *testing.T) {
	_, err := Compute(context.Background(), store(t, nil), module.Version{Path: "example.com/g/root", Version: "v1.7.0"}, Limits{})
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("err = %v, want fs.ErrNotExist", err)
	}
	_, err = Compute(context.Background(), store(t, nil), module.Version{Path: "example.com/g/root", Version: "master"}, Limits{})
	if err == nil || errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("err = %v for a non-canonical version, want an invalid version", err)
	}
}

// TestBounded: a hostile graph (a chain of 300 unpruned modules, a go.mod
// of 2 MiB) costs what the limits allow and says so.
func TestBounded(t *testing.T) {
	extra := map[string]string{}
	for i := range 300 {
		extra[fmt.Sprintf("example.com/h/m%d@v1.0.0", i)] = fmt.Sprintf("module example.com/h/m%d\n\nrequire example.com/h/m%d v1.0.0\n", i, i+1)
	}
	extra["example.com/h/m0@v1.0.0"] = "module example.com/h/m0\n\nrequire (\n\texample.com/h/m1 v1.0.0\n\texample.com/h/big v1.0.0\n)\n"
	extra["example.com/h/big@v1.0.0"] = "module example.com/h/big\n" + strings.Repeat("// padding\n", 200_000)
	st := store(t, extra)
	gr, err := Compute(context.Background(), st, module.Version{Path: "example.com/h/m0", Version: "v1.0.0"}, Limits{Loads: 100})
	if err != nil {
		t.Fatal(err)
	}
	if gr.Complete || !strings.Contains(gr.Truncated, "100 go.mod") {
		t.Errorf("complete %v, truncated %q: want the load limit reached", gr.Complete, gr.Truncated)
	}
	if n := len(gr.Nodes); n > 102 {
		t.Errorf("%d nodes after 100 loads", n)
	}
	i := slices.IndexFunc(gr.Missing, func(m Missing) bool { return m.Path == "example.com/h/big" })
	if i < 0 || !strings.Contains(gr.Missing[i].Error, "over the limit") {
		t.Errorf("missing = %+v, want the 2 MiB go.mod over the limit", gr.Missing)
	}
	gr, err = Compute(context.Background(), st, module.Version{Path: "example.com/h/m0", Version: "v1.0.0"}, Limits{Edges: 50})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(gr.Truncated, "50 requirements") || len(gr.Edges) > 50 {
		t.Errorf("truncated %q with %d edges: want the edge limit", gr.Truncated, len(gr.Edges))
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Compute(ctx, st, module.Version{Path: "example.com/h/m0", Version: "v1.0.0"}, Limits{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: err = %v", err)
	}
}

func TestPruningFor(t *testing.T) {
	for v, want := range map[string]pruning{"": unpruned, "1.16": unpruned, "1.17": pruned, "1.21.3": pruned,
		"1.22rc1": pruned, "1.9": unpruned, "1.100": pruned, "2.0": pruned, "1.16.15": unpruned} {
		if got := pruningFor(v); got != want {
			t.Errorf("pruningFor(%q) = %v, want %v", v, got, want)
		}
	}
}
