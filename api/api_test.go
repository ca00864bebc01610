package api_test

import (
	"bytes"
	"context"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/module"

	"github.com/gomirror/gomirror/alert"
	"github.com/gomirror/gomirror/api"
	"github.com/gomirror/gomirror/audit"
	"github.com/gomirror/gomirror/db"
	"github.com/gomirror/gomirror/proxy"
)

// now is the handlers' clock: a fixed noon in the past, so that days are
// deterministic and every record is before the real now (a query without
// until ends at the real now).
var now = time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)

// rec is an audit record of the fixture.
func rec(id string, ago time.Duration, client, remote, module, version, kind string, status int, cache string) audit.Record {
	return audit.Record{ID: id, Time: now.Add(-ago), Client: client, Remote: remote, Method: "GET", Module: module,
		Version: version, Kind: kind, Status: status, Bytes: int64(len(id)) * 100, Duration: time.Millisecond, Cache: cache}
}

// records is the fixture's audit log, newest first (r07 and r08 share r03's
// time: the cursor must tell records of one time apart; the database
// orders them by ID, descending).
var records = []audit.Record{
	rec("r01", time.Minute, "ci", "10.0.0.1", "github.com/corp/a", "v1.0.0", "zip", 200, "hit"),
	rec("r06", 30*time.Minute, "ci", "10.0.0.1", "github.com/corp/b", "", "latest", 503, ""),
	rec("r02", 2*time.Hour, "", "10.0.0.2", "github.com/corp/b", "v0.1.0", "info", 404, "miss"),
	rec("r09", 26*time.Hour, "dev", "10.0.0.3", "github.com/corp/a", "v1.1.0", "zip", 200, "miss"),
	rec("r08", 3*24*time.Hour, "dev", "10.0.0.3", "golang.org/x/mod", "v0.20.0", "zip", 200, "hit"),
	rec("r07", 3*24*time.Hour, "dev", "10.0.0.3", "golang.org/x/mod", "v0.20.0", "info", 200, "hit"),
	rec("r03", 3*24*time.Hour, "dev", "10.0.0.3", "golang.org/x/mod", "v0.20.0", "mod", 200, "fresh"),
	rec("r04", 10*24*time.Hour, "ci", "10.0.0.1", "github.com/other/c", "", "list", 500, "stale"),
	rec("r05", 40*24*time.Hour, "", "10.0.0.4", "github.com/corp/a", "", "sumdb", 502, ""),
}

// artifacts is the fixture's catalog.
var artifacts = []db.Artifact{
	{Module: "github.com/corp/a", Version: "v1.0.0", File: "info", Size: 10},
	{Module: "github.com/corp/a", Version: "v1.0.0", File: "mod", Size: 20},
	{Module: "github.com/corp/a", Version: "v1.0.0", File: "zip", Size: 300},
	{Module: "github.com/corp/a", Version: "v1.1.0", File: "info", Size: 11},
	{Module: "github.com/corp/a", Version: "v1.1.0", File: "mod", Size: 21},
	{Module: "github.com/corp/b", Version: "v0.1.0", File: "mod", Size: 5},
	{Module: "golang.org/x/mod", Version: "v0.20.0", File: "zip", Size: 1000},
	{Module: "example.com/Upper", Version: "v1.0.0", File: "info", Size: 7},
}

// alertEvents is the fixture's alert history, oldest first.
var alertEvents = []db.AlertEvent{
	{Time: now.Add(-10 * 24 * time.Hour), Rule: "errors", State: "firing", Value: 0.5, Text: "old"},
	{Time: now.Add(-2 * time.Hour), Rule: "errors", State: "resolved", Value: 0, Text: "resolved"},
	{Time: now.Add(-time.Hour), Rule: "client-404", State: "firing", Key: "ci", Value: 12, Text: "ci 404s", Labels: map[string]string{"team": "ops"}},
}

// fixture returns a real SQLite database holding the fixture.
func fixture(t *testing.T) *db.DB {
	t.Helper()
	ctx := context.Background()
	d, err := db.Open(ctx, filepath.Join(t.TempDir(), "gomirror.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	for i, a := range artifacts {
		a.Stored = now.Add(-time.Duration(len(artifacts)-i) * time.Hour)
		if err := d.PutArtifact(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	// After the catalog: a download marks a catalogued artifact.
	if err := d.WriteAudit(ctx, records); err != nil {
		t.Fatal(err)
	}
	for _, e := range alertEvents {
		if err := d.AddAlertEvent(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

// newHandler serves d with the fixed clock.
func newHandler(d *db.DB, alerts func() []alert.Alert) *api.Handler {
	return api.New(api.Options{Store: func() (api.Store, error) { return d, nil }, Alerts: alerts, Now: func() time.Time { return now }})
}

// response is one answer.
type response struct {
	code   int
	header http.Header
	body   string
}

func get(t *testing.T, h http.Handler, target string) response {
	t.Helper()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", target, nil))
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("GET %s: Content-Type %q", target, ct)
	}
	return response{w.Code, w.Header(), w.Body.String()}
}

// decode gets target, wants status 200 and decodes the body into v.
func decode(t *testing.T, h http.Handler, target string, v any) string {
	t.Helper()
	r := get(t, h, target)
	if r.code != http.StatusOK {
		t.Fatalf("GET %s: %d %s", target, r.code, r.body)
	}
	if err := json.Unmarshal([]byte(r.body), v); err != nil {
		t.Fatalf("GET %s: %v in %s", target, err, r.body)
	}
	return r.body
}

// wantError gets target and wants status code and a JSON error that
// mentions mention.
func wantError(t *testing.T, h http.Handler, target string, code int, mention string) {
	t.Helper()
	r := get(t, h, target)
	var e struct{ Error string }
	if err := json.Unmarshal([]byte(r.body), &e); err != nil {
		t.Fatalf("GET %s: %d, body %q is not JSON: %v", target, r.code, r.body, err)
	}
	if r.code != code || !strings.Contains(e.Error, mention) {
		t.Errorf("GET %s: %d %q; want %d mentioning %q", target, r.code, e.Error, code, mention)
	}
}

type auditPage struct {
	Records []audit.Record `json:"records"`
	Next    *string        `json:"next"`
}

func ids(rs []audit.Record) []string {
	out := []string{}
	for _, r := range rs {
		out = append(out, r.ID)
	}
	return out
}

func TestAudit(t *testing.T) {
	h := newHandler(fixture(t), nil)
	all := ids(records)
	rfc := func(ago time.Duration) string { return url.QueryEscape(now.Add(-ago).Format(time.RFC3339)) }
	for _, tc := range []struct {
		query string
		want  []string
	}{
		{"", all},
		{"since=1h", []string{"r01", "r06"}},
		{"since=90m", []string{"r01", "r06"}},
		{"since=1d", []string{"r01", "r06", "r02"}},
		{"since=7d", []string{"r01", "r06", "r02", "r09", "r08", "r07", "r03"}},
		{"since=" + rfc(5*24*time.Hour), []string{"r01", "r06", "r02", "r09", "r08", "r07", "r03"}},
		{"since=2026-02-20", []string{"r01", "r06", "r02", "r09", "r08", "r07", "r03", "r04"}},
		{"since=2026-03-10", []string{"r01", "r06", "r02"}},
		// Beyond what nanoseconds since 1970 hold: all, or none.
		{"since=1600-01-01", all},
		{"until=2300-01-01", all},
		{"since=2300-01-01", nil},
		{"until=1600-01-01T00:00:00Z", nil},
		{"until=1h", []string{"r02", "r09", "r08", "r07", "r03", "r04", "r05"}},
		{"until=" + rfc(24*time.Hour), []string{"r09", "r08", "r07", "r03", "r04", "r05"}},
		{"since=7d&until=1d", []string{"r09", "r08", "r07", "r03"}},
		{"until=2026-03-01", []string{"r04", "r05"}},
		{"module=github.com/corp", []string{"r01", "r06", "r02", "r09", "r05"}},
		{"module=github.com/corp/*", []string{"r01", "r06", "r02", "r09", "r05"}},
		{"module=github.com/corp/a", []string{"r01", "r09", "r05"}},
		{"module=golang.org/x/mod,github.com/other", []string{"r08", "r07", "r03", "r04"}},
		{"module=example.com", []string{}},
		{"client=ci", []string{"r01", "r06", "r04"}},
		{"client=nobody", []string{}},
		{"remote=10.0.0.3", []string{"r09", "r08", "r07", "r03"}},
		{"kind=zip", []string{"r01", "r09", "r08"}},
		{"kind=sumdb", []string{"r05"}},
		{"cache=hit", []string{"r01", "r08", "r07"}},
		{"cache=stale", []string{"r04"}},
		{"status=404", []string{"r02"}},
		{"status=4xx", []string{"r02"}},
		{"status=5xx", []string{"r06", "r04", "r05"}},
		{"status=500-599", []string{"r06", "r04", "r05"}},
		{"status=501-503", []string{"r06", "r05"}},
		{"status=2xx&client=dev&kind=zip", []string{"r09", "r08"}},
		{"client=ci&status=5xx", []string{"r06", "r04"}},
		{"limit=3", []string{"r01", "r06", "r02"}},
		{"limit=5000", all}, // capped, not refused
	} {
		var page auditPage
		body := decode(t, h, "/api/v1/audit?"+tc.query, &page)
		if got := ids(page.Records); !slices.Equal(got, tc.want) {
			t.Errorf("?%s: %v; want %v", tc.query, got, tc.want)
		}
		if len(tc.want) == 0 && !strings.Contains(body, `"records": []`) {
			t.Errorf("?%s: an empty page is not []: %s", tc.query, body)
		}
		if (page.Next != nil) != (tc.query == "limit=3") {
			t.Errorf("?%s: next %v", tc.query, page.Next)
		}
	}
	// A record as the API shows it.
	var page auditPage
	decode(t, h, "/api/v1/audit?limit=1", &page)
	if got, want := page.Records[0], records[0]; !got.Time.Equal(want.Time) || got.Client != want.Client || got.Remote != want.Remote ||
		got.Module != want.Module || got.Version != want.Version || got.Kind != want.Kind || got.Status != want.Status ||
		got.Bytes != want.Bytes || got.Duration != want.Duration || got.Cache != want.Cache || got.Method != "GET" {
		t.Errorf("record %+v; want %+v", got, want)
	}
}

func TestAuditBadParameters(t *testing.T) {
	h := newHandler(fixture(t), nil)
	for _, tc := range []struct{ query, mention string }{
		{"since=yesterday", "since"},
		{"since=-1h", "since"},
		{"since=1.5d", "since"},
		{"since=-2d", "since"},
		{"since=2026-13-01", "since"},
		{"until=soon", "until"},
		{"kind=tarball", "kind"},
		{"kind=ZIP", "kind"},
		{"cache=warm", "cache"},
		{"status=4x", "status"},
		{"status=600", "status"},
		{"status=599-500", "status"},
		{"status=abc", "status"},
		{"limit=0", "limit"},
		{"limit=-1", "limit"},
		{"limit=ten", "limit"},
		{"cursor=not-a-cursor", "cursor"},
		{"cursor=" + url.QueryEscape("%%%"), "cursor"},
	} {
		wantError(t, h, "/api/v1/audit?"+tc.query, http.StatusBadRequest, tc.mention)
	}
}

// TestAuditPages walks every page at several sizes: each record once, in
// order, whatever the page boundaries (records of one time included).
func TestAuditPages(t *testing.T) {
	h := newHandler(fixture(t), nil)
	for _, filter := range []string{"", "&client=dev", "&status=2xx", "&since=7d&module=golang.org/x/mod"} {
		var want []string
		var page auditPage
		decode(t, h, "/api/v1/audit?limit=1000"+filter, &page)
		want = ids(page.Records)
		if len(want) < 2 {
			t.Fatalf("filter %q selects %v: too few to page", filter, want)
		}
		for _, limit := range []int{1, 2, 3, 4, len(want) - 1, len(want)} {
			var got []string
			cursor, pages := "", 0
			for {
				var page auditPage
				decode(t, h, fmt.Sprintf("/api/v1/audit?limit=%d&cursor=%s%s", limit, url.QueryEscape(cursor), filter), &page)
				pages++
				if len(page.Records) > limit || pages > len(want)+1 {
					t.Fatalf("limit %d%s: page %d has %d records", limit, filter, pages, len(page.Records))
				}
				got = append(got, ids(page.Records)...)
				if page.Next == nil {
					break
				}
				cursor = *page.Next
			}
			if !slices.Equal(got, want) {
				t.Errorf("limit %d%s: pages gave %v; want %v", limit, filter, got, want)
			}
		}
	}
}

type periodJSON struct{ From, To string }

func TestSummary(t *testing.T) {
	h := newHandler(fixture(t), nil)
	for _, tc := range []struct {
		query            string
		from, to         string
		requests, downls int64
		hits, misses     int64
		days             int
	}{
		// today: r01 (zip 200 hit), r06, r02 (miss)
		{"days=1", "2026-03-10", "2026-03-10", 3, 1, 1, 1, 1},
		{"days=2", "2026-03-09", "2026-03-10", 4, 2, 1, 2, 2},
		// the default: 30 days, r05 (40 days ago) left out
		{"", "2026-02-09", "2026-03-10", 8, 3, 4, 3, 4},
		{"from=2026-01-01&to=2026-01-31", "2026-01-01", "2026-01-31", 1, 0, 0, 0, 1},
		{"to=2026-03-07&days=1", "2026-03-07", "2026-03-07", 3, 1, 2, 1, 1},
		{"from=2026-03-07", "2026-03-07", "2026-03-10", 7, 3, 3, 3, 3},
		{"from=2025-01-01&to=2025-01-02", "2025-01-01", "2025-01-02", 0, 0, 0, 0, 0},
	} {
		var s struct {
			Period    periodJSON
			Requests  int64
			Downloads int64
			Hits      int64
			Misses    int64
			Days      []db.DayCount
		}
		body := decode(t, h, "/api/v1/stats/summary?"+tc.query, &s)
		if s.Period != (periodJSON{tc.from, tc.to}) || s.Requests != tc.requests || s.Downloads != tc.downls ||
			s.Hits != tc.hits || s.Misses != tc.misses || len(s.Days) != tc.days {
			t.Errorf("?%s: %s", tc.query, body)
		}
		if tc.days == 0 && !strings.Contains(body, `"days": []`) {
			t.Errorf("?%s: no days is not []: %s", tc.query, body)
		}
	}
}

// TestPeriodBadParameters checks days, from and to on every statistics
// endpoint.
func TestPeriodBadParameters(t *testing.T) {
	h := newHandler(fixture(t), nil)
	for _, path := range []string{"/api/v1/stats/summary", "/api/v1/stats/top", "/api/v1/stats/modules/github.com/corp/a"} {
		for _, tc := range []struct{ query, mention string }{
			{"days=0", "days"},
			{"days=-3", "days"},
			{"days=week", "days"},
			{"from=yesterday", "from"},
			{"from=2026-03-10T00:00:00Z", "from"},
			{"to=2026-3-1", "to"},
			{"from=2026-03-05&to=2026-03-01", "from"},
			{"from=2026-03-01&days=3", "days"},
		} {
			wantError(t, h, path+"?"+tc.query, http.StatusBadRequest, tc.mention)
		}
	}
}

func TestTop(t *testing.T) {
	h := newHandler(fixture(t), nil)
	type top struct {
		Period  periodJSON
		Modules []db.ModuleCount
	}
	var all top
	decode(t, h, "/api/v1/stats/top", &all)
	var got []string
	for _, m := range all.Modules {
		got = append(got, m.Module)
	}
	// corp/a: 2 downloads; x/mod: 1 (3 requests); corp/b and other/c
	// were answered errors only, which module figures do not count;
	// corp/a's sumdb record is older than 30 days.
	if want := []string{"github.com/corp/a", "golang.org/x/mod"}; !slices.Equal(got, want) ||
		all.Period != (periodJSON{"2026-02-09", "2026-03-10"}) {
		t.Fatalf("top: %v %+v; want %v", got, all.Period, want)
	}
	if a := all.Modules[0]; a.Downloads != 2 || a.Requests != 2 || a.Clients != 2 {
		t.Errorf("top module %+v; want 2 downloads, 2 requests, 2 clients", a)
	}
	var one top
	decode(t, h, "/api/v1/stats/top?n=1", &one)
	if len(one.Modules) != 1 || one.Modules[0].Module != "github.com/corp/a" {
		t.Errorf("n=1: %+v", one.Modules)
	}
	var big top
	decode(t, h, "/api/v1/stats/top?n=100000", &big)
	if len(big.Modules) != 2 {
		t.Errorf("n=100000: %d modules; want the 2 there are", len(big.Modules))
	}
	body := decode(t, h, "/api/v1/stats/top?from=2025-01-01&to=2025-01-31", &big)
	if !strings.Contains(body, `"modules": []`) {
		t.Errorf("an empty period's top is not []: %s", body)
	}
	for _, n := range []string{"0", "-1", "many"} {
		wantError(t, h, "/api/v1/stats/top?n="+n, http.StatusBadRequest, "n")
	}
}

func TestModuleStats(t *testing.T) {
	h := newHandler(fixture(t), nil)
	type stats struct {
		Module string
		Period periodJSON
		Days   []db.DayCount
	}
	var s stats
	decode(t, h, "/api/v1/stats/modules/github.com/corp/a?days=7", &s)
	type row struct {
		day, version string
		downloads    int64
	}
	var got []row
	for _, d := range s.Days {
		got = append(got, row{d.Day.Format(time.DateOnly), d.Version, d.Downloads})
	}
	if want := []row{{"2026-03-09", "v1.1.0", 1}, {"2026-03-10", "v1.0.0", 1}}; s.Module != "github.com/corp/a" || !slices.Equal(got, want) ||
		s.Period != (periodJSON{"2026-03-04", "2026-03-10"}) {
		t.Errorf("stats of corp/a: %+v, days %v; want days %v", s, got, want)
	}
	decode(t, h, "/api/v1/stats/modules/github.com/corp/a?from=2026-01-01&to=2026-01-31", &s)
	if len(s.Days) != 0 {
		t.Errorf("corp/a in January: %+v; want none (its one sumdb request was answered 502)", s.Days)
	}
	body := decode(t, h, "/api/v1/stats/modules/example.com/nothing", &s)
	if !strings.Contains(body, `"days": []`) || s.Module != "example.com/nothing" {
		t.Errorf("a module without requests: %s", body)
	}
	for _, p := range []string{"github.com/corp/a.", "github.com/corp/a%20b", ""} {
		wantError(t, h, "/api/v1/stats/modules/"+p, http.StatusBadRequest, "module")
	}
}

type modulesPage struct {
	Modules []db.ModuleSummary
	Next    *string
	Totals  map[string]int64
}

func TestModules(t *testing.T) {
	h := newHandler(fixture(t), nil)
	var all modulesPage
	body := decode(t, h, "/api/v1/modules", &all)
	var got []string
	for _, m := range all.Modules {
		got = append(got, m.Module)
	}
	if want := []string{"example.com/Upper", "github.com/corp/a", "github.com/corp/b", "golang.org/x/mod"}; !slices.Equal(got, want) || all.Next != nil {
		t.Fatalf("modules %v, next %v; want %v", got, all.Next, want)
	}
	if want := map[string]int64{"modules": 4, "versions": 5, "objects": 8, "bytes": 1374}; fmt.Sprint(all.Totals) != fmt.Sprint(want) {
		t.Errorf("totals %v; want %v (%s)", all.Totals, want, body)
	}
	if a := all.Modules[1]; a.Versions != 2 || a.Objects != 5 || a.Bytes != 362 || a.LastStored.IsZero() || a.LastDownloaded.IsZero() {
		t.Errorf("corp/a: %+v", a)
	}
	for _, tc := range []struct {
		q    string
		want []string
	}{
		{"corp", []string{"github.com/corp/a", "github.com/corp/b"}},
		{"CORP/A", []string{"github.com/corp/a"}},
		{"upper", []string{"example.com/Upper"}},
		{"%", []string{}},
		{"_", []string{}},
		{"nothing", []string{}},
	} {
		var page modulesPage
		body := decode(t, h, "/api/v1/modules?q="+url.QueryEscape(tc.q), &page)
		got := []string{}
		for _, m := range page.Modules {
			got = append(got, m.Module)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("q=%s: %v; want %v", tc.q, got, tc.want)
		}
		if len(tc.want) == 0 && !strings.Contains(body, `"modules": []`) {
			t.Errorf("q=%s: no modules is not []: %s", tc.q, body)
		}
	}
	for _, q := range []string{"", "&q=corp"} {
		var want, got []string
		var page modulesPage
		decode(t, h, "/api/v1/modules?limit=1000"+q, &page)
		for _, m := range page.Modules {
			want = append(want, m.Module)
		}
		for cursor, pages := "", 0; ; pages++ {
			var page modulesPage
			decode(t, h, "/api/v1/modules?limit=1&cursor="+url.QueryEscape(cursor)+q, &page)
			if len(page.Modules) > 1 || pages > len(want) {
				t.Fatalf("page %d: %+v", pages, page)
			}
			for _, m := range page.Modules {
				got = append(got, m.Module)
			}
			if page.Next == nil {
				break
			}
			cursor = *page.Next
		}
		if !slices.Equal(got, want) {
			t.Errorf("pages of one%s: %v; want %v", q, got, want)
		}
	}
	wantError(t, h, "/api/v1/modules?cursor=***", http.StatusBadRequest, "cursor")
	for _, l := range []string{"0", "-5", "x"} {
		wantError(t, h, "/api/v1/modules?limit="+l, http.StatusBadRequest, "limit")
	}
}

func TestModule(t *testing.T) {
	h := newHandler(fixture(t), nil)
	var m struct {
		Module   string
		Versions []struct {
			Version        string
			Files          []db.Artifact
			Bytes          int64
			Stored         time.Time
			LastDownloaded time.Time `json:"last_downloaded"`
		}
	}
	body := decode(t, h, "/api/v1/modules/github.com/corp/a", &m)
	if m.Module != "github.com/corp/a" || len(m.Versions) != 2 {
		t.Fatalf("%s", body)
	}
	type version struct {
		v     string
		files string
		bytes int64
	}
	var got []version
	for _, v := range m.Versions {
		var files []string
		for _, f := range v.Files {
			files = append(files, f.File)
		}
		got = append(got, version{v.Version, strings.Join(files, ","), v.Bytes})
	}
	if want := []version{{"v1.1.0", "info,mod", 32}, {"v1.0.0", "info,mod,zip", 330}}; !slices.Equal(got, want) {
		t.Errorf("versions %v; want %v", got, want)
	}
	// v1.0.0's zip was downloaded (r01), v1.1.0's too (r09); each version
	// shows the newest of its files' times.
	if v := m.Versions[1]; !v.LastDownloaded.Equal(records[0].Time) || !v.Stored.Equal(now.Add(-6*time.Hour)) {
		t.Errorf("v1.0.0 stored %v, last downloaded %v; want %v, %v", v.Stored, v.LastDownloaded, now.Add(-6*time.Hour), records[0].Time)
	}
	wantError(t, h, "/api/v1/modules/example.com/unknown", http.StatusNotFound, "example.com/unknown")
	wantError(t, h, "/api/v1/modules/github.com/corp", http.StatusNotFound, "github.com/corp")
	for _, p := range []string{"github.com/corp/a.", "github.com/corp/a%20b", ""} {
		wantError(t, h, "/api/v1/modules/"+p, http.StatusBadRequest, "module")
	}
}

type catalogPage struct {
	Modules []map[string]string `json:"modules"`
	Next    *string             `json:"next"`
}

func TestCatalog(t *testing.T) {
	h := newHandler(fixture(t), nil)
	want := []string{"example.com/Upper@v1.0.0", "github.com/corp/a@v1.0.0", "github.com/corp/a@v1.1.0", "github.com/corp/b@v0.1.0", "golang.org/x/mod@v0.20.0"}
	var all catalogPage
	decode(t, h, "/catalog", &all)
	var got []string
	for _, e := range all.Modules {
		if len(e) != 2 {
			t.Errorf("entry %v: want exactly module and version", e)
		}
		got = append(got, e["module"]+"@"+e["version"])
	}
	if !slices.Equal(got, want) || all.Next != nil {
		t.Fatalf("catalog %v next %v; want %v", got, all.Next, want)
	}
	for _, size := range []int{1, 2, 4, 5} {
		var got []string
		token := ""
		for pages := 0; ; pages++ {
			var page catalogPage
			q := fmt.Sprintf("/catalog?pagesize=%d", size)
			if token != "" {
				q += "&token=" + url.QueryEscape(token)
			}
			decode(t, h, q, &page)
			if len(page.Modules) > size || pages > len(want) {
				t.Fatalf("pagesize %d: page %d: %+v", size, pages, page)
			}
			for _, e := range page.Modules {
				got = append(got, e["module"]+"@"+e["version"])
			}
			if page.Next == nil {
				break
			}
			if *page.Next == "" {
				t.Fatalf("pagesize %d: an empty next is shown", size)
			}
			token = *page.Next
		}
		if !slices.Equal(got, want) {
			t.Errorf("pagesize %d: %v; want %v", size, got, want)
		}
	}
	wantError(t, h, "/catalog?token=garbage", http.StatusBadRequest, "cursor")
	for _, s := range []string{"0", "-1", "all"} {
		wantError(t, h, "/catalog?pagesize="+s, http.StatusBadRequest, "pagesize")
	}
	// An empty catalog: {"modules": []}.
	empty, err := db.Open(context.Background(), filepath.Join(t.TempDir(), "empty.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer empty.Close()
	if r := get(t, newHandler(empty, nil), "/catalog"); r.code != 200 || strings.Join(strings.Fields(r.body), "") != `{"modules":[]}` {
		t.Errorf("empty catalog: %d %s", r.code, r.body)
	}
}

func TestAlerts(t *testing.T) {
	d := fixture(t)
	type alertsAnswer struct {
		Alerts       []map[string]any
		History      []db.AlertEvent
		HistoryError string `json:"history_error"`
	}
	current := func() []alert.Alert { return []alert.Alert{{Rule: "client-404", Key: "ci", State: "firing"}} }
	var a alertsAnswer
	decode(t, newHandler(d, current), "/api/v1/alerts", &a)
	var texts []string
	for _, e := range a.History {
		texts = append(texts, e.Text)
	}
	if len(a.Alerts) != 1 || a.Alerts[0]["rule"] != "client-404" || !slices.Equal(texts, []string{"ci 404s", "resolved", "old"}) || a.HistoryError != "" {
		t.Fatalf("alerts %+v, history %v", a.Alerts, texts)
	}
	if e := a.History[0]; e.Key != "ci" || e.Labels["team"] != "ops" || e.Value != 12 || !e.Time.Equal(alertEvents[2].Time) || e.State != "firing" {
		t.Errorf("newest event %+v", e)
	}
	decode(t, newHandler(d, current), "/api/v1/alerts?since=7d", &a)
	if len(a.History) != 2 {
		t.Errorf("since=7d: %d events; want 2", len(a.History))
	}
	decode(t, newHandler(d, current), "/api/v1/alerts?limit=1", &a)
	if len(a.History) != 1 || a.History[0].Text != "ci 404s" {
		t.Errorf("limit=1: %+v", a.History)
	}
	// Without alert rules: no current alerts, [] all the same.
	body := decode(t, newHandler(d, nil), "/api/v1/alerts?since=1m", &a)
	if !strings.Contains(body, `"alerts": []`) || !strings.Contains(body, `"history": []`) {
		t.Errorf("without rules and history: %s", body)
	}
	wantError(t, newHandler(d, nil), "/api/v1/alerts?since=never", http.StatusBadRequest, "since")
	wantError(t, newHandler(d, nil), "/api/v1/alerts?limit=0", http.StatusBadRequest, "limit")
}

// failingStore is a Store whose every method fails with err.
type failingStore struct {
	api.Store // nil: only the methods below are called
	err       error
}

func (s failingStore) QueryAudit(context.Context, audit.Query) (audit.Page, error) {
	return audit.Page{}, s.err
}
func (s failingStore) DayTotals(context.Context, db.Period) (db.Summary, error) {
	return db.Summary{}, s.err
}
func (s failingStore) Minutes(context.Context, time.Time, time.Time) ([]db.MinuteCount, error) {
	return nil, s.err
}
func (s failingStore) CatalogTotals(context.Context) (db.Totals, error) { return db.Totals{}, s.err }
func (s failingStore) Versions(context.Context, string, int) ([]module.Version, string, error) {
	return nil, "", s.err
}

// TestUnavailable checks every route without a database: 503 with
// Retry-After, whatever Store gives (an error wrapping ErrUnavailable, or
// a nil store); the alerts' current state is still shown.
func TestUnavailable(t *testing.T) {
	down := fmt.Errorf("%w: database is off", api.ErrUnavailable)
	for name, store := range map[string]func() (api.Store, error){
		"error":     func() (api.Store, error) { return nil, down },
		"nil":       func() (api.Store, error) { return nil, nil },
		"typed nil": func() (api.Store, error) { return (*db.DB)(nil), nil },
	} {
		h := api.New(api.Options{Store: store})
		for _, route := range api.Routes {
			if route == "GET /api/v1/overview" {
				continue // TestOverview
			}
			path := strings.TrimPrefix(route, "GET ")
			path = strings.Replace(path, "{module...}", "github.com/corp/a", 1)
			r := get(t, h, path)
			if r.code != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" || !strings.Contains(r.body, "not available") {
				t.Errorf("%s: GET %s: %d, Retry-After %q, %s", name, path, r.code, r.header.Get("Retry-After"), r.body)
			}
		}
		var a struct {
			Alerts       []map[string]any
			History      []db.AlertEvent
			HistoryError string `json:"history_error"`
		}
		h = api.New(api.Options{Store: store, Alerts: func() []alert.Alert { return []alert.Alert{{Rule: "r"}} }})
		body := decode(t, h, "/api/v1/alerts", &a)
		if len(a.Alerts) != 1 || !strings.Contains(body, `"history": []`) || !strings.Contains(a.HistoryError, "not available") {
			t.Errorf("%s: alerts without a database: %s", name, body)
		}
	}
	// Other errors keep their statuses: a database that fails is a 500, a
	// query that ran out of time a 504.
	for err, code := range map[error]int{
		errors.New("disk I/O error"):                          http.StatusInternalServerError,
		fmt.Errorf("db: query: %w", context.DeadlineExceeded): http.StatusGatewayTimeout,
	} {
		h := api.New(api.Options{Store: func() (api.Store, error) { return failingStore{err: err}, nil }})
		for _, path := range []string{"/api/v1/audit", "/catalog"} {
			if r := get(t, h, path); r.code != code || strings.Contains(r.body, "disk") || r.header.Get("Retry-After") != "" {
				t.Errorf("%v: GET %s: %d %s; want %d", err, path, r.code, r.body, code)
			}
		}
	}
}

func TestParseTime(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Time
	}{
		{"", time.Time{}},
		{"0s", now},
		{"24h", now.Add(-24 * time.Hour)},
		{"90m", now.Add(-90 * time.Minute)},
		{"7d", now.Add(-7 * 24 * time.Hour)},
		{"0d", now},
		{"2026-03-01", time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)},
		{"2026-03-01T10:00:00+02:00", time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)},
	} {
		got, err := api.ParseTime(tc.in, now)
		if err != nil || !got.Equal(tc.want) {
			t.Errorf("ParseTime(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	for _, in := range []string{"d", "-1d", "1.5d", "-1h", "yesterday", "2026-03-01 10:00", "99999999d"} {
		if got, err := api.ParseTime(in, now); err == nil {
			t.Errorf("ParseTime(%q) = %v; want an error", in, got)
		}
	}
}

// TestDamagedDatabaseIsUnavailable: a database file damaged in the middle
// (it still opens: its first pages are whole) is answered 503, as a
// database that is not open, not 500.
func TestDamagedDatabaseIsUnavailable(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "gomirror.db")
	d, err := db.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	var batch []audit.Record
	for i := range 3000 {
		batch = append(batch, rec(fmt.Sprintf("id%05d", i), time.Duration(i)*time.Second, "", "10.0.0.1",
			fmt.Sprintf("example.com/m%d", i%50), "v1.0.0", "zip", 200, "hit"))
	}
	if err := d.WriteAudit(ctx, batch); err != nil {
		t.Fatal(err)
	}
	d.Close()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	fi, _ := f.Stat()
	if fi.Size() < 64<<10 {
		t.Fatalf("database of %d bytes: too small to damage in the middle", fi.Size())
	}
	garbage := bytes.Repeat([]byte{0xA5}, int(fi.Size()/2))
	if _, err := f.WriteAt(garbage, fi.Size()/4); err != nil {
		t.Fatal(err)
	}
	f.Close()
	d, err = db.Open(ctx, path)
	if err != nil {
		t.Skipf("the damaged database does not open (%v): the server answers 503 for it already", err)
	}
	defer d.Close()
	h := newHandler(d, nil)
	r := get(t, h, "/api/v1/audit?limit=1000")
	if r.code != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" {
		t.Errorf("GET /api/v1/audit of a damaged database: %d %s; want 503 with Retry-After", r.code, r.body)
	}
}

// slowStore's audit query waits for its context to end.
type slowStore struct{ api.Store }

func (slowStore) QueryAudit(ctx context.Context, _ audit.Query) (audit.Page, error) {
	<-ctx.Done()
	return audit.Page{}, fmt.Errorf("db: querying the audit log: %w", ctx.Err())
}

// TestQueryTimeout: no request holds the database longer than Timeout;
// one that runs out of time is a 504.
func TestQueryTimeout(t *testing.T) {
	h := api.New(api.Options{Store: func() (api.Store, error) { return slowStore{}, nil }, Timeout: 50 * time.Millisecond})
	if r := get(t, h, "/api/v1/audit?module=example.com/*x"); r.code != http.StatusGatewayTimeout {
		t.Errorf("a query that outlasts the timeout: %d %s; want 504", r.code, r.body)
	}
}

// downHistory's alert history fails as a damaged or unreachable database
// does, or hangs until its context ends.
type downHistory struct {
	api.Store
	hang bool
}

func (s downHistory) AlertEvents(ctx context.Context, _ time.Time, _ int) ([]db.AlertEvent, error) {
	if s.hang {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return nil, fmt.Errorf("db: alert history: %w", driver.ErrBadConn)
}

// TestAlertsWithoutHistory: the current alerts are answered while the
// history cannot be read (a database that fails, or hangs), with the
// reason in history_error.
func TestAlertsWithoutHistory(t *testing.T) {
	for _, hang := range []bool{false, true} {
		h := api.New(api.Options{Store: func() (api.Store, error) { return downHistory{hang: hang}, nil }, Timeout: 50 * time.Millisecond,
			Alerts: func() []alert.Alert { return []alert.Alert{{Rule: "r"}} }})
		var a struct {
			Alerts       []map[string]any
			HistoryError string `json:"history_error"`
		}
		body := decode(t, h, "/api/v1/alerts", &a)
		if len(a.Alerts) != 1 || a.HistoryError == "" {
			t.Errorf("hang %v: %s; want the current alert and a history_error", hang, body)
		}
	}
}

// TestErrorDetailNotShown: a database error's text (here SQLite's, as a
// long LIKE pattern gave it) is not in the answer of any route that meets
// it: a 500 says "internal error" and the log has the detail.
func TestErrorDetailNotShown(t *testing.T) {
	const detail = "sqlite: LIKE or GLOB pattern too complex (SQLITE_ERROR)"
	var log strings.Builder
	h := api.New(api.Options{Store: func() (api.Store, error) { return failingStore{err: errors.New(detail)}, nil },
		Log: slog.New(slog.NewTextHandler(&log, nil))})
	for _, path := range []string{"/api/v1/audit", "/catalog"} {
		r := get(t, h, path)
		if r.code != http.StatusInternalServerError || strings.Contains(r.body, "LIKE") || !strings.Contains(r.body, "internal error") {
			t.Errorf("GET %s: %d %s", path, r.code, r.body)
		}
	}
	if !strings.Contains(log.String(), "LIKE or GLOB") || !strings.Contains(log.String(), "/catalog") {
		t.Errorf("the log lacks the detail: %s", log.String())
	}
	for err, want := range map[error]string{
		errors.New(detail): "internal error",
		fmt.Errorf("db: %w: dial tcp 10.0.0.1:5432: connection refused", api.ErrUnavailable): api.ErrUnavailable.Error(),
		fmt.Errorf("db: %w", fs.ErrNotExist):                                                 "db: file does not exist",
	} {
		if got := api.Message(err); got != want {
			t.Errorf("Message(%v) = %q, want %q", err, got, want)
		}
	}
}

// TestLongQuery: a search longer than any stored module path can be is
// refused with 400 naming q, before the database (SQLite refuses a LIKE
// pattern of 50,000 bytes with an error); one of MaxQuery bytes is
// searched.
func TestLongQuery(t *testing.T) {
	if api.MaxQuery < proxy.MaxPathLen {
		t.Errorf("MaxQuery %d refuses searches for module paths a request can name (%d bytes)", api.MaxQuery, proxy.MaxPathLen)
	}
	d := fixture(t)
	h := newHandler(d, nil)
	for _, n := range []int{api.MaxQuery + 1, 49_999} {
		wantError(t, h, "/api/v1/modules?q="+strings.Repeat("a", n), http.StatusBadRequest, "parameter q")
	}
	var mods api.Modules
	decode(t, h, "/api/v1/modules?q="+strings.Repeat("a", api.MaxQuery), &mods)
	if len(mods.Modules) != 0 {
		t.Errorf("a long q matched %v", mods.Modules)
	}
	svc := api.NewService(api.Options{Store: func() (api.Store, error) { return d, nil }})
	if _, _, err := svc.ModulePage(context.Background(), strings.Repeat("a", api.MaxQuery+1), "", 10); api.StatusOf(err) != http.StatusBadRequest {
		t.Errorf("ModulePage: %v", err)
	} else if name, ok := api.Param(err); !ok || name != "q" {
		t.Errorf("ModulePage: Param = %q, %v", name, ok)
	}
}
