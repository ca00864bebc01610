package obs

import "github.com/prometheus/client_golang/prometheus"

// Mirror is the state of one mirror of an upstream group at scrape time.
type Mirror struct {
	Group, URL         string
	Score              float64 // lower is better
	P50, P95           float64 // seconds
	ErrorRate          float64 // 0..1
	Breaker            int     // 0 closed, 1 half-open, 2 open
	Preferred          bool
	Requests, Failures uint64
	// Lags counts the mirror's list and @latest answers that lacked
	// versions a peer mirror had; LagMissing is how many versions it
	// lacked at the last of them; LagRate is its recent lag rate (0..1),
	// part of Score.
	// Disagreements counts the comparisons in which it listed versions
	// its peer lacked that were not confirmed published (never scored).
	Lags          uint64
	LagMissing    int
	LagRate       float64
	Disagreements uint64
}

// mirrorCollector reads mirror states when Prometheus scrapes.
type mirrorCollector struct {
	snapshot                                    func() []Mirror
	score, latency, errRate, breaker, preferred *prometheus.Desc
	requests, failures                          *prometheus.Desc
	lags, lagMissing, lagRate, disagreements    *prometheus.Desc
}

// WatchMirrors exports the upstream groups' mirror states, as snapshot
// returns them at each scrape.
func (m *Metrics) WatchMirrors(snapshot func() []Mirror) {
	labels := []string{"group", "mirror"}
	d := func(name, help string, extra ...string) *prometheus.Desc {
		return prometheus.NewDesc("gomirror_upstream_mirror_"+name, help, append(labels, extra...), nil)
	}
	m.reg.MustRegister(&mirrorCollector{
		snapshot:      snapshot,
		score:         d("score", "Mirror score: latency in seconds plus weighted error rate plus weighted lag rate; lower is better."),
		latency:       d("latency_seconds", "Recent latency of the mirror's answers.", "quantile"),
		errRate:       d("error_rate", "Recent share of failed requests (EWMA)."),
		breaker:       d("breaker_state", "Circuit breaker: 0 closed, 1 half-open, 2 open."),
		preferred:     d("preferred", "1 for the mirror the group sends requests to first."),
		requests:      d("requests_total", "Requests and probes sent to the mirror."),
		failures:      d("failures_total", "Requests and probes to the mirror that failed."),
		lags:          d("lag_total", "List and @latest answers of the mirror that lacked versions a peer mirror of its group had and the checksum database confirmed (a module counts once per lag half-life)."),
		lagMissing:    d("lag_missing_versions", "How many versions the mirror lacked at its last lag (0 before any)."),
		lagRate:       d("lag_rate", "Recent rate at which the mirror lagged behind a peer (EWMA, 0..1, fading with time); part of its score."),
		disagreements: d("disagreements_total", "List and @latest answers of the mirror that named versions its peer lacked and the checksum database did not confirm (not served, not scored)."),
	})
}

func (c *mirrorCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.score, c.latency, c.errRate, c.breaker, c.preferred, c.requests, c.failures, c.lags, c.lagMissing, c.lagRate, c.disagreements} {
		ch <- d
	}
}

func (c *mirrorCollector) Collect(ch chan<- prometheus.Metric) {
	for _, s := range c.snapshot() {
		g := func(d *prometheus.Desc, v float64, extra ...string) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, append([]string{s.Group, s.URL}, extra...)...)
		}
		g(c.score, s.Score)
		g(c.latency, s.P50, "0.5")
		g(c.latency, s.P95, "0.95")
		g(c.errRate, s.ErrorRate)
		g(c.breaker, float64(s.Breaker))
		pref := 0.0
		if s.Preferred {
			pref = 1
		}
		g(c.preferred, pref)
		ch <- prometheus.MustNewConstMetric(c.requests, prometheus.CounterValue, float64(s.Requests), s.Group, s.URL)
		ch <- prometheus.MustNewConstMetric(c.failures, prometheus.CounterValue, float64(s.Failures), s.Group, s.URL)
		ch <- prometheus.MustNewConstMetric(c.lags, prometheus.CounterValue, float64(s.Lags), s.Group, s.URL)
		g(c.lagMissing, float64(s.LagMissing))
		g(c.lagRate, s.LagRate)
		ch <- prometheus.MustNewConstMetric(c.disagreements, prometheus.CounterValue, float64(s.Disagreements), s.Group, s.URL)
	}
}
