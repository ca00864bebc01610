package bench

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"golang.org/x/mod/module"

	"github.com/gomirror/gomirror/api"
	"github.com/gomirror/gomirror/audit"
	"github.com/gomirror/gomirror/console"
	"github.com/gomirror/gomirror/db"
)

// Sizes of BenchmarkConsolePages (issue 15): 1,000,000 audit records
// (GOMIRROR_CONSOLE_RECORDS overrides) and 100,000 stored versions.
const (
	consoleRecords  = 1_000_000
	consoleModules  = 10_000
	consoleVersions = 10 // per module: 100,000 versions, 300,000 files
	consoleTarget   = 50 // ms, the ceiling per page
)

// BenchmarkConsolePages times the server side of every console page, in
// process (the console over api.Service over an SQLite database, as
// gomirror serve has them; no network, no browser): the database holds
// 1,000,000 audit records over 90 days (built untimed as for
// BenchmarkAuditQuery10M) and a catalog of 100,000 module versions. Each
// page is requested once untimed, then 5 times; reports the median and the
// worst in ms per page, and the median CPU time of the process per page
// (getrusage: all its threads, GC included), which other processes on the
// machine move less than the wall time. Target: each under 50 ms.
// The version, graph and Upstreams pages read a storage directory
// (buildGraphStore: a 301-module graph from 600 stored .mod files, all
// read: go 1.16) and a day of per-minute history of three upstreams.
func BenchmarkConsolePages(b *testing.B) {
	ctx := context.Background()
	path := filepath.Join(workDir(b), "console.db")
	info, err := buildAuditDB(path, envInt(b, "GOMIRROR_CONSOLE_RECORDS", consoleRecords))
	if err != nil {
		b.Fatal(err)
	}
	b.Log(info)
	d, err := db.Open(ctx, path)
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	stored := auditEnd.Add(-24 * time.Hour)
	i := 0
	next := func() (db.Artifact, bool, error) {
		if i == consoleModules*consoleVersions*3 {
			return db.Artifact{}, false, nil
		}
		m, v, f := i/(consoleVersions*3), i/3%consoleVersions, []string{"info", "mod", "zip"}[i%3]
		i++
		return db.Artifact{Module: auditModuleName(m), Version: fmt.Sprintf("v1.%d.0", v), File: f, Size: int64(1000 + i%5000), Stored: stored}, true, nil
	}
	start := time.Now()
	if _, _, err := d.ReplaceCatalog(ctx, time.Time{}, next); err != nil {
		b.Fatal(err)
	}
	b.Logf("catalog of %d versions: %.1fs", consoleModules*consoleVersions, time.Since(start).Seconds())

	st, err := buildGraphStore(ctx, filepath.Join(workDir(b), "storage"))
	if err != nil {
		b.Fatal(err)
	}
	now := func() time.Time { return auditEnd }
	svc := api.NewService(api.Options{Store: func() (api.Store, error) { return d, nil }, Now: now,
		StorageUsage: func() (int64, int64, error) { return 1 << 40, 4 << 40, nil },
		Storage:      st, UpstreamHistory: benchUpstreams})
	if g, err := svc.Graph(ctx, module.Version{Path: consoleGraphMain, Version: "v1.0.0"}); err != nil || len(g.Nodes) != 1+consoleGraphLayers*consoleGraphWidth || !g.Complete {
		b.Fatalf("the graph fixture: %v", err)
	} else {
		b.Logf("graph of %s: %d modules, %d requirements", consoleGraphMain, len(g.Nodes), len(g.Edges))
	}
	c, err := console.New(console.Options{API: svc, Open: true, Now: now})
	if err != nil {
		b.Fatal(err)
	}
	popular := auditModuleName(0) // the most requested module of the generated records
	var cursor string
	if page, err := svc.Audit(ctx, audit.Query{Limit: 100}); err != nil {
		b.Fatal(err)
	} else {
		cursor = page.Next
	}
	cpu := startCPU()
	var worst float64
	for _, p := range []struct{ name, target string }{
		{"overview", "/ui/"},
		{"modules", "/ui/modules"},
		{"modules-search", "/ui/modules?q=mod12"},
		{"module", "/ui/modules/" + popular},
		{"activity", "/ui/activity"},
		{"activity-page2", "/ui/activity?cursor=" + cursor},
		{"activity-module", "/ui/activity?module=" + popular},
		{"activity-client", "/ui/activity?client=token7&status=4xx"},
		{"alerts", "/ui/alerts"},
		{"version", "/ui/modules/" + consoleGraphMain + "/@v/v1.0.0"},
		{"graph", "/ui/modules/" + consoleGraphMain + "/@v/v1.0.0/graph"},
		{"graph-depth2", "/ui/modules/" + consoleGraphMain + "/@v/v1.0.0/graph?depth=2"},
		{"graph-search", "/ui/modules/" + consoleGraphMain + "/@v/v1.0.0/graph?q=m07"},
		{"upstreams", "/ui/upstreams"},
	} {
		var size int
		get := func() error {
			w := httptest.NewRecorder()
			defer func() { size = w.Body.Len() }()
			c.ServeHTTP(w, httptest.NewRequest("GET", p.target, nil))
			if w.Code != http.StatusOK {
				return fmt.Errorf("%s: %d %.300s", p.target, w.Code, w.Body)
			}
			return nil
		}
		if err := get(); err != nil {
			b.Fatal(err)
		}
		var ts, cpus []float64
		for range auditQueryRounds {
			t, c0 := time.Now(), sideCPU(0)
			if err := get(); err != nil {
				b.Fatal(err)
			}
			ts = append(ts, ms(time.Since(t)))
			cpus = append(cpus, 1000*(sideCPU(0)-c0))
		}
		b.Logf("%s (%s): %s ms, CPU %s ms, %d KB", p.name, p.target, fmtMs(ts), fmtMs(cpus), size/1000)
		b.ReportMetric(median(ts), "ms-"+p.name)
		b.ReportMetric(median(cpus), "cpu-ms-"+p.name)
		worst = max(worst, slices.Max(ts))
	}
	b.ReportMetric(worst, "ms-worst")
	if worst >= consoleTarget {
		b.Logf("TARGET MISSED: the slowest page took %.1f ms, want under %d ms", worst, consoleTarget)
	}
	b.Logf("%s; load average %s", cpu, loadAvg())
	b.ReportMetric(0, "ns/op")
}
