package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	"github.com/gomirror/gomirror/bundle"
	"github.com/gomirror/gomirror/layout"
	fsstore "github.com/gomirror/gomirror/storage/fs"
	"github.com/gomirror/gomirror/sumdb"
)

// bundleRounds is the number of interleaved rounds of BenchmarkBundle.
const bundleRounds = 5

// BenchmarkBundle: `bundle.Export` of every module version a store filled
// with bigproject holds (from a store holding exactly those files) (282 zips, the go.mod-only requirements, their
// checksum database records and tiles) into a bundle file, and
// `bundle.Import` of that bundle (verifying all of it) into an empty
// store, against a plain `tar -cf` of the same files (the bundle's entries,
// uncompressed) and a `tar -xf` of that into an empty directory.
// Interleaved rounds; the ratios are per round. Target: each < 2.
func BenchmarkBundle(b *testing.B) {
	db, err := sumdb.Parse(sumdbNameOf(b))
	if err != nil {
		b.Fatal(err)
	}
	tmp := workDir(b)
	// GOMIRROR_BENCH_BUNDLE_DIR keeps the setup (the store the rounds
	// export from, its module list, the first bundle) for the next run,
	// which then needs no network.
	setupDir := os.Getenv("GOMIRROR_BENCH_BUNDLE_DIR")
	if setupDir == "" {
		setupDir = filepath.Join(tmp, "setup")
	}
	mods, names, added := bundleSetup(b, setupDir, db)
	namesDir := filepath.Join(setupDir, "names")
	namesStore, err := fsstore.New(namesDir)
	if err != nil {
		b.Fatal(err)
	}
	list := filepath.Join(tmp, "files.txt")
	if err := os.WriteFile(list, []byte(strings.Join(names, "\n")+"\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	// Context baselines need zstd and sha256sum; without them, only tar.
	_, zerr := exec.LookPath("zstd")
	_, serr := exec.LookPath("sha256sum")
	ctxRows := zerr == nil && serr == nil
	profDir := os.Getenv("GOMIRROR_BENCH_PROFILE")
	ctx := context.Background()
	b.Logf("setup: %d module versions, %d files, %d artifacts; load average %s", len(mods), len(names), added, loadAvg())

	// CPU-s of each phase (this process and its children), which other
	// processes move far less than wall time.
	var lastCPU float64
	run := func(name string, args ...string) float64 {
		c0 := ownCPU()
		defer func() { lastCPU = ownCPU() - c0 }()
		t0 := time.Now()
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Dir = namesDir
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("%s: %v\n%s", name, err, out)
		}
		return time.Since(t0).Seconds()
	}
	profile := func(name string, i int, f func()) {
		if profDir == "" || i != 0 {
			f()
			return
		}
		pf, err := os.Create(filepath.Join(profDir, name+".pprof"))
		if err != nil {
			b.Fatal(err)
		}
		defer pf.Close()
		pprof.StartCPUProfile(pf)
		f()
		pprof.StopCPUProfile()
	}

	b.ResetTimer()
	var exp, tarc, imp, tarx, expRatio, impRatio []float64
	var zc, zx, sc, sx []float64
	var expCPU, tarcCPU, impCPU, tarxCPU []float64
	for i := range bundleRounds {
		out := filepath.Join(tmp, fmt.Sprintf("round%d.bundle", i))
		meter := startCPU()
		c0 := ownCPU()
		t0 := time.Now()
		profile("export", i, func() {
			if err := exportBundle(ctx, out, namesStore, mods, db, nil); err != nil {
				b.Fatal(err)
			}
		})
		e := time.Since(t0).Seconds()
		ec := ownCPU() - c0
		tarFile := filepath.Join(tmp, fmt.Sprintf("round%d.tar", i))
		tc := run("tar -cf", "tar", "-cf", tarFile, "-T", list)
		tcc := lastCPU

		dst := filepath.Join(tmp, fmt.Sprintf("import%d", i))
		dstStore, err := fsstore.New(dst)
		if err != nil {
			b.Fatal(err)
		}
		c0 = ownCPU()
		t0 = time.Now()
		profile("import", i, func() {
			f := mustOpen(b, out)
			r, err := bundle.Import(ctx, f, bundle.ImportOptions{Storage: dstStore, DB: db})
			f.Close()
			if err != nil {
				b.Fatal(err)
			}
			if r.Added != added {
				b.Fatalf("round %d: imported %d artifacts, want %d", i, r.Added, added)
			}
		})
		im := time.Since(t0).Seconds()
		ic := ownCPU() - c0
		xdir := filepath.Join(tmp, fmt.Sprintf("untar%d", i))
		os.MkdirAll(xdir, 0o755)
		tx := run("tar -xf", "tar", "-xf", tarFile, "-C", xdir)
		txc := lastCPU
		expCPU, tarcCPU, impCPU, tarxCPU = append(expCPU, ec), append(tarcCPU, tcc), append(impCPU, ic), append(tarxCPU, txc)
		exp, tarc, imp, tarx = append(exp, e), append(tarc, tc), append(imp, im), append(tarx, tx)
		expRatio, impRatio = append(expRatio, e/tc), append(impRatio, im/tx)
		ctxLine := ""
		if ctxRows {
			// Context, not the target: tar through the zstd CLI (default
			// level, all cores), and tar plus a SHA-256 of every file.
			zFile := filepath.Join(tmp, fmt.Sprintf("round%d.tar.zst", i))
			zcr := run("tar -I zstd -cf", "tar", "-I", "zstd -T0", "-cf", zFile, "-T", list)
			zdir := filepath.Join(tmp, fmt.Sprintf("unzstd%d", i))
			os.MkdirAll(zdir, 0o755)
			zxr := run("tar -I zstd -xf", "tar", "-I", "zstd -d", "-xf", zFile, "-C", zdir)
			scr := run("sha256sum; tar -cf", "sh", "-c", fmt.Sprintf("xargs sha256sum <%s >/dev/null && tar -cf %s.2 -T %s", list, tarFile, list))
			sdir := filepath.Join(tmp, fmt.Sprintf("unsha%d", i))
			os.MkdirAll(sdir, 0o755)
			sxr := run("tar -xf; sha256sum", "sh", "-c", fmt.Sprintf("tar -xf %s -C %s && cd %s && xargs sha256sum <%s >/dev/null", tarFile, sdir, sdir, list))
			zc, zx, sc, sx = append(zc, zcr), append(zx, zxr), append(sc, scr), append(sx, sxr)
			ctxLine = fmt.Sprintf("; context: tar -I zstd -cf %.2fs -xf %.2fs, sha256sum+tar -cf %.2fs, tar -xf+sha256sum %.2fs", zcr, zxr, scr, sxr)
			for _, p := range []string{zFile, tarFile + ".2"} {
				os.Remove(p)
			}
			os.RemoveAll(zdir)
			os.RemoveAll(sdir)
		}
		b.Logf("round %d: export %.2fs, tar -cf %.2fs (ratio %.2f); import %.2fs, tar -xf %.2fs (ratio %.2f); CPU-s: export %.2f, tar -cf %.2f, import %.2f, tar -xf %.2f%s; %s",
			i, e, tc, e/tc, im, tx, im/tx, ec, tcc, ic, txc, ctxLine, meter)
		os.Remove(out)
		os.Remove(tarFile)
		os.RemoveAll(dst)
		os.RemoveAll(xdir)
	}
	b.StopTimer()
	b.Logf("export s/round %s; tar -cf %s; import %s; tar -xf %s; load average after: %s", secs(exp), secs(tarc), secs(imp), secs(tarx), loadAvg())
	b.Logf("CPU-s medians: export %.2f, tar -cf %.2f (ratio %.2f); import %.2f, tar -xf %.2f (ratio %.2f)",
		median(expCPU), median(tarcCPU), median(expCPU)/median(tarcCPU), median(impCPU), median(tarxCPU), median(impCPU)/median(tarxCPU))
	if ctxRows {
		b.Logf("context medians: export/(tar -I zstd -cf) %.2f, import/(tar -I zstd -xf) %.2f, export/(sha256sum+tar -cf) %.2f, import/(tar -xf+sha256sum) %.2f",
			median(exp)/median(zc), median(imp)/median(zx), median(exp)/median(sc), median(imp)/median(sx))
	}
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(median(exp), "s/export")
	b.ReportMetric(median(imp), "s/import")
	b.ReportMetric(median(expRatio), "ratio-export")
	b.ReportMetric(median(impRatio), "ratio-import")
	b.ReportMetric(median(expCPU), "cpu-s/export")
	b.ReportMetric(median(impCPU), "cpu-s/import")
}

// sumdbNameOf is the checksum database the setup verifies against:
// `go env GOSUMDB` when a kept setup is reused, else the real upstream's.
func sumdbNameOf(b *testing.B) string {
	if dir := os.Getenv("GOMIRROR_BENCH_BUNDLE_DIR"); dir != "" {
		if _, err := os.Stat(filepath.Join(dir, "mods.json")); err == nil {
			return goEnvValue(b, "GOSUMDB")
		}
	}
	_, name := realUpstream(b)
	return name
}

// bundleSetup returns the module versions a store filled with bigproject
// holds, the files of the store the rounds export from (dir/names: the
// first bundle imported, holding exactly the bundle's files), and how many
// artifacts an import adds. It reuses dir's setup if it has one.
func bundleSetup(b *testing.B, dir string, db *sumdb.DB) (mods []bundle.Module, names []string, added int) {
	ctx := context.Background()
	modsFile := filepath.Join(dir, "mods.json")
	if data, err := os.ReadFile(modsFile); err == nil {
		var saved struct {
			Mods  []bundle.Module
			Added int
		}
		if err := json.Unmarshal(data, &saved); err != nil {
			b.Fatal(err)
		}
		mods, added = saved.Mods, saved.Added
	} else {
		up, sumdbName := realUpstream(b)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			b.Fatal(err)
		}
		tmp := workDir(b)
		store := filepath.Join(tmp, "storage")
		m := startMirror(b, tmp, "--storage-dir", store, "--upstream", up, "--sumdb", sumdbName)
		setup := downloadBig(b, tmp, m.URL, sumdbName, "setup fill through gomirror", m.Pid())
		if setup.zips < 150 {
			b.Fatalf("the fill downloaded %d zips, want at least 150", setup.zips)
		}
		st, err := fsstore.New(store)
		if err != nil {
			b.Fatal(err)
		}
		// The module versions the store holds: a .mod each, a .zip for
		// those in the build list.
		err = filepath.WalkDir(store, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(p, ".mod") {
				return err
			}
			rel, _ := filepath.Rel(store, p)
			mv, k, err := layout.Parse(filepath.ToSlash(rel))
			if err != nil || k != layout.Mod {
				return nil
			}
			_, zerr := os.Stat(strings.TrimSuffix(p, ".mod") + ".zip")
			mods = append(mods, bundle.Module{Path: mv.Path, Version: mv.Version, ModOnly: zerr != nil})
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		// An untimed export through the mirror stores the tiles it lacked.
		first := filepath.Join(dir, "first.bundle")
		if err := exportBundle(ctx, first, st, mods, db, bundle.MirrorFetcher{URL: m.URL}); err != nil {
			b.Fatal(err)
		}
		m.stop(b)
		// The rounds export from a store holding exactly the bundle's
		// files (the mirror does not store every tile it passes through),
		// which tar archives too.
		namesStore, err := fsstore.New(filepath.Join(dir, "names"))
		if err != nil {
			b.Fatal(err)
		}
		rep, err := bundle.Import(ctx, mustOpen(b, first), bundle.ImportOptions{Storage: namesStore, DB: db})
		if err != nil {
			b.Fatal(err)
		}
		added = rep.Added
		data, _ := json.Marshal(struct {
			Mods  []bundle.Module
			Added int
		}{mods, added})
		if err := os.WriteFile(modsFile, data, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	root := filepath.Join(dir, "names")
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && !strings.Contains(p, "/.gomirror/") && !strings.HasSuffix(p, "hash") && !strings.HasSuffix(p, "/supported") {
			rel, _ := filepath.Rel(root, p)
			names = append(names, rel)
		}
		return nil
	})
	return mods, names, added
}

func exportBundle(ctx context.Context, out string, st *fsstore.Store, mods []bundle.Module, db *sumdb.DB, fetch bundle.Fetcher) error {
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	opts := bundle.ExportOptions{Storage: st, DB: db}
	if fetch != nil {
		opts.Fetch = fetch
	}
	_, err = bundle.Export(ctx, f, mods, opts)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func mustOpen(b *testing.B, name string) *os.File {
	f, err := os.Open(name)
	if err != nil {
		b.Fatal(err)
	}
	return f
}
