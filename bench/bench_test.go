package bench

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gomirror/gomirror/internal/fakeproxy"
	"github.com/gomirror/gomirror/internal/testutil"
)

// Each benchmark runs its whole protocol (setup, rounds, report) once per
// call and suppresses ns/op: run them with -benchtime 1x (run.sh does).

const (
	warmRounds = 5 // BenchmarkWarmDownload: rounds of each side
	coldRounds = 5 // BenchmarkColdFill and BenchmarkColdModGraph: rounds of each side (real upstream traffic)

	// BenchmarkColdToolchainZip: rounds of each side, and the toolchain whose
	// zip (about 76 MB) the go command fetches for GOTOOLCHAIN.
	toolchainRounds  = 5
	toolchainVersion = "go1.27.3"

	rpsClients  = 64
	rpsRounds   = 3 // alternating 5 s windows of each side
	rpsWarmup   = time.Second
	rpsDuration = 5 * time.Second

	zipClients  = 100
	zipBlobs    = 4        // files of random bytes in the big zip
	zipBlobSize = 25 << 20 // bytes each: a ~100 MB zip
)

// BenchmarkWarmDownload: `go mod download` of bigproject (fresh GOMODCACHE
// each time) from a gomirror whose storage already holds everything, against
// GOPROXY=file://<the same storage dir>, the floor. Target: ratio ≤ 1.3.
func BenchmarkWarmDownload(b *testing.B) {
	up, sumdb := realUpstream(b)
	tmp := workDir(b)
	store := filepath.Join(tmp, "storage")
	m := startMirror(b, tmp, "--storage-dir", store, "--upstream", up, "--sumdb", sumdb)

	setup := downloadBig(b, tmp, m.URL, sumdb, "setup fill through gomirror", m.Pid())
	fill, zips := setup.wall, setup.zips
	if zips < 150 {
		b.Fatalf("the fill downloaded %d zips, want at least 150", zips)
	}
	b.Logf("load average before the rounds: %s", loadAvg())
	b.Logf("setup: filled storage with %d zips through gomirror in %.1fs; mirror log: %s", zips, fill.Seconds(), m.stats(0))
	fileURL := "file://" + filepath.ToSlash(store)
	offset := m.logSize()

	b.ResetTimer()
	var mir, base []float64
	for i := range warmRounds {
		d := downloadBig(b, tmp, m.URL, sumdb, fmt.Sprintf("round %d gomirror", i), m.Pid())
		if d.zips != zips {
			b.Errorf("round %d: %d zips through gomirror, want %d", i, d.zips, zips)
		}
		mir = append(mir, d.wall.Seconds())
		d = downloadBig(b, tmp, fileURL, sumdb, fmt.Sprintf("round %d file://", i), m.Pid())
		if d.zips != zips {
			b.Errorf("round %d: %d zips from file://, want %d", i, d.zips, zips)
		}
		base = append(base, d.wall.Seconds())
	}
	b.StopTimer()

	st := m.stats(offset)
	b.Logf("gomirror s/round %s; file:// s/round %s; load average after: %s", secs(mir), secs(base), loadAvg())
	b.Logf("mirror log during the timed rounds: %s", st)
	b.Logf("mirror request durations during the timed rounds: %s", st.durationSummary())
	if up := st.Cache["miss"] + st.Cache["fresh"] + st.Cache["stale"]; up > 0 {
		b.Logf("PROBLEM: gomirror asked the upstream %d times although everything was stored", up)
	}
	if n := st.count5xx(); n > 0 {
		b.Errorf("gomirror answered %d requests with a 5xx during the timed rounds", n)
	}
	reportRatio(b, mir, base)
}

// BenchmarkColdFill: `go mod download` of bigproject through a fresh gomirror
// with empty storage in front of the real upstream (verifying everything
// against the checksum database), against the go command fetching from that
// upstream itself. Fresh GOMODCACHE each time. Target: ratio ≤ 1.1.
func BenchmarkColdFill(b *testing.B) {
	up, sumdb := realUpstream(b)
	tmp := workDir(b)
	b.Logf("load average before the rounds: %s", loadAvg())

	baseBin := optionalBaseBinary(b)
	b.ResetTimer()
	var mir, base, floor, serverCPU, other, otherCPU []float64
	zips := -1
	cores := runtime.NumCPU()
	for i := range coldRounds {
		if baseBin != "" {
			d := baseArmRound(b, baseBin, tmp, up, sumdb, i, func(url, label string, pid int) download {
				return downloadBig(b, tmp, url, sumdb, label, pid)
			})
			other, otherCPU = append(other, d.wall.Seconds()), append(otherCPU, d.serverCPU)
		}
		store, err := os.MkdirTemp(tmp, "storage-*")
		if err != nil {
			b.Fatal(err)
		}
		m := startMirror(b, tmp, "--storage-dir", store, "--upstream", up, "--sumdb", sumdb)
		dm := downloadBig(b, tmp, m.URL, sumdb, fmt.Sprintf("round %d gomirror", i), m.Pid())
		fetches := m.upstreamFetchTimes()
		m.stop(b) // waits for background checksum lookups, outside the timing
		if i == 0 {
			// Every stored zip, hashed while it streamed in, hashes the
			// same with dirhash.HashZip over the stored file (which
			// gomirror verify checks against the checksum database).
			b.Logf("round 0 store, gomirror verify: %s", verifyStore(b, "", store, up, "--sumdb", sumdb))
		}
		st := m.stats(0)
		lookups, tiles := sumdbFiles(store)
		b.Logf("round %d gomirror log: %s", i, st)
		b.Logf("round %d gomirror request durations: %s", i, st.durationSummary())
		b.Logf("round %d gomirror upstream fetches: %s; checksum database: %d lookups, %d tiles stored", i, fetches, lookups, tiles)
		if c := st.count5xx(); c > 0 {
			b.Errorf("round %d: gomirror answered %d requests with a 5xx", i, c)
		}
		if zips < 0 {
			zips = dm.zips
		} else if dm.zips != zips {
			b.Errorf("round %d: %d zips through gomirror, want %d", i, dm.zips, zips)
		}
		mir = append(mir, dm.wall.Seconds())
		serverCPU = append(serverCPU, dm.serverCPU)

		du := downloadBig(b, tmp, up, sumdb, fmt.Sprintf("round %d upstream", i))
		if du.zips != zips {
			b.Errorf("round %d: %d zips from the upstream, want %d", i, du.zips, zips)
		}
		base = append(base, du.wall.Seconds())

		// gomirror and the go command share this machine's cores, so the
		// mirrored download cannot take less wall time than their CPU
		// time spread over all cores, however well gomirror overlapped
		// its work with the client's.
		cpu := dm.goCPU + dm.serverCPU
		f := max(1, cpu/float64(cores)/du.wall.Seconds())
		floor = append(floor, f)
		b.Logf("round %d CPU floor: the mirrored download used %.2f CPU-s (go command %.2f, gomirror %.2f; the go command alone from the upstream: %.2f), so on %d cores it takes at least %.2fs: %.3f× the upstream's %.2fs before any added latency",
			i, cpu, dm.goCPU, dm.serverCPU, du.goCPU, cores, cpu/float64(cores), f, du.wall.Seconds())
	}
	b.StopTimer()

	var ratios []float64
	for i := range mir {
		ratios = append(ratios, mir[i]/base[i])
	}
	b.Logf("gomirror s/round %s; upstream s/round %s; ratio/round %s; CPU floor ratio/round %s; load average after: %s", secs(mir), secs(base), secs(ratios), secs(floor), loadAvg())
	reportRatio(b, mir, base)
	b.ReportMetric(median(ratios), "round-ratio")
	b.ReportMetric(median(floor), "cpu-floor")
	b.ReportMetric(median(serverCPU), "cpu-s/gomirror")
	reportBaseArm(b, mir, base, other, otherCPU)
}

// baseArmRound runs round i of the third arm of a cold benchmark, the
// gomirror built from GOMIRROR_BENCH_BASE (bin): a fresh one with fresh
// storage in front of up and sumdb, measured by run as the other arms are
// (with its label and pid), checked for 5xx answers, stopped, and its
// storage removed.
func baseArmRound(b *testing.B, bin, tmp, up, sumdb string, i int, run func(url, label string, pid int) download) download {
	b.Helper()
	store, err := os.MkdirTemp(tmp, "storage-*")
	if err != nil {
		b.Fatal(err)
	}
	m := startMirrorBinary(b, bin, tmp, "--storage-dir", store, "--upstream", up, "--sumdb", sumdb)
	d := run(m.URL, fmt.Sprintf("round %d base", i), m.Pid())
	m.stop(b)
	if c := m.stats(0).count5xx(); c > 0 {
		b.Errorf("round %d: base answered %d requests with a 5xx", i, c)
	}
	if err := removeTree(store); err != nil {
		b.Logf("removing round %d's storage: %v", i, err)
	}
	return d
}

// reportBaseArm reports the third arm of a cold benchmark run with
// GOMIRROR_BENCH_BASE (other: its seconds per round, otherCPU: its CPU
// seconds per fill), if there was one: the medians of its per-round ratio
// to the upstream and of gomirror's per-round ratio to it, and its CPU.
func reportBaseArm(b *testing.B, mir, up, other, otherCPU []float64) {
	if len(other) == 0 {
		return
	}
	var toUp, mirToOther []float64
	for i := range other {
		toUp = append(toUp, other[i]/up[i])
		mirToOther = append(mirToOther, mir[i]/other[i])
	}
	b.Logf("base s/round %s; base/upstream per round %s; gomirror/base per round %s; base CPU-s/round %s",
		secs(other), secs(toUp), secs(mirToOther), secs(otherCPU))
	b.ReportMetric(median(toUp), "base-round-ratio")
	b.ReportMetric(median(mirToOther), "vs-base-round-ratio")
	b.ReportMetric(median(otherCPU), "cpu-s/base")
}

// BenchmarkColdModGraph: the .mod phase of a cold fill. `go list -m all`
// in bigproject with a fresh module cache needs the go.mod of every module
// in the graph and nothing else; through a fresh gomirror each .mod is a
// miss that waits for its checksum database lookup (and tiles) as well as
// the upstream, while the go command straight from the upstream checks
// them against go.sum. Alternating rounds; reported: the median of the
// per-round ratios, and gomirror's request durations for .mod.
func BenchmarkColdModGraph(b *testing.B) {
	up, sumdb := realUpstream(b)
	tmp := workDir(b)
	b.Logf("load average before the rounds: %s", loadAvg())
	run := func(proxy, label string, pids ...int) download {
		d, out := timedGo(b, tmp, bigProject(b), goEnv(proxy, sumdb), []string{"list", "-m", "all"}, pids...)
		b.Logf("%s: %.2fs, %d modules; CPU: go command %.2fs%s; %s", label, d.wall.Seconds(), strings.Count(out, "\n"), d.goCPU, serverCPU(d, pids), d.meter)
		return d
	}
	baseBin := optionalBaseBinary(b)
	b.ResetTimer()
	var mir, base, ratios, other, otherCPU []float64
	for i := range coldRounds {
		if baseBin != "" {
			d := baseArmRound(b, baseBin, tmp, up, sumdb, i, func(url, label string, pid int) download { return run(url, label, pid) })
			other, otherCPU = append(other, d.wall.Seconds()), append(otherCPU, d.serverCPU)
		}
		store, err := os.MkdirTemp(tmp, "storage-*")
		if err != nil {
			b.Fatal(err)
		}
		m := startMirror(b, tmp, "--storage-dir", store, "--upstream", up, "--sumdb", sumdb)
		dm := run(m.URL, fmt.Sprintf("round %d gomirror", i), m.Pid())
		fetches := m.upstreamFetchTimes()
		m.stop(b)
		st := m.stats(0)
		lookups, tiles := sumdbFiles(store)
		b.Logf("round %d gomirror log: %s; %s", i, st, st.durationSummary())
		b.Logf("round %d gomirror upstream fetches: %s; checksum database: %d lookups, %d tiles stored", i, fetches, lookups, tiles)
		if c := st.count5xx(); c > 0 {
			b.Errorf("round %d: gomirror answered %d requests with a 5xx", i, c)
		}
		du := run(up, fmt.Sprintf("round %d upstream", i))
		mir, base = append(mir, dm.wall.Seconds()), append(base, du.wall.Seconds())
		ratios = append(ratios, dm.wall.Seconds()/du.wall.Seconds())
	}
	b.StopTimer()
	b.Logf("gomirror s/round %s; upstream s/round %s; ratio/round %s; load average after: %s", secs(mir), secs(base), secs(ratios), loadAvg())
	reportRatio(b, mir, base)
	b.ReportMetric(median(ratios), "round-ratio")
	reportBaseArm(b, mir, base, other, otherCPU)
}

// BenchmarkColdToolchainZip: `GOTOOLCHAIN=go1.27.3 go version` with a fresh
// module cache, which downloads one large zip (the toolchain module, about
// 76 MB) and its checksum lookup: through a fresh gomirror with empty
// storage, against straight from the upstream, alternating. The go command
// takes the download's time, so the ratio is what a cold zip costs through
// the mirror: the whole download, its checks, and whatever of them comes
// after the upstream's last byte. Reported: the median of the per-round
// ratios (the upstream's speed drifts within minutes) and gomirror's CPU
// seconds per fill.
func BenchmarkColdToolchainZip(b *testing.B) {
	up, sumdb := realUpstream(b)
	tmp := workDir(b)
	b.Logf("load average before the rounds: %s", loadAvg())
	env := func(proxy string) []string {
		e := goEnv(proxy, sumdb)
		return append(e[:len(e):len(e)], "GOTOOLCHAIN="+toolchainVersion) // the last GOTOOLCHAIN wins
	}
	run := func(proxy, label string, pids ...int) download {
		d, out := timedGo(b, tmp, tmp, env(proxy), []string{"version"}, pids...)
		if !strings.Contains(out, toolchainVersion+" ") {
			b.Fatalf("%s: go version printed %q, not %s's", label, out, toolchainVersion)
		}
		b.Logf("%s: %.2fs; CPU: go command %.2fs%s; %s", label, d.wall.Seconds(), d.goCPU, serverCPU(d, pids), d.meter)
		return d
	}

	baseBin := optionalBaseBinary(b)
	b.ResetTimer()
	var mir, base, ratios, cpu, other, otherCPU []float64
	for i := range toolchainRounds {
		if baseBin != "" {
			d := baseArmRound(b, baseBin, tmp, up, sumdb, i, func(url, label string, pid int) download { return run(url, label, pid) })
			other, otherCPU = append(other, d.wall.Seconds()), append(otherCPU, d.serverCPU)
		}
		store, err := os.MkdirTemp(tmp, "storage-*")
		if err != nil {
			b.Fatal(err)
		}
		m := startMirror(b, tmp, "--storage-dir", store, "--upstream", up, "--sumdb", sumdb)
		dm := run(m.URL, fmt.Sprintf("round %d gomirror", i), m.Pid())
		m.stop(b)
		st := m.stats(0)
		b.Logf("round %d gomirror log: %s; %s", i, st, st.durationSummary())
		if c := st.count5xx(); c > 0 {
			b.Errorf("round %d: gomirror answered %d requests with a 5xx", i, c)
		}
		du := run(up, fmt.Sprintf("round %d upstream", i))
		if err := removeTree(store); err != nil {
			b.Logf("removing round %d's storage: %v", i, err)
		}
		mir, base = append(mir, dm.wall.Seconds()), append(base, du.wall.Seconds())
		ratios = append(ratios, dm.wall.Seconds()/du.wall.Seconds())
		cpu = append(cpu, dm.serverCPU)
	}
	b.StopTimer()

	b.Logf("gomirror s/round %s; upstream s/round %s; ratio/round %s; gomirror CPU-s/round %s; load average after: %s",
		secs(mir), secs(base), secs(ratios), secs(cpu), loadAvg())
	reportRatio(b, mir, base)
	b.ReportMetric(median(ratios), "round-ratio")
	b.ReportMetric(median(cpu), "cpu-s/gomirror")
	reportBaseArm(b, mir, base, other, otherCPU)
}

// BenchmarkCachedInfoRPS: 64 keep-alive clients hammer stored .info files for
// 5 s, through gomirror and through a plain http.FileServer over the same
// storage dir (in the benchmark process), alternating, 3 windows each;
// medians are reported. No fixed target; the ratio of throughputs is tracked.
func BenchmarkCachedInfoRPS(b *testing.B) {
	up := fakeproxy.New(b)
	var paths []string
	for i := range 8 {
		p := fmt.Sprintf("example.com/bench/info%d", i)
		if _, err := up.Add(p, "v1.0.0", map[string][]byte{
			"go.mod": fmt.Appendf(nil, "module %s\n\ngo 1.21\n", p),
			"x.go":   []byte("package x\n"),
		}); err != nil {
			b.Fatal(err)
		}
		paths = append(paths, "/"+p+"/@v/v1.0.0.info")
	}
	tmp := workDir(b)
	store := filepath.Join(tmp, "storage")
	m := startMirror(b, tmp, "--storage-dir", store, "--upstream", up.URL, "--sumdb", up.DBKey)
	fsURL := fileServer(b, store)

	// Fill once, then check both servers give the same bytes. gomirror
	// answers a filled .info before its background write lands on disk,
	// so wait for the file before asking the file server.
	for _, p := range paths {
		a := get(b, m.URL+p)
		waitForFile(b, filepath.Join(store, filepath.FromSlash(p)))
		b1 := get(b, fsURL+p)
		if !bytes.Equal(a, b1) {
			b.Fatalf("%s: gomirror served %q, the file server %q", p, a, b1)
		}
	}
	offset := m.logSize()

	run := func(name, base string) *loadResult {
		urls := make([]string, len(paths))
		for i, p := range paths {
			urls[i] = base + p
		}
		tr := &http.Transport{MaxIdleConns: rpsClients, MaxIdleConnsPerHost: rpsClients, DisableCompression: true}
		defer tr.CloseIdleConnections()
		client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
		hammer(client, urls, rpsClients, rpsWarmup)
		meter := startCPU(m.Pid())
		r := hammer(client, urls, rpsClients, rpsDuration)
		b.Logf("%s window: %s", name, meter)
		return r
	}

	b.ResetTimer()
	var mr, fr []*loadResult
	for range rpsRounds {
		mr = append(mr, run("gomirror", m.URL))
		fr = append(fr, run("fileserver", fsURL))
	}
	b.StopTimer()

	st := m.stats(offset)
	failed := 0
	for i := range rpsRounds {
		for _, x := range []struct {
			name string
			r    *loadResult
		}{{"gomirror", mr[i]}, {"fileserver", fr[i]}} {
			r := x.r
			failed += r.Failed
			b.Logf("round %d %s: %d ok, %d failed in %.2fs: %.0f req/s, p50 %.3fms, p99 %.3fms, max %.3fms; first error: %q",
				i, x.name, r.OK, r.Failed, r.Elapsed.Seconds(), r.RPS(), ms(r.Percentile(0.5)), ms(r.Percentile(0.99)), ms(r.Percentile(1)), r.FirstErr)
		}
	}
	b.Logf("mirror log during the load: %s", st)
	b.Logf("load average at the end: %s", loadAvg())
	if failed > 0 {
		b.Errorf("%d requests failed", failed)
	}
	if n := st.Requests - st.Cache["hit"]; n > 0 {
		b.Logf("PROBLEM: %d of %d requests were not cache hits", n, st.Requests)
	}
	med := func(rs []*loadResult, f func(r *loadResult) float64) float64 {
		var xs []float64
		for _, r := range rs {
			xs = append(xs, f(r))
		}
		return median(xs)
	}
	rps := func(r *loadResult) float64 { return r.RPS() }
	p50 := func(r *loadResult) float64 { return ms(r.Percentile(0.5)) }
	p99 := func(r *loadResult) float64 { return ms(r.Percentile(0.99)) }
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(med(mr, rps), "req/s")
	b.ReportMetric(med(fr, rps), "req/s-baseline")
	b.ReportMetric(med(mr, rps)/med(fr, rps), "ratio")
	b.ReportMetric(med(mr, p50), "ms-p50")
	b.ReportMetric(med(mr, p99), "ms-p99")
	b.ReportMetric(med(fr, p50), "ms-p50-baseline")
	b.ReportMetric(med(fr, p99), "ms-p99-baseline")
}

// BenchmarkSameZip100Clients: 100 concurrent clients GET the same ~100 MB
// module zip from gomirror, first with the zip not yet stored (one fill from
// a fake upstream, verified against its checksum database), then again with
// it stored. The mirror's peak RSS growth over its RSS before each round is
// the figure: target < 50 MB. Aggregate throughput is reported for both, and
// the warm round is compared with http.FileServer over the same storage dir.
func BenchmarkSameZip100Clients(b *testing.B) {
	up := fakeproxy.New(b)
	const modPath, version = "example.com/bench/big", "v1.0.0"
	files := map[string][]byte{"go.mod": []byte("module " + modPath + "\n\ngo 1.21\n")}
	rng := rand.NewChaCha8([32]byte{'g', 'o', 'm', 'i', 'r', 'r', 'o', 'r'})
	for i := range zipBlobs {
		blob := make([]byte, zipBlobSize)
		rng.Read(blob)
		files[fmt.Sprintf("data/blob%d.bin", i)] = blob
	}
	mod, err := up.Add(modPath, version, files)
	if err != nil {
		b.Fatal(err)
	}
	clear(files)
	zipLen := int64(len(mod.Zip))
	zipPath := "/" + modPath + "/@v/" + version + ".zip"

	tmp := workDir(b)
	store := filepath.Join(tmp, "storage")
	m := startMirror(b, tmp, "--storage-dir", store, "--upstream", up.URL, "--sumdb", up.DBKey)
	pid := m.Pid()
	get(b, m.URL+"/healthz")
	time.Sleep(200 * time.Millisecond)

	type roundResult struct {
		growthMB, beforeMB, afterMB, mbps float64
		wall, firstByte                   time.Duration
		samples                           int
		hwmReset                          bool
	}
	round := func(name, base string, measureRSS bool) roundResult {
		var r roundResult
		var sampler *rssSampler
		var beforeKB int64
		if measureRSS {
			r.hwmReset = resetHWM(pid)
			var err error
			if beforeKB, _, err = procMem(pid); err != nil {
				b.Fatal(err)
			}
			sampler = sampleRSS(pid, 50*time.Millisecond)
		}
		tr := &http.Transport{MaxIdleConns: zipClients, MaxIdleConnsPerHost: zipClients, DisableCompression: true}
		defer tr.CloseIdleConnections()
		client := &http.Client{Transport: tr, Timeout: 5 * time.Minute}
		gate := make(chan struct{})
		durs := make([]time.Duration, zipClients)
		ttfb := make([]time.Duration, zipClients)
		errs := make([]error, zipClients)
		var wg sync.WaitGroup
		for i := range zipClients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-gate
				t0 := time.Now()
				resp, err := client.Get(base + zipPath)
				if err != nil {
					errs[i] = err
					return
				}
				ttfb[i] = time.Since(t0)
				n, err := io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				durs[i] = time.Since(t0)
				switch {
				case err != nil:
					errs[i] = err
				case resp.StatusCode != http.StatusOK:
					errs[i] = fmt.Errorf("status %d", resp.StatusCode)
				case n != zipLen:
					errs[i] = fmt.Errorf("read %d bytes, want %d", n, zipLen)
				}
			}()
		}
		meter := startCPU(pid)
		t0 := time.Now()
		close(gate)
		wg.Wait()
		r.wall = time.Since(t0)
		b.Logf("%s: %s", name, meter)
		if measureRSS {
			var peakKB int64
			peakKB, r.samples = sampler.stop(r.hwmReset)
			afterKB, _, _ := procMem(pid)
			r.growthMB = float64(peakKB-beforeKB) / 1024
			r.beforeMB, r.afterMB = float64(beforeKB)/1024, float64(afterKB)/1024
		}
		failed := 0
		for i, err := range errs {
			if err != nil {
				if failed == 0 {
					b.Errorf("%s: client %d: %v", name, i, err)
				}
				failed++
			}
		}
		if failed > 0 {
			b.Errorf("%s: %d of %d clients failed", name, failed, zipClients)
		}
		r.mbps = float64(zipClients) * float64(zipLen) / (1 << 20) / r.wall.Seconds()
		slices.Sort(durs)
		slices.Sort(ttfb)
		r.firstByte = ttfb[0]
		b.Logf("%s: %d clients × %.1f MB in %.2fs = %.0f MB/s; per client: first byte after min %.2fs median %.2fs max %.2fs, done after min %.2fs median %.2fs max %.2fs; load average %s",
			name, zipClients, float64(zipLen)/(1<<20), r.wall.Seconds(), r.mbps,
			ttfb[0].Seconds(), ttfb[len(ttfb)/2].Seconds(), ttfb[len(ttfb)-1].Seconds(),
			durs[0].Seconds(), durs[len(durs)/2].Seconds(), durs[len(durs)-1].Seconds(), loadAvg())
		if measureRSS {
			b.Logf("%s: gomirror RSS %.1f MB before, peak +%.1f MB (%d samples every 50ms, VmHWM reset: %v), %.1f MB after",
				name, r.beforeMB, r.growthMB, r.samples, r.hwmReset, r.afterMB)
		}
		return r
	}

	b.ResetTimer()
	cold := round("cold", m.URL, true)
	if h := up.Hits(zipPath); h != 1 {
		b.Errorf("the upstream was asked for the zip %d times, want 1 (one fill for all clients)", h)
	}
	warm := round("warm", m.URL, true)
	if h := up.Hits(zipPath); h != 1 {
		b.Errorf("after the warm round the upstream had been asked for the zip %d times, want 1", h)
	}
	fsRound := round("fileserver", fileServer(b, store), false)
	b.StopTimer()

	st := m.stats(0)
	b.Logf("mirror log: %s", st)
	if n := st.count5xx(); n > 0 {
		b.Errorf("gomirror answered %d requests with a 5xx", n)
	}
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(cold.growthMB, "MB-rss-growth")
	b.ReportMetric(warm.growthMB, "MB-rss-growth-warm")
	b.ReportMetric(cold.mbps, "MB/s")
	b.ReportMetric(warm.mbps, "MB/s-warm")
	b.ReportMetric(fsRound.mbps, "MB/s-baseline")
	b.ReportMetric(warm.mbps/fsRound.mbps, "ratio")
	b.ReportMetric(cold.firstByte.Seconds(), "s/fill")
}

// get returns the body of a 200 answer to url.
func get(b *testing.B, url string) []byte {
	b.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		b.Fatal(err)
	}
	status, _, body := testutil.Do(b, nil, req)
	if status != http.StatusOK {
		b.Fatalf("GET %s: %d\n%s", url, status, body)
	}
	return []byte(body)
}

// waitForFile polls until path exists, for at most 10 seconds.
func waitForFile(b *testing.B, path string) {
	b.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(path); err == nil {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("%s did not appear within 10s", path)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// reportRatio reports the medians of the mirror's and the baseline's round
// times and their ratio.
func reportRatio(b *testing.B, mir, base []float64) {
	mm, bm := median(mir), median(base)
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(mm, "s/mirror")
	b.ReportMetric(bm, "s/baseline")
	b.ReportMetric(mm/bm, "ratio")
}
