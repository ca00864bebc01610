package server

import (
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"time"

	"github.com/gomirror/gomirror/api"
	"github.com/gomirror/gomirror/auth"
	"github.com/gomirror/gomirror/config"
	"github.com/gomirror/gomirror/gate"
	"github.com/gomirror/gomirror/obs"
	"github.com/gomirror/gomirror/policy"
	"github.com/gomirror/gomirror/snapshot"
	"github.com/gomirror/gomirror/storage"
)

// The gate filters snapshot views' lists (snapshot.ListFilter).
var _ snapshot.ListFilter = (*gate.Mirror)(nil)

// policyRetractedTTL is how old the retractions (from a module's latest
// go.mod) a decision is made or served from may be. The gate keeps a
// module's retractions half of it, and a decision that asked for them is
// cached half of it: a decision cached at the end of the retractions'
// time would otherwise reflect retractions up to twice as old.
const policyRetractedTTL = 10 * time.Minute

// openPolicy reads the policy file (a bad one fails the start, naming the
// line) and puts the gate in front of the mirror. The file is followed by
// Serve (policy.Live.Run).
func (s *Server) openPolicy(store storage.Storage, authn *auth.Authenticator) error {
	var live *policy.Live
	live, err := policy.Open(policy.LiveOptions{Path: s.cfg.Policy, Interval: s.cfg.PolicyReload,
		RetractedTTL: policyRetractedTTL / 2, Log: s.log,
		OnReload: func(err error) {
			if err == nil {
				s.checkPolicyTokens(live.Policy(), authn)
			}
		}})
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
		// available", which the start-up log below says; until the
		// database's first copy is loaded, a decision that needs it is
		// not made: 503 with Retry-After). Its refreshes invalidate the
		// cached decisions (newVulnDB).
		Vulns:        s.policyVulns(),
		RetractedTTL: policyRetractedTTL / 2,
		OnDecision: func(k policy.Kind, d policy.Decision) {
			result := "refused"
			switch {
			case d.Warned():
				result = "warned"
			case d.Unavailable():
				result = "unavailable"
			}
			s.metrics.ObservePolicy(k.String(), result)
		},
		Log: s.log,
	})
	pol := live.Policy()
	s.log.Info("policy in force", "file", s.cfg.Policy, "rules", pol.Rules(), "reload_every", s.cfg.PolicyReload)
	s.checkPolicyTokens(pol, authn)
	if pol.Needs().Vulns && s.vulndb == nil {
		s.log.Warn("the policy has deny-vulnerable rules but no vulnerability database is available: they refuse every version they match", "file", s.cfg.Policy)
	}
	return nil
}

// checkPolicyTokens warns about sets that cannot apply as written: with
// auth off no request has a token, so every client gets the top-level
// rules; and a token a set names that the tokens file does not have (a
// typo leaves that client with the top-level rules).
func (s *Server) checkPolicyTokens(pol *policy.Policy, authn *auth.Authenticator) {
	if !pol.PerClient() {
		return
	}
	if authn == nil || authn.Mode() == auth.ModeOff {
		s.log.Warn("the policy has sets but auth is off: no request has a token, so every client gets the top-level rules", "file", s.cfg.Policy)
		return
	}
	for _, name := range pol.SetTokens() {
		if _, _, ok := authn.Current(name); !ok {
			s.log.Warn("a policy set names a token that the tokens file does not have", "file", s.cfg.Policy, "token", name)
		}
	}
}

// policyDetails writes /readyz's lines about the policy: the file in
// force, and a bad edit that is not (readiness is not failed by it: the
// last good policy serves), by base name and line only.
func (s *Server) policyDetails(w io.Writer) {
	if s.policy == nil {
		return
	}
	st := s.policy.Status()
	// /readyz is anonymous: the file's base name, and the bad edit's
	// line, not its error (which may name tokens and groups); the log
	// has it whole.
	base := filepath.Base(st.File)
	fmt.Fprintf(w, "policy: %s in force (%d rules, loaded %s, %d reloads)\n", base, st.Rules, st.Loaded.UTC().Format(time.RFC3339), st.Reloads)
	if st.Error != "" {
		where := base
		if st.ErrorLine > 0 {
			where = fmt.Sprintf("%s:%d", base, st.ErrorLine)
		}
		fmt.Fprintf(w, "policy: the file as it is now is refused (%s; the log says why), the last good policy stays in force\n", where)
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
