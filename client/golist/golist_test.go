package golist

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"

	"github.com/gomirror/gomirror/internal/fakeproxy"
)

func TestMainModule(t *testing.T) {
	data, err := MainModule([]string{"example.com/hello@v1.1.0", "example.com/MixedCase@v1.0.0"}, "1.26.1")
	if err != nil {
		t.Fatal(err)
	}
	f, err := modfile.Parse("go.mod", data, nil)
	if err != nil {
		t.Fatalf("%v\n%s", err, data)
	}
	if f.Go == nil || f.Go.Version != "1.26.1" || len(f.Require) != 2 || f.Require[0].Mod.Path != "example.com/hello" {
		t.Errorf("go.mod:\n%s", data)
	}
	for _, bad := range []string{"example.com/hello", "example.com/hello@", "example.com/hello@latest", "Not A Path@v1.0.0"} {
		if _, err := MainModule([]string{bad}, ""); err == nil {
			t.Errorf("MainModule(%q): no error", bad)
		}
	}
}

func TestModules(t *testing.T) {
	list := `{"Path": "example.com/app", "Main": true}
{"Path": "example.com/old", "Version": "v1.0.0", "Indirect": true, "Replace": {"Path": "example.com/new", "Version": "v1.5.0"}}
{"Path": "example.com/dep", "Version": "v1.0.0"}
`
	mods, err := Modules([]byte(list))
	if err != nil {
		t.Fatal(err)
	}
	if len(mods) != 3 || !mods[0].Main || !mods[1].Indirect || mods[1].Replace == nil || mods[1].Replace.Version != "v1.5.0" || mods[2].Path != "example.com/dep" {
		t.Errorf("Modules: %+v", mods)
	}
	if _, err := Modules([]byte(`{"Path": `)); err == nil {
		t.Error("Modules of broken JSON: no error")
	}
}

// TestLoad runs the real go command through a fake proxy on a project
// whose go.mod needs an update (-mod=mod), and checks that the project's
// files are left as they were.
func TestLoad(t *testing.T) {
	up := fakeproxy.New(t)
	t.Setenv("GOPROXY", "off")
	t.Setenv("GOENV", "off")
	t.Setenv("GOPATH", filepath.Join(t.TempDir(), "gopath"))
	dir := t.TempDir()
	gomod := filepath.Join(dir, "go.mod")
	content := "module example.com/app\n\ngo 1.21\n\nrequire example.com/hello v1.1.0\n\nreplace example.com/MixedCase => ./local\n"
	if err := os.WriteFile(gomod, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := Load(context.Background(), GoCommand{}, up.URL, gomod, nil, true)
	if err != nil {
		t.Fatal(err)
	}
	mods, err := Modules(out.List)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range mods {
		got = append(got, m.Path+"@"+m.Version)
	}
	want := []string{"example.com/app@", "example.com/dep@v1.0.0", "example.com/hello@v1.1.0"}
	if !slices.Equal(got, want) {
		t.Errorf("build list %q, want %q", got, want)
	}
	if !strings.Contains(string(out.Graph), "example.com/hello@v1.1.0 example.com/dep@v1.0.0") {
		t.Errorf("graph:\n%s", out.Graph)
	}
	if len(out.Replace) != 1 || out.Replace[0].New.Path != "./local" {
		t.Errorf("replacements %+v", out.Replace)
	}
	if got, _ := os.ReadFile(gomod); string(got) != content {
		t.Errorf("go.mod changed:\n%s", got)
	}
	if _, err := os.Stat(filepath.Join(dir, "go.sum")); err == nil {
		t.Error("Load wrote a go.sum next to the go.mod")
	}
	out, err = Load(context.Background(), GoCommand{}, up.URL, "", []string{"example.com/hello@v1.1.0"}, false)
	if err != nil {
		t.Fatal(err)
	}
	if out.Graph != nil || !strings.Contains(string(out.List), `"example.com/dep"`) {
		t.Errorf("module arguments: graph %q, list:\n%s", out.Graph, out.List)
	}
}

// LoadWith(Ask{Downloads}) lists what `go mod download` fetches: the
// modules the main module requires (go >= 1.17), not every module of the
// build list; a needed one that cannot be downloaded fails, named.
func TestLoadWithDownloads(t *testing.T) {
	up := fakeproxy.New(t)
	t.Setenv("GOPROXY", "off")
	t.Setenv("GOENV", "off")
	t.Setenv("GOPATH", filepath.Join(t.TempDir(), "gopath"))
	dir := t.TempDir()
	gomod := filepath.Join(dir, "go.mod")
	if err := os.WriteFile(gomod, []byte("module example.com/app\n\ngo 1.21\n\nrequire example.com/hello v1.1.0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		gomod string
		mods  []string
	}{
		{"go.mod", gomod, nil},
		{"module arguments", "", []string{"example.com/hello@v1.1.0"}},
	} {
		out, err := LoadWith(context.Background(), GoCommand{}, up.URL, tc.gomod, tc.mods, Ask{Downloads: true})
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if !strings.Contains(string(out.List), `"example.com/dep"`) {
			t.Errorf("%s: build list without example.com/dep:\n%s", tc.name, out.List)
		}
		if len(out.Downloads) != 1 || out.Downloads[0] != (module.Version{Path: "example.com/hello", Version: "v1.1.0"}) {
			t.Errorf("%s: downloads %v, want example.com/hello@v1.1.0 only", tc.name, out.Downloads)
		}
		if out.Graph != nil {
			t.Errorf("%s: a graph not asked for", tc.name)
		}
	}
	if up.Hits("/example.com/dep/@v/v1.0.0.zip") != 0 {
		t.Errorf("the zip of example.com/dep (not needed) was fetched")
	}

	up.Inject(fakeproxy.Paths("/example.com/hello/@v/v1.1.0.zip"), fakeproxy.Status(http.StatusForbidden, "not available"))
	_, err := LoadWith(context.Background(), GoCommand{}, up.URL, gomod, nil, Ask{Downloads: true})
	if err == nil || !strings.Contains(err.Error(), "example.com/hello@v1.1.0") {
		t.Errorf("LoadWith with the needed zip refused = %v; want an error naming example.com/hello@v1.1.0", err)
	}
}

// TestLoadWithDownloadsWhatTheBuildLoads: for a go.mod that is not tidy
// (it lacks a module its packages' imports need), the downloads include
// every module whose packages `go build ./...` and `go test ./...` load,
// not only the explicitly required ones; the project stays untouched.
func TestLoadWithDownloadsWhatTheBuildLoads(t *testing.T) {
	up := fakeproxy.New(t)
	t.Setenv("GOPROXY", "off")
	t.Setenv("GOENV", "off")
	t.Setenv("GOPATH", filepath.Join(t.TempDir(), "gopath"))
	dir := t.TempDir()
	gomod := filepath.Join(dir, "go.mod")
	// example.com/hello imports example.com/dep, which go.mod lacks.
	files := map[string]string{
		"go.mod":  "module example.com/app\n\ngo 1.21\n\nrequire example.com/hello v1.1.0\n",
		"main.go": "package main\n\nimport \"example.com/hello\"\n\nfunc main() { println(hello.Hello()) }\n",
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out, err := LoadWith(context.Background(), GoCommand{}, up.URL, gomod, nil, Ask{Downloads: true})
	if err != nil {
		t.Fatal(err)
	}
	want := []module.Version{{Path: "example.com/dep", Version: "v1.0.0"}, {Path: "example.com/hello", Version: "v1.1.0"}}
	if !slices.Equal(out.Downloads, want) {
		t.Errorf("downloads %v, want %v", out.Downloads, want)
	}
	for name, data := range files {
		if got, _ := os.ReadFile(filepath.Join(dir, name)); string(got) != data {
			t.Errorf("LoadWith changed %s:\n%s", name, got)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "go.sum")); err == nil {
		t.Error("LoadWith wrote a go.sum into the project")
	}
}
