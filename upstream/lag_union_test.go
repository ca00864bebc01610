package upstream_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/gomirror/gomirror/internal/fakeproxy"
	"github.com/gomirror/gomirror/upstream"
)

// TestUnionNeedsConfirmedVersions: a mirror that adds a version (v1.9.9,
// which the origin never published) gets it served neither in the list
// nor as @latest, the honest mirror is not recorded lagging, and the
// hostile one does not become preferred; with a Confirmer or without one
// (a module it does not cover).
func TestUnionNeedsConfirmedVersions(t *testing.T) {
	for _, tc := range []struct {
		name         string
		exempt       string
		hostileFirst bool // preferred: its own additions are not served either
	}{
		{"checksum database covers the module", "", false},
		{"checksum database covers the module, the hostile mirror preferred", "", true},
		{"module not covered", "example.com/hello", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			origin := fakeproxy.New(t)
			honest, hostile := fakeproxy.NewMirror(t, origin), fakeproxy.NewMirror(t, origin)
			hostile.Inject(fakeproxy.Mutable, func(c *fakeproxy.Call) {
				if strings.HasSuffix(c.R.URL.Path, "/@latest") {
					io.WriteString(c.W, `{"Version":"v1.9.9","Time":"2024-01-02T03:04:05Z"}`)
					return
				}
				io.WriteString(c.W, "v1.0.0\nv1.1.0\nv1.2.0\nv1.9.9\n")
			})
			conf := &originConfirms{origin: origin, exempt: tc.exempt}
			urls := []string{honest.URL, hostile.URL}
			if tc.hostileFirst {
				urls = []string{hostile.URL, honest.URL}
			}
			g := newGroup(t, urls, conf, upstream.GroupOptions{
				Timeout: 10 * time.Second, ProbeInterval: -1, HedgeAfterMin: 10 * time.Second,
				LatencyWeight: 1e-9, // only a lag could move the preference, not the loopback's noise
			})
			b, _, err := g.List(t.Context(), "example.com/hello")
			if err != nil || string(b) != "v1.0.0\nv1.1.0\nv1.2.0\n" {
				t.Errorf("List = %q, %v; want the honest list without v1.9.9", b, err)
			}
			lb, _, err := g.Latest(t.Context(), "example.com/hello")
			if err != nil || !strings.Contains(string(lb), `"v1.2.0"`) {
				t.Errorf("Latest = %q, %v; want v1.2.0, not the hostile mirror's v1.9.9", lb, err)
			}
			if st := statusOf(t, g, honest.URL); st.Lags != 0 || st.LagRate != 0 {
				t.Errorf("honest mirror recorded as lagging behind the hostile one: %+v (last %+v)", st, st.LastLag)
			}
			if st := statusOf(t, g, hostile.URL); st.Preferred != tc.hostileFirst || st.Disagreed != 2 {
				t.Errorf("the hostile mirror: %+v; want not preferred, its 2 unconfirmed answers counted as disagreements", st)
			}
			if got := conf.lookups.Load(); (tc.exempt == "") != (got > 0) {
				t.Errorf("%d lookups of the checksum database; want some only for a module it covers", got)
			}
		})
	}
}

// TestListWaitsLittleForASlowMirror: a far mirror's latency does not
// become every list's: the answer waits for it at most compareWait (the
// fast first answer's latency, at least HedgeAfterMin) after the first.
func TestListWaitsLittleForASlowMirror(t *testing.T) {
	origin := fakeproxy.New(t)
	fast, slow := fakeproxy.NewMirror(t, origin), fakeproxy.NewMirror(t, origin)
	slow.Inject(fakeproxy.Modules, fakeproxy.Slow(400*time.Millisecond))
	g := newGroup(t, []string{fast.URL, slow.URL}, &originConfirms{origin: origin}, upstream.GroupOptions{Timeout: 10 * time.Second, ProbeInterval: -1})
	var last []time.Duration
	for i := range 40 {
		start := time.Now()
		if _, _, err := g.List(t.Context(), "example.com/hello"); err != nil {
			t.Fatal(err)
		}
		if i >= 30 {
			last = append(last, time.Since(start))
		}
	}
	t.Logf("last list latencies: %v; slow status %+v", last, statusOf(t, g, slow.URL))
	slowOnes := 0
	for _, d := range last {
		if d > 300*time.Millisecond {
			slowOnes++
		}
	}
	if slowOnes > 2 {
		t.Errorf("%d of %d lists waited for the 400ms mirror although a fast mirror answered", slowOnes, len(last))
	}
}

// TestOneListOfARefusedModuleDoesNotMovePreference: a module the preferred
// mirror refuses (404) and the other lists, unconfirmed, is no lag; a
// module both refuse is no comparison.
func TestOneListOfARefusedModuleDoesNotMovePreference(t *testing.T) {
	origin := fakeproxy.New(t)
	a, b := fakeproxy.NewMirror(t, origin), fakeproxy.NewMirror(t, origin)
	// a refuses (404) one module, e.g. taken down by its operator's policy.
	a.Inject(fakeproxy.Paths("/example.com/dep/@v/list"), fakeproxy.Status(404, "not found: gone"))
	g := newGroup(t, []string{a.URL, b.URL}, nil, upstream.GroupOptions{
		Timeout: 10 * time.Second, ProbeInterval: -1, HedgeAfterMin: 10 * time.Second,
		LatencyWeight: 1e-9, // only a lag could move the preference, not the loopback's noise
	})
	g.Info(t.Context(), "example.com/hello", "v1.0.0")
	if !statusOf(t, g, a.URL).Preferred {
		t.Fatalf("a not preferred at start")
	}
	g.List(t.Context(), "example.com/dep")
	g.Info(t.Context(), "example.com/hello", "v1.0.0")
	if st := statusOf(t, g, a.URL); !st.Preferred || st.Lags != 0 {
		t.Errorf("one client list of a module a refuses moved the group off a: %+v", g.Status())
	}
	for range 3 {
		if _, _, err := g.List(t.Context(), "example.com/no-such-module"); !upstream.IsNotExist(err) {
			t.Errorf("List of an unknown module: %v, want not found", err)
		}
	}
	if st := statusOf(t, g, a.URL); st.Compared != 0 {
		t.Errorf("lists both mirrors refuse counted as comparisons: %+v", st)
	}
}

// TestCloseStopsBackgroundComparisons: comparisons that outlive their
// requests (a mirror that hangs) end when the group is closed, well before
// their Timeout.
func TestCloseStopsBackgroundComparisons(t *testing.T) {
	origin := fakeproxy.New(t)
	fast, hang := fakeproxy.NewMirror(t, origin), fakeproxy.NewMirror(t, origin)
	hang.Inject(fakeproxy.Modules, fakeproxy.Hang())
	g, err := upstream.NewGroup("m", []string{fast.URL, hang.URL}, nil, upstream.GroupOptions{Timeout: time.Hour, ProbeInterval: -1, HedgeAfterMin: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	for range 8 {
		if _, _, err := g.List(ctx, "example.com/hello"); err != nil {
			t.Fatal(err)
		}
	}
	cancel()
	if n := hang.Injected("/example.com/hello/@v/list"); n == 0 {
		t.Fatalf("the hanging mirror was not asked")
	}
	cctx, ccancel := context.WithTimeout(context.Background(), 20*time.Second) // a bound on failure, not a wait
	defer ccancel()
	if err := g.Close(cctx); err != nil {
		t.Fatalf("Close: %v; the background comparisons outlive the group", err)
	}
	// The group still answers, without comparing in the background.
	if b, _, err := g.List(t.Context(), "example.com/hello"); err != nil || !strings.Contains(string(b), "v1.2.0") {
		t.Errorf("List after Close = %q, %v", b, err)
	}
}

// TestFastLaggingMirrorIsScoredDownInTheBackground: the fast mirror's
// answer is served without waiting for the slow, complete one; the
// comparison finishes in the background, records the lag, and the complete
// mirror is preferred for later requests.
func TestFastLaggingMirrorIsScoredDownInTheBackground(t *testing.T) {
	lagging, full := newLaggingPair(t)
	release := make(chan struct{})
	full.Inject(fakeproxy.Paths("/example.com/hello/@v/list"), func(c *fakeproxy.Call) {
		<-release // answers only once the list was served without it
		r := c.Genuine()
		c.W.WriteHeader(r.Code)
		c.W.Write(r.Body)
	})
	log := lagLog{make(chan string, 4)}
	g := newGroup(t, []string{lagging.URL, full.URL}, &originConfirms{origin: full.Origin()}, upstream.GroupOptions{
		Timeout: 30 * time.Second, ProbeInterval: -1, HedgeAfterMin: time.Millisecond, Logger: slog.New(log),
		LatencyWeight: 1e-9, // the lag alone decides
	})
	b, a, err := g.List(t.Context(), "example.com/hello")
	close(release)
	if err != nil || string(b) != "v1.0.0\n" || a.Upstream != lagging.URL {
		t.Fatalf("List = %q from %s, %v; want the fast lagging mirror's answer, served without waiting", b, a.Upstream, err)
	}
	select {
	case missing := <-log.lags:
		if missing != "v1.2.0 v1.1.0" {
			t.Errorf("the fast mirror lagged by %q, want v1.2.0 v1.1.0", missing)
		}
	case <-time.After(20 * time.Second): // a bound on failure, not a wait
		t.Fatal("the comparison was not finished in the background within 20s")
	}
	// The next request goes first to the complete mirror, now the better
	// scored and preferred one (which of the two answers it may still
	// vary: requests are hedged after HedgeAfterMin).
	if _, _, err := g.Info(t.Context(), "example.com/hello", "v1.0.0"); err != nil {
		t.Fatal(err)
	}
	score := map[string]float64{}
	for _, st := range g.Status() {
		score[st.URL] = st.Score
		if st.URL == full.URL && !st.Preferred {
			t.Errorf("after the lag the complete mirror is not preferred: %+v", g.Status())
		}
	}
	if score[full.URL] >= score[lagging.URL] {
		t.Errorf("scores after the lag: complete %v, lagging %v; want the lagging one worse", score[full.URL], score[lagging.URL])
	}
}
