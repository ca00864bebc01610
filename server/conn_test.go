//go:build unix

package server

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/gomirror/gomirror/config"
	"github.com/gomirror/gomirror/internal/testcert"
	"github.com/gomirror/gomirror/internal/testutil"
	"github.com/gomirror/gomirror/storage"
)

// bigModKey is a stored go.mod near the 16 MiB that anyone may publish.
const (
	bigModKey  = "example.com/big/@v/v1.0.0.mod"
	bigModPath = "/" + bigModKey
)

// bigMod returns a go.mod of about size bytes.
func bigMod(size int) []byte {
	var b bytes.Buffer
	b.WriteString("module example.com/big\n")
	line := "// " + strings.Repeat("x", 1020) + "\n"
	for b.Len()+len(line) <= size {
		b.WriteString(line)
	}
	return b.Bytes()
}

// startOffline runs a server with the upstream and checksum database off
// whose storage holds files (key → content).
func startOffline(t *testing.T, files map[string][]byte, edit func(*config.Serve)) *testServer {
	t.Helper()
	return startOfflineLogger(t, files, edit, nil)
}

// startOfflineLogger is startOffline with the logger newLogger returns
// (nil: run's), for the logs that the test server keeps.
func startOfflineLogger(t *testing.T, files map[string][]byte, edit func(*config.Serve), newLogger func(w io.Writer, cfg *config.Serve) *slog.Logger) *testServer {
	t.Helper()
	cfg := config.Defaults()
	cfg.VulnDB = "off" // its first refresh would ask the upstream for golang.org/x/vulndb
	cfg.Listen = "127.0.0.1:0"
	cfg.StorageDir = t.TempDir()
	cfg.DirectDir = t.TempDir()
	cfg.Upstream = "off"
	cfg.SumDB = "off"
	cfg.ShutdownTimeout = 10 * time.Second
	for key, b := range files {
		p := filepath.Join(cfg.StorageDir, filepath.FromSlash(key))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if edit != nil {
		edit(&cfg)
	}
	if newLogger == nil {
		return run(t, &cfg)
	}
	logs := &testutil.Buffer{}
	srv, err := New(&cfg, newLogger(logs, &cfg))
	if err != nil {
		t.Fatal(err)
	}
	return serve(t, srv, &cfg, logs)
}

// dialRcvBuf connects to addr with a receive buffer of rcvbuf bytes, set
// before the connection is made so that the window it advertises is small.
func dialRcvBuf(t *testing.T, addr string, rcvbuf int) net.Conn {
	t.Helper()
	d := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		if err := c.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, rcvbuf)
		}); err != nil {
			return err
		}
		return serr
	}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// readHeader sends a GET for path on c and reads the response up to the end
// of its header, and no further.
func readHeader(t *testing.T, c net.Conn, path string) {
	t.Helper()
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: gomirror\r\n\r\n", path)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	var got []byte
	one := make([]byte, 1)
	for !bytes.HasSuffix(got, []byte("\r\n\r\n")) {
		if _, err := c.Read(one); err != nil {
			t.Fatalf("reading the response header: %v (so far %q)", err, got)
		}
		got = append(got, one[0])
	}
	if !bytes.HasPrefix(got, []byte("HTTP/1.1 200")) {
		t.Fatalf("response: %q", got)
	}
	c.SetReadDeadline(time.Time{})
}

// waitLogged waits until the access log has n lines for path, that is until
// n of its requests have ended on the server.
func waitLogged(t *testing.T, s *testServer, path string, n int, within time.Duration) {
	t.Helper()
	needle := "path=" + path + " "
	deadline := time.Now().Add(within)
	for strings.Count(s.Logs.String(), needle) < n {
		if time.Now().After(deadline) {
			t.Fatalf("after %v, %d requests for %s have ended on the server, want %d", within, strings.Count(s.Logs.String(), needle), path, n)
		}
		time.Sleep(10 * time.Millisecond) // polling the log, not waiting for time to pass
	}
}

// A client that asks for a big artifact and reads nothing loses its
// connection after write-timeout; one that reads slowly but steadily gets
// the whole body under the same setting, though it takes longer than
// write-timeout.
func TestStalledReaderIsCutOff(t *testing.T) {
	mod := bigMod(15 << 20)
	const writeTimeout = 2 * time.Second
	s := startOffline(t, map[string][]byte{bigModKey: mod}, func(c *config.Serve) { c.WriteTimeout = writeTimeout })

	t.Run("stalled", func(t *testing.T) {
		c := dialRcvBuf(t, s.Addr, 4096)
		readHeader(t, c, bigModPath)
		// The server gives up on its own: the request ends while the
		// client has read nothing.
		waitLogged(t, s, bigModPath, 1, 30*time.Second)
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		n, err := io.Copy(io.Discard, c)
		if n >= int64(len(mod)) {
			t.Errorf("the stalled client got %d bytes of the body afterwards, all of it (%d)", n, len(mod))
		}
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Errorf("the connection is still open after the response was cut off: %v", err)
		}
	})

	t.Run("slow but steady", func(t *testing.T) {
		c := dialRcvBuf(t, s.Addr, 16<<10)
		fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: gomirror\r\nConnection: close\r\n\r\n", bigModPath)
		// 3 MiB/s: the 15 MiB take about 5s, more than twice write-timeout.
		const rate = 3 << 20
		start := time.Now()
		br := bufio.NewReaderSize(c, 16<<10)
		c.SetReadDeadline(time.Now().Add(60 * time.Second))
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		var got bytes.Buffer
		buf := make([]byte, 16<<10)
		for {
			n, err := resp.Body.Read(buf)
			got.Write(buf[:n])
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("after %d bytes in %v: %v", got.Len(), time.Since(start), err)
			}
			if ahead := time.Duration(float64(got.Len())/rate*float64(time.Second)) - time.Since(start); ahead > 0 {
				time.Sleep(ahead) // pacing the reader
			}
		}
		if !bytes.Equal(got.Bytes(), mod) {
			t.Errorf("slow reader got %d bytes, want the %d of the go.mod", got.Len(), len(mod))
		}
		if d := time.Since(start); d < 2*writeTimeout {
			t.Errorf("the transfer took %v, not longer than write-timeout: the test proves nothing", d)
		}
	})
}

// Over HTTP/2 (TLS), a stream whose client reads nothing is reset after
// write-timeout.
func TestStalledReaderIsCutOffHTTP2(t *testing.T) {
	mod := bigMod(15 << 20)
	cert := testcert.New(t)
	s := startOffline(t, map[string][]byte{bigModKey: mod}, func(c *config.Serve) {
		c.WriteTimeout = time.Second
		c.TLSCert, c.TLSKey = cert.CertFile, cert.KeyFile
	})
	tr := &http.Transport{TLSClientConfig: cert.ClientConfig(), ForceAttemptHTTP2: true}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Get("https://" + s.Addr + bigModPath)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.ProtoMajor != 2 || resp.StatusCode != 200 {
		t.Fatalf("%s %d, want HTTP/2 200", resp.Proto, resp.StatusCode)
	}
	// The client's transport takes what the stream's flow control window
	// allows (4 MiB) and no more until the body is read.
	waitLogged(t, s, bigModPath, 1, 30*time.Second)
	n, err := io.Copy(io.Discard, resp.Body)
	if err == nil || n >= int64(len(mod)) {
		t.Errorf("read %d of %d bytes after the stall, err %v; want the stream reset before the end", n, len(mod), err)
	}
}

// Readers of a stored .mod get it streamed from storage: many readers that
// stall on a big one cost no copy of it each (the server allocates less
// than one copy for all of them together).
func TestStoredModIsStreamedNotCopied(t *testing.T) {
	const readers = 10
	mod := bigMod(8 << 20)
	s := startOffline(t, map[string][]byte{bigModKey: mod}, nil)
	conns := make([]net.Conn, readers)
	for i := range conns {
		conns[i] = dialRcvBuf(t, s.Addr, 4096)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for _, c := range conns {
		readHeader(t, c, bigModPath) // then stall
	}
	runtime.ReadMemStats(&after)
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("%d stalled readers of a %d-byte go.mod: %d bytes allocated", readers, len(mod), alloc)
	if alloc >= uint64(len(mod)) {
		t.Errorf("%d stalled readers of a %d-byte go.mod: %d bytes allocated, %.1f copies", readers, len(mod), alloc, float64(alloc)/float64(len(mod)))
	}
	// And the bytes are right.
	r := get(t, s.URL+bigModPath)
	if r.code != 200 || r.body != string(mod) {
		t.Errorf("GET: %d, %d bytes, want the %d stored", r.code, len(r.body), len(mod))
	}
}

// healthz sends GET /healthz on c and reads the answer within the time
// given.
func healthz(c net.Conn, br *bufio.Reader, within time.Duration) error {
	fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: gomirror\r\n\r\n")
	c.SetReadDeadline(time.Now().Add(within))
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, err = io.Copy(io.Discard, resp.Body)
	return err
}

// TestConnectionCap fills max-conns with busy connections (each stalled
// in a big response): a further connection is not served until one of
// them closes.
func TestConnectionCap(t *testing.T) {
	const modKey = "example.com/big/@v/v1.0.0.mod"
	s := startOffline(t, map[string][]byte{modKey: bigMod(8 << 20)}, func(c *config.Serve) { c.MaxConns = 2 })
	var busy []net.Conn
	for range 2 {
		c := dialRcvBuf(t, s.Addr, 4<<10)
		readHeader(t, c, "/"+modKey) // and read no further: busy
		busy = append(busy, c)
	}
	extra := dialFrom(t, "127.0.0.2", s.Addr) // the kernel accepts; the server does not
	br := bufio.NewReader(extra)
	if err := healthz(extra, br, 500*time.Millisecond); err == nil {
		t.Fatal("a third connection was served with max-conns 2 and both others busy")
	}
	busy[0].Close()
	extra.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("after one connection closed, the waiting one: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("after one connection closed: %d", resp.StatusCode)
	}
}

// TestIdleConnectionsMakeRoom is the lock-out through max-conns: one
// client takes every place with keep-alive connections that sit idle (and
// with connections that never send a request). Another client must still
// be served at once: it takes the place of the longest idle connection.
func TestIdleConnectionsMakeRoom(t *testing.T) {
	s := startOffline(t, nil, func(c *config.Serve) { c.MaxConns = 4 })
	for i := range 4 {
		c := dialRcvBuf(t, s.Addr, 64<<10)
		if i == 3 {
			continue // connected, and silent
		}
		if err := healthz(c, bufio.NewReader(c), 10*time.Second); err != nil {
			t.Fatal(err)
		}
		// kept alive, idle
	}
	for i := range 3 {
		other := dialFrom(t, "127.0.0.2", s.Addr)
		start := time.Now()
		if err := healthz(other, bufio.NewReader(other), 5*time.Second); err != nil {
			t.Fatalf("another client's request %d while one client holds every place idle: %v", i, err)
		}
		t.Logf("another client's request %d answered after %v", i, time.Since(start).Round(time.Millisecond))
	}
}

// TestConnectionsPerClient: one client address may hold at most
// max-conns-per-client connections; more are closed at once, while
// another address is still served.
func TestConnectionsPerClient(t *testing.T) {
	const modKey = "example.com/big/@v/v1.0.0.mod"
	s := startOffline(t, map[string][]byte{modKey: bigMod(8 << 20)}, func(c *config.Serve) { c.MaxConnsPerClient = 2 })
	for range 2 {
		c := dialRcvBuf(t, s.Addr, 4<<10)
		readHeader(t, c, "/"+modKey) // busy
	}
	third := dialRcvBuf(t, s.Addr, 64<<10)
	if err := healthz(third, bufio.NewReader(third), 5*time.Second); err == nil {
		t.Error("a third busy connection from one address was served with max-conns-per-client 2")
	}
	other := dialFrom(t, "127.0.0.2", s.Addr)
	if err := healthz(other, bufio.NewReader(other), 5*time.Second); err != nil {
		t.Errorf("another address: %v", err)
	}
}

// dialFrom connects to addr from the loopback address src: another client.
func dialFrom(t *testing.T, src, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// countingStore counts Puts.
type countingStore struct {
	storage.Storage
	puts atomic.Int64
}

func (s *countingStore) Put(ctx context.Context, key string, r io.Reader) error {
	s.puts.Add(1)
	return s.Storage.Put(ctx, key, r)
}

// A burst of /readyz requests costs one storage write, not one each.
func TestReadyzBurstWritesOnce(t *testing.T) {
	cfg := config.Defaults()
	cfg.VulnDB = "off" // its first refresh would ask the upstream for golang.org/x/vulndb
	cfg.Listen = "127.0.0.1:0"
	cfg.StorageDir = t.TempDir()
	cfg.DirectDir = t.TempDir()
	cfg.Upstream, cfg.SumDB = "off", "off"
	logs := &testutil.Buffer{}
	srv, err := New(&cfg, slog.New(slog.NewTextHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	cs := &countingStore{Storage: srv.store}
	srv.store = cs
	var now atomic.Int64 // a clock that stands still: the burst is within one readyTTL
	now.Store(time.Now().UnixNano())
	srv.ready.now = func() time.Time { return time.Unix(0, now.Load()) }
	s := serve(t, srv, &cfg, logs)

	const burst = 200
	var wg sync.WaitGroup
	codes := make([]int, burst)
	client := &http.Client{Transport: &http.Transport{MaxConnsPerHost: 20}}
	for i := range burst {
		wg.Go(func() {
			resp, err := client.Get(s.URL + "/readyz")
			if err != nil {
				t.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			codes[i] = resp.StatusCode
		})
	}
	wg.Wait()
	for i, c := range codes {
		if c != 200 {
			t.Fatalf("request %d: %d", i, c)
		}
	}
	if n := cs.puts.Load(); n != 1 {
		t.Errorf("%d /readyz requests made %d storage writes, want 1", burst, n)
	}
	// Once the answer is older than readyTTL, storage is probed again.
	now.Add(int64(readyTTL))
	if r := get(t, s.URL+"/readyz"); r.code != 200 {
		t.Errorf("/readyz: %d", r.code)
	}
	if n := cs.puts.Load(); n != 2 {
		t.Errorf("after readyTTL: %d storage writes, want 2", n)
	}
}

// The connection cap keeps what sendfile needs: net/http sends a file with
// sendfile only through the connection's io.ReaderFrom (which
// x/net/netutil.LimitListener's wrapper hides), and withWriteDeadline waits
// for the socket through syscall.Conn.
func TestCapListenerKeepsSendfile(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cl := newCapListener(ln, 1, 0, nil)
	defer cl.Close()
	client := dialRcvBuf(t, ln.Addr().String(), 64<<10)
	defer client.Close()
	c, err := cl.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, ok := c.(io.ReaderFrom); !ok {
		t.Errorf("accepted %T: no io.ReaderFrom, so no sendfile", c)
	}
	if rawConn(withConn(nil)(context.Background(), c)) == nil {
		t.Errorf("accepted %T: no syscall.Conn", c)
	}
}

// Streams are HTTP/2's connections: a client that opens many on one
// connection and grants no flow-control window (SETTINGS_INITIAL_WINDOW_SIZE
// 0) gets every response started and none sent. Together they must cost
// less than one copy of what they ask for, and each is reset after
// write-timeout.
func TestHTTP2ZeroWindowStreams(t *testing.T) {
	const streams = 50
	mod := bigMod(4 << 20)
	cert := testcert.New(t)
	s := startOffline(t, map[string][]byte{bigModKey: mod}, func(c *config.Serve) {
		c.WriteTimeout = time.Second
		c.TLSCert, c.TLSKey = cert.CertFile, cert.KeyFile
	})
	cfg := cert.ClientConfig()
	cfg.NextProtos = []string{"h2"}
	c, err := tls.Dial("tcp", s.Addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	fr := http2.NewFramer(c, c)
	if err := fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 0}); err != nil {
		t.Fatal(err)
	}
	headers, resets := make(chan uint32, streams), make(chan uint32, streams)
	go func() {
		for {
			f, err := fr.ReadFrame()
			if err != nil {
				return
			}
			switch f := f.(type) {
			case *http2.HeadersFrame:
				headers <- f.StreamID
			case *http2.RSTStreamFrame:
				resets <- f.StreamID
			}
		}
	}()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	var hb bytes.Buffer
	enc := hpack.NewEncoder(&hb)
	for i := range streams {
		hb.Reset()
		for _, f := range [][2]string{{":method", "GET"}, {":scheme", "https"}, {":authority", s.Addr}, {":path", bigModPath}} {
			enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
		}
		if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: uint32(2*i + 1), BlockFragment: hb.Bytes(), EndStream: true, EndHeaders: true}); err != nil {
			t.Fatal(err)
		}
	}
	timeout := time.After(20 * time.Second)
	for range streams { // every response has started
		select {
		case <-headers:
		case <-timeout:
			t.Fatal("not every stream got its response headers")
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	live := int64(after.HeapAlloc) - int64(before.HeapAlloc) + int64(after.StackInuse) - int64(before.StackInuse)
	t.Logf("%d zero-window streams on a %d-byte go.mod: %d bytes more in use", streams, len(mod), live)
	if live >= int64(len(mod)) {
		t.Errorf("%d zero-window streams hold %d bytes, %.1f copies of the go.mod", streams, live, float64(live)/float64(len(mod)))
	}
	for range streams { // and write-timeout later, each is reset
		select {
		case <-resets:
		case <-timeout:
			t.Fatal("not every stalled stream was reset")
		}
	}
}

// TestKeepAlivePastWriteTimeout checks that a keep-alive connection idle
// for longer than write-timeout still gets its next answers whole, with
// and without a body: the previous request's write deadline has passed by
// then, and each response moves it before anything reaches the socket
// (deadlineWriter: not at WriteHeader, but at the first chunk and at the
// end of the response).
func TestKeepAlivePastWriteTimeout(t *testing.T) {
	const key = "example.com/ka/@v/v1.0.0.info"
	body := []byte(`{"Version":"v1.0.0","Time":"2026-11-28T12:00:00Z"}`)
	const writeTimeout = 100 * time.Millisecond
	s := startOffline(t, map[string][]byte{key: body}, func(c *config.Serve) { c.WriteTimeout = writeTimeout })
	c, err := net.Dial("tcp", s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	for i, method := range []string{"GET", "GET", "HEAD", "GET"} {
		if i > 0 {
			time.Sleep(3 * writeTimeout) // the deadline the last answer set passes
		}
		c.SetDeadline(time.Now().Add(10 * time.Second))
		fmt.Fprintf(c, "%s /%s HTTP/1.1\r\nHost: gomirror\r\n\r\n", method, key)
		resp, err := http.ReadResponse(br, &http.Request{Method: method})
		if err != nil {
			t.Fatalf("request %d (%s): %v", i, method, err)
		}
		got, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("request %d (%s): status %d, %v", i, method, resp.StatusCode, err)
		}
		if want := body; method == "HEAD" {
			if len(got) != 0 || resp.ContentLength != int64(len(body)) {
				t.Errorf("HEAD: %d bytes, Content-Length %d", len(got), resp.ContentLength)
			}
		} else if !bytes.Equal(got, want) {
			t.Errorf("request %d: %q", i, got)
		}
	}
}
