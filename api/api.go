// Package api serves gomirror's JSON API for operators, /api/v1/, and the
// Athens-compatible /catalog: the audit log, download statistics, the
// catalog of stored module versions, an overview, and alerts. Every figure
// the web console shows comes from here: Service answers each question as
// a typed value, the handlers encode what it returns, and the console
// calls the same methods in its process.
//
// The handlers only read. They answer 503 with Retry-After while the
// database is not available (gomirror serves modules without it; only
// /api/v1/alerts still shows the alerts' current state, kept in memory),
// 400 for a malformed
// parameter, naming it, and 404 for a module the catalog does not hold.
// Who may call them is decided by the operator endpoints' access rule
// (server/edge.go), not here.
package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/module"

	"github.com/gomirror/gomirror/alert"
	"github.com/gomirror/gomirror/audit"
	"github.com/gomirror/gomirror/db"
	"github.com/gomirror/gomirror/uphistory"
)

// Store is what the API reads: *db.DB.
type Store interface {
	QueryAudit(ctx context.Context, q audit.Query) (audit.Page, error)
	TopModules(ctx context.Context, p db.Period, n int) ([]db.ModuleCount, error)
	Downloads(ctx context.Context, module string, p db.Period) ([]db.DayCount, error)
	Summarize(ctx context.Context, p db.Period) (db.Summary, error)
	DayTotals(ctx context.Context, p db.Period) (db.Summary, error)
	Modules(ctx context.Context, q, cursor string, limit int) ([]db.ModuleSummary, string, error)
	Module(ctx context.Context, module string) ([]db.Artifact, error)
	Versions(ctx context.Context, cursor string, limit int) ([]module.Version, string, error)
	CatalogTotals(ctx context.Context) (db.Totals, error)
	AlertEvents(ctx context.Context, since time.Time, limit int) ([]db.AlertEvent, error)
	Minutes(ctx context.Context, from, to time.Time) ([]db.MinuteCount, error)
}

var _ Store = (*db.DB)(nil)

// ErrUnavailable is what Options.Store returns while there is no database.
var ErrUnavailable = errors.New("the database is not available")

// Options configure the API.
type Options struct {
	// Store returns the database, or an error wrapping ErrUnavailable
	// while there is none (not configured, or not reachable yet).
	Store func() (Store, error)
	// Alerts returns the alerts' current state, shown by /api/v1/alerts
	// as "alerts" and, the firing ones, by /api/v1/overview; nil without
	// alert rules.
	Alerts func() []alert.Alert
	// Rules are the alert rules, shown by /api/v1/alerts.
	Rules []alert.Rule
	// StorageUsage returns the bytes used and the size of the file system
	// storage is on; nil when there is no such figure (S3).
	StorageUsage func() (used, total int64, err error)
	// Upstreams returns what is known of each upstream's health, for
	// /api/v1/overview; nil for none.
	Upstreams func() []Upstream
	// Mismatches returns the last checksum mismatches, newest first; nil
	// for none.
	Mismatches func() []Mismatch
	// GC returns the garbage collector's state, for /api/v1/overview;
	// nil without storage-max-size or retention.
	GC func() GC
	// Now is the clock; nil is time.Now.
	Now func() time.Time
	// Timeout bounds the database work of one request; 0 means 30s.
	Timeout time.Duration
	// Storage is the artifact storage the version endpoints read
	// (modinfo.go); nil answers them 503.
	Storage Stored
	// UpstreamHistory returns the upstreams' history at a time, for
	// /api/v1/upstreams (upstreams.go); nil answers it 503.
	UpstreamHistory func(now time.Time) []uphistory.Upstream
	// Log receives the detail of the errors answered 500, 503 and 504
	// (whose text is not shown: see Message); nil discards.
	Log *slog.Logger
}

// Service answers the API's questions as values: the handlers encode
// what its methods return, and the web console shows the same values,
// calling the methods in the same process. Its errors are those writeError
// turns into statuses (Status).
type Service struct {
	opts Options
	vers *versions // modinfo.go
}

// NewService returns the service of opts.
func NewService(opts Options) *Service {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 30 * time.Second
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	return &Service{opts: opts, vers: newVersions(opts.Storage)}
}

// Warm starts, in the background, what the first version page would
// otherwise wait for (modinfo.Describer.Warm: licensecheck's set of
// licenses), and returns at once; the channel is closed when it is done
// (at once without storage).
func (s *Service) Warm() <-chan struct{} {
	if s.vers == nil {
		done := make(chan struct{})
		close(done)
		return done
	}
	return s.vers.describer.Warm()
}

// Now returns the service's clock.
func (s *Service) Now() time.Time { return s.opts.Now() }

// Handler serves the API.
type Handler struct {
	svc *Service
	mux *http.ServeMux
}

// Routes are the patterns Handler serves, for the mux the server mounts
// it on.
var Routes = []string{
	"GET /api/v1/audit",
	"GET /api/v1/stats/summary",
	"GET /api/v1/stats/top",
	"GET /api/v1/stats/modules/{module...}",
	"GET /api/v1/modules",
	"GET /api/v1/modules/{module...}",
	"GET /api/v1/alerts",
	"GET /api/v1/overview",
	"GET /catalog",
	"GET /api/v1/upstreams",
}

// New returns the API's handler over a new Service of opts.
func New(opts Options) *Handler { return NewHandler(NewService(opts)) }

// NewHandler returns the API's handler over svc.
func NewHandler(svc *Service) *Handler {
	h := &Handler{svc: svc, mux: http.NewServeMux()}
	handlers := []http.Handler{http.HandlerFunc(h.audit), http.HandlerFunc(h.summary), http.HandlerFunc(h.top),
		http.HandlerFunc(h.moduleStats), http.HandlerFunc(h.modules), h.moduleRoutes(http.HandlerFunc(h.module)),
		http.HandlerFunc(h.alerts), http.HandlerFunc(h.overview), http.HandlerFunc(h.catalog), http.HandlerFunc(h.upstreams)}
	for i, p := range Routes {
		h.mux.Handle(p, handlers[i])
	}
	return h
}

// The detail of an error answered 5xx is logged here, once the handler
// has answered (writeError leaves it in the errorNote).
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := &errorNote{ResponseWriter: w}
	h.mux.ServeHTTP(n, r)
	if n.err != nil {
		h.svc.opts.Log.Error("api: request failed", "path", r.URL.Path, "status", StatusOf(n.err), "err", n.err)
	}
}

// errorNote is the ResponseWriter of a request of the Handler: it keeps
// the error of a 5xx answer for the log.
type errorNote struct {
	http.ResponseWriter
	err error
}

func (n *errorNote) Unwrap() http.ResponseWriter { return n.ResponseWriter }

// withStore calls f with the store and a context bounded by the timeout:
// no query may hold a connection for long (one that runs out of time is
// answered 504). Without a database it returns the store's error.
func (s *Service) withStore(ctx context.Context, f func(context.Context, Store) error) error {
	st, err := s.store()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	return f(ctx, st)
}

// store calls Options.Store. A nil store without an error (a nil *db.DB
// returned as a Store is one too) is ErrUnavailable, not a panic.
func (s *Service) store() (Store, error) {
	st, err := s.opts.Store()
	if err == nil && isNil(st) {
		err = ErrUnavailable
	}
	if err != nil {
		return nil, err
	}
	return st, nil
}

// isNil reports whether st is nil or holds a nil pointer.
func isNil(st Store) bool {
	if st == nil {
		return true
	}
	v := reflect.ValueOf(st)
	return v.Kind() == reflect.Pointer && v.IsNil()
}

// paramError is a malformed query parameter: 400.
type paramError struct {
	name string
	err  error
}

func (e *paramError) Error() string { return fmt.Sprintf("parameter %s: %v", e.name, e.err) }

// StatusOf returns the HTTP status of an error of the Service: 400 for a
// malformed parameter or query (an error with BadRequest() true: a
// malformed cursor), 404 for fs.ErrNotExist, 503 without a database (or
// with one that cannot be used: db.Unavailable), 504 for a query that ran
// out of time, 500 otherwise.
func StatusOf(err error) int {
	var (
		pe *paramError
		br interface{ BadRequest() bool }
	)
	switch {
	case errors.As(err, &pe), errors.As(err, &br) && br.BadRequest():
		return http.StatusBadRequest
	case errors.Is(err, fs.ErrNotExist):
		return http.StatusNotFound
	case errors.Is(err, ErrUnavailable), db.Unavailable(err):
		return http.StatusServiceUnavailable
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusGatewayTimeout
	}
	return http.StatusInternalServerError
}

// Message returns the text of err that may be shown to a client: the
// error's own text for a malformed parameter (400) and for something not
// found (404), which name only what the request asked for; a fixed text
// for the others, whose detail (a database driver's, a file system's) is
// for the log only. With StatusOf, it is where the API's and the
// console's errors become answers.
func Message(err error) string {
	switch StatusOf(err) {
	case http.StatusBadRequest, http.StatusNotFound:
		return err.Error()
	case http.StatusServiceUnavailable:
		return ErrUnavailable.Error()
	case http.StatusGatewayTimeout:
		return "the database did not answer in time"
	}
	return "internal error"
}

// Param returns the name of the query parameter that err says is
// malformed, if it is a parameter error.
func Param(err error) (string, bool) {
	var pe *paramError
	if errors.As(err, &pe) {
		return pe.name, true
	}
	return "", false
}

// writeError answers err as JSON {"error": Message(err)} with its status
// (StatusOf), and Retry-After with a 503; the error of a 5xx is left for
// the Handler to log.
func writeError(w http.ResponseWriter, err error) {
	code := StatusOf(err)
	if n, ok := w.(*errorNote); ok && code >= 500 {
		n.err = err
	}
	if code == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "30")
	}
	writeJSON(w, code, struct {
		Error string `json:"error"`
	}{Message(err)})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// answer writes v, or err.
func answer(w http.ResponseWriter, v any, err error) {
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// audit answers GET /api/v1/audit: a page of audit records, newest first.
// Parameters: since, until (a duration back from now like 24h or 7d, an
// RFC 3339 time, or a date), module (a pattern in GOPRIVATE syntax),
// client, remote, kind, cache, status (404, 4xx, 500-599), limit, cursor.
func (h *Handler) audit(w http.ResponseWriter, r *http.Request) {
	q, err := h.svc.AuditQuery(r.URL.Query())
	if err != nil {
		writeError(w, err)
		return
	}
	page, err := h.svc.Audit(r.Context(), q)
	answer(w, page, err)
}

// Audit returns a page of audit records answering q, newest first
// (Records never nil).
func (s *Service) Audit(ctx context.Context, q audit.Query) (page audit.Page, err error) {
	err = s.withStore(ctx, func(ctx context.Context, st Store) error {
		page, err = st.QueryAudit(ctx, q)
		return err
	})
	if page.Records == nil {
		page.Records = []audit.Record{}
	}
	return page, err
}

// AuditQuery reads an audit query from the parameters of GET
// /api/v1/audit.
func (s *Service) AuditQuery(v url.Values) (audit.Query, error) {
	now := s.opts.Now()
	var q audit.Query
	var err error
	if q.Since, err = ParseTime(v.Get("since"), now); err != nil {
		return q, &paramError{"since", err}
	}
	if q.Until, err = ParseTime(v.Get("until"), now); err != nil {
		return q, &paramError{"until", err}
	}
	q.Module, q.Client, q.Remote, q.Cursor = v.Get("module"), v.Get("client"), v.Get("remote"), v.Get("cursor")
	if q.Kind = v.Get("kind"); q.Kind != "" && !audit.Audited(q.Kind) {
		return q, &paramError{"kind", fmt.Errorf("%q is none of list, latest, info, mod, zip, sumdb", q.Kind)}
	}
	switch q.Cache = v.Get("cache"); q.Cache {
	case "", "hit", "miss", "prefetched", "fresh", "stale":
	default:
		return q, &paramError{"cache", fmt.Errorf("%q is none of hit, miss, prefetched, fresh, stale", q.Cache)}
	}
	if s := v.Get("status"); s != "" {
		if q.StatusMin, q.StatusMax, err = audit.ParseStatus(s); err != nil {
			return q, &paramError{"status", err}
		}
	}
	if q.Limit, err = intParam(v.Get("limit"), 100, 1000); err != nil {
		return q, &paramError{"limit", err}
	}
	return q, nil
}

// ParseTime reads a point in time relative to now: "" is the zero time, a
// duration (24h, 90m, 7d: d is 24 hours) is that long before now, and
// otherwise an RFC 3339 time or a date (2006-01-02, UTC midnight).
func ParseTime(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := ParseDuration(s); err == nil {
		return now.Add(-d), nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return representable(t), nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return representable(t), nil
	}
	return time.Time{}, fmt.Errorf("%q is neither a duration (24h, 7d), an RFC 3339 time nor a date (2006-01-02)", s)
}

// Times the database can hold: nanoseconds since 1970 in an int64, from
// 1677 to 2262.
var (
	minTime = time.Unix(0, math.MinInt64+1).UTC()
	maxTime = time.Unix(0, math.MaxInt64).UTC()
)

// representable returns t within what the database can hold, so that a
// query from the year 1600 or until 2300 means all records rather than
// none.
func representable(t time.Time) time.Time {
	switch {
	case t.Before(minTime):
		return minTime
	case t.After(maxTime):
		return maxTime
	}
	return t
}

// ParseDuration is time.ParseDuration that also takes whole days: "7d".
func ParseDuration(s string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil || days < 0 || days > 100*366 {
			return 0, fmt.Errorf("not a number of days: %q", s)
		}
		return time.Duration(days) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err == nil && d < 0 {
		return 0, fmt.Errorf("negative duration %q", s)
	}
	return d, err
}

// intParam reads a positive integer, def if s is empty, at most max.
func intParam(s string, def, max int) (int, error) {
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("%q is not a positive integer", s)
	}
	return min(n, max), nil
}

// Period reads the days of a statistics query: from and to (dates, both
// included), or days (the last N days, today included; default 30).
func (s *Service) Period(v url.Values) (db.Period, error) {
	today := s.opts.Now().UTC().Truncate(24 * time.Hour)
	p := db.Period{To: today}
	if s := v.Get("to"); s != "" {
		t, err := time.Parse(time.DateOnly, s)
		if err != nil {
			return p, &paramError{"to", fmt.Errorf("%q is not a date (2006-01-02)", s)}
		}
		p.To = t
	}
	if s := v.Get("from"); s != "" {
		t, err := time.Parse(time.DateOnly, s)
		if err != nil {
			return p, &paramError{"from", fmt.Errorf("%q is not a date (2006-01-02)", s)}
		}
		if v.Get("days") != "" {
			return p, &paramError{"days", errors.New("give days or from, not both")}
		}
		p.From = t
	} else {
		days, err := intParam(v.Get("days"), 30, 100*366)
		if err != nil {
			return p, &paramError{"days", err}
		}
		p.From = p.To.AddDate(0, 0, -(days - 1))
	}
	if p.From.After(p.To) {
		return p, &paramError{"from", fmt.Errorf("%s is after %s", p.From.Format(time.DateOnly), p.To.Format(time.DateOnly))}
	}
	return p, nil
}

// LastDays returns the period of the last n days, today included.
func (s *Service) LastDays(n int) db.Period {
	today := s.opts.Now().UTC().Truncate(24 * time.Hour)
	return db.Period{From: today.AddDate(0, 0, -(n - 1)), To: today}
}

// PeriodJSON is how a period is shown.
type PeriodJSON struct {
	From string `json:"from"`
	To   string `json:"to"`
}

func showPeriod(p db.Period) PeriodJSON {
	return PeriodJSON{p.From.Format(time.DateOnly), p.To.Format(time.DateOnly)}
}

// Summary is the answer of GET /api/v1/stats/summary.
type Summary struct {
	Period PeriodJSON `json:"period"`
	db.Summary
}

// summary answers GET /api/v1/stats/summary?days=30 (or from, to): the
// mirror's requests, bytes, hit ratio, clients and modules, in all and per
// day.
func (h *Handler) summary(w http.ResponseWriter, r *http.Request) {
	p, err := h.svc.Period(r.URL.Query())
	if err != nil {
		writeError(w, err)
		return
	}
	sum, err := h.svc.Summary(r.Context(), p)
	answer(w, sum, err)
}

// Summary returns the mirror's figures over p (Days never nil).
func (s *Service) Summary(ctx context.Context, p db.Period) (sum Summary, err error) {
	sum.Period = showPeriod(p)
	err = s.withStore(ctx, func(ctx context.Context, st Store) error {
		sum.Summary, err = st.Summarize(ctx, p)
		return err
	})
	if sum.Days == nil {
		sum.Days = []db.DayCount{}
	}
	return sum, err
}

// Top is the answer of GET /api/v1/stats/top.
type Top struct {
	Period  PeriodJSON       `json:"period"`
	Modules []db.ModuleCount `json:"modules"`
}

// top answers GET /api/v1/stats/top?days=30&n=20: the most downloaded
// modules.
func (h *Handler) top(w http.ResponseWriter, r *http.Request) {
	p, err := h.svc.Period(r.URL.Query())
	if err != nil {
		writeError(w, err)
		return
	}
	n, err := intParam(r.URL.Query().Get("n"), 20, 1000)
	if err != nil {
		writeError(w, &paramError{"n", err})
		return
	}
	top, err := h.svc.Top(r.Context(), p, n)
	answer(w, top, err)
}

// Top returns the n most downloaded modules over p.
func (s *Service) Top(ctx context.Context, p db.Period, n int) (top Top, err error) {
	top.Period = showPeriod(p)
	err = s.withStore(ctx, func(ctx context.Context, st Store) error {
		top.Modules, err = st.TopModules(ctx, p, n)
		return err
	})
	if top.Modules == nil {
		top.Modules = []db.ModuleCount{}
	}
	return top, err
}

// modulePath reads the {module} wildcard: a module path, as the go command
// names it (not escaped).
func modulePath(r *http.Request) (string, error) {
	return CheckModule(r.PathValue("module"))
}

// CheckModule returns m if it is a module path, else a parameter error
// (400).
func CheckModule(m string) (string, error) {
	if err := module.CheckImportPath(m); err != nil {
		return "", &paramError{"module", err}
	}
	return m, nil
}

// ModuleStats is the answer of GET /api/v1/stats/modules/{module}.
type ModuleStats struct {
	Module string        `json:"module"`
	Period PeriodJSON    `json:"period"`
	Days   []db.DayCount `json:"days"`
}

// moduleStats answers GET /api/v1/stats/modules/{module}?days=30: one
// module's figures per day and version.
func (h *Handler) moduleStats(w http.ResponseWriter, r *http.Request) {
	m, err := modulePath(r)
	if err != nil {
		writeError(w, err)
		return
	}
	p, err := h.svc.Period(r.URL.Query())
	if err != nil {
		writeError(w, err)
		return
	}
	ms, err := h.svc.ModuleStats(r.Context(), m, p)
	answer(w, ms, err)
}

// ModuleStats returns module m's figures per day and version over p.
func (s *Service) ModuleStats(ctx context.Context, m string, p db.Period) (ms ModuleStats, err error) {
	ms.Module, ms.Period = m, showPeriod(p)
	err = s.withStore(ctx, func(ctx context.Context, st Store) error {
		ms.Days, err = st.Downloads(ctx, m, p)
		return err
	})
	if ms.Days == nil {
		ms.Days = []db.DayCount{}
	}
	return ms, err
}

// Modules is the answer of GET /api/v1/modules.
type Modules struct {
	Modules []db.ModuleSummary `json:"modules"`
	Next    string             `json:"next,omitempty"`
	Totals  Totals             `json:"totals"`
}

// modules answers GET /api/v1/modules?q=&cursor=&limit=: stored modules
// whose path contains q, in path order, a page at a time, with the
// catalog's totals.
func (h *Handler) modules(w http.ResponseWriter, r *http.Request) {
	v := r.URL.Query()
	limit, err := intParam(v.Get("limit"), 100, 1000)
	if err != nil {
		writeError(w, &paramError{"limit", err})
		return
	}
	mods, err := h.svc.Modules(r.Context(), v.Get("q"), v.Get("cursor"), limit)
	answer(w, mods, err)
}

// MaxQuery bounds the length of a module search (the q parameter), in
// bytes. A stored module path came in a request path of at most
// proxy.MaxPathLen (1,024) bytes, so a longer q matches nothing (x/mod's
// module.CheckPath bounds no length itself); refusing it spares the
// database a pattern it may refuse (SQLite: "LIKE or GLOB pattern too
// complex") or take long over.
const MaxQuery = 1024

// checkQuery returns a parameter error (400) for a q over MaxQuery.
func checkQuery(q string) error {
	if len(q) > MaxQuery {
		return &paramError{"q", fmt.Errorf("longer than %d bytes", MaxQuery)}
	}
	return nil
}

// Modules returns a page of the stored modules whose path contains q;
// a q longer than MaxQuery is a parameter error.
func (s *Service) Modules(ctx context.Context, q, cursor string, limit int) (mods Modules, err error) {
	if err := checkQuery(q); err != nil {
		return Modules{Modules: []db.ModuleSummary{}}, err
	}
	err = s.withStore(ctx, func(ctx context.Context, st Store) error {
		if mods.Modules, mods.Next, err = st.Modules(ctx, q, cursor, limit); err != nil {
			return err
		}
		t, err := st.CatalogTotals(ctx)
		mods.Totals = Totals(t)
		return err
	})
	if mods.Modules == nil {
		mods.Modules = []db.ModuleSummary{}
	}
	return mods, err
}

// ModulePage returns a page of the stored modules whose path contains q,
// as Modules does, without the catalog's totals (one query fewer: for
// callers that read many pages, such as the console's filtered list).
func (s *Service) ModulePage(ctx context.Context, q, cursor string, limit int) (mods []db.ModuleSummary, next string, err error) {
	if err := checkQuery(q); err != nil {
		return nil, "", err
	}
	err = s.withStore(ctx, func(ctx context.Context, st Store) error {
		mods, next, err = st.Modules(ctx, q, cursor, limit)
		return err
	})
	return mods, next, err
}

// Totals is how the catalog's totals are shown (db.Totals has no JSON
// names of its own).
type Totals struct {
	Modules  int64 `json:"modules"`
	Versions int64 `json:"versions"`
	Objects  int64 `json:"objects"`
	Bytes    int64 `json:"bytes"`
}

// Version is one stored version of a module.
type Version struct {
	Version        string        `json:"version"`
	Files          []db.Artifact `json:"files"`
	Bytes          int64         `json:"bytes"`
	Stored         time.Time     `json:"stored"`
	LastDownloaded time.Time     `json:"last_downloaded,omitzero"`
}

// Module is the answer of GET /api/v1/modules/{module}.
type Module struct {
	Module   string    `json:"module"`
	Versions []Version `json:"versions"`
}

// module answers GET /api/v1/modules/{module}: the module's stored
// versions (newest first) and their files; 404 if none is stored.
func (h *Handler) module(w http.ResponseWriter, r *http.Request) {
	m, err := modulePath(r)
	if err != nil {
		writeError(w, err)
		return
	}
	mod, err := h.svc.Module(r.Context(), m)
	answer(w, mod, err)
}

// Module returns module m's stored versions, newest first, and their
// files; an error wrapping fs.ErrNotExist if none is stored.
func (s *Service) Module(ctx context.Context, m string) (Module, error) {
	var arts []db.Artifact
	err := s.withStore(ctx, func(ctx context.Context, st Store) (err error) {
		arts, err = st.Module(ctx, m)
		return err
	})
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			err = fmt.Errorf("no version of %s is stored: %w", m, fs.ErrNotExist)
		}
		return Module{}, err
	}
	var versions []Version
	for _, a := range arts {
		if len(versions) == 0 || versions[len(versions)-1].Version != a.Version {
			versions = append(versions, Version{Version: a.Version})
		}
		v := &versions[len(versions)-1]
		v.Files = append(v.Files, a)
		v.Bytes += a.Size
		if a.Stored.After(v.Stored) {
			v.Stored = a.Stored
		}
		if a.LastDownloaded.After(v.LastDownloaded) {
			v.LastDownloaded = a.LastDownloaded
		}
	}
	return Module{Module: m, Versions: versions}, nil
}

// Rule is an alert rule as /api/v1/alerts shows it.
type Rule struct {
	Name      string        `json:"name"`
	Kind      string        `json:"kind"`
	Threshold float64       `json:"threshold,omitempty"`
	Window    time.Duration `json:"window_ns,omitempty"`
	Notifiers []string      `json:"notifiers,omitempty"`
}

// Alerts is the answer of GET /api/v1/alerts.
type Alerts struct {
	Rules        []Rule          `json:"rules"`
	Alerts       []alert.Alert   `json:"alerts"`
	History      []db.AlertEvent `json:"history"`
	HistoryError string          `json:"history_error,omitempty"`
}

// alerts answers GET /api/v1/alerts?since=7d&limit=: the alert rules, the
// alerts' current state and their history, newest first. The current
// state is kept in memory, so without a database (and with
// Options.Alerts) it is still answered, with an empty history and the
// reason in "history_error".
func (h *Handler) alerts(w http.ResponseWriter, r *http.Request) {
	v := r.URL.Query()
	since, err := ParseTime(v.Get("since"), h.svc.Now())
	if err != nil {
		writeError(w, &paramError{"since", err})
		return
	}
	limit, err := intParam(v.Get("limit"), 100, 1000)
	if err != nil {
		writeError(w, &paramError{"limit", err})
		return
	}
	a, err := h.svc.Alerts(r.Context(), since, limit)
	answer(w, a, err)
}

// Alerts returns the alert rules, the alerts' current state, and at most
// limit events of their history since since, newest first.
func (s *Service) Alerts(ctx context.Context, since time.Time, limit int) (Alerts, error) {
	out := Alerts{Rules: make([]Rule, len(s.opts.Rules)), Alerts: []alert.Alert{}}
	for i, r := range s.opts.Rules {
		out.Rules[i] = Rule{Name: r.Name, Kind: r.Kind, Threshold: r.Threshold, Window: r.Window, Notifiers: r.Notifiers}
	}
	err := s.withStore(ctx, func(ctx context.Context, st Store) (err error) {
		out.History, err = st.AlertEvents(ctx, since, limit)
		return err
	})
	// The current alerts are in memory: shown whatever the history's
	// database does, which is when they matter most.
	if err != nil && s.opts.Alerts != nil && unavailable(err) {
		out.HistoryError, err = Message(err), nil // no driver's detail
		s.opts.Log.Warn("api: alert history not read", "err", err)
	}
	if out.History == nil {
		out.History = []db.AlertEvent{}
	}
	if s.opts.Alerts != nil {
		if a := s.opts.Alerts(); a != nil {
			out.Alerts = a
		}
	}
	return out, err
}

// unavailable reports whether err says that the database cannot answer
// now (none, not reachable, or too slow).
func unavailable(err error) bool {
	return errors.Is(err, ErrUnavailable) || db.Unavailable(err) || errors.Is(err, context.DeadlineExceeded)
}

// CatalogEntry is one module version in Athens' /catalog format.
type CatalogEntry struct {
	Module  string `json:"module"`
	Version string `json:"version"`
}

// Catalog is the answer of GET /catalog.
type Catalog struct {
	Modules []CatalogEntry `json:"modules"`
	Next    string         `json:"next,omitempty"`
}

// catalog answers GET /catalog?token=&pagesize= as Athens does: the
// stored module versions, {"modules": [{"module", "version"}], "next":
// token}, pagesize (default 1000) at a time.
func (h *Handler) catalog(w http.ResponseWriter, r *http.Request) {
	v := r.URL.Query()
	size, err := intParam(v.Get("pagesize"), 1000, 10000)
	if err != nil {
		writeError(w, &paramError{"pagesize", err})
		return
	}
	c, err := h.svc.Catalog(r.Context(), v.Get("token"), size)
	answer(w, c, err)
}

// Catalog returns a page of at most size stored module versions.
func (s *Service) Catalog(ctx context.Context, token string, size int) (Catalog, error) {
	var vs []module.Version
	var next string
	err := s.withStore(ctx, func(ctx context.Context, st Store) (err error) {
		vs, next, err = st.Versions(ctx, token, size)
		return err
	})
	out := make([]CatalogEntry, len(vs))
	for i, mv := range vs {
		out[i] = CatalogEntry{mv.Path, mv.Version}
	}
	return Catalog{Modules: out, Next: next}, err
}
