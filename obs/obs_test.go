package obs

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// gathered returns m's counter values by "metric{label values, in the
// order of their names}", and the number of series of each metric.
func gathered(t *testing.T, m *Metrics) (values map[string]float64, series map[string]int) {
	t.Helper()
	fams, err := m.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	values, series = map[string]float64{}, map[string]int{}
	for _, f := range fams {
		for _, mt := range f.GetMetric() {
			var labels []string
			for _, l := range mt.GetLabel() {
				labels = append(labels, l.GetValue())
			}
			series[f.GetName()]++
			if c := mt.GetCounter(); c != nil {
				values[f.GetName()+"{"+strings.Join(labels, ",")+"}"] = c.GetValue()
			}
		}
	}
	return values, series
}

// TestObserveRequest checks the request metrics' counts by label, with the
// children kept (requestSeries) and past the bound on kept children.
func TestObserveRequest(t *testing.T) {
	for _, full := range []bool{false, true} {
		m := NewMetrics()
		if full {
			m.nSeries.Store(maxSeries)
		}
		hit := &Request{Kind: "info", Status: 200, Bytes: 50, Duration: time.Millisecond}
		hit.SetCache("hit")
		for range 3 {
			m.ObserveRequest(hit)
		}
		m.ObserveRequest(&Request{Kind: "zip", Status: 404, Bytes: 10})
		m.ObserveRequest(&Request{Status: 0})
		values, series := gathered(t, m)
		for _, tc := range []struct {
			name string
			got  float64
			want float64
		}{
			{"info 200", values["gomirror_http_requests_total{200,info}"], 3},
			{"zip 404", values["gomirror_http_requests_total{404,zip}"], 1},
			{"other 200 (status 0)", values["gomirror_http_requests_total{200,other}"], 1},
			{"info bytes", values["gomirror_bytes_served_total{info}"], 150},
			{"zip bytes", values["gomirror_bytes_served_total{zip}"], 10},
			{"info hit", values["gomirror_cache_requests_total{info,hit}"], 3},
			{"cache series", float64(series["gomirror_cache_requests_total"]), 1},
			{"duration series", float64(series["gomirror_http_request_duration_seconds"]), 3},
		} {
			if tc.got != tc.want {
				t.Errorf("full %v: %s = %v, want %v (%v)", full, tc.name, tc.got, tc.want, slices.Sorted(mapsKeys(values)))
			}
		}
		if n := m.nSeries.Load(); full && n != maxSeries || !full && n != 3 {
			t.Errorf("full %v: %d children kept", full, n)
		}
	}
}

func mapsKeys(m map[string]float64) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// TestRequestCache checks that a Request gives back the cache outcome it
// was given, the usual ones and others.
func TestRequestCache(t *testing.T) {
	var r Request
	if got := r.Cache(); got != "" {
		t.Errorf("new Request: %q", got)
	}
	for _, v := range []string{"hit", "miss", "prefetched", "fresh", "stale", "other", "", "hit"} {
		r.SetCache(v)
		if got := r.Cache(); got != v {
			t.Errorf("SetCache(%q): Cache() = %q", v, got)
		}
	}
	for _, v := range []string{"hit", "prefetched"} { // every value cache.Outcome has
		if n := testing.AllocsPerRun(100, func() { r.SetCache(v); _ = r.Cache() }); n != 0 {
			t.Errorf("%v allocations to record %s", n, v)
		}
	}
}
