package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/module"

	"github.com/gomirror/gomirror/api"
	"github.com/gomirror/gomirror/internal/clientaddr"
	"github.com/gomirror/gomirror/policy"
)

// floodFacts holds every fact about a module under example.com/flood/
// until release is closed (a slow upstream), telling arrived about each;
// any other module's facts answer at once.
type floodFacts struct {
	countingFacts
	arrived chan struct{}
	release chan struct{}
}

func (f *floodFacts) Time(ctx context.Context, m module.Version) (time.Time, error) {
	if strings.HasPrefix(m.Path, "example.com/flood/") {
		select {
		case f.arrived <- struct{}{}:
		default:
		}
		select {
		case <-f.release:
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		}
	}
	return time.Now().Add(-time.Hour), nil
}

// postFrom posts body to the endpoint as client address addr (the test
// server trusts loopback as a proxy, so X-Forwarded-For names the client).
func postFrom(t *testing.T, url, addr string, body []byte) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url+api.PolicyPath, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Forwarded-For", addr)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Error(err)
		return nil, nil
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	return resp, b.Bytes()
}

// TestPolicyCheckFairShare: while one client floods the endpoint (many
// requests of many module versions whose facts take long), another
// client's request is decided in full: a client holds at most its share of
// the decision slots, and its requests beyond its share of requests are
// refused with 429.
func TestPolicyCheckFairShare(t *testing.T) {
	pol, err := policy.Parse("policy.yaml", []byte(testPolicy))
	if err != nil {
		t.Fatal(err)
	}
	facts := &floodFacts{arrived: make(chan struct{}, 1), release: make(chan struct{})}
	h := api.NewPolicyHandler(api.PolicyOptions{Policy: func() *policy.Policy { return pol }, Facts: facts, Concurrency: 8, Timeout: 5 * time.Second})
	trust, err := clientaddr.Parse("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(trust.Middleware(h))
	defer srv.Close()

	var flood []string
	for i := range 200 {
		flood = append(flood, fmt.Sprintf("example.com/flood/m%d@v1.0.0", i))
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	statuses := map[int]int{}
	for range 20 {
		wg.Go(func() {
			resp, _ := postFrom(t, srv.URL, "192.0.2.66", checkBody(false, flood...))
			if resp != nil {
				mu.Lock()
				statuses[resp.StatusCode]++
				mu.Unlock()
			}
		})
	}
	defer func() {
		close(facts.release)
		wg.Wait()
		if statuses[http.StatusTooManyRequests] == 0 {
			t.Errorf("flood answers %v: want some 429 (too many requests from one client)", statuses)
		}
	}()
	<-facts.arrived // the flood holds slots now

	var legit []string
	for i := range 50 {
		legit = append(legit, fmt.Sprintf("example.com/legit/m%d@v1.0.0", i))
	}
	resp, body := postFrom(t, srv.URL, "198.51.100.7", checkBody(false, legit...))
	if resp == nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("legit request: %v %s", resp, body)
	}
	var ans api.PolicyCheckResponse
	if err := json.Unmarshal(body, &ans); err != nil {
		t.Fatal(err)
	}
	undecided := 0
	for _, d := range ans.Decisions {
		if d.Error != "" {
			undecided++
		}
	}
	if len(ans.Decisions) != 50 || undecided != 0 {
		t.Errorf("legit request during a flood: %d decisions, %d not decided, want 50 decided", len(ans.Decisions), undecided)
	}
}
