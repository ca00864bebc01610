package upstream_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/module"
	modzip "golang.org/x/mod/zip"

	"github.com/gomirror/gomirror/internal/gitserver"
	"github.com/gomirror/gomirror/upstream"
)

// goBin returns the go command the tests run, skipping if there is none.
func goBin(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("no go command in PATH: %v", err)
	}
	return p
}

// helloRepo is a repository on a git server with two tagged versions and a
// branch one commit past the newest tag.
type helloRepo struct {
	srv                  *gitserver.Server
	repo                 *gitserver.Repo
	path                 string // module path
	v100, v110, dev      string // commit hashes
	modV100              string // go.mod at v1.0.0
	helloV100            string // hello.go at v1.0.0
	v100Time, branchTime time.Time
}

func newHelloRepo(t *testing.T, opts ...gitserver.Option) *helloRepo {
	t.Helper()
	s := gitserver.New(t, opts...)
	r := s.InitRepo(t, "hello")
	h := &helloRepo{srv: s, repo: r, path: r.ModulePath()}
	h.modV100 = "module " + h.path + "\n\ngo 1.21\n"
	h.helloV100 = "package hello\n\nconst Version = \"v1.0.0\"\n"
	h.v100 = r.Commit(t, map[string]string{"go.mod": h.modV100, "hello.go": h.helloV100}, "v1.0.0")
	r.Tag(t, "v1.0.0")
	h.v110 = r.Commit(t, map[string]string{
		"go.mod":   "module " + h.path + "\n\ngo 1.22\n",
		"hello.go": "package hello\n\nconst Version = \"v1.1.0\"\n",
	}, "v1.1.0")
	r.Tag(t, "v1.1.0")
	h.dev = r.Commit(t, map[string]string{"hello.go": "package hello\n\nconst Version = \"dev\"\n"}, "work in progress")
	r.Branch(t, "dev")
	// gitserver dates commit n at 2024-01-01 plus n hours.
	h.v100Time = time.Date(2024, 1, 1, 1, 0, 0, 0, time.UTC)
	h.branchTime = time.Date(2024, 1, 1, 3, 0, 0, 0, time.UTC)
	return h
}

// newDirect returns a Direct fetcher with a fresh sandbox that reaches the
// git server s.
func newDirect(t *testing.T, s *gitserver.Server) *upstream.Direct {
	t.Helper()
	d, err := upstream.NewDirect(gitserver.TempDir(t), 2)
	if err != nil {
		t.Fatal(err)
	}
	d.GoBin = goBin(t)
	d.Env = s.Env(t)
	return d
}

type infoJSON struct {
	Version string
	Time    time.Time
	Origin  struct{ VCS, Hash, Ref string }
}

func decodeInfo(t *testing.T, b []byte) infoJSON {
	t.Helper()
	var info infoJSON
	if err := json.Unmarshal(b, &info); err != nil {
		t.Fatalf("decoding info %q: %v", b, err)
	}
	return info
}

func TestDirectFetchesFromGit(t *testing.T) {
	h := newHelloRepo(t)
	d := newDirect(t, h.srv)
	ctx := context.Background()

	t.Run("List includes the tags and no pseudo-versions", func(t *testing.T) {
		b, _, err := d.List(ctx, h.path)
		if err != nil {
			t.Fatal(err)
		}
		got := strings.Fields(string(b))
		if !slices.Equal(got, []string{"v1.0.0", "v1.1.0"}) {
			t.Errorf("List = %q; want the tags v1.0.0 and v1.1.0", b)
		}
	})

	t.Run("Info for a tag names the tagged commit", func(t *testing.T) {
		b, _, err := d.Info(ctx, h.path, "v1.0.0")
		if err != nil {
			t.Fatal(err)
		}
		info := decodeInfo(t, b)
		if info.Version != "v1.0.0" || !info.Time.Equal(h.v100Time) || info.Origin.Hash != h.v100 {
			t.Errorf("Info(v1.0.0) = %s; want v1.0.0 at %v from commit %s", b, h.v100Time, h.v100)
		}
	})

	t.Run("Info for a branch answers a pseudo-version of its head", func(t *testing.T) {
		b, _, err := d.Info(ctx, h.path, "dev")
		if err != nil {
			t.Fatal(err)
		}
		info := decodeInfo(t, b)
		if !module.IsPseudoVersion(info.Version) {
			t.Fatalf("Info(dev).Version = %q; want a pseudo-version", info.Version)
		}
		rev, _ := module.PseudoVersionRev(info.Version)
		base, _ := module.PseudoVersionBase(info.Version)
		if rev != h.dev[:12] || base != "v1.1.0" || !info.Time.Equal(h.branchTime) {
			t.Errorf("Info(dev) = %s; want a pseudo-version after v1.1.0 for commit %s at %v", b, h.dev[:12], h.branchTime)
		}
	})

	t.Run("Info for a commit prefix of a tagged commit answers the tag", func(t *testing.T) {
		b, _, err := d.Info(ctx, h.path, h.v110[:12])
		if err != nil {
			t.Fatal(err)
		}
		if info := decodeInfo(t, b); info.Version != "v1.1.0" {
			t.Errorf("Info(%s) = %s; want v1.1.0", h.v110[:12], b)
		}
	})

	t.Run("Latest is the highest tag", func(t *testing.T) {
		b, _, err := d.Latest(ctx, h.path)
		if err != nil {
			t.Fatal(err)
		}
		if info := decodeInfo(t, b); info.Version != "v1.1.0" || info.Origin.Hash != h.v110 {
			t.Errorf("Latest = %s; want v1.1.0 from commit %s", b, h.v110)
		}
	})

	t.Run("GoMod for a tag is the go.mod committed there", func(t *testing.T) {
		b, _, err := d.GoMod(ctx, h.path, "v1.0.0")
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != h.modV100 {
			t.Errorf("GoMod(v1.0.0) = %q; want %q", b, h.modV100)
		}
	})

	t.Run("Zip for a tag is a valid module zip of that version", func(t *testing.T) {
		body, size, _, err := d.Zip(ctx, h.path, "v1.0.0")
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(body)
		body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if size != int64(len(data)) {
			t.Errorf("Zip announced %d bytes, body has %d", size, len(data))
		}
		file := filepath.Join(t.TempDir(), "v1.0.0.zip")
		if err := os.WriteFile(file, data, 0o644); err != nil {
			t.Fatal(err)
		}
		mv := module.Version{Path: h.path, Version: "v1.0.0"}
		cf, err := modzip.CheckZip(mv, file)
		if err != nil {
			t.Fatalf("CheckZip: %v", err)
		}
		prefix := h.path + "@v1.0.0/"
		if want := []string{prefix + "go.mod", prefix + "hello.go"}; !slices.Equal(slices.Sorted(slices.Values(cf.Valid)), want) {
			t.Errorf("zip files %q; want %q", cf.Valid, want)
		}
		zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			t.Fatal(err)
		}
		f, err := zr.Open(h.path + "@v1.0.0/hello.go")
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(f)
		f.Close()
		if string(got) != h.helloV100 {
			t.Errorf("hello.go in the v1.0.0 zip = %q; want %q", got, h.helloV100)
		}
	})

	t.Run("a version that does not exist is not-exist", func(t *testing.T) {
		ops := map[string]func() error{
			"Info":  func() error { _, _, err := d.Info(ctx, h.path, "v9.9.9"); return err },
			"GoMod": func() error { _, _, err := d.GoMod(ctx, h.path, "v9.9.9"); return err },
			"Zip": func() error {
				body, _, _, err := d.Zip(ctx, h.path, "v9.9.9")
				if body != nil {
					body.Close()
				}
				return err
			},
		}
		for name, op := range ops {
			err := op()
			if !upstream.IsNotExist(err) {
				t.Errorf("%s(v9.9.9) = %v; want an fs.ErrNotExist error", name, err)
			}
			var ue *upstream.Error
			if !errors.As(err, &ue) || ue.Upstream != "direct" || ue.Version != "v9.9.9" {
				t.Errorf("%s(v9.9.9) = %#v; want an *upstream.Error from direct for v9.9.9", name, err)
			}
		}
	})

}

// TestDirectSandboxIgnoresGoEnvironment sets go command variables in
// gomirror's own environment that would break a module query, shows that
// they do break a go command that inherits them, and that Direct still works.
func TestDirectSandboxIgnoresGoEnvironment(t *testing.T) {
	h := newHelloRepo(t)
	gobin := goBin(t)

	goenvFile := filepath.Join(t.TempDir(), "goenv")
	if err := os.WriteFile(goenvFile, []byte("GOFLAGS=-mod=vendor\nGOPROXY=off\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, key, value string
	}{
		{"GOFLAGS=-mod=vendor", "GOFLAGS", "-mod=vendor"},
		{"GOPROXY=off", "GOPROXY", "off"},
		{"a GOENV file setting GOFLAGS and GOPROXY", "GOENV", goenvFile},
		{"GOVCS forbidding git", "GOVCS", "*:off"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A go command that inherits the variable fails: the test below
			// could fail if Direct let it through. Each run gets its own
			// module cache, so that the second cannot answer from the first's.
			run := func(leak ...string) ([]byte, error) {
				dir := gitserver.TempDir(t)
				cmd := exec.Command(gobin, "list", "-m", "-json", h.path+"@v1.0.0")
				cmd.Dir = dir
				cmd.Env = append(os.Environ(),
					"GOPROXY=direct", "GOFLAGS=", "GOENV=off", "GOSUMDB=off", "GOVCS=", "GOTOOLCHAIN=local",
					"GOMODCACHE="+filepath.Join(dir, "modcache"), "GOPATH="+filepath.Join(dir, "gopath"),
					"GOCACHE="+filepath.Join(dir, "gocache"), "GIT_TERMINAL_PROMPT=0")
				cmd.Env = append(cmd.Env, h.srv.Env(t)...)
				cmd.Env = append(cmd.Env, leak...)
				return cmd.CombinedOutput()
			}
			if out, err := run(); err != nil {
				t.Fatalf("baseline go command failed: %v\n%s", err, out)
			}
			if out, err := run(tt.key + "=" + tt.value); err == nil {
				t.Fatalf("with %s=%s inherited, the go command still succeeded:\n%s\nthe variable proves nothing", tt.key, tt.value, out)
			}

			t.Setenv(tt.key, tt.value)
			d := newDirect(t, h.srv)
			b, _, err := d.Info(context.Background(), h.path, "v1.0.0")
			if err != nil {
				t.Fatalf("Info with %s=%s in gomirror's environment: %v", tt.key, tt.value, err)
			}
			if info := decodeInfo(t, b); info.Version != "v1.0.0" {
				t.Errorf("Info = %s; want v1.0.0", b)
			}
		})
	}
}

// TestDirectTimeoutKillsProcessGroup makes the git server hang and checks
// that a fetch past its deadline returns promptly with a deadline error and
// that the git process the go command started dies too: its hanging request
// is abandoned. Killing only the go process would leave git waiting.
func TestDirectTimeoutKillsProcessGroup(t *testing.T) {
	tests := []struct {
		name    string
		timeout time.Duration // Direct.Timeout
		ctxTime time.Duration // the caller's deadline; 0 for none
	}{
		{"Direct.Timeout passes", 2 * time.Second, 0},
		{"the caller's deadline passes", 0, 2 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHelloRepo(t)
			arrived := make(chan struct{}, 100)
			abandoned := make(chan struct{}, 100)
			release := make(chan struct{})
			t.Cleanup(func() { close(release) }) // runs before the server closes
			h.srv.SetHook(func(w http.ResponseWriter, r *http.Request) bool {
				arrived <- struct{}{}
				select {
				case <-r.Context().Done():
					abandoned <- struct{}{}
				case <-release:
				}
				return true
			})
			d := newDirect(t, h.srv)
			d.Timeout = tt.timeout
			ctx := context.Background()
			if tt.ctxTime > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.ctxTime)
				defer cancel()
			}

			start := time.Now()
			_, _, err := d.Info(ctx, h.path, "v1.0.0")
			elapsed := time.Since(start)

			if err == nil {
				t.Fatal("Info against a hanging server succeeded")
			}
			if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "deadline") {
				t.Errorf("Info error = %q; want one that wraps context.DeadlineExceeded and says so", err)
			}
			if upstream.IsNotExist(err) {
				t.Errorf("Info error %q is not-exist; a timeout must not look like a missing module", err)
			}
			// Well under the 5s WaitDelay that would end a Wait stuck on
			// pipes held open by a surviving child.
			deadline := max(tt.timeout, tt.ctxTime)
			if limit := deadline + 4*time.Second; elapsed > limit {
				t.Errorf("Info took %v; want it to return within %v of its %v deadline", elapsed, limit-deadline, deadline)
			}
			select {
			case <-arrived:
			default:
				t.Fatal("git never reached the server before the deadline; the test proves nothing")
			}
			select {
			case <-abandoned:
			case <-time.After(10 * time.Second):
				t.Error("the hanging git request was still open 10s after the deadline: the go command's git child survived")
			}
		})
	}
}

// TestDirectBoundsConcurrentProcesses runs more fetches at once than the
// Direct's process limit and reads, from a wrapper around the go command,
// how many go processes ever ran at the same time.
func TestDirectBoundsConcurrentProcesses(t *testing.T) {
	const limit = 2
	h := newHelloRepo(t)
	d, err := upstream.NewDirect(gitserver.TempDir(t), limit)
	if err != nil {
		t.Fatal(err)
	}
	d.Env = h.srv.Env(t)
	dir := t.TempDir()
	events := filepath.Join(dir, "events")
	// Each echo is one append-mode write, so lines never interleave.
	wrapper := fmt.Sprintf("#!/bin/sh\necho start >> %q\n%q \"$@\"\nrc=$?\necho end >> %q\nexit $rc\n", events, goBin(t), events)
	d.GoBin = filepath.Join(dir, "go-wrapper")
	if err := os.WriteFile(d.GoBin, []byte(wrapper), 0o755); err != nil {
		t.Fatal(err)
	}

	calls := []func() error{
		func() error { _, _, err := d.Info(t.Context(), h.path, "v1.0.0"); return err },
		func() error { _, _, err := d.Info(t.Context(), h.path, "v1.1.0"); return err },
		func() error { _, _, err := d.Info(t.Context(), h.path, "dev"); return err },
		func() error { _, _, err := d.GoMod(t.Context(), h.path, "v1.0.0"); return err },
		func() error { _, _, err := d.GoMod(t.Context(), h.path, "v1.1.0"); return err },
		func() error { _, _, err := d.List(t.Context(), h.path); return err },
	}
	var wg sync.WaitGroup
	errs := make([]error, len(calls))
	for i, call := range calls {
		wg.Go(func() { errs[i] = call() })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("call %d: %v", i, err)
		}
	}
	b, err := os.ReadFile(events)
	if err != nil {
		t.Fatal(err)
	}
	running, peak, started := 0, 0, 0
	for _, ev := range strings.Fields(string(b)) {
		if ev == "start" {
			running++
			started++
		} else {
			running--
		}
		peak = max(peak, running)
	}
	t.Logf("%d go processes, at most %d at once (limit %d)", started, peak, limit)
	if started != len(calls) {
		t.Errorf("%d go processes started, want %d", started, len(calls))
	}
	if peak > limit {
		t.Errorf("%d go processes ran at once; the limit is %d", peak, limit)
	}
}
