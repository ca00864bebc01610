package policycheck

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/module"

	"github.com/gomirror/gomirror/internal/fakeproxy"
	"github.com/gomirror/gomirror/internal/testutil"
	"github.com/gomirror/gomirror/policy"
)

// newUpstream is a fake proxy with, besides its fixtures, modules for
// each check: one with an MIT LICENSE, one without a license, and a
// module whose latest version retracts its first.
func newUpstream(t *testing.T) *fakeproxy.Server {
	t.Helper()
	up := fakeproxy.New(t)
	mit, err := os.ReadFile("testdata/MIT.txt")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []struct {
		path, version string
		files         map[string][]byte
	}{
		{"example.com/licensed", "v1.0.0", map[string][]byte{"LICENSE": mit, "a.go": []byte("package a\n")}},
		{"example.com/unlicensed", "v1.0.0", map[string][]byte{"a.go": []byte("package a\n")}},
		{"example.com/retracting", "v1.0.0", map[string][]byte{"go.mod": []byte("module example.com/retracting\n")}},
		{"example.com/retracting", "v1.1.0", map[string][]byte{"go.mod": []byte("module example.com/retracting\n\nretract v1.0.0 // broken build\n")}},
		{"example.com/retracting", "v1.2.0-rc.1", map[string][]byte{"go.mod": []byte("module example.com/retracting\n")}},
	} {
		if _, err := up.Add(m.path, m.version, m.files); err != nil {
			t.Fatal(err)
		}
	}
	return up
}

func mustPolicy(t *testing.T, src string) *policy.Policy {
	t.Helper()
	p, err := policy.Parse("policy.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestProxyFacts checks each fact against the fake proxy.
func TestProxyFacts(t *testing.T) {
	up := newUpstream(t)
	f := &ProxyFacts{Proxy: up.URL}
	defer f.Close()
	ctx := context.Background()
	mv := func(p, v string) module.Version { return module.Version{Path: p, Version: v} }

	tm, err := f.Time(ctx, mv("example.com/hello", "v1.1.0"))
	if err != nil || !tm.Equal(time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)) {
		t.Errorf("Time = %v, %v", tm, err)
	}
	if _, err := f.Time(ctx, mv("example.com/hello", "v9.9.9")); err == nil {
		t.Error("Time of a missing version: no error")
	}
	why, ok, err := f.Retracted(ctx, mv("example.com/retracting", "v1.0.0"))
	if err != nil || !ok || why != "broken build" {
		t.Errorf("Retracted(v1.0.0) = %q %v %v", why, ok, err)
	}
	if _, ok, err := f.Retracted(ctx, mv("example.com/retracting", "v1.1.0")); err != nil || ok {
		t.Errorf("Retracted(v1.1.0) = %v %v", ok, err)
	}
	if n := up.Hits("/example.com/retracting/@v/v1.1.0.mod"); n != 1 {
		t.Errorf("the latest go.mod was fetched %d times, want once (not the pre-release's)", n)
	}
	ids, err := f.Licenses(ctx, mv("example.com/licensed", "v1.0.0"))
	if err != nil || len(ids) != 1 || ids[0] != "MIT" {
		t.Errorf("Licenses(licensed) = %q, %v", ids, err)
	}
	ids, err = f.Licenses(ctx, mv("example.com/unlicensed", "v1.0.0"))
	if err != nil || len(ids) != 0 {
		t.Errorf("Licenses(unlicensed) = %q, %v", ids, err)
	}
	if _, err := f.Vulns(ctx, mv("example.com/hello", "v1.1.0")); err != policy.ErrNoVulnDB {
		t.Errorf("Vulns without a database: %v", err)
	}
	// The zips are not kept.
	filepath.WalkDir(f.dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".zip") {
			t.Errorf("temporary directory keeps %s", path)
		}
		return nil
	})
	dir := f.dir
	f.Close()
	if _, err := os.Stat(dir); err == nil {
		t.Errorf("Close left %s", dir)
	}
}

// TestLocalDecide decides with a policy file and facts from the fake
// proxy, one rule per check.
func TestLocalDecide(t *testing.T) {
	up := newUpstream(t)
	facts := &ProxyFacts{Proxy: up.URL}
	defer facts.Close()
	pol := mustPolicy(t, `
rules:
  - name: no-hello-1.2
    module: example.com/hello
    versions: ">=1.2.0"
    action: deny
  - name: young
    module: example.com/hello
    min-age: 36500
    mode: warn
  - name: no-retracted
    module: example.com/retracting
    deny-retracted: true
  - name: mit-only
    module: example.com/licensed, example.com/unlicensed
    licenses: [MIT]
  - name: no-pseudo
    module: example.com/dep
    deny-pseudo-versions: true
`)
	l := &Local{Policy: pol, Facts: facts, Explain: true}
	mv := func(p, v string) module.Version { return module.Version{Path: p, Version: v} }
	qs := []Query{
		{Module: mv("example.com/hello", "v1.2.0"), Kind: Code},
		{Module: mv("example.com/hello", "v1.1.0"), Kind: Code},
		{Module: mv("example.com/retracting", "v1.0.0"), Kind: Code},
		{Module: mv("example.com/retracting", "v1.1.0"), Kind: Code},
		{Module: mv("example.com/licensed", "v1.0.0"), Kind: Code},
		{Module: mv("example.com/unlicensed", "v1.0.0"), Kind: Code},
		{Module: mv("example.com/unlicensed", "v1.0.0"), Kind: GoModOnly},
		{Module: mv("example.com/dep", "v0.0.0-20240102030405-abcdefabcdef"), Kind: Code},
		{Module: mv("example.com/missing", "v1.0.0"), Kind: Code},
	}
	ds, err := l.Decide(context.Background(), qs)
	if err != nil {
		t.Fatal(err)
	}
	type want struct {
		allowed bool
		mode    string
		rule    string
		reason  string
	}
	wants := []want{
		{false, "enforce", "no-hello-1.2", "denied for versions >=1.2.0"},
		{true, "warn", "young", "published 2024-01-02T03:04:05Z"},
		{false, "enforce", "no-retracted", "retracted: broken build"},
		{true, "", "no-retracted", "allowed"},
		{true, "", "mit-only", "allowed"},
		{false, "enforce", "mit-only", "no license found; allowed: MIT"},
		{true, "", "mit-only", "allowed"}, // only the go.mod: licenses not judged
		{false, "enforce", "no-pseudo", "pseudo-versions are denied"},
		{true, "", "default", "no rule matches"},
	}
	for i, w := range wants {
		d := ds[i]
		if d.Error != "" || d.Allowed != w.allowed || d.Mode != w.mode || d.Rule != w.rule || !strings.HasPrefix(d.Reason, w.reason) {
			t.Errorf("%s@%s (%s): %+v\nwant %+v", qs[i].Module.Path, qs[i].Module.Version, qs[i].Kind, d, w)
		}
	}
	// Explain: the failing check is the last, with its fact.
	if c := ds[5].Checks; len(c) != 1 || c[0].Name != "licenses" || c[0].Passed || c[0].Fact != "no license found" {
		t.Errorf("checks of unlicensed: %+v", c)
	}
	if c := ds[4].Checks; len(c) != 1 || !c[0].Passed || c[0].Fact != "licenses MIT" {
		t.Errorf("checks of licensed: %+v", c)
	}
	if c := ds[2].Checks; len(c) != 1 || c[0].Name != "deny-retracted" || c[0].Passed {
		t.Errorf("checks of retracted: %+v", c)
	}

	// A fact that cannot be fetched: that version is not decided.
	pol = mustPolicy(t, "rules:\n  - module: example.com/missing\n    min-age: 1\n")
	ds, err = (&Local{Policy: pol, Facts: facts}).Decide(context.Background(), []Query{{Module: mv("example.com/missing", "v1.0.0"), Kind: Code}})
	if err != nil || ds[0].Error == "" {
		t.Errorf("missing version: %+v, %v", ds, err)
	}
}

// TestProxyFactsZipSum: a zip whose hash is not the project's go.sum's is
// not read for licenses.
func TestProxyFactsZipSum(t *testing.T) {
	up := newUpstream(t)
	facts := &ProxyFacts{Proxy: up.URL}
	defer facts.Close()
	pol := mustPolicy(t, "rules:\n  - module: example.com/licensed\n    licenses: [MIT]\n")
	m := module.Version{Path: "example.com/licensed", Version: "v1.0.0"}
	good, err := testutil.HashZip(up.Module(m.Path, m.Version).Zip)
	if err != nil {
		t.Fatal(err)
	}
	l := &Local{Policy: pol, Facts: facts}
	ds, err := l.Decide(context.Background(), []Query{{Module: m, Kind: Code, ZipSum: good}})
	if err != nil || ds[0].Error != "" || !ds[0].Allowed {
		t.Fatalf("with the right hash: %+v, %v", ds, err)
	}
	ds, err = l.Decide(context.Background(), []Query{{Module: m, Kind: Code, ZipSum: "h1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}})
	if err != nil || !strings.Contains(ds[0].Error, "checksum mismatch") {
		t.Errorf("with another hash: %+v, %v", ds, err)
	}
}
