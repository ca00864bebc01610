package obs

import "github.com/prometheus/client_golang/prometheus"

// The collectors here read their values from a func at each scrape, as
// mirrorCollector does: the state they export belongs to another package
// (storage, the audit recorder, the alert evaluator), which only has to
// give a snapshot. None of them has a per-module or per-client label.

// WatchStorage exports gomirror_storage_bytes and gomirror_storage_objects,
// the size and number of the artifacts in storage, as usage returns them at
// each scrape. While usage returns ok false (not measured yet, or the
// storage cannot say), neither metric has a value, rather than a false 0.
// usage must be quick: it runs on the scrape's path. Call WatchStorage at
// most once per Metrics.
func (m *Metrics) WatchStorage(usage func() (bytes, objects int64, ok bool)) {
	m.reg.MustRegister(&storageCollector{
		usage:   usage,
		bytes:   prometheus.NewDesc("gomirror_storage_bytes", "Bytes of the artifacts in storage.", nil, nil),
		objects: prometheus.NewDesc("gomirror_storage_objects", "Number of artifacts (files) in storage.", nil, nil),
	})
}

type storageCollector struct {
	usage          func() (bytes, objects int64, ok bool)
	bytes, objects *prometheus.Desc
}

func (c *storageCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.bytes; ch <- c.objects }

func (c *storageCollector) Collect(ch chan<- prometheus.Metric) {
	b, n, ok := c.usage()
	if !ok {
		return
	}
	ch <- prometheus.MustNewConstMetric(c.bytes, prometheus.GaugeValue, float64(b))
	ch <- prometheus.MustNewConstMetric(c.objects, prometheus.GaugeValue, float64(n))
}

// AuditStats is the state of the audit log's recorder: the records waiting
// to be written, and the counts since the process started of those written
// to the database, spilled to the local file while the database was
// unavailable, replayed from that file into the database, and dropped
// (lost). The counts never decrease.
type AuditStats struct {
	Queued                              int
	Written, Spilled, Replayed, Dropped uint64
}

// WatchAudit exports gomirror_audit_queue_records (a gauge) and
// gomirror_audit_records_total{result=written|spilled|replayed|dropped} (a
// counter), as stats returns them at each scrape. stats must be quick. Call
// WatchAudit at most once per Metrics.
func (m *Metrics) WatchAudit(stats func() AuditStats) {
	m.reg.MustRegister(&auditCollector{
		stats: stats,
		queue: prometheus.NewDesc("gomirror_audit_queue_records",
			"Audit records waiting to be written.", nil, nil),
		records: prometheus.NewDesc("gomirror_audit_records_total",
			"Audit records by what became of them: written (to the database), spilled (to the local file while the database was unavailable), replayed (from that file into the database), dropped (lost).",
			[]string{"result"}, nil),
	})
}

type auditCollector struct {
	stats          func() AuditStats
	queue, records *prometheus.Desc
}

func (c *auditCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.queue; ch <- c.records }

func (c *auditCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.stats()
	ch <- prometheus.MustNewConstMetric(c.queue, prometheus.GaugeValue, float64(s.Queued))
	for _, r := range []struct {
		result string
		n      uint64
	}{{"written", s.Written}, {"spilled", s.Spilled}, {"replayed", s.Replayed}, {"dropped", s.Dropped}} {
		ch <- prometheus.MustNewConstMetric(c.records, prometheus.CounterValue, float64(r.n), r.result)
	}
}

// WatchAlerts exports gomirror_alerts_firing{rule}: for each rule of the
// config that firing returns at a scrape, the number of its alerts that
// are firing (0 for a rule with none, so that every rule has a series).
// Rule names come from the config, not from clients. firing must be quick.
// Call WatchAlerts at most once per Metrics.
func (m *Metrics) WatchAlerts(firing func() map[string]int) {
	m.reg.MustRegister(&alertCollector{
		firing: firing,
		desc: prometheus.NewDesc("gomirror_alerts_firing",
			"Alerts firing, by rule of gomirror's own alerting (rules in its config).", []string{"rule"}, nil),
	})
}

type alertCollector struct {
	firing func() map[string]int
	desc   *prometheus.Desc
}

func (c *alertCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *alertCollector) Collect(ch chan<- prometheus.Metric) {
	for rule, n := range c.firing() {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n), rule)
	}
}

// PolicyStats is what the policy in force reports for metrics.
type PolicyStats struct {
	Rules    int
	Reloads  uint64 // changed files put in force
	Failures uint64 // changed files refused (the last good policy stays)
	// Bad is whether the file as it is now is refused.
	Bad bool
}

// WatchPolicy registers the policy's metrics: its decisions that refuse,
// by request kind and mode (ObservePolicy), its rules, and its reloads.
// Call it once, with the policy configured.
func (m *Metrics) WatchPolicy(stats func() PolicyStats) {
	m.policy = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gomirror_policy_decisions_total",
		Help: "Requests whose version the policy refused, by kind (info, mod, zip; list for @latest answers) and result: refused (enforced, 403), warned (served) or unavailable (not decided while the vulnerability database loads, 503).",
	}, []string{"kind", "result"})
	m.reg.MustRegister(m.policy, &policyCollector{
		stats: stats,
		rules: prometheus.NewDesc("gomirror_policy_rules", "Rules of the policy in force, in all its sets.", nil, nil),
		reloads: prometheus.NewDesc("gomirror_policy_reloads_total",
			"Changed policy files by result: ok (in force) or error (refused; the last good policy stays in force).", []string{"result"}, nil),
		bad: prometheus.NewDesc("gomirror_policy_file_refused",
			"1 when the policy file as it is now is refused (a bad edit) and the last good policy is in force.", nil, nil),
	})
}

// ObservePolicy counts a decision that refused a request's version:
// result "refused" (enforced), "warned" or "unavailable" (not decided:
// the vulnerability database is loading; 503). kind is the request's kind.
func (m *Metrics) ObservePolicy(kind, result string) {
	if m.policy == nil {
		return
	}
	m.policy.WithLabelValues(kind, result).Inc()
}

type policyCollector struct {
	stats               func() PolicyStats
	rules, reloads, bad *prometheus.Desc
}

func (c *policyCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.rules
	ch <- c.reloads
	ch <- c.bad
}

func (c *policyCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.stats()
	ch <- prometheus.MustNewConstMetric(c.rules, prometheus.GaugeValue, float64(s.Rules))
	ch <- prometheus.MustNewConstMetric(c.reloads, prometheus.CounterValue, float64(s.Reloads), "ok")
	ch <- prometheus.MustNewConstMetric(c.reloads, prometheus.CounterValue, float64(s.Failures), "error")
	bad := 0.0
	if s.Bad {
		bad = 1
	}
	ch <- prometheus.MustNewConstMetric(c.bad, prometheus.GaugeValue, bad)
}

// HeldZipStats are the counts of the zips that prefetches fetched and
// hold outside storage until a client asks for them (cache.HeldZipStats):
// held now and their bytes; since the start, how many were held, taken
// (stored for a client), evicted unused (for room) and expired unused.
type HeldZipStats struct {
	Count                         int
	Bytes                         int64
	Held, Taken, Evicted, Expired int64
}

// WatchHeldZips exports gomirror_prefetch_held_zips and
// gomirror_prefetch_held_bytes (gauges) and
// gomirror_prefetch_held_zips_total{result=held|taken|evicted|expired} (a
// counter), as stats returns them at each scrape; no per-module labels.
// stats must be quick. Call WatchHeldZips at most once per Metrics.
func (m *Metrics) WatchHeldZips(stats func() HeldZipStats) {
	m.reg.MustRegister(&heldCollector{
		stats: stats,
		zips:  prometheus.NewDesc("gomirror_prefetch_held_zips", "Prefetched zips held in the temporary directory until a client asks for them.", nil, nil),
		bytes: prometheus.NewDesc("gomirror_prefetch_held_bytes", "Bytes of the prefetched zips held.", nil, nil),
		total: prometheus.NewDesc("gomirror_prefetch_held_zips_total",
			"Prefetched zips by what became of them: held, taken (stored for a client), evicted (unused, for room), expired (unused, at their limit).",
			[]string{"result"}, nil),
	})
}

type heldCollector struct {
	stats              func() HeldZipStats
	zips, bytes, total *prometheus.Desc
}

func (c *heldCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.zips
	ch <- c.bytes
	ch <- c.total
}

func (c *heldCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.stats()
	ch <- prometheus.MustNewConstMetric(c.zips, prometheus.GaugeValue, float64(s.Count))
	ch <- prometheus.MustNewConstMetric(c.bytes, prometheus.GaugeValue, float64(s.Bytes))
	for _, r := range []struct {
		result string
		n      int64
	}{{"held", s.Held}, {"taken", s.Taken}, {"evicted", s.Evicted}, {"expired", s.Expired}} {
		ch <- prometheus.MustNewConstMetric(c.total, prometheus.CounterValue, float64(r.n), r.result)
	}
}
