package bench

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

const (
	stallConns   = 1000     // BenchmarkStalledReaders: connections that stall (GOMIRROR_STALL_CONNS overrides)
	stallModSize = 15 << 20 // bytes of the go.mod they ask for
	stallRounds  = 3        // alternating rounds of each side
	stallWindow  = 3 * time.Second
	stallRcvBuf  = 4 << 10 // SO_RCVBUF of a stalled connection
)

// BenchmarkStalledReaders: 1,000 connections ask a gomirror for a stored
// 15 MiB go.mod and then read nothing. Measures (a) the growth of
// gomirror's RSS while they stall (target < 100 MB) and (b) the latency of
// ordinary cached .info requests from another client during the stall, as
// a ratio to the same requests without it (alternating rounds).
func BenchmarkStalledReaders(b *testing.B) {
	conns := stallConns
	if v, err := strconv.Atoi(os.Getenv("GOMIRROR_STALL_CONNS")); err == nil && v > 0 && v <= 4000 {
		conns = v
	}
	raiseFileLimit(b, uint64(conns)+200)
	tmp := workDir(b)
	store := filepath.Join(tmp, "storage")
	const bigKey = "example.com/bench/bigmod/@v/v1.0.0.mod"
	writeStored(b, store, bigKey, bigGoMod(stallModSize))
	var infoURLs []string
	// The 1,000 stalled connections stand for many clients but all come
	// from 127.0.0.1: without lifting the per-address cap (256 by default)
	// most would be refused at once and the run would measure nothing.
	m := startMirror(b, tmp, "--storage-dir", store, "--upstream", "off", "--sumdb", "off", "--max-conns-per-client", "0")
	for i := range 8 {
		key := fmt.Sprintf("example.com/bench/small%d/@v/v1.0.0.info", i)
		writeStored(b, store, key, []byte(`{"Version":"v1.0.0","Time":"2026-01-02T03:04:05Z"}`))
		infoURLs = append(infoURLs, m.URL+"/"+key)
	}
	pid := m.Pid()
	addr := strings.TrimPrefix(m.URL, "http://")
	bigPath := "/" + bigKey
	if n := len(get(b, m.URL+bigPath)); n != stallModSize {
		b.Fatalf("GET %s: %d bytes, want %d", bigPath, n, stallModSize)
	}
	for _, u := range infoURLs {
		get(b, u)
	}

	tr := &http.Transport{MaxIdleConnsPerHost: 4, DisableCompression: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	infoLoad := func(name string) *loadResult {
		hammer(client, infoURLs, 4, 500*time.Millisecond) // warm-up, untimed
		meter := startCPU(pid)
		r := hammer(client, infoURLs, 4, stallWindow)
		b.Logf("%s: %d .info requests (%d failed%s), p50 %.2f ms, p99 %.2f ms, max %.2f ms; %s",
			name, r.OK, r.Failed, firstErr(r), ms(r.Percentile(0.5)), ms(r.Percentile(0.99)), ms(r.Percentile(1)), meter)
		if r.Failed > 0 || r.OK == 0 {
			b.Errorf("%s: %d of %d .info requests failed: %s", name, r.Failed, r.OK+r.Failed, r.FirstErr)
		}
		return r
	}

	var (
		quietP50, quietP99, stallP50, stallP99, growth []float64
	)
	b.ResetTimer()
	for i := range stallRounds {
		q := infoLoad(fmt.Sprintf("round %d without stall", i))
		quietP50, quietP99 = append(quietP50, ms(q.Percentile(0.5))), append(quietP99, ms(q.Percentile(0.99)))

		hwmReset := resetHWM(pid)
		beforeKB, _, err := procMem(pid)
		if err != nil {
			b.Fatal(err)
		}
		sampler := sampleRSS(pid, 50*time.Millisecond)
		t0 := time.Now()
		stalled := stall(b, addr, bigPath, conns)
		waiting := waitStalled(stalled, 30*time.Second)
		b.Logf("round %d: %d connections stalled on %s in %.2fs; %d of them have response bytes waiting unread",
			i, len(stalled), bigPath, time.Since(t0).Seconds(), waiting)
		if waiting < len(stalled) {
			b.Errorf("round %d: only %d of %d stalled connections got a response started", i, waiting, len(stalled))
		}
		s := infoLoad(fmt.Sprintf("round %d during the stall", i))
		stallP50, stallP99 = append(stallP50, ms(s.Percentile(0.5))), append(stallP99, ms(s.Percentile(0.99)))
		peakKB, samples := sampler.stop(hwmReset)
		for _, c := range stalled {
			c.Close()
		}
		afterKB, _, _ := procMem(pid)
		g := float64(peakKB-beforeKB) / 1024
		growth = append(growth, g)
		b.Logf("round %d: gomirror RSS %.1f MB before, peak +%.1f MB during the stall (%d samples every 50ms, VmHWM reset: %v), %.1f MB after",
			i, float64(beforeKB)/1024, g, samples, hwmReset, float64(afterKB)/1024)
	}
	b.StopTimer()
	b.Logf("stalled connections still open in the bench process: none (closed); gomirror log: %s", m.stats(0))

	b.ReportMetric(0, "ns/op")
	b.ReportMetric(slices.Max(growth), "MB-rss-growth")
	b.ReportMetric(median(quietP50), "ms-p50-baseline")
	b.ReportMetric(median(stallP50), "ms-p50")
	b.ReportMetric(median(quietP99), "ms-p99-baseline")
	b.ReportMetric(median(stallP99), "ms-p99")
	b.ReportMetric(median(stallP50)/median(quietP50), "ratio")
	b.ReportMetric(median(stallP99)/median(quietP99), "ratio-p99")
}

// bigGoMod is a go.mod of size bytes.
func bigGoMod(size int) []byte {
	b := bytes.NewBufferString("module example.com/bench/bigmod\n")
	line := "// " + strings.Repeat("x", 1020) + "\n"
	for b.Len()+len(line) <= size {
		b.WriteString(line)
	}
	b.WriteString(strings.Repeat("/", size-b.Len()-1) + "\n")
	return b.Bytes()
}

// writeStored puts b at key in a local-disk storage dir.
func writeStored(b *testing.B, store, key string, content []byte) {
	b.Helper()
	p := filepath.Join(store, filepath.FromSlash(key))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(p, content, 0o644); err != nil {
		b.Fatal(err)
	}
}

// stall opens n connections to addr with a small receive buffer, sends a
// GET for path on each and reads nothing. The caller closes them.
func stall(b *testing.B, addr, path string, n int) []net.Conn {
	b.Helper()
	d := net.Dialer{Timeout: 10 * time.Second, Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		if err := c.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, stallRcvBuf)
		}); err != nil {
			return err
		}
		return serr
	}}
	req := []byte("GET " + path + " HTTP/1.1\r\nHost: " + addr + "\r\n\r\n")
	conns := make([]net.Conn, 0, n)
	for range n {
		c, err := d.Dial("tcp", addr)
		if err != nil {
			for _, c := range conns {
				c.Close()
			}
			b.Fatalf("connection %d: %v", len(conns), err)
		}
		conns = append(conns, c)
		if _, err := c.Write(req); err != nil {
			b.Fatalf("connection %d: %v", len(conns), err)
		}
	}
	return conns
}

// waitStalled waits until every connection has response bytes waiting in
// its receive buffer (the server has started answering), or within
// passes; it returns how many have.
func waitStalled(conns []net.Conn, within time.Duration) int {
	deadline := time.Now().Add(within)
	for {
		n := 0
		for _, c := range conns {
			if unread(c) > 0 {
				n++
			}
		}
		if n == len(conns) || time.Now().After(deadline) {
			return n
		}
		time.Sleep(20 * time.Millisecond) // polling the sockets
	}
}

// unread returns the bytes waiting in c's receive buffer (FIONREAD).
func unread(c net.Conn) int {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return 0
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return 0
	}
	var n int32
	rc.Control(func(fd uintptr) {
		syscall.Syscall(syscall.SYS_IOCTL, fd, syscall.TIOCINQ, uintptr(unsafe.Pointer(&n)))
	})
	return int(n)
}

// raiseFileLimit makes sure this process may open need files.
func raiseFileLimit(b *testing.B, need uint64) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		b.Fatal(err)
	}
	if lim.Cur >= need {
		return
	}
	if lim.Max < need {
		b.Skipf("RLIMIT_NOFILE hard limit %d is below the %d files needed", lim.Max, need)
	}
	lim.Cur = need
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		b.Fatal(err)
	}
}

func firstErr(r *loadResult) string {
	if r.FirstErr == "" {
		return ""
	}
	return ": " + r.FirstErr
}
