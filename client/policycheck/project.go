package policycheck

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"

	"github.com/gomirror/gomirror/client/golist"
	"github.com/gomirror/gomirror/i18n"
)

// Project is the files of the project to check: its go.mod and go.sum.
type Project struct {
	GoMod string // path of the go.mod; "" if there is none (a go.sum alone)
	GoSum string // path of the go.sum; "" if there is none
}

// Locate finds the project that arg names: a directory (its go.mod and
// go.sum), a go.mod file (and the go.sum next to it) or a go.sum file (and
// the go.mod next to it, if any); "" is the current directory. A
// directory or go.mod must have a go.mod; a go.sum file must exist.
func Locate(arg string) (Project, error) {
	if arg == "" {
		arg = "."
	}
	fi, err := os.Stat(arg)
	if err != nil {
		return Project{}, err
	}
	var p Project
	switch {
	case fi.IsDir():
		p.GoMod, p.GoSum = filepath.Join(arg, "go.mod"), filepath.Join(arg, "go.sum")
	case strings.HasSuffix(arg, ".sum"):
		p.GoMod, p.GoSum = strings.TrimSuffix(arg, ".sum")+".mod", arg
		if !exists(p.GoMod) {
			p.GoMod = ""
		}
		return p, nil
	default:
		p.GoMod, p.GoSum = arg, strings.TrimSuffix(arg, ".mod")+".sum"
	}
	if !exists(p.GoMod) {
		return Project{}, fmt.Errorf("%s: %w", p.GoMod, fs.ErrNotExist)
	}
	if !exists(p.GoSum) {
		p.GoSum = ""
	}
	return p, nil
}

func exists(name string) bool {
	fi, err := os.Stat(name)
	return err == nil && !fi.IsDir()
}

// Kind says how much of a module version the project uses, which decides
// what the policy judges: the code (a zip: licenses too) or only the go.mod.
type Kind string

const (
	// Code is a module version whose code the project may build: in the
	// build list, or with a zip hash line in go.sum.
	Code Kind = "zip"
	// GoModOnly is a module version of which only the go.mod is read (a
	// go.sum "/go.mod" line and no other).
	GoModOnly Kind = "mod"
)

// Location is where a file names a module version.
type Location struct {
	File string `json:"file"` // as the project's paths are given
	Line int    `json:"line"` // from 1
}

// Item is a module version to check.
type Item struct {
	Module    module.Version
	Kind      Kind
	BuildList bool     // in the build list (go list -m all)
	GoSum     bool     // in the go.sum (a zip line, or a /go.mod line)
	ZipSum    string   // the go.sum's hash of the zip ("h1:..."), if it has one
	At        Location // where it is named: go.mod's require line, else go.sum's line, else go.mod's module line
}

// SumLine is one line of a go.sum.
type SumLine struct {
	Module module.Version
	GoMod  bool // a "/go.mod" line: the hash of the go.mod only
	Hash   string
	Line   int
}

// ReadGoSum parses a go.sum file's data. A line that is not
// "path version[/go.mod] hash" with a valid module path and version is an
// error naming its line; blank lines are skipped.
func ReadGoSum(name string, data []byte) ([]SumLine, error) {
	var out []SumLine
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		if len(f) != 3 {
			return nil, fmt.Errorf("%s:%d: malformed go.sum line", name, n)
		}
		v, gomod := strings.CutSuffix(f[1], "/go.mod")
		if err := module.Check(f[0], v); err != nil {
			return nil, fmt.Errorf("%s:%d: %v", name, n, err)
		}
		out = append(out, SumLine{Module: module.Version{Path: f[0], Version: v}, GoMod: gomod, Hash: f[2], Line: n})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	return out, nil
}

// Resolver gives a project's build list: the module versions of
// `go list -m all`, less the main module and modules replaced by a local
// directory, a replaced module as its replacement.
type Resolver interface {
	BuildList(ctx context.Context, gomod string) ([]module.Version, error)
}

// GoList is the Resolver that runs the real go command through Proxy
// (golist.Load).
type GoList struct {
	Go    golist.GoCommand
	Proxy string // the GOPROXY the go command uses
}

var _ Resolver = GoList{}

// BuildList implements Resolver.
func (g GoList) BuildList(ctx context.Context, gomod string) ([]module.Version, error) {
	out, err := golist.Load(ctx, g.Go, g.Proxy, gomod, nil, false)
	if err != nil {
		return nil, err
	}
	mods, err := golist.Modules(out.List)
	if err != nil {
		return nil, err
	}
	var list []module.Version
	for _, m := range mods {
		if m.Main {
			continue
		}
		if r := m.Replace; r != nil {
			if r.Version != "" {
				list = append(list, module.Version{Path: r.Path, Version: r.Version})
			}
			continue
		}
		if m.Version != "" {
			list = append(list, module.Version{Path: m.Path, Version: m.Version})
		}
	}
	return list, nil
}

// WorkspaceFinder is the optional capability of a Resolver that can tell
// which go.work file, if any, the go command would use for a go.mod.
type WorkspaceFinder interface {
	Workspace(ctx context.Context, gomod string) (gowork string, err error)
}

var _ WorkspaceFinder = GoList{}

// Workspace implements WorkspaceFinder with golist.Workspace.
func (g GoList) Workspace(ctx context.Context, gomod string) (string, error) {
	dir, err := filepath.Abs(filepath.Dir(gomod))
	if err != nil {
		return "", err
	}
	return golist.Workspace(ctx, g.Go, dir)
}

// Items returns every module version to check in p, sorted: those of the
// build list (r's, from the go.mod; none without a go.mod) and those of the
// go.sum. The error, if any, is about the go.mod or go.sum: a build list
// that cannot be resolved is listed in incomplete instead (the go.sum's
// and go.mod's own module versions are still checked).
//
// If r is a WorkspaceFinder and the go command would use a workspace for
// the go.mod, the build list is still resolved without it (the workspace's
// other modules and their go.sum files are not the project's to copy), so
// the check is incomplete: the go.work's replacements by module versions
// and every module version of its go.work.sum are checked too (located at
// their go.work and go.work.sum lines), and incomplete says so. A
// violation among them still fails the check; no violation is exit 2.
func Items(ctx context.Context, p Project, r Resolver) (items []Item, incomplete []i18n.Text, err error) {
	byMod := map[module.Version]*Item{}
	add := func(m module.Version) *Item {
		it := byMod[m]
		if it == nil {
			it = &Item{Module: m, Kind: GoModOnly}
			byMod[m] = it
		}
		return it
	}
	var (
		requires map[module.Version]int // go.mod require lines
		modLine  int
		replaces = map[module.Version]Location{} // go.mod replace lines, by replacement
	)
	if p.GoMod != "" {
		data, err := os.ReadFile(p.GoMod)
		if err != nil {
			return nil, nil, err
		}
		f, err := modfile.Parse(p.GoMod, data, nil)
		if err != nil {
			return nil, nil, err
		}
		requires = map[module.Version]int{}
		for _, req := range f.Require {
			requires[req.Mod] = req.Syntax.Start.Line
		}
		// A replacement by a module version is named on its replace
		// line (the first, if several replace by it).
		for _, rep := range f.Replace {
			if rep.New.Version != "" {
				if _, ok := replaces[rep.New]; !ok {
					replaces[rep.New] = Location{p.GoMod, rep.Syntax.Start.Line}
				}
			}
		}
		if f.Module != nil && f.Module.Syntax != nil {
			modLine = f.Module.Syntax.Start.Line
		}
		list, err := r.BuildList(ctx, p.GoMod)
		if err != nil {
			incomplete = append(incomplete, i18n.T("the build list of %s could not be resolved, so only its requirements and go.sum were checked: %v", p.GoMod, err))
			// The go.mod's own requirements are still the project's.
			for req := range requires {
				it := add(req)
				it.Kind, it.BuildList = Code, true
			}
		}
		for _, m := range list {
			it := add(m)
			it.Kind, it.BuildList = Code, true
		}
	}
	workLines := map[module.Version]Location{}
	if wf, ok := r.(WorkspaceFinder); ok && p.GoMod != "" {
		gowork, err := wf.Workspace(ctx, p.GoMod)
		switch {
		case err != nil:
			incomplete = append(incomplete, i18n.T("could not tell whether a workspace (go.work) applies to %s: %v", p.GoMod, err))
		case gowork != "":
			if err := workspaceItems(gowork, add, workLines); err != nil {
				return nil, nil, err
			}
			incomplete = append(incomplete, i18n.T("%s is used through the workspace %s: its build list was resolved without the workspace; the workspace's replacements and go.work.sum were checked, its other modules' requirements were not (check each module, or with GOWORK=off)", p.GoMod, gowork))
		}
	}
	sumLines := map[module.Version]int{}
	if p.GoSum != "" {
		data, err := os.ReadFile(p.GoSum)
		if err != nil {
			return nil, nil, err
		}
		lines, err := ReadGoSum(p.GoSum, data)
		if err != nil {
			return nil, nil, err
		}
		for _, l := range lines {
			it := add(l.Module)
			it.GoSum = true
			if !l.GoMod {
				it.Kind = Code
				it.ZipSum = l.Hash
			}
			if _, ok := sumLines[l.Module]; !ok || !l.GoMod {
				sumLines[l.Module] = l.Line
			}
		}
	}
	for m, it := range byMod {
		switch {
		case requires[m] > 0:
			it.At = Location{p.GoMod, requires[m]}
		case sumLines[m] > 0:
			it.At = Location{p.GoSum, sumLines[m]}
		case replaces[m].Line > 0:
			it.At = replaces[m]
		case workLines[m].Line > 0:
			it.At = workLines[m]
		case p.GoMod != "":
			it.At = Location{p.GoMod, max(modLine, 1)}
		}
		items = append(items, *it)
	}
	sortItems(items)
	return items, incomplete, nil
}

// workspaceItems adds the module versions of the workspace gowork: each
// replacement by a module version in its go.work (Code) and each module
// version of its go.work.sum, if it has one, noting where each is named.
func workspaceItems(gowork string, add func(module.Version) *Item, at map[module.Version]Location) error {
	data, err := os.ReadFile(gowork)
	if err != nil {
		return err
	}
	wf, err := modfile.ParseWork(gowork, data, nil)
	if err != nil {
		return err
	}
	for _, r := range wf.Replace {
		if r.New.Version == "" {
			continue // a local directory: its code is not fetched
		}
		add(r.New).Kind = Code
		if _, ok := at[r.New]; !ok {
			at[r.New] = Location{gowork, r.Syntax.Start.Line}
		}
	}
	sumName := strings.TrimSuffix(gowork, ".work") + ".work.sum"
	data, err = os.ReadFile(sumName)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	} else if err != nil {
		return err
	}
	lines, err := ReadGoSum(sumName, data)
	if err != nil {
		return err
	}
	for _, l := range lines {
		it := add(l.Module)
		if !l.GoMod {
			it.Kind = Code
		}
		if _, ok := at[l.Module]; !ok {
			at[l.Module] = Location{sumName, l.Line}
		}
	}
	return nil
}

func sortItems(items []Item) {
	mods := make([]module.Version, len(items))
	idx := map[module.Version]Item{}
	for i, it := range items {
		mods[i] = it.Module
		idx[it.Module] = it
	}
	module.Sort(mods)
	for i, m := range mods {
		items[i] = idx[m]
	}
}

// errNoVersion is a module version string that is not canonical.
var errNoVersion = i18n.Errorf("not a canonical version")

// ParseModuleVersion parses "path@version" with a canonical version, as
// `policy explain` takes it.
func ParseModuleVersion(s string) (module.Version, error) {
	p, v, ok := strings.Cut(s, "@")
	if !ok {
		return module.Version{}, i18n.Errorf("%q: want module@version", s)
	}
	if c := semver.Canonical(v); c == "" || c != v && c+"+incompatible" != v {
		return module.Version{}, i18n.Errorf("%q: %v: give a canonical version (such as v1.2.3; go list -m %s shows a query's), not a query", s, errNoVersion, s)
	}
	if err := module.Check(p, v); err != nil {
		return module.Version{}, err
	}
	return module.Version{Path: p, Version: v}, nil
}
