package e2e

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// The vulnerability database tests share one download of the x/vulndb
// module (25 MB) per run: vulnStore fetches it once through a gomirror in
// front of the real upstream, and each test starts from a copy of that
// storage's module files (hard links: stored files are never rewritten).
var (
	vulnOnce  sync.Once
	vulnDir   string // storage holding the module, "" if the fetch failed
	vulnError string
)

// vulnEnv turns the database on (its default source, the module).
var vulnEnv = []string{"GOMIRROR_VULNDB=module"}

// vulnStore returns a new storage directory holding the x/vulndb module.
func vulnStore(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("needs the real upstream; skipped in -short mode")
	}
	vulnOnce.Do(func() {
		dir, err := os.MkdirTemp("", "gomirror-e2e-vulndb-*")
		if err != nil {
			vulnError = err.Error()
			return
		}
		m := startMirrorEnv(t, vulnEnv, "--storage-dir", dir)
		if err := waitVulnDB(m, 5*time.Minute); err != nil {
			vulnError = err.Error() + "\n" + tail(m.logs.String(), 20)
			return
		}
		m.stop(t)
		vulnDir = dir
	})
	if vulnDir == "" {
		t.Fatalf("fetching the vulnerability database: %s", vulnError)
	}
	dst := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dst, "golang.org", "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("cp", "-al", filepath.Join(vulnDir, "golang.org", "x", "vulndb"), filepath.Join(dst, "golang.org", "x")).CombinedOutput(); err != nil {
		t.Fatalf("copying the stored module: %v\n%s", err, out)
	}
	return dst
}

// waitVulnDB waits until m's /readyz says a copy of the database is
// served (it reports each state; polled, as a client would).
func waitVulnDB(m *mirror, within time.Duration) error {
	deadline := time.Now().Add(within)
	last := ""
	for time.Now().Before(deadline) {
		resp, err := http.Get(m.URL + "/readyz")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			last = string(b)
			if strings.Contains(last, "vulndb: golang.org/x/vulndb@") {
				return nil
			}
			if strings.Contains(last, "vulndb: not loaded") {
				return errors.New(last)
			}
		}
		time.Sleep(200 * time.Millisecond) // polling /readyz, not synchronising
	}
	return errors.New("the vulnerability database was not loaded in time; /readyz: " + last)
}

// govulncheckBin finds govulncheck v1.9.0 (go install
// golang.org/x/vuln/cmd/govulncheck@v1.9.0) in PATH or GOPATH/bin.
func govulncheckBin(t *testing.T) string {
	if p, err := exec.LookPath("govulncheck"); err == nil {
		return p
	}
	if gp := goEnvValue(t, "GOPATH"); gp != "" {
		p := filepath.Join(strings.Split(gp, string(os.PathListSeparator))[0], "bin", "govulncheck")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	t.Log("!!! SKIPPING: govulncheck is not installed (go install golang.org/x/vuln/cmd/govulncheck@v1.9.0)")
	t.Skip("!!! SKIPPING: govulncheck not installed")
	return ""
}

// vulnProject is a module that requires golang.org/x/text v0.3.7 and
// calls language.ParseAcceptLanguage, which GO-2022-1059 (fixed in
// v0.3.8) names.
var vulnProject = map[string]string{
	"go.mod": "module example.com/vulnapp\n\ngo 1.21\n\nrequire golang.org/x/text v0.3.7\n",
	"main.go": `package main

import (
	"fmt"

	"golang.org/x/text/language"
)

func main() {
	tags, _, err := language.ParseAcceptLanguage("en-US,fr;q=0.8")
	fmt.Println(tags, err)
}
`,
}

// isolated returns env with the network closed to everything but
// loopback: a request that is not for gomirror fails.
func isolated(env []string) []string {
	return append(env, "HTTPS_PROXY=http://127.0.0.1:9", "HTTP_PROXY=http://127.0.0.1:9", "NO_PROXY=", "no_proxy=")
}

// TestGovulncheck runs the real govulncheck with -db pointing at
// gomirror's /vuln/ on a project that requires an affected version; the
// go command and govulncheck reach nothing but gomirror, whose upstream
// is the real one.
func TestGovulncheck(t *testing.T) {
	bin := govulncheckBin(t)
	store := vulnStore(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	m := startMirrorEnv(t, vulnEnv, "--storage-dir", store)
	if err := waitVulnDB(m, time.Minute); err != nil {
		t.Fatal(err)
	}
	project := t.TempDir()
	writeFiles(t, project, vulnProject)
	env := isolated(goEnv(t, m.URL, goEnvValue(t, "GOSUMDB")))
	env = append(env, "GOFLAGS=-modcacherw -mod=mod")
	mustGo(ctx, t, project, env, "mod", "tidy")

	cmd := exec.CommandContext(ctx, bin, "-db", m.URL+"/vuln", "./...")
	cmd.Dir, cmd.Env = project, env
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 3 {
		t.Fatalf("govulncheck: %v (want exit status 3: vulnerabilities found)\n%s", err, out)
	}
	if !strings.Contains(string(out), "GO-2022-1059") || !strings.Contains(string(out), "golang.org/x/text@v0.3.7") {
		t.Fatalf("govulncheck did not report GO-2022-1059 in golang.org/x/text@v0.3.7:\n%s", out)
	}
	for _, p := range []string{"HEAD /vuln/index/modules.json.gz", "GET /vuln/index/modules.json.gz", "GET /vuln/ID/GO-2022-1059.json.gz"} {
		method, path, _ := strings.Cut(p, " ")
		if !strings.Contains(m.logs.String(), "method="+method+" path="+path+" ") {
			t.Errorf("no %s in gomirror's access log", p)
		}
	}
	t.Logf("govulncheck -db %s/vuln ./...:\n%s", m.URL, tail(string(out), 15))
}

// TestVulnDBAirGapped: with the upstream off, the copy of the module in
// storage is served.
func TestVulnDBAirGapped(t *testing.T) {
	store := vulnStore(t)
	m := startMirrorEnv(t, vulnEnv, "--storage-dir", store, "--upstream", "off")
	if err := waitVulnDB(m, time.Minute); err != nil {
		t.Fatal(err)
	}
	body, err := httpGet(m.URL + "/vuln/ID/GO-2022-1059.json")
	if err != nil || !strings.Contains(body, `"golang.org/x/text"`) {
		t.Fatalf("GET /vuln/ID/GO-2022-1059.json: %v\n%s", err, body)
	}
	// The load is logged just after the copy is served, and log lines
	// are written out off the request path.
	eventually(t, "the log line of the load from storage", func() bool {
		return strings.Contains(m.logs.String(), "vulnerability database loaded from storage")
	})
}

// startDenyVulnerable starts a mirror with the vulnerability database
// (the stored x/vulndb module, vulnStore) and a policy whose rule
// "no-known-vulns" refuses the versions of golang.org/x/text that an
// advisory affects, once the database is loaded; it returns the mirror
// and the policy file.
func startDenyVulnerable(t *testing.T) (*mirror, string) {
	t.Helper()
	policyFile := filepath.Join(t.TempDir(), "policy.yaml")
	writeFiles(t, filepath.Dir(policyFile), map[string]string{"policy.yaml": `rules:
  - name: no-known-vulns
    module: golang.org/x/text
    deny-vulnerable: true
`})
	m := startMirrorEnv(t, vulnEnv, "--storage-dir", vulnStore(t), "--policy", policyFile)
	if err := waitVulnDB(m, time.Minute); err != nil {
		t.Fatal(err)
	}
	return m, policyFile
}

// TestDenyVulnerable: a policy rule with deny-vulnerable refuses the
// affected golang.org/x/text v0.3.7 (403, the rule and the advisories in
// the go command's error) and lets the fixed v0.41.0 through; what the
// rule decides comes from the database served at /vuln/.
func TestDenyVulnerable(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	m, _ := startDenyVulnerable(t)
	project := t.TempDir()
	writeFiles(t, project, map[string]string{"go.mod": "module example.com/vulnapp\n\ngo 1.21\n"})
	env := isolated(goEnv(t, m.URL, goEnvValue(t, "GOSUMDB")))
	out, err := goCmd(ctx, t, project, env, "mod", "download", "golang.org/x/text@v0.3.7")
	if err == nil {
		t.Fatalf("go mod download golang.org/x/text@v0.3.7 succeeded:\n%s", out)
	}
	for _, want := range []string{"403", "no-known-vulns", "GO-2022-1059"} {
		if !strings.Contains(out, want) {
			t.Errorf("the go command's error lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "GO-2021-0113") {
		t.Errorf("v0.3.7 refused for GO-2021-0113, which v0.3.7 fixes:\n%s", out)
	}
	mustGo(ctx, t, project, env, "mod", "download", "golang.org/x/text@v0.41.0")
}
