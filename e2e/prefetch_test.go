package e2e

import (
	"context"
	"io/fs"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gomirror/gomirror/internal/fakeproxy"
)

// TestPrefetchStoresOnlyRequestedZips: the go command's metadata-only
// commands (`go list -m`, whose .info requests start the same prefetch as
// `go mod download`'s) leave no zip in storage, while the commands that
// download zips find them prefetched (each zip fetched from the upstream
// once) and stored. Each command runs through a fresh gomirror with empty
// storage and a fresh module cache; what it asked for, what the upstream
// was asked and what was stored are logged (bench/README.md, "Zip
// prefetch: requested vs stored").
func TestPrefetchStoresOnlyRequestedZips(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the go command")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	up := fakeproxy.New(t)

	// A project that needs example.com/hello v1.1.0 and its requirement
	// example.com/dep v1.0.0, with a complete go.sum (straight from the
	// fake upstream).
	project := t.TempDir()
	writeFiles(t, project, map[string]string{
		"go.mod":  "module example.com/app\n\ngo 1.21\n\nrequire example.com/hello v1.1.0\n",
		"main.go": "package main\n\nimport \"example.com/hello\"\n\nfunc main() { println(hello.Hello()) }\n",
	})
	mustGo(ctx, t, project, goEnv(t, up.URL, up.DBKey), "mod", "tidy")

	const (
		hello = "example.com/hello/@v/v1.1.0.zip"
		dep   = "example.com/dep/@v/v1.0.0.zip"
	)
	tests := []struct {
		name string
		dir  string // "": an empty module
		args []string
		// want is the zips the command asks for, and so the zips stored
		// (storage keys).
		want []string
	}{
		{"mod download", project, []string{"mod", "download"}, []string{dep, hello}},
		{"build", project, []string{"build", "-o", t.TempDir(), "./..."}, []string{dep, hello}},
		{"list -m all", project, []string{"list", "-m", "all"}, nil},
		{"list -m -versions", "", []string{"list", "-m", "-versions", "example.com/hello"}, nil},
		{"list -m -json @latest", "", []string{"list", "-m", "-json", "example.com/hello@latest"}, nil},
		{"get @latest", "", []string{"get", "example.com/hello@latest"}, []string{dep, hello}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(up.Requests())
			store := t.TempDir()
			m := startMirror(t, "--storage-dir", store, "--upstream", up.URL, "--sumdb", up.DBKey, "--database", "off")
			dir := tt.dir
			if dir == "" {
				dir = t.TempDir()
				writeFiles(t, dir, map[string]string{"go.mod": "module example.com/m\n\ngo 1.21\n"})
			}
			mustGo(ctx, t, dir, goEnv(t, m.URL, up.DBKey), tt.args...)
			m.stop(t) // waits for the prefetches
			logs := m.logs.String()

			requested := accessCounts(logs)
			fetched := zipHits(up.Requests()[before:])
			stored := storedZips(t, store)
			held := strings.Count(logs, `msg="zip held"`)
			fromHeld := strings.Count(logs, `msg="zip stored from prefetch"`)
			t.Logf("go %s: client asked list %d, info %d, mod %d, zip %d; upstream zips %d; held %d; stored zips %d (%d of them held first)",
				strings.Join(tt.args, " "), requested["list"], requested["info"], requested["mod"], requested["zip"], len(fetched), held, len(stored), fromHeld)

			if !slices.Equal(stored, tt.want) {
				t.Errorf("stored zips %q, want %q (the ones the command asks for)", stored, tt.want)
			}
			if requested["zip"] != len(tt.want) {
				t.Errorf("the go command asked for %d zips, want %d", requested["zip"], len(tt.want))
			}
			// Nothing fetched twice: a zip the client asks for after its
			// prefetch is the prefetched one.
			for p, n := range fetched {
				if n > 1 {
					t.Errorf("upstream asked %d times for %s, want once", n, p)
				}
			}
			for _, k := range tt.want {
				if fetched["/"+k] != 1 {
					t.Errorf("upstream asked %d times for %s, want once", fetched["/"+k], k)
				}
			}
			if tmp := leftovers(t, store); len(tmp) > 0 {
				t.Errorf("temporary files left after shutdown: %q", tmp)
			}
		})
	}
}

var accessLine = regexp.MustCompile(`msg=request method=GET path=(\S+) status=200`)

// accessCounts counts the requests answered 200 in gomirror's access log,
// by kind: list, info, mod, zip.
func accessCounts(logs string) map[string]int {
	n := map[string]int{}
	for _, m := range accessLine.FindAllStringSubmatch(logs, -1) {
		switch p := m[1]; {
		case strings.HasSuffix(p, "/@v/list"):
			n["list"]++
		case strings.HasSuffix(p, ".info"):
			n["info"]++
		case strings.HasSuffix(p, ".mod"):
			n["mod"]++
		case strings.HasSuffix(p, ".zip"):
			n["zip"]++
		}
	}
	return n
}

// zipHits counts the zip requests among an upstream's request paths, by
// path.
func zipHits(paths []string) map[string]int {
	n := map[string]int{}
	for _, p := range paths {
		if strings.HasSuffix(p, ".zip") {
			n[p]++
		}
	}
	return n
}

// storedZips returns the keys of the zips in the storage directory store,
// sorted.
func storedZips(t *testing.T, store string) []string {
	t.Helper()
	var keys []string
	filepath.WalkDir(store, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".zip") && !strings.Contains(p, ".gomirror") {
			rel, _ := filepath.Rel(store, p)
			keys = append(keys, filepath.ToSlash(rel))
		}
		return nil
	})
	slices.Sort(keys)
	return keys
}

// leftovers returns the files under the store's temporary directories.
func leftovers(t *testing.T, store string) []string {
	t.Helper()
	var files []string
	filepath.WalkDir(filepath.Join(store, ".gomirror", "tmp"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, p)
		}
		return nil
	})
	return files
}
