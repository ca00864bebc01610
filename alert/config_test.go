package alert

import (
	"os"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

func TestValidate(t *testing.T) {
	hook := Notifier{Name: "hook", Type: TypeWebhook, URL: "http://127.0.0.1:9/x"}
	for _, tc := range []struct {
		name      string
		rules     []Rule
		notifiers []Notifier
		want      string // "" for valid; else every word must be in the error
	}{
		{"valid", []Rule{{Name: "a", Kind: KindClientRate, Threshold: 200, RequestKind: "latest"}}, []Notifier{hook}, ""},
		{"no name", []Rule{{Kind: KindChecksumMismatch}}, nil, "name required"},
		{"no kind", []Rule{{Name: "a"}}, nil, `"a" kind required`},
		{"unknown kind", []Rule{{Name: "a", Kind: "cpu"}}, nil, `"a" kind "cpu"`},
		{"rate without threshold", []Rule{{Name: "a", Kind: KindClientRate}}, nil, `"a" threshold`},
		{"bad request kind", []Rule{{Name: "a", Kind: KindClientRate, Threshold: 1, RequestKind: "tar"}}, nil, `"a" request-kind "tar"`},
		{"request kind on another kind", []Rule{{Name: "a", Kind: KindErrorRate, Threshold: 5, RequestKind: "zip"}}, nil, `"a" request-kind only`},
		{"lag rate over 1", []Rule{{Name: "lag", Kind: KindUpstreamLag, Threshold: 50}}, nil, `"lag" threshold lag rate between 0 and 1`},
		{"window on upstream-lag", []Rule{{Name: "lag", Kind: KindUpstreamLag, Window: time.Hour}}, nil, `"lag" window for`},
		{"upstream on another kind", []Rule{{Name: "a", Kind: KindErrorRate, Threshold: 5, Upstream: "cn"}}, nil, `"a" upstream upstream-down upstream-lag`},
		{"upstream-lag of a group", []Rule{{Name: "lag", Kind: KindUpstreamLag, Upstream: "cn", For: 10 * time.Minute}}, nil, ""},
		{"percent over 100", []Rule{{Name: "disk", Kind: KindStorageUsage, Threshold: 120}}, nil, `"disk" threshold percentage`},
		{"negative window", []Rule{{Name: "a", Kind: KindChecksumMismatch, Window: -time.Second}}, nil, `"a" negative`},
		{"repeat too short", []Rule{{Name: "a", Kind: KindChecksumMismatch, Repeat: time.Second}}, nil, `"a" repeat`},
		{"unknown notifier", []Rule{{Name: "a", Kind: KindChecksumMismatch, Notifiers: []string{"pager"}}}, []Notifier{hook}, `"a" notifiers "pager"`},
		{"notifier named twice", []Rule{{Name: "a", Kind: KindChecksumMismatch, Notifiers: []string{"hook", "hook"}}}, []Notifier{hook}, `"a" notifiers "hook" twice`},
		{"rule twice", []Rule{{Name: "a", Kind: KindChecksumMismatch}, {Name: "a", Kind: KindChecksumMismatch}}, nil, `"a" twice`},
		{"notifier twice", nil, []Notifier{hook, hook}, `"hook" twice`},
		{"vendor URL inline", nil, []Notifier{{Name: "d", Type: TypeDingTalk, URL: "http://127.0.0.1/robot/send?access_token=x"}}, `"d" url url-file url-env`},
		{"no URL", nil, []Notifier{{Name: "s", Type: TypeSlack}}, `"s" url exactly one`},
		{"two URL sources", nil, []Notifier{{Name: "s", Type: TypeSlack, URLFile: "/f", URLEnv: "E"}}, `"s" url exactly one`},
		{"secret for WeCom", nil, []Notifier{{Name: "w", Type: TypeWeCom, URLEnv: "E", SecretEnv: "S"}}, `"w" secret`},
		{"headers for Slack", nil, []Notifier{{Name: "s", Type: TypeSlack, URLEnv: "E", Headers: map[string]string{"A": "b"}}}, `"s" headers`},
		{"bad header name", nil, []Notifier{{Name: "w", Type: TypeWebhook, URL: "http://127.0.0.1/", Headers: map[string]string{"A: b": "c"}}}, `"w" headers`},
		{"unknown type", nil, []Notifier{{Name: "p", Type: "pager"}}, `"p" type "pager"`},
		{"email without smtp", nil, []Notifier{{Name: "m", Type: TypeEmail, From: "a@b", To: []string{"c@d"}}}, `"m" smtp host:port`},
		{"email password without user", nil, []Notifier{{Name: "m", Type: TypeEmail, SMTP: "127.0.0.1:25", PasswordEnv: "P", From: "a@b", To: []string{"c@d"}}}, `"m" username`},
		{"email header injection", nil, []Notifier{{Name: "m", Type: TypeEmail, SMTP: "127.0.0.1:25", From: "a@b", To: []string{"c@d\r\nBcc: e@f"}}}, `"m" to`},
		{"email bad tls", nil, []Notifier{{Name: "m", Type: TypeEmail, SMTP: "127.0.0.1:25", TLS: "none", From: "a@b", To: []string{"c@d"}}}, `"m" tls "none"`},
		{"too many retries", nil, []Notifier{{Name: "w", Type: TypeWebhook, URL: "http://127.0.0.1/", Retries: ptr(9)}}, `"w" retries`},
	} {
		err := Validate(tc.rules, tc.notifiers)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != "" && err == nil:
			t.Errorf("%s: valid, want an error", tc.name)
		case tc.want != "":
			for _, w := range strings.Fields(tc.want) {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%s: %q lacks %q", tc.name, err, w)
				}
			}
		}
	}
}

func ptr[T any](v T) *T { return &v }

// TestDefaults: zero fields take their kind's defaults.
func TestDefaults(t *testing.T) {
	rules := []Rule{{Name: "a", Kind: KindClientRate, Threshold: 1}, {Name: "b", Kind: KindChecksumMismatch}, {Name: "c", Kind: KindErrorRate, Threshold: 5}, {Name: "d", Kind: KindUpstreamDown}, {Name: "e", Kind: KindUpstreamLag}}
	ns := []Notifier{{Name: "m", Type: TypeEmail, SMTP: "127.0.0.1:25", From: "a@b", To: []string{"c@d"}}}
	if err := Validate(rules, ns); err != nil {
		t.Fatal(err)
	}
	if rules[0].Window != time.Hour || rules[1].Threshold != 1 || rules[2].MinRequests != 20 || rules[2].Window != 5*time.Minute || rules[3].Window != 5*time.Minute || rules[4].Threshold != 0.5 || !rules[0].resolve() {
		t.Errorf("defaults %+v", rules)
	}
	if ns[0].TLS != "starttls" || ns[0].Timeout != 10*time.Second || *ns[0].Retries != 2 {
		t.Errorf("defaults %+v", ns[0])
	}
}

// TestYAMLExample: the example in the package documentation (kept in
// testdata/alerts.yaml too) parses and is valid.
func TestYAMLExample(t *testing.T) {
	var c struct {
		Alerts    []Rule     `yaml:"alerts"`
		Notifiers []Notifier `yaml:"notifiers"`
	}
	example, err := os.ReadFile("testdata/alerts.yaml")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(example)), "\n") {
		if !strings.Contains(string(doc), "//\t"+line+"\n") && line != "" {
			t.Errorf("doc.go's example lacks the line %q of testdata/alerts.yaml", line)
		}
	}
	if err := yaml.Unmarshal(example, &c); err != nil {
		t.Fatal(err)
	}
	if err := Validate(c.Alerts, c.Notifiers); err != nil {
		t.Fatal(err)
	}
	if len(c.Alerts) != 7 || len(c.Notifiers) != 6 {
		t.Errorf("%d rules, %d notifiers: want one of each kind and type", len(c.Alerts), len(c.Notifiers))
	}
	if r := c.Alerts[0]; r.Kind != KindClientRate || r.Threshold != 200 || r.Window != time.Hour || r.RequestKind != "latest" || r.Repeat != 6*time.Hour {
		t.Errorf("first rule %+v", r)
	}
}
