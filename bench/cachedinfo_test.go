package bench

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

const (
	infoRounds  = 4           // BenchmarkCachedInfo: alternating rounds of each side
	infoConns   = 64          // wrk connections
	infoThreads = 2           // wrk threads
	infoWarmup  = time.Second // untimed wrk run before each timed one
	// infoStartup is the first round's warm-up instead: a server's start
	// leaves work running in the background for a few seconds
	// (licensecheck's license set, 1-2 CPU-s; the database's opening), CPU
	// that is not the requests'.
	infoStartup  = 5 * time.Second
	infoDuration = 5 * time.Second // timed wrk run
	infoFiles    = 8               // stored .info files, requested round robin
)

// BenchmarkCachedInfo: wrk (a closed-loop load generator in its own
// process) with 64 keep-alive connections GETs 8 stored .info files round
// robin from gomirror, and from a bare net/http server (in the benchmark
// process, which is otherwise idle) that answers the same paths with the
// same bytes and the same headers from a map. Alternating 5 s rounds, each
// after a 1 s untimed warm-up (5 s before the first: the start's
// background work); medians over the rounds. Target: req/s ratio
// (gomirror / bare) ≥ 0.8; the p99 ratio is reported.
//
// GOMIRROR_BENCH_BASE_BINARY=<path of another gomirror build> adds a third
// side, that build, in every round (`ratio-base`, `ms-p99-base`), to
// compare two commits in one run.
func BenchmarkCachedInfo(b *testing.B) {
	wrk, err := exec.LookPath("wrk")
	if err != nil {
		b.Skip("needs wrk (Debian: apt-get install wrk)")
	}
	tmp := workDir(b)
	store := filepath.Join(tmp, "storage")
	var paths []string
	for i := range infoFiles {
		key := fmt.Sprintf("example.com/bench/info%d/@v/v1.0.%d.info", i, i)
		writeStored(b, store, key, fmt.Appendf(nil, `{"Version":"v1.0.%d","Time":"2026-11-28T12:00:00Z"}`, i))
		paths = append(paths, "/"+key)
	}
	args := []string{"--storage-dir", store, "--upstream", "off", "--sumdb", "off"}
	m := startMirror(b, tmp, args...)
	// The same with the audit log off (no database): issue 14's target is
	// gomirror (audit log on, the default) ≥ 0.9 of it.
	noAudit := startMirror(b, tmp, append(args, "--database", "off")...)
	sides := []wrkSide{{"gomirror", m.URL, m.Pid()}, {"noaudit", noAudit.URL, noAudit.Pid()}}
	var base *mirror
	if bin := os.Getenv("GOMIRROR_BENCH_BASE_BINARY"); bin != "" {
		baseArgs := args
		// A database of its own: on the one under the storage dir the two
		// would share SQLite's write lock, and a build of another schema
		// version would refuse it (and run with the audit log off).
		if help, _ := exec.Command(bin, "serve", "--help").CombinedOutput(); strings.Contains(string(help), "--database") {
			baseArgs = append(slices.Clone(args), "--database", filepath.Join(tmp, "base.db"))
		}
		base = startMirrorBinary(b, bin, tmp, baseArgs...)
		sides = append(sides, wrkSide{"base", base.URL, base.Pid()})
	}

	// The bare server answers what gomirror answers: same body, same
	// headers (but Date, which net/http sets).
	answers := map[string]bareAnswer{}
	for _, p := range paths {
		resp, err := http.Get(m.URL + p)
		if err != nil {
			b.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			b.Fatalf("%s: status %d, %v", p, resp.StatusCode, err)
		}
		h := resp.Header.Clone()
		h.Del("Date")
		answers[p] = bareAnswer{header: h, body: body}
	}
	bare := bareServer(b, answers)
	sides = append(sides, wrkSide{"bare", bare, 0})
	for _, p := range paths {
		want := answers[p]
		for _, s := range sides[1:] {
			resp, err := http.Get(s.url + p)
			if err != nil {
				b.Fatal(err)
			}
			got, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if !bytes.Equal(got, want.body) || resp.Header.Get("ETag") != want.header.Get("ETag") {
				b.Fatalf("%s: %s answered %q (ETag %s), gomirror %q (ETag %s)", p, s.name, got, resp.Header.Get("ETag"), want.body, want.header.Get("ETag"))
			}
		}
	}
	script := filepath.Join(tmp, "paths.lua")
	if err := os.WriteFile(script, []byte(wrkScript(paths)), 0o644); err != nil {
		b.Fatal(err)
	}
	offset := m.logSize()

	b.ResetTimer()
	results := interleavedRounds(b, wrk, script, sides)
	b.StopTimer()

	st := m.stats(offset)
	b.Logf("gomirror log during the load: %s", st)
	b.Logf("load average at the end: %s", loadAvg())
	if n := st.Requests - st.Cache["hit"]; n > 0 {
		b.Logf("PROBLEM: %d of %d requests were not cache hits", n, st.Requests)
	}
	med := func(name string, f func(r *wrkResult) float64) float64 { return medianOf(results[name], f) }
	rps := func(r *wrkResult) float64 { return r.rps }
	p50 := func(r *wrkResult) float64 { return r.p50 }
	p99 := func(r *wrkResult) float64 { return r.p99 }
	cpu := func(r *wrkResult) float64 { return r.cpuPerReq }
	// Per-round ratios too: the rounds alternate, so a round's ratio
	// compares neighbours in time.
	var ratios []string
	for i := range infoRounds {
		ratios = append(ratios, fmt.Sprintf("%.3f", results["gomirror"][i].rps/results["bare"][i].rps))
	}
	b.Logf("per-round req/s ratios gomirror/bare: %s", strings.Join(ratios, " "))
	ratios = ratios[:0]
	for i := range infoRounds {
		ratios = append(ratios, fmt.Sprintf("%.3f", results["gomirror"][i].rps/results["noaudit"][i].rps))
	}
	b.Logf("per-round req/s ratios audit on/off: %s", strings.Join(ratios, " "))
	b.ReportMetric(med("gomirror", rps)/med("noaudit", rps), "ratio-audit")
	// The same ratio from gomirror's CPU per request (off / on): what
	// req/s would be on a machine with nothing else running, less moved
	// by the other load of each round than req/s is.
	b.ReportMetric(med("noaudit", cpu)/med("gomirror", cpu), "ratio-audit-cpu")
	b.ReportMetric(med("noaudit", cpu), "us-cpu/req-noaudit")
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(med("gomirror", rps), "req/s")
	b.ReportMetric(med("bare", rps), "req/s-baseline")
	b.ReportMetric(med("gomirror", rps)/med("bare", rps), "ratio")
	b.ReportMetric(med("gomirror", p50), "ms-p50")
	b.ReportMetric(med("gomirror", p99), "ms-p99")
	b.ReportMetric(med("bare", p50), "ms-p50-baseline")
	b.ReportMetric(med("bare", p99), "ms-p99-baseline")
	b.ReportMetric(med("gomirror", p99)/med("bare", p99), "ratio-p99")
	b.ReportMetric(med("gomirror", cpu), "us-cpu/req")
	b.ReportMetric(med("bare", cpu), "us-cpu/req-baseline")
	if base != nil {
		b.ReportMetric(med("base", rps), "req/s-base")
		b.ReportMetric(med("base", rps)/med("bare", rps), "ratio-base")
		b.ReportMetric(med("base", p99), "ms-p99-base")
		b.ReportMetric(med("base", p99)/med("bare", p99), "ratio-p99-base")
		b.ReportMetric(med("base", cpu), "us-cpu/req-base")
	}
}

// bareAnswer is what the bare server answers for one path.
type bareAnswer struct {
	header http.Header
	body   []byte
}

// bareServer serves answers on a loopback port until the benchmark ends:
// a map lookup, the headers copied, the body written. Any other path is a
// 404.
func bareServer(b *testing.B, answers map[string]bareAnswer) string {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, ok := answers[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		h := w.Header()
		for k, v := range a.header {
			h[k] = v
		}
		w.Write(a.body)
	})}
	go srv.Serve(ln)
	b.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}

// wrkScript is a wrk Lua script that requests paths round robin.
func wrkScript(paths []string) string {
	var sb strings.Builder
	sb.WriteString("local paths = {")
	for i, p := range paths {
		if i > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString(strconv.Quote(p))
	}
	sb.WriteString("}\nlocal i = 0\nrequest = function()\n  i = i + 1\n  return wrk.format(\"GET\", paths[(i % #paths) + 1])\nend\n")
	return sb.String()
}

// wrkResult is what one wrk run reported.
type wrkResult struct {
	rps                          float64
	p50, p99                     float64 // ms
	requests, non2xx, socketErrs int
	cpuPerReq                    float64 // µs of the server's CPU time per request
}

// sideCPU is the CPU time, in seconds, of the gomirror process pid, or,
// for pid 0, of the benchmark process itself (the bare server: wrk is a
// child, not counted, and the process does nothing else meanwhile).
func sideCPU(pid int) float64 {
	if pid != 0 {
		return procCPU(pid)
	}
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return tv(ru.Utime) + tv(ru.Stime)
}

var (
	wrkRPS      = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	wrkPct      = regexp.MustCompile(`(?m)^\s+(50|99)%\s+([0-9.]+)(us|ms|s)\s*$`)
	wrkRequests = regexp.MustCompile(`([0-9]+) requests in`)
	wrkNon2xx   = regexp.MustCompile(`Non-2xx or 3xx responses: ([0-9]+)`)
	wrkSockErr  = regexp.MustCompile(`Socket errors: connect ([0-9]+), read ([0-9]+), write ([0-9]+), timeout ([0-9]+)`)
)

// runWrk runs wrk with infoThreads threads and infoConns connections
// against base for d and parses its report.
func runWrk(b *testing.B, wrk, script, base string, d time.Duration) *wrkResult {
	b.Helper()
	out, err := exec.Command(wrk, "-t", strconv.Itoa(infoThreads), "-c", strconv.Itoa(infoConns),
		"-d", fmt.Sprintf("%.0fs", d.Seconds()), "--latency", "-s", script, base).CombinedOutput()
	if err != nil {
		b.Fatalf("wrk: %v\n%s", err, out)
	}
	s := string(out)
	r := &wrkResult{}
	mm := wrkRPS.FindStringSubmatch(s)
	if mm == nil {
		b.Fatalf("no Requests/sec in wrk's output:\n%s", s)
	}
	r.rps, _ = strconv.ParseFloat(mm[1], 64)
	for _, pm := range wrkPct.FindAllStringSubmatch(s, -1) {
		v, _ := strconv.ParseFloat(pm[2], 64)
		switch pm[3] {
		case "us":
			v /= 1000
		case "s":
			v *= 1000
		}
		if pm[1] == "50" {
			r.p50 = v
		} else {
			r.p99 = v
		}
	}
	if mm := wrkRequests.FindStringSubmatch(s); mm != nil {
		r.requests, _ = strconv.Atoi(mm[1])
	}
	if mm := wrkNon2xx.FindStringSubmatch(s); mm != nil {
		r.non2xx, _ = strconv.Atoi(mm[1])
	}
	if mm := wrkSockErr.FindStringSubmatch(s); mm != nil {
		for _, x := range mm[1:] {
			n, _ := strconv.Atoi(x)
			r.socketErrs += n
		}
	}
	return r
}

// wrkSide is one server that an interleaved wrk benchmark loads; pid is
// its process (0: in this process, whose CPU is not measured).
type wrkSide struct {
	name string
	url  string
	pid  int
}

// interleavedRounds runs infoRounds rounds of wrk with script, each
// loading every side in turn for infoDuration after a warm-up (infoStartup
// before a side's first round, infoWarmup before the others), so that a
// round's sides are neighbours in time on a noisy machine. A result's
// cpuPerReq is its side's server CPU per request; a round with errors or
// no request is a PROBLEM. The results are each side's, in round order.
func interleavedRounds(b *testing.B, wrk, script string, sides []wrkSide) map[string][]*wrkResult {
	b.Helper()
	results := map[string][]*wrkResult{}
	for round := range infoRounds {
		for _, s := range sides {
			warmup := infoWarmup
			if round == 0 {
				warmup = infoStartup
			}
			runWrk(b, wrk, script, s.url, warmup)
			var pids []int
			if s.pid != 0 {
				pids = append(pids, s.pid)
			}
			meter := startCPU(pids...)
			cpu0 := sideCPU(s.pid)
			r := runWrk(b, wrk, script, s.url, infoDuration)
			if r.requests > 0 {
				r.cpuPerReq = (sideCPU(s.pid) - cpu0) / float64(r.requests) * 1e6
			}
			b.Logf("round %d %s: %.0f req/s, p50 %.3f ms, p99 %.3f ms, %d requests, %d not 2xx, %d socket errors; server CPU %.1f µs per request; %s",
				round, s.name, r.rps, r.p50, r.p99, r.requests, r.non2xx, r.socketErrs, r.cpuPerReq, meter)
			if r.non2xx > 0 || r.socketErrs > 0 || r.requests == 0 {
				b.Errorf("PROBLEM: round %d %s: %d requests, %d not 2xx, %d socket errors", round, s.name, r.requests, r.non2xx, r.socketErrs)
			}
			results[s.name] = append(results[s.name], r)
		}
	}
	return results
}

// medianOf is the median of f over rs.
func medianOf(rs []*wrkResult, f func(*wrkResult) float64) float64 {
	xs := make([]float64, 0, len(rs))
	for _, r := range rs {
		xs = append(xs, f(r))
	}
	return median(xs)
}
