package obs

import (
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
)

// scraped returns every sample m exports, by "name{label=value,...}" (labels
// in name order), with its value and type; families of the Go and process
// collectors are left out.
func scraped(t *testing.T, m *Metrics) map[string]sample {
	t.Helper()
	fams, err := m.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]sample{}
	for _, f := range fams {
		for _, mt := range f.GetMetric() {
			k := f.GetName() + "{"
			for i, l := range mt.GetLabel() {
				if i > 0 {
					k += ","
				}
				k += l.GetName() + "=" + l.GetValue()
			}
			k += "}"
			var v float64
			switch f.GetType() {
			case dto.MetricType_GAUGE:
				v = mt.GetGauge().GetValue()
			case dto.MetricType_COUNTER:
				v = mt.GetCounter().GetValue()
			default:
				continue
			}
			out[k] = sample{f.GetType(), v}
		}
	}
	return out
}

type sample struct {
	typ dto.MetricType
	v   float64
}

// TestWatch checks the metrics that WatchStorage, WatchAudit and
// WatchAlerts export: read at each scrape from their funcs, with their
// types, and nothing for storage whose usage is unknown.
func TestWatch(t *testing.T) {
	m := NewMetrics()
	var (
		bytes, objects int64 = 1 << 40, 12345
		usageKnown           = true
		audit                = AuditStats{Queued: 7, Written: 100, Spilled: 3, Replayed: 2, Dropped: 1}
		firing               = map[string]int{"checksum-mismatch": 1, "latest-flood": 3, "quiet": 0}
	)
	m.WatchStorage(func() (int64, int64, bool) { return bytes, objects, usageKnown })
	m.WatchAudit(func() AuditStats { return audit })
	m.WatchAlerts(func() map[string]int { return firing })

	gauge, counter := dto.MetricType_GAUGE, dto.MetricType_COUNTER
	check := func(when string, want map[string]sample) {
		t.Helper()
		got := scraped(t, m)
		for k, w := range want {
			if g, ok := got[k]; !ok || g != w {
				t.Errorf("%s: %s = %v (present %v), want %v", when, k, g, ok, w)
			}
		}
		// Nothing else of these families.
		for k := range got {
			for _, fam := range []string{"gomirror_storage_", "gomirror_audit_", "gomirror_alerts_"} {
				if len(k) > len(fam) && k[:len(fam)] == fam {
					if _, ok := want[k]; !ok {
						t.Errorf("%s: unexpected %s (exported: %v)", when, k, slices.Sorted(maps.Keys(got)))
					}
				}
			}
		}
	}
	check("first scrape", map[string]sample{
		"gomirror_storage_bytes{}":                       {gauge, 1 << 40},
		"gomirror_storage_objects{}":                     {gauge, 12345},
		"gomirror_audit_queue_records{}":                 {gauge, 7},
		"gomirror_audit_records_total{result=written}":   {counter, 100},
		"gomirror_audit_records_total{result=spilled}":   {counter, 3},
		"gomirror_audit_records_total{result=replayed}":  {counter, 2},
		"gomirror_audit_records_total{result=dropped}":   {counter, 1},
		"gomirror_alerts_firing{rule=checksum-mismatch}": {gauge, 1},
		"gomirror_alerts_firing{rule=latest-flood}":      {gauge, 3},
		"gomirror_alerts_firing{rule=quiet}":             {gauge, 0},
	})

	// The funcs are read again at each scrape.
	bytes, objects = 2048, 2
	audit = AuditStats{Written: 150, Spilled: 3, Replayed: 3, Dropped: 1}
	firing = map[string]int{"quiet": 0}
	check("second scrape", map[string]sample{
		"gomirror_storage_bytes{}":                      {gauge, 2048},
		"gomirror_storage_objects{}":                    {gauge, 2},
		"gomirror_audit_queue_records{}":                {gauge, 0},
		"gomirror_audit_records_total{result=written}":  {counter, 150},
		"gomirror_audit_records_total{result=spilled}":  {counter, 3},
		"gomirror_audit_records_total{result=replayed}": {counter, 3},
		"gomirror_audit_records_total{result=dropped}":  {counter, 1},
		"gomirror_alerts_firing{rule=quiet}":            {gauge, 0},
	})

	// Unknown usage: no storage metrics rather than zeros.
	usageKnown = false
	firing = nil
	check("usage unknown, no rules", map[string]sample{
		"gomirror_audit_queue_records{}":                {gauge, 0},
		"gomirror_audit_records_total{result=written}":  {counter, 150},
		"gomirror_audit_records_total{result=spilled}":  {counter, 3},
		"gomirror_audit_records_total{result=replayed}": {counter, 3},
		"gomirror_audit_records_total{result=dropped}":  {counter, 1},
	})
}

func TestWatchPolicy(t *testing.T) {
	m := NewMetrics()
	m.ObservePolicy("zip", "warned") // before WatchPolicy: nothing to count into, no panic
	st := PolicyStats{Rules: 12, Reloads: 3, Failures: 1, Bad: true}
	m.WatchPolicy(func() PolicyStats { return st })
	m.ObservePolicy("zip", "warned")
	m.ObservePolicy("info", "refused")
	m.ObservePolicy("info", "refused")
	m.ObservePolicy("list", "unavailable")
	got := scraped(t, m)
	for k, v := range map[string]float64{
		"gomirror_policy_decisions_total{kind=zip,result=warned}":       1,
		"gomirror_policy_decisions_total{kind=info,result=refused}":     2,
		"gomirror_policy_decisions_total{kind=list,result=unavailable}": 1,
		"gomirror_policy_rules{}":                                       12,
		"gomirror_policy_reloads_total{result=ok}":                      3,
		"gomirror_policy_reloads_total{result=error}":                   1,
		"gomirror_policy_file_refused{}":                                1,
	} {
		if got[k].v != v {
			t.Errorf("%s = %v, want %v", k, got[k].v, v)
		}
	}
}

func TestWatchGC(t *testing.T) {
	m := NewMetrics()
	state := GCState{MaxBytes: 50 << 30}
	m.WatchGC(func() GCState { return state })
	gauge, counter := dto.MetricType_GAUGE, dto.MetricType_COUNTER
	check := func(when string, want map[string]sample) {
		t.Helper()
		got := scraped(t, m)
		for k := range got {
			if strings.HasPrefix(k, "gomirror_gc_") {
				if _, ok := want[k]; !ok {
					t.Errorf("%s: unexpected %s", when, k)
				}
			}
		}
		for k, w := range want {
			if g, ok := got[k]; !ok || g != w {
				t.Errorf("%s: %s = %v (present %v), want %v", when, k, g, ok, w)
			}
		}
	}
	check("before a run", map[string]sample{
		"gomirror_gc_quota_bytes{}":                       {gauge, 50 << 30},
		"gomirror_gc_evictions_total{reason=quota}":       {counter, 0},
		"gomirror_gc_evictions_total{reason=retention}":   {counter, 0},
		"gomirror_gc_freed_bytes_total{reason=quota}":     {counter, 0},
		"gomirror_gc_freed_bytes_total{reason=retention}": {counter, 0},
	})
	state = GCState{Ran: true, LastRun: time.Unix(1000, 0), LastDuration: 2 * time.Second, Stored: 40 << 30, MaxBytes: 50 << 30,
		Evictions: map[string]uint64{"quota": 3}, Freed: map[string]uint64{"quota": 300}, QuotaUnreachable: "pinned 1"}
	check("after a run", map[string]sample{
		"gomirror_gc_quota_bytes{}":                       {gauge, 50 << 30},
		"gomirror_gc_stored_bytes{}":                      {gauge, 40 << 30},
		"gomirror_gc_evictions_total{reason=quota}":       {counter, 3},
		"gomirror_gc_evictions_total{reason=retention}":   {counter, 0},
		"gomirror_gc_freed_bytes_total{reason=quota}":     {counter, 300},
		"gomirror_gc_freed_bytes_total{reason=retention}": {counter, 0},
		"gomirror_gc_last_run_timestamp_seconds{}":        {gauge, 1000},
		"gomirror_gc_last_run_duration_seconds{}":         {gauge, 2},
		"gomirror_gc_quota_unreachable{}":                 {gauge, 1},
	})
}

// TestWatchHeldZips: the held zips' gauges and counters, read at each
// scrape, without per-module labels.
func TestWatchHeldZips(t *testing.T) {
	m := NewMetrics()
	st := HeldZipStats{Count: 3, Bytes: 300, Held: 10, Taken: 4, Evicted: 2, Expired: 1}
	m.WatchHeldZips(func() HeldZipStats { return st })
	gauge, counter := dto.MetricType_GAUGE, dto.MetricType_COUNTER
	for _, scrape := range []struct {
		st   HeldZipStats
		want map[string]sample
	}{
		{st, map[string]sample{
			"gomirror_prefetch_held_zips{}":                     {gauge, 3},
			"gomirror_prefetch_held_bytes{}":                    {gauge, 300},
			"gomirror_prefetch_held_zips_total{result=held}":    {counter, 10},
			"gomirror_prefetch_held_zips_total{result=taken}":   {counter, 4},
			"gomirror_prefetch_held_zips_total{result=evicted}": {counter, 2},
			"gomirror_prefetch_held_zips_total{result=expired}": {counter, 1},
		}},
		{HeldZipStats{Held: 10, Taken: 4, Evicted: 2, Expired: 4}, map[string]sample{
			"gomirror_prefetch_held_zips{}":                     {gauge, 0},
			"gomirror_prefetch_held_zips_total{result=expired}": {counter, 4},
		}},
	} {
		st = scrape.st
		got := scraped(t, m)
		for k, w := range scrape.want {
			if g, ok := got[k]; !ok || g != w {
				t.Errorf("%s = %v (present %v), want %v", k, g, ok, w)
			}
		}
		n := 0
		for k := range got {
			if strings.HasPrefix(k, "gomirror_prefetch_held_") {
				n++
			}
		}
		if n != 6 {
			t.Errorf("%d held-zip series, want 6", n)
		}
	}
}
