package uphistory

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"testing"
	"time"

	"github.com/gomirror/gomirror/upstream"
)

var t0 = time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)

func TestObserveAndSample(t *testing.T) {
	var mirrors []upstream.MirrorStatus
	h := New(Options{Mirrors: func() []upstream.MirrorStatus { return mirrors }})
	up := "https://user:hunter2@proxy.example/"
	// Minute 0: 20 fetches, 18 of 10 ms, 2 of 2 s; 2 failures (one with
	// the credential in its text), and a "not found", which is an answer.
	for i := range 20 {
		d := 10 * time.Millisecond
		if i >= 18 {
			d = 2 * time.Second
		}
		var err error
		switch i {
		case 5:
			err = errors.New(`Get "https://user:hunter2@proxy.example/x/@v/list": connection refused`)
		case 6:
			err = errors.New("timeout")
		case 7:
			err = fmt.Errorf("gone: %w", fs.ErrNotExist)
		}
		h.Observe(up, d, err, t0.Add(time.Duration(i)*time.Second))
	}
	mirrors = []upstream.MirrorStatus{{Group: "g", URL: "https://m1.example/", Score: 0.25, ErrorRate: 0.1, Breaker: "open",
		LastError: "Get https://tok:secret@m1.example/: 502", LastErrorAt: t0}}
	h.Sample(t0.Add(30 * time.Second))
	// Minute 1: one fetch; minute 3: the mirror again.
	h.Observe(up, 100*time.Millisecond, nil, t0.Add(70*time.Second))
	mirrors[0].Breaker, mirrors[0].Score = "closed", 0.5
	h.Sample(t0.Add(3 * time.Minute))

	got := h.Upstreams(t0.Add(3*time.Minute + time.Second))
	if len(got) != 2 {
		t.Fatalf("%d upstreams, want 2: %+v", len(got), got)
	}
	chain, mirror := got[0], got[1] // chain elements (no group) first
	if chain.Name != "https://proxy.example/" || chain.Requests != 21 || chain.Failures != 2 || len(chain.Points) != 2 {
		t.Fatalf("chain element: %+v", chain)
	}
	p := chain.Points[0]
	if p.Requests != 20 || p.Failures != 2 || p.ErrorRate != 0.1 || !p.Time.Equal(t0) {
		t.Errorf("minute 0: %+v", p)
	}
	// 10 ms is in the bucket bounded by 1ms*1.25^11 (11.6 ms); 2 s by 1.25^35 (2.47 s).
	if p.P50 < 0.010 || p.P50 > 0.0125 || p.P95 < 2 || p.P95 > 2.5 {
		t.Errorf("minute 0: p50 %v p95 %v, want about 10 ms and 2 s", p.P50, p.P95)
	}
	if chain.Points[1].Requests != 1 || !chain.Points[1].Time.Equal(t0.Add(time.Minute)) {
		t.Errorf("minute 1: %+v", chain.Points[1])
	}
	if mirror.Group != "g" || mirror.Breaker != "closed" || *mirror.Score != 0.5 || len(mirror.Points) != 2 ||
		mirror.Points[0].Breaker != "open" || *mirror.Points[0].Score != 0.25 || *mirror.Points[0].GroupErrRate != 0.1 {
		t.Errorf("mirror: %+v", mirror)
	}
	for _, u := range got {
		if s := fmt.Sprintf("%+v", u); strings.Contains(s, "hunter2") || strings.Contains(s, "secret") {
			t.Errorf("a credential is shown: %s", s)
		}
	}
	if !strings.Contains(chain.LastError, "connection refused") && !strings.Contains(chain.LastError, "timeout") {
		t.Errorf("last error %q", chain.LastError)
	}
}

// TestBounded: the ring keeps Keep/Interval points, and upstreams beyond
// MaxUpstreams are not followed.
func TestBounded(t *testing.T) {
	h := New(Options{Keep: 5 * time.Minute, MaxUpstreams: 3})
	for i := range 100 {
		h.Observe("direct", time.Millisecond, nil, t0.Add(time.Duration(i)*time.Minute))
	}
	for i := range 10 {
		h.Observe(fmt.Sprintf("https://p%d.example/", i), time.Millisecond, nil, t0)
	}
	got := h.Upstreams(t0.Add(99*time.Minute + time.Second))
	if len(got) != 3 {
		t.Errorf("%d upstreams, want 3", len(got))
	}
	for _, u := range got {
		if u.Name != "direct" {
			continue
		}
		if s := h.ups["direct"]; len(s.ring) != 5 {
			t.Errorf("ring of %d points, want 5", len(s.ring))
		}
		// The last 5 minutes: 95..98 closed, 99 under way; 94 is 5 minutes old.
		if len(u.Points) != 5 || !u.Points[0].Time.Equal(t0.Add(95*time.Minute)) || !u.Points[4].Time.Equal(t0.Add(99*time.Minute)) {
			t.Errorf("points %v .. %v (%d)", u.Points[0].Time, u.Points[len(u.Points)-1].Time, len(u.Points))
		}
	}
}

func TestBuckets(t *testing.T) {
	for _, d := range []time.Duration{0, time.Millisecond, 1500 * time.Microsecond, time.Second, time.Hour} {
		i := bucketOf(d)
		if bucketBound(i) < d && i != nBuckets-1 {
			t.Errorf("%v in bucket %d bounded by %v", d, i, bucketBound(i))
		}
		if i > 0 && bucketBound(i-1) >= d {
			t.Errorf("%v in bucket %d, but bucket %d (%v) holds it", d, i, i-1, bucketBound(i-1))
		}
	}
}
