package api_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gomirror/gomirror/alert"
	"github.com/gomirror/gomirror/api"
)

// TestOverview checks /api/v1/overview against the figures of the other
// endpoints, and that it still answers, with what is in memory, without a
// database.
func TestOverview(t *testing.T) {
	d := fixture(t)
	opts := api.Options{
		Store:        func() (api.Store, error) { return d, nil },
		Now:          func() time.Time { return now },
		StorageUsage: func() (int64, int64, error) { return 300, 1000, nil },
		Upstreams:    func() []api.Upstream { return []api.Upstream{{Name: "https://up.example", Up: true}} },
		Mismatches: func() []api.Mismatch {
			return []api.Mismatch{{Module: "example.com/m", Version: "v1.0.0", File: "zip"}}
		},
		Alerts: func() []alert.Alert {
			return []alert.Alert{{Rule: "a", State: alert.StateFiring}, {Rule: "b", State: alert.StateResolved}}
		},
	}
	h := api.New(opts)
	var o api.Overview
	decode(t, h, "/api/v1/overview", &o)
	var mods api.Modules
	decode(t, h, "/api/v1/modules", &mods)
	var today, month api.Summary
	decode(t, h, "/api/v1/stats/summary?days=1", &today)
	decode(t, h, fmt.Sprintf("/api/v1/stats/summary?days=%d", api.OverviewDays), &month)
	if o.Stored != mods.Totals || o.Stored.Objects != int64(len(artifacts)) {
		t.Errorf("stored %+v, /api/v1/modules totals %+v, %d artifacts", o.Stored, mods.Totals, len(artifacts))
	}
	for _, c := range []struct {
		name string
		o    api.Traffic
		s    api.Summary
	}{{"today", o.Today, today}, {"30 days", o.Days, month}} {
		if c.o.Period != c.s.Period || c.o.Requests != c.s.Requests || c.o.Downloads != c.s.Downloads || c.o.Bytes != c.s.Bytes ||
			c.o.Hits != c.s.Hits || c.o.Misses != c.s.Misses || c.o.HitRatio != c.s.HitRatio || len(c.o.Days) != len(c.s.Days) || c.o.Requests == 0 {
			t.Errorf("overview %s %+v; /api/v1/stats/summary %+v", c.name, c.o, c.s.Summary)
		}
	}
	// The series are the database's minutes, summed.
	for _, c := range []struct {
		name string
		s    api.Series
		n    int
	}{{"hour", o.Hour, api.HourPoints}, {"day", o.Day, api.DayPoints}} {
		ms, err := d.Minutes(context.Background(), c.s.From, c.s.To)
		if err != nil {
			t.Fatal(err)
		}
		var requests, hits, misses int64
		for _, m := range ms {
			requests, hits, misses = requests+m.Requests, hits+m.Hits, misses+m.Misses
		}
		if len(c.s.Points) != c.n || c.s.To.Before(now) || c.s.To.Sub(now) > time.Duration(c.s.Step)*time.Second ||
			c.s.Requests != requests || c.s.Hits != hits || c.s.Misses != misses || requests == 0 {
			t.Errorf("%s: %d points, %s to %s, %d requests %d hits %d misses; the database %d, %d, %d", c.name, len(c.s.Points), c.s.From, c.s.To,
				c.s.Requests, c.s.Hits, c.s.Misses, requests, hits, misses)
		}
	}
	if o.CurrentRPS != o.Hour.Points[api.HourPoints-2].RPS {
		t.Errorf("current %v/s, the last full minute's %v/s", o.CurrentRPS, o.Hour.Points[api.HourPoints-2].RPS)
	}
	if o.Storage != (api.Storage{Known: true, Used: 300, Free: 700, Total: 1000}) {
		t.Errorf("storage %+v", o.Storage)
	}
	if len(o.Firing) != 1 || o.Firing[0].Rule != "a" || len(o.Upstreams) != 1 || len(o.Mismatches) != 1 || o.DatabaseError != "" {
		t.Errorf("overview %+v", o)
	}

	// Without a database: 200, what is in memory, and why the rest is not.
	opts.Store = func() (api.Store, error) { return nil, fmt.Errorf("%w: off", api.ErrUnavailable) }
	o = api.Overview{}
	body := decode(t, api.New(opts), "/api/v1/overview", &o)
	if !strings.Contains(o.DatabaseError, "not available") || len(o.Firing) != 1 || !o.Storage.Known || o.Stored.Objects != 0 ||
		len(o.Hour.Points) != api.HourPoints || len(o.Day.Points) != api.DayPoints || o.Hour.Requests != 0 {
		t.Errorf("overview without a database: %s", body)
	}
	// Another database error is the request's.
	opts.Store = func() (api.Store, error) { return failingStore{err: fmt.Errorf("disk I/O error")}, nil }
	if _, err := api.NewService(opts).Overview(context.Background()); err == nil || api.StatusOf(err) != 500 {
		t.Errorf("overview with a failing database: %v", err)
	}
}
