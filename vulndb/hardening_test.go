package vulndb

import (
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/module"

	"github.com/gomirror/gomirror/layout"
	"github.com/gomirror/gomirror/storage"
	"github.com/gomirror/gomirror/storage/mem"
)

// makeZipExtra is makeZip with the fixtures and one more file name with
// content.
func makeZipExtra(t testing.TB, version, name, content string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	prefix := DefaultModule + "@" + version + "/"
	for _, id := range fixtureIDs {
		b, err := os.ReadFile(filepath.Join("testdata", "osv", id+".json"))
		if err != nil {
			t.Fatal(err)
		}
		w, _ := zw.Create(prefix + "data/osv/" + id + ".json")
		w.Write(b)
	}
	w, _ := zw.Create(prefix + name)
	w.Write([]byte(content))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// makeBadZip is a copy that does not build: an entry whose event is not
// semver, as a future format might write.
func makeBadZip(t testing.TB, v string) []byte {
	return makeZipExtra(t, v, "data/osv/GO-2099-0001.json", `{"id":"GO-2099-0001","modified":"2026-01-01T00:00:00Z","affected":[{"package":{"name":"example.com/m","ecosystem":"Go"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"1.2.3.4"}]}]}]}`)
}

func putZip(t testing.TB, st storage.Storage, v string, b []byte) {
	t.Helper()
	key, _ := layout.Key(module.Version{Path: DefaultModule, Version: v}, layout.Zip)
	if err := storage.PutBytes(context.Background(), st, key, b); err != nil {
		t.Fatal(err)
	}
}

// A newer stored version that does not build (left in storage by a
// failed refresh) must not hide the older good one at the next start.
func TestLoadFallsBackToOlderStored(t *testing.T) {
	ctx := context.Background()
	old, newer := "v0.0.0-20250101000000-aaaaaaaaaaaa", testVersion
	good := makeZip(t, old, fixtureIDs...)
	st := mem.New()
	putZip(t, st, old, good)
	putZip(t, st, newer, makeBadZip(t, newer))
	fm := &fakeModules{list: old + "\n" + newer + "\n", zips: map[string][]byte{old: good, newer: makeBadZip(t, newer)}}
	db := New(Options{Source: &ModuleSource{Mirror: fm, Storage: st}})
	if err := db.Load(ctx); err != nil {
		t.Errorf("Load: %v", err)
	}
	if got, want := db.Status().Copy, DefaultModule+"@"+old; got != want {
		t.Fatalf("after Load: copy %q, want %q (the newest that builds)", got, want)
	}
	if err := db.Refresh(ctx); err == nil {
		t.Error("Refresh to the bad newer version succeeded")
	}
	if got, want := db.Status().Copy, DefaultModule+"@"+old; got != want {
		t.Errorf("after a failed Refresh: copy %q, want %q", got, want)
	}
}

// An upstream that names an older version than the one served (stale or
// hostile) must not roll the database back.
func TestRefreshRefusesRollback(t *testing.T) {
	ctx := context.Background()
	old, newer := "v0.0.0-20210101000000-aaaaaaaaaaaa", testVersion
	fm := &fakeModules{list: newer + "\n", zips: map[string][]byte{old: makeZip(t, old, "GO-2021-0113"), newer: makeZip(t, newer, fixtureIDs...)}}
	db := New(Options{Source: &ModuleSource{Mirror: fm, Storage: mem.New()}})
	if err := db.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	fm.list = old + "\n"
	if err := db.Refresh(ctx); err == nil {
		t.Error("a refresh to an older version succeeded")
	}
	fm.list, fm.latest = "", old
	if err := db.Refresh(ctx); err == nil {
		t.Error("a refresh to an older @latest succeeded")
	}
	if st := db.Status(); st.Copy != DefaultModule+"@"+newer || st.Entries != len(fixtureIDs) {
		t.Errorf("rolled back to %s (%d entries)", st.Copy, st.Entries)
	}
}

// The module source's copy is as new as its version's commit time: the
// x/vulndb files leave modified (and mostly published) zero, so the
// entries' times say nothing.
func TestModifiedIsTheVersionsTime(t *testing.T) {
	ctx := context.Background()
	fm := &fakeModules{list: testVersion + "\n", zips: map[string][]byte{testVersion: makeZip(t, testVersion, fixtureIDs...)}}
	db := New(Options{Source: &ModuleSource{Mirror: fm, Storage: mem.New()}})
	if err := db.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	want, _ := module.PseudoVersionTime(testVersion)
	if got := db.Status().Modified; !got.Equal(want) {
		t.Errorf("Status().Modified = %v, want the version's time %v", got, want)
	}
	h := db.Handler(HandlerOptions{Prefix: "/vuln/", Status: status})
	var meta dbMeta
	if err := json.Unmarshal(get(t, h, "GET", "/vuln/index/db.json").Body.Bytes(), &meta); err != nil || !meta.Modified.Equal(want) {
		t.Errorf("db.json modified = %v (%v), want %v", meta.Modified, err, want)
	}
}

// A refreshed copy is never answered 304 to an If-Modified-Since of the
// previous copy's Last-Modified, even within one second.
func TestLastModifiedMovesWithTheCopy(t *testing.T) {
	ctx := context.Background()
	var cc closeCounter
	n := 0
	db := New(Options{Source: &fakeSource{fetch: func(string) (*Zip, error) {
		n++
		if n == 1 {
			return cc.zip(makeZip(t, "v0.0.0-20250101000000-aaaaaaaaaaaa", "GO-2021-0113"), "v0.0.0-20250101000000-aaaaaaaaaaaa"), nil
		}
		return cc.zip(makeZip(t, testVersion, fixtureIDs...), testVersion), nil
	}}})
	h := db.Handler(HandlerOptions{Prefix: "/vuln/", Status: status})
	if err := db.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	lm := get(t, h, "GET", "/vuln/index/modules.json").Header().Get("Last-Modified")
	if err := db.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if w := get(t, h, "GET", "/vuln/index/modules.json", "If-Modified-Since", lm); w.Code != http.StatusOK {
		t.Errorf("changed modules.json, If-Modified-Since %s: %d, want 200", lm, w.Code)
	}
}

// A gomirror reading another's /vuln/ (URLSource) sees its refreshes.
func TestURLSourceChainRefreshes(t *testing.T) {
	ctx := context.Background()
	var cc closeCounter
	n := 0
	const v1 = "v0.0.0-20250101000000-aaaaaaaaaaaa"
	upstream := New(Options{Source: &fakeSource{fetch: func(string) (*Zip, error) {
		n++
		if n == 1 {
			return cc.zip(makeZip(t, v1, "GO-2021-0113"), v1), nil
		}
		return cc.zip(makeZip(t, testVersion, fixtureIDs...), testVersion), nil
	}}})
	if err := upstream.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(upstream.Handler(HandlerOptions{Prefix: "/vuln/", Status: status}))
	defer ts.Close()
	down := New(Options{Source: &URLSource{URL: ts.URL + "/vuln", Storage: mem.New(), TempDir: t.TempDir()}})
	if err := down.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if err := upstream.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if err := down.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if got, want := down.Status().Entries, upstream.Status().Entries; got != want {
		t.Errorf("downstream serves %d entries after a refresh, upstream has %d (copy %s)", got, want, down.Status().Copy)
	}
}

// gzipServer serves body gzipped for every request.
func gzipServer(t testing.TB, body []byte) *httptest.Server {
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(body)
	zw.Close()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(gz.Bytes()) }))
	t.Cleanup(ts.Close)
	return ts
}

// allocated returns the bytes f allocates.
func allocated(f func()) uint64 {
	runtime.GC()
	var ms1, ms2 runtime.MemStats
	runtime.ReadMemStats(&ms1)
	f()
	runtime.ReadMemStats(&ms2)
	return ms2.TotalAlloc - ms1.TotalAlloc
}

// A hostile database's small gzip of a huge index costs a Client memory
// bounded by the index limit (16 MiB; it was 356 MiB for this vulns.json):
// IDs and Vulns stream the index and keep only what they need.
func TestClientIndexMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("large inputs")
	}
	ctx := context.Background()
	var js bytes.Buffer
	js.WriteString(`[{"id":"GO-2020-0001","modified":"2020-01-01T00:00:00Z","aliases":[`)
	for js.Len() < 15<<20 {
		js.WriteString(`"x",`)
	}
	js.WriteString(`"x"]}]`)
	ts := gzipServer(t, js.Bytes())
	var ids []string
	var err error
	if n := allocated(func() { ids, err = (&Client{URL: ts.URL}).IDs(ctx) }); n > 3*maxIndexBytes {
		t.Errorf("IDs of a 15 MiB vulns.json (one entry, 4M aliases): %d MiB allocated (%d IDs, %v)", n>>20, len(ids), err)
	}

	js.Reset()
	js.WriteString(`[`)
	for js.Len() < 15<<20 {
		js.WriteString(`{"path":"example.com/other","vulns":[{"id":"GO-2020-0001"},{"id":"GO-2020-0002"}]},`)
	}
	js.WriteString(`{"path":"example.com/m","vulns":[]}]`)
	ts = gzipServer(t, js.Bytes())
	if n := allocated(func() {
		_, err = (&Client{URL: ts.URL}).Vulns(ctx, []module.Version{{Path: "example.com/m", Version: "v1.0.0"}})
	}); n > 3*maxIndexBytes {
		t.Errorf("Vulns over a 15 MiB modules.json: %d MiB allocated (%v)", n>>20, err)
	}

	// Over the limit: an error.
	js.Reset()
	js.WriteString(`[{"id":"GO-2020-0001","aliases":[`)
	for js.Len() < 70<<20 {
		js.WriteString(`"x",`)
	}
	js.WriteString(`"x"]}]`)
	ts = gzipServer(t, js.Bytes())
	if _, err := (&Client{URL: ts.URL}).IDs(ctx); err == nil {
		t.Error("IDs of a 70 MiB vulns.json: no error")
	}
}

// hostileEntriesZip is a zip of n entries of about 1 MiB each, made of
// what the snapshot keeps (aliases, summary), compressing to little.
func hostileEntriesZip(t testing.TB, n int, field string) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	prefix := DefaultModule + "@" + testVersion + "/data/osv/"
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("GO-2099-%04d", i)
		var js bytes.Buffer
		js.WriteString(`{"id":"` + id + `","modified":"2026-01-01T00:00:00Z","affected":[{"package":{"name":"example.com/m","ecosystem":"Go"}}],`)
		switch field {
		case "aliases":
			js.WriteString(`"aliases":[`)
			for js.Len() < 1<<20-100 {
				js.WriteString(`"x",`)
			}
			js.WriteString(`"x"]}`)
		case "summary":
			js.WriteString(`"summary":"` + strings.Repeat("x", 1<<20-200) + `"}`)
		}
		w, _ := zw.Create(prefix + id + ".json")
		w.Write(js.Bytes())
	}
	zw.Close()
	return buf.Bytes()
}

// A hostile zip costs a bounded, small part of its OSV bytes in memory
// once built, and over 64 MiB of OSV files is refused.
func TestBuildMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("large inputs")
	}
	for _, field := range []string{"aliases", "summary"} {
		z := hostileEntriesZip(t, 48, field)
		var cc closeCounter
		runtime.GC()
		var ms1, ms2 runtime.MemStats
		runtime.ReadMemStats(&ms1)
		db := New(Options{Source: &fakeSource{stored: cc.zip(z, testVersion)}})
		err := db.Load(context.Background())
		runtime.GC()
		runtime.ReadMemStats(&ms2)
		if retained := int64(ms2.HeapAlloc) - int64(ms1.HeapAlloc); retained > 8<<20 {
			t.Errorf("%s: 48 MiB of OSV JSON: %d MiB retained (Load: %v)", field, retained>>20, err)
		}
		runtime.KeepAlive(db)
	}
	var cc closeCounter
	db := New(Options{Source: &fakeSource{stored: cc.zip(hostileEntriesZip(t, 72, "summary"), testVersion)}})
	if err := db.Load(context.Background()); err == nil {
		t.Error("72 MiB of OSV JSON: loaded")
	}
}

// hugeCompSizeZip is a zip whose entry GO-2021-0113's directory record
// claims a compressed size reaching the central directory (64 MiB of
// padding follow it), and the entry's JSON.
func hugeCompSizeZip(t testing.TB) ([]byte, []byte) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	prefix := DefaultModule + "@" + testVersion + "/"
	name := prefix + "data/osv/GO-2021-0113.json"
	b, err := os.ReadFile("testdata/osv/GO-2021-0113.json")
	if err != nil {
		t.Fatal(err)
	}
	w, _ := zw.Create(name)
	w.Write(b)
	pw, _ := zw.CreateHeader(&zip.FileHeader{Name: prefix + "pad", Method: zip.Store})
	pw.Write(make([]byte, 64<<20))
	zw.Close()
	z := buf.Bytes()
	i := bytes.Index(z, []byte(name))
	i = bytes.Index(z[i+1:], []byte(name)) + i + 1 // its central directory record
	rec := i - 46
	eocd := bytes.LastIndex(z, []byte("PK\x05\x06"))
	dirOff := int64(binary.LittleEndian.Uint32(z[eocd+16:]))
	start := 30 + int64(binary.LittleEndian.Uint16(z[26:]))
	binary.LittleEndian.PutUint32(z[rec+20:], uint32(dirOff-start))
	return z, b
}

// An entry whose directory claims a compressed size far over its data is
// refused when the snapshot is built, rather than making each
// .json.gz request read (and send) up to the whole zip.
func TestHugeCompSize(t *testing.T) {
	z, _ := hugeCompSizeZip(t)
	var cc closeCounter
	db := New(Options{Source: &fakeSource{stored: cc.zip(z, testVersion)}})
	if err := db.Load(context.Background()); err == nil {
		h := db.Handler(HandlerOptions{Prefix: "/vuln/", Status: status})
		w := get(t, h, "GET", "/vuln/ID/GO-2021-0113.json.gz")
		t.Errorf("loaded; a .json.gz request answers %d, %d bytes", w.Code, w.Body.Len())
	}
}

// A .json.gz is sent from the zip without a copy of it in memory.
func TestEntryGzipAllocs(t *testing.T) {
	rnd := make([]byte, 128<<10)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range rnd {
		rnd[i] = byte(rng.Uint32())
	}
	details := hex.EncodeToString(rnd) // 256 KiB that deflate barely shrinks
	z := makeZipExtra(t, testVersion, "data/osv/GO-2099-0002.json", `{"id":"GO-2099-0002","modified":"2026-01-01T00:00:00Z","details":"`+details+`"}`)
	var cc closeCounter
	db := New(Options{Source: &fakeSource{stored: cc.zip(z, testVersion)}})
	if err := db.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	h := db.Handler(HandlerOptions{Prefix: "/vuln/", Status: status})
	w := get(t, h, "GET", "/vuln/ID/GO-2099-0002.json.gz")
	if w.Code != 200 || w.Body.Len() < 64<<10 {
		t.Fatalf("%d, %d bytes", w.Code, w.Body.Len())
	}
	if !strings.Contains(string(gunzip(t, w.Body.Bytes())), details) {
		t.Fatal("the .json.gz is not the entry")
	}
	n := allocated(func() {
		for range 10 {
			r := httptest.NewRequest("GET", "/vuln/ID/GO-2099-0002.json.gz", nil)
			h.ServeHTTP(discardRecorder{httptest.NewRecorder()}, r)
		}
	})
	if per := n / 10; per > 48<<10 {
		t.Errorf("a .json.gz of %d bytes allocates %d bytes", w.Body.Len(), per)
	}
}

// discardRecorder is a ResponseWriter that drops the body.
type discardRecorder struct{ *httptest.ResponseRecorder }

func (d discardRecorder) Write(b []byte) (int, error) { return len(b), nil }

// An entry with several affected blocks for one module: the module's fix
// (the console's "Fixed in", modules.json's fixed) is the highest of all
// its blocks, or none if one ends open.
func TestModuleFixOverBlocks(t *testing.T) {
	const entry = `{"id":"GO-2099-0003","modified":"2026-01-01T00:00:00Z","affected":[
	{"package":{"name":"example.com/redis/v9","ecosystem":"Go"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"9.5.5"}]}]},
	{"package":{"name":"example.com/redis/v9","ecosystem":"Go"},"ranges":[{"type":"SEMVER","events":[{"introduced":"9.6.0"},{"fixed":"9.6.3"}]}]},
	{"package":{"name":"example.com/open","ecosystem":"Go"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"1.0.0"}]}]},
	{"package":{"name":"example.com/open","ecosystem":"Go"},"ranges":[{"type":"SEMVER","events":[{"introduced":"2.0.0"}]}]},
	{"package":{"name":"example.com/all","ecosystem":"Go"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"1.0.0"}]}]},
	{"package":{"name":"example.com/all","ecosystem":"Go"}}]}`
	z := makeZipExtra(t, testVersion, "data/osv/GO-2099-0003.json", entry)
	var cc closeCounter
	db := New(Options{Source: &fakeSource{stored: cc.zip(z, testVersion)}})
	if err := db.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	h := db.Handler(HandlerOptions{Prefix: "/vuln/", Status: status})
	var index []moduleMeta
	if err := json.Unmarshal(get(t, h, "GET", "/vuln/index/modules.json").Body.Bytes(), &index); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ path, want string }{{"example.com/redis/v9", "9.6.3"}, {"example.com/open", ""}, {"example.com/all", ""}} {
		advs, err := db.Module(context.Background(), tt.path)
		want := ""
		if tt.want != "" {
			want = "v" + tt.want
		}
		if err != nil || len(advs) != 1 || advs[0].Fixed != want {
			t.Errorf("Module(%s) = %+v, %v; want fixed %q", tt.path, advs, err, tt.want)
		}
		for _, m := range index {
			if m.Path != tt.path {
				continue
			}
			if len(m.Vulns) != 1 || m.Vulns[0].Fixed != tt.want {
				t.Errorf("modules.json %s: %+v, want one record fixed %q", tt.path, m.Vulns, tt.want)
			}
		}
	}
	if advs, _ := db.Vulns(context.Background(), module.Version{Path: "example.com/redis/v9", Version: "v9.6.1"}); len(advs) != 1 || advs[0].Fixed != "v9.6.3" {
		t.Errorf("Vulns(v9.6.1) = %+v, want fixed v9.6.3", advs)
	}
}

// An entry's .json.gz ETag is weak: its bytes (the zip's deflate data)
// may differ between copies of the same content, so a range request with
// If-Range must not splice them. An index's .json.gz ETag is a hash of
// its bytes (this build's gzip, which another build may make otherwise).
func TestGzipETag(t *testing.T) {
	db, _ := loadedDB(t, fixtureIDs...)
	h := db.Handler(HandlerOptions{Prefix: "/vuln/", Status: status})
	w := get(t, h, "GET", "/vuln/index/modules.json.gz")
	sum := sha256.Sum256(w.Body.Bytes())
	if etag := w.Header().Get("ETag"); etag != `"`+hex.EncodeToString(sum[:12])+`"` {
		t.Errorf("index/modules.json.gz: ETag %s, want a hash of its bytes", etag)
	}
	for _, p := range []string{"/vuln/ID/GO-2022-1059.json.gz"} {
		w := get(t, h, "GET", p)
		etag := w.Header().Get("ETag")
		if !strings.HasPrefix(etag, `W/"`) {
			t.Errorf("%s: ETag %s, want a weak one", p, etag)
		}
		if r := get(t, h, "GET", p, "Range", "bytes=0-9", "If-Range", etag); r.Code != http.StatusOK || r.Body.Len() != w.Body.Len() {
			t.Errorf("%s: Range with If-Range %s: %d, %d bytes; want the whole file", p, etag, r.Code, r.Body.Len())
		}
		if r := get(t, h, "GET", p, "If-None-Match", etag); r.Code != http.StatusNotModified {
			t.Errorf("%s: If-None-Match %s: %d, want 304", p, etag, r.Code)
		}
	}
	// The .json's is strong: its bytes are the entry's, checked by CRC.
	if etag := get(t, h, "GET", "/vuln/ID/GO-2022-1059.json").Header().Get("ETag"); strings.HasPrefix(etag, "W/") {
		t.Errorf(".json: ETag %s, want a strong one", etag)
	}
}

// blockingSource's Fetch waits for its context to end.
type blockingSource struct{ fakeSource }

func (*blockingSource) Fetch(ctx context.Context, _ string) (*Zip, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

// A refresh has an overall deadline (RefreshTimeout), whatever the
// source does.
func TestRefreshTimeout(t *testing.T) {
	db := New(Options{Source: &blockingSource{}, RefreshTimeout: 10 * time.Millisecond})
	done := make(chan error, 1)
	go func() { done <- db.Refresh(context.Background()) }()
	select {
	case err := <-done:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Refresh: %v, want its deadline exceeded", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Refresh of a source that never answers did not end")
	}
}
