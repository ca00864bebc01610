package e2e

import (
	"net/http"
	"strings"
	"testing"

	"github.com/gomirror/gomirror/internal/fakeproxy"
	"github.com/gomirror/gomirror/internal/gitserver"
)

// naming returns the requests up received that name a module under
// example.test/mycorp, in any case, plain or escaped.
func naming(up *fakeproxy.Server) []string {
	var bad []string
	for _, r := range up.Requests() {
		if l := strings.ToLower(r); strings.Contains(l, "mycorp") || strings.Contains(l, "!my!corp") {
			bad = append(bad, r)
		}
	}
	return bad
}

// TestCaseVariantOfPrivatePathStaysPrivate is issue 11's case attack against
// the real binary: with private example.test/mycorp, a client asks for
// example.test/MyCorp/x.git (escaped !my!corp in URLs), a different, valid
// module path that differs only in case. It is private: served from version
// control, and neither the upstream proxy nor its checksum database hears
// of it.
func TestCaseVariantOfPrivatePathStaysPrivate(t *testing.T) {
	srv := gitserver.New(t, gitserver.WithBasicAuth(vcsUser, vcsPassword))
	repo := srv.InitRepo(t, "MyCorp/x")
	mod := repo.ModulePath()
	repo.Commit(t, map[string]string{"go.mod": "module " + mod + "\n\ngo 1.21\n", "x.go": "package x\n"}, "v1.0.0")
	repo.Tag(t, "v1.0.0")
	m := startPrivateMirror(t, &privateRepo{srv: srv, repo: repo, path: mod}, "", "--private", gitserver.Host+"/mycorp")
	if !strings.Contains(m.logs.String(), "private="+gitserver.Host+"/mycorp") {
		t.Errorf("the start-up log does not name the private patterns:\n%s", m.logs)
	}

	esc := "/" + escaped(t, mod) // /example.test/!my!corp/x.git
	for _, tt := range []struct {
		path string
		want int
	}{
		{esc + "/@v/v1.0.0.info", http.StatusOK},
		{esc + "/@v/list", http.StatusOK},
		{esc + "/@v/v1.0.0.mod", http.StatusOK},
		{esc + "/@v/v1.0.0.zip", http.StatusOK},
		{"/sumdb/" + fakeproxy.DBName + "/lookup" + esc + "@v1.0.0", http.StatusNotFound},
		{"/sumdb/" + fakeproxy.DBName + "/lookup/" + gitserver.Host + "/!m!y!c!o!r!p/y.git@v1.0.0", http.StatusNotFound},
	} {
		code, _, body := m.get(t, tt.path, "", "")
		if code != tt.want {
			t.Errorf("GET %s: %d %q, want %d", tt.path, code, body, tt.want)
		}
	}
	if leaks := naming(m.up); len(leaks) > 0 {
		t.Errorf("the upstream and its checksum database were asked about a case variant of a private path: %q", leaks)
	}
	if len(srv.Fetches()) == 0 {
		t.Error("the case variant was not fetched from version control")
	}
}

// TestPrivateFollowsGoEnvWithExplicitUpstream: gomirror started with
// --upstream and --sumdb, with GOPRIVATE in its environment, keeps private
// modules private (it used to drop GOPRIVATE whenever upstream was given);
// --private "" turns that off, and the start-up log says so.
func TestPrivateFollowsGoEnvWithExplicitUpstream(t *testing.T) {
	up := fakeproxy.New(t)
	env := []string{"GOPRIVATE=" + gitserver.Host + "/mycorp", "GONOSUMDB=", "GONOPROXY="}
	m := startMirrorEnv(t, env, "--upstream", up.URL, "--sumdb", up.DBKey, "--storage-dir", t.TempDir())
	if !strings.Contains(m.logs.String(), "private="+gitserver.Host+"/mycorp") {
		t.Errorf("the start-up log does not name GOPRIVATE as private:\n%s", m.logs)
	}
	lookup := m.URL + "/sumdb/" + fakeproxy.DBName + "/lookup/" + gitserver.Host + "/!my!corp/x.git@v1.0.0"
	resp, err := http.Get(lookup)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("lookup of a private path: %s, want 404", resp.Status)
	}
	if leaks := naming(up); len(leaks) > 0 {
		t.Errorf("a private path reached the upstream: %q", leaks)
	}

	off := startMirrorEnv(t, env, "--upstream", up.URL, "--sumdb", up.DBKey, "--storage-dir", t.TempDir(), "--private", "")
	if !strings.Contains(off.logs.String(), `private="none`) {
		t.Errorf("with --private \"\" the start-up log does not say that nothing is private:\n%s", off.logs)
	}
}
