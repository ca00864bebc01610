package policycheck

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"golang.org/x/mod/module"

	"github.com/gomirror/gomirror/i18n"
)

// sampleReport has a violation, a warning, an unchecked version and an
// allowed one.
func sampleReport() *Report {
	mv := func(p, v string) module.Version { return module.Version{Path: p, Version: v} }
	items := []Item{
		{Module: mv("example.com/a", "v1.0.0"), Kind: Code, BuildList: true, At: Location{"proj/go.mod", 5}},
		{Module: mv("example.com/b", "v1.2.0"), Kind: Code, GoSum: true, At: Location{"proj/go.sum", 3}},
		{Module: mv("example.com/c", "v0.1.0"), Kind: GoModOnly, GoSum: true, At: Location{"proj/go.sum", 7}},
		{Module: mv("example.com/d", "v2.0.0+incompatible"), Kind: Code, BuildList: true, At: Location{"proj/go.mod", 6}},
	}
	ds := []Decision{
		{Allowed: false, Mode: "enforce", Rule: "no-a", File: "policy.yaml", Line: 4, Reason: "denied"},
		{Allowed: true, Mode: "warn", Rule: "rule 2", Set: "strict", File: "policy.yaml", Line: 9, Reason: "license GPL-3.0 not allowed; allowed: MIT"},
		{Error: "fetching .info: 502 Bad Gateway"},
		{Allowed: true, Rule: "default", File: "policy.yaml", Line: 1, Reason: "no rule matches, and the default is allow"},
	}
	return NewReport(items, ds, nil)
}

func TestReportText(t *testing.T) {
	r := sampleReport()
	var b bytes.Buffer
	if err := r.WriteText(&b, i18n.English()); err != nil {
		t.Fatal(err)
	}
	want := `proj/go.mod:5: example.com/a@v1.0.0: refused by rule "no-a" (policy.yaml:4): denied
proj/go.sum:3: warning: example.com/b@v1.2.0: refused by set "strict" rule 2 (policy.yaml:9) (mode warn): license GPL-3.0 not allowed; allowed: MIT
proj/go.sum:7: not checked: example.com/c@v0.1.0: fetching .info: 502 Bad Gateway
4 module versions checked: 1 violation, 1 warning, 1 not checked
`
	if b.String() != want {
		t.Errorf("text:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestExitCode(t *testing.T) {
	r := sampleReport()
	if c := r.ExitCode(); c != ExitViolation {
		t.Errorf("with a violation: exit %d", c)
	}
	r.Violations = nil
	if c := r.ExitCode(); c != ExitUnchecked {
		t.Errorf("with an unchecked version: exit %d", c)
	}
	r.Unchecked = nil
	if c := r.ExitCode(); c != ExitClean {
		t.Errorf("with a warning only: exit %d", c)
	}
	r.Incomplete = []i18n.Text{errorText(errors.New("the build list could not be resolved"))}
	if c := r.ExitCode(); c != ExitUnchecked {
		t.Errorf("incomplete: exit %d", c)
	}
}

func TestReportJSON(t *testing.T) {
	var b bytes.Buffer
	if err := sampleReport().WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Checked    int
		ExitCode   int
		Violations []struct {
			Module, Version, Rule, Reason, Kind string
			Location                            Location
		}
		Warnings  []struct{ Module, Mode, Set string }
		Unchecked []struct{ Module, Error string }
	}
	if err := json.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatalf("%v\n%s", err, b.String())
	}
	if got.Checked != 4 || got.ExitCode != ExitViolation || len(got.Violations) != 1 || len(got.Warnings) != 1 || len(got.Unchecked) != 1 {
		t.Fatalf("report %+v", got)
	}
	v := got.Violations[0]
	if v.Module != "example.com/a" || v.Rule != "no-a" || v.Reason != "denied" || v.Kind != "zip" || v.Location != (Location{"proj/go.mod", 5}) {
		t.Errorf("violation %+v", v)
	}
	if w := got.Warnings[0]; w.Mode != "warn" || w.Set != "strict" {
		t.Errorf("warning %+v", w)
	}
}

// TestReportJSONRoundTrip checks that a Report reads its own JSON back,
// what could not be checked included.
func TestReportJSONRoundTrip(t *testing.T) {
	r := sampleReport()
	r.Incomplete = []i18n.Text{i18n.T("could not tell whether a workspace (go.work) applies to %s: %v", "proj", errors.New("exit status 1"))}
	var b bytes.Buffer
	if err := r.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	var got Report
	if err := json.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatalf("%v\n%s", err, b.String())
	}
	if len(got.Incomplete) != 1 || got.Incomplete[0].String() != r.Incomplete[0].String() {
		t.Errorf("incomplete %v, want %v", got.Incomplete, r.Incomplete)
	}
	if got.Checked != r.Checked || len(got.Violations) != 1 || got.Violations[0].Reason != "denied" {
		t.Errorf("report %+v", got)
	}
}

// validateSARIF checks what SARIF 2.1.0 requires of a log, and what GitHub
// code scanning needs to show results: a version, runs with a tool driver
// named, rules with unique ids, results whose ruleId names a rule (and
// ruleIndex points at it), a level, a message text, and a location in a
// relative file with a start line.
func validateSARIF(t *testing.T, data []byte) map[string]any {
	t.Helper()
	var log map[string]any
	if err := json.Unmarshal(data, &log); err != nil {
		t.Fatalf("SARIF is not JSON: %v", err)
	}
	if log["version"] != "2.1.0" {
		t.Errorf("version %v", log["version"])
	}
	if s, _ := log["$schema"].(string); !strings.Contains(s, "sarif-2.1.0") {
		t.Errorf("$schema %q", s)
	}
	runs, _ := log["runs"].([]any)
	if len(runs) != 1 {
		t.Fatalf("runs: %v", log["runs"])
	}
	run := runs[0].(map[string]any)
	driver, _ := run["tool"].(map[string]any)["driver"].(map[string]any)
	if name, _ := driver["name"].(string); name == "" {
		t.Errorf("tool.driver.name missing")
	}
	rules, _ := driver["rules"].([]any)
	ids := map[string]int{}
	for i, r := range rules {
		rm := r.(map[string]any)
		id, _ := rm["id"].(string)
		if id == "" {
			t.Errorf("rule %d without id", i)
		}
		if _, dup := ids[id]; dup {
			t.Errorf("rule id %q twice", id)
		}
		ids[id] = i
		if sd, _ := rm["shortDescription"].(map[string]any); sd == nil || sd["text"] == "" {
			t.Errorf("rule %q without shortDescription.text", id)
		}
	}
	results, ok := run["results"].([]any)
	if !ok {
		t.Fatalf("results missing: %v", run)
	}
	for i, r := range results {
		rm := r.(map[string]any)
		id, _ := rm["ruleId"].(string)
		idx, known := ids[id]
		if !known {
			t.Errorf("result %d: ruleId %q is not a rule", i, id)
		}
		if ri, _ := rm["ruleIndex"].(float64); int(ri) != idx {
			t.Errorf("result %d: ruleIndex %v, rule %q is %d", i, rm["ruleIndex"], id, idx)
		}
		switch rm["level"] {
		case "error", "warning", "note", "none":
		default:
			t.Errorf("result %d: level %v", i, rm["level"])
		}
		if msg, _ := rm["message"].(map[string]any); msg == nil || msg["text"] == "" {
			t.Errorf("result %d: no message.text", i)
		}
		locs, _ := rm["locations"].([]any)
		if len(locs) != 1 {
			t.Fatalf("result %d: locations %v", i, rm["locations"])
		}
		pl := locs[0].(map[string]any)["physicalLocation"].(map[string]any)
		uri, _ := pl["artifactLocation"].(map[string]any)["uri"].(string)
		if uri == "" || strings.HasPrefix(uri, "/") || strings.Contains(uri, "\\") {
			t.Errorf("result %d: uri %q", i, uri)
		}
		// A relative URI names its base, which code scanning resolves to
		// the repository's root.
		if base, _ := pl["artifactLocation"].(map[string]any)["uriBaseId"].(string); !strings.HasPrefix(uri, "file:") && base != "%SRCROOT%" {
			t.Errorf("result %d: relative uri %q with uriBaseId %q, want %%SRCROOT%%", i, uri, base)
		}
		if line, _ := pl["region"].(map[string]any)["startLine"].(float64); line < 1 {
			t.Errorf("result %d: startLine %v", i, line)
		}
	}
	return log
}

func TestReportSARIF(t *testing.T) {
	var b bytes.Buffer
	if err := sampleReport().WriteSARIF(&b, "v1.2.3", ""); err != nil {
		t.Fatal(err)
	}
	log := validateSARIF(t, b.Bytes())
	run := log["runs"].([]any)[0].(map[string]any)
	results := run["results"].([]any)
	if len(results) != 3 {
		t.Fatalf("%d results, want 3:\n%s", len(results), b.String())
	}
	type res struct{ id, level, uri, text string }
	var got []res
	for _, r := range results {
		rm := r.(map[string]any)
		pl := rm["locations"].([]any)[0].(map[string]any)["physicalLocation"].(map[string]any)
		got = append(got, res{rm["ruleId"].(string), rm["level"].(string), pl["artifactLocation"].(map[string]any)["uri"].(string), rm["message"].(map[string]any)["text"].(string)})
	}
	want := []res{
		{"gomirror-policy/no-a", "error", "proj/go.mod", `example.com/a@v1.0.0 is refused by the dependency policy's rule "no-a" (policy.yaml:4): denied`},
		{"gomirror-policy/strict/rule%202", "warning", "proj/go.sum", `example.com/b@v1.2.0 is refused by the dependency policy's set "strict" rule 2 (policy.yaml:9): license GPL-3.0 not allowed; allowed: MIT (mode warn)`},
		{"gomirror-policy/not-checked", "warning", "proj/go.sum", "example.com/c@v0.1.0 could not be checked: fetching .info: 502 Bad Gateway"},
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("result %d:\n%+v\nwant\n%+v", i, got[i], want[i])
		}
	}

	// Rule names that differ only in what an id cannot hold as they are
	// (spaces, slashes) are different rules.
	mv := module.Version{Path: "example.com/x", Version: "v1.0.0"}
	items := []Item{{Module: mv, At: Location{"go.mod", 1}}, {Module: module.Version{Path: "example.com/y", Version: "v1.0.0"}, At: Location{"go.mod", 2}}}
	ds := []Decision{{Rule: "no old yaml", Mode: "enforce"}, {Rule: "no-old-yaml", Mode: "enforce"}}
	b.Reset()
	if err := NewReport(items, ds, nil).WriteSARIF(&b, "", ""); err != nil {
		t.Fatal(err)
	}
	validateSARIF(t, b.Bytes()) // checks ids are unique
	if rules := validateSARIF(t, b.Bytes())["runs"].([]any)[0].(map[string]any)["tool"].(map[string]any)["driver"].(map[string]any)["rules"].([]any); len(rules) != 2 {
		t.Errorf("%d rules for two differently named rules, want 2:\n%s", len(rules), b.String())
	}

	// Relative to a root.
	b.Reset()
	if err := sampleReport().WriteSARIF(&b, "", "proj"); err != nil {
		t.Fatal(err)
	}
	validateSARIF(t, b.Bytes())
	if !strings.Contains(b.String(), `"uri": "go.mod"`) {
		t.Errorf("with root proj, want uri go.mod:\n%s", b.String())
	}
}

func TestSARIFURI(t *testing.T) {
	for _, tc := range []struct{ file, base, want string }{
		{"go.mod", "", "go.mod"},
		{"./proj/../proj/go.sum", "", "proj/go.sum"},
		{"proj/go.mod", "proj", "go.mod"},
		{"proj/go.mod", ".", "proj/go.mod"},
		{"/elsewhere/go.mod", ".", "file:///elsewhere/go.mod"},
		{"/elsewhere/go.mod", "", "file:///elsewhere/go.mod"},
		{"../up/go.mod", ".", "file://"},
	} {
		if got := sarifURI(tc.file, tc.base); got != tc.want && !(strings.HasSuffix(tc.want, "//") && strings.HasPrefix(got, tc.want) && strings.HasSuffix(got, "/up/go.mod")) {
			t.Errorf("sarifURI(%q, %q) = %q, want %q", tc.file, tc.base, got, tc.want)
		}
	}
}

// TestWhereText: the Text of the deciding rule is, in English, what
// Decision.Where says (the text before translation), and in Chinese names
// the rule and its set in Chinese.
func TestWhereText(t *testing.T) {
	zh := i18n.NewPrinter(i18n.Supported[1])
	for _, tc := range []struct {
		d      Decision
		wantZH string
	}{
		{Decision{Rule: "no-old-yaml", File: "policy.yaml", Line: 12}, `规则 "no-old-yaml"（policy.yaml:12）`},
		{Decision{Set: "strict", Rule: "rule 3", File: "policy.yaml", Line: 1020}, `规则集 "strict" 的规则 3（policy.yaml:1020）`},
		{Decision{Rule: "default", File: "p.yaml", Line: 1}, "默认规则（p.yaml:1）"},
		{Decision{}, "默认规则"},
		{Decision{Set: "ci", Rule: "a b"}, `规则集 "ci" 的规则 "a b"`},
	} {
		w := WhereText(tc.d)
		if got := w.String(); got != tc.d.Where() {
			t.Errorf("%+v: English %q, Where %q", tc.d, got, tc.d.Where())
		}
		if got := i18n.English().Text(w); got != tc.d.Where() {
			t.Errorf("%+v: English printer %q, Where %q", tc.d, got, tc.d.Where())
		}
		if got := zh.Text(w); got != tc.wantZH {
			t.Errorf("%+v: zh %q, want %q", tc.d, got, tc.wantZH)
		}
	}
}
