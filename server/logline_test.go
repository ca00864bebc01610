package server

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gomirror/gomirror/obs"
)

// TestAppendRequestLineAsSlog checks that the access-log line lineHandler
// encodes itself is, byte for byte, what slog's handler writes for the same
// record (requestRecord), in both formats, for tricky values of every
// field: every ASCII byte, non-ASCII and invalid UTF-8, empty strings,
// times in other zones and at whole seconds, years JSON cannot take. Where
// the encoder declines, slog writes the line, so the line is the same
// either way; the test also checks that it declines only for values it
// must.
func TestAppendRequestLineAsSlog(t *testing.T) {
	base := func() *obs.Request {
		r := &obs.Request{Method: "GET", Path: "/example.com/m/@v/v1.0.0.info", Status: 200, Bytes: 51,
			Duration: 12678 * time.Nanosecond, Remote: "192.0.2.1"}
		r.SetCache("hit")
		return r
	}
	type tc struct {
		name  string
		t     time.Time
		level slog.Level
		rec   *obs.Request
		peer  string
		plain bool // the encoder must take it
		// textOnly: the encoder must decline it in JSON (a year slog's
		// JSON handler writes an error for).
		textOnly bool
	}
	t0 := time.Date(2026, 11, 28, 22, 36, 41, 896123456, time.UTC)
	const addr = "192.0.2.1"
	var cases []tc
	cases = append(cases, tc{"plain", t0, slog.LevelInfo, base(), addr, true, false})
	cases = append(cases, tc{"debug, via", t0, slog.LevelDebug, base(), "198.51.100.7", true, false})
	zone := time.FixedZone("X", -(3*3600 + 30*60))
	cases = append(cases, tc{"other zone", t0.In(zone), slog.LevelInfo, base(), addr, true, false})
	cases = append(cases, tc{"whole second", time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), slog.LevelInfo, base(), addr, true, false})
	cases = append(cases, tc{"millisecond .999", time.Date(2026, 1, 2, 3, 4, 5, 999999999, time.UTC), slog.LevelInfo, base(), addr, true, false})
	cases = append(cases, tc{"year 10000", time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), slog.LevelInfo, base(), addr, true, true})
	cases = append(cases, tc{"year -1", time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC), slog.LevelInfo, base(), addr, true, true})
	for _, d := range []time.Duration{0, 1, 999, 1500 * time.Microsecond, 2*time.Hour + 3*time.Second, -5 * time.Second} {
		r := base()
		r.Duration = d
		cases = append(cases, tc{fmt.Sprintf("duration %v", d), t0, slog.LevelInfo, r, addr, true, false})
	}
	r := base()
	r.Status, r.Bytes = 0, -1
	cases = append(cases, tc{"zero status, negative bytes", t0, slog.LevelInfo, r, addr, true, false})
	r = base()
	r.Method, r.Path, r.Remote, r.Upstream, r.Client = "", "", "", "", ""
	r.SetCache("")
	cases = append(cases, tc{"all empty", t0, slog.LevelInfo, r, "", true, false})
	// Every field with every ASCII byte, and some that are not ASCII.
	values := []string{"", "a b", "a=b", `a"b`, `a\b`, "ü", "\u2028", "\xff", "\x00", "\n", "<>&"}
	for c := range 128 {
		values = append(values, "x"+string(rune(c))+"y")
	}
	fields := []struct {
		name string
		set  func(r *obs.Request, v string)
	}{
		{"method", func(r *obs.Request, v string) { r.Method = v }},
		{"path", func(r *obs.Request, v string) { r.Path = v }},
		{"cache", func(r *obs.Request, v string) { r.SetCache(v) }},
		{"upstream", func(r *obs.Request, v string) { r.Upstream = v }},
		{"remote", func(r *obs.Request, v string) { r.Remote = v }},
		{"client", func(r *obs.Request, v string) { r.Client = v }},
		{"via", nil},
	}
	for _, f := range fields {
		for _, v := range values {
			r := base()
			peer := r.Remote
			if f.set != nil {
				f.set(r, v)
			} else {
				peer = v
			}
			if f.name == "remote" {
				peer = r.Remote
			}
			want := v == "" || strings.IndexFunc(v, func(c rune) bool { return c >= 0x80 || !plainByte(byte(c)) }) < 0
			cases = append(cases, tc{fmt.Sprintf("%s %q", f.name, v), t0, slog.LevelInfo, r, peer, want, false})
		}
	}

	for _, json := range []bool{false, true} {
		for _, c := range cases {
			var want bytes.Buffer
			opts := &slog.HandlerOptions{Level: slog.LevelDebug}
			var h slog.Handler = slog.NewTextHandler(&want, opts)
			if json {
				h = slog.NewJSONHandler(&want, opts)
			}
			if err := h.Handle(context.Background(), requestRecord(c.t, c.level, c.rec, c.peer)); err != nil {
				t.Fatal(err)
			}
			got, ok := appendRequestLine(nil, json, nil, c.t, c.level, c.rec, c.peer)
			if take := c.plain && !(json && c.textOnly); ok != take {
				t.Errorf("json %v, %s: encoder took it %v, want %v", json, c.name, ok, take)
			}
			if ok && string(got) != want.String() {
				t.Errorf("json %v, %s:\n got %s\nwant %s", json, c.name, got, want.String())
			}
		}
	}
}

// TestLineHandlerWritesAsSlog checks the whole path through NewLogger's
// handler: logRequest's lines, encoded or handed to slog, equal slog's,
// nothing below the level is written, and derived loggers still log with
// their attributes.
func TestLineHandlerWritesAsSlog(t *testing.T) {
	for _, json := range []bool{false, true} {
		rec := &obs.Request{Method: "GET", Path: "/example.com/m/@v/v1.0.0.info", Status: 200, Bytes: 51, Remote: "192.0.2.1", Client: "alice bob"}
		var got, want bytes.Buffer
		l := slog.New(newLineHandler(&got, json, slog.LevelInfo))
		logRequest(context.Background(), l, slog.LevelInfo, rec, "192.0.2.1")  // slog writes it (a space)
		logRequest(context.Background(), l, slog.LevelDebug, rec, "192.0.2.1") // below the level: nothing
		rec.Client = "alice"
		logRequest(context.Background(), l, slog.LevelInfo, rec, "192.0.2.1") // the encoder writes it
		var h slog.Handler = slog.NewTextHandler(&want, nil)
		if json {
			h = slog.NewJSONHandler(&want, nil)
		}
		rec.Client = "alice bob"
		h.Handle(context.Background(), requestRecord(time.Now(), slog.LevelInfo, rec, "192.0.2.1"))
		rec.Client = "alice"
		h.Handle(context.Background(), requestRecord(time.Now(), slog.LevelInfo, rec, "192.0.2.1"))
		// The times differ; compare what follows them.
		if g, w := dropTimes(got.String()), dropTimes(want.String()); g != w {
			t.Errorf("json %v:\n got %s\nwant %s", json, g, w)
		}
		got.Reset()
		l.With("k", "v").Info("hello")
		if !strings.Contains(got.String(), "hello") || !strings.Contains(got.String(), "k") {
			t.Errorf("json %v: derived logger wrote %q", json, got.String())
		}
	}
}

// dropTimes removes each line's time field (the first).
func dropTimes(s string) string {
	var out []string
	for _, line := range strings.Split(s, "\n") {
		if i := strings.IndexAny(line, " ,"); i >= 0 {
			line = line[i:]
		}
		out = append(out, line)
	}
	return strings.Join(out, "\n")
}

// TestClockAsSlog checks the clock's formatting of times, kept seconds and
// new ones, against slog's (appendRFC3339Millis and RFC 3339 with
// nanoseconds, as its text and JSON handlers write them): across seconds,
// fractions that end in zeros and none, zones with other offsets, a zone
// change within a second, and years the kept second does not take.
func TestClockAsSlog(t *testing.T) {
	var c clock
	zones := []*time.Location{time.UTC, time.FixedZone("A", 5*3600+45*60), time.FixedZone("B", -3600)}
	if berlin, err := time.LoadLocation("Europe/Berlin"); err == nil {
		zones = append(zones, berlin)
	}
	base := time.Date(2026, 3, 29, 0, 59, 58, 0, time.UTC) // a DST change in Berlin at 01:00 UTC
	var times []time.Time
	for _, ns := range []int{0, 1, 999, 1000000, 120000000, 999999999, 500000000, 10, 100000} {
		for s := range 4 {
			for _, z := range zones {
				times = append(times, base.Add(time.Duration(s)*time.Second+time.Duration(ns)).In(z))
			}
		}
	}
	times = append(times, time.Date(10000, 1, 1, 0, 0, 0, 5, time.UTC), time.Date(0, 1, 1, 0, 0, 0, 5, time.UTC), time.Time{})
	for _, tm := range times {
		for _, json := range []bool{false, true} {
			want := appendRFC3339Millis(nil, tm)
			if json {
				want = tm.AppendFormat(nil, time.RFC3339Nano)
			}
			for range 2 { // new, then kept
				if got := c.appendTime(nil, tm, json); string(got) != string(want) {
					t.Errorf("%v (json %v): %s, want %s", tm, json, got, want)
				}
			}
			if got := (*clock)(nil).appendTime(nil, tm, json); string(got) != string(want) {
				t.Errorf("%v (json %v), no clock: %s, want %s", tm, json, got, want)
			}
		}
	}
}

// TestLineHandlerOnLogWriter: on an obs.LogWriter (gomirror serve's), which
// the handler writes to without a lock of its own, lines from many
// goroutines, encoded or slog's, all come out whole.
func TestLineHandlerOnLogWriter(t *testing.T) {
	var buf bytes.Buffer
	lw := obs.NewLogWriter(&buf)
	l := slog.New(newLineHandler(lw, false, slog.LevelInfo))
	const goroutines, each = 8, 200
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				rec := &obs.Request{Method: "GET", Path: fmt.Sprintf("/example.com/m%d/@v/v1.0.%d.info", g, i), Status: 200, Remote: "192.0.2.1"}
				if i%2 == 1 {
					rec.Client = "a b" // slog writes this one
				}
				logRequest(context.Background(), l, slog.LevelInfo, rec, "192.0.2.1")
			}
		}()
	}
	wg.Wait()
	if err := lw.Close(); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != goroutines*each {
		t.Fatalf("%d lines, want %d", len(lines), goroutines*each)
	}
	for _, line := range lines {
		if !strings.HasPrefix(line, "time=") || !strings.Contains(line, " msg=request method=GET path=/example.com/m") || strings.Count(line, "time=") != 1 {
			t.Fatalf("line not whole: %q", line)
		}
	}
}
