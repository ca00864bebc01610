package upstream_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gomirror/gomirror/internal/fakeproxy"
	"github.com/gomirror/gomirror/upstream"
)

// mirrorSet is three equivalent fake mirrors (fakeproxy.NewMirror of one
// origin: the same modules and checksum database): one slow, one flaky,
// one healthy, whose misbehaviour the test can change while it runs.
type mirrorSet struct {
	slow, flaky, healthy *fakeproxy.Server
	healthyDown          atomic.Bool
}

func newMirrorSet(t *testing.T) *mirrorSet {
	origin := fakeproxy.New(t)
	ms := &mirrorSet{slow: fakeproxy.NewMirror(t, origin), flaky: fakeproxy.NewMirror(t, origin), healthy: fakeproxy.NewMirror(t, origin)}
	ms.slow.SetHook(func(w http.ResponseWriter, r *http.Request) bool {
		select {
		case <-time.After(300 * time.Millisecond): // the injected fault itself
		case <-r.Context().Done():
			return true
		}
		return false
	})
	var n atomic.Int64
	ms.flaky.SetHook(func(w http.ResponseWriter, r *http.Request) bool {
		if n.Add(1)%2 == 0 {
			http.Error(w, "injected failure", http.StatusBadGateway)
			return true
		}
		return false
	})
	ms.healthy.SetHook(func(w http.ResponseWriter, r *http.Request) bool {
		if !ms.healthyDown.Load() {
			return false
		}
		// Dead: the connection is cut without an answer.
		if hj, ok := w.(http.Hijacker); ok {
			if c, _, err := hj.Hijack(); err == nil {
				c.Close()
			}
		}
		return true
	})
	return ms
}

// countTraffic returns how many requests other than probes each mirror got.
func countTraffic(s *fakeproxy.Server) int {
	n := 0
	for _, p := range s.Requests() {
		if p != "/" {
			n++
		}
	}
	return n
}

func TestGroupPrefersTheHealthyMirrorAndFailsOver(t *testing.T) {
	ms := newMirrorSet(t)
	g, err := upstream.NewGroup("mirrors", []string{ms.slow.URL, ms.flaky.URL, ms.healthy.URL}, nil, upstream.GroupOptions{
		Timeout:         2 * time.Second,
		RetryBackoff:    5 * time.Millisecond,
		BreakerFailures: 3,
		BreakerCooldown: 200 * time.Millisecond,
		ProbeInterval:   50 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var probes sync.WaitGroup
	probes.Go(func() { g.Run(ctx) })
	defer probes.Wait()
	defer cancel()

	type counts struct{ slow, flaky, healthy int }
	snapshot := func() counts {
		return counts{countTraffic(ms.slow), countTraffic(ms.flaky), countTraffic(ms.healthy)}
	}
	// request sends n .info requests, each of which must succeed, and
	// returns the traffic each mirror got for them. (Not lists: a list
	// goes to two mirrors at once, to compare them; TestGroupLag*.)
	request := func(n int) counts {
		before := snapshot()
		for i := range n {
			b, _, err := g.Info(t.Context(), "example.com/hello", "v1.1.0")
			if err != nil {
				t.Fatalf("request %d: %v", i, err)
			}
			if !strings.Contains(string(b), "v1.1.0") {
				t.Fatalf("request %d: info %q", i, b)
			}
		}
		after := snapshot()
		return counts{after.slow - before.slow, after.flaky - before.flaky, after.healthy - before.healthy}
	}
	share := func(c counts, of int) float64 {
		return float64(of) / float64(c.slow+c.flaky+c.healthy)
	}
	status := func(url string) upstream.MirrorStatus {
		for _, s := range g.Status() {
			if s.URL == url {
				return s
			}
		}
		t.Fatalf("no status for %s", url)
		return upstream.MirrorStatus{}
	}

	// Phase 1: a few seconds at most to find the healthy mirror...
	start := time.Now()
	warm := request(30)
	t.Logf("warm-up (30 requests, %v): %+v", time.Since(start).Round(time.Millisecond), warm)
	// ...then it gets at least 95% of the traffic.
	steady := request(200)
	t.Logf("steady state (200 requests): %+v; healthy share %.1f%%", steady, 100*share(steady, steady.healthy))
	if share(steady, steady.healthy) < 0.95 {
		t.Errorf("the healthy mirror got %.1f%% of the traffic, want >= 95%%; status %+v", 100*share(steady, steady.healthy), g.Status())
	}
	if !status(ms.healthy.URL).Preferred {
		t.Errorf("the healthy mirror is not the preferred one: %+v", g.Status())
	}

	// Phase 2: the healthy mirror dies. Requests still succeed, traffic
	// moves over and its breaker opens.
	ms.healthyDown.Store(true)
	down := request(15)
	t.Logf("healthy mirror down (15 requests): %+v; its status %+v", down, status(ms.healthy.URL))
	if st := status(ms.healthy.URL); st.Breaker != "open" && st.Breaker != "half-open" {
		t.Errorf("the dead mirror's breaker is %q, want open", st.Breaker)
	}
	if st := status(ms.healthy.URL); st.LastError == "" || st.Preferred {
		t.Errorf("the dead mirror: %+v; want a last error and not preferred", st)
	}
	after := request(10)
	if after.healthy > 0 {
		t.Errorf("after the failover, %d of 10 requests still reached the dead mirror", after.healthy)
	}

	// Phase 3: it recovers; probes close its breaker and traffic returns.
	ms.healthyDown.Store(false)
	recovered := time.Now()
	for {
		c := request(20)
		if share(c, c.healthy) >= 0.95 {
			t.Logf("traffic back on the recovered mirror %v after recovery: %+v", time.Since(recovered).Round(time.Millisecond), c)
			break
		}
		if time.Since(recovered) > 20*time.Second {
			t.Fatalf("traffic did not return to the recovered mirror within 20s: last 20 requests %+v, status %+v", c, g.Status())
		}
	}
	if st := status(ms.healthy.URL); st.Breaker != "closed" {
		t.Errorf("the recovered mirror's breaker is %q, want closed", st.Breaker)
	}
}

func TestGroupHedgesASlowRequest(t *testing.T) {
	origin := fakeproxy.New(t)
	slowOnce, fast := fakeproxy.NewMirror(t, origin), fakeproxy.NewMirror(t, origin)
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	slowOnce.SetHook(func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path == "/" {
			return false
		}
		select { // hangs until the test ends: only a hedge can answer
		case <-release:
		case <-r.Context().Done():
		}
		return true
	})
	g, err := upstream.NewGroup("g", []string{slowOnce.URL, fast.URL}, nil, upstream.GroupOptions{
		HedgeAfterMin: 20 * time.Millisecond, ProbeInterval: -1, Timeout: time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	b, answered, err := g.Info(t.Context(), "example.com/hello", "v1.0.0")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"v1.0.0"`) {
		t.Errorf("info %q", b)
	}
	if answered.Upstream != fast.URL || answered.Direct {
		t.Errorf("answered by %+v, want the runner-up %s", answered, fast.URL)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("the hedged request took %v", d)
	}
	if n := countTraffic(slowOnce); n != 1 {
		t.Errorf("the hanging mirror got %d requests, want 1 (the first attempt)", n)
	}
}

func TestGroupHonoursRetryAfterAndKeepsAnswers(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		retryAfter string
		wantErr    bool // the group's answer is the error (not a failure)
		wantOther  bool // the request moved to the second mirror
	}{
		{"429 with Retry-After moves to the other mirror", http.StatusTooManyRequests, "30", false, true},
		{"503 moves to the other mirror", http.StatusServiceUnavailable, "", false, true},
		{"404 is an answer, not a failure", http.StatusNotFound, "", true, false},
		{"403 is an answer, not a failure", http.StatusForbidden, "", true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			origin := fakeproxy.New(t)
			first, second := fakeproxy.NewMirror(t, origin), fakeproxy.NewMirror(t, origin)
			first.SetHook(func(w http.ResponseWriter, r *http.Request) bool {
				if tt.retryAfter != "" {
					w.Header().Set("Retry-After", tt.retryAfter)
				}
				http.Error(w, fmt.Sprintf("injected %d", tt.status), tt.status)
				return true
			})
			g, err := upstream.NewGroup("g", []string{first.URL, second.URL}, nil, upstream.GroupOptions{ProbeInterval: -1, NoHedge: true})
			if err != nil {
				t.Fatal(err)
			}
			_, _, err = g.Info(t.Context(), "example.com/hello", "v1.0.0")
			if (err != nil) != tt.wantErr {
				t.Fatalf("Info error = %v, want error %v", err, tt.wantErr)
			}
			if got := countTraffic(second) > 0; got != tt.wantOther {
				t.Errorf("second mirror asked: %v, want %v", got, tt.wantOther)
			}
			if tt.retryAfter != "" {
				// The mirror asked for 30s of quiet: the next request
				// goes straight to the other one.
				before := countTraffic(first)
				if _, _, err := g.Info(t.Context(), "example.com/hello", "v1.1.0"); err != nil {
					t.Fatal(err)
				}
				if countTraffic(first) != before {
					t.Errorf("the mirror that sent Retry-After: 30 was asked again at once")
				}
			}
		})
	}
}

// TestGroupEveryMirrorAskedForQuiet: when every mirror has answered with
// Retry-After, requests still go to all of them in turn (the one that asked
// for the shortest quiet first), not always to the first configured one.
func TestGroupEveryMirrorAskedForQuiet(t *testing.T) {
	origin := fakeproxy.New(t)
	broken, recovering := fakeproxy.NewMirror(t, origin), fakeproxy.NewMirror(t, origin)
	busy := func(w http.ResponseWriter) {
		w.Header().Set("Retry-After", "30")
		http.Error(w, "injected: busy", http.StatusServiceUnavailable)
	}
	broken.SetHook(func(w http.ResponseWriter, r *http.Request) bool { busy(w); return true })
	var calls atomic.Int64
	recovering.SetHook(func(w http.ResponseWriter, r *http.Request) bool {
		if calls.Add(1) == 1 {
			busy(w)
			return true
		}
		return false
	})
	g, err := upstream.NewGroup("g", []string{broken.URL, recovering.URL}, nil, upstream.GroupOptions{
		ProbeInterval: -1, NoHedge: true, RetryBackoff: time.Millisecond, MaxRetryAfter: time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := g.Info(t.Context(), "example.com/hello", "v1.0.0"); err == nil {
		t.Fatal("first request succeeded although both mirrors answered 503")
	}
	b, _, err := g.Info(t.Context(), "example.com/hello", "v1.0.0")
	if err != nil {
		t.Fatalf("second request, with both mirrors inside their Retry-After: %v", err)
	}
	if !strings.Contains(string(b), `"v1.0.0"`) {
		t.Errorf("info %q", b)
	}
}
