package db

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// AlertEvent is a change of an alert's state.
type AlertEvent struct {
	Time   time.Time         `json:"time"`
	Rule   string            `json:"rule"`
	State  string            `json:"state"`         // firing, resolved
	Key    string            `json:"key,omitempty"` // what the alert is about (a client, an upstream), "" for the whole mirror
	Value  float64           `json:"value"`
	Text   string            `json:"text"`
	Labels map[string]string `json:"labels,omitempty"`
}

// AddAlertEvent appends e to the alert history (its labels stored as a
// JSON object).
func (d *DB) AddAlertEvent(ctx context.Context, e AlertEvent) error {
	labels := []byte("{}")
	if len(e.Labels) > 0 {
		var err error
		if labels, err = json.Marshal(e.Labels); err != nil {
			return fmt.Errorf("db: alert labels: %w", err)
		}
	}
	_, err := d.w.ExecContext(ctx, d.d.rebind(`INSERT INTO alert_events (time_ns, rule, state, akey, value, text, labels)
		VALUES (?, ?, ?, ?, ?, ?, ?)`), e.Time.UnixNano(), e.Rule, e.State, e.Key, e.Value, e.Text, string(labels))
	if err != nil {
		return fmt.Errorf("db: adding an alert event: %w", err)
	}
	return nil
}

// Page sizes of AlertEvents: without a limit, and the largest.
const (
	DefaultAlertLimit = 100
	MaxAlertLimit     = 1000
)

// AlertEvents returns the history since a time (inclusive), newest first
// (events of one time in the reverse order of their adding), at most
// limit: 0 or less means DefaultAlertLimit, more than MaxAlertLimit means
// MaxAlertLimit. Labels is nil for an event without labels.
func (d *DB) AlertEvents(ctx context.Context, since time.Time, limit int) ([]AlertEvent, error) {
	switch {
	case limit <= 0:
		limit = DefaultAlertLimit
	case limit > MaxAlertLimit:
		limit = MaxAlertLimit
	}
	var sinceNS int64
	if !since.IsZero() {
		sinceNS = since.UnixNano()
	} else {
		sinceNS = -1 << 63
	}
	rows, err := d.r.QueryContext(ctx, d.d.rebind(`SELECT time_ns, rule, state, akey, value, text, labels FROM alert_events
		WHERE time_ns >= ? ORDER BY time_ns DESC, id DESC LIMIT ?`), sinceNS, limit)
	if err != nil {
		return nil, fmt.Errorf("db: alert history: %w", err)
	}
	defer rows.Close()
	var out []AlertEvent
	for rows.Next() {
		var e AlertEvent
		var ns int64
		var labels string
		if err := rows.Scan(&ns, &e.Rule, &e.State, &e.Key, &e.Value, &e.Text, &labels); err != nil {
			return nil, fmt.Errorf("db: alert history: %w", err)
		}
		e.Time = time.Unix(0, ns).UTC()
		if labels != "" && labels != "{}" {
			if err := json.Unmarshal([]byte(labels), &e.Labels); err != nil {
				return nil, fmt.Errorf("db: alert history: labels: %w", err)
			}
		}
		out = append(out, e)
	}
	return out, rows.Err()
}
