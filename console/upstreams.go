package console

import (
	"fmt"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/gomirror/gomirror/uphistory"
)

// upstreamsData is the Upstreams page's.
type upstreamsData struct {
	From, To  time.Time
	Step      time.Duration // the time one point of a chart covers
	Upstreams []upstreamView
}

// upstreamView is one upstream with its charts.
type upstreamView struct {
	uphistory.Upstream
	ErrorRate float64 // since the process started
	// Last is the newest point, for the figures now: p50, p95.
	Last            *uphistory.Point
	Latency, Errors timeChart
	Score           *timeChart // of a group mirror
	ID              string     // the element's id on the page
}

// timeChart is an SVG chart of values over time, drawn here: one or more
// series, each polylines over its runs of points with a value (a gap
// where an interval had no request), and a dot for a lone point.
type timeChart struct {
	W, H   int
	Series []timeSeries
	Max    string // the top of the scale
	First  string // the window's start and end, shown under the chart
	Last   string
	Empty  bool
}

// scaledChart is a timeChart with the page it is shown on, whose language
// the chart's labels take (the "times" template).
type scaledChart struct {
	P *page
	C timeChart
}

// scaled pairs p with ch (a timeChart or a *timeChart) for the "times"
// template.
func scaled(p *page, ch any) (scaledChart, error) {
	switch ch := ch.(type) {
	case timeChart:
		return scaledChart{p, ch}, nil
	case *timeChart:
		return scaledChart{p, *ch}, nil
	}
	return scaledChart{}, fmt.Errorf("console: scaled %T", ch)
}

// timeSeries is one line of a timeChart.
type timeSeries struct {
	Class string   // its CSS class: its colour
	Name  string   // for the legend
	Lines []string // polyline points
	Dots  []bar
}

// upstreamBuckets is the number of points of an Upstreams chart: 288 of 5
// minutes over the 24 hours kept.
const upstreamBuckets = 288

// upstreamsPage answers GET /ui/upstreams (operators only): every chain
// element and group mirror of this replica (api.Service.UpstreamHistory),
// with its breaker state, score, last error (already redacted), and charts
// of its latency percentiles, error rate and score over the last 24 hours.
func (c *Console) upstreamsPage(w http.ResponseWriter, r *http.Request) {
	v, ok := c.admin(w, r)
	if !ok {
		return
	}
	now := c.opts.API.Now()
	to := now.Truncate(time.Minute).Add(time.Minute)
	d := upstreamsData{From: to.Add(-24 * time.Hour), To: to, Step: 24 * time.Hour / upstreamBuckets}
	for i, u := range c.opts.API.UpstreamHistory() {
		uv := upstreamView{Upstream: u, ID: fmt.Sprintf("upstream-%d", i+1)}
		if u.Requests > 0 {
			uv.ErrorRate = float64(u.Failures) / float64(u.Requests)
		}
		if n := len(u.Points); n > 0 {
			uv.Last = &u.Points[n-1]
		}
		uv.Latency, uv.Errors, uv.Score = upstreamCharts(u.Points, d.From, d.Step)
		d.Upstreams = append(d.Upstreams, uv)
	}
	c.render(w, r, http.StatusOK, v, "upstreams", "Upstreams", d, "")
}

// bucket is the points of one step of a chart.
type bucket struct {
	requests, failures uint64
	p50, p95           float64 // the worst interval's
	score              *float64
}

// upstreamCharts draws points (oldest first) over upstreamBuckets steps
// from from: the latency percentiles (of the step's worst interval), the
// error rate (of the step's requests) and, if the points have one, the
// score (the step's last).
func upstreamCharts(points []uphistory.Point, from time.Time, step time.Duration) (lat, errs timeChart, score *timeChart) {
	var bs [upstreamBuckets]bucket
	hasScore := false
	for _, p := range points {
		i := int(p.Time.Sub(from) / step)
		if i < 0 || i >= upstreamBuckets {
			continue
		}
		b := &bs[i]
		b.requests += p.Requests
		b.failures += p.Failures
		b.p50, b.p95 = max(b.p50, p.P50), max(b.p95, p.P95)
		if p.Score != nil {
			b.score, hasScore = p.Score, true
		}
	}
	first, last := from.UTC().Format("15:04"), from.Add(upstreamBuckets*step).UTC().Format("15:04")
	value := func(f func(b *bucket) (float64, bool)) []float64 {
		out := make([]float64, upstreamBuckets)
		for i := range bs {
			x, ok := f(&bs[i])
			out[i] = x
			if !ok {
				out[i] = math.NaN()
			}
		}
		return out
	}
	label := func(i int) string { return from.Add(time.Duration(i) * step).UTC().Format("15:04") }
	p50 := value(func(b *bucket) (float64, bool) { return b.p50, b.requests > 0 })
	p95 := value(func(b *bucket) (float64, bool) { return b.p95, b.requests > 0 })
	top := 0.0
	for _, x := range p95 {
		if !math.IsNaN(x) {
			top = max(top, x)
		}
	}
	secs := func(x float64) string {
		return (time.Duration(x * float64(time.Second))).Round(time.Millisecond).String()
	}
	lat = drawTime(first, last, secs(top),
		timeLine("p95", "p95", p95, top, func(i int, x float64) string { return label(i) + " p95 " + secs(x) }),
		timeLine("p50", "p50", p50, top, func(i int, x float64) string { return label(i) + " p50 " + secs(x) }))
	rate := value(func(b *bucket) (float64, bool) {
		if b.requests == 0 {
			return 0, false
		}
		return float64(b.failures) / float64(b.requests), true
	})
	errs = drawTime(first, last, "100 %",
		timeLine("errors", "", rate, 1, func(i int, x float64) string { return fmt.Sprintf("%s %.1f %%", label(i), 100*x) }))
	if hasScore {
		sc := value(func(b *bucket) (float64, bool) {
			if b.score == nil {
				return 0, false
			}
			return *b.score, true
		})
		stop := 0.0
		for _, x := range sc {
			if !math.IsNaN(x) {
				stop = max(stop, x)
			}
		}
		ch := drawTime(first, last, fmt.Sprintf("%.3g", stop),
			timeLine("score", "", sc, stop, func(i int, x float64) string { return fmt.Sprintf("%s %.3g", label(i), x) }))
		score = &ch
	}
	return lat, errs, score
}

// drawTime makes a chart of series, whose scale tops at maxLabel.
func drawTime(first, last, maxLabel string, series ...timeSeries) timeChart {
	ch := timeChart{W: chartW, H: chartH, Series: series, Max: maxLabel, First: first, Last: last, Empty: true}
	for _, s := range series {
		if len(s.Lines) > 0 || len(s.Dots) > 0 {
			ch.Empty = false
		}
	}
	return ch
}

// timeLine draws values (NaN: none) over the chart's width, scaled to top:
// a polyline per run of values, a dot (with its title) per lone value.
func timeLine(class, name string, values []float64, top float64, title func(i int, x float64) string) timeSeries {
	s := timeSeries{Class: class, Name: name}
	slot := float64(chartW) / float64(len(values))
	y := func(x float64) float64 {
		if top <= 0 {
			return chartH
		}
		return chartH - x/top*(chartH-chartTop)
	}
	var run []string
	end := func() {
		if len(run) > 1 {
			s.Lines = append(s.Lines, strings.Join(run, " "))
		}
		run = run[:0]
	}
	for i, x := range values {
		if math.IsNaN(x) {
			end()
			continue
		}
		px, py := float64(i)*slot+slot/2, y(x)
		run = append(run, fmt.Sprintf("%.1f,%.1f", px, py))
		lone := (i == 0 || math.IsNaN(values[i-1])) && (i == len(values)-1 || math.IsNaN(values[i+1]))
		if lone {
			s.Dots = append(s.Dots, bar{X: px, Y: py, Title: title(i, x)})
		}
	}
	end()
	return s
}
