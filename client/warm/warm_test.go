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

	"github.com/gomirror/gomirror/client/golist"
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
	out := &golist.Output{
		List: []byte(listOut), Graph: []byte(graphOut), Replace: f.Replace,
		// What go mod download fetched: the replaced module under its
		// own name.
		Downloads: []module.Version{{Path: "example.com/old", Version: "v1.0.0"}},
	}
	mods := []string{
		"example.com/MixedCase@v1.0.0 .info", "example.com/MixedCase@v1.0.0 .mod",
		"example.com/modonly@v0.9.0 .info", "example.com/modonly@v0.9.0 .mod",
		"example.com/new@v1.5.0 .info", "example.com/new@v1.5.0 .mod", "example.com/new@v1.5.0 .zip",
	}
	for _, tc := range []struct {
		all  bool
		want []string
	}{
		{false, mods},
		{true, slices.Insert(slices.Clone(mods), 2, "example.com/MixedCase@v1.0.0 .zip (extra)")},
	} {
		plan, err := NewPlan(out, tc.all)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, f := range plan.Fetches {
			s := f.String()
			if f.Extra {
				s += " (extra)"
			}
			got = append(got, s)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("all=%v: fetches:\n%s\nwant:\n%s", tc.all, strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
		}
		if len(plan.Modules) != 3 {
			t.Errorf("modules %v, want 3", plan.Modules)
		}
	}
}

func TestNewPlanBadGraph(t *testing.T) {
	if _, err := NewPlan(&golist.Output{Graph: []byte("a b c\n")}, false); err == nil {
		t.Error("no error for a three-field graph line")
	}
	if _, err := NewPlan(&golist.Output{List: []byte("{")}, false); err == nil {
		t.Error("no error for truncated go list output")
	}
}

func TestFetchURL(t *testing.T) {
	u, err := Fetch{Mod: module.Version{Path: "example.com/MixedCase", Version: "v1.0.0-RC1"}, Kind: layout.Zip}.URL("http://127.0.0.1:1/base/")
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
		case strings.HasSuffix(r.URL.Path, "/extra/@v/v1.0.0.zip"):
			http.Error(w, "forbidden", http.StatusForbidden)
		case strings.HasSuffix(r.URL.Path, "/broken/@v/v1.0.0.zip"):
			http.Error(w, "upstream broke", http.StatusBadGateway)
		case strings.HasSuffix(r.URL.Path, ".zip"):
			w.Write(make([]byte, 1000))
		default:
			w.Write([]byte("0123456789"))
		}
	}))
	defer srv.Close()
	// missing's zip is needed: its refusal is a failure; extra's is not:
	// a warning; broken's is not either, but 502 is no refusal: a failure.
	plan := &Plan{Modules: []module.Version{
		{Path: "example.com/MixedCase", Version: "v1.0.0"}, {Path: "example.com/broken", Version: "v1.0.0"},
		{Path: "example.com/extra", Version: "v1.0.0"}, {Path: "example.com/missing", Version: "v1.0.0"},
	}}
	for _, m := range plan.Modules {
		extra := m.Path == "example.com/extra" || m.Path == "example.com/broken"
		plan.Fetches = append(plan.Fetches, Fetch{Mod: m, Kind: layout.Info}, Fetch{Mod: m, Kind: layout.Mod}, Fetch{Mod: m, Kind: layout.Zip, Extra: extra})
	}
	rec := &recorder{}
	sum := Run(context.Background(), srv.Client(), srv.URL, plan, 2, rec)
	if sum.Modules != 4 || sum.Files != 9 || sum.Bytes != 8*10+1000 {
		t.Errorf("summary %+v", sum)
	}
	if len(sum.Failures) != 2 || sum.Failures[0].Fetch.Mod.Path != "example.com/broken" ||
		sum.Failures[1].Fetch.Mod.Path != "example.com/missing" || sum.Failures[1].Reason != "404 Not Found: not found: no such module" {
		t.Errorf("failures %+v", sum.Failures)
	}
	if len(sum.Warnings) != 1 || sum.Warnings[0].Fetch.Mod.Path != "example.com/extra" || sum.Warnings[0].Reason != "403 Forbidden: forbidden" {
		t.Errorf("warnings %+v", sum.Warnings)
	}
	if rec.calls != 12 {
		t.Errorf("progress told %d times, want 12", rec.calls)
	}
	if maxIn != 2 {
		t.Errorf("%d requests at once, want 2", maxIn)
	}
	if !slices.Contains(paths, "/example.com/!mixed!case/@v/v1.0.0.mod") {
		t.Errorf("paths %v lack the escaped .mod", paths)
	}
}

// TestRunConnectionRefused: each fetch fails, saying why, and without the
// mirror URL's userinfo (a token as user name).
func TestRunConnectionRefused(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := strings.Replace(srv.URL, "http://", "http://tok3nAsUser@", 1)
	srv.Close()
	m := module.Version{Path: "example.com/hello", Version: "v1.1.0"}
	sum := Run(context.Background(), nil, url, &Plan{Modules: []module.Version{m}, Fetches: []Fetch{{Mod: m, Kind: layout.Info}, {Mod: m, Kind: layout.Mod}}}, 8, nil)
	if sum.Files != 0 || len(sum.Failures) != 2 || !strings.Contains(sum.Failures[0].Reason, "refused") {
		t.Errorf("summary %+v", sum)
	}
	for _, f := range sum.Failures {
		if strings.Contains(f.Reason, "tok3nAsUser") {
			t.Errorf("failure shows the token: %s", f.Reason)
		}
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
	want := "warm: 2/5 files, 200 B, failed: 0, warnings: 0\nwarm: 4/5 files, 400 B, failed: 1, warnings: 0\nwarm: 5/5 files, 500 B, failed: 1, warnings: 0\n"
	if b.String() != want {
		t.Errorf("lines:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestReporterBar(t *testing.T) {
	var b strings.Builder
	r := &Reporter{W: &b, Total: 2, TTY: true}
	r.Done(Fetch{}, 2048, nil)
	r.Done(Fetch{}, 0, nil)
	want := "\r[===============               ] 1/2 files, 2.0 KiB, failed: 0, warnings: 0" +
		"\r[==============================] 2/2 files, 2.0 KiB, failed: 0, warnings: 0\n"
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
