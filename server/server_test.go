package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gomirror/gomirror/config"
	"github.com/gomirror/gomirror/internal/fakeproxy"
	"github.com/gomirror/gomirror/internal/testutil"
)

// testServer is a gomirror server on loopback in front of a fake upstream.
type testServer struct {
	*Server
	URL  string
	Addr string
	Dir  string // storage dir
	Logs *testutil.Buffer

	cancel context.CancelFunc // begins a graceful shutdown, like SIGTERM
	done   chan error
	once   sync.Once
	err    error
}

// stop shuts the server down and returns what Serve returned.
func (s *testServer) stop() error {
	s.cancel()
	s.once.Do(func() { s.err = <-s.done })
	return s.err
}

// start runs a gomirror server whose upstream and checksum database are up.
// edit may change the config first.
func start(t *testing.T, up *fakeproxy.Server, edit func(*config.Serve)) *testServer {
	t.Helper()
	cfg := config.Defaults()
	cfg.VulnDB = "off" // its first refresh would ask the upstream for golang.org/x/vulndb
	cfg.Listen = "127.0.0.1:0"
	cfg.StorageDir = t.TempDir()
	cfg.DirectDir = t.TempDir()
	cfg.Upstream = up.URL
	cfg.SumDB = up.DBKey
	cfg.FreshTimeout = 2 * time.Second
	cfg.FetchTimeout = 30 * time.Second
	cfg.ShutdownTimeout = 10 * time.Second
	if edit != nil {
		edit(&cfg)
	}
	return run(t, &cfg)
}

func run(t *testing.T, cfg *config.Serve) *testServer {
	t.Helper()
	logs := &testutil.Buffer{}
	srv, err := New(cfg, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	return serve(t, srv, cfg, logs)
}

// serve runs srv on cfg.Listen until the end of the test.
func serve(t *testing.T, srv *Server, cfg *config.Serve, logs *testutil.Buffer) *testServer {
	t.Helper()
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &testServer{Server: srv, URL: "http://" + ln.Addr().String(), Addr: ln.Addr().String(),
		Dir: cfg.StorageDir, Logs: logs, cancel: cancel, done: make(chan error, 1)}
	ready := make(chan struct{})
	go func() { s.done <- srv.Serve(ctx, ln, func(net.Addr) { close(ready) }) }()
	select {
	case <-ready: // every listener, admin-listen's too, is bound
	case err := <-s.done:
		t.Fatalf("Serve: %v", err)
	}
	t.Cleanup(func() {
		if err := s.stop(); err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return s
}

type response struct {
	code int
	hdr  http.Header
	body string
}

func get(t *testing.T, url string) response {
	t.Helper()
	return do(t, http.MethodGet, url, nil)
}

func do(t *testing.T, method, url string, hdr http.Header) response {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	if h := hdr.Get("Host"); h != "" { // the header the request sends
		req.Host = h
	}
	code, h, body := testutil.Do(t, nil, req)
	return response{code, h, body}
}

func (s *testServer) stored(key string) ([]byte, error) {
	return os.ReadFile(filepath.Join(s.Dir, filepath.FromSlash(key)))
}

func TestServesProtocol(t *testing.T) {
	up := fakeproxy.New(t)
	s := start(t, up, nil)
	hello := up.Module("example.com/hello", "v1.1.0")
	mixed := up.Module("example.com/MixedCase", "v1.0.0")
	legacy := up.Module("example.com/legacy", "v2.1.0+incompatible")

	tests := []struct {
		name, path string
		wantCode   int
		wantBody   string // exact, unless empty
		wantType   string
		wantCache  string // substring of Cache-Control
	}{
		{"list includes retracted versions", "/example.com/hello/@v/list", 200, "v1.0.0\nv1.1.0\nv1.2.0\n", "text/plain; charset=utf-8", "max-age=60"},
		{"latest", "/example.com/hello/@latest", 200, "", "application/json", "max-age=60"},
		{"canonical info", "/example.com/hello/@v/v1.1.0.info", 200, "", "application/json", "immutable"},
		{"mod", "/example.com/hello/@v/v1.1.0.mod", 200, string(hello.Mod), "text/plain; charset=utf-8", "immutable"},
		{"zip", "/example.com/hello/@v/v1.1.0.zip", 200, string(hello.Zip), "application/zip", "immutable"},
		{"mixed-case path", "/example.com/!mixed!case/@v/v1.0.0.zip", 200, string(mixed.Zip), "application/zip", "immutable"},
		{"major version path", "/example.com/hello/v2/@v/list", 200, "v2.0.0\n", "text/plain; charset=utf-8", ""},
		{"incompatible version", "/example.com/legacy/@v/v2.1.0+incompatible.mod", 200, string(legacy.Mod), "", "immutable"},
		{"branch query answers canonical version", "/example.com/hello/@v/main.info", 200, "", "application/json", "max-age=60"},
		{"unknown module is 404, not 5xx", "/example.com/nope/@v/list", 404, "", "text/plain; charset=utf-8", "max-age=60"},
		{"unknown version keeps upstream's 410", "/example.com/hello/@v/v9.9.9.info", 410, "", "text/plain; charset=utf-8", "max-age=60"},
		{"non-canonical mod is 400", "/example.com/hello/@v/v1.1.mod", 400, "", "", ""},
		{"version wrong for path is 400", "/example.com/hello/@v/v2.0.0.zip", 400, "", "", ""},
		{"traversal is 400", "/example.com/../../etc/@v/list", 400, "", "", ""},
		{"upper case unescaped is 400", "/example.com/MixedCase/@v/list", 400, "", "", ""},
		{"bad escape is 400", "/example.com/!!x/@v/list", 400, "", "", ""},
		{"overlong path is 400", "/example.com/" + strings.Repeat("a", 2000) + "/@v/list", 400, "", "", ""},
		{"unknown file is 400", "/example.com/hello/@v/v1.1.0.tar", 400, "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := get(t, s.URL+tt.path)
			if r.code != tt.wantCode {
				t.Fatalf("GET %s: %d %q, want %d", tt.path, r.code, r.body, tt.wantCode)
			}
			if tt.wantBody != "" && r.body != tt.wantBody {
				t.Errorf("body = %q, want %q", truncate(r.body), truncate(tt.wantBody))
			}
			if tt.wantType != "" && r.hdr.Get("Content-Type") != tt.wantType {
				t.Errorf("Content-Type = %q, want %q", r.hdr.Get("Content-Type"), tt.wantType)
			}
			if !strings.Contains(r.hdr.Get("Cache-Control"), tt.wantCache) {
				t.Errorf("Cache-Control = %q, want it to contain %q", r.hdr.Get("Cache-Control"), tt.wantCache)
			}
			if r.code >= 400 && (r.body == "" || strings.Count(r.body, "\n") > 5) {
				t.Errorf("error body should be a short message, got %q", r.body)
			}
		})
	}

	t.Run("branch query is not stored under its name", func(t *testing.T) {
		r := get(t, s.URL+"/example.com/hello/@v/main.info")
		if !strings.Contains(r.body, `"Version":"v1.2.0"`) {
			t.Errorf("main.info = %q, want the canonical version v1.2.0", r.body)
		}
		if _, err := s.stored("example.com/hello/@v/main.info"); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("query stored under its own name: %v", err)
		}
	})
	t.Run("storage is a GOPROXY file tree", func(t *testing.T) {
		b, err := s.stored("example.com/!mixed!case/@v/v1.0.0.zip")
		if err != nil || !bytes.Equal(b, mixed.Zip) {
			t.Errorf("stored zip: %d bytes, %v", len(b), err)
		}
	})
}

// holdZip makes up hold the first zip request: inFill is closed when it
// arrives, and the request goes on when release is closed.
func holdZip(up *fakeproxy.Server) (inFill, release chan struct{}) {
	inFill, release = make(chan struct{}), make(chan struct{})
	up.SetHook(func(w http.ResponseWriter, r *http.Request) bool {
		if strings.HasSuffix(r.URL.Path, ".zip") {
			close(inFill)
			<-release
		}
		return false
	})
	return inFill, release
}

func truncate(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}

func TestZipHTTPFeatures(t *testing.T) {
	up := fakeproxy.New(t)
	s := start(t, up, nil)
	zip := up.Module("example.com/hello", "v1.0.0").Zip
	url := s.URL + "/example.com/hello/@v/v1.0.0.zip"
	first := get(t, url)
	if first.code != 200 || first.body != string(zip) {
		t.Fatalf("GET zip: %d, %d bytes", first.code, len(first.body))
	}
	etag := first.hdr.Get("ETag")
	if etag == "" || first.hdr.Get("Last-Modified") == "" || first.hdr.Get("Content-Length") != fmt.Sprint(len(zip)) {
		t.Errorf("headers: %v", first.hdr)
	}
	t.Run("range", func(t *testing.T) {
		r := do(t, http.MethodGet, url, http.Header{"Range": {"bytes=10-19"}})
		if r.code != http.StatusPartialContent || r.body != string(zip[10:20]) {
			t.Errorf("range: %d %q", r.code, r.body)
		}
	})
	t.Run("HEAD", func(t *testing.T) {
		r := do(t, http.MethodHead, url, nil)
		if r.code != 200 || r.body != "" || r.hdr.Get("Content-Length") != fmt.Sprint(len(zip)) {
			t.Errorf("HEAD: %d, %d body bytes, Content-Length %q", r.code, len(r.body), r.hdr.Get("Content-Length"))
		}
	})
	t.Run("If-None-Match", func(t *testing.T) {
		r := do(t, http.MethodGet, url, http.Header{"If-None-Match": {etag}})
		if r.code != http.StatusNotModified {
			t.Errorf("conditional GET: %d", r.code)
		}
	})
	t.Run("POST is refused", func(t *testing.T) {
		r := do(t, http.MethodPost, url, nil)
		if r.code != http.StatusMethodNotAllowed || r.hdr.Get("Allow") == "" {
			t.Errorf("POST: %d, Allow %q", r.code, r.hdr.Get("Allow"))
		}
	})
}

func TestImmutableArtifactsFetchedOnceAndServedOffline(t *testing.T) {
	up := fakeproxy.New(t)
	s := start(t, up, nil)
	paths := []string{
		"/example.com/hello/@v/v1.0.0.info",
		"/example.com/hello/@v/v1.0.0.mod",
		"/example.com/hello/@v/v1.0.0.zip",
	}
	want := map[string]string{}
	for i := 0; i < 3; i++ {
		for _, p := range paths {
			r := get(t, s.URL+p)
			if r.code != 200 {
				t.Fatalf("GET %s: %d %s", p, r.code, r.body)
			}
			want[p] = r.body
		}
	}
	for _, p := range paths {
		if n := up.Hits(p); n != 1 {
			t.Errorf("upstream hits for %s = %d, want 1", p, n)
		}
	}
	// The same storage with the upstream off serves everything.
	s.WaitFills(context.Background())
	off := run(t, &config.Serve{
		Listen: "127.0.0.1:0", StorageDir: s.Dir, DirectDir: t.TempDir(), Upstream: "off", SumDB: "off",
		LogFormat: "text", LogLevel: "info", FreshTimeout: time.Second, FetchTimeout: time.Second,
		ShutdownTimeout: time.Second, DirectProcs: 1,
	})
	for _, p := range append(paths, "/example.com/hello/@v/list") {
		r := get(t, off.URL+p)
		if r.code != 200 {
			t.Errorf("offline GET %s: %d %s", p, r.code, r.body)
		} else if want[p] != "" && r.body != want[p] {
			t.Errorf("offline GET %s: different bytes", p)
		}
	}
	if r := get(t, off.URL+"/example.com/dep/@v/v1.0.0.zip"); r.code != 404 {
		t.Errorf("offline GET of an uncached zip: %d %q, want 404", r.code, r.body)
	}
}

func TestTamperedArtifactsRefusedAndNotStored(t *testing.T) {
	tests := []struct {
		name     string
		zip, mod bool
		path     string
		key      string
	}{
		{"tampered zip", true, false, "/example.com/hello/@v/v1.0.0.zip", "example.com/hello/@v/v1.0.0.zip"},
		{"tampered go.mod", false, true, "/example.com/hello/@v/v1.0.0.mod", "example.com/hello/@v/v1.0.0.mod"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up := fakeproxy.New(t)
			up.Tamper(t, "example.com/hello", "v1.0.0", tt.zip, tt.mod)
			s := start(t, up, nil)
			r := get(t, s.URL+tt.path)
			if r.code != http.StatusBadGateway {
				t.Errorf("GET tampered: %d, want 502", r.code)
			}
			if !strings.Contains(r.body, "checksum mismatch") || !strings.Contains(r.body, "SECURITY ERROR") {
				t.Errorf("body does not explain the refusal: %q", r.body)
			}
			if _, err := s.stored(tt.key); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("tampered artifact stored: %v", err)
			}
			if !strings.Contains(s.Logs.String(), "verification failed") {
				t.Errorf("refusal not logged")
			}
			file := map[bool]string{true: "zip", false: "go.mod"}[tt.zip]
			if m := get(t, s.URL+"/metrics").body; !strings.Contains(m, `gomirror_verifications_total{file="`+file+`",result="mismatch"} 1`) {
				t.Errorf("metrics do not count the refused %s", file)
			}
			// An untouched version of the same module still verifies.
			if r := get(t, s.URL+"/example.com/hello/@v/v1.1.0.zip"); r.code != 200 {
				t.Errorf("good version: %d %s", r.code, r.body)
			}
		})
	}
}

func TestNoSumDBExemptsModules(t *testing.T) {
	up := fakeproxy.New(t)
	up.Tamper(t, "example.com/hello", "v1.0.0", true, false)
	s := start(t, up, func(c *config.Serve) { c.NoSumDB = "example.com/hello" })
	if r := get(t, s.URL+"/example.com/hello/@v/v1.0.0.zip"); r.code != 200 {
		t.Errorf("exempt module: %d %s", r.code, r.body)
	}
	for _, p := range up.Requests() {
		if strings.Contains(p, "/lookup/example.com/hello") {
			t.Errorf("exempt module looked up in the checksum database: %s", p)
		}
	}
	if r := get(t, s.URL+"/sumdb/"+fakeproxy.DBName+"/lookup/example.com/hello@v1.0.0"); r.code != 404 {
		t.Errorf("sumdb lookup of exempt module through gomirror: %d, want 404", r.code)
	}
	for _, p := range up.Requests() {
		if strings.Contains(p, "/lookup/example.com/hello") {
			t.Errorf("exempt module's lookup forwarded upstream: %s", p)
		}
	}
}

// TestCaseVariantOfPrivatePathIsNotLookedUp is issue 11's checksum attack
// through the HTTP edge: with private example.com/mycorp, a lookup of the
// escaped case variant example.com/!my!corp/x is 404 and reaches neither
// the upstream nor its checksum database. The start-up log names the
// effective private patterns.
func TestCaseVariantOfPrivatePathIsNotLookedUp(t *testing.T) {
	up := fakeproxy.New(t)
	s := start(t, up, func(c *config.Serve) { c.Private = "example.com/mycorp" })
	for _, lookup := range []string{"example.com/!my!corp/x@v1.0.0", "example.com/!my!c!o!r!p@v1.0.0"} {
		if r := get(t, s.URL+"/sumdb/"+fakeproxy.DBName+"/lookup/"+lookup); r.code != http.StatusNotFound {
			t.Errorf("lookup of %s: %d %q, want 404", lookup, r.code, r.body)
		}
	}
	for _, p := range up.Requests() {
		if strings.Contains(strings.ToLower(p), "corp") {
			t.Errorf("a case variant of a private path reached the upstream: %s", p)
		}
	}
	if logs := s.Logs.String(); !strings.Contains(logs, "private=example.com/mycorp") || !strings.Contains(logs, "nosumdb=example.com/mycorp") {
		t.Errorf("the start-up log does not name the private patterns:\n%s", logs)
	}
}

func TestStartLogSaysWhenNothingIsPrivate(t *testing.T) {
	s := start(t, fakeproxy.New(t), nil)
	if logs := s.Logs.String(); !strings.Contains(logs, `private="none: no module is kept from the upstream`) {
		t.Errorf("with no private patterns the start-up log does not say so:\n%s", logs)
	}
}

func TestChecksumDatabaseUnreachableFailsClosed(t *testing.T) {
	up := fakeproxy.New(t)
	s := start(t, up, nil)
	up.SetHook(func(w http.ResponseWriter, r *http.Request) bool {
		if strings.HasPrefix(r.URL.Path, "/sumdb/") && !strings.HasSuffix(r.URL.Path, "/supported") {
			http.Error(w, "database down", http.StatusServiceUnavailable)
			return true
		}
		return false
	})
	r := get(t, s.URL+"/example.com/hello/@v/v1.0.0.zip")
	if r.code != http.StatusBadGateway || !strings.Contains(r.body, "checksum database") {
		t.Errorf("with the database down: %d %q, want 502 naming the checksum database", r.code, r.body)
	}
	if _, err := s.stored("example.com/hello/@v/v1.0.0.zip"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("unverified zip stored: %v", err)
	}
	if m := get(t, s.URL+"/metrics").body; !strings.Contains(m, `gomirror_verifications_total{file="zip",result="unavailable"} 1`) {
		t.Errorf("metrics do not count the check that could not reach the database")
	}
	up.SetHook(nil)
	if r := get(t, s.URL+"/example.com/hello/@v/v1.0.0.zip"); r.code != 200 {
		t.Errorf("after the database recovers: %d %s", r.code, r.body)
	}
}

func TestStaleListWhenUpstreamFails(t *testing.T) {
	up := fakeproxy.New(t)
	s := start(t, up, func(c *config.Serve) { c.FreshTimeout, c.FetchTimeout = 500*time.Millisecond, 2*time.Second })
	fresh := get(t, s.URL+"/example.com/hello/@v/list")
	latest := get(t, s.URL+"/example.com/hello/@latest")
	if fresh.code != 200 || latest.code != 200 {
		t.Fatalf("fresh: %d %d", fresh.code, latest.code)
	}
	failures := map[string]func(w http.ResponseWriter, r *http.Request){
		"5xx": func(w http.ResponseWriter, r *http.Request) { http.Error(w, "boom", 500) },
		"timeout": func(w http.ResponseWriter, r *http.Request) {
			<-r.Context().Done() // hangs past FreshTimeout
		},
	}
	for name, fail := range failures {
		t.Run(name, func(t *testing.T) {
			up.SetHook(func(w http.ResponseWriter, r *http.Request) bool { fail(w, r); return true })
			defer up.SetHook(nil)
			if r := get(t, s.URL+"/example.com/hello/@v/list"); r.code != 200 || r.body != fresh.body {
				t.Errorf("list with upstream failing: %d %q, want stored %q", r.code, r.body, fresh.body)
			}
			if r := get(t, s.URL+"/example.com/hello/@latest"); r.code != 200 || r.body != latest.body {
				t.Errorf("@latest with upstream failing: %d %q", r.code, r.body)
			}
			if r := get(t, s.URL+"/example.com/dep/@v/list"); r.code < 500 {
				t.Errorf("list never stored, upstream failing: %d, want a 5xx", r.code)
			}
		})
	}
}

func TestListIsUnionOfUpstreamAndStorage(t *testing.T) {
	up := fakeproxy.New(t)
	s := start(t, up, nil)
	if r := get(t, s.URL+"/example.com/hello/@v/v1.0.0.info"); r.code != 200 {
		t.Fatal(r.body)
	}
	// The upstream forgets v1.0.0 (deleted tag); gomirror still lists it.
	up.SetHook(func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path == "/example.com/hello/@v/list" {
			io.WriteString(w, "v1.1.0\nv1.3.0\n")
			return true
		}
		return false
	})
	r := get(t, s.URL+"/example.com/hello/@v/list")
	if r.body != "v1.0.0\nv1.1.0\nv1.3.0\n" {
		t.Errorf("list = %q, want the union v1.0.0 v1.1.0 v1.3.0", r.body)
	}
}

func TestConcurrentMissesFetchOnce(t *testing.T) {
	up := fakeproxy.New(t)
	release := make(chan struct{})
	var arrived atomic.Int32
	up.SetHook(func(w http.ResponseWriter, r *http.Request) bool {
		if strings.HasSuffix(r.URL.Path, ".zip") {
			arrived.Add(1)
			<-release // hold the fill open while the other requests pile up
		}
		return false
	})
	s := start(t, up, nil)
	want := up.Module("example.com/hello", "v1.1.0").Zip
	const clients = 50
	var wg sync.WaitGroup
	results := make(chan error, clients)
	started := make(chan struct{}, clients)
	for range clients {
		wg.Go(func() {
			started <- struct{}{}
			resp, err := http.Get(s.URL + "/example.com/hello/@v/v1.1.0.zip")
			if err != nil {
				results <- err
				return
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != 200 || !bytes.Equal(b, want) {
				results <- fmt.Errorf("%d, %d bytes", resp.StatusCode, len(b))
				return
			}
			results <- nil
		})
	}
	for range clients {
		<-started
	}
	close(release)
	wg.Wait()
	close(results)
	for err := range results {
		if err != nil {
			t.Error(err)
		}
	}
	if n := up.Hits("/example.com/hello/@v/v1.1.0.zip"); n != 1 {
		t.Errorf("upstream zip fetches = %d, want 1", n)
	}
}

func TestClientDisconnectDoesNotAbortFill(t *testing.T) {
	up := fakeproxy.New(t)
	inFill, release := holdZip(up)
	s := start(t, up, nil)
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/example.com/hello/@v/v1.0.0.zip", nil)
	errc := make(chan error, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	<-inFill
	cancel() // the client hangs up while gomirror is still fetching
	if err := <-errc; err == nil {
		t.Fatal("request succeeded although it was cancelled")
	}
	close(release)
	if err := s.WaitFills(context.Background()); err != nil {
		t.Fatal(err)
	}
	got, err := s.stored("example.com/hello/@v/v1.0.0.zip")
	if err != nil || !bytes.Equal(got, up.Module("example.com/hello", "v1.0.0").Zip) {
		t.Fatalf("after the client left: stored zip %d bytes, %v", len(got), err)
	}
}

func TestTruncatedUpstreamZipRefused(t *testing.T) {
	up := fakeproxy.New(t)
	up.SetHook(func(w http.ResponseWriter, r *http.Request) bool {
		if strings.HasSuffix(r.URL.Path, ".zip") {
			z := up.Module("example.com/hello", "v1.0.0").Zip
			w.Header().Set("Content-Length", fmt.Sprint(len(z)))
			w.Write(z[:len(z)/2]) // then the handler returns: connection cut short
			return true
		}
		return false
	})
	s := start(t, up, nil)
	r := get(t, s.URL+"/example.com/hello/@v/v1.0.0.zip")
	if r.code < 500 {
		t.Errorf("truncated upstream zip: %d, want a 5xx", r.code)
	}
	if _, err := s.stored("example.com/hello/@v/v1.0.0.zip"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("truncated zip stored: %v", err)
	}
}

func TestUpstreamStatusesAtTheEdge(t *testing.T) {
	tests := []struct {
		name     string
		upstream int
		want     int
	}{
		{"404 stays 404", 404, 404},
		{"410 stays 410", 410, 410},
		{"403 not available stays 403", 403, 403},
		{"500 becomes 502", 500, 502},
		{"503 becomes 502", 503, 502},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up := fakeproxy.New(t)
			up.SetHook(func(w http.ResponseWriter, r *http.Request) bool {
				if !strings.HasPrefix(r.URL.Path, "/sumdb/") {
					http.Error(w, "upstream says no", tt.upstream)
					return true
				}
				return false
			})
			s := start(t, up, nil)
			r := get(t, s.URL+"/example.com/hello/@v/v1.0.0.info")
			if r.code != tt.want {
				t.Errorf("status %d, want %d (body %q)", r.code, tt.want, r.body)
			}
			if tt.want < 500 && !strings.Contains(r.body, "upstream says no") {
				t.Errorf("body %q does not carry the upstream's message", r.body)
			}
		})
	}
	t.Run("upstream timeout becomes 504", func(t *testing.T) {
		up := fakeproxy.New(t)
		up.SetHook(func(w http.ResponseWriter, r *http.Request) bool {
			if strings.HasSuffix(r.URL.Path, ".info") {
				<-r.Context().Done()
				return true
			}
			return false
		})
		s := start(t, up, func(c *config.Serve) { c.FetchTimeout = 300 * time.Millisecond })
		if r := get(t, s.URL+"/example.com/hello/@v/v1.0.0.info"); r.code != http.StatusGatewayTimeout {
			t.Errorf("status %d, want 504", r.code)
		}
	})
}

func TestNothingWrittenOutsideStorage(t *testing.T) {
	up := fakeproxy.New(t)
	parent := t.TempDir()
	s := start(t, up, func(c *config.Serve) { c.StorageDir = filepath.Join(parent, "store") })
	for _, p := range []string{
		"/../../x/@v/v1.0.0.zip", "/example.com/../../../x/@v/list", "/%2e%2e/%2e%2e/x/@v/list",
		"/example.com/hello/@v/..%2f..%2fescape.info", "/sumdb/" + fakeproxy.DBName + "/../../../x",
		"/sumdb/" + fakeproxy.DBName + "/tile/../../x",
	} {
		r := get(t, s.URL+p)
		if r.code < 400 || r.code >= 500 {
			t.Errorf("GET %s: %d, want a 4xx", p, r.code)
		}
	}
	entries, _ := os.ReadDir(parent)
	if len(entries) != 1 || entries[0].Name() != "store" {
		t.Errorf("files appeared next to the storage dir: %v", entries)
	}
}

func TestSumDBProxy(t *testing.T) {
	up := fakeproxy.New(t)
	s := start(t, up, nil)
	base := s.URL + "/sumdb/" + fakeproxy.DBName
	if r := get(t, base+"/supported"); r.code != 200 {
		t.Errorf("supported: %d", r.code)
	}
	if r := get(t, s.URL+"/sumdb/other.example/supported"); r.code != 404 {
		t.Errorf("another database's supported: %d, want 404", r.code)
	}
	lookup := get(t, base+"/lookup/example.com/hello@v1.0.0")
	if lookup.code != 200 || !strings.Contains(lookup.body, "example.com/hello v1.0.0 h1:") {
		t.Fatalf("lookup: %d %q", lookup.code, lookup.body)
	}
	if err := s.WaitFills(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.stored("sumdb/" + fakeproxy.DBName + "/lookup/example.com/hello@v1.0.0"); err != nil {
		t.Errorf("lookup not stored: %v", err)
	}
	latest := get(t, base+"/latest")
	if latest.code != 200 || !strings.Contains(latest.body, fakeproxy.DBName) {
		t.Fatalf("latest: %d %q", latest.code, latest.body)
	}
	if r := get(t, base+"/lookup/example.com/nope@v1.0.0"); r.code != 404 && r.code != 410 {
		t.Errorf("lookup of unknown module: %d %q, want 404/410", r.code, r.body)
	}
	// A second lookup is answered from storage.
	before := up.Hits("/sumdb/" + fakeproxy.DBName + "/lookup/example.com/hello@v1.0.0")
	get(t, base+"/lookup/example.com/hello@v1.0.0")
	if after := up.Hits("/sumdb/" + fakeproxy.DBName + "/lookup/example.com/hello@v1.0.0"); after != before {
		t.Errorf("stored lookup fetched again")
	}
}

func TestHealthReadyAndMetrics(t *testing.T) {
	up := fakeproxy.New(t)
	s := start(t, up, nil)
	if r := get(t, s.URL+"/healthz"); r.code != 200 {
		t.Errorf("healthz: %d", r.code)
	}
	if r := get(t, s.URL+"/readyz"); r.code != 200 {
		t.Errorf("readyz: %d %s", r.code, r.body)
	}
	get(t, s.URL+"/example.com/hello/@v/v1.0.0.zip")
	get(t, s.URL+"/example.com/hello/@v/v1.0.0.zip")
	m := get(t, s.URL+"/metrics").body
	for _, want := range []string{
		`gomirror_cache_requests_total{kind="zip",result="hit"} 1`,
		`gomirror_cache_requests_total{kind="zip",result="miss"} 1`,
		`gomirror_http_requests_total{code="200",kind="zip"} 2`,
		`gomirror_upstream_fetches_total{op="zip",result="ok",upstream="` + up.URL + `"} 1`,
		`gomirror_bytes_served_total{kind="zip"}`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	logs := s.Logs.String()
	if !strings.Contains(logs, "path=/example.com/hello/@v/v1.0.0.zip status=200") || !strings.Contains(logs, "cache=miss upstream="+up.URL) {
		t.Errorf("access log lacks the zip request with cache and upstream:\n%s", logs)
	}
}

func TestReadyzFailsWhenStorageNotWritable(t *testing.T) {
	if os.Geteuid() == 0 {
		// root writes through permissions; make the probe's directory a file instead.
	}
	up := fakeproxy.New(t)
	s := start(t, up, nil)
	probeDir := filepath.Join(s.Dir, ".gomirror", "tmp")
	os.RemoveAll(probeDir)
	if err := os.WriteFile(probeDir, []byte("not a dir"), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := get(t, s.URL+"/readyz"); r.code != http.StatusServiceUnavailable {
		t.Errorf("readyz with unwritable storage: %d, want 503", r.code)
	}
}

func TestGracefulShutdownFinishesInFlightRequests(t *testing.T) {
	up := fakeproxy.New(t)
	inFill, release := holdZip(up)
	s := start(t, up, nil)
	type result struct {
		code int
		body []byte
		err  error
	}
	resc := make(chan result, 1)
	go func() {
		resp, err := http.Get(s.URL + "/example.com/hello/@v/v1.0.0.zip")
		if err != nil {
			resc <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		resc <- result{resp.StatusCode, b, err}
	}()
	<-inFill
	s.cancel() // SIGTERM
	// New connections are refused once shutdown has begun.
	waitRefused(t, s.Addr)
	close(release)
	res := <-resc
	if res.err != nil || res.code != 200 || !bytes.Equal(res.body, up.Module("example.com/hello", "v1.0.0").Zip) {
		t.Errorf("in-flight request: %d, %d bytes, %v", res.code, len(res.body), res.err)
	}
	if err := s.stop(); err != nil {
		t.Errorf("Serve: %v", err)
	}
	// Each process writes in its own directory under .gomirror/tmp: no
	// file may be left in any.
	var left []string
	filepath.WalkDir(filepath.Join(s.Dir, ".gomirror", "tmp"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			left = append(left, p)
		}
		return nil
	})
	if len(left) != 0 {
		t.Errorf("temporary files left after shutdown: %v", left)
	}
}

// waitRefused polls until addr refuses connections; shutdown closes the
// listener asynchronously.
func waitRefused(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return
		}
		c.Close()
		runtimeGosched()
	}
	t.Fatal("listener still accepting after shutdown began")
}

func TestNotFoundIsRememberedBriefly(t *testing.T) {
	up := fakeproxy.New(t)
	s := start(t, up, nil)
	for range 3 {
		if r := get(t, s.URL+"/example.com/nope/@v/v1.0.0.info"); r.code != 410 {
			t.Fatalf("unknown version: %d", r.code)
		}
	}
	if n := up.Hits("/example.com/nope/@v/v1.0.0.info"); n != 1 {
		t.Errorf("upstream asked %d times for a version it said does not exist, want 1", n)
	}
	off := start(t, up, func(c *config.Serve) { c.NegativeTTL = 0 })
	get(t, off.URL+"/example.com/nope/@v/v2.0.0.info")
	get(t, off.URL+"/example.com/nope/@v/v2.0.0.info")
	if n := up.Hits("/example.com/nope/@v/v2.0.0.info"); n != 2 {
		t.Errorf("with negative-ttl 0 the upstream was asked %d times, want 2", n)
	}
}

func TestJSONLogFormat(t *testing.T) {
	var buf testutil.Buffer
	cfg := config.Defaults()
	cfg.VulnDB = "off" // its first refresh would ask the upstream for golang.org/x/vulndb
	cfg.LogFormat = "json"
	NewLogger(&buf, &cfg).Info("request", "path", "/x")
	if !strings.HasPrefix(buf.String(), "{") || !strings.Contains(buf.String(), `"path":"/x"`) {
		t.Errorf("json log line: %q", buf.String())
	}
}

// TestInfoMissPrefetchesModAndZip: with prefetch on, a .info miss fetches
// the version's .mod (stored) and .zip (held outside storage until a
// client asks for it); the client's own requests fetch nothing twice.
func TestInfoMissPrefetchesModAndZip(t *testing.T) {
	for _, tt := range []struct {
		name     string
		prefetch int
		stored   bool // the .mod after the .info
	}{
		{"prefetch on", 4, true},
		{"prefetch off", 0, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			up := fakeproxy.New(t)
			s := start(t, up, func(c *config.Serve) { c.Prefetch = tt.prefetch })
			if r := get(t, s.URL+"/example.com/hello/@v/v1.1.0.info"); r.code != 200 {
				t.Fatalf("info: %d", r.code)
			}
			if err := s.WaitFills(context.Background()); err != nil {
				t.Fatal(err)
			}
			for key, want := range map[string]bool{
				"example.com/hello/@v/v1.1.0.mod": tt.stored,
				"example.com/hello/@v/v1.1.0.zip": false, // held, if prefetched
			} {
				_, err := s.stored(key)
				if got := err == nil; got != want {
					t.Errorf("%s stored = %v, want %v (%v)", key, got, want, err)
				}
			}
			if n, want := up.Hits("/example.com/hello/@v/v1.1.0.zip"), min(tt.prefetch, 1); n != want {
				t.Errorf("upstream hits for the zip after the .info = %d, want %d", n, want)
			}
			// Whatever ran ahead, the client's own requests fetch nothing
			// twice, and store what they get.
			get(t, s.URL+"/example.com/hello/@v/v1.1.0.mod")
			get(t, s.URL+"/example.com/hello/@v/v1.1.0.zip")
			// A filled .mod is answered from memory while it is stored in
			// the background (cache.Mirror.immutable): wait for that write.
			if err := s.WaitFills(context.Background()); err != nil {
				t.Fatal(err)
			}
			for _, p := range []string{"/example.com/hello/@v/v1.1.0.mod", "/example.com/hello/@v/v1.1.0.zip"} {
				if n := up.Hits(p); n != 1 {
					t.Errorf("upstream hits for %s = %d, want 1", p, n)
				}
				if _, err := s.stored(strings.TrimPrefix(p, "/")); err != nil {
					t.Errorf("%s not stored after the client's request: %v", p, err)
				}
			}
			if tt.prefetch == 0 {
				return
			}
			// The zip came from the held area: its own cache outcome in
			// the log and metrics, not an upstream miss; the held zips
			// counted.
			if !strings.Contains(s.Logs.String(), "cache=prefetched") {
				t.Errorf("no cache=prefetched in the log:\n%s", s.Logs.String())
			}
			metrics := get(t, s.URL+"/metrics").body
			for _, want := range []string{
				`gomirror_cache_requests_total{kind="zip",result="prefetched"} 1`,
				`gomirror_prefetch_held_zips_total{result="taken"} 1`,
				`gomirror_prefetch_held_zips 0`,
			} {
				if !strings.Contains(metrics, want) {
					t.Errorf("/metrics lacks %s", want)
				}
			}
		})
	}
}

func TestDamagedTreeHeadIsRecovered(t *testing.T) {
	up := fakeproxy.New(t)
	s := start(t, up, nil)
	head := filepath.Join(s.Dir, ".gomirror", "sumdb", fakeproxy.DBName, "latest")
	if err := os.MkdirAll(filepath.Dir(head), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(head, []byte("go.sum database tree\n\x00\x00torn"), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := get(t, s.URL+"/example.com/hello/@v/v1.0.0.mod"); r.code != 200 {
		t.Fatalf("with a damaged stored tree head: %d %s", r.code, r.body)
	}
	if !strings.Contains(s.Logs.String(), "tree head is damaged") {
		t.Errorf("the damaged tree head was not reported in the log")
	}
	b, err := os.ReadFile(head)
	if err != nil || !strings.HasPrefix(string(b), "go.sum database tree\n") || strings.Contains(string(b), "torn") {
		t.Errorf("tree head not replaced by a verified one: %q, %v", b, err)
	}
}

func TestDamagedTileNotStored(t *testing.T) {
	up := fakeproxy.New(t)
	s := start(t, up, nil)
	// Let the database grow a little, so that a tile exists.
	if r := get(t, s.URL+"/sumdb/"+fakeproxy.DBName+"/lookup/example.com/hello@v1.0.0"); r.code != 200 {
		t.Fatalf("lookup: %d %s", r.code, r.body)
	}
	const tile = "tile/8/0/000.p/1"
	good := get(t, s.URL+"/sumdb/"+fakeproxy.DBName+"/"+tile)
	if good.code != 200 || len(good.body) != 32 {
		t.Fatalf("good tile: %d, %d bytes", good.code, len(good.body))
	}
	const other = "tile/8/1/000.p/1" // not fetched yet: the upstream will cut it short
	up.SetHook(func(w http.ResponseWriter, r *http.Request) bool {
		if strings.HasSuffix(r.URL.Path, other) {
			w.Write([]byte("short"))
			return true
		}
		return false
	})
	if r := get(t, s.URL+"/sumdb/"+fakeproxy.DBName+"/"+other); r.code != http.StatusBadGateway {
		t.Errorf("damaged tile: %d, want 502", r.code)
	}
	s.WaitFills(context.Background())
	if _, err := s.stored("sumdb/" + fakeproxy.DBName + "/" + other); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("damaged tile stored: %v", err)
	}
}

// TestClientTilesStoredOnlyWhenVerified: a tile a client asks for through
// /sumdb/ is kept only if it is proven to belong to the tree gomirror has
// verified; one beyond that tree is passed through unstored.
func TestClientTilesStoredOnlyWhenVerified(t *testing.T) {
	up := fakeproxy.New(t)
	s := start(t, up, nil)
	db := "/sumdb/" + fakeproxy.DBName + "/"
	for _, m := range []string{"example.com/hello@v1.0.0", "example.com/dep@v1.0.0"} {
		if r := get(t, s.URL+db+"lookup/"+m); r.code != 200 {
			t.Fatalf("lookup %s: %d %s", m, r.code, r.body)
		}
	}
	s.WaitFills(context.Background())
	// The verifier stored the tile it needed; take it away so that only
	// the client's request can bring it back.
	const inTree = "tile/8/0/000.p/2"
	key := filepath.Join(s.Dir, "sumdb", fakeproxy.DBName, filepath.FromSlash(inTree))
	if err := os.Remove(key); err != nil {
		t.Fatalf("the verifier did not store %s: %v", inTree, err)
	}
	if r := get(t, s.URL+db+inTree); r.code != 200 || len(r.body) != 2*32 {
		t.Fatalf("%s: %d, %d bytes", inTree, r.code, len(r.body))
	}
	s.WaitFills(context.Background())
	if _, err := os.Stat(key); err != nil {
		t.Errorf("a verified tile was not stored: %v", err)
	}

	// The database grows behind gomirror's back: tiles of the bigger tree
	// are served but not kept.
	for _, m := range []string{"example.com/hello@v1.1.0", "example.com/hello@v1.2.0"} {
		if r := get(t, up.URL+db+"lookup/"+m); r.code != 200 {
			t.Fatalf("lookup %s at the fake: %d", m, r.code)
		}
	}
	const beyond = "tile/8/0/000.p/4"
	if r := get(t, s.URL+db+beyond); r.code != 200 || len(r.body) != 4*32 {
		t.Fatalf("%s: %d, %d bytes", beyond, r.code, len(r.body))
	}
	s.WaitFills(context.Background())
	if _, err := s.stored("sumdb/" + fakeproxy.DBName + "/" + beyond); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a tile beyond the verified tree was stored: %v", err)
	}
}

// TestListWithoutStoredListWaitsForTheUpstream: the versions of stored
// files alone are no substitute for a list, so a slow upstream (slower than
// fresh-timeout, within fetch-timeout) still gives the full answer.
func TestListWithoutStoredListWaitsForTheUpstream(t *testing.T) {
	up := fakeproxy.New(t)
	s := start(t, up, func(c *config.Serve) { c.FreshTimeout = 50 * time.Millisecond })
	if r := get(t, s.URL+"/example.com/hello/@v/v1.0.0.info"); r.code != 200 {
		t.Fatalf("info: %d %s", r.code, r.body)
	}
	s.WaitFills(context.Background())
	up.Inject(fakeproxy.Suffix("/@v/list"), fakeproxy.Slow(300*time.Millisecond))
	r := get(t, s.URL+"/example.com/hello/@v/list")
	if r.code != 200 || !strings.Contains(r.body, "v1.1.0") || !strings.Contains(r.body, "v1.2.0") {
		t.Errorf("list with a slow upstream and only a stored .info: %d %q; want the upstream's full list", r.code, r.body)
	}
}
