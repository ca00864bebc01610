package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

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
	for _, want := range []string{"line 2:\n", "  not-found: ", "fix:", "line 4:\n", "unknown: no known cause", "2 error(s): 1 explained, 1 unknown"} {
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
