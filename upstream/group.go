package upstream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gomirror/gomirror/internal/redact"
	"github.com/gomirror/gomirror/internal/syncx"
)

// GroupOptions tunes a Group. Zero values mean the defaults given.
type GroupOptions struct {
	// Timeout bounds one attempt until the mirror answers: the whole body
	// for metadata, the response headers for a zip. Default 30s.
	Timeout time.Duration
	// Retries is how many more attempts a failed request gets, on the next
	// best mirror each time. Default 2; negative means none.
	Retries int
	// RetryBackoff is the first retry's delay, doubled for each later one,
	// with jitter. A mirror's Retry-After (429, 503) is honoured up to
	// MaxRetryAfter instead. Defaults 100ms and 5s.
	RetryBackoff  time.Duration
	MaxRetryAfter time.Duration
	// NoHedge disables hedging. Otherwise a request still unanswered after
	// the mirror's recent p90 latency (and at least HedgeAfterMin, default
	// 50ms) is sent to the runner-up as well; the first good answer wins.
	NoHedge       bool
	HedgeAfterMin time.Duration
	// LatencyWeight and ErrorWeight make a mirror's score (lower is better):
	// LatencyWeight × latency in seconds (the mean of its EWMA and p95) +
	// ErrorWeight × its recent error rate (0..1). Defaults 1 and 2: a mirror
	// failing 10% of requests scores like one 200ms slower.
	LatencyWeight, ErrorWeight float64
	// SwitchThreshold keeps traffic on the current mirror until another
	// scores better by more than this fraction (default 0.2) plus 1ms, so
	// that traffic does not flap between near-equal mirrors.
	SwitchThreshold float64
	// BreakerFailures consecutive failures open a mirror's breaker (default
	// 5); it stays open for BreakerCooldown (default 10s), then one trial
	// request or probe closes it or opens it again.
	BreakerFailures int
	BreakerCooldown time.Duration
	// NoCompare disables comparing mirrors (see Group). Otherwise a list or
	// @latest goes to the two best mirrors at once, and a mirror that lacks
	// versions its peer has, confirmed published (SetConfirmer), is
	// recorded as lagging and, while it keeps lagging, scored down by
	// LagWeight (default 1; negative: none, lags are only recorded) × its
	// lag rate (0..1: an EWMA of the comparisons it lagged in, halved every
	// LagHalfLife, default 10m, without new comparisons). One lag adds
	// 0.2 s to its score (like 200ms more latency), three in a row about
	// 0.5 s. A module counts once per LagHalfLife for each mirror and op,
	// however often clients ask for it.
	NoCompare   bool
	LagWeight   float64
	LagHalfLife time.Duration
	// ProbeInterval is how often Run probes mirrors that had no traffic in
	// that time (default 15s; negative disables), with a GET of ProbePath
	// (default "/"): any answer below 500 except 429 counts as healthy.
	ProbeInterval time.Duration
	ProbePath     string
	Logger        *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

func (o *GroupOptions) setDefaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&o.Timeout, 30*time.Second)
	def(&o.RetryBackoff, 100*time.Millisecond)
	def(&o.MaxRetryAfter, 5*time.Second)
	def(&o.HedgeAfterMin, 50*time.Millisecond)
	def(&o.BreakerCooldown, 10*time.Second)
	def(&o.ProbeInterval, 15*time.Second)
	def(&o.LagHalfLife, 10*time.Minute)
	if o.LagWeight == 0 {
		o.LagWeight = 1
	} else if o.LagWeight < 0 {
		o.LagWeight = 0 // record lags, do not score them
	}
	if o.Retries == 0 {
		o.Retries = 2
	} else if o.Retries < 0 {
		o.Retries = 0
	}
	if o.LatencyWeight == 0 {
		o.LatencyWeight = 1
	}
	if o.ErrorWeight == 0 {
		o.ErrorWeight = 2
	}
	if o.SwitchThreshold == 0 {
		o.SwitchThreshold = 0.2
	}
	if o.BreakerFailures == 0 {
		o.BreakerFailures = 5
	}
	if o.ProbePath == "" {
		o.ProbePath = "/"
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// A Group is one GOPROXY element made of equivalent mirrors. Each request
// goes to the best-scored mirror whose breaker admits it, is hedged to the
// runner-up when it is slow, and is retried on the next mirror when it
// fails. A "not found" or another 4xx answer (but 429) is an answer, not a
// failure: the mirrors are equivalent, so another would say the same.
//
// Lists and @latest are the exception, because equivalent mirrors are not
// always in sync: one may lag, its list lacking the newest versions. So a
// list or @latest goes to the two best mirrors at once (compared; unless
// GroupOptions.NoCompare). When the second answer and the comparison are
// done within compareWait of the first answer, the group serves the
// preferred mirror's answer plus the versions only the other lists that
// the Confirmer (the checksum database) confirms published (the newest
// maxConfirmed of them); for @latest, the version the go command prefers
// if it is confirmed. A version on one mirror's word alone is never added;
// without a Confirmer for the module nothing is. A later second answer is
// still compared in the background (at most maxBackgroundCompares at a
// time per group, until Close) but not waited for. Either way a mirror
// whose versions are a subset of its peer's, lacking confirmed ones, is
// logged, counted (MirrorStatus) and scored down while it keeps lagging
// (GroupOptions.LagWeight); other differences are logged and counted as
// disagreements, never scored.
type Group struct {
	name    string
	members []*member
	opts    GroupOptions
	// compares holds a token per comparison finishing in the background.
	compares chan struct{}
	// life ends with Close: the comparisons and their attempts that
	// outlive a request stop then.
	life    context.Context
	endLife context.CancelFunc
	bgMu    sync.Mutex
	closed  bool
	bg      sync.WaitGroup // goroutines started by spawn

	mu        sync.Mutex
	preferred *member
	confirmer Confirmer
}

// maxBackgroundCompares bounds the comparisons a group finishes after the
// answer was served: each holds up to two list answers (maxList each).
const maxBackgroundCompares = 4

type member struct {
	p *Proxy
	h health
}

var _ Fetcher = (*Group)(nil)

// NewGroup returns a group named name of the mirrors at urls.
func NewGroup(name string, urls []string, client *http.Client, opts GroupOptions) (*Group, error) {
	if len(urls) == 0 {
		return nil, fmt.Errorf("group %s: no mirrors", name)
	}
	opts.setDefaults()
	g := &Group{name: name, opts: opts, compares: make(chan struct{}, maxBackgroundCompares)}
	g.life, g.endLife = context.WithCancel(context.Background())
	for _, u := range urls {
		p, err := NewProxy(u, client)
		if err != nil {
			return nil, fmt.Errorf("group %s: %w", name, err)
		}
		if p.base.Scheme == "file" {
			return nil, fmt.Errorf("group %s: %s: a group's mirrors must be http or https", name, redact.URL(u))
		}
		g.members = append(g.members, &member{p: p})
	}
	g.preferred = g.members[0]
	return g, nil
}

// spawn runs f in a goroutine that Close waits for.
func (g *Group) spawn(f func()) {
	g.bgMu.Lock()
	defer g.bgMu.Unlock()
	if g.closed {
		go f() // its context has ended: it returns at once
		return
	}
	g.bg.Go(f)
}

// Close ends the group's background work (the comparisons that outlive
// their requests, and their upstream requests) and waits for it to stop,
// or for ctx. The group still answers requests afterwards, without
// comparing in the background. The server calls it at shutdown.
func (g *Group) Close(ctx context.Context) error {
	g.bgMu.Lock()
	g.closed = true
	g.bgMu.Unlock()
	g.endLife()
	return syncx.Wait(ctx, &g.bg)
}

// String names the group as its GOPROXY element does.
func (g *Group) String() string { return g.name }

// Status returns a snapshot of every mirror, in configuration order.
func (g *Group) Status() []MirrorStatus {
	g.mu.Lock()
	pref := g.preferred
	g.mu.Unlock()
	out := make([]MirrorStatus, len(g.members))
	now := g.opts.Now()
	for i, m := range g.members {
		s := m.h.status(g.weights(), now)
		s.Group, s.URL, s.Preferred = g.name, m.p.String(), m == pref
		out[i] = s
	}
	return out
}

// weights returns what the mirrors' scores are made of.
func (g *Group) weights() weights {
	return weights{latency: g.opts.LatencyWeight, errors: g.opts.ErrorWeight, lag: g.opts.LagWeight, lagHalfLife: g.opts.LagHalfLife}
}

// candidates returns the mirrors that may take a request now, best first.
// If none may (every breaker open or cooling down, or every mirror asked
// for quiet with Retry-After), all of them are returned, the one available
// soonest first: a request that might succeed beats a certain failure, and
// its retries and hedges still spread over the group.
func (g *Group) candidates() []*member {
	now := g.opts.Now()
	type scored struct {
		m    *member
		cost float64
	}
	var ok []scored
	for _, m := range g.members {
		if m.h.admit(now, g.opts.BreakerCooldown) {
			ok = append(ok, scored{m, m.h.cost(g.weights(), now)})
		}
	}
	if len(ok) == 0 {
		all := slices.Clone(g.members)
		slices.SortStableFunc(all, func(a, b *member) int {
			return a.h.availableAt(g.opts.BreakerCooldown).Compare(b.h.availableAt(g.opts.BreakerCooldown))
		})
		return all
	}
	slices.SortStableFunc(ok, func(a, b scored) int {
		switch {
		case a.cost < b.cost:
			return -1
		case a.cost > b.cost:
			return 1
		}
		return 0
	})
	g.mu.Lock()
	defer g.mu.Unlock()
	best := ok[0]
	if best.m != g.preferred {
		// Stay on the preferred mirror unless it is out or clearly worse.
		i := slices.IndexFunc(ok, func(s scored) bool { return s.m == g.preferred })
		if i > 0 && ok[i].cost <= best.cost*(1+g.opts.SwitchThreshold)+0.001 {
			ok[0], ok[i] = ok[i], ok[0]
		} else {
			g.opts.Logger.Info("upstream group switches mirror", "group", g.name,
				"from", g.preferred.p.String(), "to", best.m.p.String(), "score", best.cost)
			g.preferred = best.m
		}
	}
	out := make([]*member, len(ok))
	for i, s := range ok {
		out[i] = s.m
	}
	return out
}

// isFailure reports whether err says the mirror failed, as opposed to
// giving an answer (not found, forbidden, bad request) that any equivalent
// mirror would give too.
func isFailure(err error) bool {
	if err == nil || IsNotExist(err) {
		return false
	}
	var se *StatusError
	if errors.As(err, &se) {
		return se.Code == http.StatusTooManyRequests || se.Code >= 500
	}
	return true
}

// retryAfterOf returns the Retry-After delay a mirror's error asked for.
func retryAfterOf(err error) time.Duration {
	var se *StatusError
	if errors.As(err, &se) {
		return se.RetryAfter
	}
	return 0
}

// result is one attempt's outcome.
type result[T any] struct {
	v   T
	err error
	m   *member
}

// do runs f on the best mirror, hedging and retrying as GroupOptions say,
// and returns the answer and the mirror that gave it. release is called on
// a value that lost a hedging race, to free it.
func do[T any](ctx context.Context, g *Group, f func(ctx context.Context, p *Proxy) (T, error), release func(T)) (T, *member, error) {
	return doFrom(ctx, g, f, release, map[*member]bool{}, 0)
}

// doFrom is do from attempt number first on, the mirrors in tried having
// failed the attempts before it.
func doFrom[T any](ctx context.Context, g *Group, f func(ctx context.Context, p *Proxy) (T, error), release func(T), tried map[*member]bool, first int) (T, *member, error) {
	var zero T
	var lastErr error
	for attempt := first; attempt <= g.opts.Retries; attempt++ {
		cands := g.candidates()
		// Prefer mirrors this request has not failed on yet.
		slices.SortStableFunc(cands, func(a, b *member) int {
			switch {
			case !tried[a] && tried[b]:
				return -1
			case tried[a] && !tried[b]:
				return 1
			}
			return 0
		})
		primary := cands[0]
		for _, m := range cands[1:] {
			m.h.release() // claimed by candidates but not used (yet)
		}
		var runner *member
		if !g.opts.NoHedge && len(cands) > 1 {
			runner = cands[1]
		}
		v, m, err := race(ctx, g, primary, runner, f, release)
		if err == nil {
			return v, m, nil
		}
		tried[primary] = true
		if runner != nil {
			tried[runner] = true
		}
		lastErr = err
		if !isFailure(err) || ctx.Err() != nil || attempt == g.opts.Retries {
			break
		}
		allTried := !slices.ContainsFunc(g.members, func(m *member) bool { return !tried[m] })
		if err := g.backoff(ctx, attempt, err, allTried); err != nil {
			break
		}
	}
	return zero, nil, lastErr
}

// backoff waits before retry number attempt+1: exponential with jitter, or
// the Retry-After the mirror asked for (capped) when no other mirror is left
// to try. (A mirror that asked for Retry-After gets no requests until then.)
func (g *Group) backoff(ctx context.Context, attempt int, err error, allTried bool) error {
	d := g.opts.RetryBackoff << attempt
	d = d/2 + rand.N(d/2+1) // jitter: between half and all of it
	var se *StatusError
	if errors.As(err, &se) && se.RetryAfter > 0 && allTried {
		d = max(d, min(se.RetryAfter, g.opts.MaxRetryAfter))
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// settle records in m's health how an attempt that began at begin ended
// with err, and returns err (saying so when the attempt's own Timeout
// ended it, timedOut): a success; lost, not waited for (another answer
// won, or the attempt was abandoned): only its slowness is learned;
// gaveUp, the caller gave up: nothing is learned; else a failure, which
// may open the mirror's breaker.
func (g *Group) settle(m *member, begin time.Time, err error, timedOut, lost, gaveUp bool) error {
	if timedOut && err != nil {
		err = fmt.Errorf("%s: no answer within %v: %w", m.p, g.opts.Timeout, context.DeadlineExceeded)
	}
	d := g.opts.Now().Sub(begin)
	switch {
	case err == nil || (!isFailure(err) && !timedOut):
		m.h.success(d, g.opts.Now())
	case lost:
		m.h.slow(d)
	case gaveUp:
		m.h.release()
	default:
		if m.h.failure(err, g.opts.Now(), g.opts.BreakerFailures, retryAfterOf(err)) {
			g.opts.Logger.Warn("upstream mirror breaker opened", "group", g.name, "mirror", m.p.String(), "err", err)
		}
	}
	return err
}

// race runs f on primary and, if primary is slower than its p90, on runner
// too; the first good answer wins and the other attempt is cancelled.
func race[T any](ctx context.Context, g *Group, primary, runner *member, f func(ctx context.Context, p *Proxy) (T, error), release func(T)) (T, *member, error) {
	results := make(chan result[T], 2)
	cancels := map[*member]context.CancelFunc{}
	var decided atomic.Bool // a winner was picked; the other attempt lost
	start := func(m *member) {
		actx, cancel := context.WithCancel(ctx)
		cancels[m] = cancel
		go func() {
			begin := g.opts.Now()
			timer := time.AfterFunc(g.opts.Timeout, cancel)
			v, err := f(actx, m.p)
			timedOut := !timer.Stop()
			// decided: cancelled, the other mirror answered first.
			err = g.settle(m, begin, err, timedOut, decided.Load(), ctx.Err() != nil)
			results <- result[T]{v, err, m}
		}()
	}
	start(primary)
	pending := 1
	var hedge <-chan time.Time
	if runner != nil {
		delay := max(primary.h.p90(), g.opts.HedgeAfterMin)
		t := time.NewTimer(delay)
		defer t.Stop()
		hedge = t.C
	}
	var first *result[T]
	for pending > 0 {
		select {
		case <-hedge:
			hedge = nil
			if runner.h.admit(g.opts.Now(), g.opts.BreakerCooldown) {
				start(runner)
				pending++
			}
		case r := <-results:
			pending--
			if r.err == nil || !isFailure(r.err) {
				// The winner: cancel the loser, and free its value if it
				// arrives anyway. The winner's own context stays alive:
				// a zip body is still being read from it.
				decided.Store(true)
				for m, cancel := range cancels {
					if m != r.m {
						cancel()
					}
				}
				if pending > 0 {
					go func() {
						if l := <-results; l.err == nil && release != nil {
							release(l.v)
						}
					}()
				}
				return r.v, r.m, r.err
			}
			if first == nil {
				first = &r
			}
			if hedge != nil && runner != nil {
				// The primary failed before the hedge fired: try the
				// runner now rather than wait.
				hedge = nil
				if runner.h.admit(g.opts.Now(), g.opts.BreakerCooldown) {
					start(runner)
					pending++
				}
			}
		}
	}
	for _, cancel := range cancels {
		cancel()
	}
	return first.v, first.m, first.err
}

// List asks the two best mirrors and serves the union of their versions
// when they disagree (see Group and compared).
func (g *Group) List(ctx context.Context, path string) ([]byte, Answer, error) {
	return g.compared(ctx, path, compareList, func(ctx context.Context, p *Proxy) ([]byte, error) { return bytesOnly(p.List(ctx, path)) })
}

// Latest asks the two best mirrors and serves the newer answer when they
// disagree (see Group and compared).
func (g *Group) Latest(ctx context.Context, path string) ([]byte, Answer, error) {
	return g.compared(ctx, path, compareLatest, func(ctx context.Context, p *Proxy) ([]byte, error) { return bytesOnly(p.Latest(ctx, path)) })
}

func (g *Group) Info(ctx context.Context, path, query string) ([]byte, Answer, error) {
	return doBytes(ctx, g, func(ctx context.Context, p *Proxy) ([]byte, error) { return bytesOnly(p.Info(ctx, path, query)) })
}

func (g *Group) GoMod(ctx context.Context, path, version string) ([]byte, Answer, error) {
	return doBytes(ctx, g, func(ctx context.Context, p *Proxy) ([]byte, error) { return bytesOnly(p.GoMod(ctx, path, version)) })
}

// GetBytes fetches rel from the best mirror, like Proxy.GetBytes.
func (g *Group) GetBytes(ctx context.Context, rel string) ([]byte, error) {
	b, _, err := doBytes(ctx, g, func(ctx context.Context, p *Proxy) ([]byte, error) { return p.GetBytes(ctx, rel) })
	return b, err
}

// bytesOnly drops a member's own Answer: the group makes its own.
func bytesOnly(b []byte, _ Answer, err error) ([]byte, error) { return b, err }

// doBytes is do for answers read whole: each attempt's context ends with it.
// The Answer names the mirror that answered.
func doBytes(ctx context.Context, g *Group, f func(ctx context.Context, p *Proxy) ([]byte, error)) ([]byte, Answer, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	b, m, err := do(ctx, g, f, nil)
	if err != nil {
		return b, Answer{}, err
	}
	return b, AnswerOf(m.p), nil
}

type zipBody struct {
	rc   io.ReadCloser
	size int64
}

// Zip opens the zip on the best mirror. A failure while the body is read
// (reset, truncation) counts against the mirror that sent it.
func (g *Group) Zip(ctx context.Context, path, version string) (io.ReadCloser, int64, Answer, error) {
	ctx, cancel := context.WithCancel(ctx)
	z, from, err := do(ctx, g, func(ctx context.Context, p *Proxy) (zipBody, error) {
		rc, size, _, err := p.Zip(ctx, path, version)
		return zipBody{rc, size}, err
	}, func(z zipBody) { z.rc.Close() })
	if err != nil {
		cancel()
		return nil, 0, Answer{}, err
	}
	return &trackedBody{rc: z.rc, size: z.size, cancel: cancel, m: from, g: g}, z.size, AnswerOf(from.p), nil
}

// trackedBody is a zip body that reports a failed read against its mirror
// and ends the attempt's context when closed.
type trackedBody struct {
	rc     io.ReadCloser
	size   int64
	n      int64
	cancel context.CancelFunc
	m      *member
	g      *Group
	failed bool
}

func (b *trackedBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	b.n += int64(n)
	if err == io.EOF && b.size >= 0 && b.n != b.size {
		err = fmt.Errorf("zip body: %d of %d bytes: %w", b.n, b.size, io.ErrUnexpectedEOF)
	}
	if err != nil && err != io.EOF && !b.failed {
		b.failed = true
		b.m.h.failure(err, b.g.opts.Now(), b.g.opts.BreakerFailures, 0)
	}
	return n, err
}

func (b *trackedBody) Close() error {
	err := b.rc.Close()
	b.cancel()
	return err
}

// Run probes idle mirrors every ProbeInterval until ctx is done, so that
// scores stay current and open breakers find out about recovery without
// risking a client's request. It probes all mirrors once at the start.
func (g *Group) Run(ctx context.Context) {
	if g.opts.ProbeInterval < 0 {
		return
	}
	t := time.NewTicker(g.opts.ProbeInterval)
	defer t.Stop()
	var since time.Time // zero: probe everything the first time
	for {
		var wg sync.WaitGroup
		for _, m := range g.members {
			if !m.h.idleSince(since) {
				continue
			}
			wg.Go(func() { g.probe(ctx, m) })
		}
		wg.Wait()
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			since = now.Add(-g.opts.ProbeInterval)
		}
	}
}

// probe sends one light request to m and records the outcome, unless ctx
// ends first (shutdown).
func (g *Group) probe(ctx context.Context, m *member) {
	if !m.h.admit(g.opts.Now(), g.opts.BreakerCooldown) {
		return // open and cooling down
	}
	pctx, cancel := context.WithTimeout(ctx, g.opts.Timeout)
	defer cancel()
	begin := g.opts.Now()
	resp, err := m.p.Get(pctx, g.opts.ProbePath)
	if err == nil {
		resp.Body.Close()
	}
	switch {
	case ctx.Err() != nil:
		m.h.release()
	case isFailure(err):
		if m.h.failure(fmt.Errorf("probe: %w", err), g.opts.Now(), g.opts.BreakerFailures, 0) {
			g.opts.Logger.Warn("upstream mirror breaker opened", "group", g.name, "mirror", m.p.String(), "err", err)
		}
	default:
		m.h.success(g.opts.Now().Sub(begin), g.opts.Now())
	}
}
