package server

import (
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/gomirror/gomirror/api"
	"github.com/gomirror/gomirror/auth"
	"github.com/gomirror/gomirror/config"
	"github.com/gomirror/gomirror/gate"
	"github.com/gomirror/gomirror/obs"
	"github.com/gomirror/gomirror/policy"
	"github.com/gomirror/gomirror/storage"
)

// policyRetractedTTL is how long a module's retractions (from its latest
// go.mod) are kept by the gate, and how long a decision that asked for
// them is cached.
const policyRetractedTTL = 10 * time.Minute

// openPolicy reads the policy file (a bad one fails the start, naming the
// line) and puts the gate in front of the mirror. The file is followed by
// Serve (policy.Live.Run).
func (s *Server) openPolicy(store storage.Storage) error {
	live, err := policy.Open(policy.LiveOptions{Path: s.cfg.Policy, Interval: s.cfg.PolicyReload,
		RetractedTTL: policyRetractedTTL, Log: s.log})
	if err != nil {
		return &config.Error{Key: "policy", Source: s.cfg.Policy, Err: err}
	}
	s.policy = live
	s.metrics.WatchPolicy(func() obs.PolicyStats {
		st := live.Status()
		return obs.PolicyStats{Rules: st.Rules, Reloads: st.Reloads, Failures: st.Failures, Bad: st.Error != ""}
	})
	s.gate = gate.New(gate.Options{
		Mirror: s.mirror,
		Live:   live,
		Store:  store,
		// Vulns: the vulnerability database (nil with vulndb off: a
		// deny-vulnerable rule then refuses, "vulnerability database not
		// available", which the start-up log below says; so it does until
		// the database's first copy is loaded). Its refreshes invalidate
		// the cached decisions (newVulnDB).
		Vulns:        s.policyVulns(),
		RetractedTTL: policyRetractedTTL,
		OnDecision: func(k policy.Kind, d policy.Decision) {
			s.metrics.ObservePolicy(k.String(), d.Warned())
		},
		Log: s.log,
	})
	pol := live.Policy()
	s.log.Info("policy in force", "file", s.cfg.Policy, "rules", pol.Rules(), "reload_every", s.cfg.PolicyReload)
	if pol.Needs().Vulns && s.vulndb == nil {
		s.log.Warn("the policy has deny-vulnerable rules but no vulnerability database is available: they refuse every version they match", "file", s.cfg.Policy)
	}
	return nil
}

// policyDetails writes /readyz's lines about the policy: the file in
// force, and a bad edit that is not (readiness is not failed by it: the
// last good policy serves).
func (s *Server) policyDetails(w io.Writer) {
	if s.policy == nil {
		return
	}
	st := s.policy.Status()
	fmt.Fprintf(w, "policy: %s in force (%d rules, loaded %s, %d reloads)\n", st.File, st.Rules, st.Loaded.UTC().Format(time.RFC3339), st.Reloads)
	if st.Error != "" {
		fmt.Fprintf(w, "policy: the file as it is now is refused, the last good policy stays in force: %s\n", st.Error)
	}
}

// policyCheck is the policy check endpoint (api.PolicyHandler): the
// policy in force decides, for the requester's token, with the gate's
// facts; a module the token may not read is not decided (authn.Allows).
// Without a policy it answers 404 (api.ErrNoPolicy).
func (s *Server) policyCheck(authn *auth.Authenticator) http.Handler {
	opts := api.PolicyOptions{Allows: authn.Allows}
	if s.policy != nil {
		opts.Policy, opts.Facts = s.policy.Policy, s.gate.Facts()
	}
	return api.NewPolicyHandler(opts)
}
