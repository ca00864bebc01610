package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/module"

	"github.com/gomirror/gomirror/api"
	"github.com/gomirror/gomirror/auth"
	"github.com/gomirror/gomirror/policy"
)

// countingFacts answers every fact and counts the modules asked about.
type countingFacts struct {
	mu    sync.Mutex
	asked map[string]int
}

func (f *countingFacts) note(m module.Version) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.asked == nil {
		f.asked = map[string]int{}
	}
	f.asked[m.Path]++
}

func (f *countingFacts) Time(_ context.Context, m module.Version) (time.Time, error) {
	f.note(m)
	return time.Now().Add(-time.Hour), nil
}

func (f *countingFacts) Retracted(_ context.Context, m module.Version) (string, bool, error) {
	f.note(m)
	return "", false, nil
}

func (f *countingFacts) Licenses(_ context.Context, m module.Version) ([]string, error) {
	f.note(m)
	return []string{"MIT"}, nil
}

func (f *countingFacts) Vulns(_ context.Context, m module.Version) ([]policy.Advisory, error) {
	f.note(m)
	return nil, nil
}

const testPolicy = `
rules:
  - name: fresh
    module: "*"
    min-age: 2
sets:
  - name: strict
    tokens: [prod]
    rules:
      - name: deny-all
        module: "*"
        action: deny
`

// policyServer serves the endpoint behind auth with mode all, private
// modules corp.example/* readable by token ci only.
func policyServer(t *testing.T, facts policy.Facts) (srv *httptest.Server, secrets map[string]string) {
	t.Helper()
	pol, err := policy.Parse("policy.yaml", []byte(testPolicy))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "tokens.json")
	tokens := auth.NewTokens(path)
	secrets = map[string]string{}
	for _, name := range []string{"ci", "dev", "prod"} {
		if secrets[name], err = tokens.Add(name); err != nil {
			t.Fatal(err)
		}
	}
	authn, err := auth.New(auth.Options{Mode: auth.ModePrivate, Private: "corp.example/*", TokensFile: path,
		Rules: []auth.Rule{{Modules: "corp.example/*", Tokens: []string{"ci", "prod"}}}})
	if err != nil {
		t.Fatal(err)
	}
	h := api.NewPolicyHandler(api.PolicyOptions{Policy: func() *policy.Policy { return pol }, Facts: facts, Allows: authn.Allows})
	srv = httptest.NewServer(authn.Wrap(h, nil))
	t.Cleanup(srv.Close)
	return srv, secrets
}

func post(t *testing.T, url, token string, body []byte) (*http.Response, []byte) {
	t.Helper()
	return postType(t, url, token, "application/json", body)
}

func postType(t *testing.T, url, token, contentType string, body []byte) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url+"/api/v1/policy/check", bytes.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	return resp, b.Bytes()
}

func checkBody(explain bool, mods ...string) []byte {
	req := api.PolicyCheckRequest{Explain: explain}
	for _, m := range mods {
		p, v, _ := strings.Cut(m, "@")
		req.Modules = append(req.Modules, api.PolicyQuery{Module: p, Version: v})
	}
	b, _ := json.Marshal(req)
	return b
}

func TestPolicyCheckDecisions(t *testing.T) {
	facts := &countingFacts{}
	srv, secrets := policyServer(t, facts)
	for _, tc := range []struct {
		token   string
		mods    []string
		want    []string // rule, or "!" + error prefix
		allowed []bool
	}{
		// Anonymous: public modules decided by the top-level rules; a
		// private module not, whether it exists or not.
		{"", []string{"example.com/a@v1.0.0", "corp.example/secret@v1.0.0"}, []string{"fresh", "!not permitted"}, []bool{false, false}},
		// ci may read corp.example.
		{secrets["ci"], []string{"corp.example/secret@v1.0.0"}, []string{"fresh"}, []bool{false}},
		// dev may not: the same answer as for anyone.
		{secrets["dev"], []string{"corp.example/secret@v1.0.0", "corp.example/nonexistent@v1.9.0"}, []string{"!not permitted", "!not permitted"}, []bool{false, false}},
		// prod's token gets its set.
		{secrets["prod"], []string{"example.com/a@v1.0.0"}, []string{"deny-all"}, []bool{false}},
	} {
		resp, body := post(t, srv.URL, tc.token, checkBody(true, tc.mods...))
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s", body)
		}
		var ans api.PolicyCheckResponse
		if err := json.Unmarshal(body, &ans); err != nil || len(ans.Decisions) != len(tc.mods) {
			t.Fatalf("%v: %s", err, body)
		}
		for i, d := range ans.Decisions {
			if m := d.Module + "@" + d.Version; m != tc.mods[i] {
				t.Errorf("decision %d is for %s, want %s", i, m, tc.mods[i])
			}
			w := tc.want[i]
			if e, ok := strings.CutPrefix(w, "!"); ok {
				if !strings.HasPrefix(d.Error, e) || d.Rule != "" || d.Reason != "" {
					t.Errorf("%s: %+v, want error %q", tc.mods[i], d, e)
				}
				continue
			}
			if d.Error != "" || d.Rule != w || d.Allowed != tc.allowed[i] {
				t.Errorf("%s: %+v, want rule %q allowed %v", tc.mods[i], d, w, tc.allowed[i])
			}
		}
	}
	if n := facts.asked["corp.example/nonexistent"]; n != 0 {
		t.Errorf("facts of a module the token may not read were asked for %d times", n)
	}
	if n := facts.asked["corp.example/secret"]; n != 1 {
		t.Errorf("facts of corp.example/secret asked %d times, want once (for ci)", n)
	}
}

func TestPolicyCheckExplain(t *testing.T) {
	srv, _ := policyServer(t, &countingFacts{})
	_, body := post(t, srv.URL, "", checkBody(true, "example.com/a@v1.0.0"))
	var ans api.PolicyCheckResponse
	if err := json.Unmarshal(body, &ans); err != nil {
		t.Fatal(err)
	}
	d := ans.Decisions[0]
	if len(d.Checks) != 1 || d.Checks[0].Name != "min-age" || d.Checks[0].Passed || !strings.HasPrefix(d.Checks[0].Fact, "published ") || d.File != "policy.yaml" || d.Line != 3 {
		t.Errorf("explained decision %+v", d)
	}
	_, body = post(t, srv.URL, "", checkBody(false, "example.com/a@v1.0.0"))
	if strings.Contains(string(body), "checks") {
		t.Errorf("checks without explain: %s", body)
	}
}

func TestPolicyCheckBounds(t *testing.T) {
	facts := &countingFacts{}
	srv, _ := policyServer(t, facts)
	many := make([]string, api.MaxPolicyQueries+1)
	for i := range many {
		many[i] = fmt.Sprintf("example.com/m%d@v1.0.0", i)
	}
	for _, tc := range []struct {
		name string
		body []byte
		code int
		want string
	}{
		{"too many", checkBody(false, many...), http.StatusRequestEntityTooLarge, "at most 1000"},
		{"too big", append(append([]byte(`{"modules": [`), bytes.Repeat([]byte(" "), api.MaxPolicyBody)...), ']', '}'), http.StatusRequestEntityTooLarge, "larger than"},
		{"not JSON", []byte("modules"), http.StatusBadRequest, "malformed"},
		{"unknown field", []byte(`{"modules": [], "fetch": true}`), http.StatusBadRequest, "unknown field"},
		{"bad path", checkBody(false, "Example..com@v1.0.0"), http.StatusBadRequest, "modules[0]"},
		{"bad version", checkBody(false, "example.com/a@latest"), http.StatusBadRequest, "modules[0]"},
		{"bad kind", []byte(`{"modules": [{"module": "example.com/a", "version": "v1.0.0", "kind": "info"}]}`), http.StatusBadRequest, "kind"},
	} {
		resp, body := post(t, srv.URL, "", tc.body)
		if resp.StatusCode != tc.code || !strings.Contains(string(body), tc.want) {
			t.Errorf("%s: %d %s, want %d with %q", tc.name, resp.StatusCode, body, tc.code, tc.want)
		}
	}
	// Only JSON: a cross-site form or fetch without a preflight can send
	// text/plain (and none), which a browser would send with a console
	// session's credentials.
	for _, ct := range []string{"text/plain", "", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"} {
		resp, body := postType(t, srv.URL, "", ct, checkBody(false, "example.com/a@v1.0.0"))
		if resp.StatusCode != http.StatusUnsupportedMediaType || !strings.Contains(string(body), "application/json") {
			t.Errorf("Content-Type %q: %d %s, want 415", ct, resp.StatusCode, body)
		}
	}
	if len(facts.asked) != 0 {
		t.Errorf("refused requests asked for facts: %v", facts.asked)
	}
	if resp, body := postType(t, srv.URL, "", "application/json; charset=utf-8", checkBody(false, "example.com/a@v1.0.0")); resp.StatusCode != http.StatusOK {
		t.Errorf("application/json; charset=utf-8: %d %s", resp.StatusCode, body)
	}
	// At the limit: answered.
	resp, body := post(t, srv.URL, "", checkBody(false, many[:api.MaxPolicyQueries]...))
	if resp.StatusCode != http.StatusOK {
		t.Errorf("%d module versions: %d %.200s", api.MaxPolicyQueries, resp.StatusCode, body)
	}
}

func TestPolicyCheckNoPolicy(t *testing.T) {
	srv := httptest.NewServer(api.NewPolicyHandler(api.PolicyOptions{}))
	defer srv.Close()
	resp, body := post(t, srv.URL, "", checkBody(false, "example.com/a@v1.0.0"))
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(string(body), "no policy") {
		t.Errorf("without a policy: %d %s", resp.StatusCode, body)
	}
}

// barrierFacts lets its Time calls through two at a time (each waits for a
// second one to come in) and records how many were in at once.
type barrierFacts struct {
	countingFacts
	mu       sync.Mutex
	cond     *sync.Cond
	in, max  int
	arrivals int
}

func (f *barrierFacts) Time(ctx context.Context, m module.Version) (time.Time, error) {
	f.mu.Lock()
	f.in++
	f.arrivals++
	f.max = max(f.max, f.in)
	f.cond.Broadcast()
	pair := (f.arrivals + 1) / 2 // this call's pair: arrivals 1 and 2 are pair 1
	for f.arrivals < 2*pair {
		f.cond.Wait()
	}
	// Stay in a while, so that a decision that should wait for a slot
	// has the time to come in if it does not.
	for range 100 {
		f.mu.Unlock()
		runtime.Gosched()
		f.mu.Lock()
	}
	f.in--
	f.mu.Unlock()
	return time.Now().Add(-time.Hour), nil
}

// TestPolicyCheckConcurrency: decisions are taken Concurrency at a time
// across requests.
func TestPolicyCheckConcurrency(t *testing.T) {
	pol, err := policy.Parse("policy.yaml", []byte(testPolicy))
	if err != nil {
		t.Fatal(err)
	}
	facts := &barrierFacts{}
	facts.cond = sync.NewCond(&facts.mu)
	h := api.NewPolicyHandler(api.PolicyOptions{Policy: func() *policy.Policy { return pol }, Facts: facts, Concurrency: 2, ClientConcurrency: 2})
	srv := httptest.NewServer(h)
	defer srv.Close()
	var wg sync.WaitGroup
	for r := range 2 {
		wg.Go(func() {
			var mods []string
			for i := range 6 {
				mods = append(mods, fmt.Sprintf("example.com/r%d/m%d@v1.0.0", r, i))
			}
			if resp, body := post(t, srv.URL, "", checkBody(false, mods...)); resp.StatusCode != http.StatusOK {
				t.Errorf("%d %s", resp.StatusCode, body)
			}
		})
	}
	wg.Wait()
	if facts.max != 2 || facts.arrivals != 12 {
		t.Errorf("%d decisions at once (of %d), want 2", facts.max, facts.arrivals)
	}
}

// loadingFacts are facts while the vulnerability database loads.
type loadingFacts struct{ countingFacts }

type loadingError struct{}

func (loadingError) Error() string     { return "loading" }
func (loadingError) Unavailable() bool { return true }
func (loadingError) Is(err error) bool { return err == policy.ErrNoVulnDB }

func (f *loadingFacts) Vulns(context.Context, module.Version) ([]policy.Advisory, error) {
	return nil, loadingError{}
}

// TestDecideVulnDBLoading: a decision that waits for the vulnerability
// database (the mirror answers 503 for it) is not decided, not a
// violation; with no database at all (the mirror's 403), it is one.
func TestDecideVulnDBLoading(t *testing.T) {
	pol, err := policy.Parse("policy.yaml", []byte("rules:\n  - name: vulns\n    module: \"*\"\n    deny-vulnerable: true\n"))
	if err != nil {
		t.Fatal(err)
	}
	m := module.Version{Path: "example.com/m", Version: "v1.0.0"}
	d := api.Decide(context.Background(), pol, policy.Subject{}, m, policy.KindZip, &loadingFacts{}, false)
	if d.Error == "" || !strings.Contains(d.Error, "loading") || d.Allowed {
		t.Errorf("decision while the database loads = %+v; want not decided (Error about loading)", d)
	}
	d = api.Decide(context.Background(), pol, policy.Subject{}, m, policy.KindZip, &noDBFacts{}, false)
	if d.Error != "" || d.Allowed {
		t.Errorf("decision with no database = %+v; want refused", d)
	}
}

// noDBFacts are facts with no vulnerability database configured.
type noDBFacts struct{ countingFacts }

func (f *noDBFacts) Vulns(context.Context, module.Version) ([]policy.Advisory, error) {
	return nil, policy.ErrNoVulnDB
}
