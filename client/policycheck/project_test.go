package policycheck

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/module"
)

func TestReadGoSumErrors(t *testing.T) {
	for _, tc := range []struct{ data, want string }{
		{"example.com/a v1.0.0\n", "go.sum:1: malformed"},
		{"example.com/a v1.0.0 h1:x= extra\n", "go.sum:1: malformed"},
		{"\nexample.com/a 1.0.0 h1:x=\n", "go.sum:2:"},
		{"Example..com/a v1.0.0 h1:x=\n", "go.sum:1:"},
		{"example.com/!b v1.0.0 h1:x=\n", "go.sum:1:"}, // escaped, not a path
	} {
		if _, err := ReadGoSum("go.sum", []byte(tc.data)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ReadGoSum(%q): error %v, want %q", tc.data, err, tc.want)
		}
	}
}

func TestReadGoSumLines(t *testing.T) {
	lines, err := ReadGoSum("go.sum", []byte("example.com/a v1.0.0 h1:x=\n\nexample.com/a v1.0.0/go.mod h1:y=\nexample.com/b v0.0.0-20240102030405-abcdefabcdef/go.mod h1:z=\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := []SumLine{
		{module.Version{Path: "example.com/a", Version: "v1.0.0"}, false, "h1:x=", 1},
		{module.Version{Path: "example.com/a", Version: "v1.0.0"}, true, "h1:y=", 3},
		{module.Version{Path: "example.com/b", Version: "v0.0.0-20240102030405-abcdefabcdef"}, true, "h1:z=", 4},
	}
	if len(lines) != len(want) {
		t.Fatalf("lines %+v, want %+v", lines, want)
	}
	for i := range want {
		if lines[i] != want[i] {
			t.Errorf("line %d: %+v, want %+v", i, lines[i], want[i])
		}
	}
}

func TestLocate(t *testing.T) {
	dir := t.TempDir()
	only := filepath.Join(dir, "only")
	os.MkdirAll(only, 0o755)
	os.WriteFile(filepath.Join(only, "go.sum"), []byte(""), 0o644)
	for _, tc := range []struct {
		arg          string
		gomod, gosum string
		err          bool
	}{
		{"testdata/project", "testdata/project/go.mod", "testdata/project/go.sum", false},
		{"testdata/project/go.mod", "testdata/project/go.mod", "testdata/project/go.sum", false},
		{"testdata/project/go.sum", "testdata/project/go.mod", "testdata/project/go.sum", false},
		{filepath.Join(only, "go.sum"), "", filepath.Join(only, "go.sum"), false},
		{only, "", "", true},
		{filepath.Join(dir, "missing"), "", "", true},
	} {
		p, err := Locate(tc.arg)
		if tc.err {
			if err == nil || !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("Locate(%q) = %+v, %v; want a not-exist error", tc.arg, p, err)
			}
			continue
		}
		if err != nil || p.GoMod != tc.gomod || p.GoSum != tc.gosum {
			t.Errorf("Locate(%q) = %+v, %v; want %q %q", tc.arg, p, err, tc.gomod, tc.gosum)
		}
	}
}

// fakeResolver returns list, or err.
type fakeResolver struct {
	list []module.Version
	err  error
}

func (f fakeResolver) BuildList(context.Context, string) ([]module.Version, error) {
	return f.list, f.err
}

func TestItems(t *testing.T) {
	p, err := Locate("testdata/project")
	if err != nil {
		t.Fatal(err)
	}
	hello11 := module.Version{Path: "example.com/hello", Version: "v1.1.0"}
	dep := module.Version{Path: "example.com/dep", Version: "v1.0.0"}
	extra := module.Version{Path: "example.com/extra", Version: "v0.1.0"}
	items, incomplete, err := Items(context.Background(), p, fakeResolver{list: []module.Version{hello11, dep, extra}})
	if err != nil || len(incomplete) != 0 {
		t.Fatal(err, incomplete)
	}
	want := []Item{
		{Module: dep, Kind: Code, BuildList: true, GoSum: true, ZipSum: "h1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", At: Location{"testdata/project/go.mod", 7}},
		{Module: extra, Kind: Code, BuildList: true, At: Location{"testdata/project/go.mod", 1}},
		{Module: module.Version{Path: "example.com/hello", Version: "v1.0.0"}, Kind: GoModOnly, GoSum: true, At: Location{"testdata/project/go.sum", 3}},
		{Module: hello11, Kind: Code, BuildList: true, GoSum: true, ZipSum: "h1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", At: Location{"testdata/project/go.mod", 5}},
	}
	if len(items) != len(want) {
		t.Fatalf("items %+v\nwant %+v", items, want)
	}
	for i := range want {
		if items[i] != want[i] {
			t.Errorf("item %d: %+v, want %+v", i, items[i], want[i])
		}
	}

	// A build list that cannot be resolved: the requirements and go.sum
	// are still checked, and the check is incomplete.
	items, incomplete, err = Items(context.Background(), p, fakeResolver{err: errors.New("403 Forbidden")})
	if err != nil {
		t.Fatal(err)
	}
	if len(incomplete) != 1 || !strings.Contains(incomplete[0].String(), "403 Forbidden") || len(items) != 3 {
		t.Errorf("incomplete %q, items %+v", incomplete, items)
	}
}

// TestItemsReplaceLocation: a replacement version that neither the
// go.mod requires nor the go.sum names is located at the go.mod's replace
// line, not its module line.
func TestItemsReplaceLocation(t *testing.T) {
	dir := t.TempDir()
	gomod := filepath.Join(dir, "go.mod")
	if err := os.WriteFile(gomod, []byte("module example.com/app\n\ngo 1.21\n\nrequire example.com/old v1.0.0\n\nreplace example.com/old v1.0.0 => example.com/new v1.5.0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	repl := module.Version{Path: "example.com/new", Version: "v1.5.0"}
	items, _, err := Items(context.Background(), Project{GoMod: gomod}, fakeResolver{list: []module.Version{repl}})
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 1 || items[0].Module != repl || items[0].At != (Location{gomod, 7}) {
		t.Errorf("items %+v, want %v at %s:7", items, repl, gomod)
	}
}

// TestParseModuleVersionQuery: a query (latest, a branch, v1) is refused
// with a message that says to give a canonical version, not the
// "not a semantic version" of module.Check.
func TestParseModuleVersionQuery(t *testing.T) {
	for _, s := range []string{"example.com/m@latest", "example.com/m@main", "example.com/m@v1", "example.com/m@v1.2"} {
		_, err := ParseModuleVersion(s)
		if err == nil || !strings.Contains(err.Error(), "give a canonical version") {
			t.Errorf("ParseModuleVersion(%q) = %v; want an error asking for a canonical version", s, err)
		}
	}
	if m, err := ParseModuleVersion("example.com/m@v1.2.3"); err != nil || m.Version != "v1.2.3" {
		t.Errorf("ParseModuleVersion(v1.2.3) = %v, %v", m, err)
	}
}
