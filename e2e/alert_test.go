package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gomirror/gomirror/internal/fakeproxy"
)

// TestAlertFiresOnceAndResolvesOnce: a client over a request rate (the
// guides' "too many @latest from one address") makes gomirror post one
// "firing" message to a webhook receiver on loopback, and once the window
// has passed, one "resolved"; the API shows both in the alert history.
func TestAlertFiresOnceAndResolvesOnce(t *testing.T) {
	var (
		mu       sync.Mutex
		messages []map[string]any
		got      = make(chan struct{}, 16)
	)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Errorf("webhook body %q: %v", b, err)
		}
		mu.Lock()
		messages = append(messages, m)
		mu.Unlock()
		got <- struct{}{}
	}))
	defer receiver.Close()
	cfg := filepath.Join(t.TempDir(), "gomirror.yaml")
	yaml := fmt.Sprintf(`alerts:
  - name: latest-abuse
    kind: client-rate
    request-kind: latest
    threshold: 3
    window: 3s
notifiers:
  - name: hook
    type: webhook
    url: %s/hook
`, receiver.URL)
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	up := fakeproxy.New(t)
	m := startMirror(t, "--config", cfg, "--storage-dir", t.TempDir(), "--upstream", up.URL, "--sumdb", up.DBKey, "--alert-interval", "1s")
	for range 5 {
		if _, err := httpGet(m.URL + "/example.com/hello/@latest"); err != nil {
			t.Fatal(err)
		}
	}
	wait := func(n int) {
		t.Helper()
		for {
			mu.Lock()
			have := len(messages)
			mu.Unlock()
			if have >= n {
				return
			}
			select {
			case <-got:
			case <-time.After(30 * time.Second):
				t.Fatalf("after 30s the webhook received %d messages, want %d\n%s", have, n, tail(m.logs.String(), 20))
			}
		}
	}
	wait(2) // firing, then resolved once the window has passed
	// The history, from the database.
	var hist struct {
		History []struct{ Rule, State, Key string }
	}
	for deadline := time.Now().Add(30 * time.Second); len(hist.History) < 2; {
		body, err := httpGet(m.URL + "/api/v1/alerts")
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal([]byte(body), &hist); err != nil {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("alert history after 30s: %s", body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	m.stop(t) // sends whatever is still queued
	mu.Lock()
	defer mu.Unlock()
	var states []string
	for _, msg := range messages {
		states = append(states, fmt.Sprint(msg["state"]))
		if msg["rule"] != "latest-abuse" || msg["key"] != "127.0.0.1" {
			t.Errorf("message %v: want rule latest-abuse about 127.0.0.1", msg)
		}
	}
	if strings.Join(states, ",") != "firing,resolved" {
		t.Errorf("webhook messages by state: %v, want firing then resolved, once each", states)
	}
	if h := hist.History; len(h) != 2 || h[0].State != "resolved" || h[1].State != "firing" || h[0].Key != "127.0.0.1" {
		t.Errorf("alert history %+v, want resolved then firing (newest first) for 127.0.0.1", h)
	}
}
