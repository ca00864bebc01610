package fakeproxy_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/sumdb"
	"golang.org/x/mod/sumdb/dirhash"

	"github.com/gomirror/gomirror/internal/fakeproxy"
)

// memOps is a sumdb.ClientOps in memory whose remote reads go to the
// servers in turn (round robin), as a group of mirrors sends them.
type memOps struct {
	key     string
	servers []*fakeproxy.Server

	mu       sync.Mutex
	next     int
	config   map[string][]byte
	cache    map[string][]byte
	security []string
	reads    map[string]int // by server URL
}

func newMemOps(key string, servers ...*fakeproxy.Server) *memOps {
	return &memOps{key: key, servers: servers, config: map[string][]byte{}, cache: map[string][]byte{}, reads: map[string]int{}}
}

func (o *memOps) ReadRemote(path string) ([]byte, error) {
	o.mu.Lock()
	s := o.servers[o.next%len(o.servers)]
	o.next++
	o.reads[s.URL]++
	o.mu.Unlock()
	code, body, err := fetch(context.Background(), s.URL+"/sumdb/"+fakeproxy.DBName+path)
	if err != nil {
		return nil, err
	}
	if code == http.StatusNotFound || code == http.StatusGone {
		return nil, fs.ErrNotExist
	}
	if code != http.StatusOK {
		return nil, fmt.Errorf("%s%s: %d %s", s.URL, path, code, body)
	}
	return body, nil
}

func (o *memOps) ReadConfig(file string) ([]byte, error) {
	if file == "key" {
		return []byte(o.key), nil
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	return bytes.Clone(o.config[file]), nil
}

func (o *memOps) WriteConfig(file string, old, new []byte) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !bytes.Equal(o.config[file], old) {
		return sumdb.ErrWriteConflict
	}
	o.config[file] = bytes.Clone(new)
	return nil
}

func (o *memOps) ReadCache(file string) ([]byte, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if b, ok := o.cache[file]; ok {
		return b, nil
	}
	return nil, fs.ErrNotExist
}

func (o *memOps) WriteCache(file string, data []byte) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.cache[file] = bytes.Clone(data)
}

func (o *memOps) Log(string) {}

func (o *memOps) SecurityError(msg string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.security = append(o.security, msg)
}

// addModules adds n small module versions to s and returns their paths.
func addModules(t *testing.T, s *fakeproxy.Server, prefix string, n int) []string {
	t.Helper()
	var paths []string
	for i := range n {
		p := fmt.Sprintf("example.com/%s%d", prefix, i)
		if _, err := s.Add(p, "v1.0.0", map[string][]byte{
			"go.mod": fmt.Appendf(nil, "module %s\n", p),
			"x.go":   fmt.Appendf(nil, "package x\n\nconst N = %d\n", i),
		}); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	return paths
}

// goSum is the go.sum lines of m, computed here with dirhash.
func goSum(t *testing.T, m *fakeproxy.Module) string {
	t.Helper()
	zf := filepath.Join(t.TempDir(), "m.zip")
	if err := os.WriteFile(zf, m.Zip, 0o644); err != nil {
		t.Fatal(err)
	}
	zh, err := dirhash.HashZip(zf, dirhash.Hash1)
	if err != nil {
		t.Fatal(err)
	}
	mh, err := dirhash.Hash1([]string{"go.mod"}, func(string) (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(m.Mod)), nil })
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%s %s %s\n%s %s/go.mod %s\n", m.Path, m.Version, zh, m.Path, m.Version, mh)
}

func TestMirrorsShareTheChecksumDatabase(t *testing.T) {
	origin := fakeproxy.New(t)
	a := fakeproxy.NewMirror(t, origin)
	b := fakeproxy.NewMirror(t, a) // a mirror of a mirror mirrors the origin
	if a.DBKey != origin.DBKey || b.DBKey != origin.DBKey {
		t.Fatalf("DBKey: origin %q, mirrors %q and %q; want the same", origin.DBKey, a.DBKey, b.DBKey)
	}
	if a.URL == origin.URL || b.URL == a.URL {
		t.Fatalf("URLs %s %s %s; want three", origin.URL, a.URL, b.URL)
	}
	if b.Origin() != origin || a.Origin() != origin || origin.Origin() != origin {
		t.Errorf("Origin() does not name the origin")
	}
	// Added after the mirrors started, to any of them: the database
	// records them as they are looked up, through whichever server, so
	// the tree grows while the client hops between servers and checks
	// every new head against the old one.
	paths := addModules(t, origin, "viaorigin", 10)
	paths = append(paths, addModules(t, b, "viamirror", 10)...)
	ops := newMemOps(origin.DBKey, origin, a, b)
	client := sumdb.NewClient(ops)
	for _, p := range append(paths, "example.com/hello") {
		want := strings.SplitAfter(goSum(t, origin.Module(p, "v1.0.0")), "\n")
		for i, v := range []string{"v1.0.0", "v1.0.0/go.mod"} {
			lines, err := client.Lookup(p, v)
			if err != nil {
				t.Fatalf("lookup %s@%s through the mirrors in turn: %v (security errors: %q)", p, v, err, ops.security)
			}
			if got := strings.Join(lines, "\n") + "\n"; got != want[i] {
				t.Errorf("lookup %s@%s: %q, want %q", p, v, got, want[i])
			}
		}
	}
	if len(ops.security) > 0 {
		t.Errorf("security errors: %q", ops.security)
	}
	for _, s := range []*fakeproxy.Server{origin, a, b} {
		if ops.reads[s.URL] == 0 {
			t.Errorf("no checksum database request reached %s: %v", s.URL, ops.reads)
		}
	}
	// The database keeps answering through a mirror when the origin is
	// gone.
	origin.Close()
	more := addModules(t, a, "afterclose", 1)
	client2 := sumdb.NewClient(newMemOps(a.DBKey, a, b))
	if _, err := client2.Lookup(more[0], "v1.0.0"); err != nil {
		t.Errorf("lookup through the mirrors after the origin closed: %v", err)
	}
}

// TestIndependentServersAreNotMirrors shows what NewMirror is for: two
// servers from New have different checksum databases, and a client that
// hops between them refuses the second one's answers.
func TestIndependentServersAreNotMirrors(t *testing.T) {
	one, other := fakeproxy.New(t), fakeproxy.New(t)
	if one.DBKey == other.DBKey {
		t.Fatal("two New servers share a DBKey")
	}
	// Both databases record the same modules (so that both can answer
	// every request), each in a tree of its own.
	for _, s := range []*fakeproxy.Server{one, other} {
		for _, v := range []string{"v1.0.0", "v1.1.0", "v1.2.0"} {
			if code, body, err := fetch(context.Background(), s.URL+"/sumdb/"+fakeproxy.DBName+"/lookup/example.com/hello@"+v); err != nil || code != 200 {
				t.Fatalf("lookup on %s: %d %q %v", s.URL, code, body, err)
			}
		}
	}
	ops := newMemOps(one.DBKey, one, other)
	client := sumdb.NewClient(ops)
	var err error
	for _, v := range []string{"v1.0.0", "v1.1.0", "v1.2.0"} {
		if _, err = client.Lookup("example.com/hello", v); err != nil {
			break
		}
	}
	if err == nil {
		t.Fatal("lookups alternating between two independent databases all verified")
	}
	t.Logf("as expected: %v", err)
}

func TestMirrorServesTheOriginsModules(t *testing.T) {
	origin := fakeproxy.New(t)
	mirror := fakeproxy.NewMirror(t, origin)
	const p = "example.com/added"
	m, err := origin.Add(p, "v1.3.0", map[string][]byte{"go.mod": []byte("module " + p + "\n\ngo 1.21\n"), "a.go": []byte("package a\n")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := origin.Add(p, "v1.2.0", map[string][]byte{"a.go": []byte("package a\n")}); err != nil {
		t.Fatal(err)
	}
	if mirror.Module(p, "v1.3.0") != m {
		t.Errorf("the mirror's Module is not the origin's")
	}
	get := func(s *fakeproxy.Server, rel string) []byte {
		t.Helper()
		code, body, err := fetch(context.Background(), s.URL+rel)
		if err != nil || code != http.StatusOK {
			t.Fatalf("GET %s%s: %d %q %v", s.URL, rel, code, body, err)
		}
		return body
	}
	base := "/" + p + "/@v/"
	if got := get(mirror, base+"v1.3.0.zip"); !bytes.Equal(got, m.Zip) {
		t.Errorf("the mirror's zip differs from the origin's")
	}
	if got := get(mirror, base+"v1.3.0.mod"); !bytes.Equal(got, m.Mod) {
		t.Errorf("the mirror's go.mod %q, want %q", got, m.Mod)
	}
	if got := string(get(mirror, base+"list")); got != "v1.2.0\nv1.3.0\n" {
		t.Errorf("the mirror's list %q", got)
	}
	var info struct{ Version string }
	if err := json.Unmarshal(get(mirror, "/"+p+"/@latest"), &info); err != nil || info.Version != "v1.3.0" {
		t.Errorf("the mirror's @latest: %+v %v", info, err)
	}
	for _, rel := range []string{base + "list", base + "v1.3.0.info", "/" + p + "/@latest"} {
		if o, mm := get(origin, rel), get(mirror, rel); !bytes.Equal(o, mm) {
			t.Errorf("%s: origin %q, mirror %q", rel, o, mm)
		}
	}

	// Tamper state is shared: the bytes are the same everywhere.
	mirror.Tamper(t, p, "v1.3.0", false, true)
	if o, mm := get(origin, base+"v1.3.0.mod"), get(mirror, base+"v1.3.0.mod"); bytes.Equal(o, m.Mod) || !bytes.Equal(o, mm) {
		t.Errorf("after Tamper on the mirror: origin %q, mirror %q, recorded %q", o, mm, m.Mod)
	}
	origin.Untamper(p, "v1.3.0")
	if got := get(mirror, base+"v1.3.0.mod"); !bytes.Equal(got, m.Mod) {
		t.Errorf("after Untamper on the origin, the mirror serves %q", got)
	}
}

func TestMirrorsHaveTheirOwnFaultsAndCounters(t *testing.T) {
	origin := fakeproxy.New(t)
	a, b := fakeproxy.NewMirror(t, origin), fakeproxy.NewMirror(t, origin)
	zip := origin.Module("example.com/hello", "v1.0.0").Zip
	a.Inject(fakeproxy.Suffix(".zip"), fakeproxy.Status(503, "mirror a is down"))
	for _, s := range []*fakeproxy.Server{origin, b} {
		if code, body, err := fetch(context.Background(), s.URL+zipPath); err != nil || code != 200 || !bytes.Equal(body, zip) {
			t.Errorf("%s with a fault in mirror a: %d, %d bytes, %v", s.URL, code, len(body), err)
		}
	}
	if code, _, _ := fetch(context.Background(), a.URL+zipPath); code != 503 {
		t.Errorf("mirror a: %d, want the injected 503", code)
	}
	// Genuine, in a mirror's fault, is the shared content.
	a.Inject(fakeproxy.Suffix(".zip"), fakeproxy.Flip(-1))
	if _, body, _ := fetch(context.Background(), a.URL+zipPath); len(body) != len(zip) || bytes.Equal(body, zip) {
		t.Errorf("Flip in a mirror: %d bytes, want %d with one changed", len(body), len(zip))
	}
	a.Heal()
	if got := [3]int{origin.Hits(zipPath), a.Hits(zipPath), b.Hits(zipPath)}; got != [3]int{1, 2, 1} {
		t.Errorf("Hits origin, a, b = %v, want [1 2 1]", got)
	}
	if got := [3]int{origin.Injected(zipPath), a.Injected(zipPath), b.Injected(zipPath)}; got != [3]int{0, 2, 0} {
		t.Errorf("Injected origin, a, b = %v, want [0 2 0]", got)
	}
	if n := len(b.Requests()); n != 1 {
		t.Errorf("mirror b logged %d requests, want 1", n)
	}
}

func TestSampleMixSlowAndWithHeader(t *testing.T) {
	up := fakeproxy.New(t)
	// Sample: about the fraction asked for, the same picks for the same
	// seed, nothing outside the inner match.
	picks := func(seed uint64) []bool {
		m := fakeproxy.Sample(fakeproxy.Suffix(".zip"), 0.1, seed)
		r, _ := http.NewRequest("GET", "http://x"+zipPath, nil)
		var out []bool
		for range 10000 {
			out = append(out, m(r))
		}
		return out
	}
	first, again := picks(7), picks(7)
	n := 0
	for i, p := range first {
		if p {
			n++
		}
		if p != again[i] {
			t.Fatalf("Sample with the same seed picked differently at %d", i)
		}
	}
	if n < 800 || n > 1200 {
		t.Errorf("Sample(0.1) picked %d of 10000", n)
	}
	mod, _ := http.NewRequest("GET", "http://x/example.com/hello/@v/v1.0.0.mod", nil)
	if fakeproxy.Sample(fakeproxy.Suffix(".zip"), 1, 1)(mod) {
		t.Error("Sample matched what its inner match does not")
	}

	// Mix uses every fault; WithHeader sets the header.
	up.Inject(fakeproxy.Suffix(".zip"), fakeproxy.Mix(1,
		fakeproxy.WithHeader("Retry-After", "1", fakeproxy.Status(503, "busy")),
		fakeproxy.Status(500, "broken")))
	seen := map[int]bool{}
	for range 40 {
		req, _ := http.NewRequest("GET", up.URL+zipPath, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		seen[resp.StatusCode] = true
		if resp.StatusCode == 503 && resp.Header.Get("Retry-After") != "1" {
			t.Errorf("503 without Retry-After: %v", resp.Header)
		}
	}
	if !seen[500] || !seen[503] || len(seen) != 2 {
		t.Errorf("statuses from Mix: %v", seen)
	}

	// Slow answers in full; healing releases it at once.
	zip := up.Module("example.com/hello", "v1.0.0").Zip
	up.Inject(fakeproxy.Suffix(".zip"), fakeproxy.Slow(10*time.Millisecond))
	if code, body, err := fetch(context.Background(), up.URL+zipPath); err != nil || code != 200 || !bytes.Equal(body, zip) {
		t.Errorf("Slow: %d, %d bytes, %v", code, len(body), err)
	}
	up.Inject(fakeproxy.Suffix(".zip"), fakeproxy.Slow(time.Hour))
	before := up.Injected(zipPath)
	done := make(chan error, 1)
	go func() {
		_, body, err := fetch(context.Background(), up.URL+zipPath)
		if err == nil && !bytes.Equal(body, zip) {
			err = fmt.Errorf("%d bytes", len(body))
		}
		done <- err
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := up.WaitInjected(ctx, zipPath, before+1); err != nil {
		t.Fatal(err)
	}
	up.Heal()
	if err := <-done; err != nil {
		t.Errorf("Slow(1h) after Heal: %v", err)
	}
}
