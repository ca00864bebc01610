package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gomirror/gomirror/internal/testutil"
)

// The gomirror binary, built on first use (go test ./... without -bench
// builds nothing) and removed by TestMain.
var (
	buildOnce   sync.Once
	binDir      string
	gomirrorBin string
	buildErr    error
)

// runDir holds every storage dir, module cache and log of the run. Nothing
// in it is deleted before the run ends: on ext4 without a journal (this
// benchmark machine's root file system) creating files within a minute or
// so of deleting many is several times slower (inode allocation skips
// recently deleted inodes), which would make every round after the first
// pay for the clean-up of the one before.
var (
	runDirOnce sync.Once
	runDir     string
	runDirErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	for _, dir := range []string{binDir, runDir} {
		if dir != "" {
			if err := removeTree(dir); err != nil {
				fmt.Fprintln(os.Stderr, err)
			}
		}
	}
	os.Exit(code)
}

// workDir returns a new directory under runDir, removed when the run ends.
func workDir(b *testing.B) string {
	b.Helper()
	runDirOnce.Do(func() { runDir, runDirErr = os.MkdirTemp("", "gomirror-bench-run-*") })
	if runDirErr != nil {
		b.Fatal(runDirErr)
	}
	dir, err := os.MkdirTemp(runDir, strings.ReplaceAll(b.Name(), "/", "_")+"-*")
	if err != nil {
		b.Fatal(err)
	}
	return dir
}

// binary returns the path of the gomirror binary, building it once.
func binary(b *testing.B) string {
	b.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "gomirror-bench-bin-*")
		if buildErr != nil {
			return
		}
		gomirrorBin = filepath.Join(binDir, "gomirror")
		out, err := exec.Command("go", "build", "-o", gomirrorBin, "../cmd/gomirror").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("building gomirror: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		b.Fatal(buildErr)
	}
	return gomirrorBin
}

// goEnvValue asks the go command for one variable.
func goEnvValue(b *testing.B, name string) string {
	b.Helper()
	return testutil.GoEnv(b, name)
}

// realUpstream returns the first entry of `go env GOPROXY` and the value of
// `go env GOSUMDB`, skipping the benchmark when there is no upstream proxy.
func realUpstream(b *testing.B) (proxyURL, sumdb string) {
	b.Helper()
	if testing.Short() {
		b.Skip("needs the real upstream; skipped in -short mode")
	}
	first, _, _ := strings.Cut(goEnvValue(b, "GOPROXY"), ",")
	first, _, _ = strings.Cut(first, "|")
	first = strings.TrimSpace(first)
	if !strings.HasPrefix(first, "http://") && !strings.HasPrefix(first, "https://") {
		b.Skipf("the first GOPROXY entry %q is not a proxy URL", first)
	}
	sumdb = goEnvValue(b, "GOSUMDB")
	if sumdb == "" || sumdb == "off" {
		b.Skipf("GOSUMDB is %q; these benchmarks need a checksum database", sumdb)
	}
	return first, sumdb
}

// mirror is a running `gomirror serve` process. Its log goes to a file so
// that reading it costs the benchmark process nothing while load runs.
type mirror struct {
	URL     string
	logPath string
	cmd     *exec.Cmd
	done    chan error
	stopped bool
}

var listening = regexp.MustCompile(`msg="gomirror listening" addr=(\S+)`)

// startMirror runs `gomirror serve --listen 127.0.0.1:0 args...`, waits until
// it listens, and stops it at the end of the benchmark.
func startMirror(b *testing.B, logDir string, args ...string) *mirror {
	b.Helper()
	return startMirrorBinary(b, binary(b), logDir, args...)
}

// startMirrorBinary is startMirror with the gomirror binary at bin (another
// build, to compare with).
func startMirrorBinary(b *testing.B, bin, logDir string, args ...string) *mirror {
	b.Helper()
	logf, err := os.CreateTemp(logDir, "gomirror-*.log")
	if err != nil {
		b.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command(bin, append([]string{"serve", "--listen", "127.0.0.1:0"}, args...)...)
	// The vulnerability database off: its refreshes are not the requests
	// measured (a build without the setting ignores the variable).
	cmd.Env = append(os.Environ(), "GOFLAGS=", "GOMIRROR_VULNDB=off")
	cmd.Stdout, cmd.Stderr = logf, logf
	// If the benchmark process dies (a -timeout panic), so does the mirror.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	m := &mirror{logPath: logf.Name(), cmd: cmd, done: make(chan error, 1)}
	go func() { m.done <- cmd.Wait() }()
	b.Cleanup(func() { m.stop(b) })
	deadline := time.Now().Add(30 * time.Second)
	for m.URL == "" {
		logs, _ := os.ReadFile(m.logPath)
		if mm := listening.FindSubmatch(logs); mm != nil {
			m.URL = "http://" + string(mm[1])
			break
		}
		select {
		case err := <-m.done:
			m.stopped = true
			b.Fatalf("gomirror exited before listening: %v\n%s", err, logs)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			b.Fatalf("gomirror did not start listening:\n%s", logs)
		}
	}
	return m
}

// Pid is the process id of the running mirror.
func (m *mirror) Pid() int { return m.cmd.Process.Pid }

// stop sends SIGTERM and waits for a clean exit (a kill after 60 s).
func (m *mirror) stop(b *testing.B) {
	if m.stopped {
		return
	}
	m.stopped = true
	m.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-m.done:
		if err != nil {
			b.Errorf("gomirror exited with %v after SIGTERM\n%s", err, m.tail(30))
		}
	case <-time.After(60 * time.Second):
		m.cmd.Process.Kill()
		<-m.done
		b.Errorf("gomirror did not exit within 60s of SIGTERM; killed\n%s", m.tail(30))
	}
}

// logSize is the current length of the log, to analyse only what follows.
func (m *mirror) logSize() int64 {
	info, err := os.Stat(m.logPath)
	if err != nil {
		return 0
	}
	return info.Size()
}

func (m *mirror) tail(n int) string {
	b, _ := os.ReadFile(m.logPath)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// logStats summarises a stretch of a mirror's log.
type logStats struct {
	Requests int
	Status   map[int]int    // requests by status
	Cache    map[string]int // requests by cache= value
	Notable  []string       // WARN and ERROR lines, and requests with a 5xx (first 20)
	NNotable int
	// Durations of requests by kind: zip, mod, info, sumdb, other.
	Durations map[string][]time.Duration
}

// requestKind classifies a request path for the duration summary.
func requestKind(path string) string {
	switch {
	case strings.HasPrefix(path, "/sumdb/"):
		return "sumdb"
	case strings.HasSuffix(path, ".zip"):
		return "zip"
	case strings.HasSuffix(path, ".mod"):
		return "mod"
	case strings.HasSuffix(path, ".info"):
		return "info"
	}
	return "other"
}

// durationSummary is, by kind, the count, sum, median and max of request
// durations.
func (s *logStats) durationSummary() string {
	kinds := slices.Sorted(maps.Keys(s.Durations))
	var parts []string
	for _, k := range kinds {
		ds := slices.Clone(s.Durations[k])
		slices.Sort(ds)
		var sum time.Duration
		for _, d := range ds {
			sum += d
		}
		parts = append(parts, fmt.Sprintf("%s: %d, sum %.2fs, median %.1fms, p90 %.1fms, max %.1fms", k, len(ds), sum.Seconds(),
			ms(ds[len(ds)/2]), ms(ds[len(ds)*9/10]), ms(ds[len(ds)-1])))
	}
	return strings.Join(parts, "; ")
}

func (s *logStats) count5xx() int {
	n := 0
	for code, c := range s.Status {
		if code >= 500 {
			n += c
		}
	}
	return n
}

func (s *logStats) String() string {
	codes := slices.Sorted(maps.Keys(s.Status))
	var parts []string
	for _, c := range codes {
		parts = append(parts, fmt.Sprintf("%d×%d", s.Status[c], c))
	}
	caches := slices.Sorted(maps.Keys(s.Cache))
	var cparts []string
	for _, c := range caches {
		cparts = append(cparts, fmt.Sprintf("%s=%d", c, s.Cache[c]))
	}
	str := fmt.Sprintf("%d requests; status %s; cache %s; %d warn/error/5xx lines",
		s.Requests, strings.Join(parts, " "), strings.Join(cparts, " "), s.NNotable)
	for _, l := range s.Notable {
		str += "\n    " + l
	}
	return str
}

var (
	statusField   = regexp.MustCompile(` status=(\d+)`)
	cacheField    = regexp.MustCompile(` cache=(\S*)`)
	durationField = regexp.MustCompile(` duration=(\S+)`)
	pathField     = regexp.MustCompile(` path=(\S+)`)
)

// stats reads the log from offset on.
func (m *mirror) stats(offset int64) *logStats {
	s := &logStats{Status: map[int]int{}, Cache: map[string]int{}, Durations: map[string][]time.Duration{}}
	f, err := os.Open(m.logPath)
	if err != nil {
		return s
	}
	defer f.Close()
	f.Seek(offset, io.SeekStart)
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		notable := bytes.Contains(line, []byte("level=WARN")) || bytes.Contains(line, []byte("level=ERROR"))
		if bytes.Contains(line, []byte(" msg=request ")) {
			s.Requests++
			if mm := statusField.FindSubmatch(line); mm != nil {
				code, _ := strconv.Atoi(string(mm[1]))
				s.Status[code]++
				notable = notable || code >= 500
			}
			if mm := durationField.FindSubmatch(line); mm != nil {
				if d, err := time.ParseDuration(string(mm[1])); err == nil {
					k := "other"
					if pm := pathField.FindSubmatch(line); pm != nil {
						k = requestKind(string(pm[1]))
					}
					s.Durations[k] = append(s.Durations[k], d)
				}
			}
			if mm := cacheField.FindSubmatch(line); mm != nil {
				c := string(mm[1])
				if c == "" {
					c = `""`
				}
				s.Cache[c]++
			}
		}
		if notable {
			s.NNotable++
			if len(s.Notable) < 20 {
				l := string(line)
				if len(l) > 400 {
					l = l[:400] + "..."
				}
				s.Notable = append(s.Notable, l)
			}
		}
	}
	return s
}

// goEnv is a clean environment for the go command (as in e2e): only what
// the benchmark sets decides where modules come from (timedGo adds a fresh
// GOMODCACHE).
func goEnv(proxy, sumdb string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "GO") && k != "GOROOT" && k != "GOPATH" && k != "GOCACHE" {
			continue
		}
		env = append(env, kv)
	}
	return append(env,
		"GOPROXY="+proxy,
		"GOSUMDB="+sumdb,
		"GOENV=off",
		"GOFLAGS=-modcacherw",
		"GONOSUMDB=", "GONOPROXY=", "GOPRIVATE=", "GOINSECURE=",
		"GOTOOLCHAIN=local",
		"GO111MODULE=on",
	)
}

// bigProject is the absolute path of testdata/bigproject.
func bigProject(b *testing.B) string {
	b.Helper()
	p, err := filepath.Abs("../testdata/bigproject")
	if err != nil {
		b.Fatal(err)
	}
	return p
}

// download is one timed `go mod download -json` of bigproject.
type download struct {
	wall time.Duration
	zips int
	// goCPU is the go command's CPU time (user + system) and serverCPU
	// that of the processes downloadBig was given (gomirror), meanwhile.
	goCPU, serverCPU float64
	meter            *cpuMeter // how busy the rest of the machine was
}

// downloadBig runs `go mod download -json` of bigproject with a fresh module
// cache (created under tmp, kept until the run ends: see runDir) and returns
// how long the go command took, how many zips it reported and the CPU time
// it and the servers pids used, and logs how busy the rest of the machine
// was meanwhile.
func downloadBig(b *testing.B, tmp, proxy, sumdb, label string, pids ...int) download {
	b.Helper()
	d, out := timedGo(b, tmp, bigProject(b), goEnv(proxy, sumdb), []string{"mod", "download", "-json"}, pids...)
	d.zips = strings.Count(out, `"Zip":`)
	if strings.Contains(out, `"Error"`) {
		b.Fatalf("go mod download via %s: %d zips\n%s", proxy, d.zips, errorLines(out))
	}
	b.Logf("%s: %.2fs, %d zips; CPU: go command %.2fs%s; %s", label, d.wall.Seconds(), d.zips, d.goCPU, serverCPU(d, pids), d.meter)
	return d
}

// timedGo runs the go command with args in dir, with env (from goEnv) and
// a fresh module cache under tmp, and returns how long it took, the CPU
// time it and the processes pids used meanwhile, and its standard output.
// A go command that fails fails the benchmark.
func timedGo(b *testing.B, tmp, dir string, env, args []string, pids ...int) (download, string) {
	b.Helper()
	modcache, err := os.MkdirTemp(tmp, "modcache-*")
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir, cmd.Env = dir, append(env, "GOMODCACHE="+modcache)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	// Write back what earlier rounds left dirty so that this round does
	// not pay for it.
	syscall.Sync()
	meter := startCPU(pids...)
	start := time.Now()
	err = cmd.Run()
	d := download{wall: time.Since(start), serverCPU: meter.pidsCPU(), meter: meter}
	if err != nil {
		b.Fatalf("go %s: %v\n%s\n%s", strings.Join(args, " "), err, lastLines(errOut.String(), 20), errorLines(out.String()))
	}
	d.goCPU = (cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()).Seconds()
	return d, out.String()
}

func serverCPU(d download, pids []int) string {
	if len(pids) == 0 {
		return ""
	}
	return fmt.Sprintf(", gomirror %.2fs", d.serverCPU)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func errorLines(jsonOut string) string {
	var out []string
	for _, l := range strings.Split(jsonOut, "\n") {
		if strings.Contains(l, `"Error"`) {
			out = append(out, l)
		}
	}
	return lastLines(strings.Join(out, "\n"), 20)
}

// removeTree removes dir, making read-only directories writable if needed.
func removeTree(dir string) error {
	if err := os.RemoveAll(dir); err == nil {
		return nil
	}
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			os.Chmod(p, 0o755)
		}
		return nil
	})
	return os.RemoveAll(dir)
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n == 0 {
		return math.NaN()
	}
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func secs(ds []float64) string {
	var parts []string
	for _, d := range ds {
		parts = append(parts, fmt.Sprintf("%.2f", d))
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// procMem reads VmRSS and VmHWM (in kB) from /proc/<pid>/status.
func procMem(pid int) (rssKB, hwmKB int64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 0 {
			continue
		}
		n, _ := strconv.ParseInt(f[0], 10, 64)
		switch k {
		case "VmRSS":
			rssKB = n
		case "VmHWM":
			hwmKB = n
		}
	}
	if rssKB == 0 {
		return 0, 0, errors.New("no VmRSS in /proc/" + strconv.Itoa(pid) + "/status")
	}
	return rssKB, hwmKB, nil
}

// resetHWM resets the process's VmHWM to its current RSS (Linux clear_refs
// 5), so that a later VmHWM is the peak of what followed. It reports
// whether that worked.
func resetHWM(pid int) bool {
	return os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0) == nil
}

// rssSampler reads a process's VmRSS and VmHWM every interval until stopped.
type rssSampler struct {
	pid     int
	stopc   chan struct{}
	done    chan struct{}
	maxRSS  int64
	maxHWM  int64
	samples int
}

func sampleRSS(pid int, every time.Duration) *rssSampler {
	s := &rssSampler{pid: pid, stopc: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			s.sample()
			select {
			case <-s.stopc:
				s.sample()
				return
			case <-t.C:
			}
		}
	}()
	return s
}

func (s *rssSampler) sample() {
	rss, hwm, err := procMem(s.pid)
	if err != nil {
		return
	}
	s.samples++
	s.maxRSS = max(s.maxRSS, rss)
	s.maxHWM = max(s.maxHWM, hwm)
}

// stop ends sampling and returns the peak resident size in kB: the largest
// VmRSS sampled, or VmHWM when that is larger (it catches peaks between
// samples if the high-water mark was reset before).
func (s *rssSampler) stop(hwmReset bool) (peakKB int64, samples int) {
	close(s.stopc)
	<-s.done
	peak := s.maxRSS
	if hwmReset {
		peak = max(peak, s.maxHWM)
	}
	return peak, s.samples
}

// fileServer serves dir with http.FileServer on a loopback port until the
// benchmark ends.
func fileServer(b *testing.B, dir string) string {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &http.Server{Handler: http.FileServer(http.Dir(dir)), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	b.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}

// loadResult is the outcome of a fixed-duration load run.
type loadResult struct {
	OK, Failed int
	Elapsed    time.Duration
	Latencies  []time.Duration // of successful requests, sorted
	FirstErr   string
}

func (r *loadResult) RPS() float64 { return float64(r.OK) / r.Elapsed.Seconds() }

func (r *loadResult) Percentile(p float64) time.Duration {
	if len(r.Latencies) == 0 {
		return 0
	}
	i := int(math.Ceil(p*float64(len(r.Latencies)))) - 1
	return r.Latencies[min(max(i, 0), len(r.Latencies)-1)]
}

// hammer has workers goroutines GET urls (round robin) through client for d,
// each reading the whole body, and reports what happened. Only 200s with a
// body count as successes.
func hammer(client *http.Client, urls []string, workers int, d time.Duration) *loadResult {
	type workerResult struct {
		ok, failed int
		lat        []time.Duration
		firstErr   string
	}
	results := make([]workerResult, workers)
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(d)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := &results[w]
			r.lat = make([]time.Duration, 0, 1<<15)
			for i := w; ; i++ {
				t0 := time.Now()
				if !t0.Before(deadline) {
					return
				}
				resp, err := client.Get(urls[i%len(urls)])
				if err == nil {
					n, cerr := io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					switch {
					case cerr != nil:
						err = cerr
					case resp.StatusCode != http.StatusOK:
						err = fmt.Errorf("%s: status %d", urls[i%len(urls)], resp.StatusCode)
					case n == 0:
						err = fmt.Errorf("%s: empty body", urls[i%len(urls)])
					}
				}
				if err != nil {
					r.failed++
					if r.firstErr == "" {
						r.firstErr = err.Error()
					}
					continue
				}
				r.ok++
				r.lat = append(r.lat, time.Since(t0))
			}
		}()
	}
	wg.Wait()
	res := &loadResult{Elapsed: time.Since(start)}
	for _, r := range results {
		res.OK += r.ok
		res.Failed += r.failed
		res.Latencies = append(res.Latencies, r.lat...)
		if res.FirstErr == "" {
			res.FirstErr = r.firstErr
		}
	}
	slices.Sort(res.Latencies)
	return res
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// loadAvg is the first three fields of /proc/loadavg: the machine may be
// shared, and a busy machine skews every figure.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// The machine may be shared: cpuMeter measures how much CPU time processes
// other than the benchmark, its children and the given processes used
// during a stretch, from /proc/stat (busy time of all CPUs) minus our own.
// Figures measured while others used a lot of CPU are not comparable.
type cpuMeter struct {
	t0          time.Time
	busy0, own0 float64
	pids        []int
	pid0        []float64
}

// userHZ is the unit of /proc/stat and /proc/<pid>/stat times (USER_HZ,
// 100 on every Linux platform Go supports).
const userHZ = 100

func startCPU(pids ...int) *cpuMeter {
	m := &cpuMeter{t0: time.Now(), busy0: systemBusy(), own0: ownCPU(), pids: pids}
	for _, p := range pids {
		m.pid0 = append(m.pid0, procCPU(p))
	}
	return m
}

// pidsCPU returns the CPU seconds the given processes used since the start.
func (m *cpuMeter) pidsCPU() float64 {
	var cpu float64
	for i, p := range m.pids {
		cpu += procCPU(p) - m.pid0[i]
	}
	return cpu
}

// other returns the CPU seconds used by other processes since the start,
// the wall time, and so the average number of cores they kept busy.
func (m *cpuMeter) other() (cpu float64, wall time.Duration) {
	wall = time.Since(m.t0)
	own := ownCPU() - m.own0 + m.pidsCPU()
	return max(systemBusy()-m.busy0-own, 0), wall
}

func (m *cpuMeter) String() string {
	cpu, wall := m.other()
	return fmt.Sprintf("other processes used %.1f CPU-s in %.1fs (%.2f of 2 cores)", cpu, wall.Seconds(), cpu/wall.Seconds())
}

// systemBusy is the busy time of all CPUs since boot, in seconds.
func systemBusy() float64 {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line) // cpu user nice system idle iowait irq softirq steal guest guest_nice
	if len(f) < 9 || f[0] != "cpu" {
		return 0
	}
	var busy float64
	for _, i := range []int{1, 2, 3, 6, 7, 8} {
		n, _ := strconv.ParseFloat(f[i], 64)
		busy += n
	}
	return busy / userHZ
}

// procCPU is the user+system time of a running process, in seconds.
func procCPU(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the parenthesised command name; utime and stime are
	// fields 14 and 15 of the whole line.
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (u + st) / userHZ
}

// ownCPU is the CPU time of this process and of its waited-for children.
func ownCPU() float64 {
	var total float64
	for _, who := range []int{syscall.RUSAGE_SELF, syscall.RUSAGE_CHILDREN} {
		var ru syscall.Rusage
		if syscall.Getrusage(who, &ru) == nil {
			total += tv(ru.Utime) + tv(ru.Stime)
		}
	}
	return total
}

func tv(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }

// upstreamFetchTimes reads the mirror's /metrics and returns, by operation
// (info, mod, zip, ...), the number and total seconds of upstream fetches.
func (m *mirror) upstreamFetchTimes() string {
	resp, err := http.Get(m.URL + "/metrics")
	if err != nil {
		return "metrics: " + err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	sums, counts := map[string]float64{}, map[string]float64{}
	var ops []string
	opLabel := regexp.MustCompile(`op="([^"]*)"`)
	for _, line := range strings.Split(string(body), "\n") {
		var into map[string]float64
		switch {
		case strings.HasPrefix(line, "gomirror_upstream_fetch_duration_seconds_sum{"):
			into = sums
		case strings.HasPrefix(line, "gomirror_upstream_fetch_duration_seconds_count{"):
			into = counts
		default:
			continue
		}
		op := opLabel.FindStringSubmatch(line)
		f := strings.Fields(line)
		if op == nil || len(f) < 2 {
			continue
		}
		v, _ := strconv.ParseFloat(f[len(f)-1], 64)
		if _, seen := sums[op[1]]; !seen {
			if _, seen := counts[op[1]]; !seen {
				ops = append(ops, op[1])
			}
		}
		into[op[1]] += v
	}
	slices.Sort(ops)
	var parts []string
	for _, op := range ops {
		parts = append(parts, fmt.Sprintf("%s: %.0f, sum %.2fs", op, counts[op], sums[op]))
	}
	return strings.Join(parts, "; ")
}

// sumdbFiles counts what the mirror stored of the checksum database:
// lookups and tiles fetched from it.
func sumdbFiles(store string) (lookups, tiles int) {
	filepath.WalkDir(filepath.Join(store, "sumdb"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		rel := filepath.ToSlash(p)
		switch {
		case strings.Contains(rel, "/lookup/"):
			lookups++
		case strings.Contains(rel, "/tile/"):
			tiles++
		}
		return nil
	})
	return lookups, tiles
}
