package catalog_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gomirror/gomirror/audit"
	"github.com/gomirror/gomirror/catalog"
	"github.com/gomirror/gomirror/db"
	"github.com/gomirror/gomirror/storage"
	fsstore "github.com/gomirror/gomirror/storage/fs"
)

// base is the modification time of the first stored file; each next one is
// a minute later.
var base = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

// stored are the files of the storage fixture; artifact marks those the
// catalog must hold (canonical versions' .info, .mod and .zip), as
// module@version file.
var stored = []struct {
	key      string
	artifact string
}{
	{"github.com/corp/a/@v/v1.0.0.info", "github.com/corp/a@v1.0.0 info"},
	{"github.com/corp/a/@v/v1.0.0.mod", "github.com/corp/a@v1.0.0 mod"},
	{"github.com/corp/a/@v/v1.0.0.zip", "github.com/corp/a@v1.0.0 zip"},
	{"github.com/corp/a/@v/v1.0.0.ziphash", ""},
	{"github.com/corp/a/@v/v1.0.0.modhash", ""},
	{"github.com/corp/a/@v/v1.1.0-pre.1.mod", "github.com/corp/a@v1.1.0-pre.1 mod"},
	{"github.com/corp/a/@v/list", ""},
	{"github.com/corp/a/@latest", ""},
	{"github.com/corp/a/@v/master.info", ""}, // a query, not a version
	{"github.com/corp/a/@v/v1.info", ""},     // not canonical
	{"github.com/corp/a/@v/v2.0.0.mod", ""},  // v2 without /v2
	{"github.com/!upper/x/@v/v0.1.0.mod", "github.com/Upper/x@v0.1.0 mod"},
	{"github.com/!upper/x/@v/v0.1.0.zip", "github.com/Upper/x@v0.1.0 zip"},
	{"github.com/Upper/y/@v/v0.1.0.mod", ""}, // not an escaped path
	{"sumdb/sum.example/lookup/github.com/corp/a@v1.0.0", ""},
	{"sumdb/example.com/m/@v/v1.0.0.info", ""},
	{"sumdb/sum.example/tile/8/0/001", ""},
	{".gomirror/gomirror.db", ""},
	{".gomirror/example.com/m/@v/v1.0.0.info", ""},
	{"github.com/corp/old/@v/v2.0.0+incompatible.zip", "github.com/corp/old@v2.0.0+incompatible zip"},
	{"gopkg.in/yaml.v3/@v/v3.0.1.info", "gopkg.in/yaml.v3@v3.0.1 info"},
}

// newStorage returns an fs storage holding stored, the i-th file of i+1
// bytes modified at base + i minutes.
func newStorage(t *testing.T) (storage.Storage, string) {
	t.Helper()
	dir := t.TempDir()
	st, err := fsstore.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range stored {
		put(t, st, dir, f.key, i+1, base.Add(time.Duration(i)*time.Minute))
	}
	return st, dir
}

func put(t *testing.T, st storage.Storage, dir, key string, size int, mtime time.Time) {
	t.Helper()
	if err := st.Put(context.Background(), key, strings.NewReader(strings.Repeat("x", size))); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(filepath.Join(dir, filepath.FromSlash(key)), mtime, mtime); err != nil {
		t.Fatal(err)
	}
}

func openDB(t *testing.T) *db.DB {
	t.Helper()
	d, err := db.Open(context.Background(), filepath.Join(t.TempDir(), "gomirror.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// contents returns every artifact of the catalog, as module@version file.
func contents(t *testing.T, d *db.DB) map[string]db.Artifact {
	t.Helper()
	ctx := context.Background()
	out := map[string]db.Artifact{}
	for cursor := ""; ; {
		mods, next, err := d.Modules(ctx, "", cursor, 1000)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range mods {
			arts, err := d.Module(ctx, m.Module)
			if err != nil {
				t.Fatal(err)
			}
			for _, a := range arts {
				out[a.Module+"@"+a.Version+" "+a.File] = a
			}
		}
		if next == "" {
			return out
		}
		cursor = next
	}
}

func keys(m map[string]db.Artifact) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func TestRebuild(t *testing.T) {
	ctx := context.Background()
	st, dir := newStorage(t)
	d := openDB(t)
	// The catalog before: one artifact no longer stored, one stored with
	// a wrong size and a download time to keep.
	downloaded := base.Add(time.Hour)
	for _, a := range []db.Artifact{
		{Module: "example.com/gone", Version: "v1.0.0", File: "zip", Size: 5, Stored: base},
		{Module: "github.com/corp/a", Version: "v1.0.0", File: "zip", Size: 999, Stored: base, LastDownloaded: downloaded},
	} {
		if err := d.PutArtifact(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	var want []string
	for _, f := range stored {
		if f.artifact != "" {
			want = append(want, f.artifact)
		}
	}
	slices.Sort(want)
	added, removed, err := catalog.Rebuild(ctx, st, d, 3)
	if err != nil {
		t.Fatal(err)
	}
	if added != int64(len(want)-1) || removed != 1 {
		t.Errorf("Rebuild: %d added, %d removed; want %d, 1", added, removed, len(want)-1)
	}
	got := contents(t, d)
	if !slices.Equal(keys(got), want) {
		t.Fatalf("catalog %v\nwant    %v", keys(got), want)
	}
	for i, f := range stored {
		if f.artifact == "" {
			continue
		}
		a := got[f.artifact]
		if a.Size != int64(i+1) || !a.Stored.Equal(base.Add(time.Duration(i)*time.Minute)) {
			t.Errorf("%s: size %d stored %v; want %d, %v", f.artifact, a.Size, a.Stored, i+1, base.Add(time.Duration(i)*time.Minute))
		}
	}
	if a := got["github.com/corp/a@v1.0.0 zip"]; !a.LastDownloaded.Equal(downloaded) {
		t.Errorf("the zip's download time %v; want it kept, %v", a.LastDownloaded, downloaded)
	}
	// Again, with a file removed from storage and one added: the catalog
	// follows.
	if err := st.Delete(ctx, "github.com/corp/a/@v/v1.0.0.info"); err != nil {
		t.Fatal(err)
	}
	put(t, st, dir, "example.com/new/@v/v0.0.1.mod", 42, base)
	added, removed, err = catalog.Rebuild(ctx, st, d, 1)
	if err != nil || added != 1 || removed != 1 {
		t.Fatalf("second Rebuild: %d added, %d removed, %v; want 1, 1", added, removed, err)
	}
	got = contents(t, d)
	if _, ok := got["github.com/corp/a@v1.0.0 info"]; ok {
		t.Error("a deleted .info is still catalogued")
	}
	if a := got["example.com/new@v0.0.1 mod"]; a.Size != 42 {
		t.Errorf("the new .mod: %+v", a)
	}
}

// TestRebuildMany rebuilds more artifacts than fit one page of Stats in
// flight and one staging statement of the database.
func TestRebuildMany(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := fsstore.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	const n = 1200
	for i := range n {
		put(t, st, dir, fmt.Sprintf("example.com/m%d/@v/v1.0.%d.info", i%7, i), i%50, base)
	}
	d := openDB(t)
	added, removed, err := catalog.Rebuild(ctx, st, d, 8)
	if err != nil || added != n || removed != 0 {
		t.Fatalf("Rebuild: %d added, %d removed, %v; want %d, 0", added, removed, err, n)
	}
	if got := len(contents(t, d)); got != n {
		t.Errorf("%d artifacts catalogued; want %d", got, n)
	}
}

// statFailing is a storage whose Stat of one key fails (with err), and
// whose Stat of another says it is gone (deleted since it was listed).
type statFailing struct {
	storage.Storage
	fail, gone string
	err        error
}

func (s statFailing) Stat(ctx context.Context, key string) (storage.Info, error) {
	switch key {
	case s.fail:
		return storage.Info{}, s.err
	case s.gone:
		return storage.Info{}, fmt.Errorf("%s: %w", key, fs.ErrNotExist)
	}
	return s.Storage.Stat(ctx, key)
}

// listFailing is a storage whose List fails.
type listFailing struct{ storage.Storage }

func (listFailing) List(context.Context, string) ([]string, error) {
	return nil, errors.New("bucket gone")
}

func TestRebuildFailure(t *testing.T) {
	ctx := context.Background()
	st, _ := newStorage(t)
	d := openDB(t)
	// The catalog before: the storage as it is, and an entry no longer
	// stored, which a failed rebuild must not remove.
	if _, _, err := catalog.Rebuild(ctx, st, d, 2); err != nil {
		t.Fatal(err)
	}
	gone := db.Artifact{Module: "example.com/gone", Version: "v1.0.0", File: "zip", Size: 5, Stored: base}
	if err := d.PutArtifact(ctx, gone); err != nil {
		t.Fatal(err)
	}
	before := keys(contents(t, d))
	for _, fail := range []string{stored[0].key, "gopkg.in/yaml.v3/@v/v3.0.1.info", "github.com/!upper/x/@v/v0.1.0.mod"} {
		bad := statFailing{Storage: st, fail: fail, err: errors.New("connection reset")}
		added, removed, err := catalog.Rebuild(ctx, bad, d, 2)
		if err == nil || !strings.Contains(err.Error(), "connection reset") || !strings.Contains(err.Error(), fail) || added != 0 || removed != 0 {
			t.Errorf("Stat of %s failing: Rebuild = %d, %d, %v; want the error, naming the key", fail, added, removed, err)
		}
		if after := keys(contents(t, d)); !slices.Equal(after, before) {
			t.Errorf("Stat of %s failing: the catalog changed:\n%v\nwant %v", fail, after, before)
		}
	}
	if _, _, err := catalog.Rebuild(ctx, listFailing{st}, d, 2); err == nil || !strings.Contains(err.Error(), "bucket gone") {
		t.Errorf("List failing: Rebuild = %v", err)
	}
	if after := keys(contents(t, d)); !slices.Equal(after, before) {
		t.Errorf("List failing: the catalog changed: %v", after)
	}
	// A key deleted between List and Stat is left out, not an error.
	skipped := statFailing{Storage: st, gone: stored[0].key}
	added, removed, err := catalog.Rebuild(ctx, skipped, d, 2)
	if err != nil || added != 0 || removed != 2 {
		t.Fatalf("a key gone since List: %d added, %d removed, %v; want 0, 2 (it and example.com/gone)", added, removed, err)
	}
	if _, ok := contents(t, d)[stored[0].artifact]; ok {
		t.Error("a key gone since List is still catalogued")
	}
	// A cancelled context leaves the catalog as it was too.
	before = keys(contents(t, d))
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, _, err := catalog.Rebuild(cctx, st, d, 2); err == nil {
		t.Error("Rebuild with a cancelled context succeeded")
	}
	if after := keys(contents(t, d)); !slices.Equal(after, before) {
		t.Errorf("cancelled: the catalog changed: %v", after)
	}
}

func TestArtifact(t *testing.T) {
	when := time.Date(2026, 3, 1, 12, 0, 0, 0, time.FixedZone("x", 3600))
	for _, f := range stored {
		a, ok := catalog.Artifact(f.key, 7, when)
		if ok != (f.artifact != "") {
			t.Errorf("Artifact(%q): ok %v", f.key, ok)
			continue
		}
		if ok && (a.Module+"@"+a.Version+" "+a.File != f.artifact || a.Size != 7 || !a.Stored.Equal(when) || a.Stored.Location() != time.UTC) {
			t.Errorf("Artifact(%q) = %+v; want %s, 7 bytes, %v in UTC", f.key, a, f.artifact, when)
		}
	}
}

// logBuffer is a slog destination to read.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// drain runs f's Run with a context that is already cancelled: it
// writes what is queued (the drain) and returns.
func drain(f *catalog.Feed) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	f.Run(ctx, 10*time.Second)
}

// errStore is a catalog.Store whose writes fail.
type errStore struct{ catalog.Store }

func (errStore) PutArtifact(context.Context, db.Artifact) error {
	return errors.New("database is locked")
}

func TestFeed(t *testing.T) {
	d := openDB(t)
	var log logBuffer
	f := catalog.NewFeed(func() catalog.Store { return d }, 16, slog.New(slog.NewTextHandler(&log, nil)))
	f.Add("github.com/corp/a/@v/v1.0.0.zip", 300)
	f.Add("github.com/corp/a/@v/v1.0.0.mod", 20)
	f.Add("github.com/corp/a/@v/list", 5)           // not an artifact
	f.Add("github.com/corp/a/@v/v1.0.0.ziphash", 5) // not an artifact
	f.Add("sumdb/sum.example/latest", 5)            // not an artifact
	start := time.Now()
	drain(f)
	got := contents(t, d)
	if want := []string{"github.com/corp/a@v1.0.0 mod", "github.com/corp/a@v1.0.0 zip"}; !slices.Equal(keys(got), want) {
		t.Fatalf("after Run: %v; want %v", keys(got), want)
	}
	if a := got["github.com/corp/a@v1.0.0 zip"]; a.Size != 300 || a.Stored.Before(start.Add(-time.Second)) {
		t.Errorf("zip catalogued as %+v", a)
	}
	if f.Behind() || log.String() != "" {
		t.Errorf("Behind %v, log %q after writes that succeeded", f.Behind(), log.String())
	}
	f.MarkBehind()
	if !f.Behind() {
		t.Error("MarkBehind did not")
	}
	f.Caught()
	if f.Behind() {
		t.Error("Caught did not")
	}
}

// TestFeedRun writes while Run runs, and stops it.
func TestFeedRun(t *testing.T) {
	d := openDB(t)
	written := make(chan struct{}, 1)
	f := catalog.NewFeed(func() catalog.Store { return notify{d, written} }, 16, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { f.Run(ctx, time.Second); close(done) }()
	f.Add("example.com/m/@v/v1.0.0.info", 3)
	<-written
	if _, ok := contents(t, d)["example.com/m@v1.0.0 info"]; !ok {
		t.Error("not catalogued while Run runs")
	}
	cancel()
	<-done
}

// notify is a store that says when it wrote.
type notify struct {
	*db.DB
	written chan struct{}
}

func (n notify) PutArtifact(ctx context.Context, a db.Artifact) error {
	err := n.DB.PutArtifact(ctx, a)
	n.written <- struct{}{}
	return err
}

// TestFeedLost checks that every way of losing an update marks the feed
// Behind and logs once.
func TestFeedLost(t *testing.T) {
	d := openDB(t)
	for name, tc := range map[string]struct {
		store func() catalog.Store
		size  int
		adds  int
		want  string // in the log
	}{
		"no database": {func() catalog.Store { return nil }, 4, 2, "no database"},
		"typed nil":   {func() catalog.Store { return (*db.DB)(nil) }, 4, 2, "no database"},
		"write fails": {func() catalog.Store { return errStore{} }, 4, 2, "database is locked"},
		"queue full":  {func() catalog.Store { return d }, 1, 3, "queue full"},
		"no queue":    {func() catalog.Store { return d }, 0, 1, "queue full"},
	} {
		t.Run(name, func(t *testing.T) {
			var log logBuffer
			f := catalog.NewFeed(tc.store, tc.size, slog.New(slog.NewTextHandler(&log, nil)))
			for i := range tc.adds {
				f.Add(fmt.Sprintf("example.com/lost/@v/v1.0.%d.mod", i), 1)
			}
			drain(f)
			if !f.Behind() {
				t.Error("not Behind")
			}
			if l := log.String(); strings.Count(l, "level=WARN") != 1 || !strings.Contains(l, tc.want) {
				t.Errorf("log %q; want one warning mentioning %q", l, tc.want)
			}
			f.Caught()
			if f.Behind() {
				t.Error("Behind after Caught")
			}
		})
	}
}

// auditingStorage writes an audit record to d during every Stat, as the
// server's recorder does while a rebuild reads storage.
type auditingStorage struct {
	storage.Storage
	d *db.DB
	t *testing.T
	n atomic.Int64
}

func (s *auditingStorage) Stat(ctx context.Context, key string) (storage.Info, error) {
	wctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	id := fmt.Sprintf("stat-%d", s.n.Add(1))
	if err := s.d.WriteAudit(wctx, []audit.Record{{ID: id, Time: time.Now(), Remote: "127.0.0.1", Method: "GET", Kind: "info", Status: 200}}); err != nil {
		s.t.Errorf("an audit write while Rebuild reads storage: %v", err)
	}
	return s.Storage.Stat(ctx, key)
}

// TestRebuildReadsStorageBeforeWriting checks that the database stays
// writable while Rebuild reads storage (on SQLite its transaction holds
// the only write connection): reading every object of a bucket can take
// minutes.
func TestRebuildReadsStorageBeforeWriting(t *testing.T) {
	st, _ := newStorage(t)
	d := openDB(t)
	s := &auditingStorage{Storage: st, d: d, t: t}
	if _, _, err := catalog.Rebuild(context.Background(), s, d, 2); err != nil {
		t.Fatal(err)
	}
	page, err := d.QueryAudit(context.Background(), audit.Query{})
	if err != nil || len(page.Records) == 0 || int64(len(page.Records)) != s.n.Load() {
		t.Errorf("%d audit records written during the Stats, %d stored, %v", s.n.Load(), len(page.Records), err)
	}
}

// feedDuringList is storage whose List is followed by a Feed's write of an
// artifact stored just after the listing (not in it), as happens when
// the mirror stores a zip while a rebuild reads storage.
type feedDuringList struct {
	storage.Storage
	feed func()
}

func (s feedDuringList) List(ctx context.Context, prefix string) ([]string, error) {
	keys, err := s.Storage.List(ctx, prefix)
	s.feed()
	return keys, err
}

// TestRebuildKeepsWhatIsStoredMeanwhile: an artifact the Feed catalogues
// while Rebuild reads storage (stored after the listing) stays in the
// catalog.
func TestRebuildKeepsWhatIsStoredMeanwhile(t *testing.T) {
	st, _ := newStorage(t)
	d := openDB(t)
	ctx := context.Background()
	late := db.Artifact{Module: "example.com/late", Version: "v1.0.0", File: "zip", Size: 42}
	wrapped := feedDuringList{Storage: st, feed: func() {
		late.Stored = time.Now()
		if err := d.PutArtifact(ctx, late); err != nil {
			t.Error(err)
		}
	}}
	if _, _, err := catalog.Rebuild(ctx, wrapped, d, 4); err != nil {
		t.Fatal(err)
	}
	got := contents(t, d)
	if _, ok := got["example.com/late@v1.0.0 zip"]; !ok {
		t.Errorf("the artifact catalogued during the rebuild is gone: %v", keys(got))
	}
	n := 0
	for _, f := range stored {
		if f.artifact != "" {
			n++
		}
	}
	if len(got) != n+1 {
		t.Errorf("catalog %v: want the %d stored artifacts and the late one", keys(got), n)
	}
}
