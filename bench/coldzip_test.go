package bench

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gomirror/gomirror/internal/fakeproxy"
)

// BenchmarkColdZip measures the cold fill of one large zip (about 58 MB,
// 80 MB of files, built with x/mod/zip) served by a fakeproxy on loopback,
// by the gomirror of this tree against the one built from the commit in
// GOMIRROR_BENCH_BASE, in interleaved rounds, each with a fresh gomirror
// and empty storage. It reports, per side, the medians of: the time from
// the request to the last byte of the answer (the whole zip, verified:
// before cut-through streaming gomirror answered a cold zip once it was
// filled, since then it streams it while it arrives and sends the tail
// once verified), the time from the upstream's last byte to that last byte
// (what the fill adds after the download), the time to the first byte,
// and gomirror's CPU seconds for the fill; and the ratios of this tree to
// the base. Sub-benchmarks:
// the upstream as fast as loopback, and paced to 40 MB/s.
func BenchmarkColdZip(b *testing.B) {
	base := baseBinary(b)
	cur := binary(b)
	up := fakeproxy.New(b)
	const modPath, version = "example.com/bench/coldzip", "v1.0.0"
	mod, err := up.Add(modPath, version, coldZipFiles(modPath))
	if err != nil {
		b.Fatal(err)
	}
	zip := mod.Zip
	zipPath := "/" + modPath + "/@v/" + version + ".zip"
	b.Logf("zip: %.1f MB", float64(len(zip))/(1<<20))

	for _, pace := range []struct {
		name string
		mbps float64 // 0: as fast as loopback
	}{{"loopback", 0}, {"40MBps", 40}} {
		b.Run(pace.name, func(b *testing.B) {
			// The hook serves the zip itself, paced, and notes when its
			// last byte was handed to the kernel.
			var mu sync.Mutex
			var lastByte time.Time
			up.SetHook(func(w http.ResponseWriter, r *http.Request) bool {
				if r.URL.Path != zipPath {
					return false
				}
				w.Header().Set("Content-Length", fmt.Sprint(len(zip)))
				t0 := time.Now()
				for off := 0; off < len(zip); {
					n := min(64<<10, len(zip)-off)
					if _, err := w.Write(zip[off : off+n]); err != nil {
						return true
					}
					off += n
					if pace.mbps > 0 {
						due := t0.Add(time.Duration(float64(off) / (pace.mbps * 1e6) * float64(time.Second)))
						time.Sleep(time.Until(due))
					}
				}
				w.(http.Flusher).Flush()
				mu.Lock()
				lastByte = time.Now()
				mu.Unlock()
				return true
			})
			defer up.SetHook(nil)

			type result struct{ fill, tail, first, cpu []float64 }
			res := map[string]*result{"base": {}, "new": {}}
			tmp := workDir(b)
			round := func(side, bin string, i int) {
				dir := filepath.Join(tmp, fmt.Sprintf("%s-%d", side, i))
				if err := os.MkdirAll(dir, 0o755); err != nil {
					b.Fatal(err)
				}
				m := startMirrorBinary(b, bin, dir, "--storage-dir", filepath.Join(dir, "storage"), "--upstream", up.URL, "--sumdb", up.DBKey)
				get(b, m.URL+"/healthz")
				pid := m.Pid()
				meter := startCPU(pid)
				cpu0 := procCPU(pid)
				user0, sys0 := procUserSys(pid)
				t0 := time.Now()
				resp, err := http.Get(m.URL + zipPath)
				if err != nil {
					b.Fatal(err)
				}
				first := time.Now()
				n, err := io.Copy(io.Discard, resp.Body)
				done := time.Now()
				resp.Body.Close()
				if err != nil || resp.StatusCode != http.StatusOK || n != int64(len(zip)) {
					b.Fatalf("%s round %d: status %d, %d bytes, %v; want 200 and %d bytes", side, i, resp.StatusCode, n, err, len(zip))
				}
				cpu := procCPU(pid) - cpu0
				user1, sys1 := procUserSys(pid)
				mu.Lock()
				tail := done.Sub(lastByte)
				mu.Unlock()
				r := res[side]
				r.fill = append(r.fill, done.Sub(t0).Seconds())
				r.tail = append(r.tail, tail.Seconds())
				r.first = append(r.first, first.Sub(t0).Seconds())
				r.cpu = append(r.cpu, cpu)
				b.Logf("%s round %d: whole zip after %.3fs (first byte after %.3fs), last upstream byte to last byte %.1f ms, gomirror CPU %.2fs (user %.2fs, system %.2fs); %s; load average %s",
					side, i, done.Sub(t0).Seconds(), first.Sub(t0).Seconds(), tail.Seconds()*1000, cpu, user1-user0, sys1-sys0, meter, loadAvg())
				m.stop(b)
				logs, _ := os.ReadFile(m.logPath)
				if strings.Contains(string(logs), "zip hashed after downloading") {
					b.Logf("%s round %d: the zip was hashed after downloading", side, i)
				}
			}
			b.ResetTimer()
			const rounds = 5
			for i := range rounds {
				if i%2 == 0 {
					round("base", base, i)
					round("new", cur, i)
				} else {
					round("new", cur, i)
					round("base", base, i)
				}
			}
			b.StopTimer()
			nb, bb := res["new"], res["base"]
			b.ReportMetric(0, "ns/op")
			b.ReportMetric(median(nb.fill), "s/fill")
			b.ReportMetric(median(bb.fill), "s/fill-base")
			b.ReportMetric(median(nb.fill)/median(bb.fill), "ratio")
			b.ReportMetric(median(nb.tail)*1000, "ms-tail")
			b.ReportMetric(median(bb.tail)*1000, "ms-tail-base")
			b.ReportMetric(median(nb.first), "s/first-byte")
			b.ReportMetric(median(bb.first), "s/first-byte-base")
			b.ReportMetric(median(nb.cpu), "cpu-s")
			b.ReportMetric(median(bb.cpu), "cpu-s-base")
		})
	}
}

// coldZipFiles are the files of BenchmarkColdZip's module: six 8 MB files
// of random bytes (which deflate does not shrink) and eight 4 MB files of
// Go-like text (which it does, about 4:1), as a toolchain zip mixes
// binaries and source.
func coldZipFiles(modPath string) map[string][]byte {
	files := map[string][]byte{"go.mod": []byte("module " + modPath + "\n\ngo 1.21\n")}
	rng := rand.New(rand.NewChaCha8([32]byte{'c', 'o', 'l', 'd'}))
	for i := range 6 {
		blob := make([]byte, 8<<20)
		for j := range blob {
			blob[j] = byte(rng.Uint32())
		}
		files[fmt.Sprintf("bin/blob%d.bin", i)] = blob
	}
	words := strings.Fields("func return if else for range var const type struct interface map chan err nil ctx make len append string int byte error")
	for i := range 8 {
		var sb strings.Builder
		fmt.Fprintf(&sb, "package p%d\n\n", i)
		for sb.Len() < 4<<20 {
			fmt.Fprintf(&sb, "\t%s := %s(%s, %d) // %s %s\n", words[rng.IntN(len(words))], words[rng.IntN(len(words))],
				words[rng.IntN(len(words))], rng.IntN(1000), words[rng.IntN(len(words))], words[rng.IntN(len(words))])
		}
		files[fmt.Sprintf("src/p%d/p.go", i)] = []byte(sb.String())
	}
	return files
}

// baseBinary builds gomirror from the commit GOMIRROR_BENCH_BASE names
// (git archive into a temporary directory, then go build), skipping the
// benchmark if it is not set.
func baseBinary(b *testing.B) string {
	b.Helper()
	bin := optionalBaseBinary(b)
	if bin == "" {
		b.Skip("set GOMIRROR_BENCH_BASE to the commit to compare with (e.g. GOMIRROR_BENCH_BASE=HEAD~1)")
	}
	return bin
}

// optionalBaseBinary is baseBinary, returning "" if GOMIRROR_BENCH_BASE is
// not set: the benchmarks that run a third arm only if it is.
func optionalBaseBinary(b *testing.B) string {
	b.Helper()
	commit := os.Getenv("GOMIRROR_BENCH_BASE")
	if commit == "" {
		return ""
	}
	out, err := exec.Command("git", "rev-parse", "--verify", commit+"^{commit}").CombinedOutput()
	if err != nil {
		b.Fatalf("GOMIRROR_BENCH_BASE=%s: %v\n%s", commit, err, out)
	}
	sha := strings.TrimSpace(string(out))
	dir := workDir(b)
	src := filepath.Join(dir, "src")
	if err := os.Mkdir(src, 0o755); err != nil {
		b.Fatal(err)
	}
	// sha is hex from git rev-parse and src a temporary path: safe in sh.
	// (git archive run in a subdirectory archives only that subdirectory.)
	archive := exec.Command("sh", "-c", "git archive --format=tar "+sha+" | tar -x -C '"+src+"'")
	archive.Dir = ".."
	if out, err := archive.CombinedOutput(); err != nil {
		b.Fatalf("git archive %s: %v\n%s", sha, err, out)
	}
	bin := filepath.Join(dir, "gomirror-base")
	build := exec.Command("go", "build", "-o", bin, "./cmd/gomirror")
	build.Dir = src
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("building gomirror at %s: %v\n%s", sha, err, out)
	}
	b.Logf("base: gomirror built from %s", sha[:12])
	return bin
}

// procUserSys is the user and the system time of a running process, in
// seconds.
func procUserSys(pid int) (user, sys float64) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0, 0
	}
	u, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return u / userHZ, st / userHZ
}
