package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/mod/semver"

	"github.com/gomirror/gomirror/internal/fakeproxy"
)

// BenchmarkLoadWithFaults (see README.md, "Load run with faults"): many
// concurrent clients for a fixed time against gomirror in front of a group
// of two equivalent fake mirrors that break a share of their answers. Most
// requests are for stored artifacts, which must never fail; the rest need
// the upstream and may fail, but no answer may ever carry wrong bytes.
const (
	loadDefaultSeconds = 60
	loadDefaultClients = 500

	loadCachedPaths    = 10 // cached set: paths × versions module versions
	loadCachedVersions = 5
	loadCachedBlob     = 40 << 10 // random bytes per cached zip: tens of KB

	loadPoolPaths = 250 // the uncached pool spreads over this many module paths

	loadCachedShare   = 0.80 // of all requests; the rest need the upstream
	loadListShare     = 0.15 // of the uncached requests: list
	loadLatestShare   = 0.15 // of the uncached requests: @latest
	loadModuleFaults  = 0.10 // share of each mirror's module requests faulted
	loadSumDBFaults   = 0.03 // share of each mirror's checksum database requests faulted
	loadRequestLimit  = 30 * time.Second
	loadProbeInterval = "1s"
	loadSeed          = 20261123
)

// envInt reads a positive integer from the environment, or def.
func envInt(b *testing.B, name string, def int) int {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		b.Fatalf("%s=%q: want a positive integer", name, s)
	}
	return n
}

// loadReq is one request the clients may send and what a 200 must carry.
type loadReq struct {
	path string
	kind string // info, mod, zip, list, latest
	mod  *fakeproxy.Module
	// list: every version the origin has of the path; latest: the newest.
	versions []string
}

// loadOutcome classifies one answer.
type loadOutcome int

const (
	outcomeOK        loadOutcome = iota
	outcomeWrong                 // a 200 whose bytes differ from the origin's
	outcomeStale                 // a 200 list/@latest missing versions the origin has (stale-if-error)
	outcomeStatus                // not 200
	outcomeTransport             // no answer, or the body broke off
)

// check compares a 200 answer's body with what the origin holds.
func (q *loadReq) check(body []byte) (loadOutcome, string) {
	switch q.kind {
	case "mod", "zip":
		want := q.mod.Mod
		if q.kind == "zip" {
			want = q.mod.Zip
		}
		if !bytes.Equal(body, want) {
			return outcomeWrong, fmt.Sprintf("%d bytes differ from the origin's %d", len(body), len(want))
		}
	case "info":
		var info struct {
			Version string
			Time    time.Time
		}
		if err := json.Unmarshal(body, &info); err != nil || info.Version != q.mod.Version || !info.Time.Equal(q.mod.Time) {
			return outcomeWrong, fmt.Sprintf("info %q, want version %s time %s", body, q.mod.Version, q.mod.Time.Format(time.RFC3339))
		}
	case "list":
		got := strings.Fields(string(body))
		for _, v := range got {
			if !slices.Contains(q.versions, v) {
				return outcomeWrong, fmt.Sprintf("list names %q, which the origin does not have", v)
			}
		}
		if len(got) != len(q.versions) || !strings.HasSuffix(string(body), "\n") {
			for _, v := range q.versions {
				if !slices.Contains(got, v) {
					return outcomeStale, fmt.Sprintf("list lacks %s (%d of %d versions)", v, len(got), len(q.versions))
				}
			}
			return outcomeWrong, fmt.Sprintf("list %q is malformed", body)
		}
	case "latest":
		var info struct{ Version string }
		if err := json.Unmarshal(body, &info); err != nil || !slices.Contains(q.versions, info.Version) {
			return outcomeWrong, fmt.Sprintf("@latest %q, which the origin does not have", body)
		}
		if info.Version != q.versions[len(q.versions)-1] {
			return outcomeStale, fmt.Sprintf("@latest %s, want %s", info.Version, q.versions[len(q.versions)-1])
		}
	}
	return outcomeOK, ""
}

// loadStats is what the clients saw for one class of requests.
type loadStats struct {
	mu        sync.Mutex
	n         int
	ok        int
	wrong     int
	stale     int
	lat       []time.Duration // of every answered request, whatever its status
	okLat     []time.Duration
	status    map[string]int // "200", "502", "transport error", ...
	examples  map[string]string
	wrongEx   []string
	kindFails map[string]int // by request kind and outcome: answers other than a good 200
	kindN     map[string]int // requests by kind
	kindOK    map[string]int // good 200s by kind
}

func newLoadStats() *loadStats {
	return &loadStats{status: map[string]int{}, examples: map[string]string{}, kindFails: map[string]int{},
		kindN: map[string]int{}, kindOK: map[string]int{}}
}

// merge adds a worker's local stats.
func (s *loadStats) merge(o *loadStats) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n += o.n
	s.ok += o.ok
	s.wrong += o.wrong
	s.stale += o.stale
	s.lat = append(s.lat, o.lat...)
	s.okLat = append(s.okLat, o.okLat...)
	for k, v := range o.status {
		s.status[k] += v
	}
	for k, v := range o.examples {
		if _, ok := s.examples[k]; !ok {
			s.examples[k] = v
		}
	}
	for k, v := range o.kindFails {
		s.kindFails[k] += v
	}
	for k, v := range o.kindN {
		s.kindN[k] += v
	}
	for k, v := range o.kindOK {
		s.kindOK[k] += v
	}
	for _, w := range o.wrongEx {
		if len(s.wrongEx) < 10 {
			s.wrongEx = append(s.wrongEx, w)
		}
	}
}

func (s *loadStats) record(q *loadReq, code int, outcome loadOutcome, d time.Duration, detail string) {
	s.n++
	s.kindN[q.kind]++
	key := strconv.Itoa(code)
	if outcome == outcomeTransport {
		key = "transport error"
	}
	s.status[key]++
	if outcome != outcomeTransport {
		s.lat = append(s.lat, d)
	}
	switch outcome {
	case outcomeOK:
		s.ok++
		s.kindOK[q.kind]++
		s.okLat = append(s.okLat, d)
		return
	case outcomeWrong:
		s.wrong++
		if len(s.wrongEx) < 10 {
			s.wrongEx = append(s.wrongEx, q.path+": "+detail)
		}
		key = "wrong bytes"
	case outcomeStale:
		s.stale++
		key = "stale"
	}
	key = q.kind + " " + key
	s.kindFails[key]++
	if _, ok := s.examples[key]; !ok {
		if len(detail) > 300 {
			detail = detail[:300] + "..."
		}
		s.examples[key] = q.path + ": " + detail
	}
}

func pct(ds []time.Duration, p float64) float64 {
	if len(ds) == 0 {
		return 0
	}
	return ms((&loadResult{Latencies: ds}).Percentile(p))
}

// byKind is, by request kind, good 200s of all requests.
func (s *loadStats) byKind() string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(s.kindN)) {
		parts = append(parts, fmt.Sprintf("%s %d/%d (%.2f%%)", k, s.kindOK[k], s.kindN[k], 100*float64(s.kindOK[k])/float64(s.kindN[k])))
	}
	return strings.Join(parts, ", ")
}

func (s *loadStats) histogram() string {
	keys := slices.Sorted(maps.Keys(s.status))
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s×%d", k, s.status[k]))
	}
	return strings.Join(parts, " ")
}

// faultCounts counts the faults injected into one mirror, by type, and
// the mirror's requests over time.
type faultCounts struct {
	byType  sync.Map // type -> *atomic.Int64
	traffic *timeline
}

// timeline counts events in buckets of width from start.
type timeline struct {
	start  time.Time
	width  time.Duration
	counts []atomic.Int64
}

func newTimeline(start time.Time, width time.Duration, buckets int) *timeline {
	return &timeline{start: start, width: width, counts: make([]atomic.Int64, buckets)}
}

func (t *timeline) add(now time.Time) {
	if i := int(now.Sub(t.start) / t.width); i >= 0 && i < len(t.counts) {
		t.counts[i].Add(1)
	}
}

// String lists the counts up to the last non-empty bucket.
func (t *timeline) String() string {
	last := -1
	for i := range t.counts {
		if t.counts[i].Load() > 0 {
			last = i
		}
	}
	var parts []string
	for i := 0; i <= last; i++ {
		parts = append(parts, strconv.FormatInt(t.counts[i].Load(), 10))
	}
	return strings.Join(parts, " ")
}

// rssTimeline samples a process's RSS every width until stop is closed and
// returns the samples in MB.
func rssTimeline(pid int, width time.Duration, stop <-chan struct{}) <-chan []float64 {
	out := make(chan []float64, 1)
	go func() {
		var mbs []float64
		t := time.NewTicker(width)
		defer t.Stop()
		for {
			select {
			case <-stop:
				out <- mbs
				return
			case <-t.C:
				if rss, _, err := procMem(pid); err == nil {
					mbs = append(mbs, float64(rss)/1024)
				}
			}
		}
	}()
	return out
}

func (f *faultCounts) add(kind string) {
	c, _ := f.byType.LoadOrStore(kind, new(atomic.Int64))
	c.(*atomic.Int64).Add(1)
}

func (f *faultCounts) snapshot() map[string]int64 {
	out := map[string]int64{}
	f.byType.Range(func(k, v any) bool {
		out[k.(string)] = v.(*atomic.Int64).Load()
		return true
	})
	return out
}

// injectLoadFaults makes s break loadModuleFaults of its module requests and
// loadSumDBFaults of its checksum database requests (probes of "/" and
// "supported" are left alone), with a random mix of fault types, counted
// in counts.
func injectLoadFaults(s *fakeproxy.Server, seed uint64, counts *faultCounts) {
	moduleReq := func(r *http.Request) bool { return fakeproxy.Modules(r) && r.URL.Path != "/" }
	match := func() fakeproxy.Match {
		mod := fakeproxy.Sample(moduleReq, loadModuleFaults, seed)
		db := fakeproxy.Sample(fakeproxy.SumDB, loadSumDBFaults, seed+1)
		return func(r *http.Request) bool {
			if counts.traffic != nil && r.URL.Path != "/" {
				counts.traffic.add(time.Now())
			}
			return mod(r) || db(r)
		}
	}()
	var mu sync.Mutex
	rng := rand.New(rand.NewPCG(seed, 2))
	type typed struct {
		name string
		f    func(d time.Duration) fakeproxy.Fault
	}
	types := []typed{
		{"5xx", func(time.Duration) fakeproxy.Fault {
			return fakeproxy.Status(http.StatusInternalServerError, "injected failure")
		}},
		{"503+Retry-After", func(time.Duration) fakeproxy.Fault {
			return fakeproxy.WithHeader("Retry-After", "1", fakeproxy.Status(http.StatusServiceUnavailable, "injected: busy, retry after 1s"))
		}},
		{"reset", func(time.Duration) fakeproxy.Fault { return fakeproxy.Reset(64) }},
		{"truncated", func(time.Duration) fakeproxy.Fault { return fakeproxy.Truncate(-8) }},
		{"slow", func(d time.Duration) fakeproxy.Fault { return fakeproxy.Slow(d) }},
	}
	s.Inject(match, func(c *fakeproxy.Call) {
		mu.Lock()
		t := types[rng.IntN(len(types))]
		d := time.Second + time.Duration(rng.Int64N(int64(time.Second)))
		mu.Unlock()
		where := "module"
		if fakeproxy.SumDB(c.R) {
			where = "sumdb"
		}
		counts.add(where + " " + t.name)
		t.f(d)(c)
	})
}

// BenchmarkLoadWithFaults: GOMIRROR_LOAD_CLIENTS (500) clients for
// GOMIRROR_LOAD_SECONDS (60) against gomirror, whose upstream is a group of
// two equivalent fake mirrors that each break 10% of their module answers
// and 3% of their checksum database answers. 80% of the requests are for a
// stored set of artifacts and must all succeed; 20% need the upstream
// (fresh versions drawn once each from a large pool, list, @latest) and may
// fail with a clear error. Every 200 is checked against the origin's bytes;
// wrong bytes or a failed stored artifact fail the benchmark, and so does a
// corrupt store (`gomirror verify` after the run).
func BenchmarkLoadWithFaults(b *testing.B) {
	seconds := envInt(b, "GOMIRROR_LOAD_SECONDS", loadDefaultSeconds)
	clients := envInt(b, "GOMIRROR_LOAD_CLIENTS", loadDefaultClients)
	// The uncached pool: one fresh module version per uncached artifact
	// request. Sized from the duration with a wide margin; running out is
	// reported (and then uncached requests are list/@latest only).
	poolSize := envInt(b, "GOMIRROR_LOAD_POOL", 600*seconds)
	cachedShare := loadCachedShare
	if v := os.Getenv("GOMIRROR_LOAD_CACHED_PERCENT"); v != "" { // for experiments
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 100 {
			b.Fatalf("GOMIRROR_LOAD_CACHED_PERCENT=%q: want 0..100", v)
		}
		cachedShare = float64(n) / 100
	}

	origin := fakeproxy.New(b)
	mirrors := []*fakeproxy.Server{fakeproxy.NewMirror(b, origin), fakeproxy.NewMirror(b, origin)}

	// The cached set: random bytes (fixed seed) so that zips are tens of KB.
	setupStart := time.Now()
	rng := rand.NewChaCha8([32]byte{'l', 'o', 'a', 'd'})
	var cached []*loadReq
	var listReqs []*loadReq
	versionsOf := map[string][]string{}
	for i := range loadCachedPaths {
		p := fmt.Sprintf("example.com/load/cached%02d", i)
		for j := range loadCachedVersions {
			v := fmt.Sprintf("v1.%d.0", j)
			blob := make([]byte, loadCachedBlob)
			rng.Read(blob)
			m, err := origin.Add(p, v, map[string][]byte{
				"go.mod":   fmt.Appendf(nil, "module %s\n\ngo 1.21\n", p),
				"x.go":     fmt.Appendf(nil, "package x\n\nconst V = %q\n", v),
				"data.bin": blob,
			})
			if err != nil {
				b.Fatal(err)
			}
			versionsOf[p] = append(versionsOf[p], v)
			for _, kind := range []string{"info", "mod", "zip"} {
				cached = append(cached, &loadReq{path: "/" + p + "/@v/" + v + "." + kind, kind: kind, mod: m})
			}
		}
	}
	// The uncached pool, ordered so that consecutive draws go to different
	// module paths.
	pool := make([]*fakeproxy.Module, poolSize)
	for i := range poolSize {
		p := fmt.Sprintf("example.com/load/pool%03d", i%loadPoolPaths)
		v := fmt.Sprintf("v1.0.%d", i/loadPoolPaths)
		m, err := origin.Add(p, v, map[string][]byte{
			"go.mod": fmt.Appendf(nil, "module %s\n\ngo 1.21\n", p),
			"x.go":   fmt.Appendf(nil, "package x\n\nconst N = %d\n", i),
		})
		if err != nil {
			b.Fatal(err)
		}
		pool[i] = m
		versionsOf[p] = append(versionsOf[p], v)
	}
	// listReqs alternates list and @latest of every path.
	for _, p := range slices.Sorted(maps.Keys(versionsOf)) {
		vs := slices.Clone(versionsOf[p])
		semver.Sort(vs)
		listReqs = append(listReqs,
			&loadReq{path: "/" + p + "/@v/list", kind: "list", versions: vs},
			&loadReq{path: "/" + p + "/@latest", kind: "latest", versions: vs})
	}
	b.Logf("setup: %d cached module versions (zips %d–%d bytes), uncached pool of %d versions over %d paths, built in %.1fs",
		loadCachedPaths*loadCachedVersions, minZip(cached), maxZip(cached), poolSize, loadPoolPaths, time.Since(setupStart).Seconds())

	tmp := workDir(b)
	store := filepath.Join(tmp, "storage")
	cfg := filepath.Join(tmp, "gomirror.yaml")
	// The 500 clients stand for 500 machines but all come from 127.0.0.1:
	// the per-address connection cap (256 by default) would refuse half
	// of them, which is not what this run measures.
	yaml := fmt.Sprintf(`upstream: load
sumdb: %s
max-conns-per-client: 0
upstream-groups:
  - name: load
    mirrors: [%s, %s]
    probe-interval: %s
`, origin.DBKey, mirrors[0].URL, mirrors[1].URL, loadProbeInterval)
	if err := os.WriteFile(cfg, []byte(yaml), 0o644); err != nil {
		b.Fatal(err)
	}
	m := startMirror(b, tmp, "--config", cfg, "--storage-dir", store)
	pid := m.Pid()

	tr := &http.Transport{
		MaxIdleConns:        2 * clients,
		MaxIdleConnsPerHost: 2 * clients,
		DisableCompression:  true,
		IdleConnTimeout:     90 * time.Second,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: loadRequestLimit}

	// Fill the cached set, faults healed, and check every byte.
	fillStart := time.Now()
	var fillWG sync.WaitGroup
	fillErrs := make(chan string, len(cached))
	sem := make(chan struct{}, 16)
	for _, q := range cached {
		fillWG.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			resp, err := client.Get(m.URL + q.path)
			if err != nil {
				fillErrs <- q.path + ": " + err.Error()
				return
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || resp.StatusCode != http.StatusOK {
				fillErrs <- fmt.Sprintf("%s: %d %v %.200q", q.path, resp.StatusCode, err, body)
				return
			}
			if o, detail := q.check(body); o != outcomeOK {
				fillErrs <- q.path + ": " + detail
			}
		})
	}
	fillWG.Wait()
	close(fillErrs)
	for e := range fillErrs {
		b.Fatalf("filling the cached set: %s", e)
	}
	// Every cached artifact is now stored or being written behind; a
	// second pass must be all hits. The first pass's access lines are
	// written after their answers: wait for all of them (the log holds
	// one per request) before the second pass, so that its count is its
	// own.
	logged := func() int { return m.stats(0).Requests }
	poll := time.NewTicker(10 * time.Millisecond)
	for deadline := time.Now().Add(10 * time.Second); logged() < len(cached) && time.Now().Before(deadline); {
		<-poll.C
	}
	poll.Stop()
	if n := logged(); n < len(cached) {
		b.Logf("PROBLEM: %d access lines for the %d requests of the first pass after 10s", n, len(cached))
	}
	offset := m.logSize()
	for _, q := range cached {
		resp, err := client.Get(m.URL + q.path)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	// (The access log line of the last answers may not be written yet:
	// look for anything but hits rather than count them.)
	if st := m.stats(offset); st.Requests != st.Cache["hit"] {
		b.Logf("PROBLEM: the second pass over the cached set was not all hits: %s", st)
	}
	b.Logf("setup: filled %d cached artifacts through gomirror in %.2fs; load average %s", len(cached), time.Since(fillStart).Seconds(), loadAvg())

	// Timelines in buckets of a twelfth of the run (at least a second).
	bucket := max(time.Second, time.Duration(seconds)*time.Second/12)
	counts := []*faultCounts{
		{traffic: newTimeline(time.Now(), bucket, 20)},
		{traffic: newTimeline(time.Now(), bucket, 20)},
	}
	stopRSS := make(chan struct{})
	rssLine := rssTimeline(pid, bucket, stopRSS)
	for i, s := range mirrors {
		injectLoadFaults(s, loadSeed+uint64(i)*10, counts[i])
	}
	offset = m.logSize()
	resetHWM(pid)
	sampler := sampleRSS(pid, 100*time.Millisecond)
	meter := startCPU(pid)
	mirrorCPU0, ownCPU0 := procCPU(pid), ownCPU()

	var next atomic.Int64 // the next pool version to ask for
	var exhausted atomic.Int64
	cachedStats, uncachedStats := newLoadStats(), newLoadStats()
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	deadline := start.Add(time.Duration(seconds) * time.Second)
	for w := range clients {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(loadSeed, uint64(w)))
			cs, us := newLoadStats(), newLoadStats()
			buf := bytes.NewBuffer(make([]byte, 0, 64<<10))
			for time.Now().Before(deadline) {
				var q *loadReq
				st := cs
				if rng.Float64() < cachedShare {
					q = cached[rng.IntN(len(cached))]
				} else {
					st = us
					x := rng.Float64()
					if x < loadListShare+loadLatestShare {
						i := 2 * rng.IntN(len(listReqs)/2)
						if x >= loadListShare {
							i++ // @latest
						}
						q = listReqs[i]
					} else if i := next.Add(1) - 1; i < int64(len(pool)) {
						pm := pool[i]
						kind := [...]string{"info", "mod", "zip"}[rng.IntN(3)]
						q = &loadReq{path: "/" + pm.Path + "/@v/" + pm.Version + "." + kind, kind: kind, mod: pm}
					} else {
						exhausted.Add(1)
						q = listReqs[rng.IntN(len(listReqs))]
					}
				}
				t0 := time.Now()
				resp, err := client.Get(m.URL + q.path)
				if err != nil {
					st.record(q, 0, outcomeTransport, time.Since(t0), err.Error())
					continue
				}
				buf.Reset()
				_, err = buf.ReadFrom(resp.Body)
				resp.Body.Close()
				d := time.Since(t0)
				switch {
				case err != nil:
					st.record(q, resp.StatusCode, outcomeTransport, d, fmt.Sprintf("status %d, body broke off: %v", resp.StatusCode, err))
				case resp.StatusCode != http.StatusOK:
					st.record(q, resp.StatusCode, outcomeStatus, d, strings.TrimSpace(buf.String()))
				default:
					o, detail := q.check(buf.Bytes())
					st.record(q, resp.StatusCode, o, d, detail)
				}
			}
			cachedStats.merge(cs)
			uncachedStats.merge(us)
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	other := meter.String()
	mirrorCPU, benchCPU := procCPU(pid)-mirrorCPU0, ownCPU()-ownCPU0
	peakKB, samples := sampler.stop(true)
	close(stopRSS)
	rssMBs := <-rssLine
	endKB, _, _ := procMem(pid)
	for _, s := range mirrors {
		s.Heal()
	}

	// Report.
	cs, us := cachedStats, uncachedStats
	slices.Sort(cs.lat)
	slices.Sort(cs.okLat)
	slices.Sort(us.lat)
	slices.Sort(us.okLat)
	total := cs.n + us.n
	cached5xx := 0
	for k, v := range cs.status {
		if c, err := strconv.Atoi(k); err == nil && c >= 500 {
			cached5xx += v
		}
	}
	injected := map[string]int64{}
	var injectedTotal int64
	for i, c := range counts {
		snap := c.snapshot()
		var parts []string
		for _, k := range slices.Sorted(maps.Keys(snap)) {
			injected[k] += snap[k]
			injectedTotal += snap[k]
			parts = append(parts, fmt.Sprintf("%s %d", k, snap[k]))
		}
		b.Logf("mirror %d (%s): %d requests, %d answered by a fault: %s", i, mirrors[i].URL,
			len(mirrors[i].Requests()), mirrors[i].InjectedTotal(), strings.Join(parts, ", "))
	}
	b.Logf("requests per %v to mirror 0: %s; to mirror 1: %s (probes not counted)", bucket, counts[0].traffic, counts[1].traffic)
	var rssParts []string
	for _, mb := range rssMBs {
		rssParts = append(rssParts, fmt.Sprintf("%.0f", mb))
	}
	b.Logf("gomirror RSS every %v (MB): %s; at the end of the run %.1f MB", bucket, strings.Join(rssParts, " "), float64(endKB)/1024)
	var faultParts []string
	for _, k := range slices.Sorted(maps.Keys(injected)) {
		faultParts = append(faultParts, fmt.Sprintf("%s %d", k, injected[k]))
	}
	uncachedOK := 100 * float64(us.ok) / float64(max(us.n, 1))
	st := m.stats(offset)
	hits := hitDurations(m, offset)
	b.Logf("mirror log during the run: %s", st)
	b.Logf("gomirror's own time for cache hits (access log): %d, p50 %.2fms p99 %.2fms max %.2fms; the clients saw p50 %.2fms p99 %.2fms for cached requests",
		len(hits), pct(hits, 0.5), pct(hits, 0.99), pct(hits, 1), pct(cs.lat, 0.5), pct(cs.lat, 0.99))
	b.Logf("mirror request durations during the run: %s", st.durationSummary())
	b.Logf("mirror upstream fetches: %s", m.upstreamFetchTimes())
	if body, err := httpGetBody(m.URL + "/upstreams"); err == nil {
		b.Logf("/upstreams at the end:\n%s", body)
	}
	if v := metricLines(m.URL+"/metrics", "gomirror_verifications_total"); v != "" {
		b.Logf("checksum verifications: %s", v)
	}
	b.Logf("CPU during the run: gomirror %.1f CPU-s, the benchmark process (clients and both fake mirrors) %.1f CPU-s, in %.1fs on %d cores",
		mirrorCPU, benchCPU, elapsed.Seconds(), runtime.NumCPU())
	b.Logf("cached requests: %d, %s; latency p50 %.2fms p99 %.2fms max %.2fms; failures by kind %v; examples %q",
		cs.n, cs.histogram(), pct(cs.lat, 0.5), pct(cs.lat, 0.99), pct(cs.lat, 1), cs.kindFails, cs.examples)
	b.Logf("uncached requests: %d, %s; %.2f%% good 200s; latency of good answers p50 %.2fms p99 %.2fms max %.2fms (all answers p50 %.2fms p99 %.2fms); failures by kind %v",
		us.n, us.histogram(), uncachedOK, pct(us.okLat, 0.5), pct(us.okLat, 0.99), pct(us.okLat, 1), pct(us.lat, 0.5), pct(us.lat, 0.99), us.kindFails)
	b.Logf("uncached requests by kind: %s", us.byKind())
	for _, k := range slices.Sorted(maps.Keys(us.examples)) {
		b.Logf("  uncached %s, e.g. %s", k, us.examples[k])
	}
	b.Logf("uncached pool: %d of %d versions asked for%s", min(next.Load(), int64(len(pool))), len(pool),
		map[bool]string{true: fmt.Sprintf("; PROBLEM: the pool ran out, %d draws became list/@latest", exhausted.Load()), false: ""}[exhausted.Load() > 0])
	// Nothing corrupt may have been stored: stop gomirror (it finishes its
	// fills) and re-check the whole store with `gomirror verify`.
	m.stop(b)
	verified := verifyStore(b, cfg, store, mirrors[0].URL)
	b.Logf("gomirror verify after the run: %s", verified)
	b.Logf("SUMMARY: %d clients, %.1fs: %d requests, %.0f req/s; cached %d: p50 %.2fms p99 %.2fms, %d 5xx, %d non-200; uncached %d: p50 %.2fms p99 %.2fms, %.2f%% ok (%s); wrong bytes %d (cached %d, uncached %d); stale list/@latest %d; faults injected %d (%s); gomirror peak RSS %.1f MB (%d samples); store after the run: %s; %s",
		clients, elapsed.Seconds(), total, float64(total)/elapsed.Seconds(),
		cs.n, pct(cs.lat, 0.5), pct(cs.lat, 0.99), cached5xx, cs.n-cs.status["200"],
		us.n, pct(us.lat, 0.5), pct(us.lat, 0.99), uncachedOK, us.histogram(),
		cs.wrong+us.wrong, cs.wrong, us.wrong, us.stale+cs.stale, injectedTotal, strings.Join(faultParts, ", "),
		float64(peakKB)/1024, samples, verified, other)
	for _, w := range append(cs.wrongEx, us.wrongEx...) {
		b.Logf("PROBLEM: wrong bytes: %s", w)
	}
	if n := cs.wrong + us.wrong; n > 0 {
		b.Errorf("%d answers with status 200 carried wrong bytes", n)
	}
	if n := cs.n - cs.ok; n > 0 {
		b.Errorf("%d of %d cached artifact requests failed (%s; %d 5xx): %q", n, cs.n, cs.histogram(), cached5xx, cs.examples)
	}
	if injectedTotal == 0 {
		b.Errorf("no fault was injected")
	}

	b.ReportMetric(0, "ns/op")
	b.ReportMetric(float64(total), "requests")
	b.ReportMetric(float64(total)/elapsed.Seconds(), "req/s")
	b.ReportMetric(pct(cs.lat, 0.5), "ms-cached-p50")
	b.ReportMetric(pct(cs.lat, 0.99), "ms-cached-p99")
	b.ReportMetric(pct(us.lat, 0.5), "ms-uncached-p50")
	b.ReportMetric(pct(us.lat, 0.99), "ms-uncached-p99")
	b.ReportMetric(uncachedOK, "uncached-ok-%")
	b.ReportMetric(float64(cs.wrong+us.wrong), "wrong-bytes")
	b.ReportMetric(float64(cached5xx), "cached-5xx")
	b.ReportMetric(float64(injectedTotal), "faults")
	b.ReportMetric(float64(peakKB)/1024, "MB-peak-rss")
}

// verifyStore runs `gomirror verify` over store with the settings in cfg
// (a config file, if not "") and args, and returns its summary line; a
// corrupt artifact fails the benchmark.
// The upstream is given as one mirror's URL: verify does not know
// upstream-groups (it refuses an upstream that names a group).
func verifyStore(b *testing.B, cfg, store, upstreamURL string, args ...string) string {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	args = append([]string{"verify", "--storage-dir", store, "--upstream", upstreamURL}, args...)
	if cfg != "" {
		args = append(args, "--config", cfg)
	}
	cmd := exec.CommandContext(ctx, binary(b), args...)
	cmd.Env = append(os.Environ(), "GOFLAGS=")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	summary := ""
	for _, l := range strings.Split(out.String(), "\n") {
		if strings.HasPrefix(l, "verified ") {
			summary = l
		}
	}
	if err != nil || summary == "" {
		b.Errorf("gomirror verify: %v\n%s", err, lastLines(out.String(), 30))
	}
	return fmt.Sprintf("%s (%.1fs)", summary, time.Since(start).Seconds())
}

// hitDurations returns the sorted durations of the cache hits the mirror
// logged from offset on.
func hitDurations(m *mirror, offset int64) []time.Duration {
	f, err := os.Open(m.logPath)
	if err != nil {
		return nil
	}
	defer f.Close()
	f.Seek(offset, io.SeekStart)
	var ds []time.Duration
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if !bytes.Contains(line, []byte(" msg=request ")) || !bytes.Contains(line, []byte(" cache=hit ")) {
			continue
		}
		if mm := durationField.FindSubmatch(line); mm != nil {
			if d, err := time.ParseDuration(string(mm[1])); err == nil {
				ds = append(ds, d)
			}
		}
	}
	slices.Sort(ds)
	return ds
}

func minZip(qs []*loadReq) int {
	n := -1
	for _, q := range qs {
		if n < 0 || len(q.mod.Zip) < n {
			n = len(q.mod.Zip)
		}
	}
	return n
}

func maxZip(qs []*loadReq) int {
	n := 0
	for _, q := range qs {
		n = max(n, len(q.mod.Zip))
	}
	return n
}

// httpGetBody returns the body of a GET of url (any status).
func httpGetBody(url string) (string, error) {
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return string(body), err
}

// metricLines returns the lines of /metrics that start with name.
func metricLines(url, name string) string {
	body, err := httpGetBody(url)
	if err != nil {
		return err.Error()
	}
	var out []string
	for _, l := range strings.Split(body, "\n") {
		if strings.HasPrefix(l, name) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "; ")
}
