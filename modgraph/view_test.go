package modgraph

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/view")

func TestParseGoModGraph(t *testing.T) {
	data, err := os.ReadFile("testdata/gomodgraph.txt")
	if err != nil {
		t.Fatal(err)
	}
	g, err := ParseGoModGraph(data)
	if err != nil {
		t.Fatal(err)
	}
	if g.Main.Path != "example.com/app" || g.Go != "1.22" || !g.Pruned {
		t.Errorf("main %v, go %q, pruned %v", g.Main, g.Go, g.Pruned)
	}
	var nodes []string
	for _, n := range g.Nodes {
		nodes = append(nodes, n.Path+"@"+n.Version+" "+string(rune('0'+n.Depth)))
	}
	want := []string{
		"example.com/app@ 0",
		"github.com/BurntSushi/toml@v1.3.2 1",
		"golang.org/x/text@v0.14.0 1",
		"golang.org/x/tools@v0.6.0 2",
		"gopkg.in/check.v1@v0.0.0-20161208181325-20d25e280405 3",
		"gopkg.in/yaml.v3@v3.0.1 2",
		"rsc.io/quote@v1.5.2 1",
		"rsc.io/sampler@v1.3.1 1",
	}
	if got := strings.Join(nodes, "\n"); got != strings.Join(want, "\n") {
		t.Errorf("nodes:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
	if len(g.Edges) != 12 {
		t.Errorf("%d edges, want 12 (no go or toolchain lines)", len(g.Edges))
	}
}

func TestParseGoModGraphErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"a b c\n", "want \"from to\""},
		{"example.com/a@v1.0.0 example.com/b@v1.0.0\n", "no main module"},
		{"example.com/a example.com/b\n", "has no version"},
		{"example.com/a example.com/b@v1.0.0\nexample.com/c example.com/b@v1.0.0\n", "two main modules"},
		{"@v1 example.com/b@v1.0.0\n", "no module path"},
	} {
		if _, err := ParseGoModGraph([]byte(tc.in)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want %q", tc.in, err, tc.want)
		}
	}
}

// TestViews draws testdata/gomodgraph.txt in each format and view and
// compares with testdata/view/<name>.golden (go test -update rewrites them).
func TestViews(t *testing.T) {
	data, err := os.ReadFile("testdata/gomodgraph.txt")
	if err != nil {
		t.Fatal(err)
	}
	g, err := ParseGoModGraph(data)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		view   View
		format string
	}{
		{"all.mmd", View{}, "mermaid"},
		{"all.dot", View{}, "dot"},
		{"all.json", View{}, "json"},
		{"depth1.mmd", View{Depth: 1}, "mermaid"},
		{"depth2.dot", View{Depth: 2}, "dot"},
		{"focus-text.mmd", View{Focus: "golang.org/x/text"}, "mermaid"},
		{"focus-text.json", View{Focus: "golang.org/x/text"}, "json"},
		{"focus-text-v0.3.0.dot", View{Focus: "golang.org/x/text@v0.3.0"}, "dot"},
		{"focus-text-depth2.mmd", View{Focus: "golang.org/x/text", Depth: 2}, "mermaid"},
		{"focus-check.mmd", View{Focus: "gopkg.in/check.v1"}, "mermaid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sub, err := g.View(tc.view)
			if err != nil {
				t.Fatal(err)
			}
			var b bytes.Buffer
			switch tc.format {
			case "mermaid":
				err = sub.WriteMermaid(&b)
			case "dot":
				err = sub.WriteDOT(&b)
			case "json":
				err = sub.WriteJSON(&b)
			}
			if err != nil {
				t.Fatal(err)
			}
			file := filepath.Join("testdata/view", tc.name+".golden")
			if *update {
				if err := os.WriteFile(file, b.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			if b.String() != string(want) {
				t.Errorf("%s:\n%s\nwant:\n%s", tc.name, b.String(), want)
			}
		})
	}
}

func TestViewFocusNotInGraph(t *testing.T) {
	g, err := ParseGoModGraph([]byte("example.com/app example.com/b@v1.0.0\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, focus := range []string{"example.com/c", "example.com/b@v2.0.0"} {
		_, err := g.View(View{Focus: focus})
		var nig *NotInGraphError
		if !errors.As(err, &nig) {
			t.Errorf("focus %s: error %v, want NotInGraphError", focus, err)
		}
	}
	// Beyond the depth: not in the view.
	g, _ = ParseGoModGraph([]byte("example.com/app example.com/b@v1.0.0\nexample.com/b@v1.0.0 example.com/c@v1.0.0\n"))
	var nig *NotInGraphError
	if _, err := g.View(View{Focus: "example.com/c", Depth: 1}); !errors.As(err, &nig) {
		t.Errorf("focus beyond the depth: error %v", err)
	}
}

// TestViewFocusBeyondDepthSaysSo: a focus deeper than the depth is in the
// graph: the error says at which depth.
func TestViewFocusBeyondDepthSaysSo(t *testing.T) {
	g, err := ParseGoModGraph([]byte("example.com/app example.com/b@v1.0.0\nexample.com/b@v1.0.0 example.com/c@v1.0.0\nexample.com/c@v1.0.0 example.com/d@v1.0.0\n"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = g.View(View{Focus: "example.com/d", Depth: 1})
	var nig *NotInGraphError
	if !errors.As(err, &nig) || nig.At != 3 || !strings.Contains(err.Error(), "depth 3") || strings.Contains(err.Error(), "not in") {
		t.Errorf("focus at depth 3 with depth 1: %v (%+v)", err, nig)
	}
	if _, err = g.View(View{Focus: "example.com/nosuch", Depth: 1}); !errors.As(err, &nig) || nig.At != 0 || !strings.Contains(err.Error(), "not in") {
		t.Errorf("focus not in the graph: %v", err)
	}
}

// TestMermaidEscapes: a label can hold nothing that ends it.
func TestMermaidEscapes(t *testing.T) {
	s := &Subgraph{Nodes: []Vertex{{ID: `a"b<c>#d`, Main: true}}}
	var b bytes.Buffer
	if err := s.WriteMermaid(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), `n0["a#quot;b#lt;c#gt;#35;d"]`) {
		t.Errorf("mermaid:\n%s", b.String())
	}
	b.Reset()
	s = &Subgraph{Nodes: []Vertex{{ID: `a"b\c`}}}
	if err := s.WriteDOT(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), `"a\"b\\c";`) {
		t.Errorf("dot:\n%s", b.String())
	}
}
