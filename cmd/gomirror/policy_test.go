package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/gomirror/gomirror/client/policycheck"
	"github.com/gomirror/gomirror/i18n"
	"github.com/gomirror/gomirror/internal/fakeproxy"
	"github.com/gomirror/gomirror/internal/testutil"
)

// runPolicyCmd runs `gomirror policy args...`, the go command it runs
// finding modules nowhere but through the proxy it is given, and returns
// the exit status main would give.
func runPolicyCmd(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	return runPolicyCmdToken(t, "", args...)
}

// runPolicyCmdToken is runPolicyCmd with $GOMIRROR_TOKEN set to tok.
func runPolicyCmdToken(t *testing.T, tok string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	t.Setenv("GOPROXY", "off")
	t.Setenv("GOPATH", filepath.Join(t.TempDir(), "gopath"))
	t.Setenv("GOENV", "off")
	t.Setenv(policycheck.TokenEnv, tok)
	stdout, stderr, err := testutil.RunCommand(t, newPolicy(), nil, args...)
	code, msg := exitStatus(err, i18n.English())
	return stdout, stderr + msg, code
}

// project writes a project requiring example.com/hello at version, with a
// go.sum made by the real go command from up, and returns its directory.
func project(t *testing.T, up *fakeproxy.Server, version string) string {
	t.Helper()
	dir := t.TempDir()
	gomod := "module example.com/app\n\ngo 1.21\n\nrequire example.com/hello " + version + "\n"
	main := "package main\n\nimport \"example.com/hello\"\n\nfunc main() { println(hello.Hello()) }\n"
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte(gomod), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(main), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "mod", "tidy")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOPROXY="+up.URL, "GOSUMDB="+up.DBKey, "GOFLAGS=-modcacherw", "GOENV=off",
		"GOPATH="+filepath.Join(t.TempDir(), "gopath"), "GONOSUMDB=", "GOPRIVATE=", "GONOPROXY=", "GOTOOLCHAIN=local")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go mod tidy: %v\n%s", err, out)
	}
	return dir
}

const localPolicy = `
rules:
  - name: no-hello-1.2
    module: example.com/hello
    versions: ">=1.2.0"
    action: deny
  - name: dep-warn
    module: example.com/dep
    mode: warn
    action: deny
`

func TestPolicyCheckLocal(t *testing.T) {
	up := fakeproxy.New(t)
	pol := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(pol, []byte(localPolicy), 0o644); err != nil {
		t.Fatal(err)
	}
	clean := project(t, up, "v1.1.0")
	stdout, stderr, code := runPolicyCmd(t, "check", "--policy", pol, "--proxy", up.URL, clean)
	if code != policycheck.ExitClean {
		t.Errorf("clean project: exit %d\n%s%s", code, stdout, stderr)
	}
	// dep (indirect) is refused by a rule in mode warn: printed, not failing.
	if !strings.Contains(stdout, "warning: example.com/dep@v1.0.0: refused by rule \"dep-warn\"") || !strings.Contains(stdout, "0 violations, 1 warning, 0 not checked") {
		t.Errorf("clean project output:\n%s", stdout)
	}

	bad := project(t, up, "v1.2.0")
	stdout, stderr, code = runPolicyCmd(t, "check", "--json", "--policy", pol, "--proxy", up.URL, filepath.Join(bad, "go.mod"))
	if code != policycheck.ExitViolation {
		t.Errorf("project with a violation: exit %d\n%s%s", code, stdout, stderr)
	}
	var rep struct {
		ExitCode   int
		Violations []struct {
			Module, Version, Rule string
			Location              policycheck.Location
		}
	}
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("%v\n%s", err, stdout)
	}
	if rep.ExitCode != 1 || len(rep.Violations) != 1 || rep.Violations[0].Rule != "no-hello-1.2" || rep.Violations[0].Version != "v1.2.0" ||
		rep.Violations[0].Location != (policycheck.Location{File: filepath.Join(bad, "go.mod"), Line: 5}) {
		t.Errorf("report %+v", rep)
	}

	// explain
	stdout, _, code = runPolicyCmd(t, "explain", "--policy", pol, "--proxy", up.URL, "example.com/hello@v1.2.0")
	if code != policycheck.ExitViolation || !strings.HasPrefix(stdout, "example.com/hello@v1.2.0: refused by rule \"no-hello-1.2\" (policy.yaml:3)\n  reason: denied for versions >=1.2.0\n") {
		t.Errorf("explain: exit %d\n%s", code, stdout)
	}
}

func TestPolicyCheckUsage(t *testing.T) {
	up := fakeproxy.New(t)
	pol := filepath.Join(t.TempDir(), "policy.yaml")
	os.WriteFile(pol, []byte("rules:\n  - module: x\n    bogus: 1\n"), 0o644)
	proj := t.TempDir()
	os.WriteFile(filepath.Join(proj, "go.mod"), []byte("module example.com/app\n"), 0o644)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"check", "--bogus"}, "unknown flag"},
		{[]string{"check", "--json", "--sarif", "--mirror", up.URL}, "not both"},
		{[]string{"check", "--mirror", up.URL, "--policy", pol, proj}, "not both"},
		{[]string{"check", "--policy", pol, "--proxy", up.URL, "testdata-missing"}, "no such file"},
		{[]string{"check", "--policy", pol, "--proxy", up.URL, t.TempDir()}, "go.mod"},
		{[]string{"check", "--policy", pol, "--proxy", up.URL, "a", "b"}, "at most one"},
		{[]string{"check", "--mirror", "ftp://x", proj}, "http or https"},
		{[]string{"check", "--token-file", "/nonexistent/token", "--mirror", up.URL, proj}, "no such file"},
		{[]string{"explain", "--mirror", up.URL, "example.com/hello"}, "module@version"},
		{[]string{"explain", "--mirror", up.URL}, "one module@version"},
		{[]string{"explain", "--policy", pol, "--proxy", up.URL, "example.com/hello@v1.0.0"}, pol + ":3"},
		// No --mirror, and go env GOPROXY (off here) names no URL.
		{[]string{"check", proj}, "give --mirror URL or --policy FILE"},
		// A mirror without the endpoint (a plain proxy): could not check.
		{[]string{"explain", "--mirror", up.URL, "example.com/hello@v1.0.0"}, "policy check endpoint"},
	} {
		stdout, stderr, code := runPolicyCmd(t, tc.args...)
		if code != policycheck.ExitUnchecked || !strings.Contains(stderr, tc.want) {
			t.Errorf("policy %q: exit %d, want 2 with %q\nstdout:\n%s\nstderr:\n%s", tc.args, code, tc.want, stdout, stderr)
		}
	}
}

// TestPolicyDefaultMirror: without --mirror, the first URL of go env
// GOPROXY is asked, but the token is not sent to it (it may be any proxy,
// a public one included): a note on standard error says so. Named with
// --mirror, the mirror gets it.
func TestPolicyDefaultMirror(t *testing.T) {
	up := fakeproxy.New(t)
	var asked atomic.Value
	asked.Store("")
	up.SetHook(func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path == "/api/v1/policy/check" {
			asked.Store(r.Method + " " + r.Header.Get("Authorization"))
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"decisions": [{"module": "example.com/hello", "version": "v1.0.0", "allowed": true, "rule": "default", "reason": "ok"}]}`)
			return true
		}
		return false
	})
	for _, tt := range []struct {
		name      string
		args      []string
		wantAsked string
		wantNote  bool
	}{
		{"from GOPROXY", nil, "POST ", true},
		{"named", []string{"--mirror", up.URL}, "POST Bearer gm_secret", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			asked.Store("")
			t.Setenv("GOPROXY", up.URL+",direct")
			t.Setenv("GOPATH", filepath.Join(t.TempDir(), "gopath"))
			t.Setenv("GOENV", "off")
			t.Setenv(policycheck.TokenEnv, "gm_secret")
			stdout, stderr, err := testutil.RunCommand(t, newPolicy(), nil, append([]string{"explain", "example.com/hello@v1.0.0"}, tt.args...)...)
			if err != nil || asked.Load() != tt.wantAsked || !strings.HasPrefix(stdout, "example.com/hello@v1.0.0: allowed by default") {
				t.Errorf("asked %q, want %q, err %v\nstdout:\n%s\nstderr:\n%s", asked.Load(), tt.wantAsked, err, stdout, stderr)
			}
			if got := strings.Contains(stderr, "the token is not sent"); got != tt.wantNote {
				t.Errorf("note on stderr: %v, want %v\n%s", got, tt.wantNote, stderr)
			}
			if strings.Contains(stdout+stderr, "gm_secret") {
				t.Errorf("the token was printed")
			}
		})
	}
}

// TestPolicyTokenOnlyToNamedHosts: with --policy, the token goes to the
// proxy named with --proxy and the vulnerability database only if it has
// that proxy's origin; never to a proxy taken from go env GOPROXY; and
// never over plain http to a host other than loopback.
func TestPolicyTokenOnlyToNamedHosts(t *testing.T) {
	up := fakeproxy.New(t)
	if _, err := up.Add("example.com/hello", "v1.0.0", map[string][]byte{"go.mod": []byte("module example.com/hello\n"), "hello.go": []byte("package hello\n")}); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var seen []string // "host path bearer?"
	record := func(who string) func(w http.ResponseWriter, r *http.Request) bool {
		return func(w http.ResponseWriter, r *http.Request) bool {
			mu.Lock()
			seen = append(seen, fmt.Sprintf("%s %s auth=%v", who, r.URL.Path, r.Header.Get("Authorization") != ""))
			mu.Unlock()
			return false
		}
	}
	up.SetHook(record("proxy"))
	other := fakeproxy.New(t) // another origin, serving a vulnerability database of nothing
	other.SetHook(func(w http.ResponseWriter, r *http.Request) bool {
		record("vulndb")(w, r)
		if strings.HasSuffix(r.URL.Path, "/index/modules.json") {
			io.WriteString(w, "[]")
		} else {
			http.NotFound(w, r)
		}
		return true
	})
	pol := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(pol, []byte("rules:\n  - module: example.com/hello\n    deny-vulnerable: true\n    deny-retracted: true\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	authed := func(who string) (n, with int) {
		mu.Lock()
		defer mu.Unlock()
		for _, s := range seen {
			if strings.HasPrefix(s, who+" ") {
				n++
				if strings.HasSuffix(s, "auth=true") {
					with++
				}
			}
		}
		return n, with
	}
	for _, tt := range []struct {
		name             string
		goproxy          string
		args             []string
		proxyAuth, vAuth bool
	}{
		{"proxy from GOPROXY", up.URL + ",direct", []string{"--vulndb", other.URL}, false, false},
		{"proxy named, vulndb elsewhere", "off", []string{"--proxy", up.URL, "--vulndb", other.URL}, true, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			mu.Lock()
			seen = nil
			mu.Unlock()
			t.Setenv("GOPROXY", tt.goproxy)
			t.Setenv("GOPATH", filepath.Join(t.TempDir(), "gopath"))
			t.Setenv("GOENV", "off")
			t.Setenv(policycheck.TokenEnv, "gm_secret")
			stdout, stderr, err := testutil.RunCommand(t, newPolicy(), nil, append([]string{"explain", "example.com/hello@v1.0.0", "--policy", pol}, tt.args...)...)
			stderr = fmt.Sprint(stdout, stderr, err)
			if n, with := authed("proxy"); n == 0 || (with == n) != tt.proxyAuth || (with == 0) == tt.proxyAuth {
				t.Errorf("proxy: %d requests, %d with the token; want token %v\n%s", n, with, tt.proxyAuth, stderr)
			}
			if n, with := authed("vulndb"); n == 0 || with != 0 {
				t.Errorf("vulndb (another origin): %d requests, %d with the token\n%s", n, with, stderr)
			}
		})
	}
	t.Run("plain http elsewhere", func(t *testing.T) {
		_, stderr, code := runPolicyCmdToken(t, "gm_secret", "explain", "example.com/hello@v1.0.0", "--mirror", "http://mirror.example.invalid")
		if code != 2 || !strings.Contains(stderr, "refusing to send the token over plain http") {
			t.Errorf("exit %d, want 2 with a refusal\n%s", code, stderr)
		}
	})
}

// TestPolicyCheckIncompleteMachineOutput: with --json or --sarif, a check
// that is incomplete, or that cannot be done at all, still prints a valid
// document on standard output saying so (SARIF: the invocation did not
// succeed, with a notification naming the reason) and the reason on
// standard error, so that a CI log and an uploaded SARIF file explain the
// exit status 2.
func TestPolicyCheckIncompleteMachineOutput(t *testing.T) {
	up := fakeproxy.New(t)
	pol := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(pol, []byte(localPolicy), 0o644); err != nil {
		t.Fatal(err)
	}
	proj := project(t, up, "v1.1.0")
	// Incomplete: the build list cannot be resolved (go.mod requires a
	// version the proxy does not have).
	broken := t.TempDir()
	if err := os.WriteFile(filepath.Join(broken, "go.mod"), []byte("module example.com/app\n\ngo 1.21\n\nrequire example.com/hello v1.1.9\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, reason string
		args         []string
	}{
		{"incomplete", "could not be resolved", []string{"--policy", pol, "--proxy", up.URL, broken}},
		// A plain proxy has no policy check endpoint: nothing decided.
		{"fatal", "policy check endpoint", []string{"--mirror", up.URL, proj}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			stdout, stderr, code := runPolicyCmd(t, append([]string{"check", "--sarif"}, tt.args...)...)
			if code != policycheck.ExitUnchecked || !strings.Contains(stderr, tt.reason) {
				t.Errorf("--sarif: exit %d, want 2 with %q on stderr\nstderr:\n%s", code, tt.reason, stderr)
			}
			var log struct {
				Version string
				Runs    []struct {
					Invocations []struct {
						ExecutionSuccessful        *bool
						ToolExecutionNotifications []struct {
							Level   string
							Message struct{ Text string }
						}
					}
				}
			}
			if err := json.Unmarshal([]byte(stdout), &log); err != nil || log.Version != "2.1.0" || len(log.Runs) != 1 {
				t.Fatalf("--sarif: not a SARIF log (%v):\n%s", err, stdout)
			}
			inv := log.Runs[0].Invocations
			if len(inv) != 1 || inv[0].ExecutionSuccessful == nil || *inv[0].ExecutionSuccessful ||
				len(inv[0].ToolExecutionNotifications) == 0 || !strings.Contains(inv[0].ToolExecutionNotifications[0].Message.Text, tt.reason) {
				t.Errorf("--sarif: invocations %+v, want one not successful naming %q", inv, tt.reason)
			}

			stdout, stderr, code = runPolicyCmd(t, append([]string{"check", "--json"}, tt.args...)...)
			var rep struct {
				ExitCode   int
				Incomplete []string
			}
			if err := json.Unmarshal([]byte(stdout), &rep); err != nil || code != 2 || rep.ExitCode != 2 ||
				len(rep.Incomplete) == 0 || !strings.Contains(strings.Join(rep.Incomplete, "\n"), tt.reason) || !strings.Contains(stderr, tt.reason) {
				t.Errorf("--json: exit %d, report %+v (%v), want 2 naming %q on stdout and stderr\nstdout:\n%s\nstderr:\n%s", code, rep, err, tt.reason, stdout, stderr)
			}
		})
	}
}

// TestPolicyCheckWorkspace: a project used through a workspace (a go.work
// above it, as the go command finds it) is checked with the workspace's
// replacements and go.work.sum: a go.work replace to a refused version is
// a violation (exit 1), and the report says the build list was resolved
// without the workspace; a clean workspace is incomplete (exit 2), not
// clean.
func TestPolicyCheckWorkspace(t *testing.T) {
	up := fakeproxy.New(t)
	pol := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(pol, []byte(localPolicy), 0o644); err != nil {
		t.Fatal(err)
	}
	app := project(t, up, "v1.1.0")
	work := filepath.Join(filepath.Dir(app), "go.work")
	for _, tt := range []struct {
		name    string
		replace string
		code    int
		want    string
	}{
		{"replaced to a refused version", "replace example.com/hello v1.1.0 => example.com/hello v1.2.0\n", policycheck.ExitViolation, "go.work:4: example.com/hello@v1.2.0: refused by rule \"no-hello-1.2\""},
		{"no violation", "", policycheck.ExitUnchecked, "workspace"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if err := os.WriteFile(work, []byte("go 1.21\n\nuse ./"+filepath.Base(app)+"\n"+tt.replace), 0o644); err != nil {
				t.Fatal(err)
			}
			defer os.Remove(work)
			stdout, stderr, code := runPolicyCmd(t, "check", "--policy", pol, "--proxy", up.URL, app)
			if code != tt.code || !strings.Contains(stdout, tt.want) {
				t.Errorf("exit %d, want %d with %q\nstdout:\n%s\nstderr:\n%s", code, tt.code, tt.want, stdout, stderr)
			}
		})
	}
}

// TestPolicyCheckChinese: under LANG=zh_CN.UTF-8, policy check and policy
// explain speak Chinese to people (the report, the progress line, an
// argument error), while --json stays English and the policy's own data
// (rule names, reasons, files) stays as it is.
func TestPolicyCheckChinese(t *testing.T) {
	up := fakeproxy.New(t)
	pol := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(pol, []byte(localPolicy), 0o644); err != nil {
		t.Fatal(err)
	}
	clean := project(t, up, "v1.1.0")
	bad := project(t, up, "v1.2.0")
	t.Setenv("LC_ALL", "")
	t.Setenv("LC_MESSAGES", "")
	t.Setenv("LANG", "zh_CN.UTF-8")
	zh := i18n.NewPrinter(i18n.Supported[1])
	run := func(args ...string) (stdout, stderr string, code int) {
		t.Helper()
		t.Setenv("GOPROXY", "off")
		t.Setenv("GOPATH", filepath.Join(t.TempDir(), "gopath"))
		t.Setenv("GOENV", "off")
		t.Setenv(policycheck.TokenEnv, "")
		stdout, stderr, err := testutil.RunCommand(t, newPolicy(), nil, args...)
		code, msg := exitStatus(err, zh)
		return stdout, stderr + msg, code
	}

	stdout, stderr, code := run("check", "--policy", pol, "--proxy", up.URL, clean)
	if code != policycheck.ExitClean {
		t.Errorf("clean project: exit %d\n%s%s", code, stdout, stderr)
	}
	for _, want := range []string{
		`警告：example.com/dep@v1.0.0：被规则 "dep-warn"（policy.yaml:`,
		"）拒绝（warn 模式）：",
		"个模块版本：0 个违规，1 个警告，0 个未检查\n",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("clean project, zh output lacks %q:\n%s", want, stdout)
		}
	}
	if !strings.Contains(stderr, "正在检查 ") || !strings.Contains(stderr, "（依据：策略文件 "+pol+"）") {
		t.Errorf("clean project, zh progress line:\n%s", stderr)
	}

	stdout, stderr, code = run("check", "--policy", pol, "--proxy", up.URL, bad)
	if code != policycheck.ExitViolation || !strings.Contains(stdout, `go.mod:5: example.com/hello@v1.2.0：被规则 "no-hello-1.2"（policy.yaml:3）拒绝：禁止使用 >=1.2.0 范围内的版本`) ||
		!strings.Contains(stdout, "1 个违规") {
		t.Errorf("violation, zh: exit %d\n%s%s", code, stdout, stderr)
	}

	// Machines read JSON: English whatever the locale.
	stdout, stderr, code = run("check", "--json", "--policy", pol, "--proxy", up.URL, bad)
	if code != policycheck.ExitViolation || strings.ContainsFunc(stdout, isHan) || !strings.Contains(stdout, `"rule": "no-hello-1.2"`) {
		t.Errorf("--json under zh: exit %d\n%s%s", code, stdout, stderr)
	}

	stdout, stderr, code = run("explain", "--policy", pol, "--proxy", up.URL, "example.com/hello@v1.2.0")
	if want := "example.com/hello@v1.2.0：被规则 \"no-hello-1.2\"（policy.yaml:3）拒绝\n  原因：禁止使用 >=1.2.0 范围内的版本\n  检查：没有需要查询模块信息（发布时间、撤回、许可证、漏洞）的检查\n"; code != policycheck.ExitViolation || stdout != want {
		t.Errorf("explain, zh: exit %d\n%s%s\nwant\n%s", code, stdout, stderr, want)
	}

	// The policy engine's reasons and facts, built in this process, in
	// Chinese; the rule's checks in order.
	lic := filepath.Join(t.TempDir(), "lic.yaml")
	if err := os.WriteFile(lic, []byte("rules:\n  - name: lic\n    module: example.com/hello\n    min-age: 1\n    licenses: [Apache-2.0]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, code = run("explain", "--policy", lic, "--proxy", up.URL, "example.com/hello@v1.1.0")
	if want := "example.com/hello@v1.1.0：被规则 \"lic\"（lic.yaml:2）拒绝\n" +
		"  原因：未找到许可证；允许的许可证：Apache-2.0\n" +
		"  检查（按顺序；第一个未通过的检查决定结果）：\n" +
		"    min-age：发布于 2024-01-02T03:04:05Z：通过\n" +
		"    licenses：未找到许可证：未通过（未找到许可证；允许的许可证：Apache-2.0）\n"; code != policycheck.ExitViolation || stdout != want {
		t.Errorf("explain lic, zh: exit %d\n%s%s\nwant\n%s", code, stdout, stderr, want)
	}
	stdout, stderr, code = run("check", "--policy", lic, "--proxy", up.URL, clean)
	if want := "：被规则 \"lic\"（lic.yaml:2）拒绝：未找到许可证；允许的许可证：Apache-2.0\n"; code != policycheck.ExitViolation || !strings.Contains(stdout, want) {
		t.Errorf("check lic, zh: exit %d, want %q in\n%s%s", code, want, stdout, stderr)
	}

	// The client's own words inside an error, in Chinese too.
	_, stderr, code = run("explain", "--policy", pol, "--proxy", up.URL, "example.com/hello@latest")
	if code != policycheck.ExitUnchecked || !strings.Contains(stderr, `"example.com/hello@latest"：不是规范版本：请给出规范版本`) {
		t.Errorf("explain @latest, zh: exit %d, %q", code, stderr)
	}
	_, stderr, code = run("explain", "--mirror", up.URL, "example.com/hello@v1.1.0")
	if code != policycheck.ExitUnchecked || !strings.Contains(stderr, "（它是否是配置了策略、提供策略检查端点的 gomirror？）") {
		t.Errorf("explain --mirror fakeproxy, zh: exit %d, %q", code, stderr)
	}

	// An argument error, as main prints it.
	_, stderr, code = run("check", "--policy", pol, "--proxy", up.URL, "a", "b")
	if code != policycheck.ExitUnchecked || !strings.Contains(stderr, "最多给出一个目录、go.mod 或 go.sum") {
		t.Errorf("two arguments, zh: exit %d, %q", code, stderr)
	}
	_, stderr, code = run("check", "--mirror", "ftp://x", clean)
	if code != policycheck.ExitUnchecked || !strings.Contains(stderr, `--mirror "ftp://x"：应为 http 或 https URL`) {
		t.Errorf("--mirror ftp://x, zh: exit %d, %q", code, stderr)
	}
}

// isHan reports whether r is a CJK ideograph or CJK or fullwidth
// punctuation.
func isHan(r rune) bool {
	return r >= 0x4e00 && r <= 0x9fff || r >= 0xff00 && r <= 0xffef || r >= 0x3000 && r <= 0x303f
}
