package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/mod/module"

	"github.com/gomirror/gomirror/cache"
	"github.com/gomirror/gomirror/config"
	"github.com/gomirror/gomirror/db"
	"github.com/gomirror/gomirror/gc"
	"github.com/gomirror/gomirror/internal/fakeproxy"
	"github.com/gomirror/gomirror/layout"
	"github.com/gomirror/gomirror/modpattern"
	"github.com/gomirror/gomirror/snapshot"
	"github.com/gomirror/gomirror/storage"
	fsdriver "github.com/gomirror/gomirror/storage/fs"
)

// TestGCOverQuota: a store over its quota. The least recently downloaded
// zips go; a version a snapshot pins and a private module stay, although
// downloaded longer ago; a zip being downloaded while the collector runs
// stays and its download completes whole (the store is read through a
// real HTTP response, stalled by its client mid-stream); a later request
// for an evicted zip fetches it again from the upstream.
func TestGCOverQuota(t *testing.T) {
	up := fakeproxy.New(t)
	big := make([]byte, 24<<20) // incompressible: more than loopback's socket buffers hold
	rand.Read(big)
	mods := map[string][]byte{"example.com/big": big, "example.com/a": []byte("a"), "example.com/b": []byte("b"),
		"example.com/c": []byte("c"), "example.com/pinned": []byte("n")}
	for path, data := range mods {
		if _, err := up.Add(path, "v1.0.0", map[string][]byte{"data": data}); err != nil {
			t.Fatal(err)
		}
	}
	s := start(t, up, func(cfg *config.Serve) {
		cfg.Prefetch = 0
		cfg.Private = "corp.example"
		cfg.Database = filepath.Join(t.TempDir(), "gomirror.db")
	})
	waitDB(t, s)
	ctx := context.Background()
	zipURL := func(path string) string { return s.URL + "/" + path + "/@v/v1.0.0.zip" }
	for path := range mods {
		for _, u := range []string{zipURL(path), strings.TrimSuffix(zipURL(path), ".zip") + ".mod"} {
			if r := get(t, u); r.code != 200 {
				t.Fatalf("GET %s: %d", u, r.code)
			}
		}
	}
	// The small files (.mod and its .modhash) are written behind the
	// answers: wait for them before reading the stored hashes below.
	if err := s.mirror.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	// A private module, stored as a direct fetch would have.
	for file, content := range map[string]string{".info": `{"Version":"v1.0.0"}`, ".mod": "module corp.example/p\n", ".zip": "PK private", ".ziphash": "h1:x\n"} {
		if err := storage.PutBytes(ctx, s.store, "corp.example/p/@v/v1.0.0"+file, []byte(content)); err != nil {
			t.Fatal(err)
		}
	}
	// The snapshot "prod" pins example.com/pinned.
	hash := func(key string) string {
		b, err := storage.ReadAll(ctx, s.store, key)
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(b))
	}
	if err := snapshot.Create(ctx, s.store, &snapshot.Manifest{Format: snapshot.Format, Name: "prod", Created: time.Now(), Creator: "test",
		Modules: []snapshot.Entry{{Path: "example.com/pinned", Version: "v1.0.0",
			Hash: hash("example.com/pinned/@v/v1.0.0.ziphash"), GoModHash: hash("example.com/pinned/@v/v1.0.0.modhash")}}}); err != nil {
		t.Fatal(err)
	}

	// A download of the big zip, stalled by its client after its first
	// bytes: its handler is writing it while the collector runs.
	resp, err := http.Get(zipURL("example.com/big"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	head := make([]byte, 64<<10)
	if _, err := io.ReadFull(resp.Body, head); err != nil {
		t.Fatal(err)
	}
	bigV := module.Version{Path: "example.com/big", Version: "v1.0.0"}
	if !s.tracker.Serving(bigV) {
		t.Fatal("the big zip's download is not registered as being served")
	}

	// The downloads so far are written as long ago, then given their
	// times: big downloaded 100 days ago, a 50, b 40, c yesterday, the
	// pinned and the private versions 200 and 300 days ago; every file
	// stored 400 days ago.
	d := s.records.DB()
	if err := s.tracker.Flush(ctx, d, time.Unix(1, 0)); err != nil {
		t.Fatal(err)
	}
	days := func(n int) time.Time { return time.Now().Add(-time.Duration(n) * 24 * time.Hour) }
	var accesses []db.VersionAccess
	for path, n := range map[string]int{"example.com/big": 100, "example.com/a": 50, "example.com/b": 40, "example.com/c": 1, "example.com/pinned": 200, "corp.example/p": 300} {
		accesses = append(accesses, db.VersionAccess{Module: path, Version: "v1.0.0", Time: days(n)})
	}
	if err := d.RecordAccess(ctx, accesses); err != nil {
		t.Fatal(err)
	}
	filepath.Walk(s.Dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			os.Chtimes(p, days(400), days(400))
		}
		return nil
	})

	private, _ := modpattern.Parse("corp.example")
	c := newCollector(s.cfg, s.log, s.store, private, s.tracker, nil, s.records)
	opts := c.options(ctx)
	opts.DryRun = true
	rep, err := c.collect(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	size := func(key string) int64 {
		fi, err := os.Stat(filepath.Join(s.Dir, filepath.FromSlash(key)))
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	ab := size("example.com/a/@v/v1.0.0.zip") + size("example.com/b/@v/v1.0.0.zip") // hash side-files: not counted
	opts = c.options(ctx)
	opts.MaxBytes = rep.StoredBytes - ab // a's and b's zips must go
	rep, err = c.collect(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range rep.Evictions {
		got = append(got, e.Module+" "+strings.Join(e.Files, ",")+" "+e.Reason)
	}
	if strings.Join(got, "; ") != "example.com/a zip quota; example.com/b zip quota" {
		t.Errorf("evicted %q, want a's and b's zips, least recently downloaded first", got)
	}
	if rep.Kept["pinned"] != 1 || rep.Kept["private"] != 1 || rep.Kept["serving"] != 1 {
		t.Errorf("kept %v, want pinned, private and serving 1 each", rep.Kept)
	}
	if rep.AfterBytes > opts.MaxBytes {
		t.Errorf("after %d bytes, over the quota %d", rep.AfterBytes, opts.MaxBytes)
	}
	for key, want := range map[string]bool{
		"example.com/a/@v/v1.0.0.zip": false, "example.com/a/@v/v1.0.0.ziphash": true, "example.com/a/@v/v1.0.0.mod": true,
		"example.com/b/@v/v1.0.0.zip": false, "example.com/c/@v/v1.0.0.zip": true, "example.com/big/@v/v1.0.0.zip": true,
		"example.com/pinned/@v/v1.0.0.zip": true, "corp.example/p/@v/v1.0.0.zip": true,
	} {
		if _, err := s.stored(key); (err == nil) != want {
			t.Errorf("%s stored: %v, want %v", key, err == nil, want)
		}
	}

	// The stalled download completes, whole.
	rest, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("the download running during the collection failed: %v", err)
	}
	if !bytes.Equal(append(head, rest...), up.Module("example.com/big", "v1.0.0").Zip) {
		t.Error("the download running during the collection is not the zip")
	}

	// An evicted zip is fetched again when asked for.
	aZip := "/example.com/a/@v/v1.0.0.zip"
	if n := up.Hits(aZip); n != 1 {
		t.Fatalf("upstream hits of a's zip before: %d, want 1", n)
	}
	if r := get(t, zipURL("example.com/a")); r.code != 200 || r.body != string(up.Module("example.com/a", "v1.0.0").Zip) {
		t.Fatalf("GET a's evicted zip: %d", r.code)
	}
	if n := up.Hits(aZip); n != 2 {
		t.Errorf("upstream hits of a's zip after eviction: %d, want 2 (fetched again)", n)
	}
	if _, err := s.stored("example.com/a/@v/v1.0.0.zip"); err != nil {
		t.Errorf("a's zip not stored again: %v", err)
	}
	st := c.State()
	if !st.Ran || st.Evictions[gc.ReasonQuota] != 2 || st.Freed[gc.ReasonQuota] != uint64(ab) {
		t.Errorf("collector state %+v, want 2 quota evictions of %d bytes", st, ab)
	}
}

// TestAccessTimesFlushedAtShutdown: a download is written to the database
// by the flush at shutdown (no flush interval has passed), once, and a
// request that failed is not recorded.
func TestAccessTimesFlushedAtShutdown(t *testing.T) {
	up := fakeproxy.New(t)
	dbFile := filepath.Join(t.TempDir(), "gomirror.db")
	s := start(t, up, func(cfg *config.Serve) {
		cfg.Prefetch = 0
		cfg.Database = dbFile
	})
	waitDB(t, s)
	before := time.Now()
	if r := get(t, s.URL+"/example.com/hello/@v/v1.0.0.mod"); r.code != 200 {
		t.Fatalf("GET .mod: %d", r.code)
	}
	if r := get(t, s.URL+"/example.com/hello/@v/v1.9.0.zip"); r.code < 400 {
		t.Fatalf("GET a missing zip: %d, want an error", r.code)
	}
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	d, err := db.Open(context.Background(), dbFile)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var got []string
	if err := d.AccessTimes(context.Background(), func(a db.VersionAccess) error {
		if a.Time.Before(before.Add(-time.Second)) {
			t.Errorf("%s@%s recorded at %v, before the request", a.Module, a.Version, a.Time)
		}
		got = append(got, a.Module+"@"+a.Version)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, " ") != "example.com/hello@v1.0.0" {
		t.Errorf("access times recorded for %q, want example.com/hello@v1.0.0 only", got)
	}
}

// fakeCoord is a cache.Coordinator whose lock is held by another replica
// or free.
type fakeCoord struct {
	held     bool
	lost     bool // a lease taken is lost at once
	locked   []string
	unlocked int
}

func (f *fakeCoord) TryLock(ctx context.Context, key string) (cache.Lease, error) {
	if f.held {
		return nil, cache.ErrLockHeld
	}
	f.locked = append(f.locked, key)
	return fakeLease{f}, nil
}

func (f *fakeCoord) GetShared(ctx context.Context, key string) ([]byte, bool, error) {
	return nil, false, nil
}

func (f *fakeCoord) SetShared(ctx context.Context, key string, b []byte, ttl time.Duration) error {
	return nil
}

type fakeLease struct{ f *fakeCoord }

func (l fakeLease) Valid(ctx context.Context) bool { return !l.f.lost }
func (l fakeLease) Unlock()                        { l.f.unlocked++ }

// TestCollectorOneReplicaAtATime: a run while another replica holds the
// collection lock evicts nothing; with the lock free it collects under it
// and releases it; storing past the quota asks for a run.
func TestCollectorOneReplicaAtATime(t *testing.T) {
	dir := t.TempDir()
	store, err := storageFS(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, f := range []string{".mod", ".zip"} {
		if err := storage.PutBytes(ctx, store, "example.com/a/@v/v1.0.0"+f, []byte(strings.Repeat("x", 100))); err != nil {
			t.Fatal(err)
		}
	}
	ageFiles(t, dir, time.Hour) // older than gc.MinAge
	cfg := config.Defaults()
	cfg.MaxStoredBytes = 150
	co := &fakeCoord{held: true}
	c := newCollector(&cfg, slog.New(slog.DiscardHandler), store, modpattern.List{}, gc.NewTracker(), co, nil)
	if !c.once(ctx) {
		t.Fatal("once did not run")
	}
	if _, err := store.Stat(ctx, "example.com/a/@v/v1.0.0.zip"); err != nil || c.State().Ran {
		t.Fatalf("a run under another replica's lock collected (zip: %v)", err)
	}
	co.held = false
	c.once(ctx)
	if _, err := store.Stat(ctx, "example.com/a/@v/v1.0.0.zip"); err == nil {
		t.Error("the zip over the quota is still stored")
	}
	if len(co.locked) != 1 || co.locked[0] != layout.GCLock || co.unlocked != 1 {
		t.Errorf("locks taken %q, released %d; want %s once", co.locked, co.unlocked, layout.GCLock)
	}
	// 100 bytes left; storing kickMargin more passes the quota and grows
	// the store by the margin: a run is asked for.
	c.storedArtifact("example.com/b/@v/v1.0.0.zip", c.kickMargin())
	select {
	case <-c.kick:
	default:
		t.Error("storing past the quota did not ask for a run")
	}
	c.storedArtifact("example.com/b/@v/v1.0.0.mod", 1)
	if st := c.State(); st.Stored != 101+c.kickMargin() || st.Evictions[gc.ReasonQuota] != 1 {
		t.Errorf("state %+v, want %d bytes stored and 1 eviction", st, 101+c.kickMargin())
	}
}

// ageFiles sets the modification time of every file under dir to age ago.
func ageFiles(t *testing.T, dir string, age time.Duration) {
	t.Helper()
	old := time.Now().Add(-age)
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			err = os.Chtimes(p, old, old)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func storageFS(dir string) (storage.Storage, error) {
	s, err := fsdriver.New(dir)
	if err != nil {
		return nil, err
	}
	return storage.Wrap(s), nil
}

// TestGCFillNotEvictedUnderRequester (review finding 1): a zip is
// registered as being served from before the mirror fetches it (a fill in
// progress is covered), and a zip just stored stays whatever the quota:
// with a quota the store is always over (1 byte), the request that filled
// it gets it, and a run right after the fill (as storing past the quota
// asks for) keeps it (a file stored less than gc.MinAge ago never goes).
func TestGCFillNotEvictedUnderRequester(t *testing.T) {
	up := fakeproxy.New(t)
	if _, err := up.Add("example.com/f", "v1.0.0", map[string][]byte{"data": []byte("fill")}); err != nil {
		t.Fatal(err)
	}
	mv := module.Version{Path: "example.com/f", Version: "v1.0.0"}
	var s *testServer
	servingDuringFill := make(chan bool, 1)
	up.SetHook(func(w http.ResponseWriter, r *http.Request) bool {
		if strings.HasSuffix(r.URL.Path, ".zip") {
			select {
			case servingDuringFill <- s.tracker.Serving(mv):
			default:
			}
		}
		return false
	})
	s = start(t, up, func(cfg *config.Serve) {
		cfg.Prefetch = 0
		cfg.MaxStoredBytes = 1
	})
	zip := "example.com/f/@v/v1.0.0.zip"
	if r := get(t, s.URL+"/"+zip); r.code != 200 {
		t.Fatalf("GET the zip: %d", r.code)
	}
	if !<-servingDuringFill {
		t.Error("the zip was not registered as being served while the mirror filled it")
	}
	c := newCollector(s.cfg, s.log, s.store, modpattern.List{}, s.tracker, nil, s.records)
	ctx := context.Background()
	opts := c.options(ctx)
	opts.Serving = nil // its age alone keeps it
	rep, err := c.collect(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.stored(zip); err != nil {
		t.Errorf("a zip stored just now was evicted (%v): report %+v", err, rep)
	}
	if rep.Kept["grace"] == 0 {
		t.Errorf("kept %v, want the fresh zip kept by its minimum age (grace)", rep.Kept)
	}
}

// TestGCQuotaUnreachable (review finding 2): with the quota unreachable
// (a private module alone is over it), storing more does not ask for a
// run until the bytes stored have grown by kickMargin since the last
// run's result, a kicked run waits kickGap after the last run, and the
// collector warns once (not at every run) and reports why in its state.
func TestGCQuotaUnreachable(t *testing.T) {
	dir := t.TempDir()
	store, err := storageFS(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, f := range []string{".mod", ".zip"} {
		if err := storage.PutBytes(ctx, store, "corp.example/p/@v/v1.0.0"+f, []byte(strings.Repeat("x", 1000))); err != nil {
			t.Fatal(err)
		}
	}
	ageFiles(t, dir, time.Hour)
	cfg := config.Defaults()
	cfg.MaxStoredBytes = 100
	var logs bytes.Buffer
	private, _ := modpattern.Parse("corp.example")
	c := newCollector(&cfg, slog.New(slog.NewTextHandler(&logs, nil)), store, private, gc.NewTracker(), nil, nil)
	for range 3 {
		c.once(ctx)
	}
	if n := strings.Count(logs.String(), "level=WARN msg=\"gc: the quota cannot be reached"); n != 1 {
		t.Errorf("%d warnings about the unreachable quota over 3 runs, want 1:\n%s", n, logs.String())
	}
	if st := c.State(); st.QuotaUnreachable == "" || !strings.Contains(st.QuotaUnreachable, "private") {
		t.Errorf("state's reason %q, want the private module named", st.QuotaUnreachable)
	}
	if d := c.kickDelay(time.Now()); d <= 0 {
		t.Errorf("a kicked run right after a run waits %v, want a delay", d)
	}
	for range 100 {
		c.storedArtifact("example.com/b/@v/v1.0.0.zip", 1000)
	}
	select {
	case <-c.kick:
		t.Error("storing 100 kB past an unreachable quota asked for a run")
	default:
	}
	c.storedArtifact("example.com/big/@v/v1.0.0.zip", c.kickMargin())
	select {
	case <-c.kick:
	default:
		t.Error("storing the margin past the last run's result did not ask for a run")
	}
}

// TestGCRetentionDatabaseOff (review finding 3): with the database off,
// a version downloaded since the last run is not evicted by retention at
// the next run, nor at the one after (the collector remembers downloads
// in memory across runs), although its files were stored long ago.
func TestGCRetentionDatabaseOff(t *testing.T) {
	dir := t.TempDir()
	store, err := storageFS(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, f := range []string{".mod", ".zip", ".ziphash"} {
		if err := storage.PutBytes(ctx, store, "example.com/a/@v/v1.0.0"+f, []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	ageFiles(t, dir, 48*time.Hour)
	cfg := config.Defaults()
	cfg.RetentionPeriod = 24 * time.Hour
	tr := gc.NewTracker()
	c := newCollector(&cfg, slog.New(slog.DiscardHandler), store, modpattern.List{}, tr, nil, nil)
	a := module.Version{Path: "example.com/a", Version: "v1.0.0"}
	tr.Begin(a)
	tr.Touch(a)
	tr.End(a)
	for run := range 3 {
		c.once(ctx)
		if _, err := store.Stat(ctx, "example.com/a/@v/v1.0.0.zip"); err != nil {
			t.Fatalf("run %d: the zip downloaded before the first run was evicted by retention", run)
		}
	}
}

// TestGCKeepsVulnDBModule (review finding 4): the version of the
// vulnerability database's module that serve has loaded is pinned: a
// collection over the quota evicts another zip, never it, although it was
// never downloaded by a client and stored long ago.
func TestGCKeepsVulnDBModule(t *testing.T) {
	up := fakeproxy.New(t)
	entry, err := os.ReadFile("../vulndb/testdata/osv/GO-2022-1059.json")
	if err != nil {
		t.Fatal(err)
	}
	const version = "v0.0.0-20261105234957-e22db6528018"
	if _, err := up.Add("golang.org/x/vulndb", version, map[string][]byte{
		"go.mod": []byte("module golang.org/x/vulndb\n"), "data/osv/GO-2022-1059.json": entry}); err != nil {
		t.Fatal(err)
	}
	s := start(t, up, func(c *config.Serve) {
		c.VulnDB = "module"
		c.Prefetch = 0
		c.MaxStoredBytes = 1
	})
	ctx := context.Background()
	if err := s.vulndb.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{".mod", ".zip", ".ziphash"} {
		if err := storage.PutBytes(ctx, s.store, "example.com/hello/@v/v1.0.0"+f, []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	ageFiles(t, s.Dir, time.Hour)
	rep, err := s.collector.collect(ctx, s.collector.options(ctx))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.stored("golang.org/x/vulndb/@v/" + version + ".zip"); err != nil {
		t.Errorf("the vulnerability database's module zip was evicted: %+v", rep.Evictions)
	}
	if _, err := s.stored("example.com/hello/@v/v1.0.0.zip"); err == nil {
		t.Errorf("the other zip was not evicted: %+v", rep)
	}
}

// TestCollectorStopsWhenLockLost (review finding 9): a run whose lock is
// lost before it deletes deletes nothing.
func TestCollectorStopsWhenLockLost(t *testing.T) {
	dir := t.TempDir()
	store, err := storageFS(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := storage.PutBytes(ctx, store, "example.com/a/@v/v1.0.0.zip", []byte("zip")); err != nil {
		t.Fatal(err)
	}
	ageFiles(t, dir, time.Hour)
	cfg := config.Defaults()
	cfg.MaxStoredBytes = 1
	c := newCollector(&cfg, slog.New(slog.DiscardHandler), store, modpattern.List{}, gc.NewTracker(), &fakeCoord{lost: true}, nil)
	c.once(ctx)
	if _, err := store.Stat(ctx, "example.com/a/@v/v1.0.0.zip"); err != nil {
		t.Errorf("a run that lost its lock evicted: %v", err)
	}
}

// sweepCounter is a store with the LeftoverSweeper capability, counting
// its sweeps.
type sweepCounter struct {
	storage.Storage
	sweeps atomic.Int32
}

func (s *sweepCounter) SweepLeftovers(ctx context.Context) (int, error) {
	s.sweeps.Add(1)
	return 0, nil
}

// TestCollectorSweepsLeftovers (review finding 10): each collection also
// sweeps the store's leftovers (S3's stale multipart uploads).
func TestCollectorSweepsLeftovers(t *testing.T) {
	store, err := storageFS(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	sc := &sweepCounter{Storage: store}
	cfg := config.Defaults()
	cfg.MaxStoredBytes = 1 << 30
	c := newCollector(&cfg, slog.New(slog.DiscardHandler), sc, modpattern.List{}, gc.NewTracker(), nil, nil)
	c.once(context.Background())
	c.once(context.Background())
	if n := sc.sweeps.Load(); n != 2 {
		t.Errorf("%d sweeps over 2 collections, want 2", n)
	}
}

// TestGCWithUpstreamOffWarns: a quota with upstream off is allowed, with a
// warning (what goes cannot come back).
func TestGCWithUpstreamOffWarns(t *testing.T) {
	s := startOffline(t, nil, func(cfg *config.Serve) { cfg.StorageMaxSize, cfg.MaxStoredBytes = "1GiB", 1<<30 })
	if !strings.Contains(s.Logs.String(), "level=WARN msg=\"storage-max-size or retention with upstream off") {
		t.Errorf("no warning about the quota with upstream off:\n%s", s.Logs.String())
	}
}
