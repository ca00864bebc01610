package server

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gomirror/gomirror/config"
	"github.com/gomirror/gomirror/internal/fakeproxy"
	"github.com/gomirror/gomirror/internal/testutil"
	"github.com/gomirror/gomirror/obs"
)

// addBigModule adds example.com/big@v1.0.0 to up: a module zip of about 4
// MiB (incompressible data), large enough to be followed while it arrives.
func addBigModule(t *testing.T, up *fakeproxy.Server) *fakeproxy.Module {
	t.Helper()
	data := make([]byte, 4<<20)
	rand.NewChaCha8([32]byte{9}).Read(data)
	m, err := up.Add("example.com/big", "v1.0.0", map[string][]byte{
		"go.mod":   []byte("module example.com/big\n"),
		"data.bin": data,
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// holdHalf makes up answer the zip of example.com/big@v1.0.0 with z, its
// length announced, sending the first half at once and the rest once
// release is closed; sentHalf is closed when the first half is out.
func holdHalf(up *fakeproxy.Server, z []byte) (sentHalf, release chan struct{}) {
	return holdHalfSized(up, z, true)
}

// holdHalfSized is holdHalf, with the length announced or (sized false)
// not: the upstream's answer is then chunked.
func holdHalfSized(up *fakeproxy.Server, z []byte, sized bool) (sentHalf, release chan struct{}) {
	half := len(z) / 2
	sentHalf, release = make(chan struct{}), make(chan struct{})
	up.SetHook(func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path != "/example.com/big/@v/v1.0.0.zip" {
			return false
		}
		if sized {
			w.Header().Set("Content-Length", strconv.Itoa(len(z)))
		}
		w.WriteHeader(http.StatusOK)
		w.Write(z[:half])
		w.(http.Flusher).Flush()
		close(sentHalf)
		select {
		case <-release:
		case <-r.Context().Done():
			return true
		}
		w.Write(z[half:])
		return true
	})
	return sentHalf, release
}

// TestColdZipIsStreamedThrough: a client gets the first megabytes of a
// large cold zip while the upstream still holds back the rest, then all
// of it, byte for byte, with its length announced; the zip is stored.
func TestColdZipIsStreamedThrough(t *testing.T) {
	up := fakeproxy.New(t)
	big := addBigModule(t, up)
	sentHalf, release := holdHalf(up, big.Zip)
	s := start(t, up, nil)

	type answer struct {
		resp *http.Response
		err  error
	}
	a := testutil.Within(t, "response headers", func() answer {
		resp, err := http.Get(s.URL + "/example.com/big/@v/v1.0.0.zip")
		return answer{resp, err}
	})
	if a.err != nil {
		t.Fatal(a.err)
	}
	defer a.resp.Body.Close()
	if a.resp.StatusCode != http.StatusOK || a.resp.ContentLength != int64(len(big.Zip)) {
		t.Fatalf("status %d, length %d; want 200 and %d", a.resp.StatusCode, a.resp.ContentLength, len(big.Zip))
	}
	<-sentHalf
	first := make([]byte, 1<<20)
	if err := testutil.Within(t, "the first megabyte while the upstream holds the rest", func() error {
		_, err := io.ReadFull(a.resp.Body, first)
		return err
	}); err != nil || !bytes.Equal(first, big.Zip[:len(first)]) {
		t.Fatalf("first megabyte: %v, equal %v", err, bytes.Equal(first, big.Zip[:len(first)]))
	}
	close(release)
	rest, err := io.ReadAll(a.resp.Body)
	if err != nil || !bytes.Equal(append(first, rest...), big.Zip) {
		t.Fatalf("read %d bytes, %v; want the zip's %d", len(first)+len(rest), err, len(big.Zip))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.WaitFills(ctx); err != nil {
		t.Fatal(err)
	}
	if stored, err := s.stored("example.com/big/@v/v1.0.0.zip"); err != nil || !bytes.Equal(stored, big.Zip) {
		t.Errorf("stored %d bytes, %v; want the zip", len(stored), err)
	}
	// A HEAD or range of a stored zip is as before.
	if r := do(t, http.MethodGet, s.URL+"/example.com/big/@v/v1.0.0.zip", http.Header{"Range": {"bytes=0-3"}}); r.code != http.StatusPartialContent || r.body != "PK\x03\x04" {
		t.Errorf("range of the stored zip: %d %q", r.code, r.body)
	}
}

// TestFollowedZipFailingVerificationIsCutOff: a large zip that fails the
// checksum check after clients began to receive it reaches them as a
// broken transfer, never as a complete response; the failure is logged
// with the request, counted, and nothing is stored.
func TestFollowedZipFailingVerificationIsCutOff(t *testing.T) {
	up := fakeproxy.New(t)
	addBigModule(t, up)
	up.Tamper(t, "example.com/big", "v1.0.0", true, false)
	served := up.Module("example.com/big", "v1.0.0").ServedZip
	_, release := holdHalf(up, served)
	s := start(t, up, nil)

	// The answer begins while the upstream holds back the second half.
	resp, err := http.Get(s.URL + "/example.com/big/@v/v1.0.0.zip")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	close(release)
	b, err := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || err == nil {
		t.Fatalf("status %d, read %d bytes, %v; want 200 and a broken transfer", resp.StatusCode, len(b), err)
	}
	if len(b) >= len(served) || !bytes.Equal(b, served[:len(b)]) || len(b) < 1<<20 {
		t.Errorf("received %d bytes of %d (a prefix: %v); want a prefix of at least 1 MiB, short of the end", len(b), len(served), bytes.Equal(b, served[:min(len(b), len(served))]))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.WaitFills(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.stored("example.com/big/@v/v1.0.0.zip"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("refused zip stored: %v", err)
	}
	logs := s.Logs.String()
	for _, want := range []string{"verification failed", "response cut off", `aborted="`} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %q:\n%s", want, logs)
		}
	}
	if m := get(t, s.URL+"/metrics").body; !strings.Contains(m, `gomirror_verifications_total{file="zip",result="mismatch"} 1`) {
		t.Errorf("metrics do not count the refused zip")
	}
}

// startTampered starts a gomirror in front of an upstream whose
// example.com/big@v1.0.0 zip fails verification, answered as holdHalfSized
// does; it returns the bytes served and the release of the second half.
func startTampered(t *testing.T, sized bool) (s *testServer, served []byte, release chan struct{}) {
	up := fakeproxy.New(t)
	addBigModule(t, up)
	up.Tamper(t, "example.com/big", "v1.0.0", true, false)
	served = up.Module("example.com/big", "v1.0.0").ServedZip
	_, release = holdHalfSized(up, served, sized)
	return start(t, up, nil), served, release
}

// rawGet sends a GET of the big zip in HTTP/1.x on a connection of its own
// and returns the connection and the response (its headers read).
func rawGet(t *testing.T, s *testServer, proto string) (net.Conn, *http.Response) {
	t.Helper()
	c, err := net.Dial("tcp", s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(30 * time.Second))
	io.WriteString(c, "GET /example.com/big/@v/v1.0.0.zip "+proto+"\r\nHost: x\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return c, resp
}

// TestHalfClosedClientSeesTheCutOff: a client that half-closes its side
// after its request (net/http then cancels the request's context, yet the
// client still reads; an L4 balancer may do this) still sees a zip that
// fails verification as a broken transfer, not a chunked body that ends.
func TestHalfClosedClientSeesTheCutOff(t *testing.T) {
	s, served, release := startTampered(t, false)
	c, resp := rawGet(t, s, "HTTP/1.1")
	first := make([]byte, 1<<20)
	if _, err := io.ReadFull(resp.Body, first); err != nil {
		t.Fatal(err)
	}
	c.(*net.TCPConn).CloseWrite()
	close(release)
	rest, err := io.ReadAll(resp.Body)
	if err == nil {
		t.Errorf("the response ended normally after %d of the %d bytes of a zip that fails verification", len(first)+len(rest), len(served))
	}
}

// TestHTTP10ClientWaitsForAZipOfUnknownSize: an HTTP/1.0 response without
// a length ends when the connection closes, as an abort does; so an
// HTTP/1.0 client does not follow a zip whose size the upstream did not
// announce, and a zip that fails verification is a 502 for it.
func TestHTTP10ClientWaitsForAZipOfUnknownSize(t *testing.T) {
	s, _, release := startTampered(t, false)
	// An HTTP/1.1 client follows the fill: its answer has begun, so the
	// HTTP/1.0 request below finds the fill streaming.
	rawGet(t, s, "HTTP/1.1")
	c, err := net.Dial("tcp", s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	io.WriteString(c, "GET /example.com/big/@v/v1.0.0.zip HTTP/1.0\r\nHost: x\r\n\r\n")
	close(release)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusBadGateway || !strings.Contains(string(b), "checksum mismatch") {
		t.Errorf("HTTP/1.0: %d, %d bytes, %v; want 502 and the mismatch", resp.StatusCode, len(b), err)
	}
}

// TestGuardedRequirementsAreNotPrefetched: a go.mod anyone may read that
// requires a module under an auth rule (named tokens only) or a private
// one does not make gomirror fetch those for the anonymous client that
// asked for it; a public requirement is prefetched.
func TestGuardedRequirementsAreNotPrefetched(t *testing.T) {
	up := fakeproxy.New(t)
	for path, gomod := range map[string]string{
		"example.com/open":    "module example.com/open\n\nrequire (\n\texample.com/guarded v1.0.0\n\tcorp.example/secret v1.0.0\n\texample.com/dep v1.0.0\n)\n",
		"example.com/guarded": "module example.com/guarded\n",
		"corp.example/secret": "module corp.example/secret\n",
		"example.com/dep":     "module example.com/dep\n",
	} {
		if _, err := up.Add(path, "v1.0.0", map[string][]byte{"go.mod": []byte(gomod)}); err != nil {
			t.Fatal(err)
		}
	}
	tokens, _, _ := tokensFile(t)
	s := start(t, up, func(c *config.Serve) {
		c.TokensFile, c.Auth, c.Private = tokens, "private", "corp.example"
		c.AuthRules = []config.AuthRule{{Modules: "example.com/guarded", Tokens: []string{"ci"}}}
	})
	if r := get(t, s.URL+"/example.com/open/@v/v1.0.0.mod"); r.code != 200 {
		t.Fatalf("open .mod: %d %s", r.code, r.body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.WaitFills(ctx); err != nil {
		t.Fatal(err)
	}
	if n := up.Hits("/example.com/guarded/@v/v1.0.0.mod"); n != 0 {
		t.Errorf("a module under an auth rule was fetched %d times for an anonymous client", n)
	}
	if strings.Contains(s.Logs.String(), "corp.example/secret") {
		t.Errorf("a private module was fetched for an anonymous client:\n%s", s.Logs.String())
	}
	if n := up.Hits("/example.com/dep/@v/v1.0.0.mod"); n != 1 {
		t.Errorf("the public requirement was fetched %d times, want 1 (prefetched)", n)
	}
}

// TestPanicIsLoggedOnce: a handler that panics is logged with the request
// as a 500, with the panic and the stack where it happened, and its
// connection is dropped; an abort (http.ErrAbortHandler) keeps its status.
func TestPanicIsLoggedOnce(t *testing.T) {
	var logs testutil.Buffer
	s := &Server{log: slog.New(slog.NewTextHandler(&logs, nil)), metrics: obs.NewMetrics()}
	h := s.accessLog(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/abort" {
			w.Write([]byte("partial"))
			panic(http.ErrAbortHandler)
		}
		panicHere()
	}))
	ts := httptest.NewServer(h)
	defer ts.Close()
	for _, p := range []string{"/panic", "/abort"} {
		if resp, err := http.Get(ts.URL + p); err == nil {
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err == nil && p == "/panic" {
				t.Errorf("%s: a complete response: %d %q", p, resp.StatusCode, b)
			}
		}
	}
	out := logs.String()
	for _, want := range []string{`msg=request method=GET path=/panic status=500`, `msg="handler panicked"`, "panicHere", `path=/abort status=200`} {
		if !strings.Contains(out, want) {
			t.Errorf("logs lack %q:\n%s", want, out)
		}
	}
}

func panicHere() { panic("boom") }
