// Package dbtest is the conformance suite of package db: Run checks every
// method's contract on a database that open gives, so that SQLite and
// PostgreSQL are held to the same behaviour.
package dbtest

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gomirror/gomirror/audit"
	"github.com/gomirror/gomirror/db"
)

// Run runs the suite. open must return a new, empty database for each
// call (each subtest opens its own), closed when t ends.
func Run(t *testing.T, open func(t *testing.T) *db.DB) {
	for _, tc := range []struct {
		name string
		f    func(t *testing.T, d *db.DB)
	}{
		{"AuditRoundTrip", testAuditRoundTrip},
		{"AuditIdempotent", testAuditIdempotent},
		{"AuditBatchSizes", testAuditBatchSizes},
		{"AuditBatchAtomic", testAuditBatchAtomic},
		{"AuditFilters", testAuditFilters},
		{"AuditManyModules", testAuditManyModules},
		{"AuditPagination", testAuditPagination},
		{"AuditLimits", testAuditLimits},
		{"AuditBadQueries", testAuditBadQueries},
		{"AuditOverlappingBatches", testAuditOverlappingBatches},
		{"Prune", testPrune},
		{"Minutes", testMinutes},
		{"TopModules", testTopModules},
		{"TopModulesAnyPeriod", testTopModulesAnyPeriod},
		{"Downloads", testDownloads},
		{"Summarize", testSummarize},
		{"Catalog", testCatalog},
		{"CatalogModules", testCatalogModules},
		{"ReplaceCatalog", testReplaceCatalog},
		{"LastDownloaded", testLastDownloaded},
		{"Alerts", testAlerts},
		{"Sessions", testSessions},
		{"AccessTimes", testAccessTimes},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.f(t, open(t)) })
	}
}

// t0 is the suite's clock: a day well in the past (a zero Query.Until is
// now), at noon.
var t0 = time.Date(2025, 3, 10, 12, 0, 0, 0, time.UTC)

// rec returns a record: a successful zip hit by client "ci" from
// 10.0.0.1, at t0 plus minutes, with the given ID and module.
func rec(id string, minutes int, module string) audit.Record {
	return audit.Record{
		ID: id, Time: t0.Add(time.Duration(minutes) * time.Minute), Client: "ci", Remote: "10.0.0.1",
		Method: "GET", Module: module, Version: "v1.0.0", Kind: audit.KindZip, Status: 200, Bytes: 100,
		Duration: 3 * time.Millisecond, Cache: "hit", Agent: "Go-http-client/1.1", Replica: "r1",
	}
}

func write(t *testing.T, d *db.DB, batch ...audit.Record) {
	t.Helper()
	if err := d.WriteAudit(context.Background(), batch); err != nil {
		t.Fatalf("WriteAudit: %v", err)
	}
}

// all returns every record q selects, following the cursors.
func all(t *testing.T, d *db.DB, q audit.Query) []audit.Record {
	t.Helper()
	var out []audit.Record
	for range 10000 {
		p, err := d.QueryAudit(context.Background(), q)
		if err != nil {
			t.Fatalf("QueryAudit(%+v): %v", q, err)
		}
		out = append(out, p.Records...)
		if p.Next == "" {
			return out
		}
		q.Cursor = p.Next
	}
	t.Fatal("QueryAudit: cursors never end")
	return nil
}

func ids(rs []audit.Record) string {
	var s []string
	for _, r := range rs {
		s = append(s, r.ID)
	}
	return strings.Join(s, ",")
}

func testAuditRoundTrip(t *testing.T, d *db.DB) {
	a := audit.Record{
		ID: "a", Time: time.Date(2025, 3, 10, 12, 0, 0, 123456789, time.UTC), Client: "alice", Remote: "192.0.2.7",
		Method: "HEAD", Module: "corp.example/Lib", Version: "v1.2.3-pre", Kind: audit.KindInfo, Status: 404, Bytes: 12345678901,
		Duration: 1500 * time.Microsecond, Cache: "miss", Upstream: "https://up.example", Agent: "Go-http-client/1.1 \"x\"", Replica: "host:8080",
	}
	b := rec("b", 1, "")
	b.Kind, b.Version, b.Client = audit.KindSumDB, "", ""
	c := rec("c", -1, "other.example/m")
	// In another time zone: stored and returned as UTC.
	c.Time = c.Time.In(time.FixedZone("X", 3600))
	write(t, d, a, b, c)
	got := all(t, d, audit.Query{})
	c.Time = c.Time.UTC()
	want := []audit.Record{b, a, c}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("records:\n got %+v\nwant %+v", got, want)
	}
}

func testAuditIdempotent(t *testing.T, d *db.DB) {
	ctx := context.Background()
	batch := []audit.Record{rec("1", 0, "m.example/a"), rec("2", 1, "m.example/a"), rec("3", 2, "m.example/b")}
	write(t, d, batch...)
	write(t, d, batch...) // written again after a timeout whose write landed
	// A batch of old and new records, and one ID twice in it.
	write(t, d, rec("2", 1, "m.example/a"), rec("4", 3, "m.example/a"), rec("4", 3, "m.example/a"))
	if got := ids(all(t, d, audit.Query{})); got != "4,3,2,1" {
		t.Fatalf("records %s, want 4,3,2,1", got)
	}
	top, err := d.TopModules(ctx, db.Period{From: t0, To: t0}, 10)
	if err != nil {
		t.Fatal(err)
	}
	want := []db.ModuleCount{
		{Module: "m.example/a", Downloads: 3, Requests: 3, Bytes: 300, Clients: 1},
		{Module: "m.example/b", Downloads: 1, Requests: 1, Bytes: 100, Clients: 1},
	}
	if !reflect.DeepEqual(top, want) {
		t.Fatalf("TopModules counts records written twice:\n got %+v\nwant %+v", top, want)
	}
	s, err := d.Summarize(ctx, db.Period{From: t0, To: t0})
	if err != nil {
		t.Fatal(err)
	}
	if s.Requests != 4 || s.Downloads != 4 || s.Bytes != 400 {
		t.Fatalf("Summarize counts records written twice: %+v", s)
	}
}

// testAuditBatchSizes writes batches of many sizes (WriteAudit splits
// them into statements of several sizes, reused from batch to batch),
// each one again with new records among the old, and checks that every
// record is stored and counted once.
func testAuditBatchSizes(t *testing.T, d *db.DB) {
	ctx := context.Background()
	next, want := 0, 0
	batch := func(n int) []audit.Record {
		var b []audit.Record
		for range n {
			b = append(b, rec(fmt.Sprintf("s%05d", next), next%600, fmt.Sprintf("m.example/m%d", next%7)))
			next++
		}
		return b
	}
	for _, n := range []int{1, 255, 256, 257, 600, 3, 256, 100} {
		b := batch(n)
		write(t, d, b...)
		// Again, with new records before and after the old ones.
		again := append(append(batch(2), b...), batch(1)...)
		write(t, d, again...)
		want += n + 3
	}
	got := all(t, d, audit.Query{Limit: db.MaxAuditLimit})
	if len(got) != want {
		t.Fatalf("%d records stored, want %d", len(got), want)
	}
	seen := map[string]bool{}
	for _, r := range got {
		if seen[r.ID] {
			t.Fatalf("record %s stored twice", r.ID)
		}
		seen[r.ID] = true
	}
	s, err := d.Summarize(ctx, db.Period{From: t0, To: t0})
	if err != nil {
		t.Fatal(err)
	}
	if s.Requests != int64(want) || s.Bytes != int64(100*want) {
		t.Fatalf("Summarize: %d requests, %d bytes; want %d, %d", s.Requests, s.Bytes, want, 100*want)
	}
}

func testAuditBatchAtomic(t *testing.T, d *db.DB) {
	ctx := context.Background()
	bad := rec("", 1, "m.example/a")
	if err := d.WriteAudit(ctx, []audit.Record{rec("1", 0, "m.example/a"), bad}); err == nil {
		t.Fatal("WriteAudit stored a record without an ID")
	}
	if err := d.WriteAudit(ctx, nil); err != nil {
		t.Fatalf("WriteAudit(nil): %v", err)
	}
	if got := all(t, d, audit.Query{}); len(got) != 0 {
		t.Fatalf("a failed batch left records: %s", ids(got))
	}
	s, err := d.Summarize(ctx, db.Period{From: t0, To: t0})
	if err != nil {
		t.Fatal(err)
	}
	if s.Requests != 0 {
		t.Fatalf("a failed batch left roll-ups: %+v", s)
	}
}

func testAuditFilters(t *testing.T, d *db.DB) {
	mk := func(id string, min int, module string, f func(*audit.Record)) audit.Record {
		r := rec(id, min, module)
		if f != nil {
			f(&r)
		}
		return r
	}
	write(t, d,
		mk("lib", 0, "corp.example/lib", nil),
		mk("libv2", 1, "corp.example/lib/v2", nil),
		mk("libx", 2, "corp.example/libx", nil),
		mk("Lib", 3, "corp.example/Lib", nil),
		mk("git", 4, "git.corp.example/tool", func(r *audit.Record) { r.Client = ""; r.Remote = "10.0.0.2" }),
		mk("pub", 5, "github.com/pub/x", func(r *audit.Record) { r.Status = 404; r.Cache = "miss"; r.Kind = audit.KindInfo }),
		mk("sum", 6, "", func(r *audit.Record) { r.Kind = audit.KindSumDB; r.Status = 502; r.Cache = "" }),
		mk("list", 7, "corp.example/lib", func(r *audit.Record) { r.Kind = audit.KindList; r.Version = ""; r.Cache = "fresh"; r.Client = "bob" }),
		mk("old", -60*24, "corp.example/lib", nil),
	)
	for _, tt := range []struct {
		name string
		q    audit.Query
		want string
	}{
		{"everything", audit.Query{}, "list,sum,pub,git,Lib,libx,libv2,lib,old"},
		{"module and its subpaths, any case", audit.Query{Module: "corp.example/lib"}, "list,Lib,libv2,lib,old"},
		{"module in another case", audit.Query{Module: "CORP.example/LIB"}, "list,Lib,libv2,lib,old"},
		{"domain", audit.Query{Module: "corp.example"}, "list,Lib,libx,libv2,lib,old"},
		{"glob on the first element", audit.Query{Module: "*.corp.example"}, "git"},
		{"glob inside", audit.Query{Module: "corp.example/lib*"}, "list,Lib,libx,libv2,lib,old"},
		{"list of patterns", audit.Query{Module: "github.com/pub,git.corp.example"}, "pub,git"},
		{"no such module", audit.Query{Module: "nothing.example"}, ""},
		{"since", audit.Query{Since: t0.Add(5 * time.Minute)}, "list,sum,pub"},
		{"until is exclusive", audit.Query{Until: t0.Add(time.Minute)}, "lib,old"},
		{"since and until", audit.Query{Since: t0, Until: t0.Add(2 * time.Minute)}, "libv2,lib"},
		{"client", audit.Query{Client: "bob"}, "list"},
		{"remote", audit.Query{Remote: "10.0.0.2"}, "git"},
		{"kind", audit.Query{Kind: audit.KindSumDB}, "sum"},
		{"cache", audit.Query{Cache: "miss"}, "pub"},
		{"status class", audit.Query{StatusMin: 400, StatusMax: 499}, "pub"},
		{"status min only", audit.Query{StatusMin: 500}, "sum"},
		{"status max only", audit.Query{StatusMax: 299}, "list,git,Lib,libx,libv2,lib,old"},
		{"module and client", audit.Query{Module: "corp.example/lib", Client: "ci", Since: t0}, "Lib,libv2,lib"},
		{"client and status class", audit.Query{Client: "ci", StatusMin: 400, StatusMax: 499}, "pub"},
		{"client and status min", audit.Query{Client: "ci", StatusMin: 400}, "sum,pub"},
		{"another client's failures", audit.Query{Client: "bob", StatusMin: 400}, ""},
		{"client, status and module", audit.Query{Client: "ci", StatusMin: 400, Module: "github.com/pub"}, "pub"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := ids(all(t, d, tt.q)); got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
			tt.q.Limit = 1 // the same through pages of one
			if got := ids(all(t, d, tt.q)); got != tt.want {
				t.Fatalf("in pages of one: got %q, want %q", got, tt.want)
			}
		})
	}
}

// testAuditManyModules: a pattern matching more module paths than a query
// names one by one still selects exactly its records, in order, in pages.
func testAuditManyModules(t *testing.T, d *db.DB) {
	var batch []audit.Record
	var want []string
	for i := range 700 {
		module := fmt.Sprintf("m.example/p%03d/v2", i)
		if i%7 == 0 {
			module = fmt.Sprintf("m.example/p%03d", i) // not matched, but after the pattern's literal prefix
		}
		batch = append(batch, rec(fmt.Sprintf("r%03d", i), i, module))
		if i%7 != 0 {
			want = append([]string{fmt.Sprintf("r%03d", i)}, want...)
		}
	}
	write(t, d, batch...)
	for _, limit := range []int{0, 7, 1000} {
		if got := ids(all(t, d, audit.Query{Module: "m.example/p*/v2", Limit: limit})); got != strings.Join(want, ",") {
			t.Fatalf("limit %d: got %d records, want %d:\n got %s", limit, strings.Count(got, ",")+1, len(want), got)
		}
	}
	if got := all(t, d, audit.Query{Module: "*.example/p0*", Since: t0.Add(500 * time.Minute)}); len(got) != 0 {
		t.Fatalf("pattern without matches in the time range: %s", ids(got))
	}
	if got := all(t, d, audit.Query{Module: "*.example/p1*", Limit: 3}); len(got) != 100 { // p100..p199
		t.Fatalf("glob on the first element: %d records, want %d", len(got), 100)
	}
}

func testAuditPagination(t *testing.T, d *db.DB) {
	ctx := context.Background()
	var batch []audit.Record
	var want []string
	// 25 records, five at each of five times: the order within a time is by ID.
	for i := range 25 {
		batch = append(batch, rec(fmt.Sprintf("id%02d", i), i/5, "m.example/a"))
	}
	write(t, d, batch...)
	for m := 4; m >= 0; m-- {
		for k := 4; k >= 0; k-- {
			want = append(want, fmt.Sprintf("id%02d", m*5+k))
		}
	}
	q := audit.Query{Limit: 10}
	var pages []int
	var got []audit.Record
	for {
		p, err := d.QueryAudit(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		pages = append(pages, len(p.Records))
		got = append(got, p.Records...)
		if p.Next == "" {
			break
		}
		q.Cursor = p.Next
	}
	if !slices.Equal(pages, []int{10, 10, 5}) {
		t.Fatalf("page sizes %v, want [10 10 5]", pages)
	}
	if ids(got) != strings.Join(want, ",") {
		t.Fatalf("order:\n got %s\nwant %s", ids(got), strings.Join(want, ","))
	}
	// A page that ends exactly at the last record has no next.
	p, err := d.QueryAudit(ctx, audit.Query{Limit: 25})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Records) != 25 || p.Next != "" {
		t.Fatalf("limit 25 of 25: %d records, next %q", len(p.Records), p.Next)
	}
	// Records written after a page was read do not disturb the next page.
	p, err = d.QueryAudit(ctx, audit.Query{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	write(t, d, rec("new", 100, "m.example/a"))
	p2, err := d.QueryAudit(ctx, audit.Query{Limit: 10, Cursor: p.Next})
	if err != nil {
		t.Fatal(err)
	}
	if ids(p2.Records) != strings.Join(want[10:20], ",") {
		t.Fatalf("second page after a new record: %s", ids(p2.Records))
	}
}

// testAuditOverlappingBatches writes the records of two replicas (IDs
// of the Recorder's form, so that the store tells their writers apart),
// in batches whose times overlap each other's and the other replica's,
// then writes them all again in other batches mixed with new records,
// and checks that every query (whole log, by module, pattern, client,
// status, paginated) returns each record once, in exact time order, and
// that a prune in the middle of the batches deletes exactly the older
// records, from the queries through each index too.
func testAuditOverlappingBatches(t *testing.T, d *db.DB) {
	ctx := context.Background()
	var recs []audit.Record
	for i := range 300 {
		prefix := []string{"REPLICA0000A-", "REPLICA0000B-"}[i%2]
		r := rec(prefix+strconv.FormatUint(uint64(1000+i), 36), 0, fmt.Sprintf("m.example/M%d", i%5))
		// Times jump back and forth: batch k of 20 covers minutes
		// around k*5 with a spread of 40 minutes.
		r.Time = t0.Add(time.Duration(i/20*5+(i*7919)%40) * time.Minute).Add(time.Duration(i%3) * time.Second)
		r.Client = []string{"ci", "dev", ""}[i%3]
		r.Status = []int{200, 200, 404, 500, 200, 304}[i%6]
		recs = append(recs, r)
	}
	// In batches of 20, by replica as the Recorders would.
	for k := 0; k < len(recs); k += 20 {
		var a, b []audit.Record
		for _, r := range recs[k : k+20] {
			if strings.HasPrefix(r.ID, "REPLICA0000A") {
				a = append(a, r)
			} else {
				b = append(b, r)
			}
		}
		write(t, d, a...)
		write(t, d, b...)
	}
	// Again, in batches of 33 that mix both replicas and cut across the
	// first batches, the last with new records.
	more := rec("REPLICA0000A-zz", 30, "m.example/M0")
	for k := 0; k < len(recs); k += 33 {
		b := slices.Clone(recs[k:min(k+33, len(recs))])
		if k+33 >= len(recs) {
			b = append(b, more)
		}
		write(t, d, b...)
	}
	recs = append(recs, more)
	expect := func(keep func(r audit.Record) bool) string {
		var want []audit.Record
		for _, r := range recs {
			if keep(r) {
				want = append(want, r)
			}
		}
		slices.SortFunc(want, func(a, b audit.Record) int {
			if c := b.Time.Compare(a.Time); c != 0 {
				return c
			}
			return strings.Compare(b.ID, a.ID)
		})
		return ids(want)
	}
	check := func(when string) {
		t.Helper()
		for _, tc := range []struct {
			q    audit.Query
			keep func(r audit.Record) bool
		}{
			{audit.Query{Limit: 7}, func(audit.Record) bool { return true }},
			{audit.Query{Module: "m.example/m1", Limit: 9}, func(r audit.Record) bool { return r.Module == "m.example/M1" }},
			{audit.Query{Module: "m.example/m1,m.example/m3", Limit: 9}, func(r audit.Record) bool { return r.Module == "m.example/M1" || r.Module == "m.example/M3" }},
			{audit.Query{Module: "m.example/*", Client: "dev", Limit: 5}, func(r audit.Record) bool { return r.Client == "dev" }},
			{audit.Query{Client: "ci", Limit: 11}, func(r audit.Record) bool { return r.Client == "ci" }},
			{audit.Query{StatusMin: 400, StatusMax: 499, Limit: 4}, func(r audit.Record) bool { return r.Status == 404 }},
			{audit.Query{StatusMin: 300, Limit: 6}, func(r audit.Record) bool { return r.Status >= 300 }},
			{audit.Query{StatusMax: 299, Limit: 50}, func(r audit.Record) bool { return r.Status <= 299 }},
			{audit.Query{Since: t0.Add(40 * time.Minute), Until: t0.Add(61 * time.Minute), Limit: 8}, func(r audit.Record) bool {
				return !r.Time.Before(t0.Add(40*time.Minute)) && r.Time.Before(t0.Add(61*time.Minute))
			}},
		} {
			if got, want := ids(all(t, d, tc.q)), expect(tc.keep); got != want {
				t.Errorf("%s: QueryAudit(%+v):\n got %s\nwant %s", when, tc.q, got, want)
			}
		}
	}
	check("written twice")
	s, err := d.Summarize(ctx, db.Period{From: t0, To: t0})
	if err != nil {
		t.Fatal(err)
	}
	if s.Requests != int64(len(recs)) {
		t.Fatalf("Summarize: %d requests, want %d (each record once)", s.Requests, len(recs))
	}
	cut := t0.Add(50 * time.Minute)
	n, err := d.PruneAudit(ctx, cut)
	if err != nil {
		t.Fatal(err)
	}
	var old int64
	for _, r := range recs {
		if r.Time.Before(cut) {
			old++
		}
	}
	if n != old {
		t.Errorf("PruneAudit deleted %d records, want %d", n, old)
	}
	recs = slices.DeleteFunc(recs, func(r audit.Record) bool { return r.Time.Before(cut) })
	check("after the prune")
}

func testAuditLimits(t *testing.T, d *db.DB) {
	ctx := context.Background()
	batch := make([]audit.Record, 1005)
	for i := range batch {
		batch[i] = rec(fmt.Sprintf("r%04d", i), i%50, "m.example/a")
	}
	write(t, d, batch...)
	for _, tt := range []struct{ limit, want int }{{0, db.DefaultAuditLimit}, {-1, db.DefaultAuditLimit}, {7, 7}, {5000, db.MaxAuditLimit}} {
		p, err := d.QueryAudit(ctx, audit.Query{Limit: tt.limit})
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Records) != tt.want || p.Next == "" {
			t.Errorf("limit %d: %d records (next %q), want %d and a next page", tt.limit, len(p.Records), p.Next, tt.want)
		}
	}
	if got := all(t, d, audit.Query{Limit: 1000}); len(got) != 1005 {
		t.Fatalf("all pages: %d records, want 1005", len(got))
	}
}

func testAuditBadQueries(t *testing.T, d *db.DB) {
	ctx := context.Background()
	write(t, d, rec("1", 0, "m.example/a"))
	for _, q := range []audit.Query{
		{Cursor: "not a cursor!"},
		{Cursor: "bm9zbGFzaA"}, // "noslash"
		{Module: "corp.example/[x"},
	} {
		_, err := d.QueryAudit(ctx, q)
		var br interface{ BadRequest() bool }
		if !errors.As(err, &br) || !br.BadRequest() {
			t.Errorf("QueryAudit(%+v) = %v, want a bad request", q, err)
		}
	}
}

func testPrune(t *testing.T, d *db.DB) {
	ctx := context.Background()
	var batch []audit.Record
	for i := range 30 {
		batch = append(batch, rec(fmt.Sprintf("r%02d", i), -i*24*60, "m.example/a")) // one a day, backwards
	}
	write(t, d, batch...)
	p := db.Period{From: t0.AddDate(0, 0, -40), To: t0}
	before, err := d.Summarize(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	n, err := d.PruneAudit(ctx, t0.AddDate(0, 0, -9).Add(-time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if n != 20 {
		t.Fatalf("PruneAudit deleted %d, want 20", n)
	}
	if got := all(t, d, audit.Query{}); len(got) != 10 || got[len(got)-1].ID != "r09" {
		t.Fatalf("after the prune: %s", ids(got))
	}
	after, err := d.Summarize(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	// The counts stay; which clients came is forgotten with the records
	// (Clients per day is 0 for the days pruned).
	cut := t0.AddDate(0, 0, -9).Truncate(24 * time.Hour)
	for i := range before.Days {
		if before.Days[i].Day.Before(cut) {
			before.Days[i].Clients = 0
		}
	}
	if !reflect.DeepEqual(before, after) || after.Requests != 30 {
		t.Fatalf("the prune changed the roll-ups' counts, or kept the clients of the days pruned:\nbefore %+v\nafter  %+v", before, after)
	}
	if n, err := d.PruneAudit(ctx, t0.AddDate(0, 0, -9).Add(-time.Minute)); err != nil || n != 0 {
		t.Fatalf("second prune: %d, %v", n, err)
	}
}

// testMinutes: the per-minute totals count each record once (a batch
// written again adds nothing), are dense over [from, to) (zeros where
// nothing happened), and go with the records when they are pruned.
func testMinutes(t *testing.T, d *db.DB) {
	ctx := context.Background()
	var batch []audit.Record
	for i := range 7 {
		r := rec(fmt.Sprintf("n%d", i), []int{0, 0, 0, 2, 2, 3, 60}[i], "m.example/a")
		r.Time = r.Time.Add(time.Duration(i) * time.Second)
		r.Cache = []string{"hit", "miss", "", "stale", "fresh", "hit", "hit"}[i]
		r.Status = []int{200, 200, 502, 200, 200, 500, 200}[i]
		r.Bytes = int64(10 * (i + 1))
		batch = append(batch, r)
	}
	write(t, d, batch...)
	write(t, d, batch[2:5]...) // again
	got, err := d.Minutes(ctx, t0.Add(30*time.Second), t0.Add(4*time.Minute+time.Second))
	if err != nil {
		t.Fatal(err)
	}
	want := []db.MinuteCount{
		{Minute: t0, Requests: 3, Hits: 1, Misses: 1, Bytes: 60, Errors: 1},
		{Minute: t0.Add(time.Minute)},
		{Minute: t0.Add(2 * time.Minute), Requests: 2, Hits: 1, Misses: 1, Bytes: 90},
		{Minute: t0.Add(3 * time.Minute), Requests: 1, Hits: 1, Bytes: 60, Errors: 1},
		{Minute: t0.Add(4 * time.Minute)},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Minutes:\n got %+v\nwant %+v", got, want)
	}
	if got, err := d.Minutes(ctx, t0.Add(time.Hour), t0.Add(time.Hour)); err != nil || len(got) != 0 {
		t.Fatalf("Minutes of an empty span: %+v, %v", got, err)
	}
	var br interface{ BadRequest() bool }
	if _, err := d.Minutes(ctx, t0, t0.Add(8*24*time.Hour)); !errors.As(err, &br) {
		t.Fatalf("Minutes of 8 days: %v, want a bad request", err)
	}
	if _, err := d.PruneAudit(ctx, t0.Add(2*time.Minute+30*time.Second)); err != nil {
		t.Fatal(err)
	}
	got, err = d.Minutes(ctx, t0, t0.Add(61*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 61 || got[0].Requests != 0 || got[2].Requests != 2 || got[3].Requests != 1 || got[60].Requests != 1 {
		t.Fatalf("after a prune to minute 2: %+v", got[:4])
	}
}

// stats writes the records the statistics tests look at: over two days,
// modules a (popular), b and c, and requests without a module.
func stats(t *testing.T, d *db.DB) {
	day2 := 24 * 60
	mk := func(id string, min int, module, version, kind string, status int, cache, client, remote string, bytes int64) audit.Record {
		r := rec(id, min, module)
		r.Version, r.Kind, r.Status, r.Cache, r.Client, r.Remote, r.Bytes = version, kind, status, cache, client, remote, bytes
		return r
	}
	write(t, d,
		mk("1", 0, "x.example/a", "v1.0.0", audit.KindZip, 200, "hit", "ci", "10.0.0.1", 1000),
		mk("2", 1, "x.example/a", "v1.0.0", audit.KindZip, 200, "miss", "", "10.0.0.2", 1000),
		mk("3", 2, "x.example/a", "v1.1.0", audit.KindZip, 200, "hit", "dev", "10.0.0.1", 2000),
		mk("4", 3, "x.example/a", "v1.1.0", audit.KindInfo, 200, "hit", "dev", "10.0.0.1", 50),
		mk("5", 4, "x.example/a", "v1.1.0", audit.KindZip, 404, "miss", "dev", "10.0.0.1", 10), // not a download
		mk("6", 5, "x.example/a", "", audit.KindList, 200, "fresh", "ci", "10.0.0.9", 20),
		mk("7", 6, "x.example/b", "v0.1.0", audit.KindZip, 200, "hit", "ci", "10.0.0.1", 500),
		mk("8", 7, "x.example/c", "v0.1.0", audit.KindMod, 200, "stale", "ci", "10.0.0.1", 5),
		mk("9", 8, "", "", audit.KindSumDB, 200, "", "", "10.0.0.3", 7),
		mk("10", day2, "x.example/b", "v0.1.0", audit.KindZip, 200, "hit", "ops", "10.0.0.4", 500),
		mk("11", day2+1, "x.example/b", "v0.2.0", audit.KindZip, 200, "miss", "ci", "10.0.0.4", 600),
		mk("12", day2+2, "x.example/b", "v0.2.0", audit.KindZip, 200, "hit", "dev", "10.0.0.4", 600),
		mk("13", day2+3, "x.example/a", "v1.1.0", audit.KindZip, 200, "hit", "ci", "10.0.0.1", 2000),
		// s3-zip-redirect: a zip answered with a redirect to S3 is a
		// download; a HEAD of one is not.
		mk("14", 9, "x.example/c", "v0.1.0", audit.KindZip, 307, "hit", "ci", "10.0.0.1", 0),
		head(mk("15", 10, "x.example/c", "v0.1.0", audit.KindZip, 200, "hit", "ci", "10.0.0.1", 0)),
	)
}

// head returns r as a HEAD request.
func head(r audit.Record) audit.Record {
	r.Method = http.MethodHead
	return r
}

func testTopModules(t *testing.T, d *db.DB) {
	ctx := context.Background()
	stats(t, d)
	day := t0.Truncate(24 * time.Hour)
	for _, tt := range []struct {
		name string
		p    db.Period
		n    int
		want []db.ModuleCount
	}{
		{"both days", db.Period{From: day, To: day.AddDate(0, 0, 1)}, 10, []db.ModuleCount{
			// a's 404 is not counted: module roll-ups count what was served
			{Module: "x.example/a", Downloads: 4, Requests: 6, Bytes: 6070, Clients: 3}, // ci, 10.0.0.2, dev
			{Module: "x.example/b", Downloads: 4, Requests: 4, Bytes: 2200, Clients: 3}, // ci, ops, dev
			{Module: "x.example/c", Downloads: 1, Requests: 3, Bytes: 5, Clients: 1},
		}},
		{"top one", db.Period{From: day, To: day.AddDate(0, 0, 1)}, 1, []db.ModuleCount{
			{Module: "x.example/a", Downloads: 4, Requests: 6, Bytes: 6070, Clients: 3},
		}},
		{"second day, times within days", db.Period{From: day.AddDate(0, 0, 1).Add(time.Hour), To: day.AddDate(0, 0, 1).Add(23 * time.Hour)}, 10, []db.ModuleCount{
			{Module: "x.example/b", Downloads: 3, Requests: 3, Bytes: 1700, Clients: 3},
			{Module: "x.example/a", Downloads: 1, Requests: 1, Bytes: 2000, Clients: 1},
		}},
		{"no data", db.Period{From: day.AddDate(0, 0, 5), To: day.AddDate(0, 0, 9)}, 10, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := d.TopModules(ctx, tt.p, tt.n)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) == 0 && len(tt.want) == 0 {
				return
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

// testTopModulesAnyPeriod checks TopModules and Summarize for every
// period within 20 days (whole weeks and the days around them are read
// from different roll-ups) against counts made here.
func testTopModulesAnyPeriod(t *testing.T, d *db.DB) {
	ctx := context.Background()
	const days = 20
	perDay := map[string][]int{"x.example/a": make([]int, days), "x.example/b": make([]int, days), "x.example/c": make([]int, days)}
	var batch []audit.Record
	add := func(module string, day, n int) {
		for i := range n {
			batch = append(batch, rec(fmt.Sprintf("%s-%d-%d", module, day, i), day*24*60+i, module))
		}
		perDay[module][day] += n
	}
	for day := range days {
		add("x.example/a", day, 1)
		if day%7 == 2 {
			add("x.example/b", day, 3)
		}
	}
	add("x.example/c", 19, 5)
	write(t, d, batch...)
	first := t0.Truncate(24 * time.Hour)
	for from := range days {
		for to := from; to < days; to++ {
			p := db.Period{From: first.AddDate(0, 0, from), To: first.AddDate(0, 0, to)}
			var want []db.ModuleCount
			for _, m := range []string{"x.example/a", "x.example/b", "x.example/c"} {
				n := 0
				for day := from; day <= to; day++ {
					n += perDay[m][day]
				}
				if n > 0 {
					want = append(want, db.ModuleCount{Module: m, Downloads: int64(n), Requests: int64(n), Bytes: int64(100 * n), Clients: 1})
				}
			}
			slices.SortStableFunc(want, func(a, b db.ModuleCount) int { return int(b.Downloads - a.Downloads) })
			got, err := d.TopModules(ctx, p, 10)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("days %d..%d:\n got %+v\nwant %+v", from, to, got, want)
			}
			s, err := d.Summarize(ctx, p)
			if err != nil {
				t.Fatal(err)
			}
			if s.Modules != int64(len(want)) {
				t.Fatalf("days %d..%d: Summarize.Modules %d, want %d", from, to, s.Modules, len(want))
			}
		}
	}
}

func testDownloads(t *testing.T, d *db.DB) {
	ctx := context.Background()
	stats(t, d)
	day := t0.Truncate(24 * time.Hour)
	got, err := d.Downloads(ctx, "x.example/a", db.Period{From: day, To: day.AddDate(0, 0, 30)})
	if err != nil {
		t.Fatal(err)
	}
	day2 := day.AddDate(0, 0, 1)
	want := []db.DayCount{
		{Day: day, Version: "", Requests: 1, Bytes: 20, Misses: 1, Clients: 3},
		{Day: day, Version: "v1.0.0", Downloads: 2, Requests: 2, Bytes: 2000, Hits: 1, Misses: 1, Clients: 3},
		{Day: day, Version: "v1.1.0", Downloads: 1, Requests: 2, Bytes: 2050, Hits: 2, Clients: 3}, // and a 404, not counted
		{Day: day2, Version: "v1.1.0", Downloads: 1, Requests: 1, Bytes: 2000, Hits: 1, Clients: 1},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("\n got %+v\nwant %+v", got, want)
	}
	// A period of centuries: the same.
	got, err = d.Downloads(ctx, "x.example/a", db.Period{From: time.Time{}, To: day.AddDate(100, 0, 0)})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("over centuries:\n got %+v\nwant %+v", got, want)
	}
	top, err := d.TopModules(ctx, db.Period{From: time.Time{}, To: day.AddDate(100, 0, 0)}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(top) != 1 || top[0].Module != "x.example/a" || top[0].Clients != 3 || top[0].Downloads != 4 {
		t.Fatalf("TopModules over centuries: %+v", top)
	}
	got, err = d.Downloads(ctx, "X.example/a", db.Period{From: day, To: day2})
	if err != nil || len(got) != 0 {
		t.Fatalf("Downloads of another case: %+v, %v; want none", got, err)
	}
}

func testSummarize(t *testing.T, d *db.DB) {
	ctx := context.Background()
	stats(t, d)
	day := t0.Truncate(24 * time.Hour)
	day2 := day.AddDate(0, 0, 1)
	got, err := d.Summarize(ctx, db.Period{From: day.AddDate(0, 0, -3), To: day2})
	if err != nil {
		t.Fatal(err)
	}
	want := db.Summary{
		// The mirror's totals count every request, the 404 included.
		Requests: 15, Downloads: 9, Bytes: 8292, Hits: 10, Misses: 4, HitRatio: 10.0 / 14,
		// ci, 10.0.0.2, dev, 10.0.0.3, ops
		Clients: 5, Modules: 3,
		Days: []db.DayCount{
			{Day: day, Requests: 11, Downloads: 5, Bytes: 4592, Hits: 7, Misses: 3, Clients: 4},
			{Day: day2, Requests: 4, Downloads: 4, Bytes: 3700, Hits: 3, Misses: 1, Clients: 3},
		},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("\n got %+v\nwant %+v", got, want)
	}
	// DayTotals: the same without the distinct clients and modules.
	totals, err := d.DayTotals(ctx, db.Period{From: day.AddDate(0, 0, -3), To: day2})
	if err != nil {
		t.Fatal(err)
	}
	want.Clients, want.Modules = 0, 0
	for i := range want.Days {
		want.Days[i].Clients = 0
	}
	if !reflect.DeepEqual(totals, want) {
		t.Fatalf("DayTotals\n got %+v\nwant %+v", totals, want)
	}
	got, err = d.Summarize(ctx, db.Period{From: day2.AddDate(0, 0, 1), To: day2.AddDate(0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	if got.Requests != 0 || got.HitRatio != 0 || len(got.Days) != 0 {
		t.Fatalf("an empty period: %+v", got)
	}
}

func put(t *testing.T, d *db.DB, module, version, file string, size int64, stored time.Time) {
	t.Helper()
	if err := d.PutArtifact(context.Background(), db.Artifact{Module: module, Version: version, File: file, Size: size, Stored: stored}); err != nil {
		t.Fatalf("PutArtifact: %v", err)
	}
}

func testCatalog(t *testing.T, d *db.DB) {
	ctx := context.Background()
	if _, err := d.Module(ctx, "x.example/a"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Module of an empty catalog: %v, want fs.ErrNotExist", err)
	}
	for _, v := range []string{"v1.10.0", "v1.2.0", "v1.9.0-rc.1", "v1.9.0", "v0.0.0-20250101000000-abcdefabcdef"} {
		for i, f := range []string{"zip", "info", "mod"} {
			put(t, d, "x.example/a", v, f, int64(10*(i+1)), t0)
		}
	}
	put(t, d, "x.example/b", "v2.0.0+incompatible", "info", 5, t0.Add(time.Hour))
	got, err := d.Module(ctx, "x.example/a")
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, a := range got {
		order = append(order, a.Version+" "+a.File)
		if a.Module != "x.example/a" || !a.Stored.Equal(t0) || !a.LastDownloaded.IsZero() {
			t.Errorf("artifact %+v", a)
		}
	}
	want := "v1.10.0 info,v1.10.0 mod,v1.10.0 zip,v1.9.0 info,v1.9.0 mod,v1.9.0 zip,v1.9.0-rc.1 info,v1.9.0-rc.1 mod,v1.9.0-rc.1 zip," +
		"v1.2.0 info,v1.2.0 mod,v1.2.0 zip,v0.0.0-20250101000000-abcdefabcdef info,v0.0.0-20250101000000-abcdefabcdef mod,v0.0.0-20250101000000-abcdefabcdef zip"
	if strings.Join(order, ",") != want {
		t.Fatalf("Module order:\n got %s\nwant %s", strings.Join(order, ","), want)
	}
	tot, err := d.CatalogTotals(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := (db.Totals{Modules: 2, Versions: 6, Objects: 16, Bytes: 5*60 + 5}); tot != want {
		t.Fatalf("CatalogTotals %+v, want %+v", tot, want)
	}
	// Replacing a file: its size and time change, nothing is counted twice.
	put(t, d, "x.example/a", "v1.2.0", "zip", 1000, t0.Add(2*time.Hour))
	// Deleting: the last file of a version, of a module; an absent file.
	for _, f := range []string{"info", "mod", "zip"} {
		if err := d.DeleteArtifact(ctx, "x.example/a", "v1.10.0", f); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.DeleteArtifact(ctx, "x.example/b", "v2.0.0+incompatible", "info"); err != nil {
		t.Fatal(err)
	}
	if err := d.DeleteArtifact(ctx, "x.example/none", "v1.0.0", "zip"); err != nil {
		t.Fatalf("deleting an absent file: %v", err)
	}
	tot, err = d.CatalogTotals(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := (db.Totals{Modules: 1, Versions: 4, Objects: 12, Bytes: 5*60 - 60 + 990}); tot != want {
		t.Fatalf("CatalogTotals after changes %+v, want %+v", tot, want)
	}
	if _, err := d.Module(ctx, "x.example/b"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Module of a module whose files are all deleted: %v", err)
	}
	mods, _, err := d.Modules(ctx, "", "", 0)
	if err != nil {
		t.Fatal(err)
	}
	want2 := []db.ModuleSummary{{Module: "x.example/a", Versions: 4, Objects: 12, Bytes: 1230, LastStored: t0.Add(2 * time.Hour)}}
	if !reflect.DeepEqual(mods, want2) {
		t.Fatalf("Modules:\n got %+v\nwant %+v", mods, want2)
	}
	if err := d.PutArtifact(ctx, db.Artifact{Module: "x.example/a", Version: "v1.0.0"}); err == nil {
		t.Fatal("PutArtifact without a file: no error")
	}
}

func testCatalogModules(t *testing.T, d *db.DB) {
	ctx := context.Background()
	paths := []string{"github.com/Azure/sdk", "github.com/a/b", "github.com/a/b/v2", "golang.example/x/tools", "corp.example/lib_x", "corp.example/lib%y", "corp.example/libz"}
	for _, p := range paths {
		put(t, d, p, "v1.0.0", "mod", 1, t0)
	}
	for _, tt := range []struct {
		q    string
		want string
	}{
		{"", "corp.example/lib%y,corp.example/lib_x,corp.example/libz,github.com/Azure/sdk,github.com/a/b,github.com/a/b/v2,golang.example/x/tools"},
		{"github", "github.com/Azure/sdk,github.com/a/b,github.com/a/b/v2"},
		{"azure", "github.com/Azure/sdk"},
		{"AZURE", "github.com/Azure/sdk"},
		{"a/b", "github.com/a/b,github.com/a/b/v2"},
		{"lib_", "corp.example/lib_x"}, // not a wildcard
		{"lib%", "corp.example/lib%y"},
		{"nothing", ""},
	} {
		for _, limit := range []int{100, 2, 1} {
			var got []string
			cursor := ""
			for range 100 {
				mods, next, err := d.Modules(ctx, tt.q, cursor, limit)
				if err != nil {
					t.Fatal(err)
				}
				if len(mods) > limit {
					t.Fatalf("limit %d: %d modules", limit, len(mods))
				}
				for _, m := range mods {
					got = append(got, m.Module)
				}
				if next == "" {
					break
				}
				cursor = next
			}
			if strings.Join(got, ",") != tt.want {
				t.Errorf("Modules(%q) in pages of %d:\n got %s\nwant %s", tt.q, limit, strings.Join(got, ","), tt.want)
			}
		}
	}
	if _, _, err := d.Modules(ctx, "", "!!!", 10); err == nil {
		t.Error("Modules with a malformed cursor: no error")
	}
}

func testReplaceCatalog(t *testing.T, d *db.DB) {
	ctx := context.Background()
	put(t, d, "x.example/a", "v1.0.0", "zip", 10, t0)
	put(t, d, "x.example/a", "v1.0.0", "mod", 1, t0)
	put(t, d, "x.example/gone", "v1.0.0", "mod", 1, t0)
	write(t, d, rec("dl", 5, "x.example/a")) // a zip download of x.example/a v1.0.0
	list := func(arts ...db.Artifact) func() (db.Artifact, bool, error) {
		return func() (db.Artifact, bool, error) {
			if len(arts) == 0 {
				return db.Artifact{}, false, nil
			}
			a := arts[0]
			arts = arts[1:]
			return a, true, nil
		}
	}
	// A listing that fails leaves the catalog as it was.
	failing := func() (db.Artifact, bool, error) { return db.Artifact{}, false, errors.New("storage broke") }
	if _, _, err := d.ReplaceCatalog(ctx, time.Time{}, failing); err == nil {
		t.Fatal("ReplaceCatalog: no error from a failing listing")
	}
	if tot, _ := d.CatalogTotals(ctx); tot.Objects != 3 {
		t.Fatalf("a failed replace changed the catalog: %+v", tot)
	}
	added, removed, err := d.ReplaceCatalog(ctx, time.Time{}, list(
		db.Artifact{Module: "x.example/a", Version: "v1.0.0", File: "zip", Size: 11, Stored: t0.Add(time.Hour)},
		db.Artifact{Module: "x.example/a", Version: "v1.0.0", File: "info", Size: 2, Stored: t0},
		db.Artifact{Module: "x.example/new", Version: "v0.1.0", File: "mod", Size: 1, Stored: t0},
		db.Artifact{Module: "x.example/new", Version: "v0.1.0", File: "mod", Size: 3, Stored: t0}, // twice: the last counts
	))
	if err != nil {
		t.Fatal(err)
	}
	if added != 2 || removed != 2 {
		t.Fatalf("ReplaceCatalog: added %d, removed %d; want 2 and 2", added, removed)
	}
	got, err := d.Module(ctx, "x.example/a")
	if err != nil {
		t.Fatal(err)
	}
	want := []db.Artifact{
		{Module: "x.example/a", Version: "v1.0.0", File: "info", Size: 2, Stored: t0},
		{Module: "x.example/a", Version: "v1.0.0", File: "zip", Size: 11, Stored: t0.Add(time.Hour), LastDownloaded: t0.Add(5 * time.Minute)},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("after ReplaceCatalog:\n got %+v\nwant %+v", got, want)
	}
	if tot, _ := d.CatalogTotals(ctx); tot != (db.Totals{Modules: 2, Versions: 2, Objects: 3, Bytes: 16}) {
		t.Fatalf("totals after ReplaceCatalog: %+v", tot)
	}
	mods, _, err := d.Modules(ctx, "", "", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(mods) != 2 || mods[0].Module != "x.example/a" || !mods[0].LastDownloaded.Equal(t0.Add(5*time.Minute)) || mods[0].Bytes != 13 {
		t.Fatalf("Modules after ReplaceCatalog: %+v", mods)
	}
	// Replacing with nothing empties it; again, twice in a row works.
	for range 2 {
		if _, _, err := d.ReplaceCatalog(ctx, time.Time{}, list()); err != nil {
			t.Fatal(err)
		}
	}
	if tot, _ := d.CatalogTotals(ctx); tot != (db.Totals{}) {
		t.Fatalf("totals after an empty ReplaceCatalog: %+v", tot)
	}
}

func testLastDownloaded(t *testing.T, d *db.DB) {
	ctx := context.Background()
	for _, f := range []string{"info", "mod", "zip"} {
		put(t, d, "x.example/a", "v1.0.0", f, 1, t0)
	}
	ok := func(id string, min int, kind string) audit.Record {
		r := rec(id, min, "x.example/a")
		r.Kind = kind
		return r
	}
	notFound := ok("nf", 50, audit.KindMod)
	notFound.Status = 404
	otherVersion := ok("ov", 50, audit.KindInfo)
	otherVersion.Version = "v9.9.9"
	write(t, d, ok("z1", 10, audit.KindZip), ok("z0", 5, audit.KindZip), ok("i", 20, audit.KindInfo), notFound, otherVersion)
	write(t, d, ok("z-old", 1, audit.KindZip)) // earlier than the one known: no change
	got, err := d.Module(ctx, "x.example/a")
	if err != nil {
		t.Fatal(err)
	}
	wantTimes := map[string]time.Time{"info": t0.Add(20 * time.Minute), "mod": {}, "zip": t0.Add(10 * time.Minute)}
	for _, a := range got {
		if !a.LastDownloaded.Equal(wantTimes[a.File]) {
			t.Errorf("%s last downloaded %v, want %v", a.File, a.LastDownloaded, wantTimes[a.File])
		}
	}
	// A later download within the hour is not written; one after it is.
	write(t, d, ok("z2", 40, audit.KindZip))
	zipTime := func() time.Time {
		t.Helper()
		got, err := d.Module(ctx, "x.example/a")
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range got {
			if a.File == "zip" {
				return a.LastDownloaded
			}
		}
		return time.Time{}
	}
	if got := zipTime(); !got.Equal(t0.Add(10 * time.Minute)) {
		t.Fatalf("zip downloaded again 30 minutes later: last downloaded %v, want it kept at %v", got, t0.Add(10*time.Minute))
	}
	write(t, d, ok("z3", 75, audit.KindZip))
	if got := zipTime(); !got.Equal(t0.Add(75 * time.Minute)) {
		t.Fatalf("zip downloaded again 65 minutes later: last downloaded %v", got)
	}
	// Putting a file again keeps its download time.
	put(t, d, "x.example/a", "v1.0.0", "zip", 2, t0.Add(time.Hour))
	got, _ = d.Module(ctx, "x.example/a")
	for _, a := range got {
		if a.File == "zip" && (!a.LastDownloaded.Equal(t0.Add(75*time.Minute)) || a.Size != 2) {
			t.Errorf("zip after PutArtifact again: %+v", a)
		}
	}
	mods, _, err := d.Modules(ctx, "", "", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(mods) != 1 || !mods[0].LastDownloaded.Equal(t0.Add(75*time.Minute)) {
		t.Fatalf("module last downloaded: %+v", mods)
	}
}

func testAlerts(t *testing.T, d *db.DB) {
	ctx := context.Background()
	evs := []db.AlertEvent{
		{Time: t0, Rule: "latest-rate", State: "firing", Key: "10.0.0.1", Value: 250.5, Text: "250 @latest/h", Labels: map[string]string{"severity": "warning", "client": "10.0.0.1"}},
		{Time: t0.Add(time.Minute), Rule: "sumdb", State: "firing", Text: "checksum database unreachable"},
		{Time: t0.Add(time.Minute), Rule: "sumdb", State: "resolved", Text: "reachable again"},
		{Time: t0.Add(time.Hour), Rule: "latest-rate", State: "resolved", Key: "10.0.0.1"},
	}
	for _, e := range evs {
		if err := d.AddAlertEvent(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	got, err := d.AlertEvents(ctx, time.Time{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := []db.AlertEvent{evs[3], evs[2], evs[1], evs[0]}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("AlertEvents:\n got %+v\nwant %+v", got, want)
	}
	got, err = d.AlertEvents(ctx, t0.Add(time.Minute), 2)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, []db.AlertEvent{evs[3], evs[2]}) {
		t.Fatalf("AlertEvents since, limit 2: %+v", got)
	}
}

func testSessions(t *testing.T, d *db.DB) {
	ctx := context.Background()
	s := db.Session{IDHash: "h1", TokenName: "ops", Role: "admin", TokenFP: "fp", Created: t0, Expires: t0.Add(time.Hour)}
	if err := d.PutSession(ctx, s); err != nil {
		t.Fatal(err)
	}
	if err := d.PutSession(ctx, db.Session{IDHash: "h2", TokenName: "dev", Role: "client", TokenFP: "fp2", Created: t0, Expires: t0.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	got, err := d.Session(ctx, "h1", t0.Add(time.Minute))
	if err != nil || got != s {
		t.Fatalf("Session = %+v, %v; want %+v", got, err, s)
	}
	// Expired: not found, and forgotten by DeleteExpiredSessions.
	if _, err := d.Session(ctx, "h2", t0.Add(time.Minute)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("expired session: %v", err)
	}
	if n, err := d.DeleteExpiredSessions(ctx, t0.Add(time.Minute)); n != 1 || err != nil {
		t.Errorf("DeleteExpiredSessions = %d, %v; want 1", n, err)
	}
	if err := d.DeleteSession(ctx, "h1"); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Session(ctx, "h1", t0); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("deleted session: %v", err)
	}
	testTrimSessions(t, d)
}

// testTrimSessions: TrimSessions keeps a token's newest sessions only, and
// leaves other tokens' alone.
func testTrimSessions(t *testing.T, d *db.DB) {
	ctx := context.Background()
	for i := range 5 {
		for _, name := range []string{"alice", "bob"} {
			s := db.Session{IDHash: fmt.Sprintf("%s-%d", name, i), TokenName: name, Role: "client", TokenFP: "fp",
				Created: t0.Add(time.Duration(i) * time.Minute), Expires: t0.Add(time.Hour)}
			if err := d.PutSession(ctx, s); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, tc := range []struct {
		keep, deleted int
		live          []int // alice's sessions left
	}{
		{keep: 10, deleted: 0, live: []int{0, 1, 2, 3, 4}},
		{keep: 3, deleted: 2, live: []int{2, 3, 4}},
		{keep: 3, deleted: 0, live: []int{2, 3, 4}},
		{keep: 1, deleted: 2, live: []int{4}},
		{keep: 0, deleted: 1, live: nil},
	} {
		n, err := d.TrimSessions(ctx, "alice", tc.keep)
		if err != nil || n != int64(tc.deleted) {
			t.Errorf("TrimSessions(alice, %d) = %d, %v; want %d", tc.keep, n, err, tc.deleted)
		}
		for i := range 5 {
			_, err := d.Session(ctx, fmt.Sprintf("alice-%d", i), t0)
			if live := slices.Contains(tc.live, i); live != (err == nil) {
				t.Errorf("keep %d: alice-%d live %v, want %v (%v)", tc.keep, i, err == nil, live, err)
			}
			if _, err := d.Session(ctx, fmt.Sprintf("bob-%d", i), t0); err != nil {
				t.Errorf("keep %d: bob-%d: %v", tc.keep, i, err)
			}
		}
	}
}

func testAccessTimes(t *testing.T, d *db.DB) {
	ctx := context.Background()
	at := func(min int) time.Time { return t0.Add(time.Duration(min) * time.Minute) }
	if err := d.RecordAccess(ctx, []db.VersionAccess{
		{Module: "example.com/a", Version: "v1.0.0", Time: at(10)},
		{Module: "example.com/a", Version: "v1.0.0", Time: at(5)}, // the latest of a batch is kept
		{Module: "example.com/b", Version: "v0.1.0", Time: at(1)},
	}); err != nil {
		t.Fatal(err)
	}
	// A later batch moves b forward and cannot move a back.
	if err := d.RecordAccess(ctx, []db.VersionAccess{{Module: "example.com/a", Version: "v1.0.0", Time: at(2)}, {Module: "example.com/b", Version: "v0.1.0", Time: at(20)}}); err != nil {
		t.Fatal(err)
	}
	got := map[string]time.Time{}
	read := func() {
		clear(got)
		if err := d.AccessTimes(ctx, func(a db.VersionAccess) error { got[a.Module+"@"+a.Version] = a.Time; return nil }); err != nil {
			t.Fatal(err)
		}
	}
	read()
	want := map[string]time.Time{"example.com/a@v1.0.0": at(10), "example.com/b@v0.1.0": at(20)}
	if len(got) != len(want) || !got["example.com/a@v1.0.0"].Equal(want["example.com/a@v1.0.0"]) || !got["example.com/b@v0.1.0"].Equal(want["example.com/b@v0.1.0"]) {
		t.Fatalf("access times = %v, want %v", got, want)
	}
	if err := d.ForgetAccess(ctx, "example.com/a", "v1.0.0"); err != nil {
		t.Fatal(err)
	}
	read()
	if _, ok := got["example.com/a@v1.0.0"]; ok || len(got) != 1 {
		t.Fatalf("after ForgetAccess: %v", got)
	}
	if err := d.RecordAccess(ctx, []db.VersionAccess{{Module: "", Version: "v1", Time: at(1)}}); err == nil {
		t.Error("an access without a module was recorded")
	}
	stop := errors.New("stop")
	if err := d.AccessTimes(ctx, func(db.VersionAccess) error { return stop }); !errors.Is(err, stop) {
		t.Errorf("AccessTimes returned %v, want f's error", err)
	}
}
