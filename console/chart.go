package console

import (
	"fmt"
	"math"
	"time"

	"golang.org/x/text/message"

	"github.com/gomirror/gomirror/api"
	"github.com/gomirror/gomirror/db"
)

// chart is an SVG chart of one value per step (a day, 15 minutes, a
// minute), drawn here so that the browser runs no script for it: bars
// (requests) or lines (ratios, with a gap where a step has none). Its
// geometry is in the SVG's own units; CSS scales it to the page.
type chart struct {
	W, H  int
	Bars  []bar
	Lines []string // polylines' points
	Dots  []bar    // a point per step with a value, with its title
	Max   string   // the top of the scale
	// MaxText is Max as shown, in the page's language ("max %s").
	MaxText string
	First   string // the first and last steps, shown under the chart
	Last    string // (of a chart without Ticks)
	Ticks   []tick // of a time series: grid lines and their times
	Empty   bool   // no step has a value
}

// bar is one step: its rectangle (or point) and its tooltip.
type bar struct {
	X, Y, W, H float64
	Title      string
}

// tick is a vertical grid line of a time series, with the time at it.
type tick struct {
	X     float64
	Label string
}

const (
	chartW, chartH = 600, 160
	chartTop       = 10 // room above the tallest bar
	chartTicks     = 4  // the ticks of a time series: at its start and every quarter
)

// bars draws values (≥ 0) as bars scaled to the largest, which maxLabel
// shows; title gives each bar's tooltip.
func bars(values []float64, maxLabel func(top float64) string, title func(i int) string) chart {
	top := 0.0
	for _, v := range values {
		top = max(top, v)
	}
	ch := chart{W: chartW, H: chartH, Max: maxLabel(top), Empty: top == 0, Bars: make([]bar, len(values))}
	slot := float64(chartW) / float64(len(values))
	for i, v := range values {
		h := 0.0
		if top > 0 {
			h = v / top * (chartH - chartTop)
		}
		ch.Bars[i] = bar{X: float64(i)*slot + slot*0.1, Y: chartH - h, W: slot * 0.8, H: h, Title: title(i)}
	}
	return ch
}

// ratios draws ratios (0 to 1; NaN for a step without one) as lines over
// their runs (timeLine's), with a dot and its tooltip at every value.
func ratios(values []float64, title func(i int, x float64) string) chart {
	s := timeLine("", "", values, 1, title)
	ch := chart{W: chartW, H: chartH, Max: "100 %", Lines: s.Lines, Empty: true}
	slot := float64(chartW) / float64(len(values))
	for i, x := range values {
		if math.IsNaN(x) {
			continue
		}
		ch.Dots = append(ch.Dots, bar{X: float64(i)*slot + slot/2, Y: chartH - x*(chartH-chartTop), Title: title(i, x)})
		ch.Empty = false
	}
	return ch
}

// days returns the days from from, n of them, and the figures of each
// (zero for days without a row).
func days(rows []db.DayCount, from time.Time, n int) ([]time.Time, []db.DayCount) {
	byDay := map[string]db.DayCount{}
	for _, r := range rows {
		byDay[r.Day.UTC().Format(time.DateOnly)] = r
	}
	ds := make([]time.Time, n)
	out := make([]db.DayCount, n)
	for i := range n {
		ds[i] = from.AddDate(0, 0, i)
		out[i] = byDay[ds[i].Format(time.DateOnly)]
	}
	return ds, out
}

// barChart draws the requests per day of the n days from from.
func barChart(rows []db.DayCount, from time.Time, n int) chart {
	ds, counts := days(rows, from, n)
	values := make([]float64, n)
	for i, c := range counts {
		values[i] = float64(c.Requests)
	}
	ch := bars(values, func(top float64) string { return fmt.Sprint(int64(top)) },
		func(i int) string { return fmt.Sprintf("%s: %d", ds[i].Format(time.DateOnly), counts[i].Requests) })
	ch.First, ch.Last = ds[0].Format(time.DateOnly), ds[n-1].Format(time.DateOnly)
	return ch
}

// ratioChart draws the hit ratio per day (hits / (hits + misses)) of the
// n days from from; days without either have no point.
func ratioChart(rows []db.DayCount, from time.Time, n int) chart {
	ds, counts := days(rows, from, n)
	values := make([]float64, n)
	for i, c := range counts {
		values[i] = math.NaN()
		if c.Hits+c.Misses > 0 {
			values[i] = float64(c.Hits) / float64(c.Hits+c.Misses)
		}
	}
	ch := ratios(values, func(i int, x float64) string { return fmt.Sprintf("%s: %.1f %%", ds[i].Format(time.DateOnly), 100*x) })
	ch.First, ch.Last = ds[0].Format(time.DateOnly), ds[n-1].Format(time.DateOnly)
	return ch
}

// stepLabel is a step's time in the tooltips and ticks of a time series
// (UTC, as the console's times are).
func stepLabel(t time.Time) string { return t.UTC().Format("15:04") }

// ticks returns the ticks of s's chart: its start and every quarter.
func ticks(s api.Series) []tick {
	n := len(s.Points)
	out := make([]tick, chartTicks)
	for k := range out {
		i := k * n / chartTicks
		out[k] = tick{X: float64(i) * chartW / float64(n), Label: stepLabel(s.Points[i].Time)}
	}
	return out
}

// FormatRate formats requests per second as the console shows them: three
// significant digits, whole numbers from 1000, "< 0.001" for a rate above
// 0 but below it.
func FormatRate(x float64) string {
	switch {
	case x == 0:
		return "0"
	case x < 0.001:
		return "< 0.001"
	case x < 1000:
		return fmt.Sprintf("%.3g", x)
	}
	return fmt.Sprintf("%.0f", x)
}

// rpsChart draws s's requests per second, a bar a step.
func rpsChart(s api.Series) chart {
	values := make([]float64, len(s.Points))
	for i, p := range s.Points {
		values[i] = p.RPS
	}
	ch := bars(values, func(top float64) string { return FormatRate(top) + "/s" }, func(i int) string {
		p := s.Points[i]
		return fmt.Sprintf("%s: %s/s (%d)", stepLabel(p.Time), FormatRate(p.RPS), p.Requests)
	})
	ch.Ticks = ticks(s)
	return ch
}

// hitRatioChart draws s's hit ratio, a point per step with hits or
// misses.
func hitRatioChart(s api.Series) chart {
	values := make([]float64, len(s.Points))
	for i, p := range s.Points {
		values[i] = math.NaN()
		if p.Hits+p.Misses > 0 {
			values[i] = p.HitRatio
		}
	}
	ch := ratios(values, func(i int, x float64) string {
		p := s.Points[i]
		return fmt.Sprintf("%s: %.1f %% (%d/%d)", stepLabel(p.Time), 100*x, p.Hits, p.Hits+p.Misses)
	})
	ch.Ticks = ticks(s)
	return ch
}

// overviewData is the overview page's: o and its charts, the daily ones
// of the OverviewDays days from from.
type overviewData struct {
	api.Overview
	HourRPS, HourHits, DayRPS, DayHits chart
	Requests, HitRatio                 chart // per day
	// The requests per second shown (FormatRate): the last hour's, the
	// last full minute's, the last 24 hours'.
	HourRate, NowRate, DayRate string
}

// newOverviewData draws o's charts, their scales' texts printed by p.
func newOverviewData(o api.Overview, from time.Time, p *message.Printer) overviewData {
	d := overviewData{Overview: o,
		HourRPS: rpsChart(o.Hour), HourHits: hitRatioChart(o.Hour),
		DayRPS: rpsChart(o.Day), DayHits: hitRatioChart(o.Day),
		Requests: barChart(o.Days.Days, from, api.OverviewDays),
		HitRatio: ratioChart(o.Days.Days, from, api.OverviewDays),
		HourRate: FormatRate(o.Hour.RPS), NowRate: FormatRate(o.CurrentRPS), DayRate: FormatRate(o.Day.RPS)}
	for _, ch := range []*chart{&d.HourRPS, &d.HourHits, &d.DayRPS, &d.DayHits, &d.Requests, &d.HitRatio} {
		ch.MaxText = p.Sprintf("max %s", ch.Max)
	}
	return d
}
