package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gomirror/gomirror/client/golist"
	"github.com/gomirror/gomirror/internal/fakeproxy"
	"github.com/gomirror/gomirror/internal/testutil"
	"github.com/gomirror/gomirror/modgraph"
)

// graphProject writes a project requiring example.com/hello v1.1.0 (which
// requires example.com/dep) and example.com/tool, whose go.mod requires
// example.com/hello v1.0.0, and returns the upstream and its directory.
func graphProject(t *testing.T) (*fakeproxy.Server, string) {
	t.Helper()
	up := fakeproxy.New(t)
	if _, err := up.Add("example.com/tool", "v1.0.0", map[string][]byte{
		"go.mod":  []byte("module example.com/tool\n\ngo 1.21\n\nrequire example.com/hello v1.0.0\n"),
		"tool.go": []byte("package tool\n"),
	}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	gomod := "module example.com/app\n\ngo 1.21\n\nrequire (\n\texample.com/hello v1.1.0\n\texample.com/tool v1.0.0\n)\n\nrequire example.com/dep v1.0.0 // indirect\n"
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte(gomod), 0o644); err != nil {
		t.Fatal(err)
	}
	return up, dir
}

func runGraphCmd(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	t.Setenv("GOPROXY", "off")
	t.Setenv("GOPATH", filepath.Join(t.TempDir(), "gopath"))
	t.Setenv("GOENV", "off")
	return testutil.RunCommand(t, newGraph(), nil, args...)
}

// TestGraphRealGoCommand draws the graph the real go command resolves
// through a fake upstream: the JSON's selected versions are the build list
// go list -m all gives, and --focus shows who requires a module.
func TestGraphRealGoCommand(t *testing.T) {
	up, dir := graphProject(t)
	stdout, stderr, err := runGraphCmd(t, "--proxy", up.URL, "--format", "json", dir)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	var sub modgraph.Subgraph
	if err := json.Unmarshal([]byte(stdout), &sub); err != nil {
		t.Fatalf("%v\n%s", err, stdout)
	}
	var selected, all []string
	for _, n := range sub.Nodes {
		all = append(all, n.ID)
		if n.Selected {
			selected = append(selected, n.ID)
		}
	}
	out, err := golist.Load(t.Context(), golist.GoCommand{}, up.URL, filepath.Join(dir, "go.mod"), nil, false)
	if err != nil {
		t.Fatal(err)
	}
	list, err := golist.Modules(out.List)
	if err != nil {
		t.Fatal(err)
	}
	var buildList []string
	for _, m := range list {
		if !m.Main {
			buildList = append(buildList, m.Path+"@"+m.Version)
		}
	}
	if !slices.Equal(selected, buildList) {
		t.Errorf("selected %q, go list -m all %q", selected, buildList)
	}
	if !slices.Contains(all, "example.com/hello@v1.0.0") || sub.Main != "example.com/app" {
		t.Errorf("nodes %q, main %q", all, sub.Main)
	}
	if !strings.Contains(stderr, "module versions") {
		t.Errorf("stderr:\n%s", stderr)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "go.mod")); strings.Contains(string(b), "hello v1.0.0") {
		t.Error("graph changed the go.mod")
	}
	if _, err := os.Stat(filepath.Join(dir, "go.sum")); err == nil {
		t.Error("graph wrote a go.sum")
	}

	// Who requires hello, and why: the main module (v1.1.0, selected) and
	// tool (v1.0.0).
	stdout, stderr, err = runGraphCmd(t, "--proxy", up.URL, "--focus", "example.com/hello", filepath.Join(dir, "go.mod"))
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	want := `graph TD
  n0["example.com/app"]
  n1["example.com/hello@v1.0.0"]
  n2["example.com/hello@v1.1.0"]
  n3["example.com/tool@v1.0.0"]
  n0 --> n2
  n0 --> n3
  n3 --> n1
  classDef main fill:#e8f0fe,stroke:#1a73e8,stroke-width:2px
  classDef selected font-weight:bold,stroke-width:2px
  class n0 main
  class n2,n3 selected
`
	if stdout != want {
		t.Errorf("--focus:\n%s\nwant:\n%s", stdout, want)
	}
	if !strings.Contains(stderr, "selected version of example.com/hello: v1.1.0\n") {
		t.Errorf("stderr:\n%s", stderr)
	}

	if _, _, err := runGraphCmd(t, "--proxy", up.URL, "--focus", "example.com/nosuch", dir); err == nil || !strings.Contains(err.Error(), "not in the module graph") {
		t.Errorf("focus on a module not in the graph: %v", err)
	}
}

func TestGraphArgs(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--format", "svg"}, "--format"},
		{[]string{"--depth", "-1"}, "--depth"},
		{[]string{"a", "b"}, "one directory"},
	} {
		_, _, err := runGraphCmd(t, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("graph %q: error %v, want one containing %q", tc.args, err, tc.want)
		}
	}
}

// TestGraphChinese: under LANG=zh_CN.UTF-8 the messages are Chinese, the
// graph itself the same data as in English.
func TestGraphChinese(t *testing.T) {
	up, dir := graphProject(t)
	en, _, err := runGraphCmd(t, "--proxy", up.URL, "--format", "dot", dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("LC_ALL", "")
	t.Setenv("LC_MESSAGES", "")
	t.Setenv("LANG", "zh_CN.UTF-8")
	zh, stderr, err := runGraphCmd(t, "--proxy", up.URL, "--format", "dot", "--focus", "example.com/dep", dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"正在通过 " + up.URL + " 解析", "模块版本：", "example.com/dep 的选定版本：v1.0.0"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if !strings.HasPrefix(zh, "digraph modules {") || !strings.HasPrefix(en, "digraph modules {") {
		t.Errorf("DOT output:\n%s", zh)
	}
	_, _, err = runGraphCmd(t, "--proxy", up.URL, "--focus", "example.com/nosuch", dir)
	if p, _ := printer(newGraph()); err == nil || !strings.Contains(p.Error(err), "不在") {
		t.Errorf("error %v, want it in Chinese", err)
	}
}

// TestGraphFocusBeyondDepth: a module deeper than --depth is said to be
// there, at its depth; --focus on the main module says it is the main
// module.
func TestGraphFocusBeyondDepth(t *testing.T) {
	up, dir := graphProject(t)
	_, _, err := runGraphCmd(t, "--proxy", up.URL, "--focus", "example.com/hello@v1.0.0", "--depth", "1", dir)
	if err == nil || !strings.Contains(err.Error(), "at depth 2, beyond --depth 1") {
		t.Errorf("focus deeper than --depth: %v", err)
	}
	_, stderr, err := runGraphCmd(t, "--proxy", up.URL, "--focus", "example.com/app", dir)
	if err != nil || !strings.Contains(stderr, "example.com/app is the main module\n") || strings.Contains(stderr, "selected version") {
		t.Errorf("focus on the main module: %v\n%s", err, stderr)
	}
}

// TestGraphMermaidTooManyEdgesWarns: more edges than Mermaid draws by
// default get a hint on standard error; fewer, none.
func TestGraphMermaidTooManyEdgesWarns(t *testing.T) {
	p, _ := printer(newGraph())
	for _, tc := range []struct {
		edges  int
		format string
		warn   bool
	}{
		{mermaidMaxEdges, "mermaid", false},
		{mermaidMaxEdges + 1, "mermaid", true},
		{mermaidMaxEdges + 1, "dot", false},
	} {
		var b strings.Builder
		graphSizeHint(p, &b, tc.format, tc.edges)
		if got := strings.Contains(b.String(), "--depth"); got != tc.warn {
			t.Errorf("%d edges, %s: hint %q", tc.edges, tc.format, b.String())
		}
	}
}
