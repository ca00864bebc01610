package db

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"golang.org/x/mod/semver"
)

// Period is a span of days: From and To are dates (UTC midnights), both
// included. A time within a day stands for that day.
type Period struct{ From, To time.Time }

// days returns p's first and last day (see day).
func (p Period) days() (from, to int64) { return day(p.From), day(p.To) }

// moduleRows returns a query of the rows of daily_modules and
// weekly_modules that together cover p once (whole weeks from
// weekly_modules, the days before the first and after the last from
// daily_modules), selecting cols, and its arguments.
func (p Period) moduleRows(cols string) (string, []any) {
	from, to := p.days()
	firstWeek, lastWeek := week(from+6), week(to+1)-1 // the whole weeks within
	if firstWeek > lastWeek {
		return "SELECT " + cols + " FROM daily_modules WHERE day >= ? AND day <= ?", []any{from, to}
	}
	return "SELECT " + cols + " FROM daily_modules WHERE day >= ? AND day < ?" +
			" UNION ALL SELECT " + cols + " FROM daily_modules WHERE day > ? AND day <= ?" +
			" UNION ALL SELECT " + cols + " FROM weekly_modules WHERE week >= ? AND week <= ?",
		[]any{from, firstWeek * 7, lastWeek*7 + 6, to, firstWeek, lastWeek}
}

// ModuleCount is one module's downloads over a period.
type ModuleCount struct {
	Module    string `json:"module"`
	Downloads int64  `json:"downloads"` // successful .zip requests
	Requests  int64  `json:"requests"`  // every audited request naming the module
	Bytes     int64  `json:"bytes"`
	Clients   int64  `json:"clients"` // distinct clients (token name, else address)
}

// TopModules returns the n modules with the most downloads in p, most
// first (then most requests, then by path). n of 0 or less means 20,
// more than 1000 means 1000. It reads the daily roll-ups only, so the
// audit records behind them may have been pruned.
func (d *DB) TopModules(ctx context.Context, p Period, n int) ([]ModuleCount, error) {
	switch {
	case n <= 0:
		n = 20
	case n > 1000:
		n = 1000
	}
	parts, args := p.moduleRows("module, downloads, requests, bytes")
	rows, err := d.r.QueryContext(ctx, d.d.rebind(`SELECT module, SUM(downloads) AS d, SUM(requests) AS r, SUM(bytes)
		FROM (`+parts+`) AS u GROUP BY module ORDER BY d DESC, r DESC, module LIMIT ?`), append(args, n)...)
	if err != nil {
		return nil, fmt.Errorf("db: top modules: %w", err)
	}
	defer rows.Close()
	var out []ModuleCount
	index := map[string]int{}
	for rows.Next() {
		var m ModuleCount
		if err := rows.Scan(&m.Module, &m.Downloads, &m.Requests, &m.Bytes); err != nil {
			return nil, fmt.Errorf("db: top modules: %w", err)
		}
		index[m.Module] = len(out)
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("db: top modules: %w", err)
	}
	rows.Close()
	if len(out) == 0 {
		return out, nil
	}
	dayCond, args, err := d.dayCondition(ctx, p)
	if err != nil {
		return nil, err
	}
	for _, m := range out {
		args = append(args, m.Module)
	}
	crows, err := d.r.QueryContext(ctx, d.d.rebind(`SELECT module, COUNT(DISTINCT client) FROM daily_module_clients
		WHERE `+dayCond+` AND module IN (`+placeholders(len(out))+`) GROUP BY module`), args...)
	if err != nil {
		return nil, fmt.Errorf("db: top modules: %w", err)
	}
	defer crows.Close()
	for crows.Next() {
		var mod string
		var c int64
		if err := crows.Scan(&mod, &c); err != nil {
			return nil, fmt.Errorf("db: top modules: %w", err)
		}
		if i, ok := index[mod]; ok {
			out[i].Clients = c
		}
	}
	if err := crows.Err(); err != nil {
		return nil, fmt.Errorf("db: top modules: %w", err)
	}
	return out, nil
}

// maxDayList is how many days dayCondition names one by one.
const maxDayList = 1000

// dayCondition returns a condition on day that selects the days of p, and
// its arguments: the days one by one ("day IN (...)"), so that a table
// keyed by (day, module, ...) is read by a look-up per day for one
// module's rows. A period of more than maxDayList days is first cut to
// the days that have records; if it is still longer, the condition is a
// range.
func (d *DB) dayCondition(ctx context.Context, p Period) (string, []any, error) {
	from, to := p.days()
	if to-from >= maxDayList {
		var first, last sql.NullInt64
		if err := d.r.QueryRowContext(ctx, "SELECT MIN(day), MAX(day) FROM daily_totals").Scan(&first, &last); err != nil {
			return "", nil, fmt.Errorf("db: %w", err)
		}
		if !first.Valid {
			return "1 = 0", nil, nil
		}
		from, to = max(from, first.Int64), min(to, last.Int64)
	}
	if to < from {
		return "1 = 0", nil, nil
	}
	if to-from >= maxDayList {
		return "day >= ? AND day <= ?", []any{from, to}, nil
	}
	args := make([]any, 0, to-from+1)
	for dy := from; dy <= to; dy++ {
		args = append(args, dy)
	}
	return "day IN (" + placeholders(len(args)) + ")", args, nil
}

// placeholders returns "?, ?, ?" for n parameters.
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// DayCount is one day's figures, for a module's version or for the whole
// mirror.
type DayCount struct {
	Day       time.Time `json:"day"`               // UTC midnight
	Version   string    `json:"version,omitempty"` // "" for totals
	Downloads int64     `json:"downloads"`
	Requests  int64     `json:"requests"`
	Bytes     int64     `json:"bytes"`
	Hits      int64     `json:"hits"`   // answered from storage (cache hit, stale or prefetched)
	Misses    int64     `json:"misses"` // fetched from an upstream (cache miss or fresh)
	// Clients is the number of distinct clients that day: of the whole
	// mirror in Summary.Days; in Downloads, of the module (all its
	// versions, the same on each of the day's rows: clients are counted
	// per module, not per version).
	Clients int64 `json:"clients"`
}

// Downloads returns module's figures per day and version in p, by day
// (oldest first) then version (semver order, then as strings; "" for
// requests naming no version, such as lists). Days without requests for
// the module are left out. The module path is compared exactly.
func (d *DB) Downloads(ctx context.Context, module string, p Period) ([]DayCount, error) {
	dayCond, dayArgs, err := d.dayCondition(ctx, p)
	if err != nil {
		return nil, err
	}
	rows, err := d.r.QueryContext(ctx, d.d.rebind(`SELECT day, version, requests, downloads, bytes, hits, misses
		FROM daily_versions WHERE `+dayCond+` AND module = ?`), append(dayArgs[:len(dayArgs):len(dayArgs)], module)...)
	if err != nil {
		return nil, fmt.Errorf("db: downloads: %w", err)
	}
	defer rows.Close()
	var out []DayCount
	var days []int64
	for rows.Next() {
		var c DayCount
		var dy int64
		if err := rows.Scan(&dy, &c.Version, &c.Requests, &c.Downloads, &c.Bytes, &c.Hits, &c.Misses); err != nil {
			return nil, fmt.Errorf("db: downloads: %w", err)
		}
		c.Day = dayTime(dy)
		out = append(out, c)
		days = append(days, dy)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("db: downloads: %w", err)
	}
	rows.Close()
	clients, err := d.clientsPerDay(ctx, "daily_module_clients WHERE "+dayCond+" AND module = ?", append(dayArgs, module))
	if err != nil {
		return nil, err
	}
	for i := range out {
		out[i].Clients = clients[days[i]]
	}
	slices.SortFunc(out, func(a, b DayCount) int {
		if c := a.Day.Compare(b.Day); c != 0 {
			return c
		}
		if c := semver.Compare(a.Version, b.Version); c != 0 {
			return c
		}
		return strings.Compare(a.Version, b.Version)
	})
	return out, nil
}

// clientsPerDay returns the distinct clients per day of a client table:
// from is "table WHERE cond", args cond's arguments.
func (d *DB) clientsPerDay(ctx context.Context, from string, args []any) (map[int64]int64, error) {
	rows, err := d.r.QueryContext(ctx, d.d.rebind("SELECT day, COUNT(*) FROM "+from+" GROUP BY day"), args...)
	if err != nil {
		return nil, fmt.Errorf("db: counting clients: %w", err)
	}
	defer rows.Close()
	out := map[int64]int64{}
	for rows.Next() {
		var dy, n int64
		if err := rows.Scan(&dy, &n); err != nil {
			return nil, fmt.Errorf("db: counting clients: %w", err)
		}
		out[dy] = n
	}
	return out, rows.Err()
}

// DayTotals is Summarize without what costs most, the distinct clients
// and modules (Clients and Modules are zero, in all and per day): the
// mirror's requests, downloads, bytes, hits and misses over p, and per day
// with requests, from the daily roll-up alone.
func (d *DB) DayTotals(ctx context.Context, p Period) (Summary, error) {
	from, to := p.days()
	var s Summary
	rows, err := d.r.QueryContext(ctx, d.d.rebind(`SELECT day, requests, downloads, bytes, hits, misses
		FROM daily_totals WHERE day >= ? AND day <= ? ORDER BY day`), from, to)
	if err != nil {
		return s, fmt.Errorf("db: summary: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var c DayCount
		var dy int64
		if err := rows.Scan(&dy, &c.Requests, &c.Downloads, &c.Bytes, &c.Hits, &c.Misses); err != nil {
			return s, fmt.Errorf("db: summary: %w", err)
		}
		c.Day = dayTime(dy)
		s.Days = append(s.Days, c)
		s.Requests += c.Requests
		s.Downloads += c.Downloads
		s.Bytes += c.Bytes
		s.Hits += c.Hits
		s.Misses += c.Misses
	}
	if err := rows.Err(); err != nil {
		return s, fmt.Errorf("db: summary: %w", err)
	}
	if s.Hits+s.Misses > 0 {
		s.HitRatio = float64(s.Hits) / float64(s.Hits+s.Misses)
	}
	return s, nil
}

// Summary is the whole mirror's figures over a period.
type Summary struct {
	Requests  int64      `json:"requests"`
	Downloads int64      `json:"downloads"` // successful .zip requests
	Bytes     int64      `json:"bytes"`
	Hits      int64      `json:"hits"`
	Misses    int64      `json:"misses"`
	HitRatio  float64    `json:"hit_ratio"` // Hits / (Hits + Misses), 0 without either
	Clients   int64      `json:"clients"`   // distinct over the period
	Modules   int64      `json:"modules"`   // distinct modules requested
	Days      []DayCount `json:"days"`      // per day with requests, oldest first
}

// Summarize returns the mirror's figures over p, from the daily roll-ups
// (every audited request, also those naming no module).
func (d *DB) Summarize(ctx context.Context, p Period) (Summary, error) {
	from, to := p.days()
	s, err := d.DayTotals(ctx, p)
	if err != nil {
		return s, err
	}
	days := make([]int64, len(s.Days))
	for i, c := range s.Days {
		days[i] = day(c.Day)
	}
	clients, err := d.clientsPerDay(ctx, "daily_clients WHERE day >= ? AND day <= ?", []any{from, to})
	if err != nil {
		return s, err
	}
	for i := range s.Days {
		s.Days[i].Clients = clients[days[i]]
	}
	if err := d.r.QueryRowContext(ctx, d.d.rebind("SELECT COUNT(DISTINCT client) FROM daily_clients WHERE day >= ? AND day <= ?"), from, to).Scan(&s.Clients); err != nil {
		return s, fmt.Errorf("db: summary: %w", err)
	}
	parts, args := p.moduleRows("module")
	if err := d.r.QueryRowContext(ctx, d.d.rebind("SELECT COUNT(DISTINCT module) FROM ("+parts+") AS u"), args...).Scan(&s.Modules); err != nil {
		return s, fmt.Errorf("db: summary: %w", err)
	}
	return s, nil
}
