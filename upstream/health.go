package upstream

import (
	"slices"
	"sync"
	"time"
)

// BreakerState is the state of a mirror's circuit breaker.
type BreakerState int

const (
	// BreakerClosed: requests flow.
	BreakerClosed BreakerState = iota
	// BreakerHalfOpen: the cool-down is over; one trial request (or probe)
	// decides whether the breaker closes or opens again.
	BreakerHalfOpen
	// BreakerOpen: the mirror failed repeatedly and gets no requests until
	// its cool-down ends.
	BreakerOpen
)

func (s BreakerState) String() string {
	switch s {
	case BreakerHalfOpen:
		return "half-open"
	case BreakerOpen:
		return "open"
	}
	return "closed"
}

// latencyWindow is how many recent latencies the percentiles are taken over.
const latencyWindow = 64

// ewmaAlpha weights the newest sample in the latency and error averages.
const ewmaAlpha = 0.2

// health is what a Group knows about one mirror, from live traffic and
// probes. Its methods are safe for concurrent use.
type health struct {
	mu         sync.Mutex
	ewma       time.Duration // latency of successful answers
	lat        [latencyWindow]time.Duration
	nLat       int     // samples in lat (up to latencyWindow)
	next       int     // where the next sample goes
	errRate    float64 // EWMA of failures (1) and successes (0)
	consecFail int
	state      BreakerState
	openedAt   time.Time
	trial      bool      // a half-open trial is in flight
	notBefore  time.Time // the mirror asked (Retry-After) for no requests until then
	lastErr    string
	lastErrAt  time.Time
	lastUsed   time.Time
	requests   uint64
	failures   uint64
}

// success records an answer (including "not found") that took d.
func (h *health) success(d time.Duration, now time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.addLatency(d)
	h.errRate *= 1 - ewmaAlpha
	h.consecFail = 0
	h.requests++
	h.lastUsed = now
	if h.state != BreakerClosed {
		h.state, h.trial = BreakerClosed, false
	}
}

// failure records a failed attempt and opens the breaker after threshold
// consecutive failures (or at once if a half-open trial failed). A positive
// retryAfter keeps requests away from the mirror for that long.
func (h *health) failure(err error, now time.Time, threshold int, retryAfter time.Duration) (opened bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if retryAfter > 0 {
		h.notBefore = now.Add(retryAfter)
	}
	h.errRate = h.errRate*(1-ewmaAlpha) + ewmaAlpha
	h.consecFail++
	h.requests++
	h.failures++
	h.lastUsed = now
	h.lastErr, h.lastErrAt = err.Error(), now
	if h.state == BreakerHalfOpen || (h.state == BreakerClosed && h.consecFail >= threshold) {
		h.state, h.openedAt, h.trial = BreakerOpen, now, false
		return true
	}
	return false
}

// slow records that an attempt was abandoned (another mirror answered
// first) after d: its latency was at least d.
func (h *health) slow(d time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.addLatency(d)
	if h.state == BreakerHalfOpen {
		h.trial = false // the trial proved nothing; allow another
	}
}

func (h *health) addLatency(d time.Duration) {
	if h.nLat == 0 && h.ewma == 0 {
		h.ewma = d
	} else {
		h.ewma = time.Duration(float64(h.ewma)*(1-ewmaAlpha) + float64(d)*ewmaAlpha)
	}
	h.lat[h.next] = d
	h.next = (h.next + 1) % latencyWindow
	h.nLat = min(h.nLat+1, latencyWindow)
}

// percentile returns the q-quantile (0..1) of the recent latencies, or 0
// with no samples. h.mu must be held.
func (h *health) percentile(q float64) time.Duration {
	if h.nLat == 0 {
		return 0
	}
	s := slices.Clone(h.lat[:h.nLat])
	slices.Sort(s)
	i := int(q*float64(len(s))+0.5) - 1
	return s[max(0, min(i, len(s)-1))]
}

// admit reports whether the mirror may take a request now, moving an open
// breaker whose cool-down is over to half-open and claiming its one trial.
func (h *health) admit(now time.Time, cooldown time.Duration) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if now.Before(h.notBefore) {
		return false
	}
	switch h.state {
	case BreakerOpen:
		if now.Sub(h.openedAt) < cooldown {
			return false
		}
		h.state = BreakerHalfOpen
		fallthrough
	case BreakerHalfOpen:
		if h.trial {
			return false
		}
		h.trial = true
	}
	return true
}

// availableAt is when the mirror will next take requests: after its
// Retry-After and, if its breaker is open, its cool-down.
func (h *health) availableAt(cooldown time.Duration) time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	t := h.notBefore
	if h.state == BreakerOpen {
		if end := h.openedAt.Add(cooldown); end.After(t) {
			t = end
		}
	}
	return t
}

// release gives back a half-open trial that was claimed but not used.
func (h *health) release() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.state == BreakerHalfOpen {
		h.trial = false
	}
}

// idleSince reports whether the mirror has had no traffic since t.
func (h *health) idleSince(t time.Time) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.lastUsed.Before(t)
}

// cost is the mirror's score: lower is better. It is in seconds: the
// latency term (a blend of the EWMA and p95) times latencyWeight, plus the
// recent error rate times errorWeight.
func (h *health) cost(latencyWeight, errorWeight float64) float64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.costLocked(latencyWeight, errorWeight)
}

func (h *health) costLocked(latencyWeight, errorWeight float64) float64 {
	lat := (h.ewma.Seconds() + h.percentile(0.95).Seconds()) / 2
	return latencyWeight*lat + errorWeight*h.errRate
}

// p90 is the latency after which a request to this mirror is hedged; 0 if
// there are too few samples to say.
func (h *health) p90() time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.nLat < 10 {
		return 0
	}
	return h.percentile(0.9)
}

// MirrorStatus is a snapshot of one mirror of a group, for /upstreams and
// metrics.
type MirrorStatus struct {
	Group       string    `json:"group"`
	URL         string    `json:"url"`
	Preferred   bool      `json:"preferred"`
	Score       float64   `json:"score"` // lower is better; see GroupOptions
	P50         float64   `json:"p50_seconds"`
	P95         float64   `json:"p95_seconds"`
	EWMA        float64   `json:"ewma_seconds"`
	ErrorRate   float64   `json:"error_rate"`
	Breaker     string    `json:"breaker"`
	Requests    uint64    `json:"requests"`
	Failures    uint64    `json:"failures"`
	LastError   string    `json:"last_error,omitempty"`
	LastErrorAt time.Time `json:"last_error_at,omitzero"`
}

func (h *health) status(latencyWeight, errorWeight float64) MirrorStatus {
	h.mu.Lock()
	defer h.mu.Unlock()
	return MirrorStatus{
		Score:       h.costLocked(latencyWeight, errorWeight),
		P50:         h.percentile(0.5).Seconds(),
		P95:         h.percentile(0.95).Seconds(),
		EWMA:        h.ewma.Seconds(),
		ErrorRate:   h.errRate,
		Breaker:     h.state.String(),
		Requests:    h.requests,
		Failures:    h.failures,
		LastError:   h.lastErr,
		LastErrorAt: h.lastErrAt,
	}
}
