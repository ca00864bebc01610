package upstream

import (
	"math"
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
	// Lag: how often the mirror's list and @latest answers lacked versions
	// a peer had (see lagged).
	lagRate  float64   // EWMA of comparisons: lagged 1, complete 0
	lagAt    time.Time // when lagRate was last set; it decays from then
	lags     uint64    // comparisons the mirror lagged in (counted ones)
	compared uint64    // comparisons the mirror took part in
	lastLag  *LagEvent
	// lagCounted is when each op and module (LagEvent.Op+" "+Module) last
	// counted as a lag: once per half-life (lagged), at most
	// maxLagModules of them.
	lagCounted    map[string]time.Time
	disagreements uint64 // comparisons where it listed versions not confirmed (disagreement)
}

// maxLagModules bounds the modules a mirror's health remembers as
// counted lags (health.lagCounted).
const maxLagModules = 4096

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

// lagged records a comparison of the mirror's list or @latest answer with
// a peer's (Group.compare). A mirror that lacked versions (e is not nil)
// moves its lag rate towards 1, one that had them all towards 0, like the
// error rate; between comparisons the rate halves every halfLife. So a
// mirror that keeps lagging is scored down (see weights), one lag alone
// costs little, and a mirror recovers both as it is found complete again
// and as time passes without new lags, even when its worse score keeps it
// out of comparisons. A lag of an op and module that counted less than
// halfLife ago is only noted as the last lag: it counts (and lagged
// reports true) once per halfLife, so that clients asking again and again
// for one module do not move the score.
func (h *health) lagged(e *LagEvent, now time.Time, halfLife time.Duration) (counted bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if e != nil {
		h.lastLag = e
		key := e.Op + " " + e.Module
		if at, ok := h.lagCounted[key]; ok && now.Sub(at) < halfLife {
			return false
		}
		if h.lagCounted == nil {
			h.lagCounted = map[string]time.Time{}
		}
		if len(h.lagCounted) >= maxLagModules {
			for k, at := range h.lagCounted {
				if now.Sub(at) >= halfLife {
					delete(h.lagCounted, k)
				}
			}
			if len(h.lagCounted) >= maxLagModules {
				clear(h.lagCounted) // all recent: forget them rather than grow
			}
		}
		h.lagCounted[key] = now
	}
	r := h.lagRateLocked(now, halfLife) * (1 - ewmaAlpha)
	if e != nil {
		r += ewmaAlpha
		h.lags++
	}
	h.lagRate, h.lagAt = r, now
	h.compared++
	return e != nil
}

// disagreed records a comparison in which the mirror listed versions its
// peer lacked that were not confirmed published (or lists that diverged).
func (h *health) disagreed() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.disagreements++
}

// lagRateLocked is the lag rate decayed to now. h.mu must be held.
func (h *health) lagRateLocked(now time.Time, halfLife time.Duration) float64 {
	if h.lagRate == 0 || halfLife <= 0 {
		return h.lagRate
	}
	d := now.Sub(h.lagAt)
	if d <= 0 {
		return h.lagRate
	}
	return h.lagRate * math.Exp2(-d.Seconds()/halfLife.Seconds())
}

// weights are what a mirror's score is made of (GroupOptions).
type weights struct {
	latency, errors, lag float64
	lagHalfLife          time.Duration
}

// cost is the mirror's score at now: lower is better. It is in seconds:
// the latency term (a blend of the EWMA and p95) times w.latency, plus the
// recent error rate times w.errors, plus the lag rate (lagged) times w.lag.
func (h *health) cost(w weights, now time.Time) float64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.costLocked(w, now)
}

func (h *health) costLocked(w weights, now time.Time) float64 {
	lat := (h.ewma.Seconds() + h.percentile(0.95).Seconds()) / 2
	return w.latency*lat + w.errors*h.errRate + w.lag*h.lagRateLocked(now, w.lagHalfLife)
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
	// LagRate is the mirror's recent rate of lagging (0..1, decayed to
	// now), part of its Score; Lags counts the comparisons of its list and
	// @latest answers with a peer's in which it lacked versions, out of
	// Compared (a module counts once per lag half-life); LastLag is the
	// latest of them. Disagreed counts the comparisons in which it listed
	// versions its peer lacked that were not confirmed published, or
	// whose lists diverged: logged, never scored.
	LagRate   float64   `json:"lag_rate"`
	Lags      uint64    `json:"lags"`
	Compared  uint64    `json:"compared"`
	LastLag   *LagEvent `json:"last_lag,omitempty"`
	Disagreed uint64    `json:"disagreed"`
}

func (h *health) status(w weights, now time.Time) MirrorStatus {
	h.mu.Lock()
	defer h.mu.Unlock()
	var last *LagEvent
	if h.lastLag != nil {
		e := *h.lastLag
		e.Missing = slices.Clone(e.Missing)
		last = &e
	}
	return MirrorStatus{
		Score:       h.costLocked(w, now),
		P50:         h.percentile(0.5).Seconds(),
		P95:         h.percentile(0.95).Seconds(),
		EWMA:        h.ewma.Seconds(),
		ErrorRate:   h.errRate,
		Breaker:     h.state.String(),
		Requests:    h.requests,
		Failures:    h.failures,
		LastError:   h.lastErr,
		LastErrorAt: h.lastErrAt,
		LagRate:     h.lagRateLocked(now, w.lagHalfLife),
		Lags:        h.lags,
		Compared:    h.compared,
		LastLag:     last,
		Disagreed:   h.disagreements,
	}
}
