package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/module"
	"golang.org/x/tools/txtar"

	"github.com/gomirror/gomirror/internal/fakeproxy"
	"github.com/gomirror/gomirror/modgraph"
	"github.com/gomirror/gomirror/modinfo"
	fsstore "github.com/gomirror/gomirror/storage/fs"
	"github.com/gomirror/gomirror/uphistory"
)

// graphFixture reads the module versions of modgraph/testdata/graph.txtar:
// path@version to go.mod.
func graphFixture(t *testing.T) map[module.Version][]byte {
	t.Helper()
	ar, err := txtar.ParseFile("../modgraph/testdata/graph.txtar")
	if err != nil {
		t.Fatal(err)
	}
	out := map[module.Version][]byte{}
	for _, f := range ar.Files {
		mv, ok := strings.CutSuffix(f.Name, "/go.mod")
		p, v, ok2 := strings.Cut(mv, "@")
		if !ok || !ok2 {
			t.Fatalf("fixture file %q is not path@version/go.mod", f.Name)
		}
		out[module.Version{Path: p, Version: v}] = f.Data
	}
	return out
}

// TestGraphIsWhatTheGoCommandLists: the real go command runs `go list -m
// all` through gomirror for main modules whose go.mod files are stored
// versions' (pruned, unpruned with exclude and replace, roots that move),
// and the graph modgraph computes from storage alone lists exactly the
// same modules, versions and replacements. Every go.mod of the fixture is
// then stored, so an implementation that ignored pruning (full MVS) would
// list g v1.1.0 and d v1.2.0 for root v1.0.0, and one that pruned
// everywhere would miss d and e below the go 1.16 module a. The same
// graphs come from the API of a mirror serving that storage offline, whose
// details of a downloaded version show its README and license; the
// upstream history shows the fetches.
func TestGraphIsWhatTheGoCommandLists(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	up := fakeproxy.New(t)
	mods := graphFixture(t)
	// The roots have a README and an MIT LICENSE for the details endpoint.
	info, err := txtar.ParseFile("../modinfo/testdata/mod.txtar")
	if err != nil {
		t.Fatal(err)
	}
	var license []byte
	for _, f := range info.Files {
		if f.Name == "LICENSE" {
			license = f.Data
		}
	}
	for mv, gomod := range mods {
		pkg := filepath.Base(mv.Path)
		files := map[string][]byte{"go.mod": gomod, pkg + ".go": []byte("package " + pkg + "\n")}
		if pkg == "root" {
			files["README.md"], files["LICENSE"] = []byte("# root <b>"+mv.Version+"</b>\n"), license
		}
		if _, err := up.Add(mv.Path, mv.Version, files); err != nil {
			t.Fatal(err)
		}
	}
	store := t.TempDir()
	m := startMirror(t, "--storage-dir", store, "--upstream", up.URL, "--sumdb", up.DBKey)
	env := append(goEnv(t, m.URL, up.DBKey), "GOFLAGS=-modcacherw -mod=mod")

	mains := []string{"v1.0.0", "v1.1.0", "v1.2.0"}
	listed := map[string][]string{}
	for _, v := range mains {
		root := module.Version{Path: "example.com/g/root", Version: v}
		// The main module's own .mod is stored as a client fetches it.
		mustGo(ctx, t, t.TempDir(), env, "mod", "download", root.String())
		project := t.TempDir()
		if err := os.WriteFile(filepath.Join(project, "go.mod"), mods[root], 0o644); err != nil {
			t.Fatal(err)
		}
		out := mustGo(ctx, t, project, env, "list", "-m", "all")
		for line := range strings.Lines(out) {
			if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "go: ") {
				listed[v] = append(listed[v], line)
			}
		}
	}
	// Every go.mod stored, even those pruning spares the go command.
	for mv := range mods {
		resp, err := http.Get(m.URL + "/" + mv.Path + "/@v/" + mv.Version + ".mod")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s.mod: %s", mv, resp.Status)
		}
	}
	// The upstream's history shows the fetches just made.
	body, err := httpGet(m.URL + "/api/v1/upstreams")
	if err != nil {
		t.Fatal(err)
	}
	var ups struct{ Upstreams []uphistory.Upstream }
	if err := json.Unmarshal([]byte(body), &ups); err != nil {
		t.Fatal(err)
	}
	if len(ups.Upstreams) != 1 || ups.Upstreams[0].Requests < uint64(len(mods)) || len(ups.Upstreams[0].Points) == 0 ||
		!strings.HasPrefix(ups.Upstreams[0].Name, up.URL) {
		t.Errorf("/api/v1/upstreams: %s", body)
	}
	t.Run("ConsoleUpstreams", func(t *testing.T) { testConsoleUpstreams(t, m.URL) })
	m.stop(t) // stored writes complete

	st, err := fsstore.New(store)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range mains {
		g, err := modgraph.Compute(ctx, st, module.Version{Path: "example.com/g/root", Version: v}, modgraph.Limits{})
		if err != nil {
			t.Fatalf("root %s: %v", v, err)
		}
		if got, want := goListLines(g), listed[v]; !slices.Equal(got, want) {
			t.Errorf("root %s: the graph lists\n\t%s\nthe go command\n\t%s", v, strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
		}
		if !g.Complete {
			t.Errorf("root %s: graph incomplete: %+v %s", v, g.Missing, g.Truncated)
		}
	}
	// The same through the API of a mirror serving that storage offline.
	off := startMirror(t, "--storage-dir", store, "--upstream", "off", "--sumdb", up.DBKey)
	for _, v := range mains {
		body, err := httpGet(off.URL + "/api/v1/modules/example.com/g/root/@v/" + v + "/graph")
		if err != nil {
			t.Fatalf("GET graph of root %s: %v", v, err)
		}
		var g modgraph.Graph
		if err := json.Unmarshal([]byte(body), &g); err != nil {
			t.Fatal(err)
		}
		if got, want := goListLines(&g), listed[v]; !slices.Equal(got, want) {
			t.Errorf("root %s: the API's graph lists\n\t%s\nthe go command\n\t%s", v, strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
		}
	}
	// The details of a version the go command downloaded: its README and
	// license from the stored zip.
	body, err = httpGet(off.URL + "/api/v1/modules/example.com/g/root/@v/v1.0.0")
	if err != nil {
		t.Fatal(err)
	}
	var d modinfo.Details
	if err := json.Unmarshal([]byte(body), &d); err != nil {
		t.Fatal(err)
	}
	if len(d.Files) != 3 || d.Readme == nil || d.Readme.Text != "# root <b>v1.0.0</b>\n" || len(d.Licenses) != 1 ||
		fmt.Sprint(d.Licenses[0].IDs) != "[MIT]" || d.Latest != "v1.2.0" || !strings.Contains(d.GoMod, "example.com/g/a v1.0.0") {
		t.Errorf("details of root v1.0.0: %s", body)
	}
	if len(listed["v1.0.0"]) < 7 || slices.Contains(listed["v1.0.0"], "example.com/g/g v1.1.0") {
		t.Errorf("the fixture does not exercise pruning: the go command listed %q", listed["v1.0.0"])
	}
	// The console's pages of these versions, in a browser.
	t.Run("ConsoleGraphPages", func(t *testing.T) { testConsoleGraphPages(t, off.URL, listed) })
}

// goListLines formats g's nodes as `go list -m all` prints them.
func goListLines(g *modgraph.Graph) []string {
	var out []string
	for _, n := range g.Nodes {
		line := n.Path
		if !n.Main {
			line += " " + n.Version
		}
		if n.Replace != nil {
			line += " => " + strings.TrimSpace(fmt.Sprintf("%s %s", n.Replace.Path, n.Replace.Version))
		}
		out = append(out, line)
	}
	return out
}
