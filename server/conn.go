package server

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/gomirror/gomirror/internal/clientaddr"
)

// maxStreams is the most streams one HTTP/2 connection may have open:
// each may hold a response stalled by flow control (a goroutine and about
// 30 KB), so it multiplies what max-conns bounds. Go's default is 250; the
// go command opens another connection when a server allows fewer.
const maxStreams = 100

// writeChunk is the most a response writes between two extensions of its
// write deadline, unless the chunk is sized to the room in the socket
// (up to maxRoomChunk): such a chunk is taken at once.
const (
	writeChunk   = 64 << 10
	maxRoomChunk = 4 << 20
)

// withWriteDeadline cuts off responses whose client stops reading. Before
// every chunk (at most writeChunk bytes, or on HTTP/1 what the socket has
// room for, see ReadFrom), the response's write deadline is set to timeout
// from now (http.ResponseController.SetWriteDeadline), so a
// slow client that keeps reading gets the whole body however long it takes,
// and one that takes in nothing for timeout loses its connection (HTTP/1) or
// stream (HTTP/2), and with it what the response held. Files still go out
// with sendfile on HTTP/1: ReadFrom hands the connection one
// *io.LimitedReader over the same *os.File per chunk.
func withWriteDeadline(next http.Handler, timeout time.Duration) http.Handler {
	bufs := &sync.Pool{New: func() any { b := make([]byte, 16<<10); return &b }}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		dw := &deadlineWriter{ResponseWriter: w, dl: deadlinerOf(w), timeout: timeout, slack: deadlineSlack(timeout), bufs: bufs}
		if r.ProtoMajor == 1 {
			dw.raw = rawConn(r.Context())
		}
		next.ServeHTTP(dw, r)
		// HTTP/1 writes the buffered end of the response (or all of a
		// response without a body) after the handler returns.
		dw.extend()
	})
}

// deadlineWriter extends the write deadline before each chunk it writes
// (and before a flush), and once more when the handler returns. An
// extension within slack of the previous one is left out (a small body's
// Write and the end of its response come microseconds apart): the deadline
// is always at least timeout - slack from the last progress.
type deadlineWriter struct {
	http.ResponseWriter
	dl      writeDeadliner // nil: w has no connection to protect (a test recorder)
	timeout time.Duration
	slack   time.Duration
	set     time.Time // when the deadline was last moved; zero: not yet
	// raw is the HTTP/1 connection's socket, if known (withConn): ReadFrom
	// waits for it to take data before it copies.
	raw syscall.RawConn
	// bufs holds the copy buffers of HTTP/2 responses.
	bufs *sync.Pool
}

// connKey is the context key of what is known of the request's connection
// (a *connInfo).
type connKey struct{}

// connInfo is what the server finds out once per connection (withConn),
// not per request.
type connInfo struct {
	raw syscall.RawConn // the socket, or nil
	// remote is the connection's peer address as its requests'
	// RemoteAddr has it; addr is the client address of its requests
	// (clientaddr.Resolver.PeerAddr), or "" when the peer is a trusted
	// proxy and each request names its client.
	remote, addr string
	// addrKey and addrValue are addr as clientaddr's context key and
	// value (ContextValue), boxed once for all of the connection's
	// requests; nil without addr.
	addrKey, addrValue any
}

// withConn returns an http.Server.ConnContext that makes each connection's
// socket known to withWriteDeadline (socketOf) and, with clients, the
// client address of its requests to accessLog (Server.clientAddr).
func withConn(clients *clientaddr.Resolver) func(ctx context.Context, c net.Conn) context.Context {
	return func(ctx context.Context, c net.Conn) context.Context {
		info := &connInfo{raw: socketOf(c)}
		if clients != nil {
			info.remote = c.RemoteAddr().String()
			if addr, ok := clients.PeerAddr(info.remote); ok {
				info.addr = addr
				info.addrKey, info.addrValue = clientaddr.ContextValue(addr)
			}
		}
		return context.WithValue(ctx, connKey{}, info)
	}
}

// connOf returns what withConn found out about the connection ctx belongs
// to, or nil.
func connOf(ctx context.Context) *connInfo {
	info, _ := ctx.Value(connKey{}).(*connInfo)
	return info
}

// rawConn returns the socket of the connection ctx belongs to (withConn),
// or nil.
func rawConn(ctx context.Context) syscall.RawConn {
	if info := connOf(ctx); info != nil {
		return info.raw
	}
	return nil
}

// socketOf returns the socket of c (under TLS, the socket under it), or nil.
func socketOf(c net.Conn) syscall.RawConn {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	sc, ok := c.(syscall.Conn)
	if !ok {
		return nil
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	return raw
}

// deadlineSlack is the slack of a deadlineWriter with timeout: a 128th of
// it, at most 100 ms (100 ms at the default write-timeout of 1m).
func deadlineSlack(timeout time.Duration) time.Duration {
	return min(timeout/128, 100*time.Millisecond)
}

// writeDeadliner is what sets a response's write deadline: net/http's
// ResponseWriters (what http.ResponseController.SetWriteDeadline calls).
type writeDeadliner interface {
	SetWriteDeadline(deadline time.Time) error
}

// deadlinerOf returns the writeDeadliner of w or of a ResponseWriter it
// wraps (Unwrap), as http.ResponseController finds it, or nil. Found once
// per response, it costs no allocation per extension (a
// ResponseController per response did).
func deadlinerOf(w http.ResponseWriter) writeDeadliner {
	for {
		switch t := w.(type) {
		case writeDeadliner:
			return t
		case interface{ Unwrap() http.ResponseWriter }:
			w = t.Unwrap()
		default:
			return nil
		}
	}
}

// extend moves the write deadline to timeout from now, unless it was moved
// within slack. A ResponseWriter that cannot (a test recorder) has no
// connection to protect.
func (w *deadlineWriter) extend() {
	now := time.Now()
	if !w.set.IsZero() && now.Sub(w.set) < w.slack {
		return
	}
	w.set = now
	if w.dl != nil {
		w.dl.SetWriteDeadline(now.Add(w.timeout))
	}
}

// WriteHeader does not move the deadline: net/http only buffers the
// header, which reaches the socket with the first chunk of the body, a
// flush, or the end of the response, each after an extension.

// FlushError extends the deadline, then flushes (http.ResponseController's
// Flush finds it).
func (w *deadlineWriter) FlushError() error {
	w.extend()
	return http.NewResponseController(w.ResponseWriter).Flush()
}

func (w *deadlineWriter) Write(p []byte) (int, error) {
	if len(p) == 0 {
		w.extend()
		return w.ResponseWriter.Write(p)
	}
	var n int
	for len(p) > 0 {
		c := min(len(p), writeChunk)
		w.extend()
		m, err := w.ResponseWriter.Write(p[:c])
		n += m
		if err != nil {
			return n, err
		}
		p = p[c:]
	}
	return n, nil
}

// ReadFrom copies r in chunks of writeChunk, extending the deadline before
// each. If r is an *io.LimitedReader (as http.ServeContent passes), each
// chunk is an *io.LimitedReader over its R, so that an *os.File under it
// still reaches the connection's sendfile. On HTTP/1 each chunk first waits
// for the socket to take data and is no bigger than what it can take, so
// that a stalled client's response waits without holding net/http's copy
// buffer (32 KiB, taken for every ReadFrom even when it ends in sendfile);
// a whole body shorter than sniffLen does not wait (it only fills
// net/http's buffer).
func (w *deadlineWriter) ReadFrom(r io.Reader) (int64, error) {
	rf, ok := w.ResponseWriter.(io.ReaderFrom)
	if !ok { // HTTP/2
		// A stream stalled by flow control holds its copy buffer: keep it
		// to one frame (16 KiB, the default maximum), not io.Copy's 32 KiB.
		buf := w.bufs.Get().(*[]byte)
		defer w.bufs.Put(buf)
		return io.CopyBuffer(writerOnly{w}, r, *buf)
	}
	src, remaining := r, int64(-1) // -1: until EOF
	lr, limited := r.(*io.LimitedReader)
	if limited {
		src, remaining = lr.R, lr.N
	}
	var total int64
	for remaining != 0 {
		want := int64(writeChunk)
		if w.raw != nil {
			want = maxRoomChunk // cut to the room below
		}
		if remaining > 0 {
			want = min(want, remaining)
		}
		w.extend()
		if w.raw != nil && !(total == 0 && remaining >= 0 && remaining < sniffLen) {
			space, err := waitSendSpace(w.raw)
			if err != nil {
				return total, err
			}
			want = min(want, int64(space))
		}
		n, err := rf.ReadFrom(&io.LimitedReader{R: src, N: want})
		total += n
		if limited {
			remaining -= n
			lr.N = remaining
		}
		if err != nil || n < want {
			return total, err
		}
	}
	return total, nil
}

func (w *deadlineWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// sniffLen is what net/http's ReadFrom copies into the response's buffer
// before it sends anything (its sniffLen): a body shorter than this, the
// whole body of a response that ReadFrom starts, as http.ServeContent's
// does, ends in that buffer and reaches the socket only when the handler
// returns, under the deadline withWriteDeadline sets then. Waiting for room
// in the socket before it (a poll and two more system calls) would protect
// nothing, so ReadFrom does not: a cached .info costs no more system calls
// than on a bare server.
const sniffLen = 512

// writerOnly hides a writer's ReadFrom, so that io.Copy uses its Write.
type writerOnly struct{ io.Writer }

// readyTTL is how long a /readyz answer is reused.
const readyTTL = time.Second

// readiness runs a probe at most once per ttl, however many callers ask:
// concurrent callers share one run, and its result is reused for ttl.
type readiness struct {
	probe func(ctx context.Context) error
	ttl   time.Duration
	now   func() time.Time

	flight singleflight.Group
	mu     sync.Mutex
	at     time.Time // when err was found; zero: never
	err    error
}

func newReadiness(ttl time.Duration, probe func(ctx context.Context) error) *readiness {
	return &readiness{probe: probe, ttl: ttl, now: time.Now}
}

// check returns the probe's result, run anew if the last one is older than
// ttl. The probe runs detached from ctx, bounded by 5s, so that a caller
// that goes away does not fail the others; check returns ctx.Err() if ctx
// ends first.
func (r *readiness) check(ctx context.Context) error {
	r.mu.Lock()
	if !r.at.IsZero() && r.now().Sub(r.at) < r.ttl {
		err := r.err
		r.mu.Unlock()
		return err
	}
	r.mu.Unlock()
	ch := r.flight.DoChan("probe", func() (any, error) {
		pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		err := r.probe(pctx)
		r.mu.Lock()
		r.at, r.err = r.now(), err
		r.mu.Unlock()
		return nil, err
	})
	select {
	case res := <-ch:
		return res.Err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// capListener accepts at most max connections at once, and at most
// perClient from one client address (clientaddr.Key of the socket peer;
// exempt peers, the trusted proxies, are not counted per client). When all
// places are taken, a new connection takes the place of the connection
// that has been idle longest: one between two requests (keep-alive), or one
// that has sent nothing for idleGrace since it was accepted. Only when no
// connection is idle does Accept wait, and the others wait in the kernel's
// listen queue. So one client cannot lock others out by holding
// connections open; it has to keep them busy, and then perClient bounds it.
//
// A TCP connection stays a *net.TCPConn underneath (embedded, so its
// ReadFrom and SyscallConn stay visible): net/http sends files with
// sendfile only through the connection's ReadFrom, which a plain wrapper
// (x/net/netutil.LimitListener's) hides. The server must report its
// connections' states through connState.
type capListener struct {
	net.Listener
	max, perClient int
	exempt         func(peer string) bool
	idleGrace      time.Duration

	mu      sync.Mutex
	open    int
	byKey   map[string]int
	idle    map[*connSlot]time.Time // connections with no request in progress, since when
	changed chan struct{}           // a place was freed or a connection became idle
	done    chan struct{}
	once    sync.Once
}

// idleGrace is how long a new connection may send nothing before another
// may take its place when all are taken.
const idleGrace = time.Second

func newCapListener(l net.Listener, max, perClient int, exempt func(peer string) bool) *capListener {
	if exempt == nil {
		exempt = func(string) bool { return false }
	}
	return &capListener{Listener: l, max: max, perClient: perClient, exempt: exempt, idleGrace: idleGrace,
		byKey: map[string]int{}, idle: map[*connSlot]time.Time{},
		changed: make(chan struct{}, 1), done: make(chan struct{})}
}

func (l *capListener) signal() {
	select {
	case l.changed <- struct{}{}:
	default:
	}
}

// reserve waits for a free place, taking one from the longest idle
// connection if there is none.
func (l *capListener) reserve() error {
	for {
		l.mu.Lock()
		if l.open < l.max {
			l.open++
			l.mu.Unlock()
			return nil
		}
		victim, wait := l.longestIdle(time.Now())
		l.mu.Unlock()
		if victim != nil {
			victim.conn.Close() // frees its place
			continue
		}
		var retry <-chan time.Time
		if wait > 0 {
			t := time.NewTimer(wait)
			defer t.Stop()
			retry = t.C
		}
		select {
		case <-l.changed:
		case <-retry:
		case <-l.done:
			return net.ErrClosed
		}
	}
}

// longestIdle returns the connection idle longest, preferring those
// between requests; or, if only new connections within their grace are
// idle, how long until the first one's grace ends. l.mu is held.
func (l *capListener) longestIdle(now time.Time) (victim *connSlot, wait time.Duration) {
	var oldest, oldestNew *connSlot
	for c, since := range l.idle {
		if c.fresh {
			if now.Sub(since) < l.idleGrace {
				if w := l.idleGrace - now.Sub(since); wait == 0 || w < wait {
					wait = w
				}
				continue
			}
			if oldestNew == nil || since.Before(l.idle[oldestNew]) {
				oldestNew = c
			}
			continue
		}
		if oldest == nil || since.Before(l.idle[oldest]) {
			oldest = c
		}
	}
	if oldest != nil {
		victim = oldest
	} else {
		victim = oldestNew
	}
	if victim != nil {
		delete(l.idle, victim)
		return victim, 0
	}
	return nil, wait
}

func (l *capListener) Accept() (net.Conn, error) {
	for {
		if err := l.reserve(); err != nil {
			return nil, err
		}
		c, err := l.Listener.Accept()
		if err != nil {
			l.mu.Lock()
			l.open--
			l.mu.Unlock()
			l.signal()
			return nil, err
		}
		slot := &connSlot{l: l, fresh: true}
		if peer := c.RemoteAddr().String(); l.perClient > 0 && !l.exempt(peer) {
			slot.key = clientaddr.Key(peer)
		}
		l.mu.Lock()
		if slot.key != "" && l.byKey[slot.key] >= l.perClient {
			l.open--
			l.mu.Unlock()
			c.Close() // over its client's share: refused at once
			l.signal()
			continue
		}
		if slot.key != "" {
			l.byKey[slot.key]++
		}
		l.idle[slot] = time.Now()
		l.mu.Unlock()
		if tc, ok := c.(*net.TCPConn); ok {
			slot.conn = &cappedTCPConn{TCPConn: tc, slot: slot}
		} else {
			slot.conn = &cappedConn{Conn: c, slot: slot}
		}
		return slot.conn, nil
	}
}

func (l *capListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return l.Listener.Close()
}

// connState is the http.Server's ConnState hook: it keeps track of which
// connections are idle.
func (l *capListener) connState(c net.Conn, state http.ConnState) {
	if nc, ok := c.(interface{ NetConn() net.Conn }); ok { // *tls.Conn
		c = nc.NetConn()
	}
	var slot *connSlot
	switch c := c.(type) {
	case *cappedTCPConn:
		slot = c.slot
	case *cappedConn:
		slot = c.slot
	default:
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if slot.closed { // rare: look the slot up only then
		if _, tracked := l.idle[slot]; !tracked {
			return
		}
	}
	switch state {
	case http.StateIdle:
		slot.fresh = false
		l.idle[slot] = time.Now()
		defer l.signal()
	case http.StateActive, http.StateHijacked, http.StateClosed:
		delete(l.idle, slot)
	}
}

// connSlot is one accepted connection's place.
type connSlot struct {
	l      *capListener
	conn   net.Conn
	key    string // its client's key; "" if not counted per client
	fresh  bool   // no request yet
	closed bool
}

// release gives the place back, once.
func (s *connSlot) release() {
	l := s.l
	l.mu.Lock()
	if s.closed {
		l.mu.Unlock()
		return
	}
	s.closed = true
	delete(l.idle, s)
	l.open--
	if s.key != "" {
		if l.byKey[s.key]--; l.byKey[s.key] == 0 {
			delete(l.byKey, s.key)
		}
	}
	l.mu.Unlock()
	l.signal()
}

// cappedTCPConn gives its place back when closed.
type cappedTCPConn struct {
	*net.TCPConn
	slot *connSlot
}

func (c *cappedTCPConn) Close() error {
	err := c.TCPConn.Close()
	c.slot.release()
	return err
}

// cappedConn is cappedTCPConn for other connections.
type cappedConn struct {
	net.Conn
	slot *connSlot
}

func (c *cappedConn) Close() error {
	err := c.Conn.Close()
	c.slot.release()
	return err
}
