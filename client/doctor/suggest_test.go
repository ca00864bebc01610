package doctor

import (
	"strings"
	"testing"

	"github.com/gomirror/gomirror/i18n"
)

// TestSuggestionWordedByWhatWentWrong: the suggestion names the first
// proxy's actual problem (failing, lagging, slow), and there is none at all
// when its only trouble is informational (the checksum database's latest,
// which the go command never reads through a proxy): an offline company
// mirror's users are not told to leave it.
func TestSuggestionWordedByWhatWentWrong(t *testing.T) {
	const first = "http://mirror.internal"
	slowStep := Step{Name: "lookup", Status: Warn}
	latestStep := Step{Name: "latest", Status: Warn}
	for _, tc := range []struct {
		name string
		res  []Result
		want string // "" means no suggestion
	}{
		{"latest only", []Result{
			{Check: "proxy", Target: first, Status: OK},
			{Check: "sumdb", Target: first, Status: Warn, Problem: "sumdb-latest", Steps: []Step{{Name: "lookup", Status: OK}, latestStep}},
		}, ""},
		{"latest and a slow lookup", []Result{
			{Check: "sumdb", Target: first, Status: Warn, Problem: "sumdb-latest", Steps: []Step{slowStep, latestStep}},
		}, "is slow"},
		{"slow proxy", []Result{{Check: "proxy", Target: first, Status: Warn, Problem: "slow"}}, "is slow"},
		{"slow sumdb", []Result{{Check: "sumdb", Target: first, Status: Warn, Problem: "slow"}}, "is slow"},
		{"failing sumdb", []Result{
			{Check: "proxy", Target: first, Status: Warn, Problem: "slow"},
			{Check: "sumdb", Target: first, Status: Fail, Problem: "sumdb-tile"},
		}, "fails"},
		{"lagging", []Result{
			{Check: "proxy", Target: first, Status: Warn, Problem: "slow"},
			{Check: "lag", Target: first, Status: Warn, Problem: "lagging"},
		}, "lags"},
		{"key unknown", []Result{{Check: "sumdb", Target: first, Status: Warn, Problem: "sumdb-key-unknown"}}, ""},
		{"another proxy slow", []Result{{Check: "proxy", Target: "http://other", Status: Warn, Problem: "slow"}}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := suggest([]string{first, "direct"}, tc.res)
			if tc.want == "" {
				if len(got) != 0 {
					t.Fatalf("suggestion %v, want none", got)
				}
				return
			}
			if len(got) != 1 {
				t.Fatalf("suggestions %v, want one", got)
			}
			s := got[0].String()
			if !strings.Contains(s, "the first proxy in GOPROXY, "+tc.want) || !strings.Contains(s, "gomirror setup --fastest") {
				t.Errorf("suggestion %q, want %q", s, tc.want)
			}
			for _, other := range []string{"is slow", "fails", "lags"} {
				if other != tc.want && strings.Contains(s, "GOPROXY, "+other) {
					t.Errorf("suggestion %q says %q", s, other)
				}
			}
		})
	}
}

// TestSuggestionPrivateModulesAdvice: the caveat for a company mirror that
// serves private modules keeps it first in GOPROXY (or in a profile) with
// GONOSUMDB, and says that GOPRIVATE sends those modules directly to
// version control, past every proxy; in Chinese a profile is 配置方案.
func TestSuggestionPrivateModulesAdvice(t *testing.T) {
	got := suggest([]string{"http://mirror.internal"}, []Result{{Check: "proxy", Target: "http://mirror.internal", Status: Fail, Problem: "connection-refused"}})
	if len(got) != 1 {
		t.Fatalf("suggestions %v", got)
	}
	en := got[0].String()
	for _, want := range []string{"first in GOPROXY", "gomirror setup --profile", "GONOSUMDB", "GOPRIVATE", "bypass"} {
		if !strings.Contains(en, want) {
			t.Errorf("en suggestion lacks %q: %s", want, en)
		}
	}
	if strings.Contains(en, "keep it for them: GOPRIVATE") {
		t.Errorf("en suggestion still says GOPRIVATE keeps the proxy: %s", en)
	}
	zh := i18n.NewPrinter(i18n.Supported[1]).Text(got[0])
	for _, want := range []string{"配置方案", "GONOSUMDB", "第一位", "绕过"} {
		if !strings.Contains(zh, want) {
			t.Errorf("zh suggestion lacks %q: %s", want, zh)
		}
	}
	if strings.Contains(zh, "配置档") {
		t.Errorf("zh suggestion uses 配置档: %s", zh)
	}
}

// TestProbeModuleNotHeldSaysWhy: a proxy that does not hold the probe
// module (an offline mirror, upstream off, that never fetched it) answers
// its list with 404: lookup and tiles are skipped and the sumdb check is a
// warning (exit status 0) that says the proxy does not hold it and what
// that means, with a fix that names gomirror warm and the upstream; no
// suggestion to switch mirrors.
func TestProbeModuleNotHeldSaysWhy(t *testing.T) {
	srv := goodProxy(t)
	rep, text, js := run(t, srv.env(t, srv.URL+",direct"), func(o *Options) { o.ProbeModule = "example.com/nosuch" })
	r := find(t, rep, "sumdb", srv.URL)
	named(t, r, text, js, Warn, "sumdb-not-checked", "does not hold example.com/nosuch")
	for _, want := range []string{"gomirror warm", "upstream", "--probe-module"} {
		if !strings.Contains(r.Fix.String(), want) {
			t.Errorf("fix lacks %q: %s", want, r.Fix)
		}
	}
	if rep.Verdict != Warn || len(rep.Suggestions) != 0 {
		t.Errorf("verdict %s, suggestions %v", rep.Verdict, rep.Suggestions)
	}
	zh := i18n.NewPrinter(i18n.Supported[1])
	if s := zh.Text(r.Message) + zh.Text(r.Fix); !strings.Contains(s, "没有 example.com/nosuch") || !strings.Contains(s, "gomirror warm") {
		t.Errorf("zh: %s", s)
	}
}
