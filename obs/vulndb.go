package obs

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// VulnDBState is what the vulnerability database's metrics show.
type VulnDBState struct {
	Entries     int       // entries of the served copy (0 before one is loaded)
	LastSuccess time.Time // the last successful load or refresh (zero if none)
	Failing     bool      // the last refresh failed (the last good copy is served)
}

// WatchVulnDB exports, read from state at each scrape (state must be
// quick): gomirror_vulndb_entries, gomirror_vulndb_last_success_timestamp_seconds
// (0 before any) and gomirror_vulndb_refresh_failing (1 while the last
// refresh failed). Call it at most once per Metrics.
func (m *Metrics) WatchVulnDB(state func() VulnDBState) {
	m.reg.MustRegister(&vulnDBCollector{state: state,
		entries: prometheus.NewDesc("gomirror_vulndb_entries", "Entries of the served copy of the vulnerability database.", nil, nil),
		success: prometheus.NewDesc("gomirror_vulndb_last_success_timestamp_seconds", "When the vulnerability database was last loaded or refreshed successfully (Unix time; 0: never).", nil, nil),
		failing: prometheus.NewDesc("gomirror_vulndb_refresh_failing", "1 while the last refresh of the vulnerability database failed (the last good copy is served).", nil, nil),
	})
}

type vulnDBCollector struct {
	state                     func() VulnDBState
	entries, success, failing *prometheus.Desc
}

func (c *vulnDBCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.entries
	ch <- c.success
	ch <- c.failing
}

func (c *vulnDBCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.state()
	var success, failing float64
	if !st.LastSuccess.IsZero() {
		success = float64(st.LastSuccess.UnixNano()) / 1e9
	}
	if st.Failing {
		failing = 1
	}
	ch <- prometheus.MustNewConstMetric(c.entries, prometheus.GaugeValue, float64(st.Entries))
	ch <- prometheus.MustNewConstMetric(c.success, prometheus.GaugeValue, success)
	ch <- prometheus.MustNewConstMetric(c.failing, prometheus.GaugeValue, failing)
}
