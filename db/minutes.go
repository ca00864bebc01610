package db

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/gomirror/gomirror/audit"
)

// minuteOf returns the minute of t: whole minutes since the Unix epoch.
func minuteOf(t time.Time) int64 {
	s := t.Unix()
	if s < 0 {
		return (s - 59) / 60
	}
	return s / 60
}

// minuteCounts are the figures of a row of minute_totals.
type minuteCounts struct{ requests, hits, misses, bytes, errors int64 }

// add counts n records like r, whose Bytes is their sum.
func (c *minuteCounts) add(r *audit.Record, n int64) {
	c.requests += n
	if isHit(r) {
		c.hits += n
	}
	if isMiss(r) {
		c.misses += n
	}
	c.bytes += r.Bytes
	if r.Status >= http.StatusInternalServerError && r.Status <= 599 {
		c.errors += n
	}
}

// MinuteCount is the whole mirror's audited requests in one minute.
type MinuteCount struct {
	Minute   time.Time `json:"minute"` // its start, UTC
	Requests int64     `json:"requests"`
	Hits     int64     `json:"hits"`   // answered from storage (hit, stale)
	Misses   int64     `json:"misses"` // fetched from an upstream (miss, fresh)
	Bytes    int64     `json:"bytes"`
	Errors   int64     `json:"errors"` // answered with a 5xx status
}

// MaxMinutes is the most minutes one Minutes call returns (7 days).
const MaxMinutes = 7 * 24 * 60

// Minutes returns the whole mirror's audited requests per minute over
// [from, to): one MinuteCount per minute, oldest first, from the minute
// that holds from to the last that starts before to, with zeros for the
// minutes without requests. It reads the per-minute roll-up that
// WriteAudit keeps with the records (each record counted once), which
// PruneAudit prunes with them. A span of more than MaxMinutes minutes is
// a *BadQueryError; an empty one returns none.
func (d *DB) Minutes(ctx context.Context, from, to time.Time) ([]MinuteCount, error) {
	first := minuteOf(from)
	end := minuteOf(to)
	if minuteTime(end).Before(to) {
		end++ // the minute that holds to starts before it
	}
	if end <= first {
		return []MinuteCount{}, nil
	}
	if end-first > MaxMinutes {
		return nil, &BadQueryError{Msg: fmt.Sprintf("a series of more than %d minutes", MaxMinutes)}
	}
	out := make([]MinuteCount, end-first)
	for i := range out {
		out[i].Minute = minuteTime(first + int64(i))
	}
	rows, err := d.r.QueryContext(ctx, d.d.rebind("SELECT minute, requests, hits, misses, bytes, errors FROM minute_totals WHERE minute >= ? AND minute < ? ORDER BY minute"), first, end)
	if err != nil {
		return nil, fmt.Errorf("db: minutes: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var m int64
		var c MinuteCount
		if err := rows.Scan(&m, &c.Requests, &c.Hits, &c.Misses, &c.Bytes, &c.Errors); err != nil {
			return nil, fmt.Errorf("db: minutes: %w", err)
		}
		c.Minute = minuteTime(m)
		out[m-first] = c
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("db: minutes: %w", err)
	}
	return out, nil
}

// minuteTime returns the start of minute m, UTC.
func minuteTime(m int64) time.Time { return time.Unix(m*60, 0).UTC() }
