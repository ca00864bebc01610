package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/mod/module"

	"github.com/gomirror/gomirror/auth"
	"github.com/gomirror/gomirror/i18n"
	"github.com/gomirror/gomirror/internal/clientaddr"
	"github.com/gomirror/gomirror/obs"
	"github.com/gomirror/gomirror/policy"
)

// The policy check endpoint, POST /api/v1/policy/check: the dependency
// policy's decisions on module versions for the requester's token, with
// the server's facts, for `gomirror policy check --mirror` and `gomirror
// policy explain --mirror`. It is a client endpoint, not an operator one:
// it goes through auth like a module request that names no module (a
// token is needed only with auth all), and then each module version asked
// about is decided only if the requester may read its module
// (PolicyOptions.Allows, auth.Authenticator.Allows); for any other the
// answer is "not permitted", the same whether the module exists or not.
//
// What a requester can make the server do with it is what it can do with
// module requests: the facts a rule needs are those the request path
// gathers (a version's .info, the module's latest go.mod, the zip for a
// licenses rule, the vulnerability database), fetched and verified the
// same way. It is bounded: at most MaxPolicyQueries module versions and
// MaxPolicyBody bytes per request, PolicyOptions.Concurrency decisions at a
// time across all requests, of which one client (a token, else a client
// address) holds at most PolicyOptions.ClientConcurrency, with at most
// PolicyOptions.ClientRequests requests in progress (more: 429), and
// PolicyOptions.Timeout per request (a version not decided by then is
// answered with an error). So a client flooding the endpoint slows itself,
// not the others; many addresses without a token still share the one pool
// (a server with auth all answers no request without a token).

// MaxPolicyQueries is the most module versions one policy check request
// may ask about; a client splits a longer list into several requests.
const MaxPolicyQueries = 1000

// MaxPolicyBody is the most bytes of a policy check request's body.
const MaxPolicyBody = 256 << 10

// PolicyQuery is a module version asked about.
type PolicyQuery struct {
	Module  string `json:"module"`
	Version string `json:"version"` // canonical
	// Kind is "zip" (the default: the code is used, every check runs,
	// licenses too) or "mod" (only its go.mod is read, as for a go.sum
	// "/go.mod" line: licenses, judged on the code, are not).
	Kind string `json:"kind,omitempty"`
}

// PolicyCheckRequest is the body of POST /api/v1/policy/check.
type PolicyCheckRequest struct {
	Modules []PolicyQuery `json:"modules"`
	// Explain asks for the checks of the deciding rule (PolicyDecision.Checks).
	Explain bool `json:"explain,omitempty"`
}

// PolicyCheckResponse is its answer: a decision per query, in order.
type PolicyCheckResponse struct {
	Decisions []PolicyDecision `json:"decisions"`
}

// PolicyCheck is one check of a rule that asked for a fact, as explain
// shows it: the checks run in order, and the first that fails decides.
type PolicyCheck struct {
	Name    string `json:"name"`           // "min-age", "deny-retracted", "deny-vulnerable", "licenses"
	Fact    string `json:"fact,omitempty"` // what it found: "published 2024-01-02T03:04:05Z", "licenses MIT"
	Passed  bool   `json:"passed"`
	Outcome string `json:"outcome,omitempty"`
	// FactText and OutcomeText are Fact and Outcome as messages for a
	// person (their String is Fact and Outcome), set where the policy is
	// decided in this process (Decide); a decision read from JSON (a
	// mirror's) has only the English strings.
	FactText    i18n.Text `json:"-"`
	OutcomeText i18n.Text `json:"-"`
}

// PolicyDecision is the policy's decision on a module version.
type PolicyDecision struct {
	Module  string `json:"module"`
	Version string `json:"version"`
	// Allowed is false for a refusal by an enforced rule or the default;
	// a refusal by a rule in mode warn is allowed, with Mode "warn".
	Allowed bool   `json:"allowed"`
	Mode    string `json:"mode,omitempty"` // of a refusal: "enforce" or "warn"
	// Rule names the deciding rule ("name", or "rule N"), "default" when
	// none matched; Set its rule set ("" for the top-level rules); File
	// and Line where it is.
	Rule   string `json:"rule,omitempty"`
	Set    string `json:"set,omitempty"`
	File   string `json:"file,omitempty"`
	Line   int    `json:"line,omitempty"`
	Reason string `json:"reason,omitempty"`
	// ReasonText is Reason as a message for a person (its String is
	// Reason), set where the policy is decided in this process (Decide);
	// a decision read from JSON (a mirror's) has only Reason, in English.
	ReasonText i18n.Text `json:"-"`
	// Checks are the deciding rule's checks that asked for a fact, with
	// Explain.
	Checks []PolicyCheck `json:"checks,omitempty"`
	// Error says why there is no decision; the fields above but Module and
	// Version are then empty.
	Error string `json:"error,omitempty"`
}

// Warned reports whether d is a refusal by a rule in mode warn.
func (d PolicyDecision) Warned() bool { return d.Error == "" && d.Allowed && d.Mode == "warn" }

// Violation reports whether d is an enforced refusal.
func (d PolicyDecision) Violation() bool { return d.Error == "" && !d.Allowed }

// Where is the deciding rule and its place, as policy.Decision's Where
// says it: `rule "no-old-yaml" (policy.yaml:12)`, `set "strict" rule 3
// (policy.yaml:20)`, `default (policy.yaml:1)`.
func (d PolicyDecision) Where() string {
	var b strings.Builder
	if d.Set != "" {
		fmt.Fprintf(&b, "set %q ", d.Set)
	}
	switch {
	case d.Rule == "" || d.Rule == "default":
		b.WriteString("default")
	case strings.HasPrefix(d.Rule, "rule "):
		b.WriteString(d.Rule)
	default:
		fmt.Fprintf(&b, "rule %q", d.Rule)
	}
	if d.File != "" {
		fmt.Fprintf(&b, " (%s:%d)", d.File, d.Line)
	}
	return b.String()
}

// ErrNotPermitted is the decision error of a module the requester may not
// read.
var ErrNotPermitted = errors.New("not permitted: this token may not read the module")

// PolicyOptions configure the policy check endpoint.
type PolicyOptions struct {
	// Policy returns the policy in force; nil for a server without one
	// (every request is answered 404, ErrNoPolicy).
	Policy func() *policy.Policy
	// Facts are the server's facts for the policy's checks.
	Facts policy.Facts
	// Allows reports whether the token named token ("" for none) may read
	// module mod (auth.Authenticator.Allows); nil allows everything.
	Allows func(token, mod string) bool
	// Concurrency bounds the decisions taken at a time by all requests;
	// 0 means 8.
	Concurrency int
	// ClientConcurrency bounds the decisions taken at a time for one
	// client (its token name, else its address, clientaddr.Key), all its
	// requests together, so one request too; 0 means a quarter of
	// Concurrency (at least 1). What is left of Concurrency stays for
	// other clients.
	ClientConcurrency int
	// ClientRequests bounds one client's requests in progress; one more is
	// answered 429 Too Many Requests. 0 means 2 (`gomirror policy check`
	// sends its requests one after the other).
	ClientRequests int
	// Timeout bounds one request; 0 means 2 minutes.
	Timeout time.Duration
}

// PolicyHandler serves POST /api/v1/policy/check.
type PolicyHandler struct {
	opts  PolicyOptions
	slots chan struct{}

	mu      sync.Mutex
	clients map[string]*policyClient // clients with requests in progress
}

// policyClient is one client's share: its decision slots and its requests
// in progress. It is forgotten when it has none, so the map holds no more
// entries than there are requests in progress.
type policyClient struct {
	slots    chan struct{}
	requests int
}

// client counts a request of the client key in, or returns nil if the
// client has ClientRequests in progress already; done counts it out.
func (h *PolicyHandler) client(key string) *policyClient {
	h.mu.Lock()
	defer h.mu.Unlock()
	c := h.clients[key]
	if c == nil {
		c = &policyClient{slots: make(chan struct{}, h.opts.ClientConcurrency)}
		h.clients[key] = c
	}
	if c.requests >= h.opts.ClientRequests {
		return nil
	}
	c.requests++
	return c
}

func (h *PolicyHandler) done(key string, c *policyClient) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if c.requests--; c.requests == 0 {
		delete(h.clients, key)
	}
}

// clientKey is who a request counts against: its token's name, else its
// client address (clientaddr.Key: an IPv6 client by its /64).
func clientKey(r *http.Request) string {
	if name := auth.Identity(r.Context()); name != "" {
		return "token " + name
	}
	return "address " + clientaddr.Key(clientaddr.From(r))
}

// PolicyPath is the policy check endpoint's path, and PolicyRoute the
// pattern PolicyHandler serves.
const (
	PolicyPath  = "/api/v1/policy/check"
	PolicyRoute = "POST " + PolicyPath
)

// ErrNoPolicy is the answer (404) of a server without a policy: a check
// against it checks nothing, which a CI gate must not take for a pass.
var ErrNoPolicy = errors.New("this mirror has no policy (setting policy)")

// NewPolicyHandler returns the policy check endpoint of opts.
func NewPolicyHandler(opts PolicyOptions) *PolicyHandler {
	if opts.Concurrency <= 0 {
		opts.Concurrency = 8
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 2 * time.Minute
	}
	if opts.ClientConcurrency <= 0 {
		opts.ClientConcurrency = max(1, opts.Concurrency/4)
	}
	opts.ClientConcurrency = min(opts.ClientConcurrency, opts.Concurrency)
	if opts.ClientRequests <= 0 {
		opts.ClientRequests = 2
	}
	return &PolicyHandler{opts: opts, slots: make(chan struct{}, opts.Concurrency), clients: map[string]*policyClient{}}
}

func (h *PolicyHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	obs.RequestFrom(r.Context()).Kind = "policy-check"
	if h.opts.Policy == nil {
		writeJSON(w, http.StatusNotFound, errorBody{ErrNoPolicy.Error()})
		return
	}
	// JSON only: a browser sends text/plain, a form or no type cross-site
	// without a preflight, with a console session's cookie; this type it
	// does not (CSRF).
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		writeJSON(w, http.StatusUnsupportedMediaType, errorBody{"the request body must be Content-Type: application/json"})
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, MaxPolicyBody)
	var req PolicyCheckRequest
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			writeJSON(w, http.StatusRequestEntityTooLarge, errorBody{fmt.Sprintf("request body larger than %d bytes", MaxPolicyBody)})
			return
		}
		writeJSON(w, http.StatusBadRequest, errorBody{"malformed request body: " + err.Error()})
		return
	}
	if len(req.Modules) > MaxPolicyQueries {
		writeJSON(w, http.StatusRequestEntityTooLarge, errorBody{fmt.Sprintf("%d module versions: at most %d per request", len(req.Modules), MaxPolicyQueries)})
		return
	}
	kinds := make([]policy.Kind, len(req.Modules))
	for i, q := range req.Modules {
		if err := module.Check(q.Module, q.Version); err != nil {
			writeJSON(w, http.StatusBadRequest, errorBody{fmt.Sprintf("modules[%d]: %v", i, err)})
			return
		}
		switch q.Kind {
		case "", "zip":
			kinds[i] = policy.KindCheck
		case "mod":
			kinds[i] = policy.KindMod
		default:
			writeJSON(w, http.StatusBadRequest, errorBody{fmt.Sprintf("modules[%d]: kind %q: want zip or mod", i, q.Kind)})
			return
		}
	}
	key := clientKey(r)
	client := h.client(key)
	if client == nil {
		w.Header().Set("Retry-After", "10")
		writeJSON(w, http.StatusTooManyRequests, errorBody{fmt.Sprintf("more than %d policy check requests at a time from this client", h.opts.ClientRequests)})
		return
	}
	defer h.done(key, client)
	ctx, cancel := context.WithTimeout(r.Context(), h.opts.Timeout)
	defer cancel()
	token := auth.Identity(r.Context())
	pol := h.opts.Policy()
	out := make([]PolicyDecision, len(req.Modules))
	var wg sync.WaitGroup
	for i, q := range req.Modules {
		out[i] = PolicyDecision{Module: q.Module, Version: q.Version}
		if h.opts.Allows != nil && !h.opts.Allows(token, q.Module) {
			out[i].Error = ErrNotPermitted.Error()
			continue
		}
		// The client's own slot first, so that waiting for it holds none
		// of the slots other clients share.
		select {
		case client.slots <- struct{}{}:
		case <-ctx.Done():
			out[i].Error = "not decided: " + ctx.Err().Error()
			continue
		}
		select {
		case h.slots <- struct{}{}:
		case <-ctx.Done():
			<-client.slots
			out[i].Error = "not decided: " + ctx.Err().Error()
			continue
		}
		wg.Go(func() {
			defer func() { <-h.slots; <-client.slots }()
			m := module.Version{Path: q.Module, Version: q.Version}
			out[i] = Decide(ctx, pol, policy.Subject{Token: token}, m, kinds[i], h.opts.Facts, req.Explain)
		})
	}
	wg.Wait()
	writeJSON(w, http.StatusOK, PolicyCheckResponse{Decisions: out})
}

type errorBody struct {
	Error string `json:"error"`
}

// Decide decides m with pol for subj and facts, as a PolicyDecision:
// with explain, the checks that asked for a fact are recorded in
// Checks. The one place, for the server's endpoint and `gomirror policy
// check --policy`, where a policy.Decision becomes a PolicyDecision.
func Decide(ctx context.Context, pol *policy.Policy, subj policy.Subject, m module.Version, k policy.Kind, facts policy.Facts, explain bool) PolicyDecision {
	out := PolicyDecision{Module: m.Path, Version: m.Version}
	if facts == nil {
		facts = noFacts{}
	}
	var rec *factRecorder
	if explain {
		rec = &factRecorder{Facts: facts}
		facts = rec
	}
	d, err := pol.Decide(ctx, subj, m, k, facts)
	if err != nil {
		out.Error = err.Error()
		return out
	}
	if d.Unavailable() {
		// The mirror answers 503 (retry) for it: not a violation.
		out.Error = d.Where() + " needs the vulnerability database, which is loading; retry"
		return out
	}
	out.Allowed = !d.Refused()
	if !d.Allowed {
		out.Mode = d.Mode.String()
	}
	out.Rule, out.Set, out.File, out.Line, out.Reason, out.ReasonText = d.Rule, d.Set, d.File, d.Line, d.Reason, d.ReasonText
	if out.Rule == "" {
		out.Rule = "default"
	}
	if rec != nil {
		out.Checks = rec.checks
		// The checks run in order and the first that fails decides: a
		// refusal by a rule's check is its last.
		if n := len(out.Checks); n > 0 && !d.Allowed {
			out.Checks[n-1].Passed = false
			out.Checks[n-1].Outcome, out.Checks[n-1].OutcomeText = d.Reason, d.ReasonText
		}
	}
	return out
}

// factRecorder is a policy.Facts that records each fact asked for as a
// passed check (Decide marks the failing one).
type factRecorder struct {
	policy.Facts
	mu     sync.Mutex
	checks []PolicyCheck
}

func (f *factRecorder) add(name string, fact i18n.Text, err error) {
	c := PolicyCheck{Name: name, FactText: fact, Passed: true, Outcome: "passed"}
	if err != nil {
		c.FactText = i18n.T("not known: %s", err.Error())
		c.Outcome = "skipped"
	}
	c.Fact = c.FactText.String()
	f.mu.Lock()
	f.checks = append(f.checks, c)
	f.mu.Unlock()
}

func (f *factRecorder) Time(ctx context.Context, m module.Version) (time.Time, error) {
	t, err := f.Facts.Time(ctx, m)
	f.add("min-age", i18n.T("published %s", t.UTC().Format(time.RFC3339)), err)
	return t, err
}

func (f *factRecorder) Retracted(ctx context.Context, m module.Version) (string, bool, error) {
	why, ok, err := f.Facts.Retracted(ctx, m)
	fact := i18n.T("not retracted by the latest go.mod")
	if ok {
		fact = i18n.T("retracted by the latest go.mod")
		if why != "" {
			fact = i18n.T("retracted by the latest go.mod: %s", why)
		}
	}
	f.add("deny-retracted", fact, err)
	return why, ok, err
}

func (f *factRecorder) Licenses(ctx context.Context, m module.Version) ([]string, error) {
	ids, err := f.Facts.Licenses(ctx, m)
	fact := i18n.T("no license found")
	if len(ids) > 0 {
		fact = i18n.T("licenses %s", strings.Join(ids, ", "))
	}
	f.add("licenses", fact, err)
	return ids, err
}

func (f *factRecorder) Vulns(ctx context.Context, m module.Version) ([]policy.Advisory, error) {
	advs, err := f.Facts.Vulns(ctx, m)
	fact := i18n.T("no advisories")
	if len(advs) > 0 {
		ids := make([]string, len(advs))
		for i, a := range advs {
			ids[i] = a.ID
		}
		fact = i18n.T("advisories %s", strings.Join(ids, ", "))
	}
	f.add("deny-vulnerable", fact, err)
	return advs, err
}

// noFacts knows nothing: a decision that needs a fact fails.
type noFacts struct{}

var errNoFacts = errors.New("no facts available")

func (noFacts) Time(context.Context, module.Version) (time.Time, error) {
	return time.Time{}, errNoFacts
}

func (noFacts) Retracted(context.Context, module.Version) (string, bool, error) {
	return "", false, errNoFacts
}

func (noFacts) Licenses(context.Context, module.Version) ([]string, error) { return nil, errNoFacts }

func (noFacts) Vulns(context.Context, module.Version) ([]policy.Advisory, error) {
	return nil, errNoFacts
}
