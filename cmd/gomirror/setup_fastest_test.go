package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gomirror/gomirror/client/setup"
	"github.com/gomirror/gomirror/i18n"
	"github.com/gomirror/gomirror/internal/fakeproxy"
	"github.com/gomirror/gomirror/internal/gocmd"
	"github.com/gomirror/gomirror/internal/testutil"
)

// goEnvOf is what the real go command reports for keys, in the test's
// environment (its GOENV file).
func goEnvOf(t *testing.T, keys ...string) map[string]string {
	t.Helper()
	env, err := gocmd.Env(context.Background(), gocmd.Cmd{}, keys...)
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// threeMirrors starts a fast, a slow (every answer delayed) and a broken
// (every module request 502) loopback mirror and writes a catalogue of
// them, the broken one first and the fast one last.
func threeMirrors(t *testing.T) (fast, slow *fakeproxy.Server, catalogue string) {
	fast = fakeproxy.New(t)
	slow = fakeproxy.NewMirror(t, fast)
	slow.Inject(fakeproxy.Modules, fakeproxy.Slow(50*time.Millisecond))
	broken := fakeproxy.NewMirror(t, fast)
	broken.Inject(fakeproxy.Modules, fakeproxy.Status(http.StatusBadGateway, "upstream broke"))
	catalogue = writeCatalogue(t, [2]string{"broken", broken.URL}, [2]string{"slow", slow.URL}, [2]string{"fast", fast.URL})
	return fast, slow, catalogue
}

const fastestModules = "--modules=example.com/hello@v1.1.0,example.com/dep@v1.0.0"

// TestSetupFastest: --fastest --yes measures the three mirrors and writes
// GOPROXY=fast,slow,direct with the go command; --undo puts back the
// original file.
func TestSetupFastest(t *testing.T) {
	initial := "GOPROXY=http://127.0.0.1:1/old\n"
	goenv := setupSandbox(t, &initial)
	fast, slow, cat := threeMirrors(t)

	stdout, stderr, err := runSetup(t, "--fastest", "--yes", "--catalogue", cat, fastestModules, "--samples=2")
	t.Logf("stdout:\n%s\nstderr:\n%s", stdout, stderr)
	if err != nil {
		t.Fatal(err)
	}
	want := fast.URL + "," + slow.URL + ",direct"
	if got := goEnvOf(t, "GOPROXY")["GOPROXY"]; got != want {
		t.Errorf("go env GOPROXY = %q, want %q", got, want)
	}
	for _, s := range []string{"fast mirror", "broken mirror", "0%", "Setting: GOPROXY=" + want, "does not proxy the checksum database"} {
		if !strings.Contains(stdout, s) {
			t.Errorf("stdout lacks %q", s)
		}
	}
	if !strings.Contains(stderr, "GOPROXY="+want+" written to "+goenv) {
		t.Errorf("stderr lacks the written line")
	}
	if _, _, err := runSetup(t, "--undo"); err != nil {
		t.Fatal(err)
	}
	if got := readFileOr(t, goenv); got != initial {
		t.Errorf("after --undo, GOENV file = %q, want %q", got, initial)
	}
}

// TestSetupFastestNeedsATerminalOrYes: without a terminal and without
// --yes, --fastest refuses before measuring anything (no mirror gets a
// request), whatever stdin holds.
func TestSetupFastestNeedsATerminalOrYes(t *testing.T) {
	initial := "GOPROXY=http://127.0.0.1:1/old\n"
	goenv := setupSandbox(t, &initial)
	fast, slow, cat := threeMirrors(t)
	stdout, _, err := testutil.RunCommand(t, newRoot(), strings.NewReader("y\n"), "setup", "--fastest", "--catalogue", cat, fastestModules)
	if err == nil || !strings.Contains(err.Error(), "no terminal to confirm on: run again with --yes") || !strings.Contains(err.Error(), "nothing measured, nothing changed") {
		t.Errorf("err = %v", err)
	}
	if stdout != "" || len(fast.Requests()) != 0 || len(slow.Requests()) != 0 {
		t.Errorf("measured before refusing: stdout %q, %d and %d requests", stdout, len(fast.Requests()), len(slow.Requests()))
	}
	if got := readFileOr(t, goenv); got != initial {
		t.Errorf("GOENV file = %q, want it unchanged", got)
	}
	if got := readFileOr(t, filepath.Join(filepath.Dir(goenv), setup.StateFileName)); got != "<none>" {
		t.Errorf("state file written: %q", got)
	}
	// None of the mirrors answering is an error that changes nothing.
	fast.Close()
	slow.Close()
	if _, _, err := runSetup(t, "--fastest", "--yes", "--catalogue", cat, fastestModules, "--timeout=2s"); err == nil || !strings.Contains(err.Error(), "no mirror of the catalogue answered every request; nothing changed") {
		t.Errorf("err = %v", err)
	}
	if got := readFileOr(t, goenv); got != initial {
		t.Errorf("GOENV file = %q, want it unchanged", got)
	}
}

// runSetupOnTerminal runs `gomirror setup args...` as if its standard
// input, holding input, were a terminal.
func runSetupOnTerminal(t *testing.T, input string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	root := newRoot()
	if c, _, err := root.Find([]string{"setup"}); err == nil {
		root.RemoveCommand(c)
	}
	root.AddCommand(newSetupWith(func(any) bool { return true }))
	return testutil.RunCommand(t, root, strings.NewReader(input), append([]string{"setup"}, args...)...)
}

// TestSetupFastestAsksOnTheTerminal: on a terminal, --fastest shows the
// table and asks; y (or yes, 是) sets GOPROXY, n, an empty line and end of
// input change nothing.
func TestSetupFastestAsksOnTheTerminal(t *testing.T) {
	initial := "GOPROXY=http://127.0.0.1:1/old\n"
	goenv := setupSandbox(t, &initial)
	fast, slow, cat := threeMirrors(t)
	want := fast.URL + "," + slow.URL + ",direct"
	for _, tc := range []struct {
		input string
		set   bool
	}{{"n\n", false}, {"\n", false}, {"", false}, {"y\n", true}} {
		stdout, stderr, err := runSetupOnTerminal(t, tc.input, "--fastest", "--catalogue", cat, fastestModules)
		if err != nil {
			t.Fatalf("input %q: %v\n%s", tc.input, err, stderr)
		}
		if !strings.Contains(stdout, "fast mirror") || !strings.Contains(stderr, "Set GOPROXY="+want+"? [y/N] ") {
			t.Errorf("input %q: no table or no question:\n%s\n%s", tc.input, stdout, stderr)
		}
		got := readFileOr(t, goenv)
		switch {
		case tc.set && !strings.Contains(got, "GOPROXY="+want):
			t.Errorf("input %q: GOENV file = %q, want GOPROXY=%s", tc.input, got, want)
		case !tc.set && (got != initial || !strings.Contains(stderr, "Nothing changed.")):
			t.Errorf("input %q: GOENV file = %q (want it unchanged), stderr %q", tc.input, got, stderr)
		}
	}
}

func TestConfirm(t *testing.T) {
	for in, want := range map[string]bool{"y\n": true, "YES\n": true, "是\n": true, "\n": false, "": false, "n\n": false, "yes please\n": false} {
		var q strings.Builder
		got, err := confirm(strings.NewReader(in), &q, "Set? [y/N] ")
		if err != nil || got != want || q.String() != "Set? [y/N] " {
			t.Errorf("confirm(%q) = %v, %v (asked %q); want %v", in, got, err, q.String(), want)
		}
	}
}

// TestSetupFastestZh: under a Chinese locale the table, the GOSUMDB note,
// the question and the refusal without a terminal are Chinese.
func TestSetupFastestZh(t *testing.T) {
	setupSandbox(t, nil)
	_, _, cat := threeMirrors(t)
	zhLocale(t)
	_, _, err := runSetup(t, "--fastest", "--catalogue", cat, fastestModules)
	zh := i18n.NewPrinter(i18n.Supported[1])
	if err == nil || !strings.Contains(zh.Error(err), "没有可以确认的终端") {
		t.Errorf("err = %v", err)
	}
	stdout, stderr, err := runSetupOnTerminal(t, "n\n", "--fastest", "--catalogue", cat, fastestModules)
	t.Logf("stdout:\n%s\nstderr:\n%s", stdout, stderr)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"名称", "成功率", "fast 镜像", "推荐：", "将设置：GOPROXY=", "不代理校验和数据库"} {
		if !strings.Contains(stdout, s) {
			t.Errorf("stdout lacks %q", s)
		}
	}
	if !strings.Contains(stderr, "正在测量镜像目录中的") || !strings.Contains(stderr, "[y/N]") || !strings.Contains(stderr, "未做任何修改") {
		t.Errorf("stderr = %q", stderr)
	}
}

// TestSetupProfiles: save office (a company mirror with private patterns)
// and home (a public mirror), switch between them, list them, and undo
// back to the original.
func TestSetupProfiles(t *testing.T) {
	initial := "GOPROXY=http://127.0.0.1:1/old\nGONOSUMDB=old.example\n"
	goenv := setupSandbox(t, &initial)
	srv := fakeProxy(t)
	office, home := srv.URL+"/office", srv.URL+"/home"
	keys := []string{"GOPROXY", "GOPRIVATE", "GONOSUMDB"}
	check := func(step string, want ...string) {
		t.Helper()
		env := goEnvOf(t, keys...)
		for i, k := range keys {
			if env[k] != want[i] {
				t.Errorf("%s: %s = %q, want %q", step, k, env[k], want[i])
			}
		}
	}
	run := func(args ...string) string {
		t.Helper()
		stdout, stderr, err := runSetup(t, args...)
		if err != nil {
			t.Fatalf("setup %q: %v\n%s", args, err, stderr)
		}
		return stdout + stderr
	}

	out := run("--profile", "office", office, "--private", "corp.example/*", "--nosumdb", "corp.example/*")
	if !strings.Contains(out, "Profile office saved") || !strings.Contains(out, "Switched to profile office") {
		t.Errorf("output:\n%s", out)
	}
	check("office", office, "corp.example/*", "corp.example/*")
	out = run("--profile", "home", home)
	check("home", home, "", "old.example") // GOPRIVATE unset again, GONOSUMDB back to the file's
	if !strings.Contains(out, `GOPRIVATE put back to its value from before the first setup (now "")`) || !strings.Contains(out, `GONOSUMDB put back to its value from before the first setup (now "old.example")`) {
		t.Errorf("the switch does not say what it reset:\n%s", out)
	}
	run("--profile", "office")
	check("office again", office, "corp.example/*", "corp.example/*")

	list := run("--list")
	lines := strings.Split(strings.TrimSpace(list), "\n")
	if len(lines) != 3 || lines[1] != "   home     GOPROXY="+home || lines[2] != "*  office   GOPROXY="+office+" GOPRIVATE=corp.example/* GONOSUMDB=corp.example/*" {
		t.Errorf("--list:\n%s", list)
	}
	path := setup.ProfilesPath(goenv)
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("profiles file: %v, %v", fi, err)
	}

	if _, _, err := runSetup(t, "--profile", "nosuch"); err == nil || !strings.Contains(err.Error(), "no profile nosuch (create it with: gomirror setup --profile nosuch URL)") {
		t.Errorf("unknown profile: %v", err)
	}
	if _, _, err := runSetup(t, "--profile", "office", "--private", "x"); err == nil || !strings.Contains(err.Error(), "--private goes with a URL") {
		t.Errorf("--private without URL: %v", err)
	}
	if _, _, err := runSetup(t, "--profile", "../x", home); err == nil || !strings.Contains(err.Error(), `profile name "../x"`) {
		t.Errorf("bad name: %v", err)
	}

	run("--undo")
	// The same settings as before (go env -w may have moved a line).
	if got, _, err := setup.ReadEnvFile(goenv); err != nil || len(got) != 2 || got["GOPROXY"] != "http://127.0.0.1:1/old" || got["GONOSUMDB"] != "old.example" {
		t.Errorf("after --undo, GOENV file = %q (%v), want the settings of %q", readFileOr(t, goenv), err, initial)
	}
	// The profiles stay, none active; in Chinese with --lang zh.
	stdout, _, err := testutil.RunCommand(t, newRoot(), nil, "--lang", "zh", "setup", "--list")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout, "配置方案") || strings.Contains(stdout, "\n*") || !strings.Contains(stdout, "office") {
		t.Errorf("--list after undo:\n%s", stdout)
	}
}

// TestConcurrentSetupsKeepEveryProfileAndTheOriginal: setups run at the
// same time (profiles saved and plain setups) keep every profile and save
// the settings from before the first of them, so --undo restores those.
func TestConcurrentSetupsKeepEveryProfileAndTheOriginal(t *testing.T) {
	initial := "GOPROXY=http://127.0.0.1:1/old\n"
	goenv := setupSandbox(t, &initial)
	srv := fakeProxy(t)
	const n = 6
	errs := make(chan error, 2*n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(2)
		go func() {
			defer wg.Done()
			_, stderr, err := runSetup(t, "--profile", fmt.Sprintf("p%d", i), fmt.Sprintf("%s/p%d", srv.URL, i), "--no-check")
			if err == nil && strings.Contains(stderr, "overrides it") {
				err = fmt.Errorf("p%d: false override report: %s", i, stderr)
			}
			errs <- err
		}()
		go func() {
			defer wg.Done()
			_, _, err := runSetup(t, fmt.Sprintf("%s/x%d", srv.URL, i), "--no-check")
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	ps, err := setup.ReadProfiles(setup.ProfilesPath(goenv))
	if err != nil {
		t.Fatal(err)
	}
	if len(ps.Profiles) != n {
		t.Errorf("profiles kept: %v, want %d", ps.Names(), n)
	}
	state, err := setup.ReadState(setup.StatePath(goenv))
	if err != nil {
		t.Fatal(err)
	}
	if v := state.Vars["GOPROXY"]; !v.InFile || v.Value != "http://127.0.0.1:1/old" {
		t.Errorf("saved original GOPROXY = %+v, want the file's http://127.0.0.1:1/old", v)
	}
}

// TestCorruptProfilesFileNeverFailsAFinishedChange: with a profiles file
// that is not JSON, setup URL and --undo make their change, succeed and
// warn; --profile, which needs the file, refuses before changing anything.
func TestCorruptProfilesFileNeverFailsAFinishedChange(t *testing.T) {
	initial := "GOPROXY=http://127.0.0.1:1/old\n"
	goenv := setupSandbox(t, &initial)
	srv := fakeProxy(t)
	path := setup.ProfilesPath(goenv)
	if err := os.WriteFile(path, []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, stderr, err := runSetup(t, srv.URL+"/plain", "--no-check")
	if err != nil || !strings.Contains(stderr, "warning: profiles file") {
		t.Errorf("setup URL: %v\n%s", err, stderr)
	}
	if got := goEnvOf(t, "GOPROXY")["GOPROXY"]; got != srv.URL+"/plain" {
		t.Errorf("GOPROXY = %q", got)
	}
	if _, _, err := runSetup(t, "--profile", "p", srv.URL+"/p", "--no-check"); err == nil || !strings.Contains(err.Error(), "nothing changed") {
		t.Errorf("--profile with a corrupt file: %v", err)
	}
	if got := goEnvOf(t, "GOPROXY")["GOPROXY"]; got != srv.URL+"/plain" {
		t.Errorf("--profile changed GOPROXY to %q", got)
	}
	_, stderr, err = runSetup(t, "--undo")
	if err != nil || !strings.Contains(stderr, "warning: profiles file") {
		t.Errorf("--undo: %v\n%s", err, stderr)
	}
	if got := readFileOr(t, goenv); got != initial {
		t.Errorf("after --undo, GOENV file = %q", got)
	}
	if got := readFileOr(t, path); got != "{" {
		t.Errorf("profiles file changed to %q", got)
	}
}

// TestSetupFastestRefusesGOENVDirectoryBeforeMeasuring: a GOENV naming a
// directory is refused before any mirror is asked, with a hint that fits.
func TestSetupFastestRefusesGOENVDirectoryBeforeMeasuring(t *testing.T) {
	setupSandbox(t, nil)
	dir := t.TempDir()
	t.Setenv("GOENV", dir)
	fast, _, cat := threeMirrors(t)
	_, _, err := runSetup(t, "--fastest", "--yes", "--catalogue", cat, fastestModules)
	if err == nil || !strings.Contains(err.Error(), "is not a regular file") {
		t.Errorf("err = %v", err)
	}
	if n := len(fast.Requests()); n != 0 {
		t.Errorf("%d requests before refusing", n)
	}
	t.Setenv("GOENV", "off")
	if _, _, err := runSetup(t, "--fastest", "--yes", "--catalogue", cat, fastestModules); err == nil || !strings.Contains(err.Error(), "unset GOENV or point it at a file") {
		t.Errorf("GOENV=off: %v", err)
	}
}

// TestSetupAndBenchHelpZh: under a Chinese locale, setup --help and bench
// --help print their Long texts and flag usages in Chinese.
func TestSetupAndBenchHelpZh(t *testing.T) {
	zhLocale(t)
	for cmd, want := range map[string][]string{
		"setup": {"配置方案是这些设置的命名集合", "与 --fastest 一起使用：不经询问直接设置 GOPROXY", "检查的时限（默认 10s）"},
		"bench": {"比较各 URL 处的模块镜像", "单个请求的时限"},
	} {
		out, _, err := testutil.RunCommand(t, newRoot(), nil, cmd, "--help")
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range want {
			if !strings.Contains(out, w) {
				t.Errorf("%s --help lacks %q:\n%s", cmd, w, out)
			}
		}
		if strings.Contains(out, ") (default") {
			t.Errorf("%s --help shows a default twice:\n%s", cmd, out)
		}
	}
}
