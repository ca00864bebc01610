package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gomirror/gomirror/audit"
	"github.com/gomirror/gomirror/internal/fakeproxy"
	"github.com/gomirror/gomirror/internal/testcert"
	"github.com/gomirror/gomirror/internal/testutil"
)

// policyFile is the policy of TestPolicy; %s is the extra rule an edit
// adds at the top.
const policyFile = `# TestPolicy's policy
groups:
  release: [ci]
sets:
  - name: strict
    groups: [release]
    default: deny
    rules:
      - name: only-hello
        module: example.com/hello
rules:%s
  - name: no-1.1
    module: example.com/pol/denied
    versions: ">=1.1.0"
    action: deny
  - name: legacy
    module: example.com/pol/warned
    action: deny
    mode: warn
  - name: cooling-off
    module: example.com/pol/fresh
    min-age: 7
  - name: mit-only
    module: example.com/pol/lic
    licenses: [MIT]
  - name: no-retracted
    module: example.com/pol/retracted
    deny-retracted: true
  - name: no-pseudo
    module: example.com/pol/pseudo
    deny-pseudo-versions: true
`

const pseudo = "v0.0.0-20240102030405-abcdefabcdef"

// TestPolicy runs the real go command against a mirror with a policy: a
// denied version answers 403 with the rule's text, which the go command
// prints; go get M@latest picks the newest allowed version; a warned
// version downloads and is in the audit log; min-age, licenses, retracted
// and pseudo-version rules each refuse what they should; a token in a set
// gets that set's rules; an edit of the file takes effect without a
// restart, and a bad edit keeps the last good policy (and /readyz says
// so).
func TestPolicy(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	up := fakeproxy.New(t)
	add := func(path, version string, files map[string]string) {
		t.Helper()
		fs := map[string][]byte{"go.mod": []byte("module " + path + "\n\ngo 1.21\n"), "x.go": []byte("package x\n")}
		for name, content := range files {
			fs[name] = []byte(content)
		}
		if _, err := up.Add(path, version, fs); err != nil {
			t.Fatal(err)
		}
	}
	license := func(name string) string {
		b, err := os.ReadFile(filepath.Join("testdata", "policy", name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	for _, v := range []string{"v1.0.0", "v1.1.0", "v1.2.0-pre"} {
		add("example.com/pol/denied", v, nil)
	}
	add("example.com/pol/warned", "v1.0.0", nil)
	add("example.com/pol/fresh", "v1.0.0", nil)
	add("example.com/pol/fresh", "v1.1.0", nil)
	up.SetTime("example.com/pol/fresh", "v1.1.0", time.Now().Add(-2*24*time.Hour))
	add("example.com/pol/lic", "v1.0.0", map[string]string{"LICENSE": license("LICENSE-MIT")})
	add("example.com/pol/lic", "v1.1.0", map[string]string{"LICENSE": license("LICENSE-BSD-3-Clause")})
	add("example.com/pol/retracted", "v1.0.0", nil)
	add("example.com/pol/retracted", "v1.1.0", map[string]string{"go.mod": "module example.com/pol/retracted\n\ngo 1.21\n\nretract v1.0.0 // broken build\n"})
	add("example.com/pol/pseudo", pseudo, nil)
	add("example.com/pol/pseudo", "v1.0.0", nil)

	cert := testcert.New(t)
	store := t.TempDir()
	tokens := filepath.Join(t.TempDir(), "tokens.json")
	alice := addToken(t, tokens, "alice")
	ci := addToken(t, tokens, "ci")
	policyPath := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(policyPath, []byte(fmt.Sprintf(policyFile, "")), 0o644); err != nil {
		t.Fatal(err)
	}
	m := startMirror(t, "--storage-dir", store, "--upstream", up.URL, "--sumdb", up.DBKey,
		"--tls-cert", cert.CertFile, "--tls-key", cert.KeyFile, "--auth", "all", "--tokens-file", tokens,
		"--policy", policyPath, "--policy-reload", "100ms")
	host := strings.TrimPrefix(m.URL, "https://")
	envFor := func(user, token string) []string {
		netrc := filepath.Join(t.TempDir(), "netrc")
		if err := os.WriteFile(netrc, []byte("machine "+host+" login "+user+" password "+token+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return append(goEnv(t, m.URL, up.DBKey), "NETRC="+netrc, "SSL_CERT_FILE="+cert.CertFile)
	}
	aliceEnv, ciEnv := envFor("alice", alice), envFor("ci", ci)
	dir := t.TempDir()
	// download runs go mod download of mv as a client and returns its
	// output and whether it succeeded.
	download := func(env []string, mv string) (string, bool) {
		t.Helper()
		out, err := goCmd(ctx, t, dir, env, "mod", "download", mv)
		return out, err == nil
	}
	refused := func(env []string, mv, want string) {
		t.Helper()
		out, ok := download(env, mv)
		if ok {
			t.Errorf("go mod download %s succeeded; want a 403 naming %q\n%s", mv, want, tail(out, 20))
			return
		}
		if !strings.Contains(out, "403 Forbidden") || !strings.Contains(out, "server response: gomirror policy: ") || !strings.Contains(out, want) {
			t.Errorf("go mod download %s: want a 403 whose text the go command prints, with %q; got\n%s", mv, want, tail(out, 20))
		}
		if strings.Contains(out, filepath.Dir(policyPath)) {
			t.Errorf("go mod download %s: the answer names the server's directory:\n%s", mv, tail(out, 20))
		}
	}
	allowed := func(env []string, mv string) {
		t.Helper()
		if out, ok := download(env, mv); !ok {
			t.Errorf("go mod download %s failed:\n%s", mv, tail(out, 20))
		}
	}

	refused(aliceEnv, "example.com/pol/denied@v1.1.0", `refused by rule "no-1.1" (policy.yaml:12): denied for versions >=1.1.0`)
	refused(aliceEnv, "example.com/pol/denied@v1.2.0-pre", `rule "no-1.1"`) // pre-releases are in the range
	allowed(aliceEnv, "example.com/pol/denied@v1.0.0")
	allowed(aliceEnv, "example.com/pol/warned@v1.0.0")
	refused(aliceEnv, "example.com/pol/fresh@v1.1.0", `refused by rule "cooling-off" (policy.yaml:20): published `)
	refused(aliceEnv, "example.com/pol/fresh@v1.1.0", `min-age is 7 days`) // a cached decision gives the same answer
	allowed(aliceEnv, "example.com/pol/fresh@v1.0.0")
	refused(aliceEnv, "example.com/pol/lic@v1.1.0", `rule "mit-only" (policy.yaml:23): license BSD-3-Clause not allowed; allowed: MIT`)
	allowed(aliceEnv, "example.com/pol/lic@v1.0.0")
	refused(aliceEnv, "example.com/pol/retracted@v1.0.0", `rule "no-retracted" (policy.yaml:26): retracted: broken build`)
	allowed(aliceEnv, "example.com/pol/retracted@v1.1.0")
	refused(aliceEnv, "example.com/pol/pseudo@"+pseudo, `rule "no-pseudo" (policy.yaml:29): pseudo-versions are denied`)
	allowed(aliceEnv, "example.com/pol/pseudo@v1.0.0")
	// A non-canonical query (a branch) is judged by the version it
	// resolves to.
	up.SetHook(func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path != "/example.com/pol/denied/@v/main.info" {
			return false
		}
		fmt.Fprintf(w, `{"Version":"v1.1.0","Time":"2024-01-02T03:04:05Z"}`)
		return true
	})
	refused(aliceEnv, "example.com/pol/denied@main", `refused by rule "no-1.1"`)

	// go get M@latest: the newest allowed version, as the go command
	// chooses it from the filtered list (v1.1.0 denied, v1.2.0-pre a
	// pre-release, and denied too); the newest is refused by min-age.
	project := t.TempDir()
	writeFiles(t, project, map[string]string{"go.mod": "module example.com/app\n\ngo 1.21\n"})
	mustGo(ctx, t, project, aliceEnv, "get", "example.com/pol/denied@latest", "example.com/pol/fresh@latest")
	gomod, err := os.ReadFile(filepath.Join(project, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"example.com/pol/denied v1.0.0", "example.com/pol/fresh v1.0.0"} {
		if !strings.Contains(string(gomod), want) {
			t.Errorf("go get @latest: go.mod lacks %q:\n%s", want, gomod)
		}
	}
	// The list itself, and @latest, leave the refused versions out.
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: cert.ClientConfig()}}
	get := func(path, user, token string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", m.URL+path, nil)
		req.SetBasicAuth(user, token)
		code, _, body := testutil.Do(t, client, req)
		return code, body
	}
	if code, body := get("/example.com/pol/denied/@v/list", "alice", alice); code != 200 || body != "v1.0.0\n" {
		t.Errorf("list: %d %q, want v1.0.0 alone", code, body)
	}
	if code, body := get("/example.com/pol/denied/@latest", "alice", alice); code != 200 || !strings.Contains(body, `"v1.0.0"`) {
		t.Errorf("@latest: %d %q, want v1.0.0", code, body)
	}

	// Per-token sets: ci gets the strict set (default deny).
	refused(ciEnv, "example.com/pol/warned@v1.0.0", `refused by set "strict" default (policy.yaml:7): no rule matches, and the default is deny`)
	allowed(ciEnv, "example.com/hello@v1.1.0")

	// An edit takes effect without a restart.
	reloads := func() int {
		t.Helper()
		body, err := httpsGet(client, m.URL+"/readyz")
		if err != nil {
			t.Fatal(err)
		}
		mm := regexp.MustCompile(`, (\d+) reloads\)`).FindStringSubmatch(body)
		if mm == nil {
			t.Fatalf("/readyz does not show the policy: %q", body)
		}
		var n int
		fmt.Sscan(mm[1], &n)
		return n
	}
	edit := func(src string) {
		t.Helper()
		// Written aside and renamed into place, as editors do: the poll
		// never reads half a file.
		tmp := policyPath + ".new"
		if err := os.WriteFile(tmp, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, policyPath); err != nil {
			t.Fatal(err)
		}
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for deadline := time.Now().Add(30 * time.Second); !cond(); {
			if time.Now().After(deadline) {
				t.Fatalf("waiting for %s: gave up\n%s", what, tail(m.logs.String(), 20))
			}
			<-tick.C
		}
	}
	if n := reloads(); n != 0 {
		t.Fatalf("reloads before any edit: %d", n)
	}
	// Decided (and cached) before the edit: allowed.
	if code, body := get("/example.com/hello/@v/v1.2.0.info", "alice", alice); code != http.StatusOK {
		t.Fatalf("hello v1.2.0 before the edit: %d %s", code, body)
	}
	edit(fmt.Sprintf(policyFile, "\n  - name: hello-frozen\n    module: example.com/hello\n    versions: \">=1.1.0\"\n    action: deny"))
	waitFor("the edited policy", func() bool { return reloads() == 1 })
	refused(aliceEnv, "example.com/hello@v1.2.0", `refused by rule "hello-frozen"`)
	// A bad edit keeps the last good policy and says so in /readyz.
	edit(fmt.Sprintf(policyFile, "\n  - name: typo\n    modul: example.com/hello"))
	waitFor("the bad edit to be refused", func() bool {
		body, err := httpsGet(client, m.URL+"/readyz")
		return err == nil && strings.Contains(body, `the file as it is now is refused (policy.yaml:13; the log says why), the last good policy stays in force`)
	})
	// /readyz is anonymous: it names neither the server's directory nor
	// what the error says (it may name tokens and groups); the log does.
	if body, _ := httpsGet(client, m.URL+"/readyz"); strings.Contains(body, filepath.Dir(policyPath)) || strings.Contains(body, "modul") {
		t.Errorf("/readyz tells anonymous callers too much:\n%s", body)
	}
	if !strings.Contains(m.logs.String(), policyPath+`:13: rule: unknown key \"modul\"`) {
		t.Errorf("the log lacks the bad edit's full error:\n%s", tail(m.logs.String(), 10))
	}
	refused(aliceEnv, "example.com/hello@v1.2.0", `refused by rule "hello-frozen"`)
	if !strings.Contains(m.logs.String(), "policy file not reloaded: the last good policy stays in force") {
		t.Error("the bad edit is not in the log")
	}

	// The warned download is in the audit log, with the rule; the
	// refusals too, with their 403.
	m.stop(t)
	out, err := exec.Command(gomirrorBin, "audit", "--json", "--since", "1h", "--limit", "100000",
		"--storage-dir", store, "--upstream", "off", "--sumdb", "off").Output()
	if err != nil {
		t.Fatalf("gomirror audit: %v", err)
	}
	var warnedZip, refusedZip bool
	dec := json.NewDecoder(bytes.NewReader(out))
	for dec.More() {
		var r audit.Record
		if err := dec.Decode(&r); err != nil {
			t.Fatalf("gomirror audit --json: %v\n%s", err, out)
		}
		switch {
		case r.Module == "example.com/pol/warned" && r.Kind == "zip" && r.Client == "alice":
			warnedZip = r.Status == 200 && strings.HasPrefix(r.Policy, `warned by rule "legacy" (policy.yaml:16): denied`)
			if !warnedZip {
				t.Errorf("warned zip's record: %+v", r)
			}
		case r.Module == "example.com/pol/lic" && r.Version == "v1.1.0" && r.Kind == "zip":
			refusedZip = r.Status == 403 && strings.Contains(r.Policy, "license BSD-3-Clause not allowed")
			if !refusedZip {
				t.Errorf("refused zip's record: %+v", r)
			}
		case r.Policy != "" && r.Status == 200 && !strings.HasPrefix(r.Policy, "warned by"):
			t.Errorf("a served request with a refusal recorded: %+v", r)
		}
	}
	if !warnedZip || !refusedZip {
		t.Errorf("audit log: warned zip recorded %v, refused zip recorded %v\n%s", warnedZip, refusedZip, out)
	}
}

// httpsGet returns the body of a 200 response to GET url with client.
func httpsGet(client *http.Client, url string) (string, error) {
	resp, err := client.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return b.String(), fmt.Errorf("%s: %s", resp.Status, b.String())
	}
	return b.String(), nil
}

// TestPolicyBadFileFailsStart: serve refuses to start with a bad policy
// file, naming its line.
func TestPolicyBadFileFailsStart(t *testing.T) {
	policyPath := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(policyPath, []byte("rules:\n  - module: example.com/x\n    min-age: soon\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(gomirrorBin, "serve", "--listen", "127.0.0.1:0", "--storage-dir", t.TempDir(),
		"--upstream", "off", "--sumdb", "off", "--policy", policyPath).CombinedOutput()
	if err == nil {
		t.Fatalf("serve started with a bad policy file:\n%s", out)
	}
	if want := policyPath + ":3: min-age must be a whole number of days"; !strings.Contains(string(out), want) {
		t.Errorf("serve's error does not name the line (%q):\n%s", want, out)
	}
}
