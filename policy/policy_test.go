package policy_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/gomirror/gomirror/policy"
	"golang.org/x/mod/module"
)

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		want      string // file:line: prefix and a part of the message
	}{
		{"empty", "", "p.yaml: empty policy file"},
		{"comment only", "# nothing\n", "p.yaml: empty policy file"},
		{"not a mapping", "- a\n", "p.yaml:1: policy must be a mapping"},
		{"unknown top key", "default: allow\nrulez: []\n", `p.yaml:2: policy: unknown key "rulez"`},
		{"unknown rule key", "rules:\n  - module: a.example\n    deny-vulnerabel: true\n", `p.yaml:3: rule: unknown key "deny-vulnerabel"`},
		{"bad default", "default: maybe\n", `p.yaml:1: default must be allow or deny`},
		{"bad mode", "rules:\n  - module: a.example\n    mode: loud\n", `p.yaml:3: mode must be enforce or warn`},
		{"no module", "rules:\n  - action: deny\n", `p.yaml:2: rule needs a module pattern`},
		{"bad pattern", "rules:\n  - module: a.example/[x\n", `p.yaml:2: module: bad pattern`},
		{"bad versions", "rules:\n  - module: a.example\n    versions: \">=banana\"\n", `p.yaml:3: versions ">=banana"`},
		{"bad bool", "rules:\n  - module: a.example\n    deny-retracted: yes please\n", `p.yaml:3: deny-retracted must be true or false`},
		{"bad min-age", "rules:\n  - module: a.example\n    min-age: 7d\n", `p.yaml:3: min-age must be a whole number of days`},
		{"negative min-age", "rules:\n  - module: a.example\n    min-age: -1\n", `p.yaml:3: min-age`},
		{"bad except key", "rules:\n  - module: a.example\n    deny-vulnerable:\n      exept: [GO-2020-0001]\n", `p.yaml:4: deny-vulnerable: unknown key "exept"`},
		{"deny with checks", "rules:\n  - module: a.example\n    action: deny\n    min-age: 3\n", `p.yaml:2: a deny rule refuses everything`},
		{"empty licenses", "rules:\n  - module: a.example\n    licenses: []\n", `p.yaml:3: licenses: an empty allow-list`},
		{"license case", "rules:\n  - module: a.example\n    licenses:\n      - MIT\n      - apache-2.0\n", `p.yaml:5: licenses: "apache-2.0" is not a license ID that gomirror detects; did you mean "Apache-2.0"?`},
		{"license unknown", "rules:\n  - module: a.example\n    licenses: [MIT, Beerware-9]\n", `p.yaml:3: licenses: "Beerware-9" is not a license ID that gomirror detects`},
		{"except bad ID", "rules:\n  - module: a.example\n    deny-vulnerable:\n      except: [GO-2022-0001, go-2022-0002]\n", `p.yaml:4: except: "go-2022-0002" is not an advisory ID`},
		{"licenses not list", "rules:\n  - module: a.example\n    licenses: MIT\n", `p.yaml:3: licenses must be a list`},
		{"duplicate key", "rules:\n  - module: a.example\n    module: b.example\n", `p.yaml:3: rule: "module" given twice`},
		{"yaml syntax", "rules:\n  - module: [a\n", `p.yaml:`},
		{"set unknown group", "groups:\n  ci: [t1]\nsets:\n  - name: s\n    groups: [cd]\n", `p.yaml:5: set "s": no group "cd"`},
		{"set for nobody", "sets:\n  - name: s\n    rules: []\n", `p.yaml:2: set "s" applies to nobody`},
		{"set without name", "sets:\n  - tokens: [a]\n", `p.yaml:2: set needs a name`},
		{"set twice", "sets:\n  - name: s\n    tokens: [a]\n  - name: s\n    tokens: [b]\n", `p.yaml:4: set "s" given twice`},
		{"alias", "x: &a 1\n", `p.yaml:1: policy: unknown key "x"`},
		{"two documents", "rules: []\n---\nrules: []\n", `p.yaml:2: more than one YAML document`},
		{"token list not strings", "groups:\n  ci: [[a]]\n", `p.yaml:2: group "ci" entry must be a string`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := policy.Parse("p.yaml", []byte(tc.src))
			if err == nil {
				t.Fatalf("no error, want %q", tc.want)
			}
			var se *policy.SyntaxError
			if !errors.As(err, &se) {
				t.Errorf("error %T is not a *SyntaxError", err)
			}
			if !strings.HasPrefix(err.Error(), tc.want) && !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q, want it to start with %q", err, tc.want)
			}
		})
	}
}

func TestExampleFile(t *testing.T) {
	p, err := policy.Load(filepath.Join("testdata", "example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Rules(); got != 5 {
		t.Errorf("Rules() = %d, want 5", got)
	}
	n := p.Needs()
	if !n.Time || !n.Retracted || !n.Vulns || !n.Licenses {
		t.Errorf("Needs() = %+v, want all", n)
	}
	if got := p.SetFor(policy.Subject{Token: "release-bot"}); got != "strict" {
		t.Errorf("SetFor(release-bot) = %q, want strict", got)
	}
	if got := p.SetFor(policy.Subject{Token: "dev"}); got != "" {
		t.Errorf("SetFor(dev) = %q, want top level", got)
	}
	if _, err := policy.Load(filepath.Join("testdata", "missing.yaml")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load(missing) = %v, want fs.ErrNotExist", err)
	}
}

// facts is a Facts from maps; it counts calls.
type facts struct {
	time      map[string]time.Time // module@version
	retracted map[string]string
	licenses  map[string][]string
	vulns     map[string][]policy.Advisory
	noVulnDB  bool
	unknown   bool // Time answers ErrUnknown
	calls     map[string]int
}

func (f *facts) key(m module.Version) string { return m.Path + "@" + m.Version }

func (f *facts) count(what string) {
	if f.calls == nil {
		f.calls = map[string]int{}
	}
	f.calls[what]++
}

func (f *facts) Time(_ context.Context, m module.Version) (time.Time, error) {
	f.count("time")
	if f.unknown {
		return time.Time{}, fmt.Errorf("no .info stored: %w", policy.ErrUnknown)
	}
	t, ok := f.time[f.key(m)]
	if !ok {
		return time.Time{}, fmt.Errorf("%s: %w", f.key(m), fs.ErrNotExist)
	}
	return t, nil
}

func (f *facts) Retracted(_ context.Context, m module.Version) (string, bool, error) {
	f.count("retracted")
	why, ok := f.retracted[f.key(m)]
	return why, ok, nil
}

func (f *facts) Licenses(_ context.Context, m module.Version) ([]string, error) {
	f.count("licenses")
	return f.licenses[f.key(m)], nil
}

func (f *facts) Vulns(_ context.Context, m module.Version) ([]policy.Advisory, error) {
	f.count("vulns")
	if f.noVulnDB {
		return nil, fmt.Errorf("no database configured: %w", policy.ErrNoVulnDB)
	}
	return f.vulns[f.key(m)], nil
}

const testPolicy = `# test policy
default: allow
groups:
  release: [prod-ci]
sets:
  - name: strict
    groups: [release]
    tokens: [auditor]
    default: deny
    rules:
      - module: corp.example
      - name: vetted
        module: "*"
        versions: ">=1.0.0"
        deny-pseudo-versions: true
        min-age: 14
        licenses: [MIT, BSD-3-Clause]
rules:
  - name: no-old-yaml
    module: gopkg.in/yaml.v2
    versions: "<2.4.0"
    action: deny
  - name: exact
    module: bad.example/m
    versions: v1.4.2
    action: deny
  - name: legacy
    module: [example.com/legacy, example.com/old/*]
    mode: warn
    deny-vulnerable:
      except: [GO-2022-0001, CVE-2023-1234]
  - name: fresh
    module: fresh.example
    min-age: 7
  - name: noretract
    module: r.example
    deny-retracted: true
  - module: pseudo.example
    deny-pseudo-versions: true
  - module: lic.example
    licenses: [MIT]
  - module: "*"
    deny-vulnerable: true
`

func TestDecide(t *testing.T) {
	p, err := policy.Parse("p.yaml", []byte(testPolicy))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	f := &facts{
		time: map[string]time.Time{
			"fresh.example@v1.0.0":    now.Add(-2 * 24 * time.Hour),
			"fresh.example@v0.9.0":    now.Add(-30 * 24 * time.Hour),
			"github.com/a/b@v1.2.0":   now.Add(-30 * 24 * time.Hour),
			"github.com/a/b@v1.3.0":   now.Add(-1 * time.Hour),
			"github.com/lic/x@v1.0.0": now.Add(-100 * 24 * time.Hour),
		},
		retracted: map[string]string{"r.example@v1.1.0": "published by mistake\nsee issue 4"},
		licenses: map[string][]string{
			"lic.example@v1.0.0":      {"MIT"},
			"lic.example@v1.1.0":      {"MIT", "GPL-3.0"},
			"github.com/a/b@v1.2.0":   {"BSD-3-Clause"},
			"github.com/lic/x@v1.0.0": {"Apache-2.0"},
		},
		vulns: map[string][]policy.Advisory{
			"github.com/v/v@v1.0.0":         {{ID: "GO-2024-0002"}, {ID: "GO-2024-0001"}},
			"example.com/legacy@v1.0.0":     {{ID: "GO-2022-0001"}},
			"example.com/legacy@v1.1.0":     {{ID: "GO-2023-0005", Aliases: []string{"CVE-2023-1234"}}},
			"example.com/old/x/y@v1.0.0":    {{ID: "GO-2023-0009"}},
			"example.com/oldish/x/y@v1.0.0": {{ID: "GO-2023-0009"}},
		},
	}
	for _, tc := range []struct {
		token, mod, ver string
		kind            policy.Kind
		refused, warned bool
		want            string // in String()
	}{
		{"", "gopkg.in/yaml.v2", "v2.3.0", policy.KindInfo, true, false, `refused by rule "no-old-yaml" (p.yaml:19): denied for versions <2.4.0`},
		{"", "gopkg.in/yaml.v2", "v2.4.0", policy.KindInfo, false, false, `allowed by rule 8 (p.yaml:42): allowed`},
		{"", "gopkg.in/yaml.v2", "v2.3.1-0.20200101000000-abcdefabcdef", policy.KindInfo, true, false, `no-old-yaml`},
		{"", "GoPkg.in/YAML.v2", "v2.3.0", policy.KindInfo, true, false, `no-old-yaml`},
		{"", "bad.example/m", "v1.4.2", policy.KindMod, true, false, `rule "exact"`},
		{"", "bad.example/m", "v1.4.3", policy.KindMod, false, false, `allowed by rule 8`},
		{"", "example.com/legacy", "v1.0.0", policy.KindZip, false, false, `allowed by rule "legacy"`},
		{"", "example.com/legacy", "v1.1.0", policy.KindZip, false, false, `allowed by rule "legacy"`},
		{"", "example.com/old/x/y", "v1.0.0", policy.KindZip, false, true, `warned by rule "legacy" (p.yaml:27): affected by GO-2023-0009`},
		{"", "example.com/oldish/x/y", "v1.0.0", policy.KindZip, true, false, `refused by rule 8 (p.yaml:42): affected by GO-2023-0009`},
		{"", "github.com/v/v", "v1.0.0", policy.KindInfo, true, false, `affected by GO-2024-0001, GO-2024-0002`},
		{"", "fresh.example", "v1.0.0", policy.KindInfo, true, false, `rule "fresh" (p.yaml:32): published`},
		{"", "fresh.example", "v0.9.0", policy.KindInfo, false, false, `allowed by rule "fresh"`},
		{"", "r.example", "v1.1.0", policy.KindInfo, true, false, `retracted: published by mistake see issue 4`},
		{"", "r.example", "v1.2.0", policy.KindInfo, false, false, `allowed`},
		{"", "pseudo.example", "v0.0.0-20200101000000-abcdefabcdef", policy.KindInfo, true, false, `rule 6 (p.yaml:38): pseudo-versions are denied`},
		{"", "pseudo.example", "v1.0.0", policy.KindInfo, false, false, `rule 6`},
		{"", "lic.example", "v1.0.0", policy.KindZip, false, false, `allowed by rule 7`},
		{"", "lic.example", "v1.1.0", policy.KindZip, true, false, `license GPL-3.0 not allowed; allowed: MIT`},
		{"", "lic.example", "v1.1.0", policy.KindInfo, false, false, `allowed by rule 7`}, // licenses are judged on zips
		{"", "lic.example", "v1.1.0", policy.KindCheck, true, false, `license GPL-3.0 not allowed`},
		{"", "lic.example", "v1.2.0", policy.KindZip, true, false, `no license found`},
		// The strict set.
		{"prod-ci", "corp.example/x", "v0.0.0-20200101000000-abcdefabcdef", policy.KindZip, false, false, `allowed by set "strict" rule 1 (p.yaml:11)`},
		{"prod-ci", "gopkg.in/yaml.v2", "v0.5.0", policy.KindZip, true, false, `set "strict" default (p.yaml:9): no rule matches, and the default is deny`},
		{"prod-ci", "github.com/a/b", "v1.2.0", policy.KindZip, false, false, `allowed by set "strict" rule "vetted"`},
		{"auditor", "github.com/a/b", "v1.3.0", policy.KindInfo, true, false, `min-age is 14 days`},
		{"auditor", "github.com/a/b", "v1.3.0-0.20200101000000-abcdefabcdef", policy.KindInfo, true, false, `pseudo-versions are denied`},
		{"auditor", "github.com/a/b", "v0.9.0", policy.KindInfo, true, false, `default`},
		{"auditor", "github.com/lic/x", "v1.0.0", policy.KindZip, true, false, `license Apache-2.0 not allowed`},
		{"someone", "github.com/a/b", "v1.3.0", policy.KindInfo, false, false, `allowed by rule 8`},
	} {
		t.Run(tc.token+"/"+tc.mod+"@"+tc.ver+"/"+tc.kind.String(), func(t *testing.T) {
			m := module.Version{Path: tc.mod, Version: tc.ver}
			d, err := p.Decide(context.Background(), policy.Subject{Token: tc.token}, m, tc.kind, f)
			if err != nil {
				t.Fatal(err)
			}
			if d.Refused() != tc.refused || d.Warned() != tc.warned {
				t.Errorf("%v: Refused %v Warned %v, want %v %v", d, d.Refused(), d.Warned(), tc.refused, tc.warned)
			}
			if s := d.String(); !strings.Contains(s, tc.want) || !strings.HasPrefix(s, "gomirror policy: "+tc.mod+"@"+tc.ver+" ") {
				t.Errorf("String() = %q, want it to contain %q", s, tc.want)
			}
			err = &policy.RefusedError{Decision: d}
			if err.Error() != d.String() {
				t.Errorf("RefusedError text %q != decision %q", err, d)
			}
		})
	}
}

func TestDecideFactsLazy(t *testing.T) {
	p, err := policy.Parse("p.yaml", []byte(testPolicy))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	f := &facts{}
	// A deny rule, a version no check judges, asks for nothing.
	if _, err := p.Decide(ctx, policy.Subject{}, module.Version{Path: "gopkg.in/yaml.v2", Version: "v2.0.0"}, policy.KindZip, f); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Decide(ctx, policy.Subject{}, module.Version{Path: "pseudo.example", Version: "v1.0.0"}, policy.KindZip, f); err != nil {
		t.Fatal(err)
	}
	if len(f.calls) != 0 {
		t.Errorf("facts asked: %v, want none", f.calls)
	}
	// Pseudo-version refused before min-age asks for the time.
	if _, err := p.Decide(ctx, policy.Subject{Token: "prod-ci"}, module.Version{Path: "x.example/m", Version: "v1.0.1-0.20200101000000-abcdefabcdef"}, policy.KindZip, f); err != nil {
		t.Fatal(err)
	}
	if len(f.calls) != 0 {
		t.Errorf("facts asked: %v, want none", f.calls)
	}
	// A missing time is an error, not an allowance.
	_, err = p.Decide(ctx, policy.Subject{}, module.Version{Path: "fresh.example", Version: "v2.0.0"}, policy.KindInfo, f)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Decide with no time: %v, want fs.ErrNotExist", err)
	}
}

func TestDecideUnknownAndNoVulnDB(t *testing.T) {
	p, err := policy.Parse("p.yaml", []byte(testPolicy))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	d, err := p.Decide(ctx, policy.Subject{}, module.Version{Path: "fresh.example", Version: "v1.0.0"}, policy.KindList, &facts{unknown: true})
	if err != nil {
		t.Fatal(err)
	}
	if !d.Allowed || d.Cacheable() {
		t.Errorf("unknown time: %v cacheable %v, want allowed, not cacheable", d, d.Cacheable())
	}
	d, err = p.Decide(ctx, policy.Subject{}, module.Version{Path: "github.com/x/y", Version: "v1.0.0"}, policy.KindInfo, &facts{noVulnDB: true})
	if err != nil {
		t.Fatal(err)
	}
	if !d.Refused() || d.Cacheable() || d.Reason != "vulnerability database not available" {
		t.Errorf("no vuln DB: %v cacheable %v, want refused, not cacheable", d, d.Cacheable())
	}
	d, err = p.Decide(ctx, policy.Subject{}, module.Version{Path: "fresh.example", Version: "v1.0.0"}, policy.KindInfo, &facts{time: map[string]time.Time{"fresh.example@v1.0.0": time.Now().Add(-6 * 24 * time.Hour)}})
	if err != nil {
		t.Fatal(err)
	}
	if !d.Refused() || d.Until.IsZero() || time.Until(d.Until) > 25*time.Hour || time.Until(d.Until) < 23*time.Hour {
		t.Errorf("min-age: %v until %v, want refused for about a day", d, d.Until)
	}
}

func TestDecideBadVersion(t *testing.T) {
	p, err := policy.Parse("p.yaml", []byte(testPolicy))
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"master", "v1.2", "v1.2.3+meta", ""} {
		if _, err := p.Decide(context.Background(), policy.Subject{}, module.Version{Path: "a.example", Version: v}, policy.KindInfo, &facts{}); err == nil {
			t.Errorf("Decide(%q): no error", v)
		}
	}
	if _, err := p.Decide(context.Background(), policy.Subject{}, module.Version{Path: "a.example", Version: "v2.0.0+incompatible"}, policy.KindInfo, &facts{}); err != nil {
		t.Errorf("Decide(+incompatible): %v", err)
	}
}

func TestNilPolicy(t *testing.T) {
	var p *policy.Policy
	d, err := p.Decide(context.Background(), policy.Subject{}, module.Version{Path: "a.example", Version: "v1.0.0"}, policy.KindZip, nil)
	if err != nil || !d.Allowed || d.Refused() {
		t.Errorf("nil policy: %v, %v", d, err)
	}
}

func TestDefaultDenyTop(t *testing.T) {
	p, err := policy.Parse("p.yaml", []byte("default: deny\nrules:\n  - module: ok.example\n"))
	if err != nil {
		t.Fatal(err)
	}
	d, _ := p.Decide(context.Background(), policy.Subject{}, module.Version{Path: "other.example", Version: "v1.0.0"}, policy.KindInfo, &facts{})
	if !d.Refused() || !strings.Contains(d.String(), "default (p.yaml:1)") {
		t.Errorf("got %v", d)
	}
	d, _ = p.Decide(context.Background(), policy.Subject{}, module.Version{Path: "ok.example/sub", Version: "v1.0.0"}, policy.KindInfo, &facts{})
	if d.Refused() {
		t.Errorf("got %v", d)
	}
}

func TestMain(m *testing.M) { os.Exit(m.Run()) }

// loadingFacts answers Vulns as a database still loading does.
type loadingFacts struct{ *facts }

type loadingErr struct{}

func (loadingErr) Error() string     { return "loading" }
func (loadingErr) Unavailable() bool { return true }

func (loadingFacts) Vulns(context.Context, module.Version) ([]policy.Advisory, error) {
	return nil, fmt.Errorf("%w: %w", policy.ErrNoVulnDB, loadingErr{})
}

// A refusal for want of a vulnerability database that is loading is
// Unavailable (a 503 with Retry-After); for want of any, it is not.
func TestRefusedErrorUnavailable(t *testing.T) {
	p, err := policy.Parse("p.yaml", []byte("rules:\n  - module: github.com/x\n    deny-vulnerable: true\n"))
	if err != nil {
		t.Fatal(err)
	}
	m := module.Version{Path: "github.com/x/y", Version: "v1.0.0"}
	for _, tt := range []struct {
		name  string
		facts policy.Facts
		want  bool
	}{
		{"loading", loadingFacts{&facts{}}, true},
		{"none", &facts{noVulnDB: true}, false},
	} {
		d, err := p.Decide(context.Background(), policy.Subject{}, m, policy.KindInfo, tt.facts)
		if err != nil {
			t.Fatal(err)
		}
		if got := (&policy.RefusedError{Decision: d}).Unavailable(); !d.Refused() || got != tt.want {
			t.Errorf("%s: %v, Unavailable %v, want refused and %v", tt.name, d, got, tt.want)
		}
	}
}

// TestVersionsCoverPseudoVersions: a versions range whose lower bound is
// X.0.0 (every spelling of "all of major X") covers the pseudo-versions
// of an untagged major, vX.0.0-TS-HASH, which semver orders below X.0.0;
// a range that starts higher does not.
func TestVersionsCoverPseudoVersions(t *testing.T) {
	const untagged, untagged2 = "v0.0.0-20200101000000-abcdefabcdef", "v2.0.0-20200101000000-abcdefabcdef"
	for _, tc := range []struct {
		versions, version string
		match             bool
	}{
		{"*", untagged, true},
		{"x", untagged, true},
		{">=0.0.0", untagged, true},
		{"0.x", untagged, true},
		{"^0", untagged, true},
		{"~0", untagged, true},
		{"0", untagged, true},
		{"^0.0", untagged, true},
		{"v0", untagged, true},
		{"<1.0.0", untagged, true},
		{"*", untagged2, true},
		{"2.x", untagged2, true},
		{">=2.0.0", untagged2, true},
		{"v2", untagged2, true},
		{"1.x", untagged2, false},
		{">=0.1.0", untagged, false},
		{">=2.0.1", untagged2, false},
		{">=1.0.0", "v1.2.4-0.20200101000000-abcdefabcdef", true},
		{"<1.2.0", "v1.2.4-0.20200101000000-abcdefabcdef", false},
		{"*", "v1.0.0", true},
		// An exact version is that version only: a pseudo-version of the
		// same commit (v1.2.4-0.TS-HASH) is another version, which a
		// range or deny-pseudo-versions must cover (docs/policy.md says so).
		{"v1.2.3", "v1.2.4-0.20200101000000-abcdefabcdef", false},
		{"<=1.2.3", "v1.2.4-0.20200101000000-abcdefabcdef", false},
		{"<1.3.0", "v1.2.4-0.20200101000000-abcdefabcdef", true},
	} {
		t.Run(tc.versions+"/"+tc.version, func(t *testing.T) {
			src := fmt.Sprintf("rules:\n  - name: r\n    module: example.com/m\n    versions: %q\n    action: deny\n", tc.versions)
			p, err := policy.Parse("p.yaml", []byte(src))
			if err != nil {
				t.Fatal(err)
			}
			d, err := p.Decide(context.Background(), policy.Subject{}, module.Version{Path: "example.com/m", Version: tc.version}, policy.KindZip, &facts{})
			if err != nil {
				t.Fatal(err)
			}
			if d.Matched() != tc.match || d.Refused() != tc.match {
				t.Errorf("versions %q, %s: %v; want matched %v", tc.versions, tc.version, d, tc.match)
			}
		})
	}
}

// TestTopLevelWarnCoversDefault: a top-level `mode: warn` (the dry run of
// a new policy) makes the default's refusal a warning too, in the sets as
// at the top level.
func TestTopLevelWarnCoversDefault(t *testing.T) {
	p, err := policy.Parse("p.yaml", []byte("mode: warn\ndefault: deny\nsets:\n  - name: s\n    tokens: [ci]\n    rules: []\nrules:\n  - module: ok.example\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, token := range []string{"", "ci"} {
		d, err := p.Decide(context.Background(), policy.Subject{Token: token}, module.Version{Path: "other.example", Version: "v1.0.0"}, policy.KindInfo, &facts{})
		if err != nil {
			t.Fatal(err)
		}
		if d.Refused() || !d.Warned() || d.Mode != policy.Warn {
			t.Errorf("token %q: %v (mode %v); want warned by the default", token, d, d.Mode)
		}
	}
	p, _ = policy.Parse("p.yaml", []byte("default: deny\nrules: []\n"))
	if d, _ := p.Decide(context.Background(), policy.Subject{}, module.Version{Path: "other.example", Version: "v1.0.0"}, policy.KindInfo, &facts{}); !d.Refused() {
		t.Errorf("enforced default: %v", d)
	}
}

// TestReasonPrintable: the go command drops a 403 body that has a rune
// that is not graphic (so a retraction rationale with U+0085, U+200B or
// U+202E would hide the reason), and prints "[Truncated: too long.]" for
// a first line over 648 bytes: a decision's text has neither, whatever
// the rationale or however many advisories.
func TestReasonPrintable(t *testing.T) {
	p, err := policy.Parse("p.yaml", []byte(testPolicy))
	if err != nil {
		t.Fatal(err)
	}
	var many []policy.Advisory
	for i := range 60 {
		many = append(many, policy.Advisory{ID: fmt.Sprintf("GO-2024-%04d", i)})
	}
	f := &facts{
		retracted: map[string]string{"r.example@v1.1.0": "bad\u0085 release\u200b here\u202e\tnow\x7f"},
		vulns:     map[string][]policy.Advisory{"github.com/v/v@v1.0.0": many},
	}
	for _, m := range []module.Version{{Path: "r.example", Version: "v1.1.0"}, {Path: "github.com/v/v", Version: "v1.0.0"}} {
		d, err := p.Decide(context.Background(), policy.Subject{}, m, policy.KindInfo, f)
		if err != nil {
			t.Fatal(err)
		}
		s := d.String()
		if !d.Refused() || len(s) > 600 {
			t.Errorf("%v: %d bytes, want refused and at most 600", s, len(s))
		}
		for _, r := range s {
			if !unicode.IsGraphic(r) {
				t.Errorf("%q: rune %U is not graphic", s, r)
			}
		}
	}
	d, _ := p.Decide(context.Background(), policy.Subject{}, module.Version{Path: "r.example", Version: "v1.1.0"}, policy.KindInfo, f)
	if !strings.HasSuffix(d.Reason, "retracted: bad release here now") {
		t.Errorf("reason %q", d.Reason)
	}
	d, _ = p.Decide(context.Background(), policy.Subject{}, module.Version{Path: "github.com/v/v", Version: "v1.0.0"}, policy.KindInfo, f)
	if !strings.HasSuffix(d.Reason, "GO-2024-0009 and 50 more") {
		t.Errorf("reason %q", d.Reason)
	}
}

// TestMinAgeReasonStable: a min-age refusal is cached until the version is
// old enough, so its text says the dates, not an age that goes stale.
func TestMinAgeReasonStable(t *testing.T) {
	p, err := policy.Parse("p.yaml", []byte(testPolicy))
	if err != nil {
		t.Fatal(err)
	}
	pub := time.Now().Add(-2 * 24 * time.Hour).Truncate(time.Second)
	f := &facts{time: map[string]time.Time{"fresh.example@v1.0.0": pub}}
	d, err := p.Decide(context.Background(), policy.Subject{}, module.Version{Path: "fresh.example", Version: "v1.0.0"}, policy.KindInfo, f)
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("published %s, min-age is 7 days: refused until %s", pub.UTC().Format(time.RFC3339), pub.Add(7*24*time.Hour).UTC().Format(time.RFC3339))
	if d.Reason != want {
		t.Errorf("reason %q, want %q", d.Reason, want)
	}
}

// TestMinAgePseudoVersionTime: a pseudo-version's age is its own
// timestamp (which the checksum database covers, being part of the
// version), not the upstream's .info Time: an upstream that backdates
// the .info of a fresh commit does not pass min-age, and no time is
// asked for.
func TestMinAgePseudoVersionTime(t *testing.T) {
	p, err := policy.Parse("p.yaml", []byte(testPolicy))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	ts := time.Now().Add(-time.Hour).UTC()
	v := module.PseudoVersion("v1", "", ts, "abcdef123456")
	f := &facts{time: map[string]time.Time{"fresh.example@" + v: ts.Add(-365 * 24 * time.Hour)}}
	d, err := p.Decide(ctx, policy.Subject{}, module.Version{Path: "fresh.example", Version: v}, policy.KindInfo, f)
	if err != nil {
		t.Fatal(err)
	}
	if !d.Refused() || !strings.Contains(d.Reason, "published "+ts.Format("2006-01-02T15:04:05Z")) || f.calls["time"] != 0 {
		t.Errorf("fresh pseudo-version with a backdated .info: %v (time asked %d times); want refused by its own timestamp, no time asked", d, f.calls["time"])
	}
}

// TestRangeEdges pins what the docs say of ranges' edges: "<X.0.0"
// covers X.0.0's pre-releases and untagged-major pseudo-versions; "~1.2"
// ends before v1.3.0-rc.1, "<1.3.0" does not.
func TestRangeEdges(t *testing.T) {
	for _, tc := range []struct {
		versions, version string
		refused           bool
	}{
		{"<2.0.0", "v2.0.0-20240101000000-abcdef012345", true},
		{"<2.0.0", "v2.0.0-rc.1", true},
		{">=2.0.0", "v2.0.0-20240101000000-abcdef012345", true},
		{"~1.2", "v1.3.0-rc.1", false},
		{"<1.3.0", "v1.3.0-rc.1", true},
	} {
		p, err := policy.Parse("p.yaml", []byte("rules:\n  - module: a.example\n    versions: \""+tc.versions+"\"\n    action: deny\n"))
		if err != nil {
			t.Fatal(err)
		}
		d, err := p.Decide(context.Background(), policy.Subject{}, module.Version{Path: "a.example", Version: tc.version}, policy.KindInfo, &facts{})
		if err != nil || d.Refused() != tc.refused {
			t.Errorf("versions %q, %s: %v, %v; want refused %v", tc.versions, tc.version, d, err, tc.refused)
		}
	}
}
