package api

import (
	"testing"
	"time"

	"github.com/gomirror/gomirror/db"
)

// TestSeries checks the overview's series from minutes: dense points,
// requests per second per step, hit ratios, the 15-minute steps and
// windows across a day's boundary.
func TestSeries(t *testing.T) {
	at := func(s string) time.Time {
		tm, err := time.Parse(time.DateTime, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	minute := func(s string, requests, hits, misses, errors int64) db.MinuteCount {
		return db.MinuteCount{Minute: at(s), Requests: requests, Hits: hits, Misses: misses, Errors: errors, Bytes: 10 * requests}
	}
	type point struct {
		i                              int
		requests, hits, misses, errors int64
		rps, ratio                     float64
	}
	for _, c := range []struct {
		name     string
		now      string
		minutes  []db.MinuteCount
		hourFrom string
		dayFrom  string
		hour     []point // the points with requests; the others must be zero
		day      []point
		hourRPS  float64
		dayRatio float64
	}{{
		name:     "none",
		now:      "2026-03-10 12:00:30",
		hourFrom: "2026-03-10 11:01:00",
		dayFrom:  "2026-03-09 12:15:00",
	}, {
		name: "an hour",
		now:  "2026-03-10 12:00:30",
		minutes: []db.MinuteCount{
			minute("2026-03-10 11:00:00", 600, 600, 0, 0), // before the hour, in the day
			minute("2026-03-10 11:01:00", 120, 30, 10, 2),
			minute("2026-03-10 11:59:00", 60, 0, 60, 0),
			minute("2026-03-10 12:00:00", 6, 6, 0, 0), // the current minute
		},
		hourFrom: "2026-03-10 11:01:00",
		dayFrom:  "2026-03-09 12:15:00",
		hour: []point{
			{0, 120, 30, 10, 2, 2, 0.75},
			{58, 60, 0, 60, 0, 1, 0},
			{59, 6, 6, 0, 0, 0.1, 1},
		},
		day: []point{
			{91, 600 + 120, 630, 10, 2, 720.0 / 900, 630.0 / 640}, // 11:00-11:15
			{94, 60, 0, 60, 0, 60.0 / 900, 0},                     // 11:45-12:00
			{95, 6, 6, 0, 0, 6.0 / 900, 1},                        // 12:00-12:15
		},
		hourRPS:  186.0 / 3600,
		dayRatio: 636.0 / 706,
	}, {
		name: "across midnight",
		now:  "2026-03-10 00:07:59",
		minutes: []db.MinuteCount{
			minute("2026-03-09 00:14:00", 9, 9, 0, 0), // before the day's window
			minute("2026-03-09 00:15:00", 1, 0, 1, 0),
			minute("2026-03-09 23:08:00", 60, 20, 20, 0),
			minute("2026-03-09 23:59:00", 30, 3, 0, 0),
			minute("2026-03-10 00:00:00", 30, 0, 3, 0),
			minute("2026-03-10 00:07:00", 3, 1, 0, 1),
			minute("2026-03-10 00:08:00", 99, 0, 0, 0), // after now but in the current step: counted
		},
		hourFrom: "2026-03-09 23:08:00",
		dayFrom:  "2026-03-09 00:15:00",
		hour: []point{
			{0, 60, 20, 20, 0, 1, 0.5},
			{51, 30, 3, 0, 0, 0.5, 1},
			{52, 30, 0, 3, 0, 0.5, 0},
			{59, 3, 1, 0, 1, 0.05, 1},
		},
		day: []point{
			{0, 1, 0, 1, 0, 1.0 / 900, 0},
			{91, 60, 20, 20, 0, 60.0 / 900, 0.5}, // 23:00-23:15
			{94, 30, 3, 0, 0, 30.0 / 900, 1},     // 23:45-00:00
			{95, 30 + 3 + 99, 1, 3, 1, 132.0 / 900, 0.25},
		},
		hourRPS:  123.0 / 3600,
		dayRatio: 24.0 / 48,
	}} {
		t.Run(c.name, func(t *testing.T) {
			hour, day := windows(c.minutes, at(c.now))
			for _, w := range []struct {
				name   string
				s      Series
				from   string
				step   time.Duration
				n      int
				points []point
			}{{"hour", hour, c.hourFrom, time.Minute, HourPoints, c.hour}, {"day", day, c.dayFrom, DayStep, DayPoints, c.day}} {
				s := w.s
				if !s.From.Equal(at(w.from)) || !s.To.Equal(at(w.from).Add(time.Duration(w.n)*w.step)) || s.Step != int(w.step/time.Second) || len(s.Points) != w.n {
					t.Fatalf("%s: from %s to %s step %d, %d points; want from %s, %d points of %s", w.name, s.From, s.To, s.Step, len(s.Points), w.from, w.n, w.step)
				}
				want := map[int]point{}
				for _, p := range w.points {
					want[p.i] = p
				}
				var sum Point
				for i, p := range s.Points {
					if !p.Time.Equal(s.From.Add(time.Duration(i) * w.step)) {
						t.Errorf("%s point %d at %s", w.name, i, p.Time)
					}
					e := want[i]
					if p.Requests != e.requests || p.Hits != e.hits || p.Misses != e.misses || p.Errors != e.errors || p.Bytes != 10*e.requests ||
						!near(p.RPS, e.rps) || !near(p.HitRatio, e.ratio) {
						t.Errorf("%s point %d (%s): %+v, want %+v", w.name, i, p.Time.Format(time.TimeOnly), p, e)
					}
					sum.Requests += p.Requests
					sum.Hits += p.Hits
					sum.Misses += p.Misses
					sum.Errors += p.Errors
				}
				if s.Requests != sum.Requests || s.Hits != sum.Hits || s.Misses != sum.Misses || s.Errors != sum.Errors ||
					!near(s.RPS, float64(sum.Requests)/(float64(w.n)*w.step.Seconds())) || !near(s.HitRatio, ratio(sum.Hits, sum.Misses)) {
					t.Errorf("%s totals %+v, points' %+v", w.name, s, sum)
				}
			}
			if !near(hour.RPS, c.hourRPS) || !near(day.HitRatio, c.dayRatio) {
				t.Errorf("hour %.6f/s, want %.6f; day's hit ratio %.6f, want %.6f", hour.RPS, c.hourRPS, day.HitRatio, c.dayRatio)
			}
		})
	}
}

// near reports whether a and b are equal but for rounding.
func near(a, b float64) bool { return a-b < 1e-9 && b-a < 1e-9 }
