package snapshot_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/dirhash"

	"github.com/gomirror/gomirror/config"
	"github.com/gomirror/gomirror/internal/fakeproxy"
	"github.com/gomirror/gomirror/server"
	"github.com/gomirror/gomirror/snapshot"
)

// loopback starts the in-process mirror over up, as snapshot create does.
func loopback(t *testing.T, up *fakeproxy.Server) *server.Loopback {
	t.Helper()
	t.Setenv("GOPROXY", "off")
	t.Setenv("GOENV", "off")
	t.Setenv("GOPATH", filepath.Join(t.TempDir(), "gopath"))
	cfg := config.Defaults()
	cfg.VulnDB = "off"
	cfg.StorageDir = t.TempDir()
	cfg.DirectDir = t.TempDir()
	cfg.Upstream = up.URL
	cfg.SumDB = up.DBKey
	cfg.FetchTimeout = 30 * time.Second
	cfg.ShutdownTimeout = 10 * time.Second
	l, err := server.StartLoopback(context.Background(), &cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Errorf("closing the loopback mirror: %v", err)
		}
	})
	return l
}

func zipHash(t *testing.T, zip []byte) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "m.zip")
	if err := os.WriteFile(f, zip, 0o644); err != nil {
		t.Fatal(err)
	}
	h, err := dirhash.HashZip(f, dirhash.Hash1)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestLoopbackNeedsItsSecret(t *testing.T) {
	up := fakeproxy.New(t)
	l := loopback(t, up)
	i := strings.LastIndex(l.URL, "/")
	other := "0" // the secret with its first digit changed
	if l.URL[i+1] == '0' {
		other = "1"
	}
	for _, tc := range []struct {
		url  string
		want int
	}{
		{l.URL + "/example.com/hello/@v/list", http.StatusOK},
		{l.URL[:i] + "/example.com/hello/@v/list", http.StatusNotFound},
		{l.URL[:i] + "/" + other + l.URL[i+2:] + "/example.com/hello/@v/list", http.StatusNotFound},
	} {
		resp, err := http.Get(tc.url)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("GET %s: %d, want %d", tc.url, resp.StatusCode, tc.want)
		}
	}
}

func TestResolveThroughLoopback(t *testing.T) {
	up := fakeproxy.New(t)
	l := loopback(t, up)
	r := &snapshot.Resolver{Mirror: l.URL, Jobs: 2}
	entries, err := r.Resolve(context.Background(), []snapshot.Source{{Modules: []string{"example.com/hello@v1.1.0"}}})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Path+"@"+e.Version)
		m := up.Module(e.Path, e.Version)
		if m == nil {
			t.Fatalf("%s@%s: not a fixture", e.Path, e.Version)
		}
		if e.Hash != zipHash(t, m.Zip) {
			t.Errorf("%s@%s: hash %s, want the zip's %s", e.Path, e.Version, e.Hash, zipHash(t, m.Zip))
		}
		if e.GoModHash == "" {
			t.Errorf("%s@%s: no go.mod hash", e.Path, e.Version)
		}
	}
	if strings.Join(got, " ") != "example.com/dep@v1.0.0 example.com/hello@v1.1.0" {
		t.Errorf("entries %v", got)
	}
	// Fetched through the mirror: it stored them.
	for _, k := range []string{"example.com/hello/@v/v1.1.0.zip", "example.com/dep/@v/v1.0.0.mod"} {
		if _, err := l.Storage().Stat(context.Background(), k); err != nil {
			t.Errorf("%s not stored: %v", k, err)
		}
	}

	// A go.sum source is checked against what the mirror serves.
	sum := filepath.Join(t.TempDir(), "go.sum")
	line := "example.com/dep v1.0.0 " + entries[0].Hash + "\nexample.com/dep v1.0.0/go.mod " + entries[0].GoModHash + "\n"
	if err := os.WriteFile(sum, []byte(line), 0o644); err != nil {
		t.Fatal(err)
	}
	es, err := r.Resolve(context.Background(), []snapshot.Source{{GoSum: sum}})
	if err != nil || len(es) != 1 || es[0] != entries[0] {
		t.Errorf("Resolve(go.sum) = %v, %v; want %v", es, err, entries[0])
	}
	bad := strings.Replace(line, entries[0].Hash, entries[1].Hash, 1)
	if err := os.WriteFile(sum, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Resolve(context.Background(), []snapshot.Source{{GoSum: sum}}); err == nil || !strings.Contains(err.Error(), "the source (go.sum or manifest) says") {
		t.Errorf("Resolve(go.sum with a wrong hash) = %v", err)
	}
}

// A go.mod source is checked against the go.sum next to it: a line with
// another hash than the mirror serves refuses the whole.
func TestResolveGoModChecksSiblingGoSum(t *testing.T) {
	up := fakeproxy.New(t)
	l := loopback(t, up)
	r := &snapshot.Resolver{Mirror: l.URL, Jobs: 2}
	good, err := r.Resolve(context.Background(), []snapshot.Source{{Modules: []string{"example.com/hello@v1.1.0"}}})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	gomod := filepath.Join(dir, "go.mod")
	if err := os.WriteFile(gomod, []byte("module example.com/app\n\ngo 1.21\n\nrequire example.com/hello v1.1.0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var sum strings.Builder
	for _, e := range good {
		sum.WriteString(e.Path + " " + e.Version + " " + e.Hash + "\n")
		sum.WriteString(e.Path + " " + e.Version + "/go.mod " + e.GoModHash + "\n")
	}
	for _, tc := range []struct {
		name, sum, err string
	}{
		{"no go.sum", "", ""},
		{"matching", sum.String(), ""},
		// the go command downloading the zip checks it against the go.sum
		{"zip hash", strings.Replace(sum.String(), good[1].Hash, "h1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", 1), "checksum mismatch"},
		{"go.mod hash", strings.Replace(sum.String(), good[0].GoModHash, "h1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", 1), good[0].Path},
		// a line for a version the graph does not have adds nothing
		{"other version", sum.String() + "example.com/hello v1.0.0 h1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			os.Remove(filepath.Join(dir, "go.sum"))
			if tc.sum != "" {
				if err := os.WriteFile(filepath.Join(dir, "go.sum"), []byte(tc.sum), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			src, err := snapshot.SourceOf(dir)
			if err != nil {
				t.Fatal(err)
			}
			es, err := r.Resolve(context.Background(), []snapshot.Source{src})
			switch {
			case tc.err == "" && err != nil:
				t.Fatalf("Resolve: %v", err)
			case tc.err == "" && len(es) != len(good):
				t.Errorf("entries %v, want %v", es, good)
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), "go.sum")):
				t.Errorf("Resolve = %v; want an error with %q naming the go.sum", err, tc.err)
			}
		})
	}
}

// A go.mod source's zips are those the go command downloads for it:
// example.com/dep, in the graph only (example.com/hello's requirement, not
// the project's: go 1.21, pruned), is go.mod-only and its zip is never
// asked for, even when upstream refuses it. A module@version source gets
// its build list's zips as far as upstream has them; a zip the build needs
// failing fails the whole, named.
func TestResolveZipsOfTheBuild(t *testing.T) {
	up := fakeproxy.New(t)
	up.Inject(fakeproxy.Paths("/example.com/dep/@v/v1.0.0.zip"), fakeproxy.Status(http.StatusForbidden, "This module version is not available"))
	l := loopback(t, up)
	var warn strings.Builder
	asked := &recorder{}
	r := &snapshot.Resolver{Mirror: l.URL, Jobs: 2, Warn: &warn, Client: &http.Client{Transport: asked}}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.com/app\n\ngo 1.21\n\nrequire example.com/hello v1.1.0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	src, err := snapshot.SourceOf(dir)
	if err != nil {
		t.Fatal(err)
	}
	hello, dep := up.Module("example.com/hello", "v1.1.0"), up.Module("example.com/dep", "v1.0.0")
	depOnly := snapshot.Entry{Path: "example.com/dep", Version: "v1.0.0", GoModHash: goModHash(t, dep.Mod)}
	helloZip := snapshot.Entry{Path: "example.com/hello", Version: "v1.1.0", Hash: zipHash(t, hello.Zip), GoModHash: goModHash(t, hello.Mod)}
	for _, tc := range []struct {
		name string
		src  snapshot.Source
		warn bool // the zip of example.com/dep is tried, refused
	}{
		{"go.mod", src, false},
		{"module@version", snapshot.Source{Modules: []string{"example.com/hello@v1.1.0"}}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			warn.Reset()
			asked.reset()
			es, err := r.Resolve(context.Background(), []snapshot.Source{tc.src})
			if err != nil {
				t.Fatal(err)
			}
			if want := []snapshot.Entry{depOnly, helloZip}; !slices.Equal(es, want) {
				t.Errorf("entries %+v, want %+v", es, want)
			}
			if got := strings.Contains(warn.String(), "example.com/dep@v1.0.0 is go.mod-only"); got != tc.warn {
				t.Errorf("warning %v, want %v: %q", got, tc.warn, warn.String())
			}
			if got := asked.has("/example.com/dep/@v/v1.0.0.zip"); got != tc.warn {
				t.Errorf("example.com/dep's zip asked: %v, want %v", got, tc.warn)
			}
		})
	}

	up.Inject(fakeproxy.Paths("/example.com/hello/@v/v1.1.0.zip"), fakeproxy.Status(http.StatusForbidden, "This module version is not available"))
	l = loopback(t, up) // an empty store
	r = &snapshot.Resolver{Mirror: l.URL, Jobs: 2}
	if _, err := r.Resolve(context.Background(), []snapshot.Source{src}); err == nil || !strings.Contains(err.Error(), "example.com/hello@v1.1.0") {
		t.Errorf("Resolve with the needed zip refused = %v; want an error naming example.com/hello@v1.1.0", err)
	}
}

func goModHash(t *testing.T, mod []byte) string {
	t.Helper()
	h, err := dirhash.Hash1([]string{"go.mod"}, func(string) (io.ReadCloser, error) {
		return io.NopCloser(strings.NewReader(string(mod))), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// recorder is a RoundTripper recording the paths asked.
type recorder struct {
	mu    sync.Mutex
	paths []string
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	r.paths = append(r.paths, req.URL.Path)
	r.mu.Unlock()
	return http.DefaultTransport.RoundTrip(req)
}

func (r *recorder) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.paths = nil
}

// has reports whether a path ending in suffix was asked.
func (r *recorder) has(suffix string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.ContainsFunc(r.paths, func(p string) bool { return strings.HasSuffix(p, suffix) })
}
