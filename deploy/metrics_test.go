package deploy

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gomirror/gomirror/alert"
	"github.com/gomirror/gomirror/config"
	"github.com/gomirror/gomirror/internal/fakeproxy"
	"github.com/gomirror/gomirror/server"
)

// exported is what a gomirror's /metrics exports: for each metric (sample
// name: a histogram's _bucket, _sum and _count, not its family name), the
// names of the labels its samples have.
type exported map[string]map[string]bool

// has reports whether name is exported with every label in labels.
func (e exported) has(name string, labels ...string) bool {
	l, ok := e[name]
	if !ok {
		return false
	}
	for _, n := range labels {
		if !l[n] {
			return false
		}
	}
	return true
}

// sampleRE matches a sample line of the text exposition format: the name,
// and the labels if any.
var sampleRE = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? `)

// labelNameRE matches the label names in a sample's {...}.
var labelNameRE = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)="(?:[^"\\]|\\.)*"`)

// parseExposition reads the samples of the Prometheus text format.
func parseExposition(t *testing.T, r io.Reader) exported {
	t.Helper()
	e := exported{}
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		m := sampleRE.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("/metrics: not a sample line: %q", line)
		}
		if e[m[1]] == nil {
			e[m[1]] = map[string]bool{}
		}
		for _, l := range labelNameRE.FindAllStringSubmatch(m[2], -1) {
			e[m[1]][l[1]] = true
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return e
}

// wiredLater are the metrics that obs exports from the funcs the server
// gives it (WatchStorage: from the database's catalog, once it is open;
// WatchAudit; WatchAlerts: with alert rules; WatchGC: the collector's
// last run, once it ran, which it does at start once the database is open).
var wiredLater = []string{
	"gomirror_storage_bytes", "gomirror_storage_objects",
	"gomirror_audit_queue_records", "gomirror_audit_records_total",
	"gomirror_alerts_firing",
	"gomirror_gc_stored_bytes", "gomirror_gc_last_run_timestamp_seconds",
}

// scrapeGomirror starts a real gomirror server (fs storage in a temp dir)
// whose upstream is a group of two fake mirrors with a checksum database,
// sends it requests of every kind (list, latest, info twice for a hit, mod,
// zip, a checksum database lookup, a module that does not exist, the
// health and metrics endpoints), and returns what its /metrics exports.
func scrapeGomirror(t *testing.T) exported {
	t.Helper()
	up := fakeproxy.New(t)
	mirror := fakeproxy.NewMirror(t, up)
	cfg := config.Defaults()
	dir := t.TempDir()
	cfg.Listen = "127.0.0.1:0"
	cfg.Storage, cfg.StorageDir, cfg.DirectDir = "fs", filepath.Join(dir, "store"), filepath.Join(dir, "direct")
	cfg.Upstream = "grp"
	cfg.UpstreamGroups = []config.UpstreamGroup{{Name: "grp", Mirrors: []string{up.URL, mirror.URL}}}
	cfg.SumDB = up.DBKey
	cfg.FetchTimeout = 30 * time.Second
	cfg.Database = filepath.Join(dir, "gomirror.db")
	// A quota, so that the garbage collector and its metrics run.
	cfg.StorageMaxSize, cfg.MaxStoredBytes = "1GiB", 1<<30
	cfg.Alerts = []alert.Rule{{Name: "checksum-mismatch", Kind: alert.KindChecksumMismatch}}
	s, err := server.New(&cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	base := serveGomirror(t, s, cfg.Listen)
	for _, p := range []struct {
		path string
		code int
	}{
		{"/example.com/hello/@v/list", 200},
		{"/example.com/hello/@latest", 200},
		{"/example.com/hello/@v/v1.0.0.info", 200},
		{"/example.com/hello/@v/v1.0.0.info", 200},
		{"/example.com/hello/@v/v1.0.0.mod", 200},
		{"/example.com/hello/@v/v1.0.0.zip", 200},
		{"/sumdb/" + fakeproxy.DBName + "/lookup/example.com/hello@v1.1.0", 200},
		{"/example.com/nope/@v/v1.0.0.info", 410}, // not found upstream
		{"/healthz", 200},
		{"/metrics", 200},
	} {
		if code, _ := httpGet(t, base+p.path); code != p.code {
			t.Fatalf("GET %s: %d, want %d", p.path, code, p.code)
		}
	}
	if err := s.WaitFills(context.Background()); err != nil {
		t.Fatal(err)
	}
	// The listener is loopback: the operator endpoints are open to it. The
	// storage metrics come from the catalog, once the database is open
	// (off the serving path, just after start). The garbage collector's
	// first attempt at start usually finds the database not open yet and
	// tries again after server's dbRetry (30s): the gc metrics come then,
	// hence 60s.
	var e exported
	for deadline := time.Now().Add(60 * time.Second); ; {
		code, body := httpGet(t, base+"/metrics")
		if code != http.StatusOK {
			t.Fatalf("GET /metrics: %d", code)
		}
		e = parseExposition(t, strings.NewReader(body))
		var missing []string
		for _, n := range wiredLater {
			if !e.has(n) {
				missing = append(missing, n)
			}
		}
		if len(missing) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 60s, the server does not export %v", missing)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return e
}

// TestScrapeGomirror checks scrapeGomirror itself: the request metrics of
// every kind it sends, the upstream group's mirrors, and the histograms'
// series are there.
func TestScrapeGomirror(t *testing.T) {
	e := scrapeGomirror(t)
	for _, want := range []struct {
		name   string
		labels []string
	}{
		{"gomirror_http_requests_total", []string{"kind", "code"}},
		{"gomirror_http_request_duration_seconds_bucket", []string{"kind", "le"}},
		{"gomirror_cache_requests_total", []string{"kind", "result"}},
		{"gomirror_upstream_fetches_total", []string{"op", "upstream", "result"}},
		{"gomirror_upstream_fetch_duration_seconds_count", []string{"op", "upstream"}},
		{"gomirror_upstream_mirror_breaker_state", []string{"group", "mirror"}},
		{"gomirror_verifications_total", []string{"file", "result"}},
		{"gomirror_storage_bytes", nil},
		{"gomirror_audit_records_total", []string{"result"}},
		{"gomirror_alerts_firing", []string{"rule"}},
		{"process_resident_memory_bytes", nil},
		{"go_goroutines", nil},
	} {
		if !e.has(want.name, want.labels...) {
			t.Errorf("/metrics has no %s with labels %v: %v", want.name, want.labels, e[want.name])
		}
	}
	if t.Failed() {
		t.Logf("exported: %v", slices.Sorted(func(yield func(string) bool) {
			for n := range e {
				if !yield(fmt.Sprint(n, e[n])) {
					return
				}
			}
		}))
	}
}

// serveGomirror runs s on a loopback listener (listen) until the end of
// the test, as gomirror serve does, and returns its base URL.
func serveGomirror(t *testing.T, s *server.Server, listen string) string {
	t.Helper()
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done, ready := make(chan error, 1), make(chan struct{})
	go func() { done <- s.Serve(ctx, ln, func(net.Addr) { close(ready) }) }()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("Serve: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return "http://" + ln.Addr().String()
}

// httpGet sends GET url and returns the status and body. It is for the
// servers the tests start: no proxy from the environment, no connection
// kept.
func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: time.Minute}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return resp.StatusCode, string(b)
}
