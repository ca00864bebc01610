package bench

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base32"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/gomirror/gomirror/audit"
	"github.com/gomirror/gomirror/db"
)

// The audit database benchmarks (issue 14). Unlike the others they run no
// gomirror binary: they call package db in-process on an SQLite file, the
// default database.
const (
	auditBigRecords  = 10_000_000       // records of the big database (GOMIRROR_AUDIT_RECORDS overrides)
	auditInsertFor   = 10 * time.Second // how long each insert run lasts (GOMIRROR_AUDIT_SECONDS overrides)
	auditBatch       = 256              // records per WriteAudit, the Recorder's batch
	auditModules     = 10_000           // distinct module paths of the generated records
	auditSpan        = 90 * 24 * time.Hour
	auditQueryRounds = 5
)

// The big database is built once per run and kept under the run's
// directory until the run ends.
var (
	auditBigOnce sync.Once
	auditBigPath string
	auditBigErr  error
	auditBigInfo string
)

// auditEnd is the time of the newest generated record: the benchmarks'
// "now", fixed so that runs generate the same data.
var auditEnd = time.Date(2026, 6, 30, 12, 0, 0, 0, time.UTC)

// BenchmarkAuditQuery10M builds an SQLite database of 10,000,000 audit
// records over 90 days (with SQL in bulk at schema version 3, untimed, then
// migrated by db.Open; ~10,000 module paths of skewed popularity, ~2,000
// client addresses, 300 token names; its roll-ups computed from the
// records) and then times, 5 rounds each after
// one untimed call, TopModules over the last 30 days with n=20 and the
// first page of QueryAudit for one module (the most requested one, and one
// of middling popularity), a glob, a client and the 4xx statuses. Target:
// each under 500 ms. Reports the medians and maxima in ms, the database's
// size, and how long it took to build and to migrate.
func BenchmarkAuditQuery10M(b *testing.B) {
	path := auditBigDB(b)
	ctx := context.Background()
	d, err := db.Open(ctx, path)
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	p := db.Period{From: auditEnd.AddDate(0, 0, -29), To: auditEnd}
	var top []db.ModuleCount
	timeIt := func(name string, f func() error) (med, worst float64) {
		if err := f(); err != nil { // untimed: the first call after Open
			b.Fatalf("%s: %v", name, err)
		}
		var ts []float64
		for range auditQueryRounds {
			start := time.Now()
			if err := f(); err != nil {
				b.Fatalf("%s: %v", name, err)
			}
			ts = append(ts, ms(time.Since(start)))
		}
		b.Logf("%s: %s ms", name, fmtMs(ts))
		return median(ts), slices.Max(ts)
	}
	cpu := startCPU()
	topMed, topMax := timeIt("TopModules(30 days, 20)", func() (err error) {
		top, err = d.TopModules(ctx, p, 20)
		return err
	})
	if len(top) != 20 || top[0].Downloads == 0 {
		b.Fatalf("TopModules: %+v", top)
	}
	b.Logf("top module %s: %d downloads, %d requests, %d clients", top[0].Module, top[0].Downloads, top[0].Requests, top[0].Clients)
	var page audit.Page
	popular := top[0].Module
	middling := auditModuleName(auditModules / 20)
	popMed, popMax := timeIt("QueryAudit(module "+popular+", first page)", func() (err error) {
		page, err = d.QueryAudit(ctx, audit.Query{Module: popular})
		return err
	})
	if len(page.Records) != db.DefaultAuditLimit || page.Next == "" {
		b.Fatalf("QueryAudit(%s): %d records", popular, len(page.Records))
	}
	midMed, midMax := timeIt("QueryAudit(module "+middling+", first page)", func() (err error) {
		page, err = d.QueryAudit(ctx, audit.Query{Module: middling})
		return err
	})
	if len(page.Records) == 0 {
		b.Fatalf("QueryAudit(%s): no records", middling)
	}
	globMed, _ := timeIt("QueryAudit(module github.com/org1*, first page)", func() (err error) {
		page, err = d.QueryAudit(ctx, audit.Query{Module: "github.com/org1*"})
		return err
	})
	clientMed, clientMax := timeIt("QueryAudit(client token7, first page)", func() (err error) {
		page, err = d.QueryAudit(ctx, audit.Query{Client: "token7"})
		return err
	})
	if len(page.Records) != db.DefaultAuditLimit {
		b.Fatalf("QueryAudit(client token7): %d records", len(page.Records))
	}
	statusMed, statusMax := timeIt("QueryAudit(status 4xx, first page)", func() (err error) {
		page, err = d.QueryAudit(ctx, audit.Query{StatusMin: 400, StatusMax: 499})
		return err
	})
	if len(page.Records) != db.DefaultAuditLimit {
		b.Fatalf("QueryAudit(status 4xx): %d records", len(page.Records))
	}
	b.Logf("%s; load average %s", cpu, loadAvg())
	b.Log(auditBigInfo)
	st, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(float64(st.Size())/1e6, "MB-db")
	b.ReportMetric(topMed, "ms-top20")
	b.ReportMetric(topMax, "ms-top20-max")
	b.ReportMetric(popMed, "ms-query-module")
	b.ReportMetric(popMax, "ms-query-module-max")
	b.ReportMetric(midMed, "ms-query-module2")
	b.ReportMetric(midMax, "ms-query-module2-max")
	b.ReportMetric(globMed, "ms-query-glob")
	b.ReportMetric(clientMed, "ms-query-client")
	b.ReportMetric(statusMed, "ms-query-status")
	for _, v := range []float64{topMax, popMax, midMax, clientMax, statusMax} {
		if v >= 500 {
			b.Logf("PROBLEM: a query took %.0f ms, over the 500 ms target", v)
		}
	}
}

// BenchmarkAuditInsert writes batches of 256 audit records into SQLite
// through db.WriteAudit (records, roll-ups, module index, one transaction
// each) as fast as one writer can, for 10 s, first into a fresh database
// and then into the big one of BenchmarkAuditQuery10M (deeper indexes).
// Target: at least 5,000 records/s held. Reports records/s and the
// batches' p50 and p99 latency: at 5,000 records/s a batch of 256 comes
// every 51 ms, so a p99 under that means the Recorder's queue does not
// grow.
func BenchmarkAuditInsert(b *testing.B) {
	for _, tc := range []struct {
		name string
		path func(b *testing.B) string
	}{
		{"fresh", func(b *testing.B) string { return filepath.Join(workDir(b), "audit.db") }},
		{"10M", auditBigDB},
	} {
		b.Run(tc.name, func(b *testing.B) {
			path := tc.path(b)
			ctx := context.Background()
			d, err := db.Open(ctx, path)
			if err != nil {
				b.Fatal(err)
			}
			defer d.Close()
			dur := time.Duration(envInt(b, "GOMIRROR_AUDIT_SECONDS", int(auditInsertFor/time.Second))) * time.Second
			batch := make([]audit.Record, auditBatch)
			prefix := recorderPrefix()
			var lat []float64
			n := 0
			cpu := startCPU()
			start := time.Now()
			for i := 0; time.Since(start) < dur; i++ {
				fillBatch(batch, prefix, i)
				t := time.Now()
				if err := d.WriteAudit(ctx, batch); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, ms(time.Since(t)))
				n += len(batch)
			}
			elapsed := time.Since(start)
			rate := float64(n) / elapsed.Seconds()
			slices.Sort(lat)
			p50, p99 := lat[len(lat)/2], lat[len(lat)*99/100]
			b.Logf("%d records in %d batches in %.1fs: %.0f records/s; batch p50 %.1f ms, p99 %.1f ms, max %.1f ms", n, len(lat), elapsed.Seconds(), rate, p50, p99, lat[len(lat)-1])
			b.Logf("%s; load average %s", cpu, loadAvg())
			b.ReportMetric(0, "ns/op")
			b.ReportMetric(rate, "records/s")
			b.ReportMetric(p50, "ms-batch-p50")
			b.ReportMetric(p99, "ms-batch-p99")
			if rate < 5000 {
				b.Logf("PROBLEM: %.0f records/s, under the 5,000 target", rate)
			}
		})
	}
}

// fillBatch fills batch with the i-th batch of realistic records: IDs
// as the Recorder's (prefix, then a sequence number in base 36), the
// current time, modules of skewed popularity.
func fillBatch(batch []audit.Record, prefix string, i int) {
	now := time.Now().UTC()
	for j := range batch {
		k := (i*len(batch) + j) * 7919
		m := (k % 100) * (k / 100 % 100) // skewed toward small
		kind := []string{audit.KindInfo, audit.KindMod, audit.KindZip, audit.KindZip, audit.KindList}[k%5]
		batch[j] = audit.Record{
			ID: prefix + strconv.FormatUint(uint64(i*len(batch)+j+1), 36), Time: now, Client: fmt.Sprintf("token%d", k%300), Remote: fmt.Sprintf("10.1.%d.%d", k%8, k%250),
			Method: "GET", Module: auditModuleName(m), Version: fmt.Sprintf("v1.%d.0", k%30), Kind: kind, Status: 200,
			Bytes: int64(k % 1000000), Duration: time.Duration(k%100) * time.Millisecond, Cache: []string{"hit", "hit", "hit", "miss"}[k%4],
			Agent: "Go-http-client/1.1", Replica: "bench:8080",
		}
	}
}

// recorderPrefix returns a random ID prefix of the Recorder's form: 12
// base32hex characters and "-".
func recorderPrefix() string {
	var rnd [8]byte
	rand.Read(rnd[:])
	return base32.HexEncoding.WithPadding(base32.NoPadding).EncodeToString(rnd[:])[:12] + "-"
}

// auditModuleName is the path of generated module m (as the SQL below
// names it).
func auditModuleName(m int) string { return fmt.Sprintf("github.com/org%d/mod%d", m%300, m) }

// auditBigDB returns the path of the big database, building it on first use.
func auditBigDB(b *testing.B) string {
	b.Helper()
	auditBigOnce.Do(func() {
		dir := workDir(b)
		auditBigPath = filepath.Join(dir, "audit-10m.db")
		auditBigInfo, auditBigErr = buildAuditDB(auditBigPath, envInt(b, "GOMIRROR_AUDIT_RECORDS", auditBigRecords))
	})
	if auditBigErr != nil {
		b.Fatal(auditBigErr)
	}
	return auditBigPath
}

// buildAuditDB creates the database at path with the schema of version
// 3 (one row per record; migrations 1 to 3 of package db, read from
// ../db/migrations), fills it with n records in bulk SQL: the audit
// table without its secondary indexes, which are built afterwards
// (sorting once is far quicker than inserting 10 M random keys), then the
// roll-ups computed from the records, as WriteAudit would have kept them;
// and then opens it with db.Open, which migrates it to the current schema
// (version 4 moves the records into segments): so the benchmark also
// times that migration on a large log.
func buildAuditDB(path string, n int) (string, error) {
	ctx := context.Background()
	start := time.Now()
	// No journal while building (db.Open turns WAL on again): in WAL
	// mode every page would be written twice, to the log and then to
	// the database.
	raw, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(OFF)&_pragma=synchronous(OFF)&_pragma=cache_size(-1000000)&_pragma=temp_store(FILE)")
	if err != nil {
		return "", err
	}
	defer raw.Close()
	raw.SetMaxOpenConns(1)
	if _, err := raw.ExecContext(ctx, "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_ns BIGINT NOT NULL)"); err != nil {
		return "", err
	}
	for v, name := range []string{"audit", "catalog", "partial_indexes"} {
		b, err := os.ReadFile(filepath.Join("..", "db", "migrations", "sqlite", fmt.Sprintf("%04d_%s.sql", v+1, name)))
		if err != nil {
			return "", err
		}
		if _, err := raw.ExecContext(ctx, string(b)); err != nil {
			return "", fmt.Errorf("schema version %d: %w", v+1, err)
		}
		if _, err := raw.ExecContext(ctx, "INSERT INTO schema_migrations VALUES (?, ?, 0)", v+1, name); err != nil {
			return "", err
		}
	}
	// Indexes as the migrations create them, dropped and recreated.
	var indexes []string
	rows, err := raw.QueryContext(ctx, "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'audit' AND sql IS NOT NULL")
	if err != nil {
		return "", err
	}
	for rows.Next() {
		var s string
		rows.Scan(&s)
		indexes = append(indexes, s)
	}
	rows.Close()
	for _, s := range []string{"audit_module", "audit_client", "audit_status"} {
		if _, err := raw.ExecContext(ctx, "DROP INDEX "+s); err != nil {
			return "", err
		}
	}
	step := int64(auditSpan) / int64(n)
	// a, b and c are pseudo-random functions of i (not random(), which
	// SQLite would evaluate again for each use of a column); the module
	// number is the product of two uniform numbers, so that small numbers
	// are much more popular than large ones, and so is the version.
	insert := `WITH RECURSIVE c(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM c WHERE i < ? - 1),
	g AS (SELECT i, (i * 2654435761) % 4294967291 AS a, ((i % 1000003) * 1103515245 + 12345) % 2147483647 AS b,
		((i % 999983) * 69069 + 1) % 4294967291 AS c FROM c),
	h AS (SELECT i, a, b, c, (a % 10000) * ((a / 10000) % 10000) / 10000 AS m,
		((b / 1000) % 30) * ((c / 3000) % 30) / 30 AS v FROM g)
	INSERT INTO audit (id, time_ns, client, remote, method, module, module_key, version, kind, status, bytes, duration_ns, cache, upstream, agent, replica)
	SELECT printf('%016x', i), ? - i * ?,
		CASE WHEN b % 3 = 0 THEN '' ELSE 'token' || (b / 3 % 300) END,
		'10.1.' || (c % 8) || '.' || (c / 8 % 250),
		'GET',
		'github.com/org' || (m % 300) || '/mod' || m,
		'github.com/org' || (m % 300) || '/mod' || m,
		CASE WHEN (c / 2000) % 10 < 2 THEN '' ELSE 'v1.' || v || '.0' END,
		CASE (c / 2000) % 10 WHEN 0 THEN 'list' WHEN 1 THEN 'latest' WHEN 2 THEN 'info' WHEN 3 THEN 'info' WHEN 4 THEN 'mod' WHEN 5 THEN 'mod' ELSE 'zip' END,
		CASE WHEN (b / 900) % 97 = 0 THEN 404 ELSE 200 END,
		c % 1000000,
		(b % 100000) * 1000,
		CASE WHEN (a / 100000000) % 5 = 0 THEN 'miss' ELSE 'hit' END,
		CASE WHEN (a / 100000000) % 5 = 0 THEN 'https://upstream.example' ELSE '' END,
		'Go-http-client/1.1', 'bench:8080'
	FROM h`
	t := time.Now()
	if _, err := raw.ExecContext(ctx, insert, n, auditEnd.UnixNano(), step); err != nil {
		return "", fmt.Errorf("generating records: %w", err)
	}
	insertTook := time.Since(t)
	t = time.Now()
	for _, s := range indexes {
		if _, err := raw.ExecContext(ctx, s); err != nil {
			return "", fmt.Errorf("%s: %w", s, err)
		}
	}
	indexTook := time.Since(t)
	t = time.Now()
	const client = "CASE WHEN client <> '' THEN client ELSE remote END"
	const sums = "COUNT(*), SUM(kind = 'zip' AND status = 200), SUM(bytes), SUM(cache IN ('hit', 'stale')), SUM(cache IN ('miss', 'fresh'))"
	for _, s := range []string{
		"INSERT INTO daily_versions (day, module, version, requests, downloads, bytes, hits, misses) SELECT time_ns / 86400000000000, module, version, " + sums + " FROM audit WHERE module <> '' GROUP BY 1, 2, 3",
		"INSERT INTO daily_modules (day, module, requests, downloads, bytes, hits, misses) SELECT day, module, SUM(requests), SUM(downloads), SUM(bytes), SUM(hits), SUM(misses) FROM daily_versions GROUP BY 1, 2",
		"INSERT INTO weekly_modules (week, module, requests, downloads, bytes, hits, misses) SELECT day / 7, module, SUM(requests), SUM(downloads), SUM(bytes), SUM(hits), SUM(misses) FROM daily_modules GROUP BY 1, 2",
		"INSERT INTO daily_totals (day, requests, downloads, bytes, hits, misses) SELECT time_ns / 86400000000000, " + sums + " FROM audit GROUP BY 1",
		"INSERT INTO daily_module_clients (day, module, client) SELECT DISTINCT time_ns / 86400000000000, module, " + client + " FROM audit WHERE module <> ''",
		"INSERT INTO daily_clients (day, client) SELECT DISTINCT time_ns / 86400000000000, " + client + " FROM audit",
		"INSERT INTO audit_modules SELECT DISTINCT module_key FROM audit WHERE module_key <> ''",
	} {
		if _, err := raw.ExecContext(ctx, s); err != nil {
			return "", fmt.Errorf("%s: %w", s, err)
		}
	}
	rollupTook := time.Since(t)
	var count int64
	raw.QueryRowContext(ctx, "SELECT COUNT(*) FROM audit").Scan(&count)
	if count != int64(n) {
		return "", fmt.Errorf("generated %d records, want %d", count, n)
	}
	st, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	v3Size := st.Size()
	raw.Close()
	t = time.Now()
	d, err := db.Open(ctx, path) // the migration to segments
	if err != nil {
		return "", err
	}
	if err := d.Close(); err != nil {
		return "", err
	}
	migrateTook := time.Since(t)
	// VACUUM: the pages the audit table had are free after the migration.
	raw, err = sql.Open("sqlite", "file:"+path+"?_pragma=temp_store(FILE)")
	if err != nil {
		return "", err
	}
	defer raw.Close()
	if _, err := raw.ExecContext(ctx, "VACUUM"); err != nil {
		return "", err
	}
	if st, err = os.Stat(path); err != nil {
		return "", err
	}
	return fmt.Sprintf("built %d records (%.0f MB as rows, schema version 3) in %.1fs: records %.1fs, indexes %.1fs, roll-ups %.1fs; migrated to segments in %.1fs (%.0f records/s); %.0f MB after VACUUM",
		count, float64(v3Size)/1e6, time.Since(start).Seconds(), insertTook.Seconds(), indexTook.Seconds(), rollupTook.Seconds(),
		migrateTook.Seconds(), float64(count)/migrateTook.Seconds(), float64(st.Size())/1e6), nil
}

func fmtMs(ts []float64) string {
	s := ""
	for i, t := range ts {
		if i > 0 {
			s += " "
		}
		s += strconv.FormatFloat(t, 'f', 1, 64)
	}
	return s
}

// BenchmarkCatalog100k fills an SQLite catalog with 100,000 module
// versions (10,000 modules of 10 versions, 3 files each: 300,000
// artifacts, through ReplaceCatalog, untimed but logged), then times, 5
// rounds each after one untimed call: the first page of Modules (100
// modules), a substring search (Modules("mod12"): the LIKE scan of the
// module rows, ~10,000, that any search is), a page deep into the list
// (by cursor), Module of one module, CatalogTotals, and PutArtifact of a
// new version. Reports medians in ms.
func BenchmarkCatalog100k(b *testing.B) {
	ctx := context.Background()
	d, err := db.Open(ctx, filepath.Join(workDir(b), "catalog.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	const modules, versions = 10_000, 10
	stored := auditEnd.Add(-24 * time.Hour)
	i := 0
	next := func() (db.Artifact, bool, error) {
		if i == modules*versions*3 {
			return db.Artifact{}, false, nil
		}
		m, v, f := i/(versions*3), i/3%versions, []string{"info", "mod", "zip"}[i%3]
		i++
		return db.Artifact{Module: auditModuleName(m), Version: fmt.Sprintf("v1.%d.0", v), File: f, Size: int64(1000 + i%5000), Stored: stored}, true, nil
	}
	start := time.Now()
	added, _, err := d.ReplaceCatalog(ctx, time.Time{}, next)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("ReplaceCatalog of %d artifacts: %.1fs", added, time.Since(start).Seconds())
	var cursor string
	for range 5 { // a cursor 5,000 modules in
		if _, cursor, err = d.Modules(ctx, "", cursor, 1000); err != nil {
			b.Fatal(err)
		}
	}
	cpu := startCPU()
	nv := 0
	for _, tc := range []struct {
		name, metric string
		f            func() error
	}{
		{"Modules first page", "ms-modules", func() error { _, _, err := d.Modules(ctx, "", "", 100); return err }},
		{"Modules substring mod12", "ms-modules-search", func() error {
			m, _, err := d.Modules(ctx, "mod12", "", 100)
			if err == nil && len(m) == 0 {
				err = fmt.Errorf("no module found")
			}
			return err
		}},
		{"Modules page after 5,000", "ms-modules-cursor", func() error { _, _, err := d.Modules(ctx, "", cursor, 100); return err }},
		{"Module", "ms-module", func() error { _, err := d.Module(ctx, auditModuleName(1234)); return err }},
		{"CatalogTotals", "ms-totals", func() error { _, err := d.CatalogTotals(ctx); return err }},
		{"PutArtifact", "ms-put", func() error {
			nv++
			return d.PutArtifact(ctx, db.Artifact{Module: auditModuleName(77), Version: fmt.Sprintf("v2.%d.0", nv), File: "zip", Size: 1, Stored: auditEnd})
		}},
	} {
		if err := tc.f(); err != nil {
			b.Fatalf("%s: %v", tc.name, err)
		}
		var ts []float64
		for range auditQueryRounds {
			t := time.Now()
			if err := tc.f(); err != nil {
				b.Fatalf("%s: %v", tc.name, err)
			}
			ts = append(ts, ms(time.Since(t)))
		}
		b.Logf("%s: %s ms", tc.name, fmtMs(ts))
		b.ReportMetric(median(ts), tc.metric)
	}
	b.Logf("%s; load average %s", cpu, loadAvg())
	b.ReportMetric(0, "ns/op")
}
