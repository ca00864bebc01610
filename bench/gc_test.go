package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/gomirror/gomirror/db"
	"github.com/gomirror/gomirror/gc"
	"github.com/gomirror/gomirror/layout"
)

// gcVersions is the store size of BenchmarkGC100k (GOMIRROR_GC_VERSIONS
// overrides it for a quick try).
func gcVersions(b *testing.B) int {
	if s := os.Getenv("GOMIRROR_GC_VERSIONS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 100 {
			b.Fatalf("GOMIRROR_GC_VERSIONS=%q: want a number ≥ 100", s)
		}
		return n
	}
	return 100_000
}

// BenchmarkGC100k: `gomirror gc` over a local-disk store of 100,000 module
// versions (1,000 modules of 100 versions; a .info, .mod, .zip and
// .ziphash each, small files: 400,000 files, built untimed) whose
// database has access times for half of them, with a quota that a tenth
// of the zips must go for. Each round runs, as child processes, in
// alternating order: `find <store> -type f -printf '%s %T@\n'` (the
// baseline: a plain walk that reads every file's size and time, as the
// collector must) and `gomirror gc --dry-run --json` (walk, access times
// joined, the eviction plan; nothing deleted, so that every round does
// the same work). Reports the median time ratio gc / find, gc's median
// time and peak RSS (the child's rusage maxrss); then one real `gomirror
// gc`, which deletes the planned zips, timed with its peak RSS too.
// Targets (issue 17): under 60 s and 200 MB.
func BenchmarkGC100k(b *testing.B) {
	bin := binary(b)
	dir := workDir(b)
	store := filepath.Join(dir, "store")
	n := gcVersions(b)
	const perModule = 100
	modules := (n + perModule - 1) / perModule
	start := time.Now()
	zipSize := 100
	for m := range modules {
		vdir := filepath.Join(store, fmt.Sprintf("example.com/org%03d/mod%04d/@v", m%100, m))
		if err := os.MkdirAll(vdir, 0o755); err != nil {
			b.Fatal(err)
		}
		for v := range min(perModule, n-m*perModule) {
			base := filepath.Join(vdir, fmt.Sprintf("v1.%d.0", v))
			for _, f := range []struct {
				ext  string
				size int
			}{{".info", 40}, {".mod", 30}, {".zip", zipSize}, {".ziphash", 48}} {
				if err := os.WriteFile(base+f.ext, make([]byte, f.size), 0o644); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	dbFile := filepath.Join(store, filepath.FromSlash(layout.DatabaseFile))
	if err := os.MkdirAll(filepath.Dir(dbFile), 0o700); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	d, err := db.Open(ctx, dbFile)
	if err != nil {
		b.Fatal(err)
	}
	var batch []db.VersionAccess
	for i := 0; i < n; i += 2 { // every other version downloaded, at spread times
		m, v := i/perModule, i%perModule
		batch = append(batch, db.VersionAccess{Module: fmt.Sprintf("example.com/org%03d/mod%04d", m%100, m), Version: fmt.Sprintf("v1.%d.0", v),
			Time: time.Now().Add(-time.Duration(i%1000) * time.Hour)})
		if len(batch) == 1000 {
			if err := d.RecordAccess(ctx, batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	if err := d.RecordAccess(ctx, batch); err != nil {
		b.Fatal(err)
	}
	d.Close()
	b.Logf("store of %d versions (%d files) and %d access times built in %.1fs", n, 4*n, (n+1)/2, time.Since(start).Seconds())

	stored := int64(n) * (40 + 30 + int64(zipSize)) // hash side-files are not counted
	quota := stored - int64(n/10)*int64(zipSize)    // a tenth of the zips must go
	args := func(extra ...string) []string {
		return append([]string{"gc", "--storage-dir", store, "--upstream", "off", "--sumdb", "off", "--private", "",
			"--storage-max-size", strconv.FormatInt(quota, 10), "--grace", "0s", "--log-level", "warn"}, extra...)
	}
	type result struct {
		wall  time.Duration
		rssKB int64
		out   []byte
	}
	runChild := func(name string, argv ...string) result {
		cmd := exec.Command(name, argv...)
		cmd.Stderr = os.Stderr
		t0 := time.Now()
		out, err := cmd.Output()
		if err != nil {
			b.Fatalf("%s %v: %v", name, argv, err)
		}
		wall := time.Since(t0)
		ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
		return result{wall, ru.Maxrss, out}
	}
	const rounds = 3
	cpu := startCPU()
	var ratios, gcSecs, findSecs []float64
	var maxRSS int64
	for r := range rounds {
		var f, g result
		if r%2 == 0 {
			f = runChild("find", store, "-type", "f", "-printf", "%s %T@\n")
			g = runChild(bin, args("--dry-run", "--json")...)
		} else {
			g = runChild(bin, args("--dry-run", "--json")...)
			f = runChild("find", store, "-type", "f", "-printf", "%s %T@\n")
		}
		var rep gc.Report
		if err := json.Unmarshal(g.out, &rep); err != nil {
			b.Fatalf("gc --json: %v", err)
		}
		if rep.Versions != n || len(rep.Evictions) != n/10 {
			b.Fatalf("gc planned %d evictions of %d versions, want %d of %d", len(rep.Evictions), rep.Versions, n/10, n)
		}
		ratios = append(ratios, g.wall.Seconds()/f.wall.Seconds())
		gcSecs = append(gcSecs, g.wall.Seconds())
		findSecs = append(findSecs, f.wall.Seconds())
		maxRSS = max(maxRSS, g.rssKB)
		b.Logf("round %d: gc --dry-run %.2fs (RSS %.1f MB), find %.2fs: ratio %.2f", r+1, g.wall.Seconds(), float64(g.rssKB)/1024, f.wall.Seconds(), ratios[r])
	}
	real := runChild(bin, args("--json")...)
	var rep gc.Report
	if err := json.Unmarshal(real.out, &rep); err != nil {
		b.Fatal(err)
	}
	b.Logf("gc (deleting %d zips, %d bytes): %.2fs, RSS %.1f MB; %s", len(rep.Evictions), rep.Freed[gc.ReasonQuota], real.wall.Seconds(), float64(real.rssKB)/1024, cpu)
	b.ReportMetric(median(ratios), "ratio-gc/find")
	b.ReportMetric(median(gcSecs), "s-gc-dry-run")
	b.ReportMetric(median(findSecs), "s-find")
	b.ReportMetric(real.wall.Seconds(), "s-gc")
	b.ReportMetric(float64(max(maxRSS, real.rssKB))/1024, "MB-peak-rss")
	if real.wall > time.Minute || max(maxRSS, real.rssKB) > 200<<10 {
		b.Errorf("over issue 17's target: %.1fs (< 60 s), %.1f MB (< 200 MB)", real.wall.Seconds(), float64(max(maxRSS, real.rssKB))/1024)
	}
}
