package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gomirror/gomirror/internal/fakeproxy"
)

// TestUpstreamGroupThroughTheBinary configures a group of three mirrors
// (slow, flaky, healthy) in YAML, builds a project through it with the go
// command verifying through gomirror's /sumdb/ (which the group serves too),
// and reads the group's state from /upstreams and /metrics.
func TestUpstreamGroupThroughTheBinary(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	// Three equivalent mirrors of one origin: the same modules and the same
	// checksum database (key and tree), whichever mirror a lookup reaches.
	origin := fakeproxy.New(t)
	slow, flaky, healthy := fakeproxy.NewMirror(t, origin), fakeproxy.NewMirror(t, origin), fakeproxy.NewMirror(t, origin)
	slow.SetHook(func(w http.ResponseWriter, r *http.Request) bool {
		select {
		case <-time.After(300 * time.Millisecond):
		case <-r.Context().Done():
			return true
		}
		return false
	})
	var n atomic.Int64
	flaky.SetHook(func(w http.ResponseWriter, r *http.Request) bool {
		if n.Add(1)%2 == 0 {
			http.Error(w, "injected failure", http.StatusInternalServerError)
			return true
		}
		return false
	})
	cfg := filepath.Join(t.TempDir(), "gomirror.yaml")
	yaml := fmt.Sprintf(`upstream: mirrors
upstream-groups:
  - name: mirrors
    mirrors: [%s, %s, %s]
    probe-interval: 100ms
    retry-backoff: 5ms
`, slow.URL, flaky.URL, healthy.URL)
	if err := os.WriteFile(cfg, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	m := startMirror(t, "--config", cfg, "--storage-dir", t.TempDir(), "--sumdb", origin.DBKey)

	project := t.TempDir()
	writeFiles(t, project, map[string]string{
		"go.mod":  "module example.com/app\n\ngo 1.21\n\nrequire example.com/hello v1.1.0\n",
		"main.go": "package main\n\nimport (\n\t\"fmt\"\n\n\t\"example.com/hello\"\n)\n\nfunc main() { fmt.Println(hello.Hello()) }\n",
	})
	env := goEnv(t, m.URL, origin.DBKey)
	mustGo(ctx, t, project, env, "mod", "tidy")
	if out := mustGo(ctx, t, project, env, "run", "."); !strings.Contains(out, "hello v1.1.0") {
		t.Errorf("program output %q", out)
	}
	for range 30 { // traffic for the scores
		if _, err := httpGet(m.URL + "/example.com/hello/@v/list"); err != nil {
			t.Fatal(err)
		}
	}

	var state struct {
		Upstream string
		Mirrors  []struct {
			URL       string  `json:"url"`
			Preferred bool    `json:"preferred"`
			Score     float64 `json:"score"`
			P95       float64 `json:"p95_seconds"`
			ErrorRate float64 `json:"error_rate"`
			Breaker   string  `json:"breaker"`
			Requests  int     `json:"requests"`
			LastError string  `json:"last_error"`
		}
	}
	body, err := httpGet(m.URL + "/upstreams")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(body), &state); err != nil {
		t.Fatalf("/upstreams: %v\n%s", err, body)
	}
	t.Logf("/upstreams:\n%s", body)
	if len(state.Mirrors) != 3 || state.Upstream != "mirrors" {
		t.Fatalf("/upstreams = %+v", state)
	}
	byURL := map[string]int{}
	for i, mm := range state.Mirrors {
		byURL[mm.URL] = i
		if mm.Requests == 0 || mm.Breaker == "" {
			t.Errorf("mirror %s: %+v; want requests and a breaker state", mm.URL, mm)
		}
	}
	h, s, f := state.Mirrors[byURL[healthy.URL]], state.Mirrors[byURL[slow.URL]], state.Mirrors[byURL[flaky.URL]]
	if !h.Preferred || h.Score >= s.Score || h.Score >= f.Score {
		t.Errorf("healthy mirror %+v is not preferred with the best score (slow %+v, flaky %+v)", h, s, f)
	}
	if s.P95 < 0.25 {
		t.Errorf("slow mirror p95 %.3fs, want about 0.3s", s.P95)
	}
	if f.ErrorRate == 0 || f.LastError == "" {
		t.Errorf("flaky mirror %+v: want an error rate and a last error", f)
	}

	metrics, err := httpGet(m.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		fmt.Sprintf(`gomirror_upstream_mirror_preferred{group="mirrors",mirror=%q} 1`, healthy.URL),
		`gomirror_upstream_mirror_score{group="mirrors"`,
		`gomirror_upstream_mirror_latency_seconds{group="mirrors",mirror=`,
		`gomirror_upstream_mirror_breaker_state{group="mirrors"`,
		`gomirror_upstream_mirror_error_rate{group="mirrors"`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// TestUpstreamGroupLaggingMirror: a group of a lagging mirror (its list and
// @latest of example.com/hello lack v1.1.0 and v1.2.0) and a full one. The
// go command's `go list -m -versions` through gomirror shows every
// version; /upstreams, /metrics and the log name the lagging mirror (its
// URL without the credentials it was configured with) and the versions it
// lacked, and an upstream-lag alert rule fires for it, naming the module
// and the versions.
func TestUpstreamGroupLaggingMirror(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	origin := fakeproxy.New(t)
	lagging, full := fakeproxy.NewMirror(t, origin), fakeproxy.NewMirror(t, origin)
	lagging.Inject(fakeproxy.Mutable, fakeproxy.Lag(func(path, version string) bool {
		return path == "example.com/hello" && version != "v1.0.0"
	}))
	laggingURL := strings.Replace(lagging.URL, "http://", "http://user:s3cret@", 1)
	cfg := filepath.Join(t.TempDir(), "gomirror.yaml")
	// The lagging mirror first: it is preferred until it is found lagging.
	// hedge-after-min: the list waits for both answers however busy the
	// machine is.
	// The upstream-lag rule (threshold 0.1: one lag) tells a webhook on
	// loopback.
	hook := make(chan map[string]any, 16)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var msg map[string]any
		if err := json.Unmarshal(b, &msg); err != nil {
			t.Errorf("webhook body %q: %v", b, err)
		}
		hook <- msg
	}))
	defer receiver.Close()
	yaml := fmt.Sprintf(`upstream: mirrors
upstream-groups:
  - name: mirrors
    mirrors: [%s, %s]
    hedge-after-min: 20s
alerts:
  - name: mirror-lagging
    kind: upstream-lag
    upstream: mirrors
    threshold: 0.1
notifiers:
  - name: hook
    type: webhook
    url: %s/hook
`, laggingURL, full.URL, receiver.URL)
	if err := os.WriteFile(cfg, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	m := startMirror(t, "--config", cfg, "--storage-dir", t.TempDir(), "--sumdb", origin.DBKey, "--alert-interval", "1s")

	env := append(goEnv(t, m.URL, origin.DBKey), "GOFLAGS=-mod=mod -modcacherw")
	dir := t.TempDir()
	// (v1.2.0 retracts itself: only -retracted lists it.)
	if out := mustGo(ctx, t, dir, env, "list", "-m", "-versions", "-retracted", "example.com/hello"); strings.TrimSpace(out) != "example.com/hello v1.0.0 v1.1.0 v1.2.0" {
		t.Errorf("go list -m -versions -retracted through the group: %q, want every version", out)
	}
	if out := mustGo(ctx, t, dir, env, "list", "-m", "example.com/hello@latest"); strings.TrimSpace(out) != "example.com/hello v1.1.0" {
		t.Errorf("go list -m example.com/hello@latest through the group: %q, want v1.1.0", out)
	}

	var state struct {
		Mirrors []struct {
			URL      string  `json:"url"`
			Score    float64 `json:"score"`
			Lags     int     `json:"lags"`
			Compared int     `json:"compared"`
			LagRate  float64 `json:"lag_rate"`
			LastLag  *struct {
				Module       string    `json:"module"`
				Op           string    `json:"op"`
				Peer         string    `json:"peer"`
				Missing      []string  `json:"missing"`
				MissingCount int       `json:"missing_count"`
				At           time.Time `json:"at"`
			} `json:"last_lag"`
		}
	}
	body, err := httpGet(m.URL + "/upstreams")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(body), &state); err != nil || len(state.Mirrors) != 2 {
		t.Fatalf("/upstreams: %v\n%s", err, body)
	}
	t.Logf("/upstreams:\n%s", body)
	lag, ful := state.Mirrors[0], state.Mirrors[1]
	if lag.URL != lagging.URL || lag.Lags < 1 || lag.LastLag == nil || lag.LastLag.Module != "example.com/hello" ||
		lag.LastLag.Peer != full.URL || lag.LastLag.MissingCount != 2 || strings.Join(lag.LastLag.Missing, " ") != "v1.2.0 v1.1.0" ||
		lag.LastLag.At.IsZero() {
		t.Errorf("/upstreams: the lagging mirror %+v (last lag %+v); want its lag of example.com/hello v1.2.0 v1.1.0", lag, lag.LastLag)
	}
	if ful.Lags != 0 || ful.Compared < 1 || ful.Score >= lag.Score {
		t.Errorf("/upstreams: the full mirror %+v; want compared, no lag, a better score than %v", ful, lag.Score)
	}
	metrics, err := httpGet(m.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		fmt.Sprintf(`gomirror_upstream_mirror_lag_total{group="mirrors",mirror=%q} %d`, lagging.URL, lag.Lags),
		fmt.Sprintf(`gomirror_upstream_mirror_lag_total{group="mirrors",mirror=%q} 0`, full.URL),
		fmt.Sprintf(`gomirror_upstream_mirror_lag_missing_versions{group="mirrors",mirror=%q} 2`, lagging.URL),
		fmt.Sprintf(`gomirror_upstream_mirror_preferred{group="mirrors",mirror=%q} 1`, full.URL),
	} {
		if !strings.Contains(metrics, want+"\n") {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	var fired map[string]any
	select {
	case fired = <-hook:
	case <-time.After(30 * time.Second):
		t.Fatalf("after 30s no upstream-lag alert reached the webhook\n%s", tail(m.logs.String(), 20))
	}
	text := fmt.Sprint(fired["text"])
	if fired["rule"] != "mirror-lagging" || fired["state"] != "firing" || fired["key"] != lagging.URL ||
		!strings.Contains(text, "mirror "+lagging.URL+" of group mirrors") || !strings.Contains(text, "example.com/hello lacked v1.2.0, v1.1.0") {
		t.Errorf("upstream-lag alert %v; want it firing about %s, naming example.com/hello v1.2.0, v1.1.0", fired, lagging.URL)
	}
	logs := m.logs.String()
	if !strings.Contains(logs, "upstream mirror lags behind its group") || !strings.Contains(logs, "v1.2.0 v1.1.0") {
		t.Errorf("no log line names the lag:\n%s", logs)
	}
	for _, where := range []string{logs, body, metrics, text} {
		if strings.Contains(where, "s3cret") {
			t.Errorf("the mirror's password is shown:\n%s", where)
		}
	}
}
