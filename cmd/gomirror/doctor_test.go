package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/gomirror/gomirror/internal/testutil"
)

// runDoctor runs newDoctor() with args against a sandboxed go env (see
// setupSandbox) whose GOENV file holds goenvFile.
func runDoctor(t *testing.T, goenvFile string, args ...string) (stdout string, err error) {
	t.Helper()
	setupSandbox(t, &goenvFile)
	for _, k := range []string{"GOINSECURE", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy", "GOMODCACHE"} {
		t.Setenv(k, "")
	}
	stdout, _, err = testutil.RunCommand(t, newDoctor(), nil, args...)
	return stdout, err
}

func TestDoctorCommandGood(t *testing.T) {
	srv := fakeProxy(t)
	out, err := runDoctor(t, "GOPROXY="+srv.URL+",direct\n", "--json", "--timeout", "5s")
	if err != nil {
		t.Fatalf("doctor: %v\n%s", err, out)
	}
	var rep struct {
		Verdict string `json:"verdict"`
		Results []struct {
			Check, Target, Status, Problem string
		} `json:"results"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	found := false
	for _, r := range rep.Results {
		if r.Check == "proxy" && r.Target == srv.URL {
			found = true
			if r.Status != "ok" {
				t.Errorf("proxy %s: %s %s", r.Target, r.Status, r.Problem)
			}
		}
	}
	if !found || rep.Verdict == "fail" {
		t.Errorf("verdict %s, proxy found %v:\n%s", rep.Verdict, found, out)
	}
}

func TestDoctorCommandFails(t *testing.T) {
	out, err := runDoctor(t, "GOPROXY=off\n")
	if err == nil || !strings.Contains(err.Error(), "failed") {
		t.Errorf("err = %v, want a failure (exit 1)", err)
	}
	for _, want := range []string{"fail  goproxy off:", "nothing can be downloaded", "fix: ", "verdict: fail"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// TestDoctorCommandChinese: under a zh locale, or with --lang zh, doctor
// prints its results, fixes and verdict in Chinese; --json stays English.
func TestDoctorCommandChinese(t *testing.T) {
	t.Setenv("LC_ALL", "")
	t.Setenv("LC_MESSAGES", "")
	t.Setenv("LANG", "zh_CN.UTF-8")
	out, err := runDoctor(t, "GOPROXY=off\n")
	if err == nil {
		t.Errorf("err = nil, want a failure (exit 1)")
	}
	zh := []string{"失败  goproxy off: GOPROXY 以 \"off\" 结尾：什么都无法下载", "修复：", "结论：失败（", "正常  goflags: 未设置 GOFLAGS"}
	for _, want := range zh {
		if !strings.Contains(out, want) {
			t.Errorf("LANG=zh_CN.UTF-8: output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "nothing can be downloaded") || strings.Contains(out, "verdict:") {
		t.Errorf("English in the Chinese output:\n%s", out)
	}

	t.Setenv("LANG", "C")
	goenv := "GOPROXY=off\n"
	setupSandbox(t, &goenv)
	out, _, _ = testutil.RunCommand(t, newRoot(), nil, "--lang", "zh", "doctor")
	for _, want := range zh {
		if !strings.Contains(out, want) {
			t.Errorf("--lang zh: output lacks %q:\n%s", want, out)
		}
	}
	out, _, _ = testutil.RunCommand(t, newRoot(), nil, "--lang", "zh", "doctor", "--json")
	if !strings.Contains(out, "nothing can be downloaded") || strings.Contains(out, "什么都无法下载") {
		t.Errorf("--json is not English:\n%s", out)
	}
}
