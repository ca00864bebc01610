package db_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gomirror/gomirror/audit"
	"github.com/gomirror/gomirror/db"
	"github.com/gomirror/gomirror/db/dbtest"
	"github.com/gomirror/gomirror/internal/pgtest"
)

// pg is this package's PostgreSQL, started by the first test that needs it.
var pg pgtest.Shared

func TestMain(m *testing.M) {
	code := m.Run()
	pg.Stop()
	os.Exit(code)
}

func sqlitePath(t *testing.T) string { return filepath.Join(t.TempDir(), "gomirror.db") }

func openDSN(t *testing.T, dsn string) *db.DB {
	t.Helper()
	d, err := db.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func TestSQLite(t *testing.T) {
	dbtest.Run(t, func(t *testing.T) *db.DB { return openDSN(t, sqlitePath(t)) })
}

func TestPostgres(t *testing.T) {
	srv := pg.Server(t)
	dbtest.Run(t, func(t *testing.T) *db.DB { return openDSN(t, srv.NewDatabase(t)) })
}

// engines runs f on a fresh SQLite file and a fresh PostgreSQL database.
func engines(t *testing.T, f func(t *testing.T, dsn string)) {
	t.Run("sqlite", func(t *testing.T) { f(t, sqlitePath(t)) })
	t.Run("postgres", func(t *testing.T) { f(t, pg.Server(t).NewDatabase(t)) })
}

func TestEngineAndPing(t *testing.T) {
	engines(t, func(t *testing.T, dsn string) {
		d := openDSN(t, dsn)
		want := "sqlite"
		if strings.HasPrefix(dsn, "postgres") {
			want = "postgres"
		}
		if d.Engine() != want {
			t.Errorf("Engine() = %q, want %q", d.Engine(), want)
		}
		if err := d.Ping(context.Background()); err != nil {
			t.Fatal(err)
		}
		d.Close()
		if err := d.Ping(context.Background()); err == nil {
			t.Fatal("Ping of a closed database: no error")
		}
	})
}

func TestMigrationsMatch(t *testing.T) {
	s, p := db.MigrationNames(false), db.MigrationNames(true)
	if strings.Join(s, ",") != strings.Join(p, ",") || len(s) < 2 {
		t.Fatalf("SQLite migrations %v, PostgreSQL %v: want the same versions, at least two", s, p)
	}
}

func TestMigrateFromEmpty(t *testing.T) {
	engines(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		d := openDSN(t, dsn)
		v, err := d.SchemaVersion(ctx)
		if err != nil || v != db.Known(dsn) {
			t.Fatalf("SchemaVersion = %d, %v; want %d", v, err, db.Known(dsn))
		}
		d.Close()
		// Opening again applies nothing and works.
		d = openDSN(t, dsn)
		if v, _ := d.SchemaVersion(ctx); v != db.Known(dsn) {
			t.Fatalf("SchemaVersion after a second Open = %d", v)
		}
	})
}

// TestMigrateFromPrevious builds a database of each earlier schema
// version with audit records and roll-ups in it (as that version wrote
// them), opens it with this binary, and checks that the data survived and
// is queryable: a module query finds the old records (version 2 indexes
// their module paths), and the filters by client and status that version
// 3's partial indexes serve find them too.
func TestMigrateFromPrevious(t *testing.T) {
	for from := 1; from < db.Known(""); from++ {
		t.Run(fmt.Sprint("from", from), func(t *testing.T) { testMigrateFrom(t, from) })
	}
}

func testMigrateFrom(t *testing.T, from int) {
	engines(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		old, err := db.OpenAt(ctx, dsn, from)
		if err != nil {
			t.Fatal(err)
		}
		t0 := time.Date(2025, 3, 10, 12, 0, 0, 0, time.UTC)
		day := t0.Unix() / 86400
		for i, m := range []string{"corp.example/Lib", "corp.example/lib/v2", "other.example/x"} {
			client, status := "ci", 200
			if i == 2 {
				client, status = "", 500
			}
			id, at := fmt.Sprint("old", i), t0.Add(time.Duration(i)*time.Minute)
			if from >= 4 {
				// Version 4 keeps records as segments: written as that
				// version writes them, with their roll-ups.
				if err := old.WriteAudit(ctx, []audit.Record{{ID: id, Time: at, Client: client, Remote: "10.0.0.1", Method: "GET",
					Module: m, Version: "v1.0.0", Kind: "zip", Status: status, Bytes: 100, Duration: 5, Cache: "hit"}}); err != nil {
					t.Fatal(err)
				}
			} else if err := old.Exec(ctx, `INSERT INTO audit (id, time_ns, client, remote, method, module, module_key, version, kind, status, bytes, duration_ns, cache)
				VALUES (?, ?, ?, '10.0.0.1', 'GET', ?, ?, 'v1.0.0', 'zip', ?, 100, 5, 'hit')`,
				id, at.UnixNano(), client, m, strings.ToLower(m), status); err != nil {
				t.Fatal(err)
			}
			if from >= 2 {
				if err := old.Exec(ctx, `INSERT INTO audit_modules (module_key) VALUES (?) ON CONFLICT DO NOTHING`, strings.ToLower(m)); err != nil {
					t.Fatal(err)
				}
			}
			if err := old.Exec(ctx, `INSERT INTO daily_modules (day, module, requests, downloads, bytes, hits, misses) VALUES (?, ?, 1, 1, 100, 1, 0) ON CONFLICT DO NOTHING`, day, m); err != nil {
				t.Fatal(err)
			}
			if err := old.Exec(ctx, `INSERT INTO daily_module_clients (day, module, client) VALUES (?, ?, 'ci') ON CONFLICT DO NOTHING`, day, m); err != nil {
				t.Fatal(err)
			}
		}
		if v, _ := old.SchemaVersion(ctx); v != from {
			t.Fatalf("old database at version %d", v)
		}
		old.Close()

		d := openDSN(t, dsn)
		if v, _ := d.SchemaVersion(ctx); v != db.Known(dsn) {
			t.Fatalf("migrated database at version %d, want %d", v, db.Known(dsn))
		}
		p, err := d.QueryAudit(ctx, audit.Query{Module: "corp.example/lib"})
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Records) != 2 || p.Records[0].ID != "old1" || p.Records[1].ID != "old0" || p.Records[1].Module != "corp.example/Lib" {
			t.Fatalf("old records by module after the migration: %+v", p.Records)
		}
		for _, tc := range []struct {
			q    audit.Query
			want string
		}{
			{audit.Query{Client: "ci"}, "old1,old0"},
			{audit.Query{StatusMin: 500}, "old2"},
			{audit.Query{StatusMax: 299}, "old1,old0"},
			{audit.Query{StatusMin: 200, StatusMax: 200}, "old1,old0"},
		} {
			p, err := d.QueryAudit(ctx, tc.q)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range p.Records {
				got = append(got, r.ID)
			}
			if strings.Join(got, ",") != tc.want {
				t.Errorf("QueryAudit(%+v) after the migration: %v, want %s", tc.q, got, tc.want)
			}
		}
		top, err := d.TopModules(ctx, db.Period{From: t0, To: t0}, 10)
		if err != nil || len(top) != 3 || top[0].Clients != 1 {
			t.Fatalf("TopModules after the migration: %+v, %v", top, err)
		}
		// Version 4 counts the old records per minute.
		mins, err := d.Minutes(ctx, t0, t0.Add(3*time.Minute))
		if err != nil || len(mins) != 3 || mins[0].Requests != 1 || mins[0].Hits != 1 || mins[0].Bytes != 100 || mins[1].Errors != 0 || mins[2].Errors != 1 {
			t.Fatalf("Minutes after the migration: %+v, %v", mins, err)
		}
		// And the new version's tables work alongside.
		if err := d.WriteAudit(ctx, []audit.Record{{ID: "new", Time: t0.Add(time.Hour), Remote: "10.0.0.2", Module: "corp.example/lib", Kind: "zip", Status: 200}}); err != nil {
			t.Fatal(err)
		}
		if err := d.PutArtifact(ctx, db.Artifact{Module: "corp.example/lib", Version: "v1.0.0", File: "zip", Size: 1, Stored: t0}); err != nil {
			t.Fatal(err)
		}
		all, err := d.QueryAudit(ctx, audit.Query{})
		if err != nil || len(all.Records) != 4 {
			t.Fatalf("all records after the migration: %d, %v", len(all.Records), err)
		}
	})
}

func TestNewerSchemaIsAnError(t *testing.T) {
	engines(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		d := openDSN(t, dsn)
		if err := d.Exec(ctx, "INSERT INTO schema_migrations (version, name, applied_ns) VALUES (?, 'future', 0)", db.Known(dsn)+1); err != nil {
			t.Fatal(err)
		}
		d.Close()
		_, err := db.Open(ctx, dsn)
		if err == nil || !strings.Contains(err.Error(), "newer than this gomirror knows") {
			t.Fatalf("Open of a newer schema: %v", err)
		}
	})
}

// TestConcurrentOpen starts several "replicas" on one new database at
// once: each version is applied once, and every Open succeeds.
func TestConcurrentOpen(t *testing.T) {
	engines(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		var wg sync.WaitGroup
		errs := make(chan error, 4)
		for range 4 {
			wg.Go(func() {
				d, err := db.Open(ctx, dsn)
				if err == nil {
					d.Close()
				}
				errs <- err
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		d := openDSN(t, dsn)
		if v, _ := d.SchemaVersion(ctx); v != db.Known(dsn) {
			t.Fatalf("version %d", v)
		}
	})
}

// TestTwoReplicasOnPostgres: two handles on one PostgreSQL database see
// each other's records, roll-ups and catalog.
func TestTwoReplicasOnPostgres(t *testing.T) {
	dsn := pg.Server(t).NewDatabase(t)
	ctx := context.Background()
	a, b := openDSN(t, dsn), openDSN(t, dsn)
	t0 := time.Date(2025, 3, 10, 12, 0, 0, 0, time.UTC)
	rec := func(id, replica string, min int) audit.Record {
		return audit.Record{ID: id, Time: t0.Add(time.Duration(min) * time.Minute), Remote: "10.0.0.1", Module: "x.example/m", Version: "v1.0.0", Kind: "zip", Status: 200, Replica: replica}
	}
	if err := a.WriteAudit(ctx, []audit.Record{rec("a1", "A", 0), rec("a2", "A", 2)}); err != nil {
		t.Fatal(err)
	}
	if err := b.WriteAudit(ctx, []audit.Record{rec("b1", "B", 1), rec("a2", "A", 2)}); err != nil { // a2 replayed by B
		t.Fatal(err)
	}
	if err := b.PutArtifact(ctx, db.Artifact{Module: "x.example/m", Version: "v1.0.0", File: "zip", Stored: t0}); err != nil {
		t.Fatal(err)
	}
	for name, d := range map[string]*db.DB{"A": a, "B": b} {
		p, err := d.QueryAudit(ctx, audit.Query{})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range p.Records {
			got = append(got, r.ID+"@"+r.Replica)
		}
		if strings.Join(got, ",") != "a2@A,b1@B,a1@A" {
			t.Errorf("replica %s sees %v", name, got)
		}
		top, err := d.TopModules(ctx, db.Period{From: t0, To: t0}, 5)
		if err != nil || len(top) != 1 || top[0].Downloads != 3 {
			t.Errorf("replica %s: TopModules %+v, %v", name, top, err)
		}
		if tot, err := d.CatalogTotals(ctx); err != nil || tot.Objects != 1 {
			t.Errorf("replica %s: catalog %+v, %v", name, tot, err)
		}
	}
}

// TestConcurrentWritersSQLite: goroutines writing batches at once, through
// two handles on one file (a server and the CLI), lose nothing and fail
// none (no SQLITE_BUSY).
func TestConcurrentWritersSQLite(t *testing.T) {
	path := sqlitePath(t)
	ctx := context.Background()
	handles := []*db.DB{openDSN(t, path), openDSN(t, path)}
	const writers, batches, per = 8, 20, 25
	t0 := time.Date(2025, 3, 10, 12, 0, 0, 0, time.UTC)
	var wg sync.WaitGroup
	errs := make(chan error, writers*batches)
	for w := range writers {
		wg.Go(func() {
			d := handles[w%2]
			for b := range batches {
				batch := make([]audit.Record, per)
				for i := range batch {
					batch[i] = audit.Record{ID: fmt.Sprintf("w%d-b%d-%d", w, b, i), Time: t0.Add(time.Duration(i) * time.Second),
						Remote: fmt.Sprintf("10.0.0.%d", w), Module: fmt.Sprintf("x.example/m%d", b%3), Version: "v1.0.0", Kind: "zip", Status: 200, Bytes: 1}
				}
				if err := d.WriteAudit(ctx, batch); err != nil {
					errs <- err
				}
				// Reads go on meanwhile.
				if _, err := d.QueryAudit(ctx, audit.Query{Limit: 10}); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	d := handles[0]
	var n int
	q := audit.Query{Limit: 1000}
	for {
		p, err := d.QueryAudit(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		n += len(p.Records)
		if p.Next == "" {
			break
		}
		q.Cursor = p.Next
	}
	if n != writers*batches*per {
		t.Fatalf("%d records stored, want %d", n, writers*batches*per)
	}
	s, err := d.Summarize(ctx, db.Period{From: t0, To: t0})
	if err != nil || s.Requests != writers*batches*per || s.Clients != writers {
		t.Fatalf("Summarize %+v, %v", s, err)
	}
}

func TestOpenKeepsPasswordsOut(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Port 1 on loopback: nothing listens there.
	_, err := db.Open(ctx, "postgres://gomirror:s3cretpw@127.0.0.1:1/mirror?sslmode=disable&connect_timeout=5")
	if err == nil {
		t.Fatal("Open of a closed port: no error")
	}
	if strings.Contains(err.Error(), "s3cretpw") {
		t.Fatalf("the error shows the password: %v", err)
	}
	if !strings.Contains(err.Error(), "127.0.0.1") {
		t.Fatalf("the error does not say which database: %v", err)
	}
}

func TestSQLiteBadPath(t *testing.T) {
	_, err := db.Open(context.Background(), filepath.Join(t.TempDir(), "no", "such", "dir", "x.db"))
	if err == nil {
		t.Fatal("Open in a missing directory: no error")
	}
}

// TestConcurrentReplicasPostgres: replicas writing batches that touch the
// same roll-up rows at once neither deadlock nor lose a record.
func TestConcurrentReplicasPostgres(t *testing.T) {
	dsn := pg.Server(t).NewDatabase(t)
	ctx := context.Background()
	handles := []*db.DB{openDSN(t, dsn), openDSN(t, dsn)}
	for _, d := range handles {
		if err := d.PutArtifact(ctx, db.Artifact{Module: "x.example/m0", Version: "v1.0.0", File: "zip", Stored: time.Unix(0, 0)}); err != nil {
			t.Fatal(err)
		}
	}
	t0 := time.Date(2025, 3, 10, 12, 0, 0, 0, time.UTC)
	const writers, batches, per = 6, 15, 40
	var wg sync.WaitGroup
	errs := make(chan error, writers*batches)
	for w := range writers {
		wg.Go(func() {
			for b := range batches {
				batch := make([]audit.Record, per)
				for i := range batch {
					batch[i] = audit.Record{ID: fmt.Sprintf("w%d-b%d-%d", w, b, i), Time: t0.Add(time.Duration(b*per+i) * time.Minute),
						Remote: fmt.Sprintf("10.0.0.%d", i%5), Module: fmt.Sprintf("x.example/m%d", (i+w)%4), Version: "v1.0.0", Kind: "zip", Status: 200, Bytes: 1}
				}
				if err := handles[w%2].WriteAudit(ctx, batch); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	s, err := handles[0].Summarize(ctx, db.Period{From: t0, To: t0.AddDate(0, 0, 1)})
	if err != nil || s.Requests != writers*batches*per || s.Downloads != writers*batches*per {
		t.Fatalf("Summarize %+v, %v; want %d requests", s, err, writers*batches*per)
	}
}

func TestChunkSizes(t *testing.T) {
	for _, tc := range []struct {
		n, max int
		want   string
	}{
		{0, 256, "[]"},
		{1, 256, "[1]"},
		{255, 256, "[128 64 32 16 8 4 2 1]"},
		{256, 256, "[256]"},
		{600, 256, "[256 256 64 16 8]"},
		{130, 64, "[64 64 2]"},
	} {
		got := db.ChunkSizes(tc.n, tc.max)
		sum := 0
		for _, c := range got {
			sum += c
		}
		if s := fmt.Sprint(got); s != tc.want && !(tc.want == "[]" && len(got) == 0) || sum != tc.n {
			t.Errorf("ChunkSizes(%d, %d) = %v, want %s", tc.n, tc.max, got, tc.want)
		}
	}
}

// TestPruneForgetsModulePaths: requests for made-up module paths (404
// spam) leave no path behind once their records are pruned.
func TestPruneForgetsModulePaths(t *testing.T) {
	ctx := context.Background()
	d := openDSN(t, sqlitePath(t))
	old := time.Now().Add(-100 * 24 * time.Hour)
	var batch []audit.Record
	for i := range 50 {
		batch = append(batch, audit.Record{ID: fmt.Sprintf("spam%02d", i), Time: old, Remote: "10.0.0.9", Method: "GET",
			Module: fmt.Sprintf("evil.example/m%d", i), Kind: "info", Version: "v1.0.0", Status: 404})
	}
	batch = append(batch, audit.Record{ID: "kept", Time: time.Now(), Remote: "10.0.0.1", Method: "GET",
		Module: "example.com/real", Kind: "zip", Version: "v1.0.0", Status: 200})
	if err := d.WriteAudit(ctx, batch); err != nil {
		t.Fatal(err)
	}
	if n, err := d.PruneAudit(ctx, time.Now().Add(-90*24*time.Hour)); err != nil || n != 50 {
		t.Fatalf("PruneAudit: %d, %v; want 50", n, err)
	}
	if n, err := d.Count(ctx, "audit_modules"); err != nil || n != 1 {
		t.Errorf("audit_modules holds %d paths after the prune (%v), want 1: the real module's", n, err)
	}
	page, err := d.QueryAudit(ctx, audit.Query{Module: "*.com/real,evil.example"})
	if err != nil || len(page.Records) != 1 || page.Records[0].ID != "kept" {
		t.Errorf("pattern query after the prune: %+v, %v", page.Records, err)
	}
}
