package upstream_test

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gomirror/gomirror/internal/fakeproxy"
	"github.com/gomirror/gomirror/upstream"
)

// newLaggingPair returns two mirrors of one origin: lagging, whose list
// and @latest of example.com/hello lack v1.1.0 and v1.2.0 (it has only
// v1.0.0), and full.
func newLaggingPair(t *testing.T) (lagging, full *fakeproxy.Server) {
	origin := fakeproxy.New(t)
	lagging, full = fakeproxy.NewMirror(t, origin), fakeproxy.NewMirror(t, origin)
	lagging.Inject(fakeproxy.Mutable, fakeproxy.Lag(func(path, version string) bool {
		return path == "example.com/hello" && version != "v1.0.0"
	}))
	return lagging, full
}

// newGroup is upstream.NewGroup that fails the test on an error and closes
// the group at its end.
func newGroup(t *testing.T, urls []string, conf upstream.Confirmer, opts upstream.GroupOptions) *upstream.Group {
	t.Helper()
	g, err := upstream.NewGroup("mirrors", urls, nil, opts)
	if err != nil {
		t.Fatal(err)
	}
	if conf != nil {
		g.SetConfirmer(conf)
	}
	t.Cleanup(func() { g.Close(context.Background()) })
	return g
}

// originConfirms is a Confirmer standing in for the checksum database: it
// confirms the versions the origin published, and counts its lookups.
type originConfirms struct {
	origin  *fakeproxy.Server
	exempt  string // a path it does not cover
	lookups atomic.Int64
}

var _ upstream.Confirmer = (*originConfirms)(nil)

func (c *originConfirms) Exempt(path string) bool { return path == c.exempt }

func (c *originConfirms) Lookup(ctx context.Context, path, version string) ([]string, error) {
	c.lookups.Add(1)
	if c.origin.Module(path, version) == nil {
		return nil, fmt.Errorf("%s@%s: %w", path, version, fs.ErrNotExist)
	}
	return []string{path + " " + version + " h1:..."}, nil
}

// syncBuffer is a bytes.Buffer safe for concurrent writes: a log.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func statusOf(t *testing.T, g *upstream.Group, url string) upstream.MirrorStatus {
	t.Helper()
	for _, s := range g.Status() {
		if s.URL == url {
			return s
		}
	}
	t.Fatalf("no status for %s", url)
	return upstream.MirrorStatus{}
}

func TestGroupLagServesTheUnionRecordsAndScoresDown(t *testing.T) {
	lagging, full := newLaggingPair(t)
	var log syncBuffer
	var mu sync.Mutex
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	g := newGroup(t, []string{lagging.URL, full.URL}, &originConfirms{origin: full.Origin()}, upstream.GroupOptions{
		Timeout:       10 * time.Second,
		ProbeInterval: -1,
		// Wait for both answers however the machine's load spreads them.
		HedgeAfterMin: 10 * time.Second,
		Logger:        slog.New(slog.NewJSONHandler(&log, nil)),
		Now:           clock,
	})
	ctx := t.Context()
	// The lagging mirror is first in the configuration: preferred.
	b, a, err := g.List(ctx, "example.com/hello")
	if err != nil || string(b) != "v1.0.0\nv1.1.0\nv1.2.0\n" {
		t.Fatalf("List = %q, %v; want the union v1.0.0 v1.1.0 v1.2.0", b, err)
	}
	if a.Upstream != full.URL {
		t.Errorf("the union is named as answered by %s, want the full mirror %s", a.Upstream, full.URL)
	}
	if lagging.Hits("/example.com/hello/@v/list") != 1 || full.Hits("/example.com/hello/@v/list") != 1 {
		t.Errorf("list requests: lagging %d, full %d; want one each", lagging.Hits("/example.com/hello/@v/list"), full.Hits("/example.com/hello/@v/list"))
	}
	st := statusOf(t, g, lagging.URL)
	if st.Lags != 1 || st.Compared != 1 || st.LastLag == nil ||
		!slices.Equal(st.LastLag.Missing, []string{"v1.2.0", "v1.1.0"}) || st.LastLag.Module != "example.com/hello" ||
		st.LastLag.Peer != full.URL || st.LastLag.Op != "list" || !st.LastLag.At.Equal(now) {
		t.Errorf("the lagging mirror's status: %+v, last lag %+v", st, st.LastLag)
	}
	if fs := statusOf(t, g, full.URL); fs.Lags != 0 || fs.Compared != 1 || fs.LastLag != nil {
		t.Errorf("the full mirror's status: %+v", fs)
	}
	for _, want := range []string{`"msg":"upstream mirror lags behind its group"`, `"module":"example.com/hello"`,
		`"mirror":"` + lagging.URL + `"`, `"missing":"v1.2.0 v1.1.0"`, `"missing_count":2`, `"capped":false`} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("log lacks %s:\n%s", want, log.String())
		}
	}

	// @latest: the lagging mirror names v1.0.0, the full one v1.2.0.
	b, _, err = g.Latest(ctx, "example.com/hello")
	if err != nil || !strings.Contains(string(b), `"v1.2.0"`) {
		t.Errorf("Latest = %q, %v; want v1.2.0", b, err)
	}
	if st := statusOf(t, g, lagging.URL); st.Lags != 2 || st.LastLag.Op != "latest" || !slices.Equal(st.LastLag.Missing, []string{"v1.2.0"}) {
		t.Errorf("after @latest, the lagging mirror's status: %+v, last lag %+v", st, st.LastLag)
	}

	// Scored down: the full mirror is now preferred and answers first.
	ls, fs := statusOf(t, g, lagging.URL), statusOf(t, g, full.URL)
	if ls.Score < fs.Score+0.2 || ls.LagRate < 0.3 {
		t.Errorf("scores: lagging %v (lag rate %v), full %v; want the lagging one at least 0.2 worse", ls.Score, ls.LagRate, fs.Score)
	}
	if _, a, err := g.Info(ctx, "example.com/hello", "v1.0.0"); err != nil || a.Upstream != full.URL {
		t.Errorf("Info answered by %s (%v), want the full mirror %s", a.Upstream, err, full.URL)
	}
	if !statusOf(t, g, full.URL).Preferred {
		t.Errorf("the full mirror is not preferred: %+v", g.Status())
	}

	// It catches up: comparisons find it complete, and with time its
	// lag rate fades.
	lagging.Heal()
	for range 3 {
		if b, _, err := g.List(ctx, "example.com/hello"); err != nil || string(b) != "v1.0.0\nv1.1.0\nv1.2.0\n" {
			t.Fatalf("List = %q, %v", b, err)
		}
	}
	if st := statusOf(t, g, lagging.URL); st.Lags != 2 || st.Compared != 5 || st.LagRate > ls.LagRate*0.6 {
		t.Errorf("after catching up, the mirror's status: %+v (lag rate before %v)", st, ls.LagRate)
	}
	mu.Lock()
	now = now.Add(2 * time.Hour)
	mu.Unlock()
	if st := statusOf(t, g, lagging.URL); st.LagRate > 0.001 || st.Score > 0.01 {
		t.Errorf("two hours later, the mirror's lag rate %v and score %v; want them back near 0", st.LagRate, st.Score)
	}
}

func TestGroupLagDownMirrorDoesNotDelayTheList(t *testing.T) {
	for _, tc := range []struct {
		name   string
		break_ func(s *fakeproxy.Server)
	}{
		{"hangs", func(s *fakeproxy.Server) { s.Inject(fakeproxy.Modules, fakeproxy.Hang()) }},
		{"refuses connections", func(s *fakeproxy.Server) { s.Close() }},
		{"fails", func(s *fakeproxy.Server) { s.Inject(fakeproxy.Modules, fakeproxy.Status(502, "injected")) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			origin := fakeproxy.New(t)
			down, full := fakeproxy.NewMirror(t, origin), fakeproxy.NewMirror(t, origin)
			tc.break_(down)
			const timeout = 30 * time.Second
			g, err := upstream.NewGroup("mirrors", []string{down.URL, full.URL}, nil, upstream.GroupOptions{
				Timeout: timeout, ProbeInterval: -1, RetryBackoff: time.Millisecond,
			})
			if err != nil {
				t.Fatal(err)
			}
			for _, op := range []string{"list", "latest"} {
				start := time.Now()
				var b []byte
				if op == "list" {
					b, _, err = g.List(t.Context(), "example.com/hello")
				} else {
					b, _, err = g.Latest(t.Context(), "example.com/hello")
				}
				elapsed := time.Since(start)
				if err != nil || !strings.Contains(string(b), "v1.2.0") {
					t.Errorf("%s = %q, %v", op, b, err)
				}
				// The bound is the hedge delay (50ms here), far below the
				// timeout a wait for the down mirror would take.
				if elapsed > timeout/6 {
					t.Errorf("%s took %v with a mirror that %s; want far less than the %v timeout", op, elapsed, tc.name, timeout)
				}
			}
			if st := statusOf(t, g, down.URL); st.Lags != 0 {
				t.Errorf("a down mirror counted as lagging: %+v", st)
			}
		})
	}
}

// lagLog is a slog.Handler that sends each "lags behind" record's missing
// versions on a channel.
type lagLog struct{ lags chan string }

func (h lagLog) Enabled(context.Context, slog.Level) bool { return true }
func (h lagLog) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h lagLog) WithGroup(string) slog.Handler            { return h }
func (h lagLog) Handle(_ context.Context, r slog.Record) error {
	if r.Message == "upstream mirror lags behind its group" {
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "missing" {
				h.lags <- a.Value.String()
			}
			return true
		})
	}
	return nil
}

func TestGroupLagLateAnswerIsComparedInTheBackground(t *testing.T) {
	origin := fakeproxy.New(t)
	full, lagging := fakeproxy.NewMirror(t, origin), fakeproxy.NewMirror(t, origin)
	release := make(chan struct{})
	lag := fakeproxy.Lag(func(path, version string) bool { return version != "v1.0.0" })
	lagging.Inject(fakeproxy.Mutable, func(c *fakeproxy.Call) {
		<-release // answers only once the list was served without it
		lag(c)
	})
	log := lagLog{make(chan string, 4)}
	g := newGroup(t, []string{full.URL, lagging.URL}, &originConfirms{origin: origin}, upstream.GroupOptions{
		Timeout: 30 * time.Second, ProbeInterval: -1, HedgeAfterMin: time.Millisecond, Logger: slog.New(log),
	})
	b, a, err := g.List(t.Context(), "example.com/hello")
	close(release)
	if err != nil || string(b) != "v1.0.0\nv1.1.0\nv1.2.0\n" || a.Upstream != full.URL {
		t.Fatalf("List = %q from %s, %v; want the full mirror's answer without waiting for the other", b, a.Upstream, err)
	}
	select {
	case missing := <-log.lags:
		if missing != "v1.2.0 v1.1.0" {
			t.Errorf("the late answer lagged by %q, want v1.2.0 v1.1.0", missing)
		}
	case <-time.After(20 * time.Second): // a bound on failure, not a wait
		t.Fatal("the late answer was not compared within 20s")
	}
	if st := statusOf(t, g, lagging.URL); st.Lags != 1 || st.LastLag == nil {
		t.Errorf("the late lagging mirror's status: %+v", st)
	}
}

func TestGroupLagBothComparedMirrorsFailingRetriesTheNext(t *testing.T) {
	origin := fakeproxy.New(t)
	bad1, bad2, good := fakeproxy.NewMirror(t, origin), fakeproxy.NewMirror(t, origin), fakeproxy.NewMirror(t, origin)
	bad1.Inject(fakeproxy.Modules, fakeproxy.Status(502, "injected"))
	bad2.Inject(fakeproxy.Modules, fakeproxy.Status(503, "injected"))
	g, err := upstream.NewGroup("mirrors", []string{bad1.URL, bad2.URL, good.URL}, nil, upstream.GroupOptions{
		Timeout: 10 * time.Second, ProbeInterval: -1, RetryBackoff: time.Millisecond,
		NoHedge: true, // the retry asks the third mirror alone
	})
	if err != nil {
		t.Fatal(err)
	}
	b, a, err := g.List(t.Context(), "example.com/hello")
	if err != nil || string(b) != "v1.0.0\nv1.1.0\nv1.2.0\n" || a.Upstream != good.URL {
		t.Fatalf("List = %q from %s, %v; want the third mirror's answer", b, a.Upstream, err)
	}
	if bad1.Injected("/example.com/hello/@v/list") != 1 || bad2.Injected("/example.com/hello/@v/list") != 1 {
		t.Errorf("the failing mirrors were asked %d and %d times, want once each", bad1.Injected("/example.com/hello/@v/list"), bad2.Injected("/example.com/hello/@v/list"))
	}
	// Every mirror failing: the error, after the retries.
	good.Inject(fakeproxy.Modules, fakeproxy.Status(502, "injected"))
	if _, _, err := g.Latest(t.Context(), "example.com/hello"); err == nil || upstream.IsNotExist(err) {
		t.Errorf("Latest with every mirror failing: %v, want a failure", err)
	}
}
