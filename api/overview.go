package api

import (
	"context"
	"net/http"
	"time"

	"github.com/gomirror/gomirror/alert"
	"github.com/gomirror/gomirror/db"
)

// Upstream is what is known of one upstream's health: from the outcome of
// its last fetch, and for a group's mirror from its breaker and scores.
type Upstream struct {
	Name      string    `json:"name"`            // redacted URL, "direct", or a mirror's URL
	Group     string    `json:"group,omitempty"` // the group a mirror belongs to
	Up        bool      `json:"up"`
	Since     time.Time `json:"since,omitzero"` // when Up last changed
	LastError string    `json:"last_error,omitempty"`
	// Of a group's mirror only:
	Breaker   string        `json:"breaker,omitempty"` // closed, half-open, open
	Score     float64       `json:"score,omitempty"`
	P50       time.Duration `json:"p50_ns,omitempty"`
	P95       time.Duration `json:"p95_ns,omitempty"`
	ErrorRate float64       `json:"error_rate,omitempty"`
}

// Mismatch is a checksum mismatch: a file an upstream gave whose hash is
// not the checksum database's. It was refused, never stored.
type Mismatch struct {
	Time    time.Time `json:"time"`
	Module  string    `json:"module"`
	Version string    `json:"version"`
	File    string    `json:"file"` // mod or zip
}

// Storage is the file system that storage is on.
type Storage struct {
	Known bool  `json:"known"` // false for S3, or when the figure failed
	Used  int64 `json:"used"`
	Free  int64 `json:"free"`
	Total int64 `json:"total"`
}

// Overview is the answer of GET /api/v1/overview: the mirror at a glance.
// Its database figures are zero, and DatabaseError says why, while the
// database does not answer; the others (storage, upstreams, alerts,
// mismatches: in memory or from the file system) are always there.
type Overview struct {
	Storage Storage `json:"storage"`
	// Stored are the catalog's totals: modules, versions, files
	// (artifacts) and bytes stored.
	Stored Totals `json:"stored"`
	// Today are the figures of today (UTC); Days those of the last 30
	// days, today included, with a row per day that had requests.
	Today Summary `json:"today"`
	Days  Summary `json:"days"`
	// Upstreams is the health of every upstream that has been used.
	Upstreams []Upstream `json:"upstreams"`
	// Firing are the alerts that fire now.
	Firing []alert.Alert `json:"firing"`
	// Mismatches are the last checksum mismatches of this process,
	// newest first.
	Mismatches    []Mismatch `json:"mismatches"`
	DatabaseError string     `json:"database_error,omitempty"`
}

// OverviewDays is how many days Overview.Days covers.
const OverviewDays = 30

// overview answers GET /api/v1/overview.
func (h *Handler) overview(w http.ResponseWriter, r *http.Request) {
	o, err := h.svc.Overview(r.Context())
	answer(w, o, err)
}

// Overview returns the mirror at a glance. Without a database it still
// answers, with the reason in DatabaseError; other database errors are
// returned.
func (s *Service) Overview(ctx context.Context) (Overview, error) {
	o := Overview{Upstreams: []Upstream{}, Firing: []alert.Alert{}, Mismatches: []Mismatch{}}
	if s.opts.StorageUsage != nil {
		if used, total, err := s.opts.StorageUsage(); err == nil && total > 0 {
			o.Storage = Storage{Known: true, Used: used, Total: total, Free: total - used}
		}
	}
	if s.opts.Upstreams != nil {
		if u := s.opts.Upstreams(); u != nil {
			o.Upstreams = u
		}
	}
	if s.opts.Alerts != nil {
		for _, a := range s.opts.Alerts() {
			if a.State == alert.StateFiring {
				o.Firing = append(o.Firing, a)
			}
		}
	}
	if s.opts.Mismatches != nil {
		if m := s.opts.Mismatches(); m != nil {
			o.Mismatches = m
		}
	}
	o.Today.Days, o.Days.Days = []db.DayCount{}, []db.DayCount{}
	o.Today.Period, o.Days.Period = showPeriod(s.LastDays(1)), showPeriod(s.LastDays(OverviewDays))
	err := s.withStore(ctx, func(ctx context.Context, st Store) error {
		t, err := st.CatalogTotals(ctx)
		if err != nil {
			return err
		}
		o.Stored = Totals(t)
		if o.Today.Summary, err = st.Summarize(ctx, s.LastDays(1)); err != nil {
			return err
		}
		o.Days.Summary, err = st.Summarize(ctx, s.LastDays(OverviewDays))
		return err
	})
	if err != nil && unavailable(err) {
		o.DatabaseError, err = err.Error(), nil
	}
	if o.Today.Days == nil {
		o.Today.Days = []db.DayCount{}
	}
	if o.Days.Days == nil {
		o.Days.Days = []db.DayCount{}
	}
	return o, err
}
