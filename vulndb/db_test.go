package vulndb

import (
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/mod/module"
)

const testVersion = "v0.0.0-20261105234957-e22db6528018"

// fixtureIDs are the entries under testdata/osv.
var fixtureIDs = []string{"GO-2021-0113", "GO-2022-1059", "GO-2022-0344", "GO-2022-0354", "GO-2026-5264", "GO-2023-2102", "GO-2022-0617", "GO-2023-2385"}

// makeZip returns a zip laid out as the x/vulndb module's, at version,
// with the entries ids of testdata/osv under data/osv (deflated), and
// other files beside them.
func makeZip(t testing.TB, version string, ids ...string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	prefix := DefaultModule + "@" + version + "/"
	add := func(name string, b []byte) {
		w, err := zw.Create(prefix + name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(b)
	}
	add("go.mod", []byte("module "+DefaultModule+"\n"))
	add("data/reports/GO-2022-1059.yaml", []byte("id: GO-2022-1059\n"))
	add("data/osv/README.md", []byte("not an entry\n"))
	for _, id := range ids {
		b, err := os.ReadFile(filepath.Join("testdata", "osv", id+".json"))
		if err != nil {
			t.Fatal(err)
		}
		add("data/osv/"+id+".json", b)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// closeCounter counts Close calls of zips.
type closeCounter struct{ n atomic.Int32 }

func (c *closeCounter) zip(b []byte, version string) *Zip {
	m := module.Version{Path: DefaultModule, Version: version}
	return &Zip{RA: bytes.NewReader(b), Size: int64(len(b)), Dir: origin(m) + "/data/osv/", Origin: origin(m),
		Close: func() error { c.n.Add(1); return nil }}
}

// fakeSource yields what its fields say.
type fakeSource struct {
	mu      sync.Mutex
	stored  *Zip
	fetch   func(current string) (*Zip, error)
	fetched int
}

func (f *fakeSource) String() string { return "fake" }

func (f *fakeSource) Stored(context.Context) (*Zip, error) {
	if f.stored == nil {
		return nil, fs.ErrNotExist
	}
	return f.stored, nil
}

func (f *fakeSource) Fetch(_ context.Context, current string) (*Zip, error) {
	f.mu.Lock()
	f.fetched++
	f.mu.Unlock()
	return f.fetch(current)
}

func status(err error) int {
	var un interface{ Unavailable() bool }
	switch {
	case errors.As(err, &un):
		return http.StatusServiceUnavailable
	case errors.Is(err, fs.ErrNotExist):
		return http.StatusNotFound
	}
	return http.StatusBadGateway
}

func loadedDB(t testing.TB, ids ...string) (*DB, *closeCounter) {
	t.Helper()
	var cc closeCounter
	db := New(Options{Source: &fakeSource{stored: cc.zip(makeZip(t, testVersion, ids...), testVersion)}})
	if err := db.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	return db, &cc
}

func get(t testing.TB, h http.Handler, method, path string, hdr ...string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, path, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func gunzip(t testing.TB, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestAPI(t *testing.T) {
	db, _ := loadedDB(t, fixtureIDs...)
	h := db.Handler(HandlerOptions{Prefix: "/vuln/", Status: status})

	// Entries, as stored, in both encodings.
	want, _ := os.ReadFile("testdata/osv/GO-2022-1059.json")
	w := get(t, h, "GET", "/vuln/ID/GO-2022-1059.json")
	if w.Code != 200 || !bytes.Equal(w.Body.Bytes(), want) || w.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("ID/GO-2022-1059.json: %d %q %q", w.Code, w.Header().Get("Content-Type"), w.Body.String())
	}
	w = get(t, h, "GET", "/vuln/ID/GO-2022-1059.json.gz")
	if w.Code != 200 || w.Header().Get("Content-Encoding") != "" || w.Header().Get("Content-Type") != "application/gzip" {
		t.Fatalf("ID/GO-2022-1059.json.gz: %d %v", w.Code, w.Header())
	}
	if got := gunzip(t, w.Body.Bytes()); !bytes.Equal(got, want) {
		t.Fatalf("ID/GO-2022-1059.json.gz unzips to %q", got)
	}
	etag := w.Header().Get("ETag")
	if w := get(t, h, "GET", "/vuln/ID/GO-2022-1059.json.gz", "If-None-Match", etag); w.Code != http.StatusNotModified {
		t.Errorf("If-None-Match %s: %d, want 304", etag, w.Code)
	}
	if w.Header().Get("Last-Modified") == "" || w.Header().Get("Cache-Control") == "" {
		t.Errorf("no Last-Modified or Cache-Control: %v", w.Header())
	}

	// The indexes.
	var modules []moduleMeta
	w = get(t, h, "GET", "/vuln/index/modules.json.gz")
	if err := json.Unmarshal(gunzip(t, w.Body.Bytes()), &modules); err != nil {
		t.Fatal(err)
	}
	found := map[string]moduleMeta{}
	for i, m := range modules {
		found[m.Path] = m
		if i > 0 && modules[i-1].Path >= m.Path {
			t.Errorf("modules.json not sorted: %s then %s", modules[i-1].Path, m.Path)
		}
	}
	text := found["golang.org/x/text"]
	if len(text.Vulns) != 2 || text.Vulns[0].ID != "GO-2021-0113" || text.Vulns[0].Fixed != "0.3.7" || text.Vulns[1].ID != "GO-2022-1059" || text.Vulns[1].Fixed != "0.3.8" {
		t.Errorf("modules.json golang.org/x/text = %+v", text)
	}
	if prom := found["github.com/prometheus/prometheus"]; len(prom.Vulns) != 1 || prom.Vulns[0].Fixed != "" {
		t.Errorf("an entry open at the top has a fix in modules.json: %+v", prom)
	}
	if _, ok := found["stdlib"]; !ok {
		t.Errorf("modules.json lacks stdlib")
	}
	plain := get(t, h, "GET", "/vuln/index/modules.json").Body.Bytes()
	if !bytes.Equal(plain, gunzip(t, w.Body.Bytes())) {
		t.Errorf("index/modules.json and .json.gz differ")
	}
	var vulns []vulnMeta
	if err := json.Unmarshal(get(t, h, "GET", "/vuln/index/vulns.json").Body.Bytes(), &vulns); err != nil || len(vulns) != len(fixtureIDs) {
		t.Errorf("vulns.json: %d entries, %v", len(vulns), err)
	}
	var meta dbMeta
	if err := json.Unmarshal(gunzip(t, get(t, h, "GET", "/vuln/index/db.json.gz").Body.Bytes()), &meta); err != nil || meta.Modified.IsZero() {
		t.Errorf("db.json: %+v %v", meta, err)
	}
	if w := get(t, h, "HEAD", "/vuln/index/modules.json.gz"); w.Code != 200 || w.Body.Len() != 0 {
		t.Errorf("HEAD index/modules.json.gz: %d, %d bytes", w.Code, w.Body.Len())
	}

	// What is not the API's.
	for _, p := range []string{
		"/vuln/ID/GO-2099-0001.json", "/vuln/ID/GO-2099-0001.json.gz",
		"/vuln/ID/../index/db.json", "/vuln/ID/GO-2022-1059", "/vuln/ID/GO-2022-1059.json.gz.gz",
		"/vuln/ID/README.json", "/vuln/ID/", "/vuln/", "/vuln/index/", "/vuln/index/db", "/vuln/index/other.json",
		"/vuln/index/../index/db.json", "/vuln/ID/sub/GO-2022-1059.json", "/vuln/ID/GO-2022-1059.JSON",
		"/vuln/ID/" + strings.Repeat("A-", 60) + "1.json", "/vuln/data/osv/GO-2022-1059.json", "/vulnx/index/db.json",
	} {
		if w := get(t, h, "GET", p); w.Code != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", p, w.Code)
		}
	}
	if w := get(t, h, "POST", "/vuln/index/db.json"); w.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d, want 405", w.Code)
	}
}

func TestAPINotLoaded(t *testing.T) {
	db := New(Options{Source: &fakeSource{fetch: func(string) (*Zip, error) { return nil, errors.New("upstream down") }}})
	h := db.Handler(HandlerOptions{Prefix: "/vuln/", Status: status})
	if w := get(t, h, "GET", "/vuln/index/db.json.gz"); w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" {
		t.Errorf("before a load: %d %v, want 503 with Retry-After", w.Code, w.Header())
	}
	if _, err := db.Vulns(context.Background(), module.Version{Path: "golang.org/x/text", Version: "v0.3.7"}); !errors.Is(err, ErrNotLoaded) {
		t.Errorf("Vulns before a load: %v", err)
	}
	if err := db.Load(context.Background()); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load with nothing stored: %v", err)
	}
}

func TestVulns(t *testing.T) {
	db, _ := loadedDB(t, fixtureIDs...)
	ctx := context.Background()
	tests := []struct {
		m    module.Version
		want []string // ID fixed
	}{
		{module.Version{Path: "golang.org/x/text", Version: "v0.3.6"}, []string{"GO-2021-0113 v0.3.7", "GO-2022-1059 v0.3.8"}},
		{module.Version{Path: "golang.org/x/text", Version: "v0.3.7"}, []string{"GO-2022-1059 v0.3.8"}},
		{module.Version{Path: "golang.org/x/text", Version: "v0.3.8"}, nil},
		{module.Version{Path: "golang.org/x/net", Version: "v0.16.0"}, []string{"GO-2023-2102 v0.17.0"}},
		{module.Version{Path: "stdlib", Version: "go1.21.1"}, []string{"GO-2023-2102 v1.21.3"}},
		{module.Version{Path: "k8s.io/kubernetes", Version: "v1.0.0"}, nil}, // withdrawn
		{module.Version{Path: "example.com/none", Version: "v1.0.0"}, nil},
		{module.Version{Path: "golang.org/x/text", Version: "master"}, nil},
	}
	for _, tt := range tests {
		advs, err := db.Vulns(ctx, tt.m)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, a := range advs {
			got = append(got, a.ID+" "+a.Fixed)
		}
		if strings.Join(got, ",") != strings.Join(tt.want, ",") {
			t.Errorf("Vulns(%v) = %q, want %q", tt.m, got, tt.want)
		}
	}
	advs, _ := db.Vulns(ctx, module.Version{Path: "golang.org/x/text", Version: "v0.3.7"})
	if len(advs) != 1 || advs[0].Summary == "" || len(advs[0].Aliases) == 0 {
		t.Errorf("advisory without summary or aliases: %+v", advs)
	}
	mod, err := db.Module(ctx, "golang.org/x/text")
	if err != nil || len(mod) != 2 || mod[1].Fixed != "v0.3.8" {
		t.Errorf("Module(golang.org/x/text) = %+v, %v", mod, err)
	}
	e, err := db.Entry(ctx, "GO-2022-1059")
	if err != nil || !e.Affects("golang.org/x/text", "v0.3.7") {
		t.Errorf("Entry: %v, %v", e, err)
	}
	if _, err := db.Entry(ctx, "GO-2099-0001"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Entry of an unknown ID: %v", err)
	}
}

func TestVulnsAllocs(t *testing.T) {
	db, _ := loadedDB(t, fixtureIDs...)
	m := module.Version{Path: "golang.org/x/text", Version: "v0.3.7"}
	if n := testing.AllocsPerRun(100, func() { db.Vulns(context.Background(), m) }); n > 2 {
		t.Errorf("Vulns allocates %v times, want at most 2 (its answer)", n)
	}
}

func TestRefreshKeepsLastGood(t *testing.T) {
	var cc closeCounter
	v2 := "v0.0.0-20261201000000-aaaaaaaaaaaa"
	fail := true
	src := &fakeSource{stored: cc.zip(makeZip(t, testVersion, "GO-2021-0113"), testVersion)}
	src.fetch = func(current string) (*Zip, error) {
		if fail {
			return nil, errors.New("upstream down")
		}
		if current == DefaultModule+"@"+v2 {
			return nil, nil
		}
		return cc.zip(makeZip(t, v2, "GO-2021-0113", "GO-2022-1059"), v2), nil
	}
	var changes, failures atomic.Int32
	db := New(Options{Source: src, OnChange: func() { changes.Add(1) }, OnRefresh: func(err error) {
		if err != nil {
			failures.Add(1)
		}
	}})
	ctx := context.Background()
	m := module.Version{Path: "golang.org/x/text", Version: "v0.3.7"}
	if err := db.Load(ctx); err != nil {
		t.Fatal(err)
	}
	if err := db.Refresh(ctx); err == nil {
		t.Fatal("Refresh with the upstream down succeeded")
	}
	st := db.Status()
	if st.Copy != DefaultModule+"@"+testVersion || !strings.Contains(st.LastError, "upstream down") || failures.Load() != 1 {
		t.Errorf("after a failed refresh: %+v, %d failures", st, failures.Load())
	}
	if advs, err := db.Vulns(ctx, m); err != nil || len(advs) != 0 {
		t.Errorf("the last good copy: %v, %v", advs, err)
	}
	fail = false
	if err := db.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if advs, _ := db.Vulns(ctx, m); len(advs) != 1 || advs[0].ID != "GO-2022-1059" {
		t.Errorf("after the refresh: %v", advs)
	}
	if st := db.Status(); st.LastError != "" || st.Copy != DefaultModule+"@"+v2 || st.Entries != 2 {
		t.Errorf("after the refresh: %+v", st)
	}
	if cc.n.Load() != 1 || changes.Load() != 2 {
		t.Errorf("closed %d zips (want the replaced one), %d changes (want 2)", cc.n.Load(), changes.Load())
	}
	if err := db.Refresh(ctx); err != nil || changes.Load() != 2 {
		t.Errorf("a refresh with nothing new: %v, %d changes", err, changes.Load())
	}
}

// TestServingDuringRefresh shows that a refresh does not pause serving:
// while the source's fetch is held and while the new copy builds,
// requests are answered from the old copy; a reader of the old copy
// keeps its zip open until it is done.
func TestServingDuringRefresh(t *testing.T) {
	var cc closeCounter
	v2 := "v0.0.0-20261201000000-aaaaaaaaaaaa"
	held, release := make(chan struct{}), make(chan struct{})
	src := &fakeSource{stored: cc.zip(makeZip(t, testVersion, "GO-2021-0113"), testVersion)}
	src.fetch = func(string) (*Zip, error) {
		close(held)
		<-release
		return cc.zip(makeZip(t, v2, fixtureIDs...), v2), nil
	}
	db := New(Options{Source: src})
	ctx := context.Background()
	if err := db.Load(ctx); err != nil {
		t.Fatal(err)
	}
	h := db.Handler(HandlerOptions{Prefix: "/vuln/", Status: status})
	done := make(chan error, 1)
	go func() { done <- db.Refresh(ctx) }()
	<-held // the refresh is under way
	old := db.acquire()
	for _, p := range []string{"/vuln/index/modules.json.gz", "/vuln/ID/GO-2021-0113.json.gz", "/vuln/index/db.json"} {
		if w := get(t, h, "GET", p); w.Code != 200 {
			t.Errorf("GET %s during a refresh: %d", p, w.Code)
		}
	}
	// Requests all through the build and swap.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var bad atomic.Int32
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if w := get(t, h, "GET", "/vuln/ID/GO-2021-0113.json.gz"); w.Code != 200 {
					bad.Add(1)
				}
			}
		})
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	close(stop)
	wg.Wait()
	if bad.Load() != 0 {
		t.Errorf("%d requests failed during the refresh", bad.Load())
	}
	if w := get(t, h, "GET", "/vuln/ID/GO-2022-1059.json"); w.Code != 200 {
		t.Errorf("the new copy's entry: %d", w.Code)
	}
	if cc.n.Load() != 0 {
		t.Errorf("the old copy's zip was closed while a reader held it")
	}
	if _, err := old.entryGzip(ctx, "GO-2021-0113"); err != nil {
		t.Errorf("reading the retired copy: %v", err)
	}
	old.release()
	if cc.n.Load() != 1 {
		t.Errorf("the old copy's zip was not closed by its last reader: %d closes", cc.n.Load())
	}
}

func TestBuildRejects(t *testing.T) {
	ctx := context.Background()
	good := makeZip(t, testVersion, "GO-2021-0113")
	dir := DefaultModule + "@" + testVersion + "/data/osv/"
	mk := func(files map[string]string) []byte {
		var buf bytes.Buffer
		zw := zip.NewWriter(&buf)
		for name, content := range files {
			w, _ := zw.Create(dir + name)
			io.WriteString(w, content)
		}
		zw.Close()
		return buf.Bytes()
	}
	entry, _ := os.ReadFile("testdata/osv/GO-2021-0113.json")
	corrupt := bytes.Clone(good)
	// Flip a byte of the stored entry's compressed data: a CRC mismatch
	// (or a deflate error).
	i := bytes.Index(corrupt, []byte("data/osv/GO-2021-0113.json")) + len("data/osv/GO-2021-0113.json") + 10
	corrupt[i] ^= 0xff
	tests := map[string][]byte{
		"no entries":      mk(map[string]string{"README.md": "x"}),
		"id mismatch":     mk(map[string]string{"GO-2022-0001.json": string(entry)}),
		"not an id":       mk(map[string]string{"..json": string(entry)}),
		"bad json":        mk(map[string]string{"GO-2021-0113.json": "{"}),
		"too big":         mk(map[string]string{"GO-2021-0113.json": strings.Repeat(" ", maxEntryBytes+1)}),
		"corrupt":         corrupt,
		"not a zip":       []byte("not a zip at all"),
		"other directory": makeZip(t, "v1.0.0", "GO-2021-0113"),
	}
	for name, z := range tests {
		closed := false
		if s, err := build(ctx, bytes.NewReader(z), int64(len(z)), func() error { closed = true; return nil }, dir, "x", time.Time{}); err == nil {
			t.Errorf("%s: built %d entries", name, len(s.entries))
		} else if !closed {
			t.Errorf("%s: zip not closed after the failure", name)
		}
	}
}

func gzipBytes(t testing.TB, b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

// TestRun: Run serves the stored copy first, refreshes at once, and
// returns when its context ends.
func TestRun(t *testing.T) {
	var cc closeCounter
	v2 := "v0.0.0-20261201000000-aaaaaaaaaaaa"
	src := &fakeSource{stored: cc.zip(makeZip(t, testVersion, "GO-2021-0113"), testVersion)}
	fetched := make(chan string, 1)
	src.fetch = func(current string) (*Zip, error) {
		if current == DefaultModule+"@"+v2 {
			return nil, nil
		}
		fetched <- current
		return cc.zip(makeZip(t, v2, fixtureIDs...), v2), nil
	}
	attempts := make(chan error, 4)
	db := New(Options{Source: src, OnRefresh: func(err error) { attempts <- err }})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { db.Run(ctx); close(done) }()
	if err := <-attempts; err != nil {
		t.Fatalf("load: %v", err)
	}
	if cur := <-fetched; cur != DefaultModule+"@"+testVersion {
		t.Errorf("the first refresh asked with current %q, want the stored copy's", cur)
	}
	if err := <-attempts; err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if st := db.Status(); st.Copy != DefaultModule+"@"+v2 || st.Entries != len(fixtureIDs) {
		t.Errorf("after Run's refresh: %+v", st)
	}
	cancel()
	<-done
}
