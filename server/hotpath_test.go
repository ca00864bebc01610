package server

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/gomirror/gomirror/config"
)

// maxCachedInfoAllocs bounds the allocations of one cached .info request,
// everything the process does for it (net/http included, the raw client
// below allocates nothing). Measured on 2026-11-28: 76 at 003f82b, before
// the memory cache and the other hot-path changes of issue 13; 64 after;
// 61 once a memory-cache hit skips http.ServeContent (serveWhole); 24
// after the third round (the access line encoded without slog's Record,
// parses kept, one request clone and one context node at the edge,
// validators kept per path, metric children kept, the client address
// found per connection). A bare net/http server answering the same bytes
// and headers from a map makes 18.
const maxCachedInfoAllocs = 26

// TestCachedInfoAllocs counts the allocations per request of a stored
// .info, served on a keep-alive connection, and keeps them from creeping
// back up.
func TestCachedInfoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under the race detector")
	}
	const key = "example.com/hot/@v/v1.0.0.info"
	body := []byte(`{"Version":"v1.0.0","Time":"2026-11-28T12:00:00Z"}`)
	// The logger gomirror serve runs with (NewLogger; level info).
	s := startOfflineLogger(t, map[string][]byte{key: body}, nil, NewLogger)
	c, err := net.Dial("tcp", s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	req := []byte("GET /" + key + " HTTP/1.1\r\nHost: gomirror.test\r\nUser-Agent: test\r\n\r\n")
	buf := make([]byte, 4096)
	var failed []byte
	roundTrip := func() {
		c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := c.Write(req); err != nil {
			t.Fatal(err)
		}
		n := 0
		for {
			m, err := c.Read(buf[n:])
			n += m
			if err != nil {
				t.Fatalf("after %q: %v", buf[:n], err)
			}
			// One answer is complete when the body, which ends it, is in.
			if bytes.HasSuffix(buf[:n], body) {
				break
			}
		}
		if !bytes.HasPrefix(buf[:n], []byte("HTTP/1.1 200 ")) && failed == nil {
			failed = append(failed, buf[:n]...)
		}
	}
	for range 10 { // the first read from storage, connection set-up
		roundTrip()
	}
	allocs := testing.AllocsPerRun(500, roundTrip)
	if failed != nil {
		t.Fatalf("answer: %q", failed)
	}
	t.Logf("%.1f allocations per cached .info request", allocs)
	if allocs > maxCachedInfoAllocs {
		t.Errorf("%.1f allocations per cached .info request, want at most %d", allocs, maxCachedInfoAllocs)
	}
}

// BenchmarkCachedInfoHandler runs the handler of a cached .info request
// (everything gomirror adds to net/http: the middleware, the parse, the
// memory cache, the access log line), without a connection: a guide for
// the CPU time of BenchmarkCachedInfo (bench/), less disturbed by other
// load on the machine. Its ResponseWriter takes no write deadline.
func BenchmarkCachedInfoHandler(b *testing.B) {
	const key = "example.com/hot/@v/v1.0.0.info"
	cfg := config.Defaults()
	cfg.VulnDB = "off" // its first refresh would ask the upstream for golang.org/x/vulndb
	cfg.StorageDir, cfg.DirectDir = b.TempDir(), b.TempDir()
	cfg.Upstream, cfg.SumDB = "off", "off"
	p := filepath.Join(cfg.StorageDir, filepath.FromSlash(key))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(`{"Version":"v1.0.0","Time":"2026-11-28T12:00:00Z"}`), 0o644); err != nil {
		b.Fatal(err)
	}
	srv, err := New(&cfg, NewLogger(io.Discard, &cfg))
	if err != nil {
		b.Fatal(err)
	}
	h := srv.Handler()
	r := httptest.NewRequest("GET", "/"+key, nil)
	r.RemoteAddr = "192.0.2.1:5000"
	w := &discardWriter{h: http.Header{}}
	h.ServeHTTP(w, r)
	if w.code != http.StatusOK {
		b.Fatalf("status %d", w.code)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		clear(w.h)
		h.ServeHTTP(w, r)
	}
}

// discardWriter is an http.ResponseWriter that keeps the status only.
type discardWriter struct {
	h    http.Header
	code int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) WriteHeader(code int)        { w.code = code }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }

// SetWriteDeadline takes the deadline, as a connection's writer does (for
// http.ResponseController).
func (w *discardWriter) SetWriteDeadline(time.Time) error { return nil }

// BenchmarkCachedInfoHandlerAudit is BenchmarkCachedInfoHandler with the
// audit log on (an SQLite database in a temporary directory, the Recorder
// writing to it in the background) and off, in one run: the CPU time and
// allocations the audit path adds to a cached .info request, for
// profiles (-cpuprofile) and allocation counts (-benchmem).
func BenchmarkCachedInfoHandlerAudit(b *testing.B) {
	for _, on := range []bool{false, true} {
		name := "off"
		if on {
			name = "on"
		}
		b.Run(name, func(b *testing.B) {
			const key = "example.com/hot/@v/v1.0.0.info"
			cfg := config.Defaults()
			cfg.VulnDB = "off" // its first refresh would ask the upstream for golang.org/x/vulndb
			cfg.StorageDir, cfg.DirectDir = b.TempDir(), b.TempDir()
			cfg.Upstream, cfg.SumDB = "off", "off"
			if on {
				cfg.Database = filepath.Join(b.TempDir(), "gomirror.db")
			}
			p := filepath.Join(cfg.StorageDir, filepath.FromSlash(key))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				b.Fatal(err)
			}
			if err := os.WriteFile(p, []byte(`{"Version":"v1.0.0","Time":"2026-11-28T12:00:00Z"}`), 0o644); err != nil {
				b.Fatal(err)
			}
			srv, err := New(&cfg, NewLogger(io.Discard, &cfg))
			if err != nil {
				b.Fatal(err)
			}
			if on {
				ctx, cancel := context.WithCancel(context.Background())
				srv.records.start(ctx)
				defer func() {
					cancel()
					srv.records.close(context.Background())
				}()
				for srv.records.DB() == nil {
					runtime.Gosched()
				}
			}
			h := srv.Handler()
			r := httptest.NewRequest("GET", "/"+key, nil)
			r.RemoteAddr = "192.0.2.1:5000"
			r.Header.Set("User-Agent", "Go-http-client/1.1")
			w := &discardWriter{h: http.Header{}}
			h.ServeHTTP(w, r)
			if w.code != http.StatusOK {
				b.Fatalf("status %d", w.code)
			}
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := cpuTime()
			for range b.N {
				clear(w.h)
				h.ServeHTTP(w, r)
			}
			if on {
				// The writer catches up (all but the batch filling,
				// which waits for the flush tick): its CPU counts.
				for srv.records.auditStats().Queued >= 1024 {
					time.Sleep(time.Millisecond)
				}
				st := srv.records.auditStats()
				b.ReportMetric(float64(st.Dropped+st.Spilled)/float64(b.N), "lost/op")
			}
			b.ReportMetric(float64(cpuTime()-cpu0)/float64(time.Microsecond)/float64(b.N), "us-cpu/op")
		})
	}
}

// cpuTime is the CPU time this process has used (user and system).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
