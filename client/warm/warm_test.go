package warm

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"

	"github.com/gomirror/gomirror/layout"
)

const listOut = `{
	"Path": "example.com/app",
	"Main": true,
	"GoVersion": "1.21"
}
{
	"Path": "example.com/MixedCase",
	"Version": "v1.0.0"
}
{
	"Path": "example.com/old",
	"Version": "v1.0.0",
	"Replace": {"Path": "example.com/new", "Version": "v1.5.0"}
}
{
	"Path": "example.com/local",
	"Version": "v0.0.0-00010101000000-000000000000",
	"Replace": {"Path": "../local", "Dir": "/src/local"}
}
`

const graphOut = `example.com/app go@1.21
example.com/app example.com/MixedCase@v1.0.0
example.com/app example.com/old@v1.0.0
example.com/app example.com/local@v0.0.0-00010101000000-000000000000
example.com/MixedCase@v1.0.0 example.com/modonly@v0.9.0
example.com/MixedCase@v1.0.0 go@1.20
example.com/modonly@v0.9.0 toolchain@go1.21.0
`

func TestNewPlan(t *testing.T) {
	f, err := modfile.Parse("go.mod", []byte("module example.com/app\n\nreplace example.com/old => example.com/new v1.5.0\n\nreplace example.com/local => ../local\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := NewPlan([]byte(listOut), []byte(graphOut), f.Replace)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range plan.Fetches {
		got = append(got, f.String())
	}
	want := []string{
		"example.com/MixedCase@v1.0.0 .info", "example.com/MixedCase@v1.0.0 .mod", "example.com/MixedCase@v1.0.0 .zip",
		"example.com/modonly@v0.9.0 .info", "example.com/modonly@v0.9.0 .mod",
		"example.com/new@v1.5.0 .info", "example.com/new@v1.5.0 .mod", "example.com/new@v1.5.0 .zip",
	}
	if !slices.Equal(got, want) {
		t.Errorf("fetches:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if len(plan.Modules) != 3 {
		t.Errorf("modules %v, want 3", plan.Modules)
	}
}

func TestNewPlanBadGraph(t *testing.T) {
	if _, err := NewPlan(nil, []byte("a b c\n"), nil); err == nil {
		t.Error("no error for a three-field graph line")
	}
	if _, err := NewPlan([]byte("{"), nil, nil); err == nil {
		t.Error("no error for truncated go list output")
	}
}

func TestFetchURL(t *testing.T) {
	u, err := Fetch{module.Version{Path: "example.com/MixedCase", Version: "v1.0.0-RC1"}, layout.Zip}.URL("http://127.0.0.1:1/base/")
	if err != nil {
		t.Fatal(err)
	}
	if want := "http://127.0.0.1:1/base/example.com/!mixed!case/@v/v1.0.0-!r!c1.zip"; u != want {
		t.Errorf("URL %s, want %s", u, want)
	}
}

// recorder is a Progress that records every call.
type recorder struct {
	mu    sync.Mutex
	calls int
}

func (r *recorder) Done(Fetch, int64, error) {
	r.mu.Lock()
	r.calls++
	r.mu.Unlock()
}

func TestRun(t *testing.T) {
	var (
		mu       sync.Mutex
		inFlight int
		maxIn    int
		paths    []string
		once     sync.Once
	)
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		paths = append(paths, r.URL.Path)
		inFlight++
		maxIn = max(maxIn, inFlight)
		if inFlight == 2 {
			// Both workers are busy at once. (Later requests may overlap
			// too: closing again would panic with mu held and hang the
			// test.)
			once.Do(func() { close(release) })
		}
		mu.Unlock()
		<-release
		mu.Lock()
		inFlight--
		mu.Unlock()
		switch {
		case strings.HasSuffix(r.URL.Path, "/missing/@v/v1.0.0.zip"):
			http.Error(w, "not found: no such module\nsecond line", http.StatusNotFound)
		case strings.HasSuffix(r.URL.Path, ".zip"):
			w.Write(make([]byte, 1000))
		default:
			w.Write([]byte("0123456789"))
		}
	}))
	defer srv.Close()
	plan := &Plan{Modules: []module.Version{{Path: "example.com/MixedCase", Version: "v1.0.0"}, {Path: "example.com/missing", Version: "v1.0.0"}}}
	for _, m := range plan.Modules {
		plan.Fetches = append(plan.Fetches, Fetch{m, layout.Info}, Fetch{m, layout.Mod}, Fetch{m, layout.Zip})
	}
	rec := &recorder{}
	sum := Run(context.Background(), srv.Client(), srv.URL, plan, 2, rec)
	if sum.Modules != 2 || sum.Files != 5 || sum.Bytes != 4*10+1000 {
		t.Errorf("summary %+v", sum)
	}
	if len(sum.Failures) != 1 || sum.Failures[0].Fetch.Mod.Path != "example.com/missing" || sum.Failures[0].Reason != "404 Not Found: not found: no such module" {
		t.Errorf("failures %+v", sum.Failures)
	}
	if rec.calls != 6 {
		t.Errorf("progress told %d times, want 6", rec.calls)
	}
	if maxIn != 2 {
		t.Errorf("%d requests at once, want 2", maxIn)
	}
	if !slices.Contains(paths, "/example.com/!mixed!case/@v/v1.0.0.mod") {
		t.Errorf("paths %v lack the escaped .mod", paths)
	}
}

func TestRunConnectionRefused(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	m := module.Version{Path: "example.com/hello", Version: "v1.1.0"}
	sum := Run(context.Background(), nil, url, &Plan{Modules: []module.Version{m}, Fetches: []Fetch{{m, layout.Info}, {m, layout.Mod}}}, 8, nil)
	if sum.Files != 0 || len(sum.Failures) != 2 || !strings.Contains(sum.Failures[0].Reason, "refused") {
		t.Errorf("summary %+v", sum)
	}
}

func TestReporterLines(t *testing.T) {
	var b strings.Builder
	r := &Reporter{W: &b, Total: 5, Every: 2}
	for i := range 5 {
		var err error
		if i == 3 {
			err = context.Canceled
		}
		r.Done(Fetch{}, 100, err)
	}
	want := "warm: 2/5 files, 200 B, 0 failed\nwarm: 4/5 files, 400 B, 1 failed\nwarm: 5/5 files, 500 B, 1 failed\n"
	if b.String() != want {
		t.Errorf("lines:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestReporterBar(t *testing.T) {
	var b strings.Builder
	r := &Reporter{W: &b, Total: 2, TTY: true}
	r.Done(Fetch{}, 2048, nil)
	r.Done(Fetch{}, 0, nil)
	want := "\r[===============               ] 1/2 files, 2.0 KiB, 0 failed" +
		"\r[==============================] 2/2 files, 2.0 KiB, 0 failed\n"
	if b.String() != want {
		t.Errorf("bar %q, want %q", b.String(), want)
	}
}

func TestBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1536: "1.5 KiB", 5 << 20: "5.0 MiB", 3 << 30: "3.0 GiB"} {
		if got := Bytes(n); got != want {
			t.Errorf("Bytes(%d) = %q, want %q", n, got, want)
		}
	}
}
