package console

import (
	"strings"
	"testing"
	"time"

	"github.com/gomirror/gomirror/api"
)

// TestSeriesCharts checks the overview's time-series charts: a bar per
// point scaled to the largest, the ticks' times every quarter, and the
// hit ratio's line broken where a step had neither hits nor misses.
func TestSeriesCharts(t *testing.T) {
	from := time.Date(2026, 3, 9, 23, 30, 0, 0, time.UTC) // across midnight
	s := api.Series{From: from, Step: 60, Points: make([]api.Point, api.HourPoints)}
	for i := range s.Points {
		s.Points[i].Time = from.Add(time.Duration(i) * time.Minute)
	}
	s.Points[3] = api.Point{Time: s.Points[3].Time, Requests: 120, RPS: 2, Hits: 3, Misses: 1, HitRatio: 0.75}
	s.Points[4] = api.Point{Time: s.Points[4].Time, Requests: 60, RPS: 1, Hits: 1, Misses: 1, HitRatio: 0.5}
	s.Points[40] = api.Point{Time: s.Points[40].Time, Requests: 30, RPS: 0.5, Hits: 0, Misses: 1}

	rps := rpsChart(s)
	if len(rps.Bars) != api.HourPoints || rps.Empty || rps.Max != "2/s" {
		t.Fatalf("requests per second: %d bars, empty %v, max %q", len(rps.Bars), rps.Empty, rps.Max)
	}
	if b := rps.Bars[3]; b.H != chartH-chartTop || b.Title != "23:33: 2/s (120)" {
		t.Errorf("the tallest bar %+v", b)
	}
	if b := rps.Bars[4]; b.H != (chartH-chartTop)/2 || rps.Bars[0].H != 0 {
		t.Errorf("bars 4 and 0: %+v, %+v", b, rps.Bars[0])
	}
	var labels []string
	for _, k := range rps.Ticks {
		labels = append(labels, k.Label)
	}
	if got := strings.Join(labels, " "); got != "23:30 23:45 00:00 00:15" || rps.Ticks[2].X != chartW/2 {
		t.Errorf("ticks %q, %+v", got, rps.Ticks)
	}

	hits := hitRatioChart(s)
	if len(hits.Dots) != 3 || len(hits.Lines) != 1 || hits.Empty || hits.Dots[2].Y != chartH || hits.Dots[0].Title != "23:33: 75.0 % (3/4)" {
		t.Errorf("hit ratio: %d dots %+v, lines %q", len(hits.Dots), hits.Dots, hits.Lines)
	}
	if empty := hitRatioChart(api.Series{Points: make([]api.Point, api.DayPoints)}); !empty.Empty || len(empty.Dots) != 0 || len(empty.Ticks) != 4 {
		t.Errorf("a day without requests: %+v", empty)
	}
}

// TestFormatRate checks the requests per second shown.
func TestFormatRate(t *testing.T) {
	for _, c := range []struct {
		x    float64
		want string
	}{{0, "0"}, {26.0 / 86400, "< 0.001"}, {0.001, "0.001"}, {0.4333, "0.433"}, {2, "2"}, {12.25, "12.2"}, {999.4, "999"}, {1234.5, "1234"}} {
		if got := FormatRate(c.x); got != c.want {
			t.Errorf("FormatRate(%v) = %q, want %q", c.x, got, c.want)
		}
	}
}
