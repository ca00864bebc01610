package server

import (
	"context"
	"errors"
	"io/fs"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gomirror/gomirror/alert"
	"github.com/gomirror/gomirror/api"
	"github.com/gomirror/gomirror/db"
	"github.com/gomirror/gomirror/internal/diskspace"
	"github.com/gomirror/gomirror/internal/redact"
	"github.com/gomirror/gomirror/sumdb"
	"github.com/gomirror/gomirror/upstream"
)

// upstreamHealth follows whether each upstream answers, for the
// upstream-down alert rules (and, for group mirrors, their lags, for the
// upstream-lag rules): a fetch that fails (other than "not found")
// marks its upstream down, one that succeeds marks it up; Since is when
// that last changed. Group mirrors are read from their breakers instead
// (states).
type upstreamHealth struct {
	mu     sync.Mutex
	states map[string]*alert.UpstreamState // by redacted name
}

// maxUpstreams bounds upstreamHealth: names come from the configuration
// (upstream URLs, "direct", the chain), not from clients.
const maxUpstreams = 256

// observe records the outcome of one fetch from the upstream named name.
func (h *upstreamHealth) observe(name string, err error, now time.Time) {
	up := err == nil || errors.Is(err, fs.ErrNotExist)
	name = redact.List(name)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.set(name, "", up, errText(err), now)
}

func errText(err error) string {
	if err == nil || errors.Is(err, fs.ErrNotExist) {
		return ""
	}
	return redact.Text(err.Error())
}

// set records name's state; h.mu is held.
func (h *upstreamHealth) set(name, group string, up bool, lastErr string, now time.Time) {
	if h.states == nil {
		h.states = map[string]*alert.UpstreamState{}
	}
	st, ok := h.states[name]
	if !ok {
		if len(h.states) >= maxUpstreams {
			return
		}
		st = &alert.UpstreamState{Name: name, Group: group, Up: up, Since: now}
		h.states[name] = st
	}
	if st.Up != up {
		st.Up, st.Since = up, now
	}
	if lastErr != "" || up {
		st.LastError = lastErr
	}
}

// snapshot returns every upstream's state, after updating the group
// mirrors' from their breakers (mirrors): a mirror whose breaker is open
// is down; a group mirror's state carries its lag rate and last lag.
func (h *upstreamHealth) snapshot(mirrors func() []alertMirror, now time.Time) []alert.UpstreamState {
	h.mu.Lock()
	defer h.mu.Unlock()
	lag := map[string]alertMirror{}
	for _, m := range mirrors() {
		h.set(m.name, m.group, !m.open, m.lastErr, now)
		lag[m.name] = m
	}
	out := make([]alert.UpstreamState, 0, len(h.states))
	for _, st := range h.states {
		u := *st
		if m, ok := lag[u.Name]; ok {
			u.LagRate, u.Lags, u.LastLag = m.lagRate, m.lags, m.lastLag
		}
		out = append(out, u)
	}
	return out
}

// alertMirror is what the alert rules see of a group mirror: its breaker
// (upstream-down) and its lags (upstream-lag).
type alertMirror struct {
	name, group, lastErr string
	open                 bool
	lagRate              float64
	lags                 uint64
	lastLag              *alert.Lag
}

func (s *Server) alertMirrors() []alertMirror {
	st := s.mirrorStatus()
	out := make([]alertMirror, len(st))
	for i, m := range st {
		out[i] = alertMirror{name: redact.URL(m.URL), group: m.Group, lastErr: redact.Text(m.LastError), open: m.Breaker == "open",
			lagRate: m.LagRate, lags: m.Lags}
		if l := m.LastLag; l != nil {
			out[i].lastLag = &alert.Lag{Module: l.Module, Missing: l.Missing, MissingCount: l.MissingCount}
		}
	}
	return out
}

// storageUsage returns the bytes used and the size of the file system of
// the storage directory (storage fs); for S3 there is no such figure.
// Counted as df does (diskspace.Usage): a disk full for gomirror is 100 %.
func storageUsage(dir string) (used, total int64, err error) {
	u, err := diskspace.Of(dir)
	return u.Used, u.Total(), err
}

// verified feeds a check against the checksum database to the alerts: a
// mismatch, and whether the database answered.
func verified(e *alert.Engine, path, version, file string, err error) {
	switch sumdb.Classify(err) {
	case "mismatch":
		e.Mismatch(path, version, file)
		e.SumDB(nil)
	case "unavailable":
		e.SumDB(err)
	default:
		if err == nil {
			e.SumDB(nil)
		}
	}
}

// alertHistory is the alerts' history: the database once it is open.
type alertHistory struct{ r *records }

func (h alertHistory) AddAlertEvent(ctx context.Context, e db.AlertEvent) error {
	d := h.r.db.Load()
	if d == nil {
		return errNoDB
	}
	return d.AddAlertEvent(ctx, e)
}

// firing counts the firing alerts of every rule (0 for rules with none),
// for gomirror_alerts_firing.
func (s *Server) firing() map[string]int {
	out := make(map[string]int, len(s.cfg.Alerts))
	for _, r := range s.cfg.Alerts {
		out[r.Name] = 0
	}
	for _, a := range s.alerts.Alerts() {
		if a.State == alert.StateFiring {
			out[a.Rule]++
		}
	}
	return out
}

// mismatchLog keeps the last checksum mismatches of this process, for the
// console's overview (api.Options.Mismatches).
type mismatchLog struct {
	mu   sync.Mutex
	last []api.Mismatch // oldest first, at most maxMismatches
}

// maxMismatches bounds mismatchLog: an upstream that lies about every file
// must not grow it.
const maxMismatches = 20

func (l *mismatchLog) add(module, version, file string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.last) == maxMismatches {
		l.last = slices.Delete(l.last, 0, 1)
	}
	l.last = append(l.last, api.Mismatch{Time: now.UTC(), Module: module, Version: version, File: file})
}

// list returns the mismatches, newest first.
func (l *mismatchLog) list() []api.Mismatch {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := slices.Clone(l.last)
	slices.Reverse(out)
	return out
}

// upstreamList is every upstream's health for the API: the outcome of its
// last fetch (h), and for a group's mirror its breaker and scores; sorted
// by group and name.
func (s *Server) upstreamList(h *upstreamHealth) []api.Upstream {
	now := time.Now()
	mirrors := map[string]upstream.MirrorStatus{}
	for _, m := range s.mirrorStatus() {
		mirrors[redact.URL(m.URL)] = m
	}
	states := h.snapshot(s.alertMirrors, now)
	out := make([]api.Upstream, 0, len(states))
	for _, st := range states {
		u := api.Upstream{Name: st.Name, Group: st.Group, Up: st.Up, Since: st.Since.UTC(), LastError: st.LastError}
		if m, ok := mirrors[st.Name]; ok {
			u.Breaker, u.Score, u.ErrorRate = m.Breaker, m.Score, m.ErrorRate
			u.P50, u.P95 = seconds(m.P50), seconds(m.P95)
			u.Lags, u.LastLag = m.Lags, m.LastLag
		}
		out = append(out, u)
	}
	slices.SortFunc(out, func(a, b api.Upstream) int {
		if c := strings.Compare(a.Group, b.Group); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	return out
}

func seconds(f float64) time.Duration { return time.Duration(f * float64(time.Second)) }
