package e2e

import (
	"context"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gomirror/gomirror/internal/fakeproxy"
	"github.com/gomirror/gomirror/internal/testcert"
	"github.com/gomirror/gomirror/internal/testutil"
)

// reviewPolicy is the policy of the tests of the review's findings: a
// set for the token ci, and rules whose ranges start at 0.0.0.
const reviewPolicy = `sets:
  - name: strict
    tokens: [ci]
    rules:
      - name: ci-no-rev
        module: example.com/rev/ok
        versions: ">=1.1.0"
        action: deny
rules:
  - name: no-untagged
    module: example.com/rev/untagged
    versions: "*"
    action: deny
  - name: cooling-off
    module: example.com/rev/fresh,example.com/rev/many
    min-age: 7
`

// reviewMirror is a mirror with reviewPolicy, --auth private (public
// modules need no token, but a token given selects its set).
type reviewMirror struct {
	m      *mirror
	up     *fakeproxy.Server
	store  string
	env    []string // the go command's, with the token of alice
	client *http.Client
	tokens map[string]string
}

func startReviewMirror(t *testing.T) *reviewMirror {
	t.Helper()
	up := fakeproxy.New(t)
	add := func(path, version string) {
		t.Helper()
		if _, err := up.Add(path, version, map[string][]byte{"go.mod": []byte("module " + path + "\n\ngo 1.21\n"), "x.go": []byte("package x\n")}); err != nil {
			t.Fatal(err)
		}
	}
	add("example.com/rev/untagged", pseudo)
	add("example.com/rev/ok", "v1.0.0")
	add("example.com/rev/ok", "v1.1.0")
	add("example.com/rev/fresh", "v1.0.0")
	up.SetTime("example.com/rev/fresh", "v1.0.0", time.Now().Add(-time.Hour))
	// many: 34 releases, v1.4.0 to v1.33.0 inside cooling-off's window.
	for i := range 34 {
		v := fmt.Sprintf("v1.%d.0", i)
		add("example.com/rev/many", v)
		age := 30 * 24 * time.Hour
		if i >= 4 {
			age = time.Duration(34-i) * time.Hour
		}
		up.SetTime("example.com/rev/many", v, time.Now().Add(-age))
	}
	cert := testcert.New(t)
	store := t.TempDir()
	tokensFile := filepath.Join(t.TempDir(), "tokens.json")
	tokens := map[string]string{"alice": addToken(t, tokensFile, "alice"), "ci": addToken(t, tokensFile, "ci")}
	policyPath := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(policyPath, []byte(reviewPolicy), 0o644); err != nil {
		t.Fatal(err)
	}
	m := startMirror(t, "--storage-dir", store, "--upstream", up.URL, "--sumdb", up.DBKey,
		"--tls-cert", cert.CertFile, "--tls-key", cert.KeyFile, "--auth", "private", "--tokens-file", tokensFile,
		"--policy", policyPath)
	host := strings.TrimPrefix(m.URL, "https://")
	netrc := filepath.Join(t.TempDir(), "netrc")
	if err := os.WriteFile(netrc, []byte("machine "+host+" login alice password "+tokens["alice"]+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := append(goEnv(t, m.URL, up.DBKey), "NETRC="+netrc, "SSL_CERT_FILE="+cert.CertFile)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: cert.ClientConfig()}}
	return &reviewMirror{m: m, up: up, store: store, env: env, client: client, tokens: tokens}
}

// get answers GET path as user (none: "").
func (r *reviewMirror) get(t *testing.T, path, user string) (int, http.Header, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", r.m.URL+path, nil)
	if user != "" {
		req.SetBasicAuth(user, r.tokens[user])
	}
	return testutil.Do(t, r.client, req)
}

// TestPolicyPseudoVersionInRange: versions "*" covers the pseudo-versions
// of an untagged module (semver orders v0.0.0-TS-HASH below 0.0.0): the
// go command's download of one is refused, naming the rule.
func TestPolicyPseudoVersionInRange(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	r := startReviewMirror(t)
	out, err := goCmd(ctx, t, t.TempDir(), r.env, "mod", "download", "example.com/rev/untagged@"+pseudo)
	if err == nil || !strings.Contains(out, "403 Forbidden") || !strings.Contains(out, `refused by rule "no-untagged"`) {
		t.Errorf("go mod download of a pseudo-version under versions \"*\" deny: err %v\n%s", err, tail(out, 20))
	}
	for _, ext := range []string{"info", "mod", "zip"} {
		if code, _, body := r.get(t, "/example.com/rev/untagged/@v/"+pseudo+"."+ext, ""); code != http.StatusForbidden {
			t.Errorf(".%s: %d %q, want 403", ext, code, body)
		}
	}
}

// storedFiles are the names of the files under dir whose name ends with
// suffix.
func storedFiles(t *testing.T, dir, suffix string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, suffix) {
			out = append(out, path)
		}
		return nil
	})
	return out
}

// TestPolicyNonCanonical: with a policy, a .mod or .zip of a version that
// is not canonical answers 400 as without one (not 502), and the go
// command's own requests for a query resolve as usual.
func TestPolicyNonCanonical(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	r := startReviewMirror(t)
	for _, p := range []string{"/example.com/rev/ok/@v/v1.1.mod", "/example.com/rev/ok/@v/v1.1.zip", "/example.com/rev/ok/@v/master.zip"} {
		if code, _, body := r.get(t, p, ""); code != http.StatusBadRequest || !strings.Contains(body, "invalid version") {
			t.Errorf("GET %s: %d %q, want 400 invalid version", p, code, body)
		}
	}
	if strings.Contains(r.m.logs.String(), "request failed") {
		t.Errorf("a client's bad request is logged as a failure:\n%s", tail(r.m.logs.String(), 10))
	}
	out := mustGo(ctx, t, t.TempDir(), r.env, "mod", "download", "-json", "example.com/rev/ok@v1.0")
	if !strings.Contains(out, `"Version": "v1.0.0"`) {
		t.Errorf("go mod download @v1.0: %s", out)
	}
}

// TestPolicyCacheHeaders: with a policy in force, no answer is marked
// cacheable for a year (a reload may refuse what is served now), and with
// per-token sets every answer of the module protocol is private (a shared
// cache must not hand one token's list, or artifact, to another). A
// request without a token, to the same mirror, is private too: its
// answer is the top-level rules', which a token in a set does not get.
func TestPolicyCacheHeaders(t *testing.T) {
	r := startReviewMirror(t)
	for _, user := range []string{"alice", "ci", ""} {
		for _, p := range []string{"/example.com/rev/ok/@v/list", "/example.com/rev/ok/@latest",
			"/example.com/rev/ok/@v/v1.0.0.info", "/example.com/rev/ok/@v/v1.0.0.mod", "/example.com/rev/ok/@v/v1.0.0.zip"} {
			code, hdr, _ := r.get(t, p, user)
			cc := hdr.Get("Cache-Control")
			if code != http.StatusOK || !strings.HasPrefix(cc, "private") || strings.Contains(cc, "immutable") || !strings.Contains(cc, "max-age=60") {
				t.Errorf("GET %s as %q: %d, Cache-Control %q; want private, max-age=60, not immutable", p, user, code, cc)
			}
		}
	}
	// The set refuses ci what alice gets.
	if _, _, body := r.get(t, "/example.com/rev/ok/@v/list", "ci"); body != "v1.0.0\n" {
		t.Errorf("ci's list %q", body)
	}
	if _, _, body := r.get(t, "/example.com/rev/ok/@v/list", "alice"); body != "v1.0.0\nv1.1.0\n" {
		t.Errorf("alice's list %q", body)
	}
}

// TestPolicyMinAgeNotFetched: a version that min-age refuses is not
// downloaded: the .info fetched for its time starts no fill of its .mod
// or .zip (the cache's prefetch), so the code the rule guards against is
// never stored. An allowed version's .info fetched for a decision does
// still start them.
func TestPolicyMinAgeNotFetched(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	r := startReviewMirror(t)
	out, err := goCmd(ctx, t, t.TempDir(), r.env, "mod", "download", "example.com/rev/fresh@v1.0.0")
	if err == nil || !strings.Contains(out, `refused by rule "cooling-off"`) {
		t.Fatalf("go mod download of a fresh version: err %v\n%s", err, tail(out, 20))
	}
	if code, _, _ := r.get(t, "/example.com/rev/fresh/@v/list", ""); code != http.StatusOK {
		t.Fatalf("list: %d", code)
	}
	// The server's work is done when the access log has the list; a
	// prefetch would have started with the .info's fetch, before the 403.
	// Stop the server so that every fill it started ends.
	r.m.stop(t)
	if got := storedFiles(t, r.store, "v1.0.0.zip"); len(got) != 0 {
		t.Errorf("a version refused by min-age was downloaded and stored: %v", got)
	}
	if got := storedFiles(t, r.store, "v1.0.0.mod"); len(got) != 0 {
		t.Errorf("a version refused by min-age had its .mod stored: %v", got)
	}
	if got := storedFiles(t, r.store, "v1.0.0.info"); len(got) == 0 {
		t.Errorf("the .info fetched for the time fact is not stored: the test checks nothing")
	}
}

// TestPolicySetsWarnings: serve warns at start when the policy's sets can
// never apply (auth off: no request has a token) and when a set names a
// token the tokens file does not have (a typo: that client silently gets
// the top-level rules).
func TestPolicySetsWarnings(t *testing.T) {
	policyPath := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(policyPath, []byte(reviewPolicy), 0o644); err != nil {
		t.Fatal(err)
	}
	m := startMirror(t, "--storage-dir", t.TempDir(), "--upstream", "off", "--sumdb", "off", "--policy", policyPath)
	if logs := m.logs.String(); !strings.Contains(logs, "the policy has sets but auth is off") {
		t.Errorf("no warning about sets with auth off:\n%s", tail(logs, 20))
	}
	m.stop(t)
	cert := testcert.New(t)
	tokensFile := filepath.Join(t.TempDir(), "tokens.json")
	addToken(t, tokensFile, "alice") // no "ci"
	m = startMirror(t, "--storage-dir", t.TempDir(), "--upstream", "off", "--sumdb", "off", "--policy", policyPath,
		"--tls-cert", cert.CertFile, "--tls-key", cert.KeyFile, "--auth", "private", "--tokens-file", tokensFile)
	logs := m.logs.String()
	if !strings.Contains(logs, "a policy set names a token that the tokens file does not have") || !strings.Contains(logs, "token=ci") {
		t.Errorf("no warning about the unknown token ci:\n%s", tail(logs, 20))
	}
	if strings.Contains(logs, "auth is off") {
		t.Errorf("warned about auth off with auth on:\n%s", tail(logs, 20))
	}
}

// TestPolicyMinAgeManyFresh: a module with more releases inside the
// min-age window than a list used to judge (30): the go command's FIRST
// go get M@latest, on a fresh store, chooses the newest version old
// enough (v1.3.0) instead of failing with a 403 for a fresh one the list
// offered.
func TestPolicyMinAgeManyFresh(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	r := startReviewMirror(t)
	project := t.TempDir()
	writeFiles(t, project, map[string]string{"go.mod": "module example.com/app\n\ngo 1.21\n"})
	out, err := goCmd(ctx, t, project, r.env, "get", "example.com/rev/many@latest")
	if err != nil {
		t.Fatalf("go get example.com/rev/many@latest (the first): %v\n%s", err, tail(out, 20))
	}
	gomod, err := os.ReadFile(filepath.Join(project, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(gomod), "example.com/rev/many v1.3.0 ") {
		t.Errorf("go get @latest: go.mod has not example.com/rev/many v1.3.0:\n%s", gomod)
	}
}
