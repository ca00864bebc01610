package policycheck

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/gomirror/gomirror/api"
	"github.com/gomirror/gomirror/i18n"
	"github.com/gomirror/gomirror/internal/httpstatus"
	"github.com/gomirror/gomirror/internal/redact"
)

// maxResponse bounds a policy check answer: MaxPolicyQueries decisions
// with their checks fit well within it.
const maxResponse = 32 << 20

// Remote asks a gomirror server to decide (`policy check --mirror URL`),
// through its policy check endpoint (api.PolicyRoute), with the server's
// policy for Token's rule set and the server's facts.
type Remote struct {
	Mirror  string       // the server's base URL
	Client  *http.Client // nil: http.DefaultClient
	Token   string       // sent as "Authorization: Bearer"; "" for none. Never logged or shown.
	Explain bool         // ask for the checks
}

var _ Decider = (*Remote)(nil)

// Decide implements Decider, api.MaxPolicyQueries module versions per
// request. A server that does not answer, or answers with anything but
// decisions for what was asked, is an error.
func (r *Remote) Decide(ctx context.Context, qs []Query) ([]Decision, error) {
	out := make([]Decision, 0, len(qs))
	for start := 0; start < len(qs); start += api.MaxPolicyQueries {
		batch := qs[start:min(start+api.MaxPolicyQueries, len(qs))]
		ds, err := r.decide(ctx, batch)
		if err != nil {
			return nil, err
		}
		out = append(out, ds...)
	}
	return out, nil
}

func (r *Remote) decide(ctx context.Context, qs []Query) ([]Decision, error) {
	body := api.PolicyCheckRequest{Modules: make([]api.PolicyQuery, len(qs)), Explain: r.Explain}
	for i, q := range qs {
		body.Modules[i] = api.PolicyQuery{Module: q.Module.Path, Version: q.Module.Version, Kind: string(q.Kind)}
	}
	data, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	u := strings.TrimRight(r.Mirror, "/") + "/api/v1/policy/check"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(data))
	if err != nil {
		return nil, redact.Err(err)
	}
	u = redact.URL(u) // as errors name it: the userinfo is often a token
	req.Header.Set("Content-Type", "application/json")
	if r.Token != "" {
		req.Header.Set("Authorization", "Bearer "+r.Token)
	}
	c := r.Client
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, redact.Err(err)
	}
	defer resp.Body.Close()
	if err := httpstatus.Check(resp); err != nil {
		st := err.(*httpstatus.Error)
		var e struct{ Error string }
		switch {
		case json.Unmarshal(st.Body, &e) == nil && e.Error != "":
			st.Line = httpstatus.Printable(e.Error) // the endpoint's own answer
		case st.Code == http.StatusUnauthorized, st.Code == http.StatusForbidden, st.Code == http.StatusTooManyRequests:
			// auth's answer: give a token with --token-file or $GOMIRROR_TOKEN
		default:
			return nil, i18n.Errorf("%s: %v (is it a gomirror with a policy, serving the policy check endpoint?)", u, err)
		}
		return nil, fmt.Errorf("%s: %w", u, err)
	}
	var ans api.PolicyCheckResponse
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxResponse)).Decode(&ans); err != nil {
		return nil, i18n.Errorf("%s: reading the answer: %v", u, err)
	}
	if len(ans.Decisions) != len(qs) {
		return nil, fmt.Errorf("%s: %d decisions for %d module versions", u, len(ans.Decisions), len(qs))
	}
	for i, d := range ans.Decisions {
		if d.Module != qs[i].Module.Path || d.Version != qs[i].Module.Version {
			return nil, fmt.Errorf("%s: decision %d is for %s@%s, not %s@%s", u, i, d.Module, d.Version, qs[i].Module.Path, qs[i].Module.Version)
		}
	}
	return ans.Decisions, nil
}
