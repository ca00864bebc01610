package policy_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gomirror/gomirror/policy"
	"golang.org/x/mod/module"
)

func writeFile(t *testing.T, path, src string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestLiveReload(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "policy.yaml")
	writeFile(t, path, "rules:\n  - module: a.example\n    action: deny\n")
	var reloads []error
	l, err := policy.Open(policy.LiveOptions{Log: quiet, Path: path, OnReload: func(err error) { reloads = append(reloads, err) }})
	if err != nil {
		t.Fatal(err)
	}
	a := module.Version{Path: "a.example", Version: "v1.0.0"}
	b := module.Version{Path: "b.example", Version: "v1.0.0"}
	decide := func(m module.Version) policy.Decision {
		t.Helper()
		d, err := l.Decide(ctx, policy.Subject{}, m, policy.KindInfo, &facts{})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	if !decide(a).Refused() || decide(b).Refused() {
		t.Fatal("first policy not in force")
	}
	if _, ok := l.Cached(policy.Subject{}, a, policy.KindInfo); !ok {
		t.Error("decision not cached")
	}
	// Unchanged file: no reload.
	if changed, err := l.Reload(); changed || err != nil {
		t.Errorf("Reload of the same file = %v, %v", changed, err)
	}
	// An edit takes effect, and drops the cached decisions.
	writeFile(t, path, "rules:\n  - module: b.example\n    action: deny\n")
	if changed, err := l.Reload(); !changed || err != nil {
		t.Fatalf("Reload = %v, %v", changed, err)
	}
	if decide(a).Refused() || !decide(b).Refused() {
		t.Fatal("edited policy not in force")
	}
	// A bad edit keeps the last good policy, and says so once.
	writeFile(t, path, "rules:\n  - module: b.example\n    action: deny\n    colour: blue\n")
	if changed, err := l.Reload(); changed || err == nil || !strings.Contains(err.Error(), "policy.yaml:4:") {
		t.Fatalf("Reload of a bad file = %v, %v", changed, err)
	}
	if !decide(b).Refused() {
		t.Fatal("last good policy not in force after a bad edit")
	}
	st := l.Status()
	if !strings.Contains(st.Error, `unknown key "colour"`) || st.Reloads != 1 || st.Failures != 1 || st.Rules != 1 {
		t.Errorf("Status = %+v", st)
	}
	if _, err := l.Reload(); err == nil {
		t.Error("the bad file's error is not reported again")
	}
	if l.Status().Failures != 1 {
		t.Error("the same bad file counted twice")
	}
	// A removed file keeps the policy too.
	os.Remove(path)
	if _, err := l.Reload(); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Reload of a removed file: %v", err)
	}
	if !decide(b).Refused() {
		t.Fatal("last good policy not in force after the file was removed")
	}
	writeFile(t, path, "default: deny\n")
	if changed, err := l.Reload(); !changed || err != nil {
		t.Fatalf("Reload = %v, %v", changed, err)
	}
	if st := l.Status(); st.Error != "" || st.Reloads != 2 {
		t.Errorf("Status = %+v", st)
	}
	if !decide(a).Refused() {
		t.Error("default: deny not in force")
	}
	if len(reloads) != 4 || reloads[0] != nil || reloads[1] == nil || reloads[3] != nil {
		t.Errorf("OnReload calls: %v", reloads)
	}
}

func TestLiveOpenBadFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "policy.yaml")
	writeFile(t, path, "rules:\n  - module: a.example\n    versions: \">=banana\"\n")
	_, err := policy.Open(policy.LiveOptions{Log: quiet, Path: path})
	var se *policy.SyntaxError
	if !errors.As(err, &se) || se.Line != 3 {
		t.Fatalf("Open of a bad file: %v", err)
	}
}

func TestLiveCacheExpiry(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "policy.yaml")
	writeFile(t, path, "rules:\n  - module: fresh.example\n    min-age: 1\n  - module: r.example\n    deny-retracted: true\n  - module: v.example\n    deny-vulnerable: true\n")
	l, err := policy.Open(policy.LiveOptions{Log: quiet, Path: path, RetractedTTL: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	m := module.Version{Path: "fresh.example", Version: "v1.0.0"}
	// Published a day ago less 50 ms: refused, and the refusal ends then.
	f := &facts{time: map[string]time.Time{"fresh.example@v1.0.0": time.Now().Add(-24*time.Hour + 50*time.Millisecond)}}
	d, err := l.Decide(ctx, policy.Subject{}, m, policy.KindInfo, f)
	if err != nil || !d.Refused() {
		t.Fatalf("Decide = %v, %v", d, err)
	}
	if _, ok := l.Cached(policy.Subject{}, m, policy.KindInfo); !ok {
		t.Fatal("min-age refusal not cached")
	}
	for time.Now().Before(d.Until) {
		<-time.After(time.Until(d.Until)) // waits for the deadline under test, not for another goroutine
	}
	if _, ok := l.Cached(policy.Subject{}, m, policy.KindInfo); ok {
		t.Error("min-age refusal cached past its Until")
	}
	d, err = l.Decide(ctx, policy.Subject{}, m, policy.KindInfo, f)
	if err != nil || d.Refused() {
		t.Fatalf("Decide after the age = %v, %v", d, err)
	}
	// A retraction decision lives no longer than RetractedTTL (1ns here).
	r := module.Version{Path: "r.example", Version: "v1.0.0"}
	if _, err := l.Decide(ctx, policy.Subject{}, r, policy.KindInfo, &facts{}); err != nil {
		t.Fatal(err)
	}
	if _, ok := l.Cached(policy.Subject{}, r, policy.KindInfo); ok {
		t.Error("retraction decision cached past RetractedTTL")
	}
	// No vulnerability database: refused, not cached.
	v := module.Version{Path: "v.example", Version: "v1.0.0"}
	if d, _ := l.Decide(ctx, policy.Subject{}, v, policy.KindInfo, &facts{noVulnDB: true}); !d.Refused() {
		t.Errorf("no vuln DB: %v", d)
	}
	if _, ok := l.Cached(policy.Subject{}, v, policy.KindInfo); ok {
		t.Error("a decision without the vulnerability database cached")
	}
	// Invalidate drops what is cached.
	vf := &facts{vulns: map[string][]policy.Advisory{}}
	if d, _ := l.Decide(ctx, policy.Subject{}, v, policy.KindInfo, vf); d.Refused() {
		t.Errorf("not vulnerable: %v", d)
	}
	if _, ok := l.Cached(policy.Subject{}, v, policy.KindInfo); !ok {
		t.Error("not cached")
	}
	l.Invalidate()
	if _, ok := l.Cached(policy.Subject{}, v, policy.KindInfo); ok {
		t.Error("cached after Invalidate")
	}
	// A zip decision is not an info decision (licenses).
	if _, ok := l.Cached(policy.Subject{}, m, policy.KindZip); ok {
		t.Error("info decision answers for a zip")
	}
}

func TestLiveCachedAllocs(t *testing.T) {
	path := filepath.Join(t.TempDir(), "policy.yaml")
	writeFile(t, path, "sets:\n  - name: s\n    tokens: [ci]\n    rules:\n      - module: a.example\nrules:\n  - module: a.example\n    action: deny\n")
	l, err := policy.Open(policy.LiveOptions{Log: quiet, Path: path})
	if err != nil {
		t.Fatal(err)
	}
	m := module.Version{Path: "a.example", Version: "v1.0.0"}
	subj := policy.Subject{Token: "ci"}
	if d, _ := l.Decide(context.Background(), subj, m, policy.KindInfo, &facts{}); d.Refused() {
		t.Fatalf("set s not applied: %v", d)
	}
	if d, _ := l.Decide(context.Background(), policy.Subject{}, m, policy.KindInfo, &facts{}); !d.Refused() {
		t.Fatalf("top-level rules not applied: %v", d)
	}
	if a := testing.AllocsPerRun(100, func() { l.Cached(subj, m, policy.KindInfo) }); a != 0 {
		t.Errorf("Cached allocates %v times", a)
	}
}

var quiet = slog.New(slog.DiscardHandler)

// TestLivePollSettles: Run's poll puts a changed file in force only once
// two consecutive polls read the same content, so that a file caught half
// written (valid YAML, cut in the middle of a module path) is never in
// force, and is not reported as bad either.
func TestLivePollSettles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "policy.yaml")
	writeFile(t, path, "rules:\n  - module: good.example\n")
	var reloads []error
	l, err := policy.Open(policy.LiveOptions{Log: quiet, Path: path, OnReload: func(err error) { reloads = append(reloads, err) }})
	if err != nil {
		t.Fatal(err)
	}
	full := "rules:\n  - module: example.com/evil\n    action: deny\n  - module: \"*\"\n    action: deny\n"
	evil := module.Version{Path: "example.com/evil", Version: "v1.0.0"}
	refused := func() bool {
		d, err := l.Policy().Decide(context.Background(), policy.Subject{}, evil, policy.KindInfo, &facts{})
		if err != nil {
			t.Fatal(err)
		}
		return d.Refused()
	}
	for _, cut := range []int{strings.Index(full, "evil"), strings.Index(full, "    action")} {
		writeFile(t, path, full[:cut]) // "module: example.com/" (valid), and a file that is invalid
		if changed, err := l.Poll(); changed || err != nil {
			t.Errorf("first poll of a changed file: %v, %v; want it left until it settles", changed, err)
		}
	}
	writeFile(t, path, full)
	if changed, err := l.Poll(); changed || err != nil {
		t.Errorf("poll of a file that changed since the last poll: %v, %v", changed, err)
	}
	if refused() {
		t.Fatal("a file not settled is in force")
	}
	if changed, err := l.Poll(); !changed || err != nil {
		t.Fatalf("second poll of the same content: %v, %v; want it in force", changed, err)
	}
	if !refused() {
		t.Error("the settled file is not in force")
	}
	if len(reloads) != 1 || reloads[0] != nil {
		t.Errorf("OnReload calls: %v; want one, without error (no noise from half-written files)", reloads)
	}
}
