package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gomirror/gomirror/client/mirrorbench"
	"github.com/gomirror/gomirror/i18n"
	"github.com/gomirror/gomirror/internal/fakeproxy"
	"github.com/gomirror/gomirror/internal/testutil"
)

// runBench runs `gomirror bench args...` in process.
func runBench(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	return testutil.RunCommand(t, newBench(), nil, args...)
}

func benchMirrors(t *testing.T) (fast, slow *fakeproxy.Server) {
	fast = fakeproxy.New(t)
	slow = fakeproxy.NewMirror(t, fast)
	slow.Inject(fakeproxy.Modules, fakeproxy.Slow(50*time.Millisecond))
	return fast, slow
}

const benchModules = "--modules=example.com/hello@v1.1.0,example.com/dep@v1.0.0"

func TestBenchTable(t *testing.T) {
	fast, slow := benchMirrors(t)
	out, errOut, err := runBench(t, benchModules, "--samples=2", slow.URL, fast.URL+"/")
	t.Logf("stdout:\n%s\nstderr:\n%s", out, errOut)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(out, "\n")
	if !strings.HasPrefix(lines[0], "MIRROR") || !strings.Contains(lines[0], "INFO p50/p95") || !strings.Contains(lines[0], "ZIP MB/s") {
		t.Errorf("header = %q", lines[0])
	}
	// The slow mirror's row shows info and mod medians of 50ms and more,
	// the fast one's less.
	p50 := func(cell string) float64 {
		v, err := strconv.ParseFloat(strings.TrimSuffix(strings.Split(cell, "/")[0], "ms"), 64)
		if err != nil {
			t.Fatalf("latency cell %q: %v", cell, err)
		}
		return v
	}
	slowRow, fastRow := strings.Fields(lines[1]), strings.Fields(lines[2])
	if len(slowRow) != 6 || len(fastRow) != 6 {
		t.Fatalf("rows = %q, %q", lines[1], lines[2])
	}
	if slowRow[0] != slow.URL || slowRow[1] != "100%" || fastRow[0] != fast.URL || fastRow[1] != "100%" {
		t.Errorf("rows = %q, %q", lines[1], lines[2])
	}
	for col := 3; col <= 4; col++ {
		if s, f := p50(slowRow[col]), p50(fastRow[col]); s < 50 || f >= s {
			t.Errorf("column %d: slow p50 %vms, fast %vms", col, s, f)
		}
	}
	if !strings.Contains(out, "Recommended: "+fast.URL+" (same success rate (100%) and lowest info+mod median latency") {
		t.Errorf("no recommendation of the fast mirror in:\n%s", out)
	}
	if !strings.Contains(errOut, "sample 2/2 done") {
		t.Errorf("stderr = %q", errOut)
	}
}

func TestBenchJSON(t *testing.T) {
	fast, slow := benchMirrors(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + l.Addr().String()
	l.Close()
	broken := fakeproxy.NewMirror(t, fast)
	broken.Inject(fakeproxy.Suffix(".zip"), fakeproxy.Status(http.StatusBadGateway, "bad gateway"))

	out, errOut, err := runBench(t, benchModules, "--samples=1", "--json", dead, broken.URL, slow.URL, fast.URL)
	if err != nil {
		t.Fatalf("%v\n%s", err, errOut)
	}
	var rep mirrorbench.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v in:\n%s", err, out)
	}
	t.Logf("%s", out)
	if rep.Best != fast.URL || rep.Samples != 1 || len(rep.Modules) != 2 || len(rep.Mirrors) != 4 {
		t.Errorf("report = %+v", rep)
	}
	pcts := []float64{0, 75, 100, 100}
	for i, m := range rep.Mirrors {
		if m.SuccessPct != pcts[i] {
			t.Errorf("%s: success %v%%, want %v%%", m.URL, m.SuccessPct, pcts[i])
		}
	}
	s, f := rep.Mirrors[2], rep.Mirrors[3]
	if s.Info.P50Ms < 50 || s.Mod.P50Ms < 50 || f.Info.P50Ms >= s.Info.P50Ms || f.Mod.P50Ms >= s.Mod.P50Ms {
		t.Errorf("info/mod p50: slow %v/%v ms, fast %v/%v ms", s.Info.P50Ms, s.Mod.P50Ms, f.Info.P50Ms, f.Mod.P50Ms)
	}
	if f.ZipMBps <= 0 || f.ZipBytes == 0 {
		t.Errorf("fast zip: %d bytes, %v MB/s", f.ZipBytes, f.ZipMBps)
	}
	// The raw JSON uses the documented keys.
	for _, k := range []string{`"success_pct"`, `"p50_ms"`, `"p95_ms"`, `"zip_mb_per_s"`, `"best"`, `"reason"`} {
		if !strings.Contains(out, k) {
			t.Errorf("JSON has no %s", k)
		}
	}
}

func TestBenchNoMirrorAnswers(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + l.Addr().String()
	l.Close()
	out, _, err := runBench(t, benchModules, "--samples=1", dead)
	if err == nil || !strings.Contains(err.Error(), "no mirror to recommend") {
		t.Errorf("err = %v", err)
	}
	if !strings.Contains(out, dead) || !strings.Contains(out, "0%") || !strings.Contains(out, "connection refused") {
		t.Errorf("stdout = %q", out)
	}
}

func TestBenchUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"--samples=0", "http://127.0.0.1:1"},
		{"--timeout=0s", "http://127.0.0.1:1"},
		{"--modules=example.com/hello", "http://127.0.0.1:1"},
		{"--modules=example.com/hello@v1", "http://127.0.0.1:1"},
		{"127.0.0.1:1"},
	} {
		if _, _, err := runBench(t, args...); err == nil {
			t.Errorf("bench %q succeeded", args)
		}
	}
}

// writeCatalogue writes a catalogue file of the loopback mirrors (id and
// URL; the official default disabled, so that nothing leaves the machine)
// and points the user's configuration directory at an empty one.
func writeCatalogue(t *testing.T, mirrors ...[2]string) string {
	t.Helper()
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	var b strings.Builder
	b.WriteString("mirrors:\n  - id: official\n    disabled: true\n")
	for _, m := range mirrors {
		fmt.Fprintf(&b, "  - id: %s\n    name: {en: %s mirror, zh: %s 镜像}\n    url: %s\n    operator: tests\n    sumdb: \"no\"\n", m[0], m[0], m[0], m[1])
	}
	p := filepath.Join(t.TempDir(), "catalogue.yaml")
	if err := os.WriteFile(p, []byte(b.String()), 0o666); err != nil {
		t.Fatal(err)
	}
	return p
}

// zhLocale makes the environment's locale Chinese (LANG), the way a
// Chinese desktop sets it.
func zhLocale(t *testing.T) {
	t.Setenv("LC_ALL", "")
	t.Setenv("LC_MESSAGES", "")
	t.Setenv("LANG", "zh_CN.UTF-8")
}

// TestBenchCatalogueZh: bench with no URL compares the catalogue's mirrors,
// named in the table, and under a Chinese locale prints Chinese.
func TestBenchCatalogueZh(t *testing.T) {
	fast, slow := benchMirrors(t)
	cat := writeCatalogue(t, [2]string{"slow", slow.URL}, [2]string{"fast", fast.URL})
	zhLocale(t)
	out, errOut, err := runBench(t, benchModules, "--samples=1", "--catalogue", cat)
	t.Logf("stdout:\n%s\nstderr:\n%s", out, errOut)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(out, "\n")
	if f := strings.Fields(lines[0]); len(f) < 3 || f[0] != "名称" || f[1] != "镜像" || f[2] != "成功率" {
		t.Errorf("header = %q", lines[0])
	}
	if !strings.HasPrefix(lines[1], "slow 镜像") || !strings.Contains(lines[1], slow.URL) || !strings.HasPrefix(lines[2], "fast 镜像") {
		t.Errorf("rows = %q", lines[1:3])
	}
	if !strings.Contains(out, "推荐："+fast.URL) || !strings.Contains(errOut, "正在测试 2 个镜像") {
		t.Errorf("no Chinese recommendation of the fast mirror")
	}
	// A URL and --catalogue together are a usage error, in Chinese too.
	_, _, err = testutil.RunCommand(t, newRoot(), nil, "bench", "--lang", "zh", "--catalogue", cat, fast.URL)
	if err == nil || !strings.Contains(i18n.NewPrinter(i18n.Supported[1]).Error(err), "--catalogue 只能在不给 URL 时使用") {
		t.Errorf("err = %v", err)
	}
	// A bad catalogue file is refused naming file and line.
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("mirrors:\n  - id: x\n    url: http://example.com\n"), 0o666)
	if _, _, err := runBench(t, "--catalogue", bad); err == nil || !strings.Contains(err.Error(), bad+", line 2: mirror x has no name.en") {
		t.Errorf("bad catalogue: %v", err)
	}
}

// TestBenchJSONSameInEveryLocale: bench --json of a catalogue carries each
// mirror's catalogue id and English name whatever the locale (machines
// read it); only the table shows the localized name.
func TestBenchJSONSameInEveryLocale(t *testing.T) {
	fast, slow := benchMirrors(t)
	cat := writeCatalogue(t, [2]string{"slow", slow.URL}, [2]string{"fast", fast.URL})
	type named struct {
		ID   string `json:"id"`
		Name string `json:"name"`
		URL  string `json:"url"`
	}
	decode := func(lang string) []named {
		t.Helper()
		out, _, err := testutil.RunCommand(t, newRoot(), nil, "bench", "--lang", lang, benchModules, "--samples=1", "--json", "--catalogue", cat)
		if err != nil {
			t.Fatal(err)
		}
		var rep struct{ Mirrors []named }
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatal(err)
		}
		return rep.Mirrors
	}
	en, zh := decode("en"), decode("zh")
	want := []named{{"slow", "slow mirror", slow.URL}, {"fast", "fast mirror", fast.URL}}
	if !slices.Equal(en, want) || !slices.Equal(zh, want) {
		t.Errorf("en %v, zh %v; want both %v", en, zh, want)
	}
}

// TestBenchTableWording: the summary line under the table has no "(s)"
// plural and, in Chinese, a failure line uses the full-width colon.
func TestBenchTableWording(t *testing.T) {
	fast, _ := benchMirrors(t)
	broken := fakeproxy.NewMirror(t, fast)
	broken.Inject(fakeproxy.Modules, fakeproxy.Status(502, "bad gateway"))
	out, _, _ := runBench(t, benchModules, "--samples=1", broken.URL, fast.URL)
	if strings.Contains(out, "(s)") || !strings.Contains(out, "samples: 1, module versions: 2") {
		t.Errorf("en summary:\n%s", out)
	}
	out, _, _ = testutil.RunCommand(t, newRoot(), nil, "bench", "--lang", "zh", benchModules, "--samples=1", broken.URL, fast.URL)
	if !strings.Contains(out, "采样轮数：1，模块版本数：2") || !strings.Contains(out, broken.URL+"：2× ") {
		t.Errorf("zh summary or failure line:\n%s", out)
	}
}

// TestBenchWithoutGoCommand: with no go command on PATH, bench leaves the
// official default out with a warning and measures the catalogue's other
// mirrors.
func TestBenchWithoutGoCommand(t *testing.T) {
	fast, _ := benchMirrors(t)
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	cat := filepath.Join(t.TempDir(), "catalogue.yaml")
	if err := os.WriteFile(cat, []byte("mirrors:\n  - id: fast\n    name: {en: fast mirror}\n    url: "+fast.URL+"\n    sumdb: \"no\"\n"), 0o666); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", t.TempDir())
	out, errOut, err := runBench(t, benchModules, "--samples=1", "--catalogue", cat)
	if err != nil || !strings.Contains(out, "Recommended: "+fast.URL) {
		t.Fatalf("err %v, out:\n%s", err, out)
	}
	if !strings.Contains(errOut, "warning: the official default is left out: there is no go command") {
		t.Errorf("no warning:\n%s", errOut)
	}
}
