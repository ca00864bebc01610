package api

import (
	"context"
	"net/http"
	"time"

	"github.com/gomirror/gomirror/alert"
	"github.com/gomirror/gomirror/db"
	"github.com/gomirror/gomirror/upstream"
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
	// Lags counts the mirror's list and @latest answers that lacked
	// versions a peer mirror of its group had; LastLag is the latest.
	Lags    uint64             `json:"lags,omitempty"`
	LastLag *upstream.LagEvent `json:"last_lag,omitempty"`
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

// GC is the garbage collector's state (storage-max-size, retention).
type GC struct {
	// Quota is storage-max-size in bytes (0: none); Retention is
	// retention as set ("180d"; "" for none).
	Quota     int64  `json:"quota_bytes"`
	Retention string `json:"retention,omitempty"`
	// Ran says whether it has run since the server started; Used (the
	// module files' bytes after the last run, plus what was stored
	// since) and LastRun are known once it has.
	Ran     bool      `json:"ran"`
	Used    int64     `json:"used_bytes"`
	LastRun time.Time `json:"last_run,omitzero"`
	// Evicted and Freed are the versions evicted and bytes freed since
	// the server started, by reason ("quota", "retention").
	Evicted map[string]uint64 `json:"evicted"`
	Freed   map[string]uint64 `json:"freed_bytes"`
	// QuotaUnreachable is set when the last run left the store over its
	// quota: what it had to keep ("pinned 3, private 1").
	QuotaUnreachable string `json:"quota_unreachable,omitempty"`
}

// EvictedTotal is the number of versions evicted for any reason.
func (g GC) EvictedTotal() uint64 {
	var n uint64
	for _, v := range g.Evicted {
		n += v
	}
	return n
}

// FreedTotal is the bytes freed for any reason.
func (g GC) FreedTotal() int64 {
	var n int64
	for _, v := range g.Freed {
		n += int64(v)
	}
	return n
}

// Overview is the answer of GET /api/v1/overview: the mirror at a glance.
// Its database figures are zero, and DatabaseError says why, while the
// database does not answer; the others (storage, upstreams, alerts,
// mismatches: in memory or from the file system) are always there.
type Overview struct {
	Storage Storage `json:"storage"`
	// GC is the garbage collector's state; nil without storage-max-size
	// or retention.
	GC *GC `json:"gc,omitempty"`
	// Stored are the catalog's totals: modules, versions, files
	// (artifacts) and bytes stored.
	Stored Totals `json:"stored"`
	// Today is the traffic of today (UTC); Days that of the last 30
	// days, today included, with a row per day that had requests.
	Today Traffic `json:"today"`
	Days  Traffic `json:"days"`
	// Hour and Day are the traffic of the last hour, a point a minute,
	// and of the last 24 hours, a point every 15 minutes; both end with
	// the point that holds now (still filling). CurrentRPS is the
	// requests per second of the last full minute (Hour's point before
	// the last). All zero without a database.
	Hour       Series  `json:"hour"`
	Day        Series  `json:"day"`
	CurrentRPS float64 `json:"current_rps"`
	// Upstreams is the health of every upstream that has been used.
	Upstreams []Upstream `json:"upstreams"`
	// Firing are the alerts that fire now.
	Firing []alert.Alert `json:"firing"`
	// Mismatches are the last checksum mismatches of this process,
	// newest first.
	Mismatches    []Mismatch `json:"mismatches"`
	DatabaseError string     `json:"database_error,omitempty"`
}

// Traffic is the mirror's traffic over a period: what
// /api/v1/stats/summary answers for it but the distinct clients and
// modules (which cost a scan of the period's roll-ups, too slow for a page
// shown at a glance).
type Traffic struct {
	Period    PeriodJSON    `json:"period"`
	Requests  int64         `json:"requests"`
	Downloads int64         `json:"downloads"`
	Bytes     int64         `json:"bytes"`
	Hits      int64         `json:"hits"`
	Misses    int64         `json:"misses"`
	HitRatio  float64       `json:"hit_ratio"`
	Days      []db.DayCount `json:"days"` // per day with requests, oldest first (clients not counted)
}

// traffic returns the traffic of the days of p among s's.
func traffic(s db.Summary, p db.Period) Traffic {
	t := Traffic{Period: showPeriod(p), Days: []db.DayCount{}}
	for _, d := range s.Days {
		if d.Day.Before(p.From) || d.Day.After(p.To) {
			continue
		}
		t.Days = append(t.Days, d)
		t.Requests += d.Requests
		t.Downloads += d.Downloads
		t.Bytes += d.Bytes
		t.Hits += d.Hits
		t.Misses += d.Misses
	}
	if t.Hits+t.Misses > 0 {
		t.HitRatio = float64(t.Hits) / float64(t.Hits+t.Misses)
	}
	return t
}

// Series is the mirror's traffic over a window as a time series of
// points of Step each, dense (zeros for steps without requests), oldest
// first, with the window's totals.
type Series struct {
	From   time.Time `json:"from"`   // the start of the first point, UTC
	To     time.Time `json:"to"`     // the end of the last point (after now)
	Step   int       `json:"step_s"` // seconds per point
	Points []Point   `json:"points"`
	// The window's totals; RPS is Requests over the window's whole
	// length (To - From), HitRatio Hits / (Hits + Misses), 0 for none.
	Requests int64   `json:"requests"`
	Hits     int64   `json:"hits"`
	Misses   int64   `json:"misses"`
	Errors   int64   `json:"errors"`
	Bytes    int64   `json:"bytes"`
	RPS      float64 `json:"rps"`
	HitRatio float64 `json:"hit_ratio"`
}

// Point is the traffic of one step of a Series: RPS is Requests / Step,
// HitRatio Hits / (Hits + Misses) (0 when both are 0); Errors are the
// requests answered with a 5xx status.
type Point struct {
	Time     time.Time `json:"time"` // its start, UTC
	Requests int64     `json:"requests"`
	Hits     int64     `json:"hits"`
	Misses   int64     `json:"misses"`
	Errors   int64     `json:"errors"`
	Bytes    int64     `json:"bytes"`
	RPS      float64   `json:"rps"`
	HitRatio float64   `json:"hit_ratio"`
}

// The overview's series: the last hour a point a minute, the last day a
// point every 15 minutes.
const (
	HourPoints = 60
	DayPoints  = 96
	DayStep    = 15 * time.Minute
)

// ratio returns hits / (hits + misses), 0 when both are 0.
func ratio(hits, misses int64) float64 {
	if hits+misses == 0 {
		return 0
	}
	return float64(hits) / float64(hits+misses)
}

// series sums the minutes ms into n points of step each from from (which
// step divides, as it divides an hour), minutes outside them ignored and
// points without minutes zero.
func series(ms []db.MinuteCount, from time.Time, step time.Duration, n int) Series {
	s := Series{From: from.UTC(), To: from.Add(time.Duration(n) * step).UTC(), Step: int(step / time.Second), Points: make([]Point, n)}
	for i := range s.Points {
		s.Points[i].Time = s.From.Add(time.Duration(i) * step)
	}
	for _, m := range ms {
		if m.Minute.Before(s.From) || !m.Minute.Before(s.To) {
			continue
		}
		p := &s.Points[m.Minute.Sub(s.From)/step]
		p.Requests += m.Requests
		p.Hits += m.Hits
		p.Misses += m.Misses
		p.Errors += m.Errors
		p.Bytes += m.Bytes
	}
	for i := range s.Points {
		p := &s.Points[i]
		p.RPS = float64(p.Requests) / float64(s.Step)
		p.HitRatio = ratio(p.Hits, p.Misses)
		s.Requests += p.Requests
		s.Hits += p.Hits
		s.Misses += p.Misses
		s.Errors += p.Errors
		s.Bytes += p.Bytes
	}
	s.RPS = float64(s.Requests) / s.To.Sub(s.From).Seconds()
	s.HitRatio = ratio(s.Hits, s.Misses)
	return s
}

// windows returns the overview's series at now from the minutes ms (which
// may be none): the last HourPoints minutes and the last DayPoints steps
// of DayStep, each ending with the step that holds now.
func windows(ms []db.MinuteCount, now time.Time) (hour, day Series) {
	hourFrom, dayFrom := hourWindow(now), dayWindow(now)
	return series(ms, hourFrom, time.Minute, HourPoints), series(ms, dayFrom, DayStep, DayPoints)
}

// hourWindow and dayWindow return the start of the overview's series at
// now; both end with the step that holds now.
func hourWindow(now time.Time) time.Time {
	return now.UTC().Truncate(time.Minute).Add(-(HourPoints - 1) * time.Minute)
}
func dayWindow(now time.Time) time.Time {
	return now.UTC().Truncate(DayStep).Add(-(DayPoints - 1) * DayStep)
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
	if s.opts.GC != nil {
		g := s.opts.GC()
		o.GC = &g
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
	today, month := s.LastDays(1), s.LastDays(OverviewDays)
	var days db.Summary
	var minutes []db.MinuteCount
	now := s.opts.Now()
	err := s.withStore(ctx, func(ctx context.Context, st Store) error {
		t, err := st.CatalogTotals(ctx)
		if err != nil {
			return err
		}
		o.Stored = Totals(t)
		days, err = st.DayTotals(ctx, month)
		if err != nil {
			return err
		}
		// One read for both series: the day's window holds the hour's.
		minutes, err = st.Minutes(ctx, dayWindow(now), now.UTC().Truncate(time.Minute).Add(time.Minute))
		return err
	})
	if err != nil && unavailable(err) {
		// The reason shown is Message's (no driver's text); its detail is
		// logged at debug level: the database off or away is expected, and
		// /readyz and the start-up log say so.
		s.opts.Log.Debug("api: overview without the database", "err", err)
		o.DatabaseError, err = Message(err), nil
	}
	o.Today, o.Days = traffic(days, today), traffic(days, month)
	o.Hour, o.Day = windows(minutes, now)
	o.CurrentRPS = o.Hour.Points[HourPoints-2].RPS
	return o, err
}
