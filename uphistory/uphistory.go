// Package uphistory keeps the recent history of each upstream for the
// console's Upstreams page and GET /api/v1/upstreams: requests, failures,
// error rate and latency percentiles per interval (a minute by default),
// and for the mirrors of a group their score, error-rate average and
// breaker state as the group saw them, with the last error (redacted).
//
// The history is in memory and per replica: each gomirror process keeps
// what its own fetches saw, for the last Options.Keep (24 h by default),
// and starts empty. Memory is bounded: at most Options.MaxUpstreams
// upstreams (names come from the configuration, not from clients), each a
// ring of Keep/Interval points of fixed size and one latency histogram of
// fixed size for the interval under way.
package uphistory

import (
	"context"
	"errors"
	"io/fs"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/gomirror/gomirror/internal/redact"
	"github.com/gomirror/gomirror/upstream"
)

// Options configure a History. Zero fields take their defaults.
type Options struct {
	// Interval is the time one point covers (default a minute).
	Interval time.Duration
	// Keep is how far back points are kept (default 24 h).
	Keep time.Duration
	// MaxUpstreams bounds the upstreams followed (default 64); fetches from
	// others are not recorded.
	MaxUpstreams int
	// Mirrors returns the state of every group mirror, sampled once per
	// interval; nil without groups.
	Mirrors func() []upstream.MirrorStatus
}

// Point is one interval of one upstream.
type Point struct {
	// Time is the start of the interval.
	Time      time.Time `json:"time"`
	Requests  uint64    `json:"requests"`
	Failures  uint64    `json:"failures"`
	ErrorRate float64   `json:"error_rate"` // failures / requests in the interval; 0 without requests
	// P50 and P95 are latency percentiles of the interval's fetches, in
	// seconds, approximate (the upper bound of a histogram bucket, each
	// bucket 25 % wider than the one before); 0 without requests.
	P50 float64 `json:"p50_seconds"`
	P95 float64 `json:"p95_seconds"`
	// Of a group mirror, as its group saw it at the end of the interval:
	// its score (lower is better), error-rate average, breaker state.
	Score        *float64 `json:"score,omitempty"`
	GroupErrRate *float64 `json:"group_error_rate,omitempty"`
	Breaker      string   `json:"breaker,omitempty"`
}

// Upstream is one upstream's state and history.
type Upstream struct {
	// Name is the upstream's URL (credentials removed) or "direct".
	Name string `json:"name"`
	// Group is the group a mirror belongs to; "" for a chain element.
	Group string `json:"group,omitempty"`
	// Breaker, Score, P50, P95 and ErrorRate are a group mirror's now.
	Breaker   string   `json:"breaker,omitempty"`
	Score     *float64 `json:"score,omitempty"`
	Requests  uint64   `json:"requests"` // since the process started
	Failures  uint64   `json:"failures"`
	LastError string   `json:"last_error,omitempty"` // redacted
	// LastErrorAt is when LastError happened.
	LastErrorAt time.Time `json:"last_error_at,omitzero"`
	// Points are the history, oldest first: one per interval in which the
	// upstream was fetched from or sampled.
	Points []Point `json:"points"`
}

// History is the recent history of every upstream. Its methods are safe
// for concurrent use.
type History struct {
	opts Options
	mu   sync.Mutex
	ups  map[string]*series // by redacted name
}

// series is one upstream's history.
type series struct {
	name, group        string
	breaker            string
	score              *float64
	requests, failures uint64
	lastErr            string
	lastErrAt          time.Time

	cur   Point // the interval under way (Time zero: none)
	hist  [nBuckets]uint32
	ring  []Point // capacity Keep/Interval
	start int     // index of the oldest point in ring
}

// Latency histogram: bucket i holds latencies up to bucketBound(i).
const (
	nBuckets = 64
	firstMax = time.Millisecond
	growth   = 1.25
)

func bucketBound(i int) time.Duration {
	return time.Duration(float64(firstMax) * math.Pow(growth, float64(i)))
}

func bucketOf(d time.Duration) int {
	if d <= firstMax {
		return 0
	}
	i := int(math.Ceil(math.Log(float64(d)/float64(firstMax)) / math.Log(growth)))
	return min(i, nBuckets-1)
}

// New returns an empty History.
func New(opts Options) *History {
	if opts.Interval <= 0 {
		opts.Interval = time.Minute
	}
	if opts.Keep <= 0 {
		opts.Keep = 24 * time.Hour
	}
	if opts.MaxUpstreams <= 0 {
		opts.MaxUpstreams = 64
	}
	return &History{opts: opts, ups: map[string]*series{}}
}

// capacity is the number of points a ring keeps.
func (h *History) capacity() int { return max(1, int(h.opts.Keep/h.opts.Interval)) }

// get returns the series of name (redacted), creating it if there is room;
// h.mu is held.
func (h *History) get(name string) *series {
	s := h.ups[name]
	if s == nil {
		if len(h.ups) >= h.opts.MaxUpstreams {
			return nil
		}
		s = &series{name: name}
		h.ups[name] = s
	}
	return s
}

// Observe records one fetch from the upstream named name that took d and
// ended with err, at now. "Not found" is an answer, not a failure.
func (h *History) Observe(name string, d time.Duration, err error, now time.Time) {
	name = redact.List(name)
	failed := err != nil && !errors.Is(err, fs.ErrNotExist)
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.get(name)
	if s == nil {
		return
	}
	h.roll(s, now)
	s.requests++
	s.cur.Requests++
	if failed {
		s.failures++
		s.cur.Failures++
		s.lastErr, s.lastErrAt = redact.Text(err.Error()), now
	}
	s.hist[bucketOf(d)]++
}

// roll closes s's interval under way if now is past it, and starts the
// one now is in; h.mu is held.
func (h *History) roll(s *series, now time.Time) {
	t := now.Truncate(h.opts.Interval)
	if s.cur.Time.Equal(t) {
		return
	}
	if !s.cur.Time.IsZero() {
		h.close(s)
	}
	s.cur = Point{Time: t}
	s.hist = [nBuckets]uint32{}
}

// current returns s's interval under way with its rates and
// percentiles; h.mu is held.
func (s *series) current() Point {
	p := s.cur
	if p.Requests > 0 {
		p.ErrorRate = float64(p.Failures) / float64(p.Requests)
		p.P50 = percentile(&s.hist, p.Requests, 0.5).Seconds()
		p.P95 = percentile(&s.hist, p.Requests, 0.95).Seconds()
	}
	return p
}

// close appends s's interval under way to its ring, if anything happened
// in it; h.mu is held.
func (h *History) close(s *series) {
	p := s.current()
	if p.Requests == 0 && p.Score == nil {
		return
	}
	if c := h.capacity(); len(s.ring) < c {
		s.ring = append(s.ring, p)
	} else {
		s.ring[s.start] = p
		s.start = (s.start + 1) % c
	}
}

// percentile returns the upper bound of the bucket holding the q-th
// quantile of n latencies.
func percentile(hist *[nBuckets]uint32, n uint64, q float64) time.Duration {
	rank := uint64(math.Ceil(q * float64(n)))
	var seen uint64
	for i, c := range hist {
		seen += uint64(c)
		if seen >= rank && c > 0 {
			return bucketBound(i)
		}
	}
	return bucketBound(nBuckets - 1)
}

// Sample records the state of every group mirror (Options.Mirrors) at
// now into its interval under way. Run calls it once per interval.
func (h *History) Sample(now time.Time) {
	var mirrors []upstream.MirrorStatus
	if h.opts.Mirrors != nil {
		mirrors = h.opts.Mirrors()
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, m := range mirrors {
		s := h.get(redact.URL(m.URL))
		if s == nil {
			continue
		}
		h.roll(s, now)
		score, rate := m.Score, m.ErrorRate
		s.group, s.breaker, s.score = m.Group, m.Breaker, &score
		s.cur.Score, s.cur.GroupErrRate, s.cur.Breaker = &score, &rate, m.Breaker
		if m.LastError != "" && m.LastErrorAt.After(s.lastErrAt) {
			s.lastErr, s.lastErrAt = redact.Text(m.LastError), m.LastErrorAt
		}
	}
}

// Run samples the group mirrors once per interval until ctx ends.
func (h *History) Run(ctx context.Context) {
	t := time.NewTicker(h.opts.Interval)
	defer t.Stop()
	h.Sample(time.Now())
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			h.Sample(now)
		}
	}
}

// Upstreams returns every upstream's state and its history at now, by
// name: the points of the last Keep, the interval under way last.
func (h *History) Upstreams(now time.Time) []Upstream {
	h.mu.Lock()
	defer h.mu.Unlock()
	from := now.Add(-h.opts.Keep)
	out := make([]Upstream, 0, len(h.ups))
	for _, s := range h.ups {
		h.roll(s, now) // an idle upstream's last interval is closed
		u := Upstream{Name: s.name, Group: s.group, Breaker: s.breaker, Score: s.score,
			Requests: s.requests, Failures: s.failures, LastError: s.lastErr, LastErrorAt: s.lastErrAt,
			Points: make([]Point, 0, len(s.ring)+1)}
		for i := range s.ring {
			p := s.ring[(s.start+i)%len(s.ring)]
			if p.Time.After(from) && (p.Requests > 0 || p.Score != nil) {
				u.Points = append(u.Points, p)
			}
		}
		if p := s.current(); p.Requests > 0 || p.Score != nil {
			u.Points = append(u.Points, p)
		}
		out = append(out, u)
	}
	slices.SortFunc(out, func(a, b Upstream) int {
		if a.Group != b.Group {
			if a.Group < b.Group {
				return -1
			}
			return 1
		}
		if a.Name < b.Name {
			return -1
		}
		if a.Name > b.Name {
			return 1
		}
		return 0
	})
	return out
}
