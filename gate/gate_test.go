package gate_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/module"

	"github.com/gomirror/gomirror/cache"
	"github.com/gomirror/gomirror/gate"
	"github.com/gomirror/gomirror/layout"
	"github.com/gomirror/gomirror/modinfo"
	"github.com/gomirror/gomirror/obs"
	"github.com/gomirror/gomirror/policy"
	"github.com/gomirror/gomirror/proxy"
	"github.com/gomirror/gomirror/storage"
	"github.com/gomirror/gomirror/storage/mem"
)

// inner is a proxy.Mirror from maps, counting its calls.
type inner struct {
	mu       sync.Mutex
	times    map[string]time.Time // path@version
	versions map[string][]string  // path → list
	latest   map[string]string    // path → @latest's version
	queries  map[string]string    // path@query → version
	mods     map[string]string    // path@version → go.mod, else "module path"
	calls    map[string]int       // "info path@version", ...
	failList map[string]error     // path → List's error
	failMod  map[string]error     // path@version → GoMod's error
}

func (m *inner) count(what string, em layout.Module) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v := em.Version()
	m.calls[what+" "+v.Path+"@"+v.Version]++
}

func (m *inner) called(what, path, version string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.calls[what+" "+path+"@"+version]
}

func (m *inner) List(_ context.Context, em layout.Module) ([]byte, cache.Source, error) {
	m.count("list", em)
	if err := m.failList[em.Version().Path]; err != nil {
		return nil, cache.Source{}, err
	}
	var b strings.Builder
	for _, v := range m.versions[em.Version().Path] {
		b.WriteString(v + "\n")
	}
	return []byte(b.String()), cache.Source{}, nil
}

func (m *inner) Latest(_ context.Context, em layout.Module) ([]byte, cache.Source, error) {
	m.count("latest", em)
	p := em.Version().Path
	v, ok := m.latest[p]
	if !ok {
		return nil, cache.Source{}, fs.ErrNotExist
	}
	return m.info(p, v), cache.Source{}, nil
}

func (m *inner) info(path, v string) []byte {
	return fmt.Appendf(nil, `{"Version":%q,"Time":%q}`, v, m.times[path+"@"+v].UTC().Format(time.RFC3339))
}

func (m *inner) Info(_ context.Context, em layout.Module) (*storage.Object, cache.Source, error) {
	m.count("info", em)
	v := em.Version()
	if !em.Canonical() {
		r, ok := m.queries[v.Path+"@"+v.Version]
		if !ok {
			return nil, cache.Source{}, fs.ErrNotExist
		}
		return storage.BytesObject(m.info(v.Path, r)), cache.Source{}, nil
	}
	if _, ok := m.times[v.Path+"@"+v.Version]; !ok {
		return nil, cache.Source{}, fs.ErrNotExist
	}
	return storage.BytesObject(m.info(v.Path, v.Version)), cache.Source{}, nil
}

// InfoNoPrefetch and PrefetchVersion make inner a gate.InfoFetcher, as
// the cache is.
func (m *inner) InfoNoPrefetch(ctx context.Context, em layout.Module) (*storage.Object, cache.Source, error) {
	m.count("info-noprefetch", em)
	obj, _, err := m.Info(ctx, em)
	return obj, cache.Source{Outcome: cache.Miss}, err
}

func (m *inner) PrefetchVersion(_ context.Context, em layout.Module) {
	m.count("prefetch", em)
}

func (m *inner) GoMod(_ context.Context, em layout.Module) (*storage.Object, cache.Source, error) {
	m.count("mod", em)
	v := em.Version()
	if err := m.failMod[v.Path+"@"+v.Version]; err != nil {
		return nil, cache.Source{}, err
	}
	if mod, ok := m.mods[v.Path+"@"+v.Version]; ok {
		return storage.BytesObject([]byte(mod)), cache.Source{}, nil
	}
	return storage.BytesObject([]byte("module " + v.Path + "\n")), cache.Source{}, nil
}

func (m *inner) Zip(_ context.Context, em layout.Module) (*storage.Object, cache.Source, error) {
	m.count("zip", em)
	return storage.BytesObject([]byte("PK")), cache.Source{}, nil
}

var quiet = slog.New(slog.DiscardHandler)

const gatePolicy = `rules:
  - name: no-1.1
    module: example.com/denied
    versions: ">=1.1.0 <1.2.0"
    action: deny
  - name: legacy
    module: example.com/warned
    action: deny
    mode: warn
  - name: cooling-off
    module: example.com/fresh
    min-age: 7
  - name: vulns
    module: example.com/vuln
    deny-vulnerable: true
`

type fixture struct {
	in        *inner
	g         *gate.Mirror
	decisions []string
}

func newFixture(t *testing.T, src string) *fixture {
	t.Helper()
	path := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	live, err := policy.Open(policy.LiveOptions{Path: path, Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	old, fresh := time.Now().Add(-30*24*time.Hour), time.Now().Add(-time.Hour)
	in := &inner{calls: map[string]int{},
		times: map[string]time.Time{
			"example.com/denied@v1.0.0": old, "example.com/denied@v1.1.0": old, "example.com/denied@v1.3.0-pre": old,
			"example.com/warned@v1.0.0": old,
			"example.com/fresh@v1.0.0":  old, "example.com/fresh@v1.1.0": fresh,
			"example.com/vuln@v1.0.0": old,
		},
		versions: map[string][]string{
			"example.com/denied": {"v1.0.0", "v1.1.0", "v1.3.0-pre"},
			"example.com/fresh":  {"v1.0.0", "v1.1.0"},
		},
		latest:  map[string]string{"example.com/denied": "v1.1.0", "example.com/fresh": "v1.1.0"},
		queries: map[string]string{"example.com/denied@main": "v1.1.0", "example.com/denied@v1.0": "v1.0.0"},
	}
	f := &fixture{in: in}
	f.g = gate.New(gate.Options{Mirror: in, Live: live, Store: mem.New(), Log: quiet,
		OnDecision: func(k policy.Kind, d policy.Decision) {
			f.decisions = append(f.decisions, k.String()+" "+d.Summary())
		}})
	return f
}

func mod(t *testing.T, path, version string) layout.Module {
	t.Helper()
	em, err := layout.Escape(module.Version{Path: path, Version: version})
	if err != nil {
		t.Fatal(err)
	}
	return em
}

func refusal(t *testing.T, err error, want string) {
	t.Helper()
	var re *policy.RefusedError
	if !errors.As(err, &re) || proxy.Status(err) != http.StatusForbidden || !strings.Contains(err.Error(), want) {
		t.Errorf("error %v (status %d), want a 403 refusal with %q", err, proxy.Status(err), want)
	}
}

func TestRefusedBeforeFetching(t *testing.T) {
	f := newFixture(t, gatePolicy)
	ctx := context.Background()
	m := mod(t, "example.com/denied", "v1.1.0")
	_, _, err := f.g.Info(ctx, m)
	refusal(t, err, `gomirror policy: example.com/denied@v1.1.0 refused by rule "no-1.1"`)
	_, _, err = f.g.GoMod(ctx, m)
	refusal(t, err, `rule "no-1.1"`)
	_, _, err = f.g.Zip(ctx, m)
	refusal(t, err, `rule "no-1.1"`)
	for _, k := range []string{"info", "mod", "zip"} {
		if n := f.in.called(k, "example.com/denied", "v1.1.0"); n != 0 {
			t.Errorf("a denied version's %s fetched %d times", k, n)
		}
	}
	if want := []string{"info refused by", "mod refused by", "zip refused by"}; len(f.decisions) != 3 || !strings.HasPrefix(f.decisions[0], want[0]) || !strings.HasPrefix(f.decisions[2], want[2]) {
		t.Errorf("decisions counted: %q", f.decisions)
	}
	obj, _, err := f.g.Zip(ctx, mod(t, "example.com/denied", "v1.0.0"))
	if err != nil {
		t.Fatalf("allowed zip: %v", err)
	}
	obj.Body.Close()
}

func TestQueryJudgedByResolvedVersion(t *testing.T) {
	f := newFixture(t, gatePolicy)
	ctx := context.Background()
	_, _, err := f.g.Info(ctx, mod(t, "example.com/denied", "main"))
	refusal(t, err, `example.com/denied@v1.1.0 refused by rule "no-1.1"`)
	obj, _, err := f.g.Info(ctx, mod(t, "example.com/denied", "v1.0"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(obj.Body)
	obj.Body.Close()
	if !strings.Contains(string(b), `"v1.0.0"`) {
		t.Errorf("query answer %q", b)
	}
}

func TestListAndLatest(t *testing.T) {
	f := newFixture(t, gatePolicy)
	ctx := context.Background()
	b, _, err := f.g.List(ctx, mod(t, "example.com/denied", ""))
	if err != nil || string(b) != "v1.0.0\nv1.3.0-pre\n" {
		t.Errorf("list = %q, %v; want v1.1.0 left out", b, err)
	}
	// The upstream's latest (v1.1.0) is refused: the newest allowed
	// release, before the pre-release, as the go command chooses.
	b, _, err = f.g.Latest(ctx, mod(t, "example.com/denied", ""))
	if err != nil || !strings.Contains(string(b), `"Version":"v1.0.0"`) {
		t.Errorf("@latest = %q, %v; want v1.0.0", b, err)
	}
	// min-age: v1.1.0 is an hour old and its .info not stored; the list
	// judges the newest versions with their .info fetched.
	b, _, err = f.g.List(ctx, mod(t, "example.com/fresh", ""))
	if err != nil || string(b) != "v1.0.0\n" {
		t.Errorf("list = %q, %v; want v1.1.0 left out by min-age", b, err)
	}
	b, _, err = f.g.Latest(ctx, mod(t, "example.com/fresh", ""))
	if err != nil || !strings.Contains(string(b), `"Version":"v1.0.0"`) {
		t.Errorf("@latest = %q, %v; want v1.0.0", b, err)
	}
	// Every version refused: the refusal of the latest.
	f.in.versions["example.com/denied"] = []string{"v1.1.0"}
	_, _, err = f.g.Latest(ctx, mod(t, "example.com/denied", ""))
	refusal(t, err, `example.com/denied@v1.1.0 refused by rule "no-1.1"`)
}

func TestWarnedServedAndRecorded(t *testing.T) {
	f := newFixture(t, gatePolicy)
	rec := &obs.Request{}
	ctx := obs.WithRequest(context.Background(), rec)
	obj, _, err := f.g.Zip(ctx, mod(t, "example.com/warned", "v1.0.0"))
	if err != nil {
		t.Fatalf("warned zip: %v", err)
	}
	obj.Body.Close()
	if want := `warned by rule "legacy" (`; !strings.HasPrefix(rec.Policy, want) {
		t.Errorf("obs.Request.Policy = %q, want %q...", rec.Policy, want)
	}
	if len(f.decisions) != 1 || !strings.HasPrefix(f.decisions[0], "zip warned by") {
		t.Errorf("decisions counted: %q", f.decisions)
	}
	// An allowed request records nothing.
	rec = &obs.Request{}
	ctx = obs.WithRequest(context.Background(), rec)
	obj, _, err = f.g.Zip(ctx, mod(t, "example.com/denied", "v1.0.0"))
	if err != nil {
		t.Fatal(err)
	}
	obj.Body.Close()
	if rec.Policy != "" {
		t.Errorf("allowed request recorded %q", rec.Policy)
	}
}

func TestNoVulnDB(t *testing.T) {
	f := newFixture(t, gatePolicy)
	_, _, err := f.g.Info(context.Background(), mod(t, "example.com/vuln", "v1.0.0"))
	refusal(t, err, `rule "vulns" (`)
	refusal(t, err, `vulnerability database not available`)
}

type vulns map[string][]policy.Advisory

func (v vulns) Vulns(_ context.Context, m module.Version) ([]policy.Advisory, error) {
	return v[m.Path+"@"+m.Version], nil
}

func TestVulnsHook(t *testing.T) {
	f := newFixture(t, gatePolicy)
	path := filepath.Join(t.TempDir(), "policy.yaml")
	os.WriteFile(path, []byte(gatePolicy), 0o644)
	live, err := policy.Open(policy.LiveOptions{Path: path, Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	g := gate.New(gate.Options{Mirror: f.in, Live: live, Store: mem.New(), Log: quiet,
		Vulns: vulns{"example.com/vuln@v1.0.0": {{ID: "GO-2024-0001"}}}})
	_, _, err = g.Info(context.Background(), mod(t, "example.com/vuln", "v1.0.0"))
	refusal(t, err, `affected by GO-2024-0001`)
}

// TestCachedAllocs: with a 500-rule policy, a request whose decision is
// cached allocates nothing more than the mirror's own answer.
func TestCachedAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts under the race detector are not the program's")
	}
	var sb strings.Builder
	sb.WriteString("rules:\n")
	for i := range 499 {
		fmt.Fprintf(&sb, "  - module: github.com/org%d\n    versions: \"<1.%d.0\"\n    action: deny\n", i, i)
	}
	sb.WriteString("  - module: \"*\"\n    deny-pseudo-versions: true\n")
	f := newFixture(t, sb.String())
	ctx := context.Background()
	m := mod(t, "example.com/denied", "v1.0.0")
	info := func(mirror proxy.Mirror) {
		obj, _, err := mirror.Info(ctx, m)
		if err != nil {
			t.Fatal(err)
		}
		obj.Body.Close()
	}
	info(f.g)
	bare := testing.AllocsPerRun(200, func() { info(f.in) })
	gated := testing.AllocsPerRun(200, func() { info(f.g) })
	if gated != bare {
		t.Errorf("a cached decision's .info allocates %v times, the mirror's own %v", gated, bare)
	}
	if !slices.Equal(f.decisions, nil) {
		t.Errorf("decisions recorded for allowed requests: %q", f.decisions)
	}
}

func TestRetracted(t *testing.T) {
	f := newFixture(t, "rules:\n  - name: no-retracted\n    module: example.com/r, example.com/r2\n    deny-retracted: true\n")
	ctx := context.Background()
	// No list and no @latest: nothing retracts.
	f.in.times["example.com/r@v0.0.0-20240102030405-abcdefabcdef"] = time.Now()
	obj, _, err := f.g.Info(ctx, mod(t, "example.com/r", "v0.0.0-20240102030405-abcdefabcdef"))
	if err != nil {
		t.Fatalf("a module without a latest version: %v", err)
	}
	obj.Body.Close()
	// The latest release's go.mod retracts: its rationale, cut.
	f.in.versions["example.com/r2"] = []string{"v1.0.0", "v1.1.0", "v1.2.0-pre"}
	f.in.mods = map[string]string{"example.com/r2@v1.1.0": "module example.com/r2\n\nretract [v1.0.0, v1.0.5] // " + strings.Repeat("x", 300) + "\n"}
	_, _, err = f.g.Info(ctx, mod(t, "example.com/r2", "v1.0.3"))
	refusal(t, err, `rule "no-retracted"`)
	if err == nil || !strings.HasSuffix(err.Error(), "retracted: "+strings.Repeat("x", 200)+"...") {
		t.Errorf("rationale not cut to 200 bytes: %v", err)
	}
	if n := f.in.called("mod", "example.com/r2", "v1.1.0"); n != 1 {
		t.Errorf("latest go.mod read %d times", n)
	}
	f.in.times["example.com/r2@v1.0.6"] = time.Now()
	obj, _, err = f.g.Info(ctx, mod(t, "example.com/r2", "v1.0.6"))
	if err != nil {
		t.Fatalf("a version outside the retraction: %v", err)
	}
	obj.Body.Close()
	if n := f.in.called("mod", "example.com/r2", "v1.1.0"); n != 1 {
		t.Errorf("latest go.mod read %d times; want once (kept)", n)
	}
}

// TestMinAgeFetchesNoArtifacts: the .info fetched for a min-age decision
// starts nothing for the version's .mod and .zip (InfoNoPrefetch); once
// the version is allowed, the prefetch is started.
func TestMinAgeFetchesNoArtifacts(t *testing.T) {
	f := newFixture(t, gatePolicy)
	ctx := context.Background()
	_, _, err := f.g.Info(ctx, mod(t, "example.com/fresh", "v1.1.0"))
	refusal(t, err, `rule "cooling-off"`)
	if n := f.in.called("info-noprefetch", "example.com/fresh", "v1.1.0"); n != 1 {
		t.Errorf("time fact read %d times with InfoNoPrefetch", n)
	}
	if n := f.in.called("prefetch", "example.com/fresh", "v1.1.0"); n != 0 {
		t.Errorf("a refused version prefetched %d times", n)
	}
	obj, _, err := f.g.Info(ctx, mod(t, "example.com/fresh", "v1.0.0"))
	if err != nil {
		t.Fatal(err)
	}
	obj.Body.Close()
	if n := f.in.called("prefetch", "example.com/fresh", "v1.0.0"); n != 1 {
		t.Errorf("an allowed version whose .info the decision fetched prefetched %d times, want 1", n)
	}
}

// TestRetractedUnknown: when the retractions cannot be read (the latest
// go.mod's fetch fails: an upstream outage), a deny-retracted rule's
// check is skipped (not cached) instead of failing the request, so stored
// versions are still served; a module whose list is "not found" (only a
// pseudo-version) has its @latest read instead.
func TestRetractedUnknown(t *testing.T) {
	f := newFixture(t, "rules:\n  - name: no-retracted\n    module: example.com/y, example.com/p\n    deny-retracted: true\n")
	ctx := context.Background()
	f.in.versions["example.com/y"] = []string{"v1.0.0", "v1.1.0"}
	f.in.times["example.com/y@v1.0.0"] = time.Now()
	f.in.failMod = map[string]error{"example.com/y@v1.1.0": errors.New("upstream down")}
	obj, _, err := f.g.Zip(ctx, mod(t, "example.com/y", "v1.0.0"))
	if err != nil {
		t.Fatalf("zip of v1.0.0 while the latest go.mod cannot be read: %v", err)
	}
	obj.Body.Close()
	b, _, err := f.g.List(ctx, mod(t, "example.com/y", ""))
	if err != nil || string(b) != "v1.0.0\nv1.1.0\n" {
		t.Errorf("list while the latest go.mod cannot be read: %q, %v", b, err)
	}
	// Back: the retraction is seen (the unknown decision was not kept).
	f.in.failMod = nil
	f.in.mods = map[string]string{"example.com/y@v1.1.0": "module example.com/y\n\nretract v1.0.0\n"}
	_, _, err = f.g.Zip(ctx, mod(t, "example.com/y", "v1.0.0"))
	refusal(t, err, `retracted`)

	const pv = "v0.0.0-20240102030405-abcdefabcdef"
	f.in.failList = map[string]error{"example.com/p": fmt.Errorf("list: %w", fs.ErrNotExist)}
	f.in.latest["example.com/p"] = pv
	f.in.times["example.com/p@"+pv] = time.Now()
	obj, _, err = f.g.Info(ctx, mod(t, "example.com/p", pv))
	if err != nil {
		t.Fatalf("info of a module whose list is not found: %v", err)
	}
	obj.Body.Close()
}

// TestIncompatibleNotLatest: as for the go command, +incompatible versions
// are no candidates for "latest" when the newest compatible version has a
// go.mod of its own: the retractions come from that version's go.mod, and
// @latest's fallback does not pick a +incompatible version.
func TestIncompatibleNotLatest(t *testing.T) {
	f := newFixture(t, `rules:
  - name: no-retracted
    module: example.com/inc
    deny-retracted: true
  - name: frozen
    module: example.com/inc2
    versions: ">=1.1.0 <2.0.0"
    action: deny
`)
	ctx := context.Background()
	f.in.versions["example.com/inc"] = []string{"v1.0.0", "v1.1.0", "v2.0.0+incompatible"}
	f.in.mods = map[string]string{
		"example.com/inc@v1.1.0":  "module example.com/inc\n\nretract v1.0.0 // broken\n",
		"example.com/inc2@v1.0.0": "module example.com/inc2\n\ngo 1.21\n",
	}
	_, _, err := f.g.Zip(ctx, mod(t, "example.com/inc", "v1.0.0"))
	refusal(t, err, "retracted: broken")

	f.in.versions["example.com/inc2"] = []string{"v1.0.0", "v1.1.0", "v2.0.0+incompatible"}
	f.in.latest["example.com/inc2"] = "v1.1.0"
	for _, v := range []string{"v1.0.0", "v1.1.0", "v2.0.0+incompatible"} {
		f.in.times["example.com/inc2@"+v] = time.Now()
	}
	b, _, err := f.g.Latest(ctx, mod(t, "example.com/inc2", ""))
	if err != nil || !strings.Contains(string(b), `"Version":"v1.0.0"`) {
		t.Errorf("@latest = %q, %v; want v1.0.0 (v1.1.0 refused, v2.0.0+incompatible no candidate: v1.0.0 has a go.mod)", b, err)
	}
	// Without a go.mod in the newest compatible version of the list the
	// client sees, +incompatible versions are candidates.
	delete(f.in.mods, "example.com/inc2@v1.0.0")
	f2 := newFixture(t, "rules:\n  - module: example.com/inc2\n    versions: \">=1.1.0 <2.0.0\"\n    action: deny\n")
	f2.in.versions, f2.in.latest, f2.in.mods, f2.in.times = f.in.versions, f.in.latest, f.in.mods, f.in.times
	b, _, err = f2.g.Latest(ctx, mod(t, "example.com/inc2", ""))
	if err != nil || !strings.Contains(string(b), `"Version":"v2.0.0+incompatible"`) {
		t.Errorf("@latest = %q, %v; want v2.0.0+incompatible", b, err)
	}
}

// countingStore counts Get and List calls.
type countingStore struct {
	modinfo.Reader
	mu         sync.Mutex
	gets, list int
}

func (s *countingStore) Get(ctx context.Context, key string) (*storage.Object, error) {
	s.mu.Lock()
	s.gets++
	s.mu.Unlock()
	return s.Reader.Get(ctx, key)
}

func (s *countingStore) List(ctx context.Context, prefix string) ([]string, error) {
	s.mu.Lock()
	s.list++
	s.mu.Unlock()
	return s.Reader.List(ctx, prefix)
}

// TestListMinAgeStorageReads: a list judged by a min-age rule learns which
// .info files are stored with one listing of the module's storage, not one
// read per version (2,000 versions on S3 would take seconds per list);
// a stored .info is read for its time.
func TestListMinAgeStorageReads(t *testing.T) {
	f := newFixture(t, gatePolicy)
	ctx := context.Background()
	store := mem.New()
	cs := &countingStore{Reader: store}
	path := filepath.Join(t.TempDir(), "policy.yaml")
	os.WriteFile(path, []byte(gatePolicy), 0o644)
	live, err := policy.Open(policy.LiveOptions{Path: path, Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	g := gate.New(gate.Options{Mirror: f.in, Live: live, Store: cs, Log: quiet})
	var versions []string
	for i := range 200 {
		v := fmt.Sprintf("v0.%d.0", i)
		versions = append(versions, v)
		f.in.times["example.com/fresh@"+v] = time.Now().Add(-30 * 24 * time.Hour)
	}
	f.in.versions["example.com/fresh"] = versions
	// One stored .info, an hour old: refused by min-age from storage.
	key, _ := mod(t, "example.com/fresh", "v0.5.0").Key(layout.Info)
	if err := store.Put(ctx, key, strings.NewReader(`{"Version":"v0.5.0","Time":"`+time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)+`"}`)); err != nil {
		t.Fatal(err)
	}
	b, _, err := g.List(ctx, mod(t, "example.com/fresh", ""))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "v0.5.0\n") || !strings.Contains(string(b), "v0.4.0\n") {
		t.Errorf("list %q: want v0.5.0 (stored, an hour old) left out", b)
	}
	if cs.gets > 1 || cs.list != 1 {
		t.Errorf("a list of %d versions read storage %d times and listed it %d times; want 1 and 1", len(versions), cs.gets, cs.list)
	}
}

// TestListManyFresh: a module with 30 releases inside a min-age window,
// none of their .info stored: the list leaves out every version min-age
// refuses, however many, so that the go command's first `go get
// M@latest` chooses the newest allowed version; the allowed version the
// list judged with its .info fetched is prefetched, as its .info request
// (a cache hit then) would have.
func TestListManyFresh(t *testing.T) {
	f := newFixture(t, gatePolicy)
	ctx := context.Background()
	const path = "example.com/fresh"
	var vs []string
	for i := range 34 {
		v := fmt.Sprintf("v1.%d.0", i)
		vs = append(vs, v)
		age := 30 * 24 * time.Hour // v1.0.0 to v1.3.0: old enough
		if i >= 4 {
			age = time.Duration(34-i) * time.Hour
		}
		f.in.times[path+"@"+v] = time.Now().Add(-age)
	}
	f.in.versions[path] = vs
	b, _, err := f.g.List(ctx, mod(t, path, ""))
	if want := "v1.0.0\nv1.1.0\nv1.2.0\nv1.3.0\n"; err != nil || string(b) != want {
		t.Errorf("list = %q, %v; want %q", b, err, want)
	}
	if n := f.in.called("prefetch", path, "v1.3.0"); n != 1 {
		t.Errorf("the allowed version the list judged prefetched %d times, want 1", n)
	}
	for _, v := range vs[4:] {
		if n := f.in.called("prefetch", path, v); n != 0 {
			t.Errorf("refused %s prefetched %d times", v, n)
		}
	}
}

// TestListVulnDBLoading: while the vulnerability database loads, a list
// whose versions a deny-vulnerable rule judges fails as their .info does
// (503: a retry may succeed) instead of answering no versions.
func TestListVulnDBLoading(t *testing.T) {
	f := newFixture(t, gatePolicy)
	path := filepath.Join(t.TempDir(), "policy.yaml")
	os.WriteFile(path, []byte(gatePolicy), 0o644)
	live, err := policy.Open(policy.LiveOptions{Path: path, Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	f.in.versions["example.com/vuln"] = []string{"v1.0.0"}
	f.in.latest["example.com/vuln"] = "v1.0.0"
	g := gate.New(gate.Options{Mirror: f.in, Live: live, Store: mem.New(), Log: quiet, Vulns: loading{}})
	ctx := context.Background()
	for name, call := range map[string]func() ([]byte, cache.Source, error){
		"list":    func() ([]byte, cache.Source, error) { return g.List(ctx, mod(t, "example.com/vuln", "")) },
		"@latest": func() ([]byte, cache.Source, error) { return g.Latest(ctx, mod(t, "example.com/vuln", "")) },
	} {
		b, _, err := call()
		if proxy.Status(err) != http.StatusServiceUnavailable {
			t.Errorf("%s while the vulnerability database loads = %q, %v (status %d); want 503", name, b, err, proxy.Status(err))
		}
	}
	// The 503's body says it is not a refusal.
	_, _, err = g.Info(ctx, mod(t, "example.com/vuln", "v1.0.0"))
	if want := `example.com/vuln@v1.0.0 not decided by rule "vulns" (policy.yaml:13): it needs the vulnerability database, which is loading; retry`; err == nil || !strings.HasSuffix(err.Error(), want) {
		t.Errorf(".info while the vulnerability database loads: %v; want ...%s", err, want)
	}
}

// loading is a vulnerability database still loading.
type loading struct{}

func (loading) Vulns(context.Context, module.Version) ([]policy.Advisory, error) {
	return nil, loadingError{}
}

type loadingError struct{}

func (loadingError) Error() string     { return "loading" }
func (loadingError) Unavailable() bool { return true }
func (loadingError) Is(err error) bool { return err == policy.ErrNoVulnDB }

// TestListJudgingBounded: a list judges at most 64 versions with their
// .info fetched; the versions it could not judge are left out rather than
// offered (a version left out is still served when asked for by name).
func TestListJudgingBounded(t *testing.T) {
	f := newFixture(t, gatePolicy)
	ctx := context.Background()
	const path = "example.com/fresh"
	var vs []string
	for i := range 100 {
		v := fmt.Sprintf("v1.%d.0", i)
		vs = append(vs, v)
		age := 30 * 24 * time.Hour // v1.0.0 to v1.3.0: old enough
		if i >= 4 {
			age = time.Duration(100-i) * time.Hour
		}
		f.in.times[path+"@"+v] = time.Now().Add(-age)
	}
	f.in.versions[path] = vs
	b, _, err := f.g.List(ctx, mod(t, path, ""))
	if err != nil || len(b) != 0 {
		t.Errorf("list = %q, %v; want every version left out (64 refused, the rest not judged)", b, err)
	}
	fetched := 0
	for _, v := range vs {
		fetched += f.in.called("info-noprefetch", path, v)
	}
	if fetched != 64 {
		t.Errorf("%d .info fetched for a list, want 64", fetched)
	}
	obj, _, err := f.g.Info(ctx, mod(t, path, "v1.3.0"))
	if err != nil {
		t.Fatalf("a version left out, asked for by name: %v", err)
	}
	obj.Body.Close()
}
