package alert

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gomirror/gomirror/audit"
	"github.com/gomirror/gomirror/db"
)

// receiver is a loopback webhook receiver that keeps what it is sent.
type receiver struct {
	*httptest.Server
	mu       sync.Mutex
	payloads []Payload
	fail     int // answer 500 to this many requests first
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.fail > 0 {
			r.fail--
			http.Error(w, "try later", http.StatusInternalServerError)
			return
		}
		var p Payload
		if err := json.Unmarshal(body, &p); err != nil {
			t.Errorf("webhook body %q: %v", body, err)
		}
		r.payloads = append(r.payloads, p)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) got() []Payload {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Payload(nil), r.payloads...)
}

// summary is "state key" per payload, "+repeat" for repeats.
func summary(ps []Payload) []string {
	var s []string
	for _, p := range ps {
		x := strings.TrimSpace(p.State + " " + p.Key)
		if p.Repeat {
			x += " +repeat"
		}
		s = append(s, x)
	}
	return s
}

// fakeHistory keeps the events it is given.
type fakeHistory struct {
	mu     sync.Mutex
	events []db.AlertEvent
}

func (h *fakeHistory) AddAlertEvent(_ context.Context, e db.AlertEvent) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.events = append(h.events, e)
	return nil
}

func (h *fakeHistory) states() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var s []string
	for _, e := range h.events {
		s = append(s, strings.TrimSpace(e.State+" "+e.Key))
	}
	return s
}

var t0 = time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)

// testEngine is an Engine with one webhook notifier at a loopback
// receiver, a fake history and a clock the test sets.
type testEngine struct {
	*Engine
	recv    *receiver
	history *fakeHistory
	now     time.Time
}

func newTestEngine(t *testing.T, rules []Rule, configure ...func(*Options)) *testEngine {
	t.Helper()
	te := &testEngine{recv: newReceiver(t), history: &fakeHistory{}, now: t0}
	opts := Options{
		Rules:        rules,
		Notifiers:    []Notifier{{Name: "hook", Type: TypeWebhook, URL: te.recv.URL}},
		History:      te.history,
		Now:          func() time.Time { return te.now },
		RetryBackoff: time.Millisecond,
	}
	for _, c := range configure {
		c(&opts)
	}
	e, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close(context.Background()) })
	te.Engine = e
	return te
}

// at evaluates at t0+d.
func (te *testEngine) at(d time.Duration) {
	te.now = t0.Add(d)
	te.EvaluateNow(te.now)
}

func (te *testEngine) flush(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := te.Flush(ctx); err != nil {
		t.Fatal(err)
	}
}

func (te *testEngine) states() []string {
	var s []string
	for _, a := range te.Alerts() {
		s = append(s, strings.TrimSpace(a.State+" "+a.Key))
	}
	return s
}

func equal(a, b []string) bool { return strings.Join(a, "|") == strings.Join(b, "|") }

func TestClientRateFiresOnceAndResolvesOnce(t *testing.T) {
	te := newTestEngine(t, []Rule{{Name: "latest-abuse", Kind: KindClientRate, Threshold: 200, Window: time.Hour, RequestKind: audit.KindLatest}})
	req := func(remote, client, kind string, n int, at time.Duration) {
		for range n {
			te.Observe(audit.Record{Time: t0.Add(at), Remote: remote, Client: client, Kind: kind, Status: 200})
		}
	}
	req("10.0.0.1", "", audit.KindLatest, 201, 0)       // over
	req("10.0.0.2", "", audit.KindInfo, 500, 0)         // another kind: not counted
	req("10.0.0.3", "", audit.KindLatest, 200, 0)       // at the threshold, not over
	req("10.0.0.4", "ci-bot", audit.KindLatest, 300, 0) // keyed by its token name
	req("10.0.0.5", "ci-bot", audit.KindLatest, 0, 0)   // (nothing)
	for _, step := range []struct {
		at   time.Duration
		want []string
	}{
		{time.Minute, []string{"firing 10.0.0.1", "firing ci-bot"}},
		{2 * time.Minute, []string{"firing 10.0.0.1", "firing ci-bot"}},
		{30 * time.Minute, []string{"firing 10.0.0.1", "firing ci-bot"}},
		{61 * time.Minute, []string{"resolved 10.0.0.1", "resolved ci-bot"}},
		{62 * time.Minute, []string{"resolved 10.0.0.1", "resolved ci-bot"}},
		{3 * time.Hour, nil}, // resolved alerts are kept for KeepResolved (1h)
	} {
		te.at(step.at)
		if got := te.states(); !equal(got, step.want) {
			t.Errorf("at +%v: alerts %q, want %q", step.at, got, step.want)
		}
	}
	te.flush(t)
	got := summary(te.recv.got())
	want := []string{"firing 10.0.0.1", "firing ci-bot", "resolved 10.0.0.1", "resolved ci-bot"}
	if len(got) != 4 || !equal(sorted(got[:2]), want[:2]) || !equal(sorted(got[2:]), want[2:]) {
		t.Errorf("notifications %q, want once firing, once resolved each: %q", got, want)
	}
	if h := te.history.states(); len(h) != 4 {
		t.Errorf("history %q, want 4 events", h)
	}
	for _, p := range te.recv.got() {
		if p.Key == "10.0.0.1" && p.State == StateFiring && (p.Value != 201 || p.Threshold != 200 || !strings.Contains(p.Text, "201 latest requests")) {
			t.Errorf("firing payload %+v", p)
		}
	}
}

func sorted(s []string) []string {
	s = append([]string(nil), s...)
	for i := range s {
		for j := i + 1; j < len(s); j++ {
			if s[j] < s[i] {
				s[i], s[j] = s[j], s[i]
			}
		}
	}
	return s
}

func TestRepeatAndFor(t *testing.T) {
	down := errors.New("dial tcp: connection refused")
	for _, tc := range []struct {
		name    string
		rule    Rule
		steps   []string // per minute from 0: "x" the database fails, "." it answers, "-" no call
		want    []string
		history []string
	}{
		{"fires at once, once", Rule{Kind: KindSumDBUnreachable},
			[]string{"x", "x", "x", ".", "."}, []string{"firing", "resolved"}, []string{"firing", "resolved"}},
		{"repeat every 2m", Rule{Kind: KindSumDBUnreachable, Repeat: 2 * time.Minute},
			[]string{"x", "-", "-", "-", "-", "."}, []string{"firing", "firing +repeat", "firing +repeat", "resolved"}, []string{"firing", "resolved"}},
		{"for 2m, broken off", Rule{Kind: KindSumDBUnreachable, For: 2 * time.Minute},
			[]string{"x", "-", ".", "x", "-", "."}, nil, nil},
		{"for 2m, held", Rule{Kind: KindSumDBUnreachable, For: 2 * time.Minute},
			[]string{"x", "-", "-", "-", "."}, []string{"firing", "resolved"}, []string{"firing", "resolved"}},
		{"no resolve notification", Rule{Kind: KindSumDBUnreachable, Resolve: new(bool)},
			[]string{"x", "."}, []string{"firing"}, []string{"firing", "resolved"}},
		{"three failures in a row", Rule{Kind: KindSumDBUnreachable, Threshold: 3},
			[]string{"x", "x", ".", "x", "x", "x", "."}, []string{"firing", "resolved"}, []string{"firing", "resolved"}},
		{"failing for 3m", Rule{Kind: KindSumDBUnreachable, Window: 3 * time.Minute},
			[]string{"x", "x", ".", "x", "x", "x", "x", "."}, []string{"firing", "resolved"}, []string{"firing", "resolved"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.rule.Name = "sumdb"
			te := newTestEngine(t, []Rule{tc.rule})
			var pending bool
			for i, s := range tc.steps {
				te.now = t0.Add(time.Duration(i) * time.Minute)
				switch s {
				case "x":
					te.SumDB(down)
				case ".":
					te.SumDB(nil)
				}
				te.EvaluateNow(te.now)
				for _, a := range te.Alerts() {
					pending = pending || a.State == StatePending
				}
			}
			te.flush(t)
			if got := summary(te.recv.got()); !equal(got, tc.want) {
				t.Errorf("notifications %q, want %q", got, tc.want)
			}
			if got := te.history.states(); !equal(got, tc.history) {
				t.Errorf("history %q, want %q", got, tc.history)
			}
			if tc.rule.For > 0 && !pending {
				t.Error("never pending")
			}
		})
	}
}

func TestKinds(t *testing.T) {
	up := func(name, group string, isUp bool, downFor time.Duration) UpstreamState {
		return UpstreamState{Name: name, Group: group, Up: isUp, Since: t0.Add(-downFor), LastError: "GET https://user:hunter2@mirror.example/x: 502"}
	}
	lag := func(name, group string, rate float64, lags uint64) UpstreamState {
		return UpstreamState{Name: name, Group: group, Up: true, Since: t0, LagRate: rate, Lags: lags,
			LastLag: &Lag{Module: "example.com/jwt", Missing: []string{"v4.5.6", "v4.5.5", "v4.5.4", "v4.5.3", "v4.5.2", "v4.5.1"}, MissingCount: 7}}
	}
	for _, tc := range []struct {
		name      string
		rule      Rule
		upstreams []UpstreamState
		used      int64
		storeErr  error
		feed      func(e *Engine)
		want      map[string]float64 // firing keys and values
		wantText  string
	}{
		{name: "one mismatch fires", rule: Rule{Kind: KindChecksumMismatch},
			feed: func(e *Engine) { e.Mismatch("example.com/m", "v1.0.0", "zip") },
			want: map[string]float64{"": 1}, wantText: "example.com/m@v1.0.0 (zip)"},
		{name: "no mismatch", rule: Rule{Kind: KindChecksumMismatch}, want: map[string]float64{}},
		{name: "mismatch out of the window", rule: Rule{Kind: KindChecksumMismatch, Window: time.Minute},
			feed: func(e *Engine) {
				e.opts.Now = func() time.Time { return t0.Add(-time.Hour) }
				e.Mismatch("example.com/m", "v1.0.0", "zip")
			},
			want: map[string]float64{}},
		{name: "upstream down long enough", rule: Rule{Kind: KindUpstreamDown, Window: 5 * time.Minute},
			upstreams: []UpstreamState{up("a", "", false, 6*time.Minute), up("b", "", false, time.Minute), up("c", "", true, time.Hour)},
			want:      map[string]float64{"a": 6}, wantText: "https://mirror.example/x"},
		{name: "one upstream by name", rule: Rule{Kind: KindUpstreamDown, Upstream: "b", Window: time.Minute},
			upstreams: []UpstreamState{up("a", "", false, 6*time.Minute), up("b", "", false, 2*time.Minute)},
			want:      map[string]float64{"b": 2}},
		{name: "every mirror of a group down", rule: Rule{Kind: KindUpstreamDown, Upstream: "g", Window: 5 * time.Minute},
			upstreams: []UpstreamState{up("m1", "g", false, time.Hour), up("m2", "g", false, 10*time.Minute), up("x", "", false, time.Hour)},
			want:      map[string]float64{"g": 10}, wantText: "every mirror (2) of group g"},
		{name: "one mirror of a group up", rule: Rule{Kind: KindUpstreamDown, Upstream: "g", Window: 5 * time.Minute},
			upstreams: []UpstreamState{up("m1", "g", false, time.Hour), up("m2", "g", true, 10*time.Minute)},
			want:      map[string]float64{}},
		{name: "group down, not yet long enough", rule: Rule{Kind: KindUpstreamDown, Upstream: "g", Window: 5 * time.Minute},
			upstreams: []UpstreamState{up("m1", "g", false, time.Hour), up("m2", "g", false, time.Minute)},
			want:      map[string]float64{}},
		{name: "mirror lagging", rule: Rule{Kind: KindUpstreamLag},
			upstreams: []UpstreamState{lag("https://u:hunter2@a.example", "g", 0.59, 4), lag("https://b.example", "g", 0.2, 1), lag("https://c.example", "h", 0.8, 6), up("x", "", false, time.Hour)},
			want:      map[string]float64{"https://a.example": 0.59, "https://c.example": 0.8}, wantText: "example.com/jwt lacked v4.5.6, v4.5.5, v4.5.4, v4.5.3, v4.5.2 and 2 more"},
		{name: "mirrors of one group lagging", rule: Rule{Kind: KindUpstreamLag, Upstream: "g", Threshold: 0.3},
			upstreams: []UpstreamState{lag("https://a.example", "g", 0.59, 4), lag("https://b.example", "g", 0.36, 2), lag("https://c.example", "h", 0.8, 6)},
			want:      map[string]float64{"https://a.example": 0.59, "https://b.example": 0.36}, wantText: "of group g keeps lagging"},
		{name: "one mirror lagging", rule: Rule{Kind: KindUpstreamLag, Upstream: "https://c.example"},
			upstreams: []UpstreamState{lag("https://a.example", "g", 0.59, 4), lag("https://c.example", "h", 0.8, 6)},
			want:      map[string]float64{"https://c.example": 0.8}, wantText: "lag rate 0.80 (threshold 0.5), 6 lags"},
		{name: "a single lag is quiet", rule: Rule{Kind: KindUpstreamLag},
			upstreams: []UpstreamState{lag("https://a.example", "g", 0.2, 1)},
			want:      map[string]float64{}},
		{name: "storage over", rule: Rule{Kind: KindStorageUsage, Threshold: 90}, used: 95, want: map[string]float64{"": 95}, wantText: "95.0% used"},
		{name: "storage under", rule: Rule{Kind: KindStorageUsage, Threshold: 90}, used: 90, want: map[string]float64{}},
		{name: "error rate over", rule: Rule{Kind: KindErrorRate, Threshold: 10, MinRequests: 10},
			feed: func(e *Engine) { requests(e, 18, 3) }, want: map[string]float64{"": 100 * 3.0 / 21}},
		{name: "error rate under", rule: Rule{Kind: KindErrorRate, Threshold: 10, MinRequests: 10},
			feed: func(e *Engine) { requests(e, 19, 2) }, want: map[string]float64{}},
		{name: "error rate, too few requests", rule: Rule{Kind: KindErrorRate, Threshold: 10, MinRequests: 10},
			feed: func(e *Engine) { requests(e, 0, 9) }, want: map[string]float64{}},
		{name: "sumdb unreachable", rule: Rule{Kind: KindSumDBUnreachable},
			feed: func(e *Engine) { e.SumDB(errors.New(`Get "https://u:secret@sum.example/lookup": refused`)) },
			want: map[string]float64{"": 1}, wantText: "https://sum.example/lookup"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.rule.Name = "r"
			te := newTestEngine(t, []Rule{tc.rule}, func(o *Options) {
				o.Upstreams = func() []UpstreamState { return tc.upstreams }
				o.Storage = func() (int64, int64, error) { return tc.used, 100, tc.storeErr }
			})
			if tc.feed != nil {
				tc.feed(te.Engine)
			}
			te.at(0)
			got := map[string]float64{}
			for _, a := range te.Alerts() {
				if a.State != StateFiring {
					t.Errorf("alert %+v not firing", a)
				}
				got[a.Key] = a.Value
				if !strings.Contains(a.Text, tc.wantText) {
					t.Errorf("text %q, want it to contain %q", a.Text, tc.wantText)
				}
				if strings.Contains(a.Text, "hunter2") || strings.Contains(a.Text, "secret") {
					t.Errorf("text %q shows a credential", a.Text)
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("firing %v, want %v", got, tc.want)
			}
		})
	}
}

// requests observes ok 200s and failed 502s at t0.
// TestUpstreamLag: a mirror that keeps lagging is pending, then firing
// once its lag rate has held for the rule's for, then resolved when the
// rate falls; a mirror that lagged once stays quiet.
func TestUpstreamLag(t *testing.T) {
	// The lag rate of mirror a, minute by minute: it lags once (0.2),
	// then keeps lagging (as upstream's EWMA: 0.36, 0.49, 0.59, 0.67),
	// then its rate decays.
	rates := []float64{0.2, 0, 0, 0.36, 0.49, 0.59, 0.67, 0.67, 0.4, 0.2}
	var rate float64
	te := newTestEngine(t, []Rule{{Name: "lag", Kind: KindUpstreamLag, For: 2 * time.Minute}}, func(o *Options) {
		o.Upstreams = func() []UpstreamState {
			return []UpstreamState{
				{Name: "https://a.example", Group: "g", Up: true, LagRate: rate, Lags: 5,
					LastLag: &Lag{Module: "example.com/jwt/v4", Missing: []string{"v4.5.2", "v4.5.1", "v4.5.0"}, MissingCount: 3}},
				{Name: "https://b.example", Group: "g", Up: true},
			}
		}
	})
	var seen []string
	for i, r := range rates {
		rate = r
		te.at(time.Duration(i) * time.Minute)
		st := strings.Join(te.states(), ",")
		if len(seen) == 0 || seen[len(seen)-1] != st {
			seen = append(seen, st)
		}
	}
	te.flush(t)
	want := []string{"", "pending https://a.example", "firing https://a.example", "resolved https://a.example"}
	if !equal(seen, want) {
		t.Errorf("states %q, want %q", seen, want)
	}
	got := te.recv.got()
	if s := summary(got); !equal(s, []string{"firing https://a.example", "resolved https://a.example"}) {
		t.Fatalf("notifications %q", s)
	}
	if p := got[0]; p.Kind != KindUpstreamLag || p.Value != 0.67 || p.Threshold != 0.5 ||
		!strings.Contains(p.Text, "mirror https://a.example of group g") || !strings.Contains(p.Text, "example.com/jwt/v4 lacked v4.5.2, v4.5.1, v4.5.0") ||
		!strings.Contains(p.TextZH, "example.com/jwt/v4 缺少 v4.5.2") {
		t.Errorf("firing payload %+v", p)
	}
}

func requests(e *Engine, ok, failed int) {
	for range ok {
		e.Observe(audit.Record{Time: t0, Remote: "10.0.0.1", Kind: audit.KindInfo, Status: 200})
	}
	for range failed {
		e.Observe(audit.Record{Time: t0, Remote: "10.0.0.1", Kind: audit.KindInfo, Status: 502})
	}
}

func TestStorageUnknownKeepsState(t *testing.T) {
	var used int64 = 95
	var storeErr error
	te := newTestEngine(t, []Rule{{Name: "disk", Kind: KindStorageUsage, Threshold: 90}}, func(o *Options) {
		o.Storage = func() (int64, int64, error) { return used, 100, storeErr }
	})
	te.at(0)
	storeErr = errors.New("statfs: input/output error")
	te.at(time.Minute)
	if got := te.states(); !equal(got, []string{"firing"}) {
		t.Errorf("after a failed poll: %q, want still firing", got)
	}
	storeErr, used = nil, 10
	te.at(2 * time.Minute)
	te.flush(t)
	if got := summary(te.recv.got()); !equal(got, []string{"firing", "resolved"}) {
		t.Errorf("notifications %q", got)
	}
}

// TestClientKeysBounded: however many addresses send requests, a rule
// counts at most MaxKeys clients, counts the rest as dropped, and forgets
// clients whose window is empty.
func TestClientKeysBounded(t *testing.T) {
	te := newTestEngine(t, []Rule{{Name: "rate", Kind: KindClientRate, Threshold: 2, Window: time.Hour}}, func(o *Options) { o.MaxKeys = 100 })
	for i := range 100_000 {
		te.Observe(audit.Record{Time: t0, Remote: fmt.Sprintf("10.%d.%d.%d", i>>16, i>>8&255, i&255), Kind: audit.KindInfo})
	}
	r := te.rules[0]
	if n := len(r.keys); n != 100+1 {
		t.Errorf("%d clients counted, want 100 and %q", n, OtherClients)
	}
	if d, _ := te.Dropped(); d != 100_000-100 {
		t.Errorf("Dropped = %d, want %d", d, 100_000-100)
	}
	// The clients beyond the bound are not lost from sight: together,
	// they are over the rate.
	te.at(time.Minute)
	if got := te.states(); !slices.Contains(got, "firing "+OtherClients) {
		t.Errorf("alerts %q, want one about %q", got, OtherClients)
	}
	te.at(2 * time.Hour) // every window empty: all forgotten
	if n := len(r.keys); n != 0 {
		t.Errorf("%d clients still counted after their windows emptied", n)
	}
	for range 3 {
		te.Observe(audit.Record{Time: t0.Add(2 * time.Hour), Remote: "192.0.2.1", Kind: audit.KindInfo})
	}
	te.at(2*time.Hour + time.Minute)
	if got := te.states(); !equal(got, []string{"resolved " + OtherClients, "firing 192.0.2.1"}) {
		t.Errorf("alerts %q, want the others' resolved and the new client's firing", got)
	}
}

// TestIPv6ClientCountedByPrefix: an anonymous client that sends each
// request from another address of its /64 is one client.
func TestIPv6ClientCountedByPrefix(t *testing.T) {
	te := newTestEngine(t, []Rule{{Name: "rate", Kind: KindClientRate, Threshold: 100, Window: time.Hour}})
	for i := range 1000 {
		te.Observe(audit.Record{Time: t0, Remote: fmt.Sprintf("2001:db8:1:2::%x", i+1), Kind: audit.KindLatest})
	}
	te.at(time.Minute)
	if got := te.states(); !equal(got, []string{"firing 2001:db8:1:2::/64"}) {
		t.Errorf("alerts %q, want one about 2001:db8:1:2::/64", got)
	}
}

func TestObserveAllocations(t *testing.T) {
	te := newTestEngine(t, []Rule{
		{Name: "rate", Kind: KindClientRate, Threshold: 200},
		{Name: "5xx", Kind: KindErrorRate, Threshold: 5},
	})
	rec := audit.Record{Time: t0, Remote: "10.0.0.1", Kind: audit.KindInfo, Status: 200}
	te.Observe(rec)
	if n := testing.AllocsPerRun(1000, func() { te.Observe(rec) }); n != 0 {
		t.Errorf("Observe of a known client allocates %v times, want 0", n)
	}
}

func TestNotifiersPerRule(t *testing.T) {
	other := newReceiver(t)
	te := newTestEngine(t, []Rule{
		{Name: "to-other", Kind: KindSumDBUnreachable, Notifiers: []string{"other"}},
		{Name: "to-all", Kind: KindChecksumMismatch},
	}, func(o *Options) {
		o.Notifiers = append(o.Notifiers, Notifier{Name: "other", Type: TypeWebhook, URL: other.URL})
	})
	te.SumDB(errors.New("down"))
	te.Mismatch("example.com/m", "v1.0.0", "mod")
	te.at(0)
	te.flush(t)
	rules := func(ps []Payload) (s []string) {
		for _, p := range ps {
			s = append(s, p.Rule)
		}
		return sorted(s)
	}
	if got := rules(te.recv.got()); !equal(got, []string{"to-all"}) {
		t.Errorf("hook got %q", got)
	}
	if got := rules(other.got()); !equal(got, []string{"to-all", "to-other"}) {
		t.Errorf("other got %q", got)
	}
}

// TestFailingNotifierRetriedAndDoesNotBlockOthers: a notifier that fails
// twice is retried and gets the message once; one that never answers
// delays nobody else.
func TestFailingNotifierRetried(t *testing.T) {
	stuck := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-stuck }))
	defer hang.Close()
	defer close(stuck)
	te := newTestEngine(t, []Rule{{Name: "mm", Kind: KindChecksumMismatch, Notifiers: []string{"hook"}}, {Name: "mm2", Kind: KindChecksumMismatch}}, func(o *Options) {
		o.Notifiers = append(o.Notifiers, Notifier{Name: "hang", Type: TypeWebhook, URL: hang.URL, Timeout: time.Hour})
	})
	te.recv.mu.Lock()
	te.recv.fail = 2
	te.recv.mu.Unlock()
	te.Mismatch("example.com/m", "v1.0.0", "zip")
	te.at(0)
	// Flush only the hook's worker: the hung one must not hold it up.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done := make(chan struct{})
	if err := te.workers[0].enqueueWait(ctx, job{done: done}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-ctx.Done():
		t.Fatal("the hook's notifications were held up")
	}
	if got := summary(te.recv.got()); len(got) != 2 {
		t.Errorf("hook got %q, want both rules' firing once each after 2 failures", got)
	}
	te.recv.mu.Lock()
	left := te.recv.fail
	te.recv.mu.Unlock()
	if left != 0 {
		t.Errorf("%d failures left: not retried", left)
	}
}

func TestHistoryFailureDoesNotBlock(t *testing.T) {
	te := newTestEngine(t, []Rule{{Name: "mm", Kind: KindChecksumMismatch}}, func(o *Options) { o.History = failingHistory{} })
	te.Mismatch("example.com/m", "v1.0.0", "zip")
	te.at(0)
	te.flush(t)
	if got := summary(te.recv.got()); !equal(got, []string{"firing"}) {
		t.Errorf("notifications %q", got)
	}
}

type failingHistory struct{}

func (failingHistory) AddAlertEvent(context.Context, db.AlertEvent) error {
	return errors.New("database is down")
}

// TestRun: Run evaluates on its own, with the Options clock, until its
// context ends; the receiver's first request is what the test waits for.
func TestRun(t *testing.T) {
	got := make(chan Payload, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var p Payload
		json.NewDecoder(r.Body).Decode(&p)
		got <- p
	}))
	defer srv.Close()
	e, err := New(Options{Rules: []Rule{{Name: "mm", Kind: KindChecksumMismatch}},
		Notifiers: []Notifier{{Name: "hook", Type: TypeWebhook, URL: srv.URL}}, Interval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close(context.Background())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { e.Run(ctx); close(done) }()
	e.Mismatch("example.com/m", "v1.0.0", "zip")
	select {
	case p := <-got:
		if p.Rule != "mm" || p.State != StateFiring {
			t.Errorf("got %+v", p)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run never notified")
	}
	cancel()
	<-done
}

func TestNilEngine(t *testing.T) {
	var e *Engine
	e.Observe(audit.Record{Remote: "10.0.0.1"})
	e.Mismatch("example.com/m", "v1.0.0", "zip")
	e.SumDB(errors.New("down"))
	if a := e.Alerts(); a != nil {
		t.Errorf("Alerts of a nil Engine = %v", a)
	}
}

// BenchmarkObserve: the cost on the request path of a client-rate and an
// error-rate rule, for a known client.
func BenchmarkObserve(b *testing.B) {
	e, err := New(Options{Rules: []Rule{
		{Name: "rate", Kind: KindClientRate, Threshold: 200, RequestKind: audit.KindLatest},
		{Name: "any", Kind: KindClientRate, Threshold: 10000},
		{Name: "5xx", Kind: KindErrorRate, Threshold: 5},
	}})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close(context.Background())
	rec := audit.Record{Time: t0, Remote: "10.0.0.1", Kind: audit.KindLatest, Status: 200}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			e.Observe(rec)
		}
	})
}

// TestConcurrentUse: the inputs, evaluation and Alerts at once (for the
// race detector), and every request counted.
func TestConcurrentUse(t *testing.T) {
	te := newTestEngine(t, []Rule{{Name: "rate", Kind: KindClientRate, Threshold: 399}, {Name: "5xx", Kind: KindErrorRate, Threshold: 50}, {Name: "sumdb", Kind: KindSumDBUnreachable}})
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 100 {
				te.Observe(audit.Record{Time: t0, Remote: "10.0.0.1", Kind: audit.KindZip, Status: 200 + 300*(i%2)})
				te.SumDB(nil)
				if g == 0 {
					te.Alerts()
				}
			}
		}()
	}
	for range 10 {
		te.EvaluateNow(t0)
	}
	wg.Wait()
	te.at(time.Second)
	if got := te.states(); !equal(got, []string{"firing 10.0.0.1"}) {
		t.Errorf("alerts %q: want 400 requests over 399 from one client, 50%% 5xx not over 50%%", got)
	}
}
