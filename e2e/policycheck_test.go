package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gomirror/gomirror/internal/fakeproxy"
	"github.com/gomirror/gomirror/internal/testcert"
)

// policyCheckFile is the policy of TestPolicyCheckCommand.
const policyCheckFile = `
rules:
  - name: no-denied
    module: example.com/pc/denied
    action: deny
  - name: warned
    module: example.com/pc/warned
    mode: warn
    action: deny
  - name: mit-only
    module: example.com/pc/*
    licenses: [MIT]
`

// runPolicy runs `gomirror policy args...` in dir with env and returns its
// standard output, standard error and exit code.
func runPolicy(ctx context.Context, t *testing.T, dir string, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.CommandContext(ctx, gomirrorBin, append([]string{"policy"}, args...)...)
	cmd.Dir, cmd.Env = dir, env
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		code = exit.ExitCode()
	default:
		t.Fatalf("running gomirror policy: %v", err)
	}
	return out.String(), errOut.String(), code
}

// TestPolicyCheckCommand runs `gomirror policy check` and `explain`, built
// as a binary, with the real go command, against a real server on loopback
// (a fake upstream behind it) with a policy and auth all: a project
// without violations passes (0) and one with a violation fails (1), asked
// of the mirror (--mirror, with a token) and decided locally (--policy), as
// text, JSON and SARIF; a mirror without a policy cannot check (2); and
// the endpoint decides only for modules the token may read.
func TestPolicyCheckCommand(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	up := fakeproxy.New(t)
	mit, err := os.ReadFile(filepath.Join("testdata", "policy", "LICENSE-MIT"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"example.com/pc/ok", "example.com/pc/denied", "example.com/pc/warned", "corp.example/secret"} {
		if _, err := up.Add(p, "v1.0.0", map[string][]byte{"go.mod": []byte("module " + p + "\n\ngo 1.21\n"), "x.go": []byte("package x\n"), "LICENSE": mit}); err != nil {
			t.Fatal(err)
		}
	}
	cert := testcert.New(t)
	tokens := filepath.Join(t.TempDir(), "tokens.json")
	ci := addToken(t, tokens, "ci")
	dev := addToken(t, tokens, "dev")
	cfg := filepath.Join(t.TempDir(), "gomirror.yaml")
	if err := os.WriteFile(cfg, []byte("auth-rules:\n  - modules: corp.example\n    tokens: [ci]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	policyPath := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(policyPath, []byte(policyCheckFile), 0o644); err != nil {
		t.Fatal(err)
	}
	m := startMirror(t, "--config", cfg, "--storage-dir", t.TempDir(), "--upstream", up.URL, "--sumdb", up.DBKey,
		"--tls-cert", cert.CertFile, "--tls-key", cert.KeyFile, "--auth", "all", "--tokens-file", tokens,
		"--policy", policyPath)
	host := strings.TrimPrefix(m.URL, "https://")
	netrc := filepath.Join(t.TempDir(), "netrc")
	if err := os.WriteFile(netrc, []byte("machine "+host+" login ci password "+ci+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte(ci+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// The go command that policy check runs reaches the mirror with the
	// token in .netrc, and the mirror's certificate is trusted.
	env := append(goEnv(t, m.URL, up.DBKey), "NETRC="+netrc, "SSL_CERT_FILE="+cert.CertFile, "GOMIRROR_TOKEN=")

	// project writes a project requiring mods, its go.sum made from the
	// upstream directly.
	project := func(mods ...string) string {
		dir := t.TempDir()
		gomod := "module example.com/app\n\ngo 1.21\n\nrequire (\n"
		main := "package main\n\nimport (\n"
		for _, mod := range mods {
			gomod += "\t" + mod + " v1.0.0\n"
			main += "\t_ \"" + mod + "\"\n"
		}
		writeFiles(t, dir, map[string]string{"go.mod": gomod + ")\n", "main.go": main + ")\n\nfunc main() {}\n"})
		mustGo(ctx, t, dir, goEnv(t, up.URL, up.DBKey), "mod", "tidy")
		return dir
	}
	clean := project("example.com/pc/ok", "example.com/pc/warned")
	bad := project("example.com/pc/ok", "example.com/pc/denied", "example.com/pc/warned")
	badSum, _ := os.ReadFile(filepath.Join(bad, "go.sum"))

	for _, mode := range [][]string{
		{"--mirror", m.URL, "--token-file", tokenFile},
		{"--policy", policyPath, "--proxy", up.URL},
	} {
		name := mode[0]
		stdout, stderr, code := runPolicy(ctx, t, clean, env, append([]string{"check"}, mode...)...)
		if code != 0 || !strings.Contains(stdout, "warning: example.com/pc/warned@v1.0.0: refused by rule \"warned\"") || !strings.Contains(stdout, "0 violations, 1 warning, 0 not checked") {
			t.Errorf("%s: clean project: exit %d\nstdout:\n%s\nstderr:\n%s", name, code, stdout, stderr)
		}

		stdout, stderr, code = runPolicy(ctx, t, bad, env, append([]string{"check", "--json"}, mode...)...)
		var rep struct {
			ExitCode   int
			Violations []struct{ Module, Rule, Reason, Mode string }
			Warnings   []struct{ Module string }
			Unchecked  []struct{ Module string }
			Incomplete []string
		}
		if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
			t.Fatalf("%s: %v\nstdout:\n%s\nstderr:\n%s", name, err, stdout, stderr)
		}
		if code != 1 || rep.ExitCode != 1 || len(rep.Violations) != 1 || rep.Violations[0].Module != "example.com/pc/denied" ||
			rep.Violations[0].Rule != "no-denied" || rep.Violations[0].Mode != "enforce" || len(rep.Warnings) != 1 || len(rep.Unchecked) != 0 {
			t.Errorf("%s: project with a violation: exit %d, report %+v\nstderr:\n%s", name, code, rep, stderr)
		}
		if name == "--mirror" {
			// The mirror refuses the denied version's go.mod to the go
			// command too: the build list could not be resolved, and the
			// go.mod's requirements and go.sum were checked.
			if len(rep.Incomplete) != 1 || !strings.Contains(rep.Incomplete[0], "403") {
				t.Errorf("--mirror: incomplete %q", rep.Incomplete)
			}
		}

		stdout, stderr, code = runPolicy(ctx, t, bad, env, append([]string{"check", "--sarif", "go.mod"}, mode...)...)
		var sarif struct {
			Version string
			Runs    []struct {
				Tool struct {
					Driver struct {
						Name  string
						Rules []struct{ ID string }
					}
				}
				Results []struct {
					RuleID    string
					Level     string
					Message   struct{ Text string }
					Locations []struct {
						PhysicalLocation struct {
							ArtifactLocation struct{ URI string }
							Region           struct{ StartLine int }
						}
					}
				}
			}
		}
		if err := json.Unmarshal([]byte(stdout), &sarif); err != nil || code != 1 {
			t.Fatalf("%s: SARIF: exit %d, %v\n%s%s", name, code, err, stdout, stderr)
		}
		if sarif.Version != "2.1.0" || len(sarif.Runs) != 1 || len(sarif.Runs[0].Results) != 2 || len(sarif.Runs[0].Tool.Driver.Rules) != 2 {
			t.Fatalf("%s: SARIF:\n%s", name, stdout)
		}
		r := sarif.Runs[0].Results[0]
		loc := r.Locations[0].PhysicalLocation
		if r.RuleID != "gomirror-policy/no-denied" || r.Level != "error" || loc.ArtifactLocation.URI != "go.mod" || loc.Region.StartLine != 6 ||
			!strings.Contains(r.Message.Text, "example.com/pc/denied@v1.0.0") {
			t.Errorf("%s: SARIF result %+v", name, r)
		}
		if w := sarif.Runs[0].Results[1]; w.Level != "warning" || w.RuleID != "gomirror-policy/warned" {
			t.Errorf("%s: SARIF warning %+v", name, w)
		}

		stdout, _, code = runPolicy(ctx, t, bad, env, append([]string{"explain", "example.com/pc/ok@v1.0.0"}, mode...)...)
		if code != 0 || !strings.Contains(stdout, `example.com/pc/ok@v1.0.0: allowed by rule "mit-only"`) || !strings.Contains(stdout, "licenses: licenses MIT: passed") {
			t.Errorf("%s: explain: exit %d\n%s", name, code, stdout)
		}
		stdout, _, code = runPolicy(ctx, t, bad, env, append([]string{"explain", "--json", "example.com/pc/denied@v1.0.0"}, mode...)...)
		if code != 1 || !strings.Contains(stdout, `"rule": "no-denied"`) || !strings.Contains(stdout, `"exitCode": 1`) {
			t.Errorf("%s: explain --json: exit %d\n%s", name, code, stdout)
		}
	}
	if got, _ := os.ReadFile(filepath.Join(bad, "go.sum")); !bytes.Equal(got, badSum) {
		t.Errorf("policy check changed go.sum")
	}

	// Without the token, under auth all: could not check.
	_, stderr, code := runPolicy(ctx, t, clean, env, "check", "--mirror", m.URL)
	if code != 2 || !strings.Contains(stderr, "401") {
		t.Errorf("without a token: exit %d\n%s", code, stderr)
	}

	// The endpoint decides only for modules the token may read: dev may
	// not read corp.example, ci may; a module that does not exist gets
	// the same answer as one that does.
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: cert.ClientConfig()}}
	ask := func(token string, mods ...string) []map[string]any {
		t.Helper()
		var q []map[string]string
		for _, mv := range mods {
			p, v, _ := strings.Cut(mv, "@")
			q = append(q, map[string]string{"module": p, "version": v})
		}
		body, _ := json.Marshal(map[string]any{"modules": q})
		req, _ := http.NewRequest(http.MethodPost, m.URL+"/api/v1/policy/check", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var ans struct{ Decisions []map[string]any }
		if err := json.NewDecoder(resp.Body).Decode(&ans); err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s: %v", resp.Status, err)
		}
		return ans.Decisions
	}
	ds := ask(dev, "corp.example/secret@v1.0.0", "corp.example/nothing@v1.0.0", "example.com/pc/denied@v1.0.0")
	if ds[0]["error"] == nil || ds[0]["error"] != ds[1]["error"] || ds[0]["rule"] != nil || ds[2]["rule"] != "no-denied" {
		t.Errorf("dev's decisions: %v", ds)
	}
	if ds := ask(ci, "corp.example/secret@v1.0.0"); ds[0]["error"] != nil || ds[0]["rule"] != "default" || ds[0]["allowed"] != true {
		t.Errorf("ci's decision: %v", ds)
	}
	if n := up.Hits("/corp.example/nothing/@v/v1.0.0.info"); n != 0 {
		t.Errorf("the upstream was asked about a module the token may not read")
	}

	// A mirror without a policy cannot check.
	plain := startMirror(t, "--storage-dir", t.TempDir(), "--upstream", up.URL, "--sumdb", up.DBKey)
	_, stderr, code = runPolicy(ctx, t, clean, goEnv(t, plain.URL, up.DBKey), "check", "--mirror", plain.URL)
	if code != 2 || !strings.Contains(stderr, "no policy") {
		t.Errorf("mirror without a policy: exit %d\n%s", code, stderr)
	}
}

// TestPolicyCheckVulnerable: `policy check` reports a version that a
// deny-vulnerable rule refuses, decided by the mirror (its database) and
// decided locally (the database read through the mirror's /vuln/), the
// commands reaching nothing but the mirror.
func TestPolicyCheckVulnerable(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	m, policyFile := startDenyVulnerable(t)
	project := t.TempDir()
	writeFiles(t, project, vulnProject)
	env := isolated(goEnv(t, m.URL, goEnvValue(t, "GOSUMDB")))
	for _, mode := range [][]string{{"--mirror", m.URL}, {"--policy", policyFile, "--proxy", m.URL}} {
		stdout, stderr, code := runPolicy(ctx, t, project, env, append([]string{"check", "--json"}, mode...)...)
		var rep struct {
			Violations []struct{ Module, Version, Rule, Reason string }
		}
		if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
			t.Fatalf("%s: %v\n%s%s", mode[0], err, stdout, stderr)
		}
		if code != 1 || len(rep.Violations) != 1 || rep.Violations[0].Version != "v0.3.7" || rep.Violations[0].Rule != "no-known-vulns" ||
			!strings.Contains(rep.Violations[0].Reason, "GO-2022-1059") || strings.Contains(rep.Violations[0].Reason, "GO-2021-0113") {
			t.Errorf("%s: exit %d, report %+v\nstderr:\n%s", mode[0], code, rep, stderr)
		}
		stdout, _, code = runPolicy(ctx, t, project, env, append([]string{"explain", "golang.org/x/text@v0.3.7"}, mode...)...)
		if code != 1 || !strings.Contains(stdout, "deny-vulnerable: advisories ") || !strings.Contains(stdout, "GO-2022-1059") {
			t.Errorf("%s: explain: exit %d\n%s", mode[0], code, stdout)
		}
	}
}
