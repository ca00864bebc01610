package alert

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gomirror/gomirror/audit"
	"github.com/gomirror/gomirror/db"
	"github.com/gomirror/gomirror/internal/clientaddr"
	"github.com/gomirror/gomirror/internal/redact"
)

// States of Alert.State and Message.State.
const (
	StatePending  = "pending"  // the condition holds, not yet for the rule's For
	StateFiring   = "firing"   // notified
	StateResolved = "resolved" // the condition ended after firing
)

// History keeps the alert history: one event when an alert fires and one
// when it resolves (not for repeats, nor for pending alerts that never
// fired). (*db.DB) implements it.
type History interface {
	AddAlertEvent(ctx context.Context, e db.AlertEvent) error
}

var _ History = (*db.DB)(nil)

// UpstreamState is what the upstream-down and upstream-lag rules see of
// one upstream.
type UpstreamState struct {
	Name string // an upstream's name, as rules' upstream names it (redacted URL or mirror name)
	// Group is the group the upstream is a mirror of, "" for none: a rule
	// whose upstream names a group fires when every mirror of it is down.
	Group     string
	Up        bool
	Since     time.Time // when Up last changed
	LastError string    // redacted before it is shown
	// LagRate is a group mirror's recent rate of lagging, 0 to 1 (see
	// upstream.MirrorStatus.LagRate): how often its list and @latest
	// answers lacked versions a peer had, decaying while it does not lag.
	// Lags counts the comparisons it lagged in, LastLag is the latest
	// (nil for none). Zero for an upstream outside a group.
	LagRate float64
	Lags    uint64
	LastLag *Lag
}

// Lag is what an upstream-lag alert names of a mirror's latest lag.
type Lag struct {
	Module string
	// Missing names versions the mirror lacked (newest first; the text
	// shows at most maxLagVersions of them); MissingCount is how many it
	// lacked in all.
	Missing      []string
	MissingCount int
}

// Options configures an Engine. Rules and Notifiers are validated by New
// (Validate), so they may come straight from the configuration.
type Options struct {
	Rules     []Rule
	Notifiers []Notifier
	// History receives firing and resolved events; nil keeps none.
	History History
	// Upstreams returns the state of every upstream, for upstream-down
	// and upstream-lag rules; it is called once per evaluation, off the request path.
	Upstreams func() []UpstreamState
	// Storage returns the bytes used and the total capacity of storage,
	// for storage-usage rules; called once per evaluation.
	Storage func() (used, total int64, err error)

	Interval time.Duration // between evaluations in Run; default 15s
	// Now is the clock of Mismatch, SumDB and Run; default time.Now.
	// Observe uses the record's Time.
	Now func() time.Time
	Log *slog.Logger // default: discard
	// MaxKeys bounds the clients a client-rate rule counts each on its
	// own (default 10,000): a request from a new client while the rule
	// counts MaxKeys others is counted under the key OtherClients, all
	// such clients together (Dropped counts these requests), so memory
	// stays bounded however many addresses a client uses, and a client
	// spread over many addresses still shows. Anonymous IPv6 clients are
	// counted by /64. A client is forgotten once its window holds no
	// request.
	MaxKeys int
	// Instance names this gomirror in messages (a host name); optional.
	Instance string
	// HTTPClient sends webhooks; default: a client of its own with
	// http.DefaultTransport's settings (the proxy from the environment
	// included) that follows no redirect. Each attempt is bounded by the
	// notifier's timeout.
	HTTPClient *http.Client
	// RootCAs are the authorities SMTP TLS trusts; nil: the system's.
	RootCAs *x509.CertPool
	// LookupEnv reads the *-env settings; default os.LookupEnv.
	LookupEnv func(string) (string, bool)
	// RetryBackoff is the wait before a notifier's first retry, doubled
	// for each further one; default 2s.
	RetryBackoff time.Duration
	// Queue bounds the notifications waiting per notifier (default 256);
	// more are dropped, logged and counted.
	Queue int
	// KeepResolved is how long a resolved alert stays in Alerts (default
	// 1h; at most 100 per rule, oldest out first).
	KeepResolved time.Duration
}

// Alert is the state of one alert: a rule and what it is about.
type Alert struct {
	Rule  string `json:"rule"`
	Kind  string `json:"kind"`
	Key   string `json:"key,omitempty"` // the client, upstream or group; "" for the whole mirror
	State string `json:"state"`         // pending, firing, resolved
	// Since is when the condition began to hold (pending, firing) or when
	// it ended (resolved).
	Since time.Time `json:"since"`
	// Value is the last value evaluated: client-rate requests in the
	// window, checksum-mismatch mismatches in the window, upstream-down
	// minutes failing, upstream-lag the lag rate, sumdb-unreachable failed calls in a row,
	// storage-usage and error-rate percent.
	Value        float64   `json:"value"`
	Threshold    float64   `json:"threshold"`
	LastNotified time.Time `json:"last_notified,omitzero"` // the last firing notification queued
	Text         string    `json:"text"`                   // what the last evaluation found, in English
	TextZH       string    `json:"text_zh,omitempty"`      // the same in Chinese

	firedAt time.Time
}

// Engine evaluates alert rules and sends their notifications. Its input
// methods (Observe, Mismatch, SumDB) are safe for concurrent use and
// cheap: they count under a mutex that evaluation holds only while it
// reads the counts, and never wait on a notifier. Notifications and
// history events are sent by one goroutine per notifier (and one for the
// history), each with a bounded queue, so a slow or failing notifier
// delays no other and never the evaluation.
//
// A nil *Engine is alerting turned off: Observe, Mismatch and SumDB do
// nothing and Alerts returns nothing, so the server can call them
// unconditionally.
type Engine struct {
	opts  Options
	log   *slog.Logger
	rules []*rule

	// requests feeds the error-rate rules.
	reqMu    sync.Mutex
	requests ringPair

	mmMu       sync.Mutex
	mismatches []*ring // one per checksum-mismatch rule (its window)
	lastMM     []string

	sdMu      sync.Mutex
	sdFails   int
	sdSince   time.Time
	sdLastErr string

	evalMu sync.Mutex // one evaluation at a time; guards alerts
	alerts map[alertID]*Alert

	workers []*worker // one per notifier, in Notifiers' order
	history *worker

	droppedKeys     atomic.Uint64
	droppedMessages atomic.Uint64
	reportedDrops   uint64 // guarded by evalMu
	closeOnce       sync.Once
	wg              sync.WaitGroup
}

type alertID struct{ rule, key string }

// rule is a validated Rule with its counters.
type rule struct {
	Rule
	workers []*worker // where its notifications go

	// client-rate
	mu   sync.Mutex
	keys map[string]*ring
	// checksum-mismatch, error-rate: index into Engine.mismatches, Engine.requests
	idx int
}

// ringPair holds, per error-rate rule, the requests and the 5xx answers
// counted over its window.
type ringPair []struct{ total, failed ring }

// New validates the configuration (copies of opts.Rules and
// opts.Notifiers: the caller's are not changed), reads the notifiers'
// secrets and starts the notifier goroutines (Close stops them). Errors
// name the rule or notifier and field, never a secret. A client-rate rule
// holds about 300 bytes per client it counts.
func New(opts Options) (*Engine, error) {
	opts.Rules = append([]Rule(nil), opts.Rules...)
	opts.Notifiers = append([]Notifier(nil), opts.Notifiers...)
	if err := Validate(opts.Rules, opts.Notifiers); err != nil {
		return nil, err
	}
	if opts.Interval <= 0 {
		opts.Interval = 15 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.MaxKeys <= 0 {
		opts.MaxKeys = 10000
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{
			Transport: http.DefaultTransport.(*http.Transport).Clone(),
			// A robot does not redirect; following one would send the
			// message (and a signed URL) elsewhere.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	if opts.LookupEnv == nil {
		opts.LookupEnv = os.LookupEnv
	}
	if opts.RetryBackoff <= 0 {
		opts.RetryBackoff = 2 * time.Second
	}
	if opts.Queue <= 0 {
		opts.Queue = 256
	}
	if opts.KeepResolved <= 0 {
		opts.KeepResolved = time.Hour
	}
	e := &Engine{opts: opts, log: opts.Log, alerts: map[alertID]*Alert{}}
	byName := map[string]*worker{}
	for _, n := range opts.Notifiers {
		s, err := newSender(n, &opts)
		if err != nil {
			return nil, err
		}
		w := e.newWorker("notifier "+n.Name, s, n.Timeout, *n.Retries)
		e.workers = append(e.workers, w)
		byName[n.Name] = w
	}
	if opts.History != nil {
		e.history = e.newWorker("alert history", historySender{opts.History}, 10*time.Second, 2)
	}
	for _, r := range opts.Rules {
		ru := &rule{Rule: r}
		if len(r.Notifiers) == 0 {
			ru.workers = e.workers
		}
		for _, n := range r.Notifiers {
			ru.workers = append(ru.workers, byName[n])
		}
		switch r.Kind {
		case KindClientRate:
			ru.keys = map[string]*ring{}
		case KindChecksumMismatch:
			ru.idx = len(e.mismatches)
			rg := newRing(int64(r.Window))
			e.mismatches = append(e.mismatches, &rg)
		case KindErrorRate:
			ru.idx = len(e.requests)
			e.requests = append(e.requests, struct{ total, failed ring }{newRing(int64(r.Window)), newRing(int64(r.Window))})
		}
		e.rules = append(e.rules, ru)
	}
	for _, w := range e.all() {
		e.wg.Add(1)
		go w.run(&e.wg)
	}
	return e, nil
}

func (e *Engine) all() []*worker {
	if e.history == nil {
		return e.workers
	}
	return append(e.workers[:len(e.workers):len(e.workers)], e.history)
}

// Observe counts one audited request for the client-rate and error-rate
// rules. It is called on the request path: constant work per rule, no
// allocation but for a client seen for the first time and the /64 key of
// an anonymous IPv6 client, never blocking on anything but the counters'
// mutexes.
func (e *Engine) Observe(rec audit.Record) {
	if e == nil {
		return
	}
	t := rec.Time
	if t.IsZero() {
		t = e.opts.Now()
	}
	ns := t.UnixNano()
	if len(e.requests) > 0 {
		var failed uint32
		if rec.Status >= 500 {
			failed = 1
		}
		e.reqMu.Lock()
		for i := range e.requests {
			e.requests[i].total.add(ns, 1)
			e.requests[i].failed.add(ns, failed)
		}
		e.reqMu.Unlock()
	}
	for _, r := range e.rules {
		if r.Kind != KindClientRate || (r.RequestKind != "" && r.RequestKind != rec.Kind) {
			continue
		}
		key := rec.Client
		if key == "" {
			key = remoteKey(rec.Remote)
		}
		r.mu.Lock()
		rg := r.keys[key]
		if rg == nil && len(r.keys) >= e.opts.MaxKeys {
			// Counted together with every other client that found the
			// table full: a client spread over more addresses than
			// MaxKeys still shows, as OtherClients.
			e.droppedKeys.Add(1)
			key = OtherClients
			rg = r.keys[key]
		}
		if rg == nil {
			n := newRing(int64(r.Window))
			rg = &n
			r.keys[strings.Clone(key)] = rg
		}
		rg.add(ns, 1)
		r.mu.Unlock()
	}
}

// OtherClients is the key of a client-rate alert about the requests of
// clients that were not counted on their own because the rule already
// counted MaxKeys others.
const OtherClients = "(other clients)"

// remoteKey is the key of an anonymous client: its address, or for IPv6
// its /64 (one host commonly holds a whole /64, as max-conns-per-client
// counts it). An IPv4 address, the common case, is used as it is, without
// allocating.
func remoteKey(addr string) string {
	if !strings.Contains(addr, ":") {
		return addr
	}
	return clientaddr.Key(addr)
}

// maxMismatchesShown is how many of the latest mismatches a
// checksum-mismatch alert names.
const maxMismatchesShown = 5

// Mismatch reports a checksum mismatch: what an upstream served for the
// file (info, mod, zip) of module@version does not hash to what the
// checksum database says. It never blocks on a notifier.
func (e *Engine) Mismatch(module, version, file string) {
	if e == nil {
		return
	}
	ns := e.opts.Now().UnixNano()
	e.mmMu.Lock()
	defer e.mmMu.Unlock()
	for _, rg := range e.mismatches {
		rg.add(ns, 1)
	}
	e.lastMM = append(e.lastMM, fmt.Sprintf("%s@%s (%s)", module, version, file))
	if len(e.lastMM) > maxMismatchesShown {
		e.lastMM = e.lastMM[len(e.lastMM)-maxMismatchesShown:]
	}
}

// SumDB reports the outcome of one checksum-database call: nil when the
// database answered (a "not found" is an answer), else the error. A call
// not made (the checksum database off, or the upstream off) is not one to
// report. The error's text is shown with its URLs' credentials removed.
func (e *Engine) SumDB(err error) {
	if e == nil {
		return
	}
	e.sdMu.Lock()
	defer e.sdMu.Unlock()
	if err == nil {
		e.sdFails, e.sdSince, e.sdLastErr = 0, time.Time{}, ""
		return
	}
	if e.sdFails == 0 {
		e.sdSince = e.opts.Now()
	}
	e.sdFails++
	e.sdLastErr = redact.Text(err.Error())
}

// Dropped returns how many requests the client-rate rules counted under
// OtherClients because MaxKeys clients were counted already, and how many
// notifications and history events were dropped because their queue was
// full.
func (e *Engine) Dropped() (requests, messages uint64) {
	return e.droppedKeys.Load(), e.droppedMessages.Load()
}

// Run evaluates the rules every Options.Interval until ctx is done. It
// does not stop the notifiers: Close does.
func (e *Engine) Run(ctx context.Context) {
	t := time.NewTicker(e.opts.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			e.EvaluateNow(e.opts.Now())
		}
	}
}

// Alerts returns the pending, firing and recently resolved alerts, sorted
// by rule and key.
func (e *Engine) Alerts() []Alert {
	if e == nil {
		return nil
	}
	e.evalMu.Lock()
	out := make([]Alert, 0, len(e.alerts))
	for _, a := range e.alerts {
		out = append(out, *a)
	}
	e.evalMu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		if out[i].Rule != out[j].Rule {
			return out[i].Rule < out[j].Rule
		}
		return out[i].Key < out[j].Key
	})
	return out
}

// finding is what a rule's check found true for one key.
type finding struct {
	value        float64
	text, textZH string
}

// polled holds the polled signals, read once per evaluation.
type polled struct {
	e          *Engine
	upstreams  []UpstreamState
	upDone     bool
	used       int64
	total      int64
	storageErr error
	stDone     bool
}

func (p *polled) getUpstreams() []UpstreamState {
	if !p.upDone && p.e.opts.Upstreams != nil {
		p.upstreams = p.e.opts.Upstreams()
	}
	p.upDone = true
	return p.upstreams
}

func (p *polled) getStorage() (used, total int64, err error) {
	if !p.stDone {
		if p.e.opts.Storage == nil {
			p.storageErr = errors.New("no storage usage source")
		} else {
			p.used, p.total, p.storageErr = p.e.opts.Storage()
		}
	}
	p.stDone = true
	return p.used, p.total, p.storageErr
}

// EvaluateNow evaluates every rule as of now, moves alerts between
// states, and queues the notifications and history events that the
// changes call for. Run calls it; tests call it with their own clock.
// Concurrent calls are serialised.
func (e *Engine) EvaluateNow(now time.Time) {
	// Poll before taking evalMu, so that a slow source (storage usage
	// on S3) does not hold up Alerts.
	p := &polled{e: e}
	for _, r := range e.rules {
		switch r.Kind {
		case KindUpstreamDown, KindUpstreamLag:
			p.getUpstreams()
		case KindStorageUsage:
			p.getStorage()
		}
	}
	e.evalMu.Lock()
	defer e.evalMu.Unlock()
	for _, r := range e.rules {
		found, ok := e.check(r, now, p)
		if !ok {
			continue // no data this time: leave the rule's alerts as they are
		}
		e.transition(r, now, found)
	}
	if d := e.droppedKeys.Load(); d != e.reportedDrops {
		e.log.Warn("alert: client-rate rules are counting as many clients as they may (MaxKeys); requests of further clients were counted together, as \""+OtherClients+"\"", "requests", d-e.reportedDrops, "max_keys", e.opts.MaxKeys)
		e.reportedDrops = d
	}
}

// transition applies one rule's findings to its alerts. evalMu is held.
func (e *Engine) transition(r *rule, now time.Time, found map[string]finding) {
	var resolved []*Alert
	for id, a := range e.alerts {
		if id.rule != r.Name {
			continue
		}
		f, holds := found[id.key]
		switch {
		case holds && a.State == StateResolved:
			delete(e.alerts, id) // begins again below
		case holds:
			a.Value, a.Text, a.TextZH = f.value, f.text, f.textZH
			delete(found, id.key)
			if a.State == StatePending && now.Sub(a.Since) >= r.For {
				e.fire(r, a, now, false)
			} else if a.State == StateFiring && r.Repeat > 0 && now.Sub(a.LastNotified) >= r.Repeat {
				e.fire(r, a, now, true)
			}
		case a.State == StatePending:
			delete(e.alerts, id)
		case a.State == StateFiring:
			e.resolve(r, a, now)
		default: // resolved
			if now.Sub(a.Since) >= e.opts.KeepResolved {
				delete(e.alerts, id)
			} else {
				resolved = append(resolved, a)
			}
		}
	}
	for key, f := range found {
		a := &Alert{Rule: r.Name, Kind: r.Kind, Key: key, State: StatePending, Since: now,
			Value: f.value, Threshold: r.Threshold, Text: f.text, TextZH: f.textZH}
		e.alerts[alertID{r.Name, key}] = a
		if r.For == 0 {
			e.fire(r, a, now, false)
		}
	}
	if len(resolved) > maxResolvedKept {
		sort.Slice(resolved, func(i, j int) bool { return resolved[i].Since.Before(resolved[j].Since) })
		for _, a := range resolved[:len(resolved)-maxResolvedKept] {
			delete(e.alerts, alertID{a.Rule, a.Key})
		}
	}
}

// maxResolvedKept bounds the resolved alerts kept per rule.
const maxResolvedKept = 100

func (e *Engine) fire(r *rule, a *Alert, now time.Time, repeat bool) {
	if !repeat {
		a.State, a.firedAt = StateFiring, now
		e.record(a, now)
	}
	a.LastNotified = now
	e.notify(r, e.message(r, a, now, repeat))
}

func (e *Engine) resolve(r *rule, a *Alert, now time.Time) {
	lasted := now.Sub(a.firedAt).Round(time.Second)
	a.State, a.Since = StateResolved, now
	a.Text = fmt.Sprintf("resolved after %v; it was: %s", lasted, a.Text)
	if a.TextZH != "" {
		a.TextZH = fmt.Sprintf("已恢复（持续 %v）；此前：%s", lasted, a.TextZH)
	}
	e.record(a, now)
	if r.resolve() {
		e.notify(r, e.message(r, a, now, false))
	}
}

func (e *Engine) message(r *rule, a *Alert, now time.Time, repeat bool) Message {
	return Message{Rule: r.Name, Kind: r.Kind, Key: a.Key, State: a.State, Repeat: repeat,
		Value: a.Value, Threshold: r.Threshold, Since: a.firedAt, Time: now,
		Text: a.Text, TextZH: a.TextZH, Instance: e.opts.Instance}
}

func (e *Engine) notify(r *rule, m Message) {
	for _, w := range r.workers {
		w.enqueue(job{m: m})
	}
}

func (e *Engine) record(a *Alert, now time.Time) {
	if e.history == nil {
		return
	}
	e.history.enqueue(job{m: Message{Rule: a.Rule, Kind: a.Kind, Key: a.Key, State: a.State,
		Value: a.Value, Threshold: a.Threshold, Time: now, Text: a.Text, TextZH: a.TextZH, Instance: e.opts.Instance}})
}

// Flush waits until every notification and history event queued so far
// has been sent (or given up), or ctx is done.
func (e *Engine) Flush(ctx context.Context) error {
	var marks []chan struct{}
	for _, w := range e.all() {
		done := make(chan struct{})
		if w.enqueueWait(ctx, job{done: done}) != nil {
			return ctx.Err()
		}
		marks = append(marks, done)
	}
	for _, d := range marks {
		select {
		case <-d:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// Close stops the notifier goroutines once what is queued has been sent,
// or at once when ctx is done (pending retries are abandoned). Every
// method may still be called afterwards: what an evaluation would send is
// dropped.
func (e *Engine) Close(ctx context.Context) error {
	e.closeOnce.Do(func() {
		for _, w := range e.all() {
			w.close()
		}
	})
	done := make(chan struct{})
	go func() { e.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		for _, w := range e.all() {
			w.abort()
		}
		<-done
		return ctx.Err()
	}
}
