package snapshot

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/mod/module"

	"github.com/gomirror/gomirror/layout"
	"github.com/gomirror/gomirror/storage"
	"github.com/gomirror/gomirror/storage/mem"
)

const (
	h1 = "h1:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
	h2 = "h1:LCa0a2j/xo/5m0U8HTBBNBNCLXBkg7+g+YpeiGJm564="
)

func testManifest(name string) *Manifest {
	return &Manifest{Format: Format, Name: name, Created: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Creator: "ops@host",
		Sources: []string{"go.mod"},
		Modules: []Entry{
			{Path: "example.com/a", Version: "v1.0.0", Hash: h1, GoModHash: h2},
			{Path: "example.com/a", Version: "v1.2.0", Hash: h1, GoModHash: h2},
			{Path: "example.com/a", Version: "v1.3.0", GoModHash: h2},
			{Path: "example.com/b", Version: "v2.0.0+incompatible", Hash: h1, GoModHash: h2},
		}}
}

func TestValidName(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"prod", true}, {"deps-prod-v1.8.0", true}, {"a_b", true}, {"0", true},
		{"", false}, {".hidden", false}, {"-x", false}, {"a/b", false}, {"..", false}, {"a b", false},
		{"é", false}, {strings.Repeat("a", MaxNameLen), true}, {strings.Repeat("a", MaxNameLen+1), false},
	} {
		if err := ValidName(tc.name); (err == nil) != tc.ok {
			t.Errorf("ValidName(%q) = %v, want ok %v", tc.name, err, tc.ok)
		}
	}
}

func TestDecodeIsStrict(t *testing.T) {
	var good bytes.Buffer
	if err := testManifest("deps-prod-v1.8.0").Encode(&good); err != nil {
		t.Fatal(err)
	}
	if _, err := Decode(bytes.NewReader(good.Bytes())); err != nil {
		t.Fatalf("Decode(Encode(m)): %v", err)
	}
	for _, tc := range []struct{ name, old, new string }{
		{"unknown field", `"format": 1`, `"format": 1, "extra": true`},
		{"format", `"format": 1`, `"format": 2`},
		{"name", `"name": "deps-prod-v1.8.0"`, `"name": "../x"`},
		{"version", `"version": "v1.0.0"`, `"version": "v1.0"`},
		{"path", `"path": "example.com/b"`, `"path": "example.com/../b"`},
		{"hash", `"hash": "` + h1 + `"`, `"hash": "h1:abc"`},
		{"no gomod hash", `"gomod_hash": "` + h2 + `"`, `"gomod_hash": ""`},
		{"unsorted", `"version": "v1.0.0"`, `"version": "v1.9.0"`},
		{"trailing", "}\n", "}\n{}"},
		{"no time", `"created": "2026-01-02T03:04:05Z"`, `"created": "0001-01-01T00:00:00Z"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad := strings.Replace(good.String(), tc.old, tc.new, 1)
			if bad == good.String() {
				t.Fatalf("replacement %q not in %s", tc.old, good.String())
			}
			if _, err := Decode(strings.NewReader(bad)); err == nil {
				t.Errorf("Decode accepted %s", bad)
			}
		})
	}
	big := strings.NewReader(`{"name":"` + strings.Repeat("a", MaxManifestBytes) + `"}`)
	if _, err := Decode(big); err == nil || !strings.Contains(err.Error(), "larger") {
		t.Errorf("Decode of a manifest over the bound: %v", err)
	}
}

func TestManifestLookups(t *testing.T) {
	m := testManifest("x")
	if e, ok := m.Find("example.com/a", "v1.2.0"); !ok || e.Hash != h1 {
		t.Errorf("Find a@v1.2.0 = %v, %v", e, ok)
	}
	if _, ok := m.Find("example.com/a", "v1.1.0"); ok {
		t.Error("Find a@v1.1.0 found it")
	}
	if got := strings.Join(m.Versions("example.com/a"), " "); got != "v1.0.0 v1.2.0 v1.3.0" {
		t.Errorf("Versions(a) = %q", got)
	}
	if v, ok := m.Latest("example.com/a"); !ok || v != "v1.2.0" {
		t.Errorf("Latest(a) = %q, %v; want the highest with its zip, v1.2.0", v, ok)
	}
	if _, ok := m.Latest("example.com/c"); ok {
		t.Error("Latest(c) found one")
	}
	gomodOnly := &Manifest{Modules: []Entry{{Path: "example.com/a", Version: "v1.3.0", GoModHash: h2}}}
	if v, ok := gomodOnly.Latest("example.com/a"); ok {
		t.Errorf("Latest of a module with only a go.mod-only version = %q; want none", v)
	}
	sorted := Sort([]Entry{m.Modules[3], m.Modules[2], {Path: "example.com/a", Version: "v1.3.0", Hash: h1, GoModHash: h2}, m.Modules[0]})
	if len(sorted) != 3 || sorted[0].Version != "v1.0.0" || sorted[1].Hash != h1 {
		t.Errorf("Sort merged to %v", sorted)
	}
}

func TestStoreCreateIsImmutable(t *testing.T) {
	ctx := context.Background()
	s := mem.New()
	m := testManifest("v1")
	if err := Create(ctx, s, m); err != nil {
		t.Fatal(err)
	}
	other := testManifest("v1")
	other.Modules = other.Modules[:1]
	if err := Create(ctx, s, other); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("Create of an existing name: %v", err)
	}
	got, err := Get(ctx, s, "v1")
	if err != nil || len(got.Modules) != len(m.Modules) {
		t.Fatalf("Get = %v, %v; want the first manifest", got, err)
	}
	if _, err := Get(ctx, s, "nope"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Get of a missing snapshot: %v", err)
	}
	if _, err := Get(ctx, s, "../x"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Get of an invalid name: %v", err)
	}
	if err := Create(ctx, s, testManifest("v2")); err != nil {
		t.Fatal(err)
	}
	names, err := List(ctx, s)
	if err != nil || strings.Join(names, ",") != "v1,v2" {
		t.Errorf("List = %v, %v", names, err)
	}
	pins, err := Pinned(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := pins[module.Version{Path: "example.com/a", Version: "v1.3.0"}]; !ok || len(pins) != 4 {
		t.Errorf("Pinned = %v", pins)
	}
	// A manifest that cannot be read fails Pinned: a collector must not
	// evict what it could not check.
	if err := storage.PutBytes(ctx, s, layout.SnapshotKey("bad"), []byte("{")); err != nil {
		t.Fatal(err)
	}
	if _, err := Pinned(ctx, s); err == nil {
		t.Error("Pinned with an unreadable manifest succeeded")
	}
}

func TestEnvPromoteRollbackDelete(t *testing.T) {
	ctx := context.Background()
	s := mem.New()
	for _, n := range []string{"v1", "v2", "v3"} {
		if err := Create(ctx, s, testManifest(n)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := Current(ctx, s, "prod"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Current of a new environment: %v", err)
	}
	if _, err := Promote(ctx, s, "prod", "nope", "me"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Promote to a missing snapshot: %v", err)
	}
	if _, err := Rollback(ctx, s, "prod", "me"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Rollback of a missing environment: %v", err)
	}
	for _, n := range []string{"v1", "v2", "v3"} {
		if _, err := Promote(ctx, s, "prod", n, "me"); err != nil {
			t.Fatal(err)
		}
	}
	current := func(want string) {
		t.Helper()
		r, err := Current(ctx, s, "prod")
		if err != nil || r.Snapshot != want {
			t.Fatalf("Current = %+v, %v; want %s", r, err, want)
		}
	}
	current("v3")
	if err := Delete(ctx, s, "v3"); !errors.As(err, new(*InUseError)) {
		t.Errorf("Delete of the snapshot in force: %v", err)
	}
	var inUse *InUseError
	if err := Delete(ctx, s, "v2"); !errors.As(err, &inUse) || strings.Join(inUse.RollbackEnvs, ",") != "prod" || !strings.Contains(err.Error(), "environment prod: a rollback there may return to it") {
		t.Errorf("Delete of a snapshot a rollback returns to: %v", err)
	}
	if _, err := Rollback(ctx, s, "prod", "me"); err != nil {
		t.Fatal(err)
	}
	current("v2")
	if _, err := Rollback(ctx, s, "prod", "me"); err != nil {
		t.Fatal(err)
	}
	current("v1")
	if _, err := Rollback(ctx, s, "prod", "me"); err == nil {
		t.Error("Rollback past the first promotion succeeded")
	}
	if err := Delete(ctx, s, "v3"); err != nil {
		t.Errorf("Delete of a snapshot no longer in force: %v", err)
	}
	h, err := History(ctx, s, "prod", 0)
	if err != nil || len(h) != 5 {
		t.Fatalf("History = %d records, %v; want 5", len(h), err)
	}
	var actions []string
	for i, r := range h {
		actions = append(actions, r.Action+" "+r.Snapshot)
		if i > 0 && r.Parent != h[i-1].ID {
			t.Errorf("record %d's parent %s, want %s", i, r.Parent, h[i-1].ID)
		}
	}
	if got := strings.Join(actions, ", "); got != "promote v1, promote v2, promote v3, rollback v2, rollback v1" {
		t.Errorf("history: %s", got)
	}
	envs, err := Envs(ctx, s)
	if err != nil || strings.Join(envs, ",") != "prod" {
		t.Errorf("Envs = %v, %v", envs, err)
	}
}

// barrierStore holds every Put of an environment record until n writers
// are about to make theirs (so all read the same record in force before
// any writes), and holds each after its Put until all n are written (so
// each checks with every record there).
type barrierStore struct {
	storage.Storage
	env           string
	before, after *barrier
}

// barrier lets its waiters go once n have come.
type barrier struct {
	arrived chan struct{}
	release chan struct{}
}

func newBarrier(n int) *barrier {
	b := &barrier{arrived: make(chan struct{}, n), release: make(chan struct{})}
	go func() {
		for range n {
			<-b.arrived
		}
		close(b.release)
	}()
	return b
}

func (b *barrier) wait() {
	b.arrived <- struct{}{}
	<-b.release
}

func newBarrierStore(s storage.Storage, env string, n int) *barrierStore {
	return &barrierStore{Storage: s, env: env, before: newBarrier(n), after: newBarrier(n)}
}

func (b *barrierStore) Put(ctx context.Context, key string, r io.Reader) error {
	prefix := layout.EnvPrefix(b.env)
	id, ok := strings.CutSuffix(strings.TrimPrefix(key, prefix), ".json")
	if !strings.HasPrefix(key, prefix) || !ok || !validID(id) {
		return b.Storage.Put(ctx, key, r)
	}
	b.before.wait()
	err := b.Storage.Put(ctx, key, r)
	b.after.wait()
	return err
}

// TestEnvConcurrentPromotions: promotions of one environment at the same
// moment (each written after all read the record in force) all stay in
// the history; the one in force succeeds, every other fails with a
// ConflictError naming it.
func TestEnvConcurrentPromotions(t *testing.T) {
	ctx := context.Background()
	const n = 3
	for round := range 5 {
		s := mem.New()
		snaps := []string{"v1", "v2", "v3", "v4"}
		for _, name := range snaps {
			if err := Create(ctx, s, testManifest(name)); err != nil {
				t.Fatal(err)
			}
		}
		base, err := Promote(ctx, s, "prod", "v1", "me")
		if err != nil {
			t.Fatal(err)
		}
		bs := newBarrierStore(s, "prod", n)
		recs := make([]*Record, n)
		errs := make([]error, n)
		done := make(chan int)
		for i := range n {
			go func() {
				recs[i], errs[i] = Promote(ctx, bs, "prod", snaps[i+1], "me")
				done <- i
			}()
		}
		for range n {
			<-done
		}
		cur, err := Current(ctx, s, "prod")
		if err != nil {
			t.Fatal(err)
		}
		var won int
		for i := range n {
			if recs[i] == nil || recs[i].Parent != base.ID {
				t.Fatalf("round %d: promotion %d: record %+v, want one based on %s", round, i, recs[i], base.ID)
			}
			var ce *ConflictError
			switch {
			case errs[i] == nil && recs[i].ID == cur.ID:
				won++
			case errs[i] == nil:
				t.Errorf("round %d: promotion %d (%s) succeeded, but %s is in force", round, i, recs[i].ID, cur.ID)
			case !errors.As(errs[i], &ce) || ce.Other != cur.ID || ce.Written.ID != recs[i].ID:
				t.Errorf("round %d: promotion %d: %v; want a ConflictError naming %s", round, i, errs[i], cur.ID)
			case recs[i].ID == cur.ID:
				t.Errorf("round %d: promotion %d failed (%v) but it is in force", round, i, errs[i])
			}
		}
		if won != 1 {
			t.Errorf("round %d: %d promotions succeeded, want exactly the one in force", round, won)
		}
		h, err := History(ctx, s, "prod", 0)
		if err != nil || len(h) != n+1 {
			t.Errorf("round %d: History = %d records, %v; want all %d", round, len(h), err, n+1)
		}
	}
}

func TestSourceOf(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(dir+"/go.mod", []byte("module x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir+"/go.sum", nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for arg, want := range map[string]Source{dir: {GoMod: dir + "/go.mod"}, dir + "/go.mod": {GoMod: dir + "/go.mod"}, dir + "/go.sum": {GoSum: dir + "/go.sum"}} {
		got, err := SourceOf(arg)
		if err != nil || got.GoMod != want.GoMod || got.GoSum != want.GoSum {
			t.Errorf("SourceOf(%s) = %+v, %v; want %+v", arg, got, err, want)
		}
	}
	if _, err := SourceOf(dir + "/missing"); err == nil {
		t.Error("SourceOf of a missing file succeeded")
	}
	// A relative argument is recorded as an absolute path.
	t.Chdir(dir)
	for arg, want := range map[string]string{".": dir + "/go.mod", "go.mod": dir + "/go.mod", "./go.sum": dir + "/go.sum"} {
		got, err := SourceOf(arg)
		if err != nil || got.String() != want {
			t.Errorf("SourceOf(%s) = %q, %v; want %s", arg, got.String(), err, want)
		}
	}
}

func TestParseSources(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(dir+"/go.mod", []byte("module x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	srcs, names, err := ParseSources([]string{dir}, []string{"example.com/a@v1.0.0", "example.com/b@latest"})
	if err != nil || len(srcs) != 2 || srcs[0].GoMod != dir+"/go.mod" || len(srcs[1].Modules) != 2 || len(names) != 3 {
		t.Errorf("ParseSources = %+v, %q, %v", srcs, names, err)
	}
	for _, tc := range []struct{ from, mods []string }{
		{nil, nil},
		{nil, []string{"example.com/a"}},
		{nil, []string{"@v1.0.0"}},
		{[]string{dir + "/nope"}, nil},
	} {
		if _, _, err := ParseSources(tc.from, tc.mods); err == nil {
			t.Errorf("ParseSources(%q, %q) succeeded", tc.from, tc.mods)
		}
	}
}

// countingStore counts what an environment's reads cost: keys listed
// (List and ListAfter) and objects read.
type countingStore struct {
	storage.Storage
	listed, gets, lists atomic.Int64
}

func (c *countingStore) List(ctx context.Context, prefix string) ([]string, error) {
	keys, err := c.Storage.List(ctx, prefix)
	c.lists.Add(1)
	c.listed.Add(int64(len(keys)))
	return keys, err
}

func (c *countingStore) ListAfter(ctx context.Context, prefix, after string) ([]string, error) {
	keys, err := storage.ListAfter(ctx, c.Storage, prefix, after)
	c.lists.Add(1)
	c.listed.Add(int64(len(keys)))
	return keys, err
}

func (c *countingStore) Get(ctx context.Context, key string) (*storage.Object, error) {
	c.gets.Add(1)
	return c.Storage.Get(ctx, key)
}

func (c *countingStore) reset() { c.listed.Store(0); c.gets.Store(0); c.lists.Store(0) }

// TestEnvCurrentCostIsBounded: reading the record in force (every
// replica, every refresh) costs a few keys and reads whatever the length
// of the history, and still sees a record written by someone who did not
// move the head (a crash between the two writes).
func TestEnvCurrentCostIsBounded(t *testing.T) {
	ctx := context.Background()
	s := &countingStore{Storage: mem.New()}
	for _, n := range []string{"v1", "v2"} {
		if err := Create(ctx, s, testManifest(n)); err != nil {
			t.Fatal(err)
		}
	}
	const records = 500
	var last *Record
	for i := range records {
		r, err := Promote(ctx, s, "prod", []string{"v1", "v2"}[i%2], "me")
		if err != nil {
			t.Fatal(err)
		}
		last = r
	}
	check := func(want *Record) {
		t.Helper()
		s.reset()
		const reads = 10
		for range reads {
			cur, err := Current(ctx, s, "prod")
			if err != nil || cur.ID != want.ID || cur.Snapshot != want.Snapshot {
				t.Fatalf("Current = %+v, %v; want %s (%s)", cur, err, want.ID, want.Snapshot)
			}
		}
		if l, g, n := s.listed.Load(), s.gets.Load(), s.lists.Load(); l > 3*reads || g > 2*reads || n > reads {
			t.Errorf("%d reads of the record in force among %d: %d listings, %d keys listed, %d objects read; want at most %d, %d, %d",
				reads, records, n, l, g, reads, 3*reads, 2*reads)
		}
	}
	check(last)
	// A record whose writer stopped before moving the head.
	r := &Record{Env: "prod", Snapshot: "v1", Action: ActionPromote, Parent: last.ID, Previous: []string{last.Snapshot}}
	r.ID = fmt.Sprintf("%020d-%016x", idTime(last.ID)+1, 1)
	data, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	if err := storage.PutBytes(ctx, s, layout.EnvRecordKey("prod", r.ID), data); err != nil {
		t.Fatal(err)
	}
	check(r)
	// History still has every record.
	if h, err := History(ctx, s, "prod", 0); err != nil || len(h) != records+1 {
		t.Errorf("History = %d records, %v; want %d", len(h), err, records+1)
	}
}

// TestPrintable: what a terminal would act on (C0 and C1 controls, DEL,
// bidi overrides and isolates, line separators, invalid UTF-8) is not
// printable, so a manifest's creator and sources and a record's By cannot
// hide or reorder what `show` prints.
func TestPrintable(t *testing.T) {
	for _, tc := range []struct {
		s  string
		ok bool
	}{
		{"ops@host", true}, {"Zoë 张", true}, {"", true}, {"a b", true},
		{"a\tb", false}, {"a\x1b[2Jb", false}, {"a\x7fb", false},
		{"a\u009bb", false}, // C1 CSI
		{"a\u0085b", false}, // C1 NEL
		{"a\u202eb", false}, // right-to-left override
		{"a\u2066b", false}, // left-to-right isolate
		{"a\u200fb", false}, // right-to-left mark
		{"a\u061cb", false}, // Arabic letter mark
		{"a\u2028b", false}, // line separator
		{"a\xffb", false},   // invalid UTF-8
	} {
		if got := printable(tc.s); got != tc.ok {
			t.Errorf("printable(%q) = %v, want %v", tc.s, got, tc.ok)
		}
	}
	// A record's By is checked as it is read.
	r := &Record{Env: "prod", Snapshot: "v1", Action: ActionPromote, By: "me\u202eevil"}
	if err := r.checkRecord("prod"); err == nil {
		t.Error("a record whose By has a bidi override passes")
	}
}

// TestCheckStored: a manifest recorded without fetching (import
// --no-fetch) must agree with the hashes the store recorded when it
// verified the files: a different or missing hash refuses it, saying
// which.
func TestCheckStored(t *testing.T) {
	ctx := context.Background()
	m := testManifest("s1")
	put := func(s storage.Storage, e Entry, k layout.Kind, h string) {
		t.Helper()
		lm, err := layout.Escape(e.Module())
		if err != nil {
			t.Fatal(err)
		}
		key, err := lm.Key(k)
		if err != nil {
			t.Fatal(err)
		}
		if err := storage.PutBytes(ctx, s, key, []byte(h+"\n")); err != nil {
			t.Fatal(err)
		}
	}
	full := func() storage.Storage {
		s := mem.New()
		for _, e := range m.Modules {
			put(s, e, layout.ModHash, e.GoModHash)
			if e.Hash != "" {
				put(s, e, layout.ZipHash, e.Hash)
			}
		}
		return s
	}
	if err := CheckStored(ctx, full(), m, 4); err != nil {
		t.Fatalf("CheckStored of a store that has it all: %v", err)
	}
	for _, tc := range []struct {
		name string
		edit func(s storage.Storage)
		want string
	}{
		{"zip hash differs", func(s storage.Storage) { put(s, m.Modules[1], layout.ZipHash, h2) }, "example.com/a@v1.2.0: the stored zip's hash is " + h2},
		{"go.mod hash differs", func(s storage.Storage) { put(s, m.Modules[2], layout.ModHash, h1) }, "example.com/a@v1.3.0: the stored go.mod's hash is " + h1},
		{"zip not stored", func(s storage.Storage) {
			lm, _ := layout.Escape(m.Modules[3].Module())
			k, _ := lm.Key(layout.ZipHash)
			s.Delete(ctx, k)
		}, "example.com/b@v2.0.0+incompatible: its zip is not stored"},
		{"go.mod not stored", func(s storage.Storage) {
			lm, _ := layout.Escape(m.Modules[0].Module())
			k, _ := lm.Key(layout.ModHash)
			s.Delete(ctx, k)
		}, "example.com/a@v1.0.0: its go.mod is not stored"},
	} {
		s := full()
		tc.edit(s)
		if err := CheckStored(ctx, s, m, 4); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: CheckStored = %v; want an error with %q", tc.name, err, tc.want)
		}
	}
}

// statBlindStore reports every snapshot as missing on Stat, as a store
// would for two Creates that both checked before either wrote.
type statBlindStore struct{ storage.Storage }

func (s statBlindStore) Stat(ctx context.Context, key string) (storage.Info, error) {
	if strings.HasPrefix(key, layout.SnapshotDir+"/") {
		return storage.Info{}, fs.ErrNotExist
	}
	return s.Storage.Stat(ctx, key)
}

func (s statBlindStore) Unwrap() storage.Storage { return s.Storage }

// TestCreateRaceLosesWithCreator: of two Creates of one name that both
// passed the existence check, the second fails with ErrExist and the
// first's manifest stays, through the store's create-if-absent.
func TestCreateRaceLosesWithCreator(t *testing.T) {
	ctx := context.Background()
	base := mem.New()
	s := statBlindStore{base}
	first := testManifest("s1")
	if err := Create(ctx, s, first); err != nil {
		t.Fatal(err)
	}
	second := testManifest("s1")
	second.Creator = "other@host"
	if err := Create(ctx, s, second); !errors.Is(err, ErrExist) {
		t.Errorf("second Create: %v, want ErrExist", err)
	}
	m, err := Get(ctx, base, "s1")
	if err != nil || m.Creator != first.Creator {
		t.Errorf("stored: %+v, %v; want the first's", m, err)
	}
}
