package server

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gomirror/gomirror/auth"
	"github.com/gomirror/gomirror/config"
	"github.com/gomirror/gomirror/internal/fakeproxy"
	"github.com/gomirror/gomirror/snapshot"
)

// testH1 is a well-formed h1: hash (a view serves files by their
// presence in the manifest; the mirror checks the files themselves).
const testH1 = "h1:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="

// createSnapshot resolves mods through s (as snapshot create does through
// its in-process mirror) and stores the manifest name.
func createSnapshot(t *testing.T, s *testServer, name string, mods ...string) *snapshot.Manifest {
	t.Helper()
	t.Setenv("GOPROXY", "off")
	t.Setenv("GOENV", "off")
	t.Setenv("GOPATH", t.TempDir())
	r := &snapshot.Resolver{Mirror: s.URL}
	entries, err := r.Resolve(context.Background(), []snapshot.Source{{Modules: mods}})
	if err != nil {
		t.Fatal(err)
	}
	m := &snapshot.Manifest{Format: snapshot.Format, Name: name, Created: time.Now().UTC(), Sources: mods, Modules: entries}
	if err := snapshot.Create(context.Background(), s.store, m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestSnapshotView(t *testing.T) {
	up := fakeproxy.New(t)
	// example.com/tool requires example.com/hello v1.0.0, which the build
	// list does not have (v1.1.0 wins): only its go.mod is in the snapshot.
	if _, err := up.Add("example.com/tool", "v1.0.0", map[string][]byte{
		"go.mod":  []byte("module example.com/tool\n\ngo 1.21\n\nrequire example.com/hello v1.0.0\n"),
		"tool.go": []byte("package tool\n"),
	}); err != nil {
		t.Fatal(err)
	}
	s := start(t, up, nil)
	m := createSnapshot(t, s, "s1", "example.com/hello@v1.1.0", "example.com/tool@v1.0.0")
	if e, ok := m.Find("example.com/hello", "v1.0.0"); !ok || e.Hash != "" || e.GoModHash == "" {
		t.Errorf("go.mod-only requirement: %+v, %v", e, ok)
	}
	base := s.URL + "/snapshots/s1"
	for _, tc := range []struct {
		path     string
		code     int
		body, cc string // body: a substring
	}{
		{"/example.com/hello/@v/list", 200, "v1.0.0\nv1.1.0\n", "public, max-age=300"},
		{"/example.com/hello/@v/v1.0.0.mod", 200, "module example.com/hello", ""},
		{"/example.com/hello/@v/v1.0.0.zip", 404, "example.com/hello@v1.0.0 is in snapshot s1 for its go.mod only", ""},
		{"/example.com/hello/@latest", 200, `"Version":"v1.1.0"`, "public, max-age=300"},
		{"/example.com/hello/@v/v1.1.0.info", 200, `"Version":"v1.1.0"`, "public, max-age=31536000, immutable"},
		{"/example.com/hello/@v/v1.1.0.mod", 200, "module example.com/hello", ""},
		{"/example.com/hello/@v/v1.1.0.zip", 200, "", ""},
		{"/example.com/dep/@v/v1.0.0.zip", 200, "", ""},
		{"/example.com/hello/@v/v1.2.0.info", 404, "not found: example.com/hello@v1.2.0 is not in snapshot s1", "public, max-age=60"},
		{"/example.com/hello/@v/v1.2.0.zip", 404, "is not in snapshot s1", ""},
		{"/example.com/hello/@v/master.info", 404, "is not in snapshot s1", ""},
		{"/example.com/hello/v2/@v/list", 404, "module example.com/hello/v2 is not in snapshot s1", ""},
		{"/example.com/hello/v2/@latest", 404, "not in snapshot s1", ""},
		{"/sumdb/" + fakeproxy.DBName + "/supported", 200, "", ""},
	} {
		r := get(t, base+tc.path)
		if r.code != tc.code || !strings.Contains(r.body, tc.body) || tc.cc != "" && r.hdr.Get("Cache-Control") != tc.cc {
			t.Errorf("GET %s: %d %q (Cache-Control %q); want %d with %q (%q)", tc.path, r.code, r.body, r.hdr.Get("Cache-Control"), tc.code, tc.body, tc.cc)
		}
	}
	if r := get(t, base+"/example.com/hello/@v/list"); r.body != "v1.0.0\nv1.1.0\n" {
		t.Errorf("list %q, want only the snapshot's version", r.body)
	}
	// A snapshot holding only hello's go.mod: its @latest names no
	// version whose zip it lacks.
	e, _ := m.Find("example.com/hello", "v1.0.0")
	gomodOnly := &snapshot.Manifest{Format: snapshot.Format, Name: "s2", Created: time.Now().UTC(), Modules: []snapshot.Entry{e}}
	if err := snapshot.Create(context.Background(), s.store, gomodOnly); err != nil {
		t.Fatal(err)
	}
	if r := get(t, s.URL+"/snapshots/s2/example.com/hello/@latest"); r.code != 404 || !strings.Contains(r.body, "module example.com/hello is in snapshot s2 for go.mod files only") {
		t.Errorf("@latest of a go.mod-only module: %d %q; want 404 naming snapshot s2", r.code, r.body)
	}
	// The mirror itself still serves everything.
	if r := get(t, s.URL+"/example.com/hello/@v/list"); !strings.Contains(r.body, "v1.2.0") {
		t.Errorf("the mirror's own list: %q", r.body)
	}
	for _, tc := range []struct {
		path string
		code int
		body string
	}{
		{"/snapshots/nope/example.com/hello/@v/list", 404, "no snapshot nope"},
		{"/snapshots/nope/sumdb/" + fakeproxy.DBName + "/supported", 404, "no snapshot nope"},
		{"/env/prod/example.com/hello/@v/list", 404, "no environment prod"},
		{"/snapshots/.s1/example.com/hello/@v/list", 400, ""},
		{"/snapshots/s1", 400, ""},
		{"/snapshots/s1/", 400, ""},
		{"/snapshots/s%2F1/example.com/hello/@v/list", 400, ""},
		{"/snapshots/-x/example.com/hello/@v/list", 400, ""},
	} {
		r := get(t, s.URL+tc.path)
		if r.code != tc.code || !strings.Contains(r.body, tc.body) {
			t.Errorf("GET %s: %d %q; want %d with %q", tc.path, r.code, r.body, tc.code, tc.body)
		}
	}
}

func TestEnvView(t *testing.T) {
	up := fakeproxy.New(t)
	s := start(t, up, nil)
	createSnapshot(t, s, "v1", "example.com/hello@v1.1.0")
	createSnapshot(t, s, "v2", "example.com/hello@v1.2.0")
	// A second replica on the same storage directory.
	s2 := start(t, up, func(c *config.Serve) { c.StorageDir = s.Dir })
	ctx := context.Background()
	if _, err := snapshot.Promote(ctx, s.store, "prod", "v1", "test"); err != nil {
		t.Fatal(err)
	}
	latest := func(srv *testServer) string {
		t.Helper()
		r := get(t, srv.URL+"/env/prod/example.com/hello/@latest")
		if r.code != 200 {
			t.Fatalf("@latest: %d %s", r.code, r.body)
		}
		if cc := r.hdr.Get("Cache-Control"); cc != "public, no-cache" {
			t.Errorf("env @latest Cache-Control %q", cc)
		}
		return r.body
	}
	// waitFor moves both replicas' view clocks past the refresh period,
	// after which srv must serve want: a promotion is seen by every
	// replica within snapshot.DefaultRefresh.
	waitFor := func(srv *testServer, want string) {
		t.Helper()
		for _, r := range []*testServer{s, s2} {
			r.viewsSkew.Add(int64(snapshot.DefaultRefresh))
		}
		if got := latest(srv); !strings.Contains(got, want) {
			t.Fatalf("@latest %s, want %s", got, want)
		}
	}
	waitFor(s, "v1.1.0")
	waitFor(s2, "v1.1.0")
	if r := get(t, s2.URL+"/env/prod/example.com/hello/@v/v1.2.0.info"); r.code != 404 || !strings.Contains(r.body, "not in environment prod (snapshot v1)") || r.hdr.Get("Cache-Control") != "public, no-cache" {
		t.Errorf("a version outside the environment: %d %q %q", r.code, r.body, r.hdr.Get("Cache-Control"))
	}
	if _, err := snapshot.Promote(ctx, s.store, "prod", "v2", "test"); err != nil {
		t.Fatal(err)
	}
	waitFor(s2, "v1.2.0")
	if r := get(t, s2.URL+"/env/prod/example.com/hello/@v/v1.2.0.zip"); r.code != http.StatusOK {
		t.Errorf("zip after promotion: %d %s", r.code, r.body)
	}
	if _, err := snapshot.Rollback(ctx, s.store, "prod", "test"); err != nil {
		t.Fatal(err)
	}
	waitFor(s2, "v1.1.0")
	waitFor(s, "v1.1.0")
}

// TestViewsAuthAndPolicy: a view's path is guarded by its module as the
// mirror's own is (a token an auth rule does not name gets 403 for that
// module through /snapshots/ and /env/, not for others), and the policy
// applies to what a view serves: a refused version is 403 and left out of
// the view's list.
func TestViewsAuthAndPolicy(t *testing.T) {
	up := fakeproxy.New(t)
	path := filepath.Join(t.TempDir(), "tokens.json")
	tokens := auth.NewTokens(path)
	ci, err := tokens.AddRole("ci", auth.RoleClient)
	if err != nil {
		t.Fatal(err)
	}
	other, err := tokens.AddRole("other", auth.RoleClient)
	if err != nil {
		t.Fatal(err)
	}
	pol := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(pol, []byte("rules:\n  - name: old-hello\n    module: example.com/hello\n    versions: \"<1.1.0\"\n    action: deny\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := start(t, up, func(c *config.Serve) {
		c.TokensFile, c.Auth, c.Policy = path, "all", pol
		c.AuthRules = []config.AuthRule{{Modules: "example.com/hello", Tokens: []string{"ci"}}}
	})
	ctx := context.Background()
	m := &snapshot.Manifest{Format: snapshot.Format, Name: "s1", Created: time.Now().UTC(), Modules: []snapshot.Entry{
		{Path: "example.com/dep", Version: "v1.0.0", Hash: testH1, GoModHash: testH1},
		{Path: "example.com/hello", Version: "v1.0.0", Hash: testH1, GoModHash: testH1},
		{Path: "example.com/hello", Version: "v1.1.0", Hash: testH1, GoModHash: testH1},
	}}
	if err := snapshot.Create(ctx, s.store, m); err != nil {
		t.Fatal(err)
	}
	if _, err := snapshot.Promote(ctx, s.store, "prod", "s1", "test"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		token, path string
		code        int
		body        string
	}{
		{other, "/snapshots/s1/example.com/hello/@v/list", 403, ""},
		{other, "/env/prod/example.com/hello/@v/list", 403, ""},
		{other, "/snapshots/s1/example.com/hello/@v/v1.1.0.info", 403, ""},
		{other, "/env/prod/example.com/hello/@latest", 403, ""},
		{other, "/snapshots/s1/example.com/dep/@v/v1.0.0.info", 200, ""},
		{other, "/env/prod/example.com/dep/@v/list", 200, "v1.0.0"},
		{"", "/snapshots/s1/example.com/dep/@v/list", 401, ""},
		{ci, "/snapshots/s1/example.com/hello/@v/v1.1.0.info", 200, "v1.1.0"},
		{ci, "/env/prod/example.com/hello/@v/v1.1.0.mod", 200, "module example.com/hello"},
		// The policy: v1.0.0 refused, and not listed.
		{ci, "/snapshots/s1/example.com/hello/@v/v1.0.0.info", 403, "old-hello"},
		{ci, "/env/prod/example.com/hello/@v/v1.0.0.zip", 403, "old-hello"},
		{ci, "/snapshots/s1/example.com/hello/@v/list", 200, "v1.1.0\n"},
		{ci, "/env/prod/example.com/hello/@latest", 200, `"Version":"v1.1.0"`},
	} {
		r := do(t, "GET", s.URL+tc.path, bearer(tc.token))
		if r.code != tc.code || !strings.Contains(r.body, tc.body) {
			t.Errorf("GET %s (token %v): %d %q; want %d with %q", tc.path, tc.token == ci, r.code, r.body, tc.code, tc.body)
		}
		if tc.code == 200 && strings.HasSuffix(tc.path, "/list") && strings.Contains(r.body, "v1.0.0") && strings.Contains(tc.path, "hello") {
			t.Errorf("GET %s: %q lists the refused v1.0.0", tc.path, r.body)
		}
	}
}
