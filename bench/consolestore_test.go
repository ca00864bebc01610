package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"time"

	"golang.org/x/mod/module"
	modzip "golang.org/x/mod/zip"

	"github.com/gomirror/gomirror/layout"
	"github.com/gomirror/gomirror/storage"
	fsstore "github.com/gomirror/gomirror/storage/fs"
	"github.com/gomirror/gomirror/uphistory"
)

// The storage of BenchmarkConsolePages' version and graph pages: the main
// module consoleGraphMain v1.0.0 (a .mod, a zip with a README and a
// LICENSE) requires the first layer of consoleGraphLayers layers of
// consoleGraphWidth modules each; every module of a layer requires three of
// the next, at v1.0.0 or v1.1.0 (both stored), so that minimal version
// selection picks v1.1.0 where both are required. Every go.mod says go
// 1.16 (unpruned): all of them are read, as for an old module. The build
// list is 1 + layers × width modules.
const (
	consoleGraphMain   = "bench.example/main"
	consoleGraphLayers = 6
	consoleGraphWidth  = 50 // 301 modules in the graph, 600 .mod files read
)

func graphModule(layer, i int) string { return fmt.Sprintf("bench.example/l%d/m%02d", layer, i) }

// graphGoMod returns the go.mod of module (layer, i) at any version.
func graphGoMod(layer, i int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "module %s\n\ngo 1.16\n", graphModule(layer, i))
	if layer+1 < consoleGraphLayers {
		b.WriteString("\nrequire (\n")
		seen := map[int]bool{}
		for k, j := range []int{i, (i*7 + 3) % consoleGraphWidth, (i*13 + 5) % consoleGraphWidth} {
			if seen[j] {
				continue
			}
			seen[j] = true
			fmt.Fprintf(&b, "\t%s v1.%d.0\n", graphModule(layer+1, j), (i+k)%2)
		}
		b.WriteString(")\n")
	}
	return b.String()
}

// benchFile is a file of a module zip, for modzip.Create.
type benchFile struct {
	name string
	data []byte
}

func (f benchFile) Path() string                 { return f.name }
func (f benchFile) Lstat() (fs.FileInfo, error)  { return benchFileInfo{f}, nil }
func (f benchFile) Open() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(f.data)), nil }

type benchFileInfo struct{ f benchFile }

func (i benchFileInfo) Name() string       { return i.f.name }
func (i benchFileInfo) Size() int64        { return int64(len(i.f.data)) }
func (i benchFileInfo) Mode() fs.FileMode  { return 0o644 }
func (i benchFileInfo) ModTime() time.Time { return time.Time{} }
func (i benchFileInfo) IsDir() bool        { return false }
func (i benchFileInfo) Sys() any           { return nil }

// mitLicense is the MIT license's text, for licensecheck to find.
const mitLicense = `Copyright 2024 The Authors

Permission is hereby granted, free of charge, to any person obtaining
a copy of this software and associated documentation files (the
"Software"), to deal in the Software without restriction, including
without limitation the rights to use, copy, modify, merge, publish,
distribute, sublicense, and/or sell copies of the Software, and to
permit persons to whom the Software is furnished to do so, subject to
the following conditions:

The above copyright notice and this permission notice shall be
included in all copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND,
EXPRESS OR IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF
MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND
NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE
LIABLE FOR ANY CLAIM, DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION
OF CONTRACT, TORT OR OTHERWISE, ARISING FROM, OUT OF OR IN CONNECTION
WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.
`

// buildGraphStore writes the graph's modules into a file system storage
// at dir and returns it.
func buildGraphStore(ctx context.Context, dir string) (storage.Storage, error) {
	st, err := fsstore.New(dir)
	if err != nil {
		return nil, err
	}
	put := func(m module.Version, k layout.Kind, b []byte) error {
		key, err := layout.Key(m, k)
		if err != nil {
			return err
		}
		return storage.PutBytes(ctx, st, key, b)
	}
	var main strings.Builder
	main.WriteString("module " + consoleGraphMain + "\n\ngo 1.16\n\nrequire (\n")
	for i := range consoleGraphWidth {
		fmt.Fprintf(&main, "\t%s v1.0.0\n", graphModule(0, i))
	}
	main.WriteString(")\n")
	m := module.Version{Path: consoleGraphMain, Version: "v1.0.0"}
	if err := put(m, layout.Mod, []byte(main.String())); err != nil {
		return nil, err
	}
	readme := strings.Repeat("# main\n\nA module of the console benchmark.\n\n", 200) // 8 KB
	var z bytes.Buffer
	files := []modzip.File{benchFile{"go.mod", []byte(main.String())}, benchFile{"README.md", []byte(readme)},
		benchFile{"LICENSE", []byte(mitLicense)}, benchFile{"main.go", []byte("package main\n")}}
	if err := modzip.Create(&z, m, files); err != nil {
		return nil, err
	}
	if err := put(m, layout.Zip, z.Bytes()); err != nil {
		return nil, err
	}
	if err := put(m, layout.Info, []byte(`{"Version":"v1.0.0","Time":"2024-01-02T03:04:05Z"}`)); err != nil {
		return nil, err
	}
	for layer := range consoleGraphLayers {
		for i := range consoleGraphWidth {
			for _, v := range []string{"v1.0.0", "v1.1.0"} {
				if err := put(module.Version{Path: graphModule(layer, i), Version: v}, layout.Mod, []byte(graphGoMod(layer, i))); err != nil {
					return nil, err
				}
			}
		}
	}
	return st, nil
}

// benchUpstreams is a full day of history of a chain element and two
// group mirrors: a point per minute.
func benchUpstreams(now time.Time) []uphistory.Upstream {
	var out []uphistory.Upstream
	for u, name := range []string{"https://a.example/", "https://b.example/", "https://c.example/"} {
		up := uphistory.Upstream{Name: name, Requests: 1_000_000, Failures: 1000}
		if u > 0 {
			score := 0.1 * float64(u)
			up.Group, up.Breaker, up.Score = "g", "closed", &score
		}
		for i := range 24 * 60 {
			p := uphistory.Point{Time: now.Add(time.Duration(i-24*60) * time.Minute), Requests: 100, Failures: uint64(i % 3),
				P50: 0.01 + float64(i%7)/1000, P95: 0.1 + float64(i%11)/100}
			p.ErrorRate = float64(p.Failures) / float64(p.Requests)
			if up.Score != nil {
				s := *up.Score + float64(i%5)/100
				p.Score = &s
			}
			up.Points = append(up.Points, p)
		}
		out = append(out, up)
	}
	return out
}
