package obs

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestWatchMirrorsExportsLagsAndDisagreements(t *testing.T) {
	m := NewMetrics()
	m.WatchMirrors(func() []Mirror {
		return []Mirror{{Group: "g", URL: "http://a.test", Score: 0.25, Lags: 3, LagMissing: 2, LagRate: 0.2, Disagreements: 5}}
	})
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	for _, want := range []string{
		`gomirror_upstream_mirror_lag_total{group="g",mirror="http://a.test"} 3`,
		`gomirror_upstream_mirror_lag_missing_versions{group="g",mirror="http://a.test"} 2`,
		`gomirror_upstream_mirror_lag_rate{group="g",mirror="http://a.test"} 0.2`,
		`gomirror_upstream_mirror_disagreements_total{group="g",mirror="http://a.test"} 5`,
		`# HELP gomirror_upstream_mirror_score Mirror score: latency in seconds plus weighted error rate plus weighted lag rate`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}
