package bench

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
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

// mirrorFetcher fetches what a store lacks through a running gomirror.
type mirrorFetcher struct{ url string }

func (f mirrorFetcher) Fetch(ctx context.Context, urlPath string) (io.ReadCloser, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.url+"/"+urlPath, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, fmt.Errorf("%s: %s", urlPath, resp.Status)
	}
	return resp.Body, nil
}

// BenchmarkBundle: `bundle.Export` of every module version a store filled
// with bigproject holds (from a store holding exactly those files) (282 zips, the go.mod-only requirements, their
// checksum database records and tiles) into a bundle file, and
// `bundle.Import` of that bundle (verifying all of it) into an empty
// store, against a plain `tar -cf` of the same files (the bundle's entries,
// uncompressed) and a `tar -xf` of that into an empty directory.
// Interleaved rounds; the ratios are per round. Target: each < 2.
func BenchmarkBundle(b *testing.B) {
	up, sumdbName := realUpstream(b)
	tmp := workDir(b)
	store := filepath.Join(tmp, "storage")
	m := startMirror(b, tmp, "--storage-dir", store, "--upstream", up, "--sumdb", sumdbName)
	setup := downloadBig(b, tmp, m.URL, sumdbName, "setup fill through gomirror", m.Pid())
	if setup.zips < 150 {
		b.Fatalf("the fill downloaded %d zips, want at least 150", setup.zips)
	}
	db, err := sumdb.Parse(sumdbName)
	if err != nil {
		b.Fatal(err)
	}
	st, err := fsstore.New(store)
	if err != nil {
		b.Fatal(err)
	}
	// The module versions the store holds: a .mod each, a .zip for those
	// in the build list.
	var mods []bundle.Module
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
	ctx := context.Background()
	// An untimed export through the mirror stores the tiles it lacked.
	first := filepath.Join(tmp, "first.bundle")
	if err := exportBundle(ctx, first, st, mods, db, mirrorFetcher{m.URL}); err != nil {
		b.Fatal(err)
	}
	m.stop(b)
	// The rounds export from a store holding exactly the bundle's files
	// (the first bundle imported: the mirror does not store every tile it
	// passes through), which tar archives too.
	var names []string
	namesStore, err := fsstore.New(filepath.Join(tmp, "names"))
	if err != nil {
		b.Fatal(err)
	}
	rep, err := bundle.Import(ctx, mustOpen(b, first), bundle.ImportOptions{Storage: namesStore, DB: db})
	if err != nil {
		b.Fatal(err)
	}
	filepath.WalkDir(filepath.Join(tmp, "names"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && !strings.Contains(p, "/.gomirror/") && !strings.HasSuffix(p, "hash") && !strings.HasSuffix(p, "/supported") {
			rel, _ := filepath.Rel(filepath.Join(tmp, "names"), p)
			names = append(names, rel)
		}
		return nil
	})
	list := filepath.Join(tmp, "files.txt")
	if err := os.WriteFile(list, []byte(strings.Join(names, "\n")+"\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	fi, _ := os.Stat(first)
	b.Logf("setup: %d module versions, %d artifacts, %d checksum database files; bundle %d bytes; load average %s",
		len(mods), rep.Added, rep.SumDBAdded, fi.Size(), loadAvg())

	b.ResetTimer()
	var exp, tarc, imp, tarx, expRatio, impRatio []float64
	for i := range bundleRounds {
		out := filepath.Join(tmp, fmt.Sprintf("round%d.bundle", i))
		meter := startCPU()
		t0 := time.Now()
		if err := exportBundle(ctx, out, namesStore, mods, db, nil); err != nil {
			b.Fatal(err)
		}
		e := time.Since(t0).Seconds()
		tarFile := filepath.Join(tmp, fmt.Sprintf("round%d.tar", i))
		t0 = time.Now()
		if out, err := exec.Command("tar", "-cf", tarFile, "-C", filepath.Join(tmp, "names"), "-T", list).CombinedOutput(); err != nil {
			b.Fatalf("tar -cf: %v\n%s", err, out)
		}
		tc := time.Since(t0).Seconds()

		dst := filepath.Join(tmp, fmt.Sprintf("import%d", i))
		dstStore, err := fsstore.New(dst)
		if err != nil {
			b.Fatal(err)
		}
		t0 = time.Now()
		f := mustOpen(b, out)
		r, err := bundle.Import(ctx, f, bundle.ImportOptions{Storage: dstStore, DB: db})
		f.Close()
		if err != nil {
			b.Fatal(err)
		}
		im := time.Since(t0).Seconds()
		if r.Added != rep.Added {
			b.Fatalf("round %d: imported %d artifacts, want %d", i, r.Added, rep.Added)
		}
		xdir := filepath.Join(tmp, fmt.Sprintf("untar%d", i))
		os.MkdirAll(xdir, 0o755)
		t0 = time.Now()
		if out, err := exec.Command("tar", "-xf", tarFile, "-C", xdir).CombinedOutput(); err != nil {
			b.Fatalf("tar -xf: %v\n%s", err, out)
		}
		tx := time.Since(t0).Seconds()
		exp, tarc, imp, tarx = append(exp, e), append(tarc, tc), append(imp, im), append(tarx, tx)
		expRatio, impRatio = append(expRatio, e/tc), append(impRatio, im/tx)
		b.Logf("round %d: export %.2fs, tar -cf %.2fs (ratio %.2f); import %.2fs, tar -xf %.2fs (ratio %.2f); %s",
			i, e, tc, e/tc, im, tx, im/tx, meter)
	}
	b.StopTimer()
	b.Logf("export s/round %s; tar -cf %s; import %s; tar -xf %s; load average after: %s", secs(exp), secs(tarc), secs(imp), secs(tarx), loadAvg())
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(median(exp), "s/export")
	b.ReportMetric(median(imp), "s/import")
	b.ReportMetric(median(expRatio), "ratio-export")
	b.ReportMetric(median(impRatio), "ratio-import")
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
