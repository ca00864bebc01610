package obs

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// GCState is the garbage collector's state: whether it has run since the
// process started, the module files' bytes after its last run (Stored,
// what the quota is measured against, plus what was stored since), the
// quota (0: none), and since the process started, the versions evicted
// and bytes freed by reason ("quota", "retention"). Counts never
// decrease.
type GCState struct {
	Ran              bool
	LastRun          time.Time
	LastDuration     time.Duration
	Stored, MaxBytes int64
	Evictions, Freed map[string]uint64
	// QuotaUnreachable says why the last run left the store over its
	// quota ("" when it did not): what it had to keep ("pinned 3,
	// private 1").
	QuotaUnreachable string
}

// gcReasons are the reasons every evictions series exists for, from 0.
var gcReasons = []string{"quota", "retention"}

// WatchGC exports gomirror_gc_stored_bytes, gomirror_gc_quota_bytes,
// gomirror_gc_evictions_total{reason}, gomirror_gc_freed_bytes_total{reason},
// gomirror_gc_last_run_timestamp_seconds,
// gomirror_gc_last_run_duration_seconds and gomirror_gc_quota_unreachable,
// as state returns them at each scrape (the run-dependent ones once it has
// run). state must be quick.
// Call WatchGC at most once per Metrics.
func (m *Metrics) WatchGC(state func() GCState) {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, labels, nil)
	}
	m.reg.MustRegister(&gcCollector{state: state,
		stored:    d("gomirror_gc_stored_bytes", "Bytes of module files in storage as the garbage collector last measured them, plus what was stored since (checksum database data and gomirror's state not counted)."),
		quota:     d("gomirror_gc_quota_bytes", "The storage quota (storage-max-size); 0 for none."),
		evictions: d("gomirror_gc_evictions_total", "Module versions whose files the garbage collector evicted, by reason (quota, retention).", "reason"),
		freed:     d("gomirror_gc_freed_bytes_total", "Bytes the garbage collector freed, by reason (quota, retention).", "reason"),
		lastRun:   d("gomirror_gc_last_run_timestamp_seconds", "When the garbage collector last finished a run (Unix time)."),
		lastDur:   d("gomirror_gc_last_run_duration_seconds", "How long the garbage collector's last run took."),
		unreach:   d("gomirror_gc_quota_unreachable", "1 if the garbage collector's last run left the store over its quota (what is left may not go: pinned, private, in use), else 0."),
	})
}

type gcCollector struct {
	state                                                      func() GCState
	stored, quota, evictions, freed, lastRun, lastDur, unreach *prometheus.Desc
}

func (c *gcCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.stored, c.quota, c.evictions, c.freed, c.lastRun, c.lastDur, c.unreach} {
		ch <- d
	}
}

func (c *gcCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.state()
	ch <- prometheus.MustNewConstMetric(c.quota, prometheus.GaugeValue, float64(s.MaxBytes))
	for _, r := range gcReasons {
		ch <- prometheus.MustNewConstMetric(c.evictions, prometheus.CounterValue, float64(s.Evictions[r]), r)
		ch <- prometheus.MustNewConstMetric(c.freed, prometheus.CounterValue, float64(s.Freed[r]), r)
	}
	if !s.Ran {
		return
	}
	ch <- prometheus.MustNewConstMetric(c.stored, prometheus.GaugeValue, float64(s.Stored))
	ch <- prometheus.MustNewConstMetric(c.lastRun, prometheus.GaugeValue, float64(s.LastRun.UnixNano())/1e9)
	ch <- prometheus.MustNewConstMetric(c.lastDur, prometheus.GaugeValue, s.LastDuration.Seconds())
	unreachable := 0.0
	if s.QuotaUnreachable != "" {
		unreachable = 1
	}
	ch <- prometheus.MustNewConstMetric(c.unreach, prometheus.GaugeValue, unreachable)
}
