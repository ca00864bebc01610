// Package golist asks the real go command, through a module proxy, about a
// project's modules without changing the project: its build list
// (`go list -m -json all`) and, if asked, its requirement graph
// (`go mod graph`) and the modules the go command downloads to build it
// (`go mod download -json`). It is shared by `gomirror warm`
// (client/warm), which fetches what they name, `gomirror policy check`
// (client/policycheck), which judges it, and snapshots (snapshot.Resolver).
//
// The go command runs through internal/gocmd with the proxy as its only
// GOPROXY, a GOMODCACHE of its own in a temporary directory,
// GOFLAGS=-mod=mod, and an alternate go.mod (a copy of the project's, with
// its go.sum next to it) given with -modfile, so the project's own go.mod
// and go.sum are never written. It runs in the project's directory, so
// relative paths in replace directives mean what they mean there.
// Checksums are not checked against a checksum database (GOSUMDB=off): the
// go.sum lines the project has are, and a gomirror checks every module
// against the checksum database before it serves it.
package golist

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"

	"github.com/gomirror/gomirror/i18n"
	"github.com/gomirror/gomirror/internal/gocmd"
)

// GoCommand runs the real go command.
type GoCommand struct {
	Path string   // the go command; "go" (looked up in PATH) if empty
	Env  []string // its environment before Load's changes; os.Environ if nil
	// Token, if set, is sent by the go command to Load's proxy, and to no
	// other host, as "Authorization: Bearer": Load writes it to a file
	// (mode 0600) in its temporary directory, read by a GOAUTH command
	// there (a shell script: Unix only), never on a command line or in the
	// environment, and removed with the directory. The go command sends
	// GOAUTH headers over https only: an http proxy gets no token.
	Token string
}

func (g GoCommand) run(ctx context.Context, dir string, env []string, args ...string) ([]byte, error) {
	return gocmd.Cmd{Path: g.Path, Environ: env, Dir: dir}.Run(ctx, args...)
}

// env is the go command's environment for resolving through proxy: every
// module from proxy, none from anywhere else, nothing written outside tmp.
func (g GoCommand) env(proxy, tmp string) []string {
	return gocmd.WithEnv(g.Env,
		"GOPROXY="+proxy,
		"GOMODCACHE="+filepath.Join(tmp, "modcache"),
		"GOFLAGS=-mod=mod -modcacherw",
		"GOSUMDB=off",
		"GONOSUMDB=",
		"GONOPROXY=",
		"GOPRIVATE=",
		"GOWORK=off",
		"GOTOOLCHAIN=local",
		"GO111MODULE=on",
	)
}

// Workspace returns the go.work file the go command would use for the
// go.mod in directory dir, with g's environment (GOWORK, or a go.work in
// dir or above it), or "" if none (GOWORK off or empty). Load never uses
// it (GOWORK=off): a caller that must not ignore a workspace asks here.
func Workspace(ctx context.Context, g GoCommand, dir string) (string, error) {
	out, err := g.run(ctx, dir, gocmd.WithEnv(g.Env, "GOFLAGS="), "env", "GOWORK")
	if err != nil {
		return "", err
	}
	w := strings.TrimSpace(string(out))
	if w == "off" {
		w = ""
	}
	return w, nil
}

// Output is what the go command said about a project.
type Output struct {
	List    []byte             // the output of go list -m -json all
	Graph   []byte             // the output of go mod graph; nil unless asked for
	Replace []*modfile.Replace // the main module's replace directives
	// Downloads are the module versions `go mod download` with no
	// arguments fetched, zips included, sorted; nil unless asked for.
	Downloads []module.Version
}

// Ask is what LoadWith asks the go command besides the build list.
type Ask struct {
	Graph bool // the requirement graph (go mod graph): Output.Graph
	// Downloads asks which modules the build downloads, zips included:
	// those whose packages `go build ./...` and `go test ./...` of the
	// main module load, as with GOFLAGS=-mod=mod (`go list -deps -test -e
	// ./...`; a go.mod that lacks a module its imports need gets it added,
	// in the temporary copy only), and those `go mod download` with no
	// arguments fetches (for a main module at go 1.17 or later, the
	// modules it requires explicitly; at go 1.16 or earlier, every module
	// of the build list). Output.Downloads lists their union. One that
	// cannot be downloaded by go mod download (its zip, its .mod or its
	// .info) fails LoadWith with an error naming it. For a main module
	// made of module@version arguments (MainModule) these are the
	// arguments.
	Downloads bool
}

// Load asks the go command, through proxy, for the build list of the
// go.mod file gomod (its go.sum next to it is used if it exists), and its
// requirement graph too if graph is true; if gomod is empty, for those of a
// main module requiring the module@version arguments mods (MainModule).
// Neither the go.mod nor the go.sum is changed.
func Load(ctx context.Context, g GoCommand, proxy, gomod string, mods []string, graph bool) (*Output, error) {
	return LoadWith(ctx, g, proxy, gomod, mods, Ask{Graph: graph})
}

// LoadWith is Load, asking the go command what ask says besides the build
// list, in the same temporary copy of the project.
func LoadWith(ctx context.Context, g GoCommand, proxy, gomod string, mods []string, ask Ask) (*Output, error) {
	tmp, err := os.MkdirTemp("", "gomirror-golist-*")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	env := g.env(proxy, tmp)
	if g.Token != "" {
		goauth, err := writeGoAuth(tmp, proxy, g.Token)
		if err != nil {
			return nil, err
		}
		env = gocmd.WithEnv(env, "GOAUTH="+goauth)
	}
	alt := filepath.Join(tmp, "go.mod")
	var dir string
	if gomod != "" {
		data, err := os.ReadFile(gomod)
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(alt, data, 0o644); err != nil {
			return nil, err
		}
		sum, err := os.ReadFile(strings.TrimSuffix(gomod, ".mod") + ".sum")
		if err == nil {
			err = os.WriteFile(filepath.Join(tmp, "go.sum"), sum, 0o644)
		} else if errors.Is(err, os.ErrNotExist) {
			err = nil
		}
		if err != nil {
			return nil, err
		}
		if dir, err = filepath.Abs(filepath.Dir(gomod)); err != nil {
			return nil, err
		}
	} else {
		data, err := MainModule(mods, goVersion(ctx, g, env, tmp))
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(alt, data, 0o644); err != nil {
			return nil, err
		}
		dir = tmp
	}
	modfileFlag := "-modfile=" + alt
	out := &Output{}
	// The packages first: with -mod=mod, what their imports add to the
	// temporary go.mod is in the build list and graph asked next.
	var loaded []module.Version
	if ask.Downloads && gomod != "" {
		data, err := g.run(ctx, dir, env, "list", modfileFlag, "-mod=mod", "-deps", "-test", "-e",
			"-f", "{{with .Module}}{{if not .Main}}{{.Path}} {{.Version}}{{end}}{{end}}", "./...")
		if err != nil {
			return nil, err
		}
		for line := range strings.Lines(string(data)) {
			if p, v, ok := strings.Cut(strings.TrimSpace(line), " "); ok && v != "" {
				loaded = append(loaded, module.Version{Path: p, Version: v})
			}
		}
	}
	if out.List, err = g.run(ctx, dir, env, "list", modfileFlag, "-m", "-json", "all"); err != nil {
		return nil, err
	}
	if ask.Graph {
		if out.Graph, err = g.run(ctx, dir, env, "mod", "graph", modfileFlag); err != nil {
			return nil, err
		}
	}
	if ask.Downloads {
		data, err := gocmd.Cmd{Path: g.Path, Environ: env, Dir: dir}.Output(ctx, "mod", "download", modfileFlag, "-json")
		ds, perr := downloads(data)
		if err != nil {
			// Name the modules it could not download, if it said.
			var failed []string
			for _, d := range ds {
				if d.Error != "" {
					failed = append(failed, d.Path+"@"+d.Version+": "+d.Error)
				}
			}
			if len(failed) > 0 {
				return nil, i18n.Errorf("the build needs modules that could not be downloaded:\n\t%s", strings.Join(failed, "\n\t"))
			}
			return nil, err
		}
		if perr != nil {
			return nil, perr
		}
		out.Downloads = loaded
		for _, d := range ds {
			out.Downloads = append(out.Downloads, module.Version{Path: d.Path, Version: d.Version})
		}
		module.Sort(out.Downloads)
		out.Downloads = slices.Compact(out.Downloads)
		if out.Downloads == nil {
			out.Downloads = []module.Version{}
		}
	}
	data, err := os.ReadFile(alt) // after -mod=mod, as the go command sees it
	if err != nil {
		return nil, err
	}
	// Parse, not ParseLax: ParseLax drops replace directives.
	f, err := modfile.Parse(alt, data, nil)
	if err != nil {
		return nil, err
	}
	out.Replace = f.Replace
	return out, nil
}

// writeGoAuth writes, in dir, a GOAUTH command giving the go command
// "Authorization: Bearer tok" for proxy's URLs only, and returns the
// GOAUTH value that runs it.
func writeGoAuth(dir, proxy, tok string) (string, error) {
	if strings.ContainsAny(dir, " \t\n'") {
		return "", fmt.Errorf("cannot hand the token to the go command: the temporary directory %q has a space or quote in its name", dir)
	}
	if strings.ContainsAny(tok, "\r\n") || strings.ContainsAny(proxy, "\r\n") {
		return "", errors.New("cannot hand the token to the go command: a line break in the token or the proxy URL")
	}
	creds := filepath.Join(dir, "goauth-credentials")
	body := strings.TrimRight(proxy, "/") + "/\n\nAuthorization: Bearer " + tok + "\n\n"
	if err := os.WriteFile(creds, []byte(body), 0o600); err != nil {
		return "", err
	}
	script := filepath.Join(dir, "goauth")
	if err := os.WriteFile(script, []byte("#!/bin/sh\nexec cat '"+creds+"'\n"), 0o700); err != nil {
		return "", err
	}
	return script, nil
}

// goVersion is the go command's language version, for the go line of a
// temporary main module, or "" if it cannot tell.
func goVersion(ctx context.Context, g GoCommand, env []string, dir string) string {
	out, err := g.run(ctx, dir, env, "env", "GOVERSION")
	if err != nil {
		return ""
	}
	v, _, _ := strings.Cut(strings.TrimSpace(string(out)), " ")
	v, ok := strings.CutPrefix(v, "go")
	if !ok || !modfile.GoVersionRE.MatchString(v) {
		return ""
	}
	return v
}

// MainModule is a go.mod requiring the module@version arguments mods, with
// go line goVersion if not empty.
func MainModule(mods []string, goVersion string) ([]byte, error) {
	f := &modfile.File{}
	if err := f.AddModuleStmt("gomirror.warm.invalid/main"); err != nil {
		return nil, err
	}
	if goVersion != "" {
		if err := f.AddGoStmt(goVersion); err != nil {
			return nil, err
		}
	}
	for _, arg := range mods {
		p, v, ok := strings.Cut(arg, "@")
		if !ok || v == "" {
			return nil, fmt.Errorf("%q: want module@version", arg)
		}
		if err := module.Check(p, v); err != nil {
			return nil, err
		}
		if err := f.AddRequire(p, v); err != nil {
			return nil, err
		}
	}
	return f.Format()
}

// Module is one module of `go list -m -json` output, the part gomirror
// reads.
type Module struct {
	Path     string
	Version  string
	Main     bool
	Indirect bool
	Replace  *Module // what it is replaced by; a local directory has no Version
}

// Modules parses the output of `go list -m -json` (a stream of JSON
// objects), in its order.
func Modules(list []byte) ([]Module, error) {
	var out []Module
	dec := json.NewDecoder(bytes.NewReader(list))
	for {
		var m Module
		if err := dec.Decode(&m); err == io.EOF {
			return out, nil
		} else if err != nil {
			return nil, fmt.Errorf("reading go list -m -json output: %v", err)
		}
		out = append(out, m)
	}
}

// download is one module of `go mod download -json` output, the part
// gomirror reads.
type download struct {
	Path, Version, Error string
}

// downloads parses the output of `go mod download -json` (a stream of JSON
// objects).
func downloads(data []byte) ([]download, error) {
	var out []download
	dec := json.NewDecoder(bytes.NewReader(data))
	for {
		var d download
		if err := dec.Decode(&d); err == io.EOF {
			return out, nil
		} else if err != nil {
			return out, fmt.Errorf("go mod download -json: %v", err)
		}
		if d.Error == "" {
			if err := module.Check(d.Path, d.Version); err != nil {
				return out, fmt.Errorf("go mod download -json: %v", err)
			}
		}
		out = append(out, d)
	}
}
