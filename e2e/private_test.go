package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/module"

	"github.com/gomirror/gomirror/internal/fakeproxy"
	"github.com/gomirror/gomirror/internal/gitserver"
	"github.com/gomirror/gomirror/internal/testcert"
	"github.com/gomirror/gomirror/internal/testutil"
)

// The git server's credentials. gomirror holds them; clients never see them.
const (
	vcsUser     = "builder"
	vcsPassword = "vcs-pw-7d1e40c2b9"
)

// privateRepo is a private module repository on a git server that requires
// basic auth:
//
//	main:    v1.0.0 ── v1.1.0 ── v2.0.0 (go.mod says /v2) ── untagged
//	feature:           └─ feature commit
type privateRepo struct {
	srv       *gitserver.Server
	repo      *gitserver.Repo
	path      string // module path of v1
	untagged  string // hash of the untagged commit on main
	featureAt string // hash of the feature branch head
}

func newPrivateRepo(t *testing.T) *privateRepo {
	t.Helper()
	srv := gitserver.New(t, gitserver.WithBasicAuth(vcsUser, vcsPassword))
	repo := srv.InitRepo(t, "private")
	p := &privateRepo{srv: srv, repo: repo, path: repo.ModulePath()}
	src := func(mod, version string) map[string]string {
		return map[string]string{
			"go.mod":     "module " + mod + "\n\ngo 1.21\n",
			"private.go": fmt.Sprintf("package private\n\nfunc Version() string { return %q }\n", version),
		}
	}
	repo.Commit(t, src(p.path, "private v1.0.0"), "v1.0.0")
	repo.Tag(t, "v1.0.0")
	repo.Commit(t, src(p.path, "private v1.1.0"), "v1.1.0")
	repo.Tag(t, "v1.1.0")
	repo.Branch(t, "feature")
	repo.Commit(t, src(p.path+"/v2", "private v2.0.0"), "v2")
	repo.Tag(t, "v2.0.0")
	p.untagged = repo.Commit(t, src(p.path+"/v2", "private v2 untagged"), "untagged")
	repo.Checkout(t, "feature")
	p.featureAt = repo.Commit(t, src(p.path, "private feature 1"), "feature 1")
	repo.Checkout(t, "main")
	return p
}

// privateMirror starts gomirror over a recording fake upstream and the
// private repository, serving HTTPS, with the settings of a company that
// keeps its modules under example.test.
type privateMirror struct {
	*mirror
	up     *fakeproxy.Server
	cert   *testcert.Cert
	client *http.Client
	store  string
}

func startPrivateMirror(t *testing.T, p *privateRepo, yaml string, args ...string) *privateMirror {
	t.Helper()
	return startPrivateMirrorEnv(t, p, nil, yaml, args...)
}

// startPrivateMirrorEnv is startPrivateMirror with more variables in
// gomirror's environment.
func startPrivateMirrorEnv(t *testing.T, p *privateRepo, extraEnv []string, yaml string, args ...string) *privateMirror {
	t.Helper()
	up := fakeproxy.New(t)
	cert := testcert.New(t)
	store := t.TempDir()
	cfg := filepath.Join(t.TempDir(), "gomirror.yaml")
	if err := os.WriteFile(cfg, []byte(privateYAML(p, cert)+yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	m := startMirrorEnv(t, append(privateEnv(t, p), extraEnv...), append([]string{"--config", cfg, "--storage-dir", store,
		"--upstream", up.URL, "--sumdb", up.DBKey, "--direct-dir", gitserver.TempDir(t)}, args...)...)
	return &privateMirror{
		mirror: m, up: up, cert: cert, store: store,
		client: &http.Client{Transport: &http.Transport{TLSClientConfig: cert.ClientConfig()}},
	}
}

// privateYAML is the start of the config of a mirror that fetches p's
// private modules with the VCS credentials and serves HTTPS with cert.
func privateYAML(p *privateRepo, cert *testcert.Cert) string {
	return fmt.Sprintf(`private: %s
vcs-credentials:
  - host: %s
    username: %s
    password-env: GIT_TOKEN
tls-cert: %s
tls-key: %s
`, gitserver.Host, p.srv.URL, vcsUser, cert.CertFile, cert.KeyFile)
}

// privateEnv is the environment gomirror needs for privateYAML's
// credentials and p's git server.
func privateEnv(t *testing.T, p *privateRepo) []string {
	t.Helper()
	return []string{
		"GIT_TOKEN=" + vcsPassword,
		// Maps example.test to the git server, without credentials:
		// those come from gomirror's vcs-credentials.
		"GIT_CONFIG_GLOBAL=" + p.srv.PlainGitConfig(t),
		"GIT_CONFIG_NOSYSTEM=1",
	}
}

// get fetches path from the mirror with an optional basic auth pair.
func (m *privateMirror) get(t *testing.T, path, user, password string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest("GET", m.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if user != "" {
		req.SetBasicAuth(user, password)
	}
	return testutil.Do(t, m.client, req)
}

// leaks returns the upstream requests that name the private module.
func (m *privateMirror) leaks() []string {
	var bad []string
	for _, r := range m.up.Requests() {
		if strings.Contains(r, "private.git") {
			bad = append(bad, r)
		}
	}
	return bad
}

// escaped is the module path as it appears in URLs.
func escaped(t *testing.T, path string) string {
	t.Helper()
	e, err := module.EscapePath(path)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// TestConcurrentFirstRequestsCloneOnce asks for five versions of one private
// repository at once on a mirror that has never seen it: the repository is
// cloned once into the shared VCS cache, and later versions reuse it.
func TestConcurrentFirstRequestsCloneOnce(t *testing.T) {
	p := newPrivateRepo(t)
	p.repo.Checkout(t, "feature")
	p.repo.Tag(t, "v1.2.0")
	p.repo.Checkout(t, "main")
	p.repo.Tag(t, "v2.1.0") // the untagged commit, tagged now
	m := startPrivateMirror(t, p, "")

	type want struct{ path, version string }
	versions := []want{
		{p.path, "v1.0.0"}, {p.path, "v1.1.0"}, {p.path, "v1.2.0"},
		{p.path + "/v2", "v2.0.0"}, {p.path + "/v2", "v2.1.0"},
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(versions))
	for _, v := range versions {
		wg.Go(func() {
			resp, err := m.client.Get(m.URL + "/" + escaped(t, v.path) + "/@v/" + v.version + ".zip")
			if err != nil {
				errs <- err
				return
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusOK {
				errs <- fmt.Errorf("%s@%s: %s: %s", v.path, v.version, resp.Status, b)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	var clones, fetches int
	for _, f := range p.srv.Fetches() {
		fetches++
		if f.Haves == 0 {
			clones++
		}
	}
	t.Logf("git server saw %d fetches, %d of them into an empty repository", fetches, clones)
	if clones != 1 {
		t.Errorf("the repository was cloned %d times for %d concurrent first requests, want once\nfetches: %+v", clones, len(versions), p.srv.Fetches())
	}
	if leaks := m.leaks(); len(leaks) > 0 {
		t.Errorf("the public upstream was asked about the private module: %q", leaks)
	}
}

// TestPrivateModulesEndToEnd builds a project that needs a private module
// and public ones, through a gomirror that holds the VCS credentials and
// requires a client token for private modules, with the real go command
// whose environment names only the mirror, GONOSUMDB and a .netrc.
func TestPrivateModulesEndToEnd(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	p := newPrivateRepo(t)
	tokens := filepath.Join(t.TempDir(), "tokens.json")
	devToken := addToken(t, tokens, "dev")
	ciToken := addToken(t, tokens, "ci")
	m := startPrivateMirror(t, p, fmt.Sprintf(`auth: private
tokens-file: %s
auth-rules:
  - modules: %s/secret.git
    tokens: [ci]
`, tokens, gitserver.Host), "--list-ttl", "1s")
	host := strings.TrimPrefix(m.URL, "https://")
	netrc := filepath.Join(t.TempDir(), "netrc")
	if err := os.WriteFile(netrc, []byte("machine "+host+" login dev password "+devToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	project := t.TempDir()
	writeFiles(t, project, map[string]string{
		"go.mod": fmt.Sprintf("module example.com/app\n\ngo 1.21\n\nrequire (\n\t%s v1.1.0\n\t%s/v2 v2.0.0\n\texample.com/hello v1.1.0\n)\n", p.path, p.path),
		"main.go": fmt.Sprintf(`package main

import (
	"fmt"

	"example.com/hello"
	private "%s"
	private2 "%s/v2"
)

func main() { fmt.Println(private.Version(), "|", private2.Version(), "|", hello.Hello()) }
`, p.path, p.path),
	})
	env := append(goEnv(t, m.URL, m.up.DBKey),
		"GONOSUMDB="+gitserver.Host,
		"NETRC="+netrc,
		"SSL_CERT_FILE="+m.cert.CertFile, // trusts the test certificate
	)
	mustGo(ctx, t, project, env, "mod", "tidy")
	out := mustGo(ctx, t, project, env, "run", ".")
	if want := "private v1.1.0 | private v2.0.0 | hello v1.1.0 dep"; !strings.Contains(out, want) {
		t.Errorf("program output %q, want %q", out, want)
	}

	// The same with GOAUTH instead of .netrc, into a fresh module cache.
	authCmd := filepath.Join(t.TempDir(), "goauth.sh")
	script := fmt.Sprintf("#!/bin/sh\nprintf '%%s\\n\\nAuthorization: Bearer %%s\\n\\n' %q %q\n", m.URL, ciToken)
	if err := os.WriteFile(authCmd, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	envAuth := append(goEnv(t, m.URL, m.up.DBKey),
		"GONOSUMDB="+gitserver.Host, "GOAUTH="+authCmd, "SSL_CERT_FILE="+m.cert.CertFile)
	mustGo(ctx, t, project, envAuth, "mod", "download")
	if out := mustGo(ctx, t, project, envAuth, "run", "."); !strings.Contains(out, "private v1.1.0") {
		t.Errorf("program output with GOAUTH %q", out)
	}

	// Without the mirror's token, the go command is refused.
	envNoAuth := append(goEnv(t, m.URL, m.up.DBKey), "GONOSUMDB="+gitserver.Host, "SSL_CERT_FILE="+m.cert.CertFile,
		"NETRC="+filepath.Join(t.TempDir(), "none"))
	if out, err := goCmd(ctx, t, project, envNoAuth, "mod", "download", p.path+"@v1.0.0"); err == nil || !strings.Contains(out, "401") {
		t.Errorf("go mod download without a token: err %v, output %q; want a 401 failure", err, out)
	}

	mod := "/" + escaped(t, p.path)
	zip := mod + "/@v/v1.1.0.zip"
	for _, tt := range []struct {
		name, path, user, password string
		want                       int
	}{
		{"no credentials, private zip", zip, "", "", http.StatusUnauthorized},
		{"wrong token, private zip", zip, "dev", devToken + "x", http.StatusUnauthorized},
		{"unknown user, private list", mod + "/@v/list", "mallory", devToken, http.StatusUnauthorized},
		{"no credentials, public module", "/example.com/hello/@v/v1.1.0.info", "", "", http.StatusOK},
		{"token outside its rules", "/" + gitserver.Host + "/secret.git/@v/list", "dev", devToken, http.StatusForbidden},
		{"valid token, private zip", zip, "dev", devToken, http.StatusOK},
	} {
		code, h, body := m.get(t, tt.path, tt.user, tt.password)
		if code != tt.want {
			t.Errorf("%s: %d %q, want %d", tt.name, code, body, tt.want)
		}
		if code == http.StatusUnauthorized && !strings.HasPrefix(h.Get("WWW-Authenticate"), "Basic") {
			t.Errorf("%s: 401 without WWW-Authenticate: Basic (got %q)", tt.name, h.Get("WWW-Authenticate"))
		}
		if code >= 400 && (strings.Contains(body, "private v1") || strings.Contains(body, "PK")) {
			t.Errorf("%s: refusal carries module data: %q", tt.name, body)
		}
	}
	get := func(path string) (int, http.Header, string) { return m.get(t, path, "dev", devToken) }
	// Freshness: a tag pushed now shows up in list within the list TTL.
	_, _, list := get(mod + "/@v/list")
	if !strings.Contains(list, "v1.1.0") || strings.Contains(list, "v1.2.0") {
		t.Fatalf("list before the push = %q", list)
	}
	p.repo.Checkout(t, "feature")
	p.repo.Tag(t, "v1.2.0")
	p.repo.Checkout(t, "main")
	pushed := time.Now()
	for {
		if _, _, list = get(mod + "/@v/list"); strings.Contains(list, "v1.2.0") {
			break
		}
		if time.Since(pushed) > 1*time.Second+30*time.Second {
			t.Fatalf("v1.2.0 not in list %v after the push (list TTL 1s): %q", time.Since(pushed), list)
		}
	}
	t.Logf("pushed tag appeared in list after %v (list TTL 1s)", time.Since(pushed).Round(time.Millisecond))

	// A branch query resolves to the branch head, and follows it.
	code, _, info := get(mod + "/@v/feature.info")
	if code != http.StatusOK || !strings.Contains(info, p.featureAt[:12]) {
		t.Fatalf("feature.info = %d %q, want a pseudo-version of %s", code, info, p.featureAt[:12])
	}
	p.repo.Checkout(t, "feature")
	next := p.repo.Commit(t, map[string]string{"more.go": "package private\n"}, "feature 2")
	p.repo.Checkout(t, "main")
	if code, _, info = get(mod + "/@v/feature.info"); code != http.StatusOK || !strings.Contains(info, next[:12]) {
		t.Fatalf("feature.info after a new commit = %d %q, want a pseudo-version of %s", code, info, next[:12])
	}
	// An untagged commit on main resolves to a /v2 pseudo-version.
	if code, _, info = get(mod + "/v2/@v/" + p.untagged[:12] + ".info"); code != http.StatusOK || !strings.Contains(info, "v2.0.1-0.") {
		t.Fatalf("untagged commit info = %d %q, want a v2.0.1-0. pseudo-version", code, info)
	}

	// A checksum database lookup of a private path is answered without
	// asking anyone.
	if code, _, body := get("/sumdb/" + fakeproxy.DBName + "/lookup" + mod + "@v1.1.0"); code != http.StatusNotFound {
		t.Errorf("sumdb lookup of a private module = %d %q, want 404", code, body)
	}
	if leaks := m.leaks(); len(leaks) > 0 {
		t.Errorf("the public upstream and its checksum database were asked about the private module: %q", leaks)
	}
	// A revoked token stops working on the running server.
	if out, err := exec.Command(gomirrorBin, "token", "revoke", "dev", "--tokens-file", tokens).CombinedOutput(); err != nil {
		t.Fatalf("gomirror token revoke dev: %v\n%s", err, out)
	}
	revoked := time.Now()
	for {
		code, _, _ := m.get(t, zip, "dev", devToken)
		if code == http.StatusUnauthorized {
			t.Logf("revoked token refused after %v", time.Since(revoked).Round(time.Millisecond))
			break
		}
		if time.Since(revoked) > 10*time.Second {
			t.Fatalf("revoked token still answered %d after %v", code, time.Since(revoked))
		}
	}
	if code, _, _ := m.get(t, zip, "ci", ciToken); code != http.StatusOK {
		t.Errorf("the other token after a revoke: %d, want 200", code)
	}

	logs := m.logs.String()
	for name, secret := range map[string]string{"the VCS password": vcsPassword, "a client token": devToken, "the other client token": ciToken} {
		if strings.Contains(logs, secret) {
			t.Errorf("%s is in gomirror's log", name)
		}
	}
	if !strings.Contains(logs, "client=dev") || !strings.Contains(logs, "client=ci") {
		t.Errorf("the access log does not name the authenticated clients")
	}
}

// addToken runs `gomirror token add` and returns the secret it prints.
func addToken(t *testing.T, file, name string) string {
	t.Helper()
	out, err := exec.Command(gomirrorBin, "token", "add", name, "--tokens-file", file).Output()
	if err != nil {
		t.Fatalf("gomirror token add %s: %v", name, err)
	}
	secret := strings.TrimSpace(string(out))
	if !strings.HasPrefix(secret, "gm_") || strings.Contains(secret, "\n") {
		t.Fatalf("gomirror token add printed %q, want one gm_ token", out)
	}
	return secret
}
