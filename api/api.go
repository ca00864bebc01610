// Package api serves gomirror's JSON API for operators, /api/v1/, and the
// Athens-compatible /catalog: the audit log, download statistics, the
// catalog of stored module versions, and alerts. Every figure the web
// console shows comes from here.
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
	"math"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/module"

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
	Modules(ctx context.Context, q, cursor string, limit int) ([]db.ModuleSummary, string, error)
	Module(ctx context.Context, module string) ([]db.Artifact, error)
	Versions(ctx context.Context, cursor string, limit int) ([]module.Version, string, error)
	CatalogTotals(ctx context.Context) (db.Totals, error)
	AlertEvents(ctx context.Context, since time.Time, limit int) ([]db.AlertEvent, error)
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
	// as "alerts"; nil without alert rules.
	Alerts func() any
	// Now is the clock; nil is time.Now.
	Now func() time.Time
	// Timeout bounds the database work of one request; 0 means 30s.
	Timeout time.Duration
	// Storage is the artifact storage the version endpoints read
	// (modinfo.go); nil answers them 503.
	Storage Stored
	// Upstreams returns the upstreams' history at a time, for
	// /api/v1/upstreams (upstreams.go); nil answers it with none.
	Upstreams func(now time.Time) []uphistory.Upstream
}

// Handler serves the API.
type Handler struct {
	opts Options
	mux  *http.ServeMux
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
	"GET /catalog",
	"GET /api/v1/upstreams",
}

// New returns the API's handler.
func New(opts Options) *Handler {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 30 * time.Second
	}
	h := &Handler{opts: opts, mux: http.NewServeMux()}
	handlers := []http.Handler{h.withStore(h.audit), h.withStore(h.summary), h.withStore(h.top), h.withStore(h.moduleStats),
		h.withStore(h.modules), h.moduleRoutes(h.withStore(h.module)), http.HandlerFunc(h.alerts), h.withStore(h.catalog),
		http.HandlerFunc(h.upstreams)}
	for i, p := range Routes {
		h.mux.Handle(p, handlers[i])
	}
	return h
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

type storeKey struct{}

// withStore answers 503 while there is no database, and gives next the
// store through the request's context otherwise.
func (h *Handler) withStore(next http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st, err := h.store()
		if err != nil {
			writeError(w, err)
			return
		}
		// No query may hold a connection for long: one that runs out of
		// time is answered 504.
		ctx, cancel := context.WithTimeout(r.Context(), h.opts.Timeout)
		defer cancel()
		next(w, r.WithContext(context.WithValue(ctx, storeKey{}, st)))
	})
}

// store calls Options.Store. A nil store without an error (a nil *db.DB
// returned as a Store is one too) is ErrUnavailable, not a panic.
func (h *Handler) store() (Store, error) {
	st, err := h.opts.Store()
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

func storeOf(r *http.Request) Store { return r.Context().Value(storeKey{}).(Store) }

// paramError is a malformed query parameter: 400.
type paramError struct {
	name string
	err  error
}

func (e *paramError) Error() string { return fmt.Sprintf("parameter %s: %v", e.name, e.err) }

// writeError answers err as JSON {"error": "..."} with its status: 400 for
// a malformed parameter or query (an error with BadRequest() true: a
// malformed cursor), 404 for fs.ErrNotExist, 503 without a database (or
// with one that cannot be used: db.Unavailable),
// 504 for a query that ran out of time, 500 otherwise.
func writeError(w http.ResponseWriter, err error) {
	code := http.StatusInternalServerError
	var (
		pe *paramError
		br interface{ BadRequest() bool }
	)
	switch {
	case errors.As(err, &pe), errors.As(err, &br) && br.BadRequest():
		code = http.StatusBadRequest
	case errors.Is(err, fs.ErrNotExist):
		code = http.StatusNotFound
	case errors.Is(err, ErrUnavailable), db.Unavailable(err):
		code = http.StatusServiceUnavailable
		w.Header().Set("Retry-After", "30")
	case errors.Is(err, context.DeadlineExceeded):
		code = http.StatusGatewayTimeout
	}
	writeJSON(w, code, struct {
		Error string `json:"error"`
	}{err.Error()})
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
	q, err := h.auditQuery(r)
	if err != nil {
		writeError(w, err)
		return
	}
	page, err := storeOf(r).QueryAudit(r.Context(), q)
	if page.Records == nil {
		page.Records = []audit.Record{}
	}
	answer(w, page, err)
}

// auditQuery reads an audit query from r's parameters.
func (h *Handler) auditQuery(r *http.Request) (audit.Query, error) {
	v := r.URL.Query()
	now := h.opts.Now()
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
	case "", "hit", "miss", "fresh", "stale":
	default:
		return q, &paramError{"cache", fmt.Errorf("%q is none of hit, miss, fresh, stale", q.Cache)}
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

// period reads the days of a statistics query: from and to (dates, both
// included), or days (the last N days, today included; default 30).
func (h *Handler) period(r *http.Request) (db.Period, error) {
	v := r.URL.Query()
	today := h.opts.Now().UTC().Truncate(24 * time.Hour)
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

// periodJSON is how a period is shown.
type periodJSON struct {
	From string `json:"from"`
	To   string `json:"to"`
}

func showPeriod(p db.Period) periodJSON {
	return periodJSON{p.From.Format(time.DateOnly), p.To.Format(time.DateOnly)}
}

// summary answers GET /api/v1/stats/summary?days=30 (or from, to): the
// mirror's requests, bytes, hit ratio, clients and modules, in all and per
// day.
func (h *Handler) summary(w http.ResponseWriter, r *http.Request) {
	p, err := h.period(r)
	if err != nil {
		writeError(w, err)
		return
	}
	s, err := storeOf(r).Summarize(r.Context(), p)
	if s.Days == nil {
		s.Days = []db.DayCount{}
	}
	answer(w, struct {
		Period periodJSON `json:"period"`
		db.Summary
	}{showPeriod(p), s}, err)
}

// top answers GET /api/v1/stats/top?days=30&n=20: the most downloaded
// modules.
func (h *Handler) top(w http.ResponseWriter, r *http.Request) {
	p, err := h.period(r)
	if err != nil {
		writeError(w, err)
		return
	}
	n, err := intParam(r.URL.Query().Get("n"), 20, 1000)
	if err != nil {
		writeError(w, &paramError{"n", err})
		return
	}
	mods, err := storeOf(r).TopModules(r.Context(), p, n)
	if mods == nil {
		mods = []db.ModuleCount{}
	}
	answer(w, struct {
		Period  periodJSON       `json:"period"`
		Modules []db.ModuleCount `json:"modules"`
	}{showPeriod(p), mods}, err)
}

// modulePath reads the {module} wildcard: a module path, as the go command
// names it (not escaped).
func modulePath(r *http.Request) (string, error) {
	m := r.PathValue("module")
	if err := module.CheckImportPath(m); err != nil {
		return "", &paramError{"module", err}
	}
	return m, nil
}

// moduleStats answers GET /api/v1/stats/modules/{module}?days=30: one
// module's figures per day and version.
func (h *Handler) moduleStats(w http.ResponseWriter, r *http.Request) {
	m, err := modulePath(r)
	if err != nil {
		writeError(w, err)
		return
	}
	p, err := h.period(r)
	if err != nil {
		writeError(w, err)
		return
	}
	days, err := storeOf(r).Downloads(r.Context(), m, p)
	if days == nil {
		days = []db.DayCount{}
	}
	answer(w, struct {
		Module string        `json:"module"`
		Period periodJSON    `json:"period"`
		Days   []db.DayCount `json:"days"`
	}{m, showPeriod(p), days}, err)
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
	st := storeOf(r)
	mods, next, err := st.Modules(r.Context(), v.Get("q"), v.Get("cursor"), limit)
	if err != nil {
		writeError(w, err)
		return
	}
	totals, err := st.CatalogTotals(r.Context())
	if mods == nil {
		mods = []db.ModuleSummary{}
	}
	answer(w, struct {
		Modules []db.ModuleSummary `json:"modules"`
		Next    string             `json:"next,omitempty"`
		Totals  totalsJSON         `json:"totals"`
	}{mods, next, totalsJSON(totals)}, err)
}

// totalsJSON is how the catalog's totals are shown (db.Totals has no JSON
// names of its own).
type totalsJSON struct {
	Modules  int64 `json:"modules"`
	Versions int64 `json:"versions"`
	Objects  int64 `json:"objects"`
	Bytes    int64 `json:"bytes"`
}

// versionJSON is one stored version of a module.
type versionJSON struct {
	Version        string        `json:"version"`
	Files          []db.Artifact `json:"files"`
	Bytes          int64         `json:"bytes"`
	Stored         time.Time     `json:"stored"`
	LastDownloaded time.Time     `json:"last_downloaded,omitzero"`
}

// module answers GET /api/v1/modules/{module}: the module's stored
// versions (newest first) and their files; 404 if none is stored.
func (h *Handler) module(w http.ResponseWriter, r *http.Request) {
	m, err := modulePath(r)
	if err != nil {
		writeError(w, err)
		return
	}
	arts, err := storeOf(r).Module(r.Context(), m)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			err = fmt.Errorf("no version of %s is stored: %w", m, fs.ErrNotExist)
		}
		writeError(w, err)
		return
	}
	var versions []versionJSON
	for _, a := range arts {
		if len(versions) == 0 || versions[len(versions)-1].Version != a.Version {
			versions = append(versions, versionJSON{Version: a.Version})
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
	answer(w, struct {
		Module   string        `json:"module"`
		Versions []versionJSON `json:"versions"`
	}{m, versions}, nil)
}

// alerts answers GET /api/v1/alerts?since=7d&limit=: the alerts' current
// state and their history, newest first. The current state is kept in
// memory, so without a database (and with Options.Alerts) it is still
// answered, with an empty history and the reason in "history_error".
func (h *Handler) alerts(w http.ResponseWriter, r *http.Request) {
	v := r.URL.Query()
	since, err := ParseTime(v.Get("since"), h.opts.Now())
	if err != nil {
		writeError(w, &paramError{"since", err})
		return
	}
	limit, err := intParam(v.Get("limit"), 100, 1000)
	if err != nil {
		writeError(w, &paramError{"limit", err})
		return
	}
	var events []db.AlertEvent
	historyErr := ""
	st, err := h.store()
	if err == nil {
		ctx, cancel := context.WithTimeout(r.Context(), h.opts.Timeout)
		events, err = st.AlertEvents(ctx, since, limit)
		cancel()
	}
	// The current alerts are in memory: shown whatever the history's
	// database does, which is when they matter most.
	if err != nil && h.opts.Alerts != nil && (errors.Is(err, ErrUnavailable) || db.Unavailable(err) || errors.Is(err, context.DeadlineExceeded)) {
		historyErr, err = err.Error(), nil
	}
	if events == nil {
		events = []db.AlertEvent{}
	}
	var current any = []any{}
	if h.opts.Alerts != nil {
		if a := h.opts.Alerts(); a != nil {
			current = a
		}
	}
	answer(w, struct {
		Alerts       any             `json:"alerts"`
		History      []db.AlertEvent `json:"history"`
		HistoryError string          `json:"history_error,omitempty"`
	}{current, events, historyErr}, err)
}

// catalogEntry is one module version in Athens' /catalog format.
type catalogEntry struct {
	Module  string `json:"module"`
	Version string `json:"version"`
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
	vs, next, err := storeOf(r).Versions(r.Context(), v.Get("token"), size)
	out := make([]catalogEntry, len(vs))
	for i, mv := range vs {
		out[i] = catalogEntry{mv.Path, mv.Version}
	}
	answer(w, struct {
		Modules []catalogEntry `json:"modules"`
		Next    string         `json:"next,omitempty"`
	}{out, next}, err)
}
