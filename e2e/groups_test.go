package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
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
