package console

import (
	"fmt"
	"strings"
	"time"

	"github.com/gomirror/gomirror/db"
)

// chart is an SVG chart of one value per day, drawn here so that the
// browser runs no script for it: bars (requests) or a polyline (ratios).
// Its geometry is in the SVG's own units; CSS scales it to the page.
type chart struct {
	W, H   int
	Bars   []bar
	Line   string // polyline points, "" for none
	Dots   []bar  // the points of Line, with their titles
	Max    string // the top of the scale, shown
	First  string // the first and last days, shown under the chart
	Last   string
	Empty  bool // no day has a value
	Labels []string
}

// bar is one day: its rectangle (or point) and its tooltip.
type bar struct {
	X, Y, W, H float64
	Title      string
}

const (
	chartW, chartH = 600, 160
	chartTop       = 10 // room above the tallest bar
)

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
	var top int64
	for _, c := range counts {
		top = max(top, c.Requests)
	}
	ch := chart{W: chartW, H: chartH, Max: fmt.Sprint(top), First: ds[0].Format(time.DateOnly), Last: ds[n-1].Format(time.DateOnly), Empty: top == 0}
	slot := float64(chartW) / float64(n)
	for i, c := range counts {
		h := 0.0
		if top > 0 {
			h = float64(c.Requests) / float64(top) * (chartH - chartTop)
		}
		ch.Bars = append(ch.Bars, bar{X: float64(i)*slot + 1, Y: chartH - h, W: slot - 2, H: h,
			Title: fmt.Sprintf("%s: %d", ds[i].Format(time.DateOnly), c.Requests)})
	}
	return ch
}

// ratioChart draws the hit ratio per day (hits / (hits + misses)) of the
// n days from from; days without either have no point.
func ratioChart(rows []db.DayCount, from time.Time, n int) chart {
	ds, counts := days(rows, from, n)
	ch := chart{W: chartW, H: chartH, Max: "100 %", First: ds[0].Format(time.DateOnly), Last: ds[n-1].Format(time.DateOnly), Empty: true}
	slot := float64(chartW) / float64(n)
	var pts []string
	for i, c := range counts {
		if c.Hits+c.Misses == 0 {
			continue
		}
		ratio := float64(c.Hits) / float64(c.Hits+c.Misses)
		x, y := float64(i)*slot+slot/2, chartH-ratio*(chartH-chartTop)
		pts = append(pts, fmt.Sprintf("%.1f,%.1f", x, y))
		ch.Dots = append(ch.Dots, bar{X: x, Y: y, Title: fmt.Sprintf("%s: %.1f %%", ds[i].Format(time.DateOnly), 100*ratio)})
		ch.Empty = false
	}
	ch.Line = strings.Join(pts, " ")
	return ch
}
