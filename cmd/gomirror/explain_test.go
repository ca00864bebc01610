package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomirror/gomirror/client/explain"
	"github.com/gomirror/gomirror/i18n"
	"github.com/gomirror/gomirror/internal/testutil"
)

const explainInput = "go: downloading example.com/hello v1.0.0\n" +
	"go: example.com/hello@v1.0.0: reading http://127.0.0.1:3000/example.com/hello/@v/v1.0.0.info: 404 Not Found\n" +
	"\tserver response: not found\n" +
	"go: the moon is in the wrong phase\n"

func runExplain(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	out, _, err := testutil.RunCommand(t, newRoot(), strings.NewReader(stdin), append([]string{"explain"}, args...)...)
	return out, err
}

func TestExplainStdin(t *testing.T) {
	out, err := runExplain(t, explainInput)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"line 2:\n", "  not-found: ", "fix:", "line 4:\n", "unknown: no known cause", "errors: 2 (explained: 1, unknown: 1)"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "downloading") {
		t.Errorf("progress line reported:\n%s", out)
	}
}

func TestExplainFileJSON(t *testing.T) {
	file := filepath.Join(t.TempDir(), "out.txt")
	if err := os.WriteFile(file, []byte(explainInput), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := runExplain(t, "", "--json", file)
	if err != nil {
		t.Fatal(err)
	}
	var r struct {
		Errors []struct {
			Line  int      `json:"line"`
			Lines []string `json:"lines"`
			ID    string   `json:"id"`
		} `json:"errors"`
		Known   int `json:"known"`
		Unknown int `json:"unknown"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	if len(r.Errors) != 2 || r.Errors[0].ID != "not-found" || len(r.Errors[0].Lines) != 2 || r.Errors[1].ID != "unknown" || r.Known != 1 || r.Unknown != 1 {
		t.Errorf("report: %s", out)
	}
}

func TestExplainUsage(t *testing.T) {
	if _, err := runExplain(t, "", "a", "b"); err == nil {
		t.Error("two arguments accepted")
	}
	if _, err := runExplain(t, "", filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("missing file accepted")
	}
}

// TestExplainChinese: under a zh locale, or with --lang zh, explain's
// report and --list table are in Chinese; --json stays English.
func TestExplainChinese(t *testing.T) {
	t.Setenv("COLUMNS", "")
	t.Setenv("LC_ALL", "")
	t.Setenv("LC_MESSAGES", "")
	t.Setenv("LANG", "zh_CN.UTF-8")
	out, err := runExplain(t, explainInput)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"第 2 行：\n", "  not-found: 找不到模块或版本\n", "  原因：代理上没有这个模块或版本", "  修复：检查模块路径和版本", "  未知：原因未知\n", "错误：2 个（已解释：1，未知：1）"} {
		if !strings.Contains(out, want) {
			t.Errorf("LANG=zh_CN.UTF-8: output lacks %q:\n%s", want, out)
		}
	}
	out, err = runExplain(t, "", "--list")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	for _, l := range lines {
		if i18n.Width(l) > 100 {
			t.Errorf("zh line wider than 100 columns: %q", l)
		}
	}
	if !strings.HasPrefix(lines[0], "ID  ") || !strings.Contains(lines[0], "症状") || !strings.Contains(lines[0], "修复方法") {
		t.Errorf("--list header: %q", lines[0])
	}
	if !strings.Contains(out, "vendor-inconsistent") || !strings.Contains(out, "vendor 目录不一致") || !strings.Contains(out, "代理拒绝了请求") {
		t.Errorf("--list lacks the new classes in Chinese:\n%s", out)
	}

	t.Setenv("LANG", "C")
	out, _, err = testutil.RunCommand(t, newRoot(), strings.NewReader(explainInput), "--lang", "zh", "explain")
	if err != nil || !strings.Contains(out, "找不到模块或版本") {
		t.Errorf("--lang zh: %v\n%s", err, out)
	}
	out, _, err = testutil.RunCommand(t, newRoot(), strings.NewReader(explainInput), "--lang", "zh", "explain", "--json")
	if err != nil || !strings.Contains(out, `"title": "Module or version not found"`) {
		t.Errorf("--json is not English: %v\n%s", err, out)
	}
}

// TestExplainList: --list prints every class of the catalogue as a table
// whose columns line up; --json gives them as an array.
func TestExplainList(t *testing.T) {
	t.Setenv("COLUMNS", "")
	t.Setenv("LC_ALL", "")
	t.Setenv("LC_MESSAGES", "")
	t.Setenv("LANG", "C")
	out, err := runExplain(t, "", "--list")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	rows := 0
	col := strings.Index(lines[0], "Symptom")
	for _, l := range lines {
		if i18n.Width(l) > 100 {
			t.Errorf("line wider than 100 columns (COLUMNS unset): %q", l)
		}
		if strings.HasPrefix(l, " ") { // a wrapped row's next line
			if strings.TrimSpace(l[:col]) != "" {
				t.Errorf("continuation line with an id: %q", l)
			}
			continue
		}
		rows++
		if id, _, _ := strings.Cut(l, " "); l != lines[0] && (explain.Lookup(id) == nil || l[col-1] != ' ' || l[col] == ' ') {
			t.Errorf("row not aligned with the header at column %d: %q", col, l)
		}
	}
	if rows != len(explain.Catalogue())+1 {
		t.Errorf("%d rows, want a header and %d classes:\n%s", rows, len(explain.Catalogue()), out)
	}
	t.Setenv("COLUMNS", "60")
	if out, err = runExplain(t, "", "--list"); err != nil {
		t.Fatal(err)
	}
	for l := range strings.SplitSeq(strings.TrimSpace(out), "\n") {
		if i18n.Width(l) > 60 {
			t.Errorf("line wider than COLUMNS=60: %q", l)
		}
	}
	out, err = runExplain(t, "", "--list", "--json")
	var list []struct{ ID, Title, Cause, Fix string }
	if err != nil || json.Unmarshal([]byte(out), &list) != nil || len(list) != len(explain.Catalogue()) || list[0].Fix == "" {
		t.Errorf("--list --json: %v\n%s", err, out)
	}
	if _, err := runExplain(t, "", "--list", "file.txt"); err == nil {
		t.Errorf("--list with a FILE: no error")
	}
}

// TestExplainListKeepsIDsWhole: explain --list in a narrow terminal never
// splits an ID (what a user greps for), in either language.
func TestExplainListKeepsIDsWhole(t *testing.T) {
	for _, lang := range []string{"C", "zh_CN.UTF-8"} {
		t.Setenv("LANG", lang)
		t.Setenv("COLUMNS", "80")
		out, err := runExplain(t, "", "--list")
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range []string{"vendor-inconsistent", "checksum-mismatch", "sumdb-private", "gomod-syntax"} {
			if !strings.Contains(out, "\n"+id+" ") {
				t.Errorf("LANG=%s: ID %s split or missing:\n%s", lang, id, out)
			}
		}
	}
}
