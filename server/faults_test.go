package server

// Fault tests: for each way the upstream, the checksum database or the
// storage can fail, gomirror must
//
//	(a) answer with the right bytes or a clear error (status and words);
//	(b) store nothing corrupt, partial or refused;
//	(c) keep serving what it stored before the fault;
//	(d) serve the same requests once the fault clears, without a restart
//	    (a failure must not be remembered the way a "not found" is).

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/mod/module"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/gomirror/gomirror/cache"
	"github.com/gomirror/gomirror/config"
	"github.com/gomirror/gomirror/internal/fakeproxy"
	"github.com/gomirror/gomirror/internal/testutil"
	"github.com/gomirror/gomirror/obs"
	"github.com/gomirror/gomirror/proxy"
	"github.com/gomirror/gomirror/storage"
	fsstore "github.com/gomirror/gomirror/storage/fs"
	"github.com/gomirror/gomirror/sumdb"
	"github.com/gomirror/gomirror/upstream"
)

var dbPath = "/sumdb/" + fakeproxy.DBName

// faultRequest is a request of a fault test and the kind of its answer.
type faultRequest struct{ kind, path string }

// storedBeforeFault are answered, and stored, before the fault begins.
var storedBeforeFault = []faultRequest{
	{"info", "/example.com/hello/@v/v1.0.0.info"},
	{"mod", "/example.com/hello/@v/v1.0.0.mod"},
	{"zip", "/example.com/hello/@v/v1.0.0.zip"},
	{"list", "/example.com/hello/@v/list"},
	{"latest", "/example.com/hello/@latest"},
	{"lookup", dbPath + "/lookup/example.com/hello@v1.0.0"},
	{"tree", dbPath + "/latest"},
}

// firstAskedDuringFault meet the fault: nothing stored answers them.
var firstAskedDuringFault = []faultRequest{
	{"info", "/example.com/hello/@v/v1.1.0.info"},
	{"mod", "/example.com/hello/@v/v1.1.0.mod"},
	{"zip", "/example.com/hello/@v/v1.1.0.zip"},
	{"list", "/example.com/dep/@v/list"},
	{"latest", "/example.com/dep/@latest"},
	{"lookup", dbPath + "/lookup/example.com/hello@v1.1.0"},
}

// artifactKey is the storage key of an .info/.mod/.zip request path.
func artifactKey(path string) string { return strings.TrimPrefix(path, "/") }

// faultEnv is a gomirror in front of a fake upstream, with some artifacts
// stored before the fault.
type faultEnv struct {
	up *fakeproxy.Server
	s  *testServer
	// stored are the answers to storedBeforeFault, by path.
	stored map[string]string
	// genuine are the fake upstream's own answers to list and @latest.
	genuine map[string]string
}

func newFaultEnv(t *testing.T, edit func(*config.Serve)) *faultEnv {
	t.Helper()
	up := fakeproxy.New(t)
	s := start(t, up, func(c *config.Serve) {
		c.Prefetch = 0 // each request meets the fault itself
		if edit != nil {
			edit(c)
		}
	})
	return warmUp(t, up, s)
}

// warmUp stores storedBeforeFault in s and records the upstream's genuine
// answers.
func warmUp(t *testing.T, up *fakeproxy.Server, s *testServer) *faultEnv {
	t.Helper()
	e := &faultEnv{up: up, s: s, stored: map[string]string{}, genuine: map[string]string{}}
	for _, r := range slices.Concat(storedBeforeFault, firstAskedDuringFault) {
		if r.kind == "list" || r.kind == "latest" {
			e.genuine[r.path] = get(t, up.URL+r.path).body
		}
	}
	for _, r := range storedBeforeFault {
		got := get(t, s.URL+r.path)
		if got.code != http.StatusOK {
			t.Fatalf("before the fault, GET %s: %d %s", r.path, got.code, got.body)
		}
		if err := e.genuineAnswer(r, got.body, true); err != nil {
			t.Fatalf("before the fault, GET %s: %v", r.path, err)
		}
		e.stored[r.path] = got.body
	}
	if err := s.WaitFills(context.Background()); err != nil {
		t.Fatal(err)
	}
	return e
}

// genuineAnswer checks body against what the fake upstream serves for r.
// With exact false, a list may lack versions but must not invent any.
func (e *faultEnv) genuineAnswer(r faultRequest, body string, exact bool) error {
	escPath, file, _ := strings.Cut(strings.TrimPrefix(r.path, "/"), "/@v/")
	if r.kind == "latest" {
		escPath = strings.TrimSuffix(escPath, "/@latest")
	}
	modPath, _ := module.UnescapePath(escPath)
	version, _ := module.UnescapeVersion(strings.TrimSuffix(file, filepath.Ext(file)))
	switch r.kind {
	case "info", "latest":
		var info struct{ Version string }
		if err := json.Unmarshal([]byte(body), &info); err != nil {
			return fmt.Errorf("answer %q: %v", body, err)
		}
		if r.kind == "latest" {
			if g, ok := e.genuine[r.path]; ok && body != g {
				return fmt.Errorf("@latest %q, upstream says %q", body, g)
			}
			return nil
		}
		if info.Version != version {
			return fmt.Errorf("info for %s", info.Version)
		}
	case "mod", "zip":
		m := e.up.Module(modPath, version)
		if m == nil {
			return fmt.Errorf("%s@%s does not exist", modPath, version)
		}
		want := m.Mod
		if r.kind == "zip" {
			want = m.Zip
		}
		if body != string(want) {
			return fmt.Errorf("%d bytes differ from the %d the checksum database records", len(body), len(want))
		}
	case "list":
		for v := range strings.FieldsSeq(body) {
			if e.up.Module(modPath, v) == nil {
				return fmt.Errorf("list %q names %s, which does not exist", body, v)
			}
		}
		if g, ok := e.genuine[r.path]; exact && ok && body != g {
			return fmt.Errorf("list %q, upstream says %q", body, g)
		}
	case "lookup":
		modPath, version, _ := strings.Cut(strings.TrimPrefix(r.path, dbPath+"/lookup/"), "@")
		for _, want := range []string{modPath + " " + version + " h1:", modPath + " " + version + "/go.mod h1:"} {
			if !strings.Contains(body, want) {
				return fmt.Errorf("lookup %q lacks %q", truncate(body), want)
			}
		}
	case "tree":
		if !strings.HasPrefix(body, "go.sum database tree\n") {
			return fmt.Errorf("tree head %q", truncate(body))
		}
	}
	return nil
}

// checkStoredStillServed is (c): everything stored before the fault is
// still answered, with the same bytes.
func (e *faultEnv) checkStoredStillServed(t *testing.T) {
	t.Helper()
	for _, r := range storedBeforeFault {
		got := get(t, e.s.URL+r.path)
		if got.code != http.StatusOK {
			t.Errorf("(c) stored before the fault, GET %s: %d %q, want 200", r.path, got.code, got.body)
		} else if r.kind != "tree" && got.body != e.stored[r.path] {
			t.Errorf("(c) stored before the fault, GET %s: %q, want the stored %q", r.path, truncate(got.body), truncate(e.stored[r.path]))
		}
	}
}

// checkHealed is (d): once the fault is gone, every request that met it is
// answered with the genuine bytes, and the artifacts are stored.
func (e *faultEnv) checkHealed(t *testing.T) {
	t.Helper()
	// Work that began during the fault (a fill or a checksum lookup stuck
	// on a stalled connection) may still fail, up to its own timeout; a
	// request that joins it shares its fate. Once it has ended, nothing
	// of the fault may remain.
	if err := e.s.WaitFills(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, r := range firstAskedDuringFault {
		got := get(t, e.s.URL+r.path)
		if got.code != http.StatusOK {
			t.Errorf("(d) after the fault cleared, GET %s: %d %q, want 200", r.path, got.code, got.body)
			continue
		}
		if err := e.genuineAnswer(r, got.body, true); err != nil {
			t.Errorf("(d) after the fault cleared, GET %s: %v", r.path, err)
		}
	}
	if err := e.s.WaitFills(context.Background()); err != nil {
		t.Fatal(err)
	}
	checkStorage(t, e, true, nil)
	for _, r := range firstAskedDuringFault {
		if r.kind == "info" || r.kind == "mod" || r.kind == "zip" {
			if _, err := e.s.stored(artifactKey(r.path)); err != nil {
				t.Errorf("(d) after the fault cleared, %s not stored: %v", r.path, err)
			}
		}
	}
}

// checkStorage is (b): every file in the storage directory is a complete,
// genuine artifact (or gomirror's own state), and the keys in absent are not
// there. With settled (every fill and background write over), no temporary
// file may be left either.
func checkStorage(t *testing.T, e *faultEnv, settled bool, absent []string) {
	t.Helper()
	root := e.s.Dir
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		key := filepath.ToSlash(rel)
		b, err := os.ReadFile(p)
		if strings.HasPrefix(key, ".gomirror/tmp/") {
			// Before the writes have settled, a temporary file can be
			// renamed into place or removed between the listing and the
			// read.
			if settled && !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("(b) temporary file left behind: %s (%d bytes) %q", key, len(b), b)
			}
			return nil
		}
		if err != nil {
			return err
		}
		switch {
		case strings.HasPrefix(key, "sumdb/"), strings.HasPrefix(key, ".gomirror/sumdb/"):
			if err := checkSumDBData(e.up.DBKey, key, b); err != nil {
				t.Errorf("(b) stored %s is damaged: %v", key, err)
			}
			return nil
		case strings.HasPrefix(key, ".gomirror/"):
			return nil // gomirror's own state
		}
		escPath, file, ok := strings.Cut(key, "/@v/")
		kind := strings.TrimPrefix(filepath.Ext(file), ".")
		switch {
		case !ok && strings.HasSuffix(key, "/@latest"):
			kind, file = "latest", ""
		case !ok:
			t.Errorf("(b) stray file in storage: %s", key)
			return nil
		case file == "list":
			kind = "list"
		case kind == "ziphash" || kind == "modhash":
			return nil // recorded hashes
		case kind != "info" && kind != "mod" && kind != "zip":
			t.Errorf("(b) stray file in storage: %s", key)
			return nil
		}
		r := faultRequest{kind, "/" + key}
		if kind == "latest" {
			r.path = "/" + escPath
		}
		if err := e.genuineAnswer(r, string(b), false); err != nil {
			t.Errorf("(b) stored %s is not genuine: %v", key, err)
		}
		return nil
	})
	if err != nil {
		t.Errorf("walking the storage directory: %v", err)
	}
	for _, key := range absent {
		if _, err := e.s.stored(key); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("(b) refused artifact %s is in storage (%v)", key, err)
		}
	}
}

// want is how the requests of one kind are answered while the fault lasts.
type want struct {
	code int // 200: a list may lose versions the upstream cut off, nothing else
	// words all appear in the error body.
	words []string
}

// upstreamFaultCase is a fault of the upstream proxy.
type upstreamFaultCase struct {
	name string
	edit func(*config.Serve)
	// maxDuringFault, if set, bounds how long the requests during the
	// fault may take in all.
	maxDuringFault time.Duration
	inject         func(t *testing.T, up *fakeproxy.Server)
	heal           func(up *fakeproxy.Server) // default: Heal
	// want is by request kind; kinds not named get the genuine answer.
	want map[string]want
}

// fastTimeouts make the slow faults quick to observe.
func fastTimeouts(c *config.Serve) {
	c.FetchTimeout = 500 * time.Millisecond
	c.FreshTimeout = 200 * time.Millisecond
}

func every(w want, kinds ...string) map[string]want {
	m := map[string]want{}
	for _, k := range kinds {
		m[k] = w
	}
	return m
}

var moduleKinds = []string{"info", "mod", "zip", "list", "latest"}

func inject(m fakeproxy.Match, f fakeproxy.Fault) func(t *testing.T, up *fakeproxy.Server) {
	return func(t *testing.T, up *fakeproxy.Server) { up.Inject(m, f) }
}

func TestFaultUpstream(t *testing.T) {
	cutShort := map[string]want{ // cut short where HTTP cannot tell
		"info":   {502, []string{"malformed info"}},
		"mod":    {502, []string{"checksum mismatch", "SECURITY ERROR"}},
		"zip":    {502, []string{"invalid module zip"}},
		"list":   {200, nil},
		"latest": {502, []string{"malformed info"}},
	}
	tests := []upstreamFaultCase{
		{
			name:   "slow: no answer within fetch-timeout",
			edit:   fastTimeouts,
			inject: inject(fakeproxy.Modules, fakeproxy.Hang()),
			want:   every(want{504, []string{"from http://127.0.0.1", "deadline exceeded"}}, moduleKinds...),
		},
		{
			// Without fresh-timeout, the stored copies would wait for the
			// 20s fetch-timeout.
			name: "slow: list and @latest wait only fresh-timeout, then get the stored copy",
			edit: func(c *config.Serve) {
				c.FetchTimeout, c.FreshTimeout = 20*time.Second, 200*time.Millisecond
			},
			maxDuringFault: 10 * time.Second,
			inject:         inject(fakeproxy.Paths("/example.com/hello/@v/list", "/example.com/hello/@latest"), fakeproxy.Hang()),
		},
		{
			name:   "slow: headers, then the body stalls past fetch-timeout",
			edit:   fastTimeouts,
			inject: inject(fakeproxy.Modules, fakeproxy.Stall(5)),
			want:   every(want{504, []string{"deadline exceeded"}}, moduleKinds...),
		},
		{
			name:   "connection reset mid-response",
			inject: inject(fakeproxy.Modules, fakeproxy.Reset(5)),
			want:   every(want{502, []string{"connection reset by peer"}}, moduleKinds...),
		},
		{
			name:   "connection reset before the response",
			inject: inject(fakeproxy.Modules, fakeproxy.Reset(-1)),
			want:   every(want{502, []string{"connection reset by peer"}}, moduleKinds...),
		},
		{
			name:   "5xx",
			inject: inject(fakeproxy.Modules, fakeproxy.Status(http.StatusServiceUnavailable, "upstream overloaded")),
			want:   every(want{502, []string{"503 Service Unavailable", "upstream overloaded"}}, moduleKinds...),
		},
		{
			name:   "truncated body: connection closed before Content-Length bytes",
			inject: inject(fakeproxy.Modules, fakeproxy.Truncate(-1)),
			want:   every(want{502, []string{"unexpected EOF"}}, moduleKinds...),
		},
		{
			name:   "truncated body without Content-Length",
			inject: inject(fakeproxy.Modules, fakeproxy.TruncateUnframed(-3)),
			want:   cutShort,
		},
		{
			name:   "Content-Length announces more bytes than sent",
			inject: inject(fakeproxy.Modules, fakeproxy.WrongLength(+10)),
			want:   every(want{502, []string{"unexpected EOF"}}, moduleKinds...),
		},
		{
			name:   "Content-Length announces fewer bytes than sent",
			inject: inject(fakeproxy.Modules, fakeproxy.WrongLength(-3)),
			want:   cutShort,
		},
		{
			name: "tampered zip and go.mod",
			inject: func(t *testing.T, up *fakeproxy.Server) {
				up.Tamper(t, "example.com/hello", "v1.1.0", true, true)
			},
			heal: func(up *fakeproxy.Server) { up.Untamper("example.com/hello", "v1.1.0") },
			want: every(want{502, []string{"checksum mismatch", "SECURITY ERROR"}}, "mod", "zip"),
		},
		{
			name: "one byte changed in transit",
			// In the zip, a byte of the first file's compressed data.
			inject: inject(fakeproxy.Suffix(".mod", ".zip"), fakeproxy.Flip(70)),
			want: map[string]want{
				"mod": {502, []string{"checksum mismatch", "SECURITY ERROR"}},
				"zip": {502, []string{"zip example.com/hello@v1.1.0", "checksum error"}},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newFaultEnv(t, tc.edit)
			tc.inject(t, e.up)
			began := time.Now()
			e.checkDuringFault(t, tc.want)
			if d := time.Since(began); tc.maxDuringFault > 0 && d > tc.maxDuringFault {
				t.Errorf("(a)/(c) answering during the fault took %v, want at most %v", d, tc.maxDuringFault)
			}
			if tc.heal != nil {
				tc.heal(e.up)
			} else {
				if e.up.InjectedTotal() == 0 {
					t.Fatal("the fault never reached a request")
				}
				e.up.Heal()
			}
			e.checkHealed(t)
		})
	}
}

// checkDuringFault asks firstAskedDuringFault (a), checks the storage (b)
// and asks storedBeforeFault again (c).
func (e *faultEnv) checkDuringFault(t *testing.T, wants map[string]want) {
	t.Helper()
	var absent []string
	for _, r := range firstAskedDuringFault {
		got := get(t, e.s.URL+r.path)
		w, faulty := wants[r.kind]
		switch {
		case !faulty || w.code == http.StatusOK:
			if got.code != http.StatusOK {
				t.Errorf("(a) GET %s: %d %q, want 200", r.path, got.code, got.body)
			} else if err := e.genuineAnswer(r, got.body, !faulty); err != nil {
				t.Errorf("(a) GET %s: %v", r.path, err)
			}
		default:
			if got.code != w.code {
				t.Errorf("(a) GET %s: %d %q, want %d", r.path, got.code, got.body, w.code)
			}
			for _, word := range w.words {
				if !strings.Contains(got.body, word) {
					t.Errorf("(a) GET %s: error %q does not say %q", r.path, got.body, word)
				}
			}
			if got.hdr.Get("Cache-Control") != "no-store" {
				t.Errorf("(a) GET %s: failure is cacheable by clients: Cache-Control %q", r.path, got.hdr.Get("Cache-Control"))
			}
			if r.kind == "info" || r.kind == "mod" || r.kind == "zip" {
				absent = append(absent, artifactKey(r.path))
			}
		}
	}
	// The verifier may still be waiting on a checksum database that hangs
	// (and writing what it got behind); the mirror's own fills and writes
	// are over.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := e.s.mirror.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	checkStorage(t, e, false, absent)
	e.checkStoredStillServed(t)
}

// TestFaultNotFoundIsRememberedButFailuresAreNot is the contrast that makes
// the (d) checks above meaningful: the same negative cache that remembers
// a "not found" for negative-ttl must not remember a failure.
func TestFaultNotFoundIsRememberedButFailuresAreNot(t *testing.T) {
	up := fakeproxy.New(t)
	s := start(t, up, func(c *config.Serve) { c.Prefetch = 0 })
	const p = "/example.com/hello/@v/v1.1.0.mod"
	up.Inject(fakeproxy.Paths(p), fakeproxy.Status(http.StatusNotFound, "not found: gone for now"))
	if r := get(t, s.URL+p); r.code != http.StatusNotFound || !strings.Contains(r.body, "gone for now") {
		t.Fatalf("upstream 404: %d %q", r.code, r.body)
	}
	up.Heal()
	if r := get(t, s.URL+p); r.code != http.StatusNotFound {
		t.Errorf("a not-found within negative-ttl: %d, want the remembered 404", r.code)
	}
	if n := up.Hits(p); n != 1 {
		t.Errorf("upstream asked %d times, want 1 (the not-found is remembered)", n)
	}
	const q = "/example.com/hello/@v/v1.2.0.mod"
	up.Inject(fakeproxy.Paths(q), fakeproxy.Status(http.StatusInternalServerError, "boom"))
	if r := get(t, s.URL+q); r.code != http.StatusBadGateway {
		t.Fatalf("upstream 500: %d %q", r.code, r.body)
	}
	up.Heal()
	if r := get(t, s.URL+q); r.code != http.StatusOK {
		t.Errorf("after a failure: %d %q, want 200 (failures are not remembered)", r.code, r.body)
	}
}

func TestFaultChecksumDatabase(t *testing.T) {
	dbDown := func(more ...string) []string {
		return append([]string{"checksum database " + fakeproxy.DBName, "unreachable"}, more...)
	}
	tooSlow := []string{"checksum database", "did not answer within"}
	verified := []string{"mod", "zip", "lookup"}
	tests := []struct {
		name  string
		edit  func(*config.Serve)
		fault fakeproxy.Fault
		want  want
	}{
		{"answers 5xx", nil, fakeproxy.Status(http.StatusServiceUnavailable, "database down"),
			want{502, dbDown("503 Service Unavailable")}},
		{"hangs past fetch-timeout", fastTimeouts, fakeproxy.Hang(), want{504, tooSlow}},
		{"body stalls past fetch-timeout", fastTimeouts, fakeproxy.Stall(5), want{504, tooSlow}},
		{"resets connections mid-answer", nil, fakeproxy.Reset(5), want{502, dbDown("connection reset by peer")}},
		{"resets connections before answering", nil, fakeproxy.Reset(-1), want{502, dbDown("connection reset by peer")}},
		{"truncated body", nil, fakeproxy.Truncate(-1), want{502, dbDown("unexpected EOF")}},
		{"Content-Length announces fewer bytes than sent", nil, fakeproxy.WrongLength(-3), want{502, dbDown()}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newFaultEnv(t, tc.edit)
			e.up.Inject(fakeproxy.SumDB, tc.fault)
			began := time.Now()
			e.checkDuringFault(t, every(tc.want, verified...))
			if d := time.Since(began); d > 20*time.Second {
				t.Errorf("(a) answering during the fault took %v: clients were held", d)
			}
			if e.up.InjectedTotal() == 0 {
				t.Fatal("the fault never reached a request")
			}
			e.up.Heal()
			e.checkHealed(t)
		})
	}
}

// TestFaultChecksumDatabaseDamagedTile: a tile damaged in transit (one
// byte changed, size intact) must not be stored, or every later
// verification that needs it fails for good.
func TestFaultChecksumDatabaseDamagedTile(t *testing.T) {
	up := fakeproxy.New(t)
	s := start(t, up, func(c *config.Serve) { c.Prefetch = 0 })
	e := warmUp(t, up, s)
	// Two more records on the fake's tree, which gomirror has not seen:
	// the next tree gomirror checks against is of size 3.
	for _, m := range []string{"example.com/dep@v1.0.0", "example.com/!mixed!case@v1.0.0"} {
		if r := get(t, up.URL+dbPath+"/lookup/"+m); r.code != 200 {
			t.Fatalf("lookup %s at the fake: %d", m, r.code)
		}
	}
	const tile = "/tile/8/0/000.p/3"
	up.Inject(fakeproxy.Suffix(tile), fakeproxy.Flip(5))
	r := get(t, s.URL+dbPath+tile)
	if up.Injected(dbPath+tile) != 1 {
		t.Fatalf("the damaged tile was not fetched through gomirror (%d %q)", r.code, r.body)
	}
	up.Heal()
	if err := s.WaitFills(context.Background()); err != nil {
		t.Fatal(err)
	}
	if b, err := s.stored("sumdb/" + fakeproxy.DBName + tile); err == nil {
		t.Errorf("(b) the tile damaged in transit was stored: %x", b)
	}
	dep := get(t, s.URL+"/example.com/dep/@v/v1.0.0.mod")
	if dep.code != http.StatusOK || dep.body != string(up.Module("example.com/dep", "v1.0.0").Mod) {
		t.Errorf("(d) after the damaged tile: %d %q", dep.code, dep.body)
	}
	if err := s.WaitFills(context.Background()); err != nil { // the .mod is written behind
		t.Fatal(err)
	}
	checkStorage(t, e, true, nil)
}

// TestFaultChecksumDatabaseDamagedTreeHead: a tree head ("latest") damaged
// in transit must not be served or kept as the stale-if-error copy.
func TestFaultChecksumDatabaseDamagedTreeHead(t *testing.T) {
	up := fakeproxy.New(t)
	s := start(t, up, nil)
	up.Inject(fakeproxy.Suffix(dbPath+"/latest"), fakeproxy.Flip(-5))
	r := get(t, s.URL+dbPath+"/latest")
	if up.Injected(dbPath+"/latest") != 1 {
		t.Fatalf("the damaged tree head was not fetched through gomirror (%d %q)", r.code, r.body)
	}
	up.Heal()
	if r.code < 500 || !strings.Contains(r.body, "tree head") {
		t.Errorf("(a) damaged tree head: %d %q, want a 5xx that says the tree head is bad", r.code, r.body)
	}
	// (d) and (b): the next answer is a good tree head, and so is the copy
	// kept for when the database cannot be reached.
	if r := get(t, s.URL+dbPath+"/latest"); r.code != http.StatusOK || checkNote(up.DBKey, r.body) != nil {
		t.Errorf("(d) tree head after the damage: %d %q", r.code, r.body)
	}
	if err := s.WaitFills(context.Background()); err != nil {
		t.Fatal(err)
	}
	if b, err := s.stored("sumdb/" + fakeproxy.DBName + "/latest"); err != nil || checkNote(up.DBKey, string(b)) != nil {
		t.Errorf("(b) stored tree head: %q, %v", b, err)
	}
}

// TestFaultChecksumDatabaseStallsTreeHead: the go command asks gomirror for
// the database's tree head ("latest"); a database that stalls mid-answer
// must not hold it (and everyone waiting on the same fetch) forever.
func TestFaultChecksumDatabaseStallsTreeHead(t *testing.T) {
	up := fakeproxy.New(t)
	s := start(t, up, fastTimeouts)
	lookup := get(t, s.URL+dbPath+"/lookup/example.com/hello@v1.0.0")
	if lookup.code != http.StatusOK {
		t.Fatalf("lookup: %d %q", lookup.code, lookup.body)
	}
	up.Inject(fakeproxy.Suffix(dbPath+"/latest"), fakeproxy.Stall(10))
	client := &http.Client{Timeout: 20 * time.Second}
	resp, err := client.Get(s.URL + dbPath + "/latest")
	if err != nil {
		t.Fatalf("(a) tree head while the database stalls: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode < 500 || !strings.Contains(string(body), "checksum database "+fakeproxy.DBName) {
		t.Errorf("(a) tree head while the database stalls: %d %q, want a 5xx naming the database", resp.StatusCode, body)
	}
	if up.Injected(dbPath+"/latest") == 0 {
		t.Fatal("the fault never reached a request")
	}
	// (c) a stored lookup is still served.
	if r := get(t, s.URL+dbPath+"/lookup/example.com/hello@v1.0.0"); r.code != http.StatusOK || r.body != lookup.body {
		t.Errorf("(c) stored lookup while the database stalls: %d %q", r.code, r.body)
	}
	up.Heal()
	// (d) and (b): a good tree head, served and stored.
	r := get(t, s.URL+dbPath+"/latest")
	if r.code != http.StatusOK || checkNote(up.DBKey, r.body) != nil {
		t.Errorf("(d) tree head after the database recovered: %d %q", r.code, r.body)
	}
	if err := s.WaitFills(context.Background()); err != nil {
		t.Fatal(err)
	}
	if b, err := s.stored("sumdb/" + fakeproxy.DBName + "/latest"); err != nil || checkNote(up.DBKey, string(b)) != nil {
		t.Errorf("(b) stored tree head: %q, %v", b, err)
	}
}

// checkSumDBData checks stored checksum database data as far as it can be
// checked alone: tree heads and lookups carry a note signed by the
// database, and a hash tile holds as many hashes as its name says.
func checkSumDBData(dbKey, key string, b []byte) error {
	_, rest, _ := strings.Cut(strings.TrimPrefix(key, ".gomirror/"), "/")
	_, rest, _ = strings.Cut(rest, "/") // after sumdb/<name>/
	switch {
	case rest == "latest":
		return checkNote(dbKey, string(b))
	case strings.HasPrefix(rest, "lookup/"):
		_, signed, ok := strings.Cut(string(b), "\n\n")
		if !ok {
			return fmt.Errorf("no signed tree head in %q", b)
		}
		return checkNote(dbKey, signed)
	case strings.HasPrefix(rest, "tile/"):
		tile, err := tlog.ParseTilePath(rest)
		if err != nil {
			return err
		}
		if tile.L >= 0 && len(b) != tile.W*tlog.HashSize {
			return fmt.Errorf("hash tile of %d bytes, want %d", len(b), tile.W*tlog.HashSize)
		}
	}
	return nil
}

// checkNote reports whether b is a tree head signed by the database key.
func checkNote(key, b string) error {
	v, err := note.NewVerifier(key)
	if err != nil {
		return err
	}
	_, err = note.Open([]byte(b), note.VerifierList(v))
	return err
}

// faultyStore fails every write with the error *fail holds, while it holds
// one: a storage that is full or read-only, without root.
type faultyStore struct {
	storage.Storage
	fail *atomic.Pointer[error]
}

func (f faultyStore) err(key string) error {
	if p := f.fail.Load(); p != nil {
		return &fs.PathError{Op: "write", Path: key, Err: *p}
	}
	return nil
}

func (f faultyStore) Put(ctx context.Context, key string, r io.Reader) error {
	if err := f.err(key); err != nil {
		return err
	}
	return f.Storage.Put(ctx, key, r)
}

func (f faultyStore) Delete(ctx context.Context, key string) error {
	if err := f.err(key); err != nil {
		return err
	}
	return f.Storage.Delete(ctx, key)
}

// startWithFaultyStore assembles a server as New does, but over a
// faultyStore (New builds its storage itself): upstream, checksum database,
// cache, proxy handler and /readyz.
func startWithFaultyStore(t *testing.T, up *fakeproxy.Server, fail *atomic.Pointer[error]) *testServer {
	t.Helper()
	cfg := config.Defaults()
	cfg.VulnDB = "off" // its first refresh would ask the upstream for golang.org/x/vulndb
	cfg.Listen = "127.0.0.1:0"
	cfg.StorageDir = t.TempDir()
	cfg.ShutdownTimeout = 10 * time.Second
	logs := &testutil.Buffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	disk, err := fsstore.New(cfg.StorageDir)
	if err != nil {
		t.Fatal(err)
	}
	store := faultyStore{disk, fail}
	dbStore := faultyStore{disk.Unsynced(), fail}
	client := &http.Client{Transport: upstream.NewTransport()}
	chain, err := upstream.ParseChain(up.URL, upstream.Options{Client: client})
	if err != nil {
		t.Fatal(err)
	}
	db, err := sumdb.Parse(up.DBKey)
	if err != nil {
		t.Fatal(err)
	}
	remote, err := sumdb.NewRemote(db, chain, client)
	if err != nil {
		t.Fatal(err)
	}
	v := sumdb.NewVerifier(db, dbStore, remote, sumdb.VerifierOptions{Logger: log})
	mirror := cache.New(cache.Options{Storage: store, Upstream: chain, Verifier: v,
		FetchTimeout: 30 * time.Second, FreshTimeout: 2 * time.Second, Logger: log})
	srv := &Server{cfg: &cfg, log: log, store: store, mirror: mirror, sumdb: v, metrics: obs.NewMetrics()}
	srv.ready = newReadiness(readyTTL, srv.probeStorage)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /readyz", srv.readyz)
	mux.Handle("/", proxy.NewHandler(mirror, sumdb.NewEndpoint(v, dbStore, remote, time.Minute), log))
	srv.handler = srv.accessLog(mux)
	return serve(t, srv, &cfg, logs)
}

// storageFault makes a server's storage full or read-only, and undoes it.
type storageFault struct {
	start  func(t *testing.T, up *fakeproxy.Server) *testServer
	inject func(t *testing.T, s *testServer)
	heal   func(t *testing.T, s *testServer)
}

// mountTmpfs mounts a small tmpfs at a new directory, or skips the test,
// loudly, if this process may not mount.
func mountTmpfs(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "store")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", dir).CombinedOutput(); err != nil {
		msg := fmt.Sprintf("cannot mount a tmpfs as storage (needs root and CAP_SYS_ADMIN): %v %s; the faultyStore variant covers this fault instead", err, bytes.TrimSpace(out))
		fmt.Fprintln(os.Stderr, "SKIP", t.Name()+":", msg)
		t.Skip(msg)
	}
	// Registered after t.TempDir: runs before its removal.
	t.Cleanup(func() { exec.Command("umount", "-l", dir).Run() })
	return dir
}

func mountedStore(t *testing.T, up *fakeproxy.Server) *testServer {
	dir := mountTmpfs(t)
	return start(t, up, func(c *config.Serve) { c.StorageDir = dir; c.Prefetch = 0 })
}

func remount(t *testing.T, dir, mode string) {
	t.Helper()
	if out, err := exec.Command("mount", "-o", "remount,"+mode, dir).CombinedOutput(); err != nil {
		t.Fatalf("remount %s: %v %s", mode, err, out)
	}
}

// ballast is where fillTmpfs puts its filler, in gomirror's own state
// directory so that the storage checks pass over it.
func ballast(s *testServer) string { return filepath.Join(s.Dir, ".gomirror", "ballast") }

// fillTmpfs writes to the storage's filesystem until it is full.
func fillTmpfs(t *testing.T, s *testServer) {
	t.Helper()
	f, err := os.Create(ballast(s))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, chunk := range []int{64 << 10, 4 << 10, 1} {
		buf := make([]byte, chunk)
		for {
			if _, err := f.Write(buf); err != nil {
				if !errors.Is(err, syscall.ENOSPC) {
					t.Fatalf("filling the storage: %v", err)
				}
				break
			}
		}
	}
}

// waitReadyz asks /readyz until it answers code, for a little longer than
// the readyTTL that its answer is reused for, and returns the last answer.
func waitReadyz(t *testing.T, s *testServer, code int) response {
	t.Helper()
	deadline := time.Now().Add(readyTTL + 5*time.Second)
	for {
		r := get(t, s.URL+"/readyz")
		if r.code == code || time.Now().After(deadline) {
			return r
		}
		time.Sleep(50 * time.Millisecond) // polling
	}
}

func TestFaultStorage(t *testing.T) {
	full, readOnly := error(syscall.ENOSPC), error(syscall.EROFS)
	failing := func(fail *atomic.Pointer[error], err error) storageFault {
		return storageFault{
			start: func(t *testing.T, up *fakeproxy.Server) *testServer {
				return startWithFaultyStore(t, up, fail)
			},
			inject: func(t *testing.T, s *testServer) { fail.Store(&err) },
			heal:   func(t *testing.T, s *testServer) { fail.Store(nil) },
		}
	}
	tests := []struct {
		name  string
		fault func() storageFault
		words string
		// zipCode is the status of a zip that cannot be stored, if only
		// one is right. The faultyStore's zips wait outside the storage,
		// so there the first write to fail is the checksum database's
		// tree head, which package sumdb reports as the database being
		// "unreachable" (502), with the storage's error in the text.
		zipCode int
	}{
		{"full (tmpfs filled up)", func() storageFault {
			return storageFault{
				start:  mountedStore,
				inject: fillTmpfs,
				heal: func(t *testing.T, s *testServer) {
					if err := os.Remove(ballast(s)); err != nil {
						t.Fatal(err)
					}
				},
			}
		}, "no space left on device", http.StatusServiceUnavailable},
		{"read-only (tmpfs remounted read-only)", func() storageFault {
			return storageFault{
				start:  mountedStore,
				inject: func(t *testing.T, s *testServer) { remount(t, s.Dir, "ro") },
				heal:   func(t *testing.T, s *testServer) { remount(t, s.Dir, "rw") },
			}
		}, "read-only file system", http.StatusServiceUnavailable},
		{"full (faultyStore)", func() storageFault { return failing(new(atomic.Pointer[error]), full) }, "no space left on device", 0},
		{"read-only (faultyStore)", func() storageFault { return failing(new(atomic.Pointer[error]), readOnly) }, "read-only file system", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := tc.fault()
			up := fakeproxy.New(t)
			s := f.start(t, up)
			e := warmUp(t, up, s)
			f.inject(t, s)

			// /readyz says why (within readyTTL: its answer is reused).
			if r := waitReadyz(t, s, http.StatusServiceUnavailable); r.code != http.StatusServiceUnavailable ||
				!strings.Contains(r.body, "storage not writable") || !strings.Contains(r.body, tc.words) {
				t.Errorf("/readyz with the storage %s: %d %q, want 503 saying so", tc.name, r.code, r.body)
			}
			// (a) A zip is answered from storage, so it cannot be answered:
			// a 5xx that says why. A .info or .mod is answered from memory
			// while it is written, so it may get through; a checksum
			// lookup needs to store the database's state, so it may not.
			// list and @latest come from the upstream first, and are
			// answered although they cannot be stored.
			var absent []string
			for _, r := range firstAskedDuringFault {
				got := get(t, s.URL+r.path)
				if r.kind == "info" || r.kind == "mod" || r.kind == "zip" {
					absent = append(absent, artifactKey(r.path))
				}
				switch {
				case r.kind == "list" || r.kind == "latest":
					if got.code != http.StatusOK {
						t.Errorf("(a) GET %s: %d %q, want 200", r.path, got.code, got.body)
					} else if err := e.genuineAnswer(r, got.body, true); err != nil {
						t.Errorf("(a) GET %s: %v", r.path, err)
					}
				case got.code == http.StatusOK && r.kind != "zip":
					if err := e.genuineAnswer(r, got.body, true); err != nil {
						t.Errorf("(a) GET %s: %v", r.path, err)
					}
				case got.code < 500 || !strings.Contains(got.body, tc.words):
					t.Errorf("(a) GET %s: %d %q, want a 5xx saying %q", r.path, got.code, got.body, tc.words)
				case r.kind == "zip" && tc.zipCode != 0 && got.code != tc.zipCode:
					t.Errorf("(a) GET %s: %d %q, want %d", r.path, got.code, got.body, tc.zipCode)
				case strings.Contains(got.body, "from upstream"):
					t.Errorf("(a) GET %s: %q blames the upstream for our storage", r.path, got.body)
				}
			}
			if err := s.WaitFills(context.Background()); err != nil {
				t.Fatal(err)
			}
			checkStorage(t, e, true, absent) // (b)
			e.checkStoredStillServed(t)

			f.heal(t, s)
			if r := waitReadyz(t, s, http.StatusOK); r.code != http.StatusOK {
				t.Errorf("/readyz after the storage recovered: %d %q", r.code, r.body)
			}
			e.checkHealed(t)
		})
	}
}
