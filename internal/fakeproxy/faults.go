package fakeproxy

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"time"
)

// A Fault answers a request the way a broken upstream does: slowly, with an
// error status, or with a damaged response. Install one with Inject or
// InjectFirst; Heal removes it.
type Fault func(c *Call)

// Call is one request met by a Fault.
type Call struct {
	W http.ResponseWriter
	R *http.Request
	// Healed is closed when the fault is removed with Heal.
	Healed <-chan struct{}

	s *Server
}

// Response is a recorded answer.
type Response struct {
	Code   int
	Header http.Header
	Body   []byte
}

// Genuine returns what a healthy server answers to the call's request.
func (c *Call) Genuine() *Response {
	rec := httptest.NewRecorder()
	c.s.answer(rec, c.R)
	return &Response{Code: rec.Code, Header: rec.Header(), Body: rec.Body.Bytes()}
}

// Match selects the requests a fault applies to.
type Match func(r *http.Request) bool

// Suffix matches request paths ending in any of suffixes (".zip", ".mod").
func Suffix(suffixes ...string) Match {
	return func(r *http.Request) bool {
		return slices.ContainsFunc(suffixes, func(s string) bool { return strings.HasSuffix(r.URL.Path, s) })
	}
}

// Prefix matches request paths starting with prefix ("/sumdb/").
func Prefix(prefix string) Match {
	return func(r *http.Request) bool { return strings.HasPrefix(r.URL.Path, prefix) }
}

// Paths matches exactly the request paths given.
func Paths(paths ...string) Match {
	return func(r *http.Request) bool { return slices.Contains(paths, r.URL.Path) }
}

// Not matches what m does not.
func Not(m Match) Match { return func(r *http.Request) bool { return !m(r) } }

// Modules matches every module proxy request (everything but /sumdb/).
var Modules = Not(Prefix("/sumdb/"))

// SumDB matches the checksum database's requests except "supported": the
// database itself failing while the proxy in front of it still says it
// proxies it.
var SumDB Match = func(r *http.Request) bool {
	return strings.HasPrefix(r.URL.Path, "/sumdb/") && !strings.HasSuffix(r.URL.Path, "/supported")
}

// Sample matches a fraction p (0..1) of the requests m matches, picked at
// random by a generator seeded with seed: the sequence of picks is the same
// in every run (which request gets which pick depends on arrival order).
// It is safe for concurrent use.
func Sample(m Match, p float64, seed uint64) Match {
	var mu sync.Mutex
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	return func(r *http.Request) bool {
		if !m(r) {
			return false
		}
		mu.Lock()
		defer mu.Unlock()
		return rng.Float64() < p
	}
}

// faultState is the Server's injected fault.
type faultState struct {
	healed   chan struct{} // closed by Heal; nil when no fault is installed
	injected map[string]int
	seen     map[string]bool // paths already faulted once, for InjectFirst
	changed  chan struct{}   // closed and replaced whenever injected grows
}

// Inject makes the server answer every request that match selects with f,
// until Heal. It replaces any hook installed with SetHook.
func (s *Server) Inject(match Match, f Fault) { s.inject(match, f, false) }

// InjectFirst is Inject for the first matching request of each path only:
// later requests for the same path are answered as usual, as by an upstream
// whose trouble a retry gets past.
func (s *Server) InjectFirst(match Match, f Fault) { s.inject(match, f, true) }

func (s *Server) inject(match Match, f Fault, firstOnly bool) {
	s.Heal()
	healed := make(chan struct{})
	s.mu.Lock()
	s.faults.healed = healed
	s.faults.seen = map[string]bool{}
	s.mu.Unlock()
	s.SetHook(func(w http.ResponseWriter, r *http.Request) bool {
		if !match(r) {
			return false
		}
		s.mu.Lock()
		if firstOnly && s.faults.seen[r.URL.Path] {
			s.mu.Unlock()
			return false
		}
		s.faults.seen[r.URL.Path] = true
		if s.faults.injected == nil {
			s.faults.injected = map[string]int{}
		}
		s.faults.injected[r.URL.Path]++
		if s.faults.changed != nil {
			close(s.faults.changed)
			s.faults.changed = nil
		}
		s.mu.Unlock()
		f(&Call{W: w, R: r, Healed: healed, s: s})
		return true
	})
}

// Heal removes the injected fault (and any hook): requests held by Hang or
// Stall are then answered in full, and new requests as usual.
func (s *Server) Heal() {
	s.SetHook(nil)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.faults.healed != nil {
		close(s.faults.healed)
		s.faults.healed = nil
	}
}

// Injected returns how many requests for the URL path p a fault has answered.
func (s *Server) Injected(p string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.faults.injected[p]
}

// WaitInjected waits until a fault has answered (or begun to answer) at
// least n requests for the URL path p, or ctx is done.
func (s *Server) WaitInjected(ctx context.Context, p string, n int) error {
	for {
		s.mu.Lock()
		if s.faults.injected[p] >= n {
			s.mu.Unlock()
			return nil
		}
		if s.faults.changed == nil {
			s.faults.changed = make(chan struct{})
		}
		changed := s.faults.changed
		s.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("waiting for %d faulted requests for %s: %w", n, p, ctx.Err())
		}
	}
}

// InjectedTotal returns how many requests faults have answered in all.
func (s *Server) InjectedTotal() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.faults.injected {
		n += c
	}
	return n
}

// Untamper undoes Tamper: path@version is served as the checksum database
// records it again, by the server's origin and all its mirrors.
func (s *Server) Untamper(path, version string) {
	s.data.mu.Lock()
	defer s.data.mu.Unlock()
	if m := s.data.mods[path+"@"+version]; m != nil {
		m.ServedMod, m.ServedZip = nil, nil
	}
}

// Status answers with code and msg, as http.Error does.
func Status(code int, msg string) Fault {
	return func(c *Call) { http.Error(c.W, msg, code) }
}

// WithHeader is f with the response header key set to value first, as in
// WithHeader("Retry-After", "1", Status(503, "busy")). It applies to faults
// that answer through the ResponseWriter (Status, Slow, Stall, Flip), not to
// those that write the raw connection (Reset, Truncate, WrongLength).
func WithHeader(key, value string, f Fault) Fault {
	return func(c *Call) {
		c.W.Header().Set(key, value)
		f(c)
	}
}

// Mix answers each call with one of faults, picked at random by a generator
// seeded with seed. It is safe for concurrent use.
func Mix(seed uint64, faults ...Fault) Fault {
	var mu sync.Mutex
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	return func(c *Call) {
		mu.Lock()
		f := faults[rng.IntN(len(faults))]
		mu.Unlock()
		f(c)
	}
}

// Slow answers in full after d (at once if the fault is healed first), or
// not at all if the client gives up before: a slow upstream.
func Slow(d time.Duration) Fault {
	return func(c *Call) {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-c.R.Context().Done():
			return
		case <-t.C:
		case <-c.Healed:
		}
		c.s.answer(c.W, c.R)
	}
}

// Hang does not answer until the client gives up; if the fault is healed
// first, the answer comes then, in full (an upstream that was slow, not dead).
func Hang() Fault {
	return func(c *Call) {
		select {
		case <-c.R.Context().Done():
		case <-c.Healed:
			c.s.answer(c.W, c.R)
		}
	}
}

// Stall sends the status, the headers (with the full Content-Length) and
// the first n bytes of the body, but never the last byte, then stops
// sending: a body that trickles in slower than any timeout. If the fault is
// healed first, the rest follows.
func Stall(n int) Fault {
	return func(c *Call) {
		g := c.Genuine()
		n := clamp(n, len(g.Body)-1)
		copyHeader(c.W.Header(), g.Header)
		c.W.Header().Set("Content-Length", fmt.Sprint(len(g.Body)))
		c.W.WriteHeader(g.Code)
		c.W.Write(g.Body[:n])
		http.NewResponseController(c.W).Flush()
		select {
		case <-c.R.Context().Done():
		case <-c.Healed:
			c.W.Write(g.Body[n:])
		}
	}
}

// Reset sends the status, the headers (with the full Content-Length) and the
// first n bytes of the body, but never the last byte, then resets the TCP
// connection (RST). With n negative it resets the connection before sending
// anything.
func Reset(n int) Fault {
	return func(c *Call) {
		conn, bw := hijack(c)
		if conn == nil {
			return
		}
		if n >= 0 {
			g := c.Genuine()
			writeHead(bw, g, len(g.Body))
			bw.Write(g.Body[:clamp(n, len(g.Body)-1)])
			bw.Flush()
		}
		if tc, ok := conn.(*net.TCPConn); ok {
			tc.SetLinger(0) // Close sends RST, not FIN
		}
		conn.Close()
	}
}

// Truncate sends the status, the headers with the full Content-Length and
// only the first n bytes of the body (with n negative, all but the last -n),
// then closes the connection normally.
func Truncate(n int) Fault {
	return func(c *Call) {
		conn, bw := hijack(c)
		if conn == nil {
			return
		}
		g := c.Genuine()
		writeHead(bw, g, len(g.Body))
		bw.Write(g.Body[:cut(n, len(g.Body))])
		bw.Flush()
		conn.Close()
	}
}

// TruncateUnframed sends the first n bytes of the body (with n negative,
// all but the last -n) without Content-Length, as "Connection: close", and
// closes the connection: the truncation is invisible to HTTP.
func TruncateUnframed(n int) Fault {
	return func(c *Call) {
		conn, bw := hijack(c)
		if conn == nil {
			return
		}
		g := c.Genuine()
		writeHead(bw, g, -1)
		bw.Write(g.Body[:cut(n, len(g.Body))])
		bw.Flush()
		conn.Close()
	}
}

// WrongLength sends the whole body under a Content-Length that is off by
// delta bytes, then closes the connection. With delta positive the response
// announces more than it sends; with delta negative, fewer, and a client
// reads only that many.
func WrongLength(delta int) Fault {
	return func(c *Call) {
		conn, bw := hijack(c)
		if conn == nil {
			return
		}
		g := c.Genuine()
		writeHead(bw, g, max(len(g.Body)+delta, 0))
		bw.Write(g.Body)
		bw.Flush()
		conn.Close()
	}
}

// Flip sends the genuine answer with one byte of the body changed, at
// offset n (with n negative, counted from the end): damage in transit that
// keeps the length.
func Flip(n int) Fault {
	return func(c *Call) {
		g := c.Genuine()
		body := slices.Clone(g.Body)
		if len(body) > 0 {
			i := n
			if i < 0 {
				i += len(body)
			}
			body[clamp(i, len(body)-1)] ^= 0x20
		}
		copyHeader(c.W.Header(), g.Header)
		c.W.Header().Set("Content-Length", fmt.Sprint(len(body)))
		c.W.WriteHeader(g.Code)
		c.W.Write(body)
	}
}

func hijack(c *Call) (net.Conn, *bufio.ReadWriter) {
	conn, bw, err := http.NewResponseController(c.W).Hijack()
	if err != nil {
		http.Error(c.W, "fakeproxy: cannot hijack: "+err.Error(), http.StatusInternalServerError)
		return nil, nil
	}
	return conn, bw
}

// writeHead writes g's status line and headers, with Content-Length
// length, or none and "Connection: close" if length is negative.
func writeHead(bw *bufio.ReadWriter, g *Response, length int) {
	fmt.Fprintf(bw, "HTTP/1.1 %d %s\r\n", g.Code, http.StatusText(g.Code))
	h := g.Header.Clone()
	h.Del("Content-Length")
	h.Del("Transfer-Encoding")
	if length >= 0 {
		h.Set("Content-Length", fmt.Sprint(length))
	} else {
		h.Set("Connection", "close")
	}
	h.Write(bw)
	bw.WriteString("\r\n")
}

func copyHeader(dst, src http.Header) {
	for k, v := range src {
		dst[k] = slices.Clone(v)
	}
}

func clamp(n, size int) int { return max(0, min(n, size)) }

// cut is how many bytes of size to keep: n, or size+n for n negative.
func cut(n, size int) int {
	if n < 0 {
		n += size
	}
	return clamp(n, size)
}
