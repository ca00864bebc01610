package deploy

import (
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"go.yaml.in/yaml/v3"
)

// The Prometheus rules: deploy/prometheus/recording.yml and alerts.yml,
// unit-tested by rules_test.yml.
var (
	promDir        = "prometheus"
	promRuleFiles  = []string{"recording.yml", "alerts.yml"}
	promRulesTests = "rules_test.yml"
)

// promtool returns the promtool binary, or skips the test loudly.
func promtool(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("!!! SKIPPING: no promtool in PATH (Debian package prometheus; .ci/run installs it); neither the Prometheus rules nor the dashboard queries are checked with it !!!")
	}
	return bin
}

// runPromtool runs promtool with args in deploy/prometheus and fails the
// test with its output if it fails.
func runPromtool(t *testing.T, args ...string) {
	t.Helper()
	cmd := exec.Command(promtool(t), args...)
	cmd.Dir = promDir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %v: %v\n%s", args, err, out)
	}
	t.Logf("promtool %v:\n%s", args, out)
}

// TestPromtoolCheckRules: the rule files are valid Prometheus rules.
func TestPromtoolCheckRules(t *testing.T) {
	runPromtool(t, append([]string{"check", "rules"}, promRuleFiles...)...)
}

// TestPromtoolTestRules: the rules pass their unit tests.
func TestPromtoolTestRules(t *testing.T) {
	runPromtool(t, "test", "rules", promRulesTests)
}

// promRule is one rule of a rule file.
type promRule struct {
	Record, Alert, Expr string
	For                 string
	Labels, Annotations map[string]string
}

// loadPromRules reads the rules of deploy/prometheus's rule files.
func loadPromRules(t *testing.T) []promRule {
	t.Helper()
	var rules []promRule
	for _, f := range promRuleFiles {
		var doc struct {
			Groups []struct {
				Name  string
				Rules []promRule
			}
		}
		if err := decodeYAMLInto(readFile(t, filepath.Join(promDir, f)), &doc); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, g := range doc.Groups {
			rules = append(rules, g.Rules...)
		}
	}
	if len(rules) == 0 {
		t.Fatal("no rules found")
	}
	return rules
}

// TestPromRulesAreTested: every alert has a unit test in which it fires
// (and one in which it does not), and every recording rule is evaluated
// by a unit test; every rule file is one the tests load. promtool does
// not check any of this.
func TestPromRulesAreTested(t *testing.T) {
	var tests struct {
		RuleFiles []string `yaml:"rule_files"`
		Tests     []struct {
			AlertRuleTest []struct {
				Alertname string
				ExpAlerts []any `yaml:"exp_alerts"`
			} `yaml:"alert_rule_test"`
			PromQLExprTest []struct {
				Expr string
			} `yaml:"promql_expr_test"`
		}
	}
	if err := decodeYAMLInto(readFile(t, filepath.Join(promDir, promRulesTests)), &tests); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(tests.RuleFiles, promRuleFiles) {
		t.Errorf("%s loads %v, want %v", promRulesTests, tests.RuleFiles, promRuleFiles)
	}
	fires, quiet, evaluated := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, tc := range tests.Tests {
		for _, a := range tc.AlertRuleTest {
			if len(a.ExpAlerts) > 0 {
				fires[a.Alertname] = true
			} else {
				quiet[a.Alertname] = true
			}
		}
		for _, e := range tc.PromQLExprTest {
			evaluated[e.Expr] = true
		}
	}
	for _, r := range loadPromRules(t) {
		switch {
		case r.Alert != "":
			if !fires[r.Alert] {
				t.Errorf("alert %s: no test in %s where it fires", r.Alert, promRulesTests)
			}
			if !quiet[r.Alert] {
				t.Errorf("alert %s: no test in %s where it does not fire", r.Alert, promRulesTests)
			}
			for _, k := range []string{"summary", "description"} {
				if r.Annotations[k] == "" {
					t.Errorf("alert %s: no %s annotation", r.Alert, k)
				}
			}
			if r.Labels["severity"] == "" {
				t.Errorf("alert %s: no severity label", r.Alert)
			}
		case r.Record != "":
			if !evaluated[r.Record] {
				t.Errorf("recording rule %s: no promql_expr_test in %s evaluates it", r.Record, promRulesTests)
			}
		}
	}
}

// decodeYAMLInto decodes one YAML document into v.
func decodeYAMLInto(b []byte, v any) error { return yaml.Unmarshal(b, v) }
