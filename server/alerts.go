package server

import (
	"context"
	"errors"
	"io/fs"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gomirror/gomirror/alert"
	"github.com/gomirror/gomirror/db"
	"github.com/gomirror/gomirror/internal/redact"
	"github.com/gomirror/gomirror/sumdb"
)

// upstreamHealth follows whether each upstream answers, for the
// upstream-down alert rules: a fetch that fails (other than "not found")
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
// is down.
func (h *upstreamHealth) snapshot(mirrors func() []alertMirror, now time.Time) []alert.UpstreamState {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, m := range mirrors() {
		h.set(m.name, m.group, !m.open, m.lastErr, now)
	}
	out := make([]alert.UpstreamState, 0, len(h.states))
	for _, st := range h.states {
		out = append(out, *st)
	}
	return out
}

// alertMirror is what the alert rules see of a group mirror.
type alertMirror struct {
	name, group, lastErr string
	open                 bool
}

func (s *Server) alertMirrors() []alertMirror {
	st := s.mirrorStatus()
	out := make([]alertMirror, len(st))
	for i, m := range st {
		out[i] = alertMirror{name: redact.URL(m.URL), group: m.Group, lastErr: redact.Text(m.LastError), open: m.Breaker == "open"}
	}
	return out
}

// storageUsage returns the bytes used and the size of the file system of
// the storage directory (storage fs); for S3 there is no such figure.
func storageUsage(dir string) (used, total int64, err error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, 0, err
	}
	// As df counts: the blocks reserved for root are neither used nor
	// available, so a full disk (for gomirror) is 100 %.
	used = int64(st.Blocks-st.Bfree) * int64(st.Bsize)
	total = used + int64(st.Bavail)*int64(st.Bsize)
	return used, total, nil
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
