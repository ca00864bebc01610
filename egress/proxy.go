package egress

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/http/httpguts"
	"golang.org/x/sync/semaphore"
)

// ProxyOptions tune a Proxy. Zero values take the defaults given.
type ProxyOptions struct {
	// Logger receives refusals (warn) and failed connections (debug); nil
	// discards them. Nothing logged contains the proxy's secret.
	Logger *slog.Logger
	// DialTimeout bounds name resolution plus connecting, and the wait
	// for a free connection slot (default 10s).
	DialTimeout time.Duration
	// IdleTimeout closes a tunnel or forwarded request when no byte has
	// moved in either direction for that long (default 2m).
	IdleTimeout time.Duration
	// MaxConns caps concurrent tunnels and forwarded requests (default
	// 64). A request waits up to DialTimeout for a slot, then gets 503.
	MaxConns int
	// OnDenied, if set, is called for every refused destination (metrics).
	OnDenied func(*DeniedError)
}

// proxyUser is the user name in the proxy's URL; the password is the secret.
const proxyUser = "gomirror"

// Proxy is an HTTP forward proxy on 127.0.0.1 for sandboxed child processes
// (the go command, git): CONNECT tunnels for https and absolute-form
// http:// requests for plain http. Every request's destination is resolved
// and checked by the Policy and connected to by the checked address
// (Policy.DialContext), so every request, including each redirect hop a
// client follows, is checked; a denied destination gets 403 and no
// connection is made to it.
//
// Only clients that know the proxy's random secret (in the URL Env gives
// them, as basic proxy credentials) may use it; others get 407, so other
// local processes cannot use it as an open proxy. Anything but CONNECT and
// GET/HEAD/POST with an http:// absolute URI gets 400 or 405, and protocol
// upgrades through plain http are refused.
//
// Status codes: 403 denied address (the body names the host and the class
// of address), 502 unresolvable host or failed connection, 504 connection
// timeout, 503 no free connection slot or proxy closing, 407 missing or
// wrong secret.
type Proxy struct {
	policy  Policy // the caller's, with the proxy's dial timeout
	opts    ProxyOptions
	log     *slog.Logger
	url     *url.URL // with the secret
	secret  string
	ln      net.Listener
	srv     *http.Server
	sem     *semaphore.Weighted
	forward *httputil.ReverseProxy
	tr      *http.Transport

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	served chan struct{} // closed when Serve returns

	mu      sync.Mutex
	closed  bool
	tunnels map[net.Conn]struct{}
	active  sync.WaitGroup // handlers running
}

// NewProxy starts a proxy applying p on a free port of 127.0.0.1. It serves
// until Close.
func NewProxy(p *Policy, opts ProxyOptions) (*Proxy, error) {
	if opts.DialTimeout <= 0 {
		opts.DialTimeout = 10 * time.Second
	}
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = 2 * time.Minute
	}
	if opts.MaxConns <= 0 {
		opts.MaxConns = 64
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	x := &Proxy{policy: *p, opts: opts, log: log, secret: rand.Text(), ln: ln,
		sem: semaphore.NewWeighted(int64(opts.MaxConns)), served: make(chan struct{}),
		tunnels: map[net.Conn]struct{}{}}
	d := net.Dialer{KeepAlive: 30 * time.Second}
	if p.Dialer != nil {
		d = *p.Dialer
	}
	d.Timeout = opts.DialTimeout
	x.policy.Dialer = &d
	x.url = &url.URL{Scheme: "http", User: url.UserPassword(proxyUser, x.secret), Host: ln.Addr().String()}
	x.ctx, x.cancel = context.WithCancel(context.Background())
	x.tr = &http.Transport{
		Proxy: nil, // never on to a proxy from gomirror's environment
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := x.policy.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return &idleConn{Conn: c, idle: opts.IdleTimeout}, nil
		},
		MaxIdleConnsPerHost:   2,
		IdleConnTimeout:       opts.IdleTimeout,
		ResponseHeaderTimeout: opts.IdleTimeout,
		DisableCompression:    true,
	}
	x.forward = &httputil.ReverseProxy{
		// The inbound request already has the absolute URL and Host
		// (checked in ServeHTTP); ReverseProxy drops hop-by-hop headers,
		// Proxy-Authorization among them, and X-Forwarded-* with Rewrite.
		Rewrite:   func(*httputil.ProxyRequest) {},
		Transport: x.tr,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			x.fail(w, r.URL.Hostname(), err)
		},
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	x.srv = &http.Server{
		Handler:           http.HandlerFunc(x.serveHTTP),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       opts.IdleTimeout,
		MaxHeaderBytes:    64 << 10,
		BaseContext:       func(net.Listener) context.Context { return x.ctx },
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	go func() {
		defer close(x.served)
		x.srv.Serve(ln)
	}()
	return x, nil
}

// Env returns the environment variables that send a child process's
// traffic through the proxy: HTTPS_PROXY, HTTP_PROXY and ALL_PROXY (upper
// and lower case) set to the proxy's URL, which holds its secret, and
// NO_PROXY/no_proxy empty so that no inherited exception bypasses it. Treat
// the values as secret: do not log them or put them on command lines.
// (Go programs still connect directly to localhost and loopback addresses;
// see the package documentation.)
func (x *Proxy) Env() []string {
	u := x.url.String()
	return []string{
		"HTTPS_PROXY=" + u, "https_proxy=" + u,
		"HTTP_PROXY=" + u, "http_proxy=" + u,
		"ALL_PROXY=" + u, "all_proxy=" + u,
		"NO_PROXY=", "no_proxy=",
	}
}

// Close stops the proxy: it stops listening, cuts every tunnel and
// forwarded request, and returns once every handler has ended.
func (x *Proxy) Close() error {
	x.mu.Lock()
	if x.closed {
		x.mu.Unlock()
		return nil
	}
	x.closed = true
	tunnels := x.tunnels
	x.tunnels = nil
	x.mu.Unlock()

	x.cancel()
	err := x.srv.Close()
	for c := range tunnels {
		c.Close()
	}
	x.active.Wait()
	x.tr.CloseIdleConnections()
	<-x.served
	return err
}

// enter registers a running handler; false if the proxy is closing.
func (x *Proxy) enter() bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.closed {
		return false
	}
	x.active.Add(1)
	return true
}

// track registers the connections of a tunnel so that Close cuts them;
// false (and both closed) if the proxy is closing.
func (x *Proxy) track(cs ...net.Conn) bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.closed {
		for _, c := range cs {
			c.Close()
		}
		return false
	}
	for _, c := range cs {
		x.tunnels[c] = struct{}{}
	}
	return true
}

func (x *Proxy) untrack(cs ...net.Conn) {
	x.mu.Lock()
	defer x.mu.Unlock()
	for _, c := range cs {
		delete(x.tunnels, c)
	}
}

func (x *Proxy) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if !x.enter() {
		http.Error(w, "egress proxy closing", http.StatusServiceUnavailable)
		return
	}
	defer x.active.Done()
	if !x.authorized(r) {
		w.Header().Set("Proxy-Authenticate", `Basic realm="gomirror egress"`)
		http.Error(w, "proxy authentication required", http.StatusProxyAuthRequired)
		return
	}
	if r.Method == http.MethodConnect {
		x.connect(w, r)
		return
	}
	if r.URL.Scheme != "http" || r.URL.Host == "" {
		http.Error(w, "egress proxy: only CONNECT and http:// absolute URIs", http.StatusBadRequest)
		return
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodPost:
	default:
		w.Header().Set("Allow", "CONNECT, GET, HEAD, POST")
		http.Error(w, "egress proxy: method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if httpguts.HeaderValuesContainsToken(r.Header["Connection"], "upgrade") {
		http.Error(w, "egress proxy: protocol upgrades are not forwarded", http.StatusBadRequest)
		return
	}
	if _, _, ok := splitTarget(r.URL.Host, "80"); !ok {
		http.Error(w, "egress proxy: bad host", http.StatusBadRequest)
		return
	}
	if !x.acquire(w, r) {
		return
	}
	defer x.sem.Release(1)
	rc := http.NewResponseController(w)
	r.Body = &idleBody{ReadCloser: r.Body, rc: rc, idle: x.opts.IdleTimeout}
	x.forward.ServeHTTP(&idleWriter{ResponseWriter: w, rc: rc, idle: x.opts.IdleTimeout}, r)
}

// authorized reports whether r carries the proxy's secret.
func (x *Proxy) authorized(r *http.Request) bool {
	creds := &http.Request{Header: http.Header{"Authorization": r.Header.Values("Proxy-Authorization")}}
	user, pass, ok := creds.BasicAuth()
	return ok && user == proxyUser && subtle.ConstantTimeCompare([]byte(pass), []byte(x.secret)) == 1
}

// acquire takes a connection slot, waiting up to the dial timeout; if none
// frees up it answers 503 and returns false.
func (x *Proxy) acquire(w http.ResponseWriter, r *http.Request) bool {
	ctx, cancel := context.WithTimeout(r.Context(), x.opts.DialTimeout)
	defer cancel()
	if err := x.sem.Acquire(ctx, 1); err != nil {
		http.Error(w, "egress proxy: too many connections", http.StatusServiceUnavailable)
		return false
	}
	return true
}

// splitTarget splits an authority into host and port, with def as the
// default port ("" if a port is required).
func splitTarget(authority, def string) (host, port string, ok bool) {
	host, port, err := net.SplitHostPort(authority)
	if err != nil {
		if def == "" {
			return "", "", false
		}
		host, port = authority, def
	}
	n, err := strconv.Atoi(port)
	return host, port, err == nil && host != "" && n > 0 && n < 1<<16
}

// connect serves a CONNECT request: a checked connection to the target,
// then bytes both ways until either side closes or the tunnel idles.
func (x *Proxy) connect(w http.ResponseWriter, r *http.Request) {
	host, _, ok := splitTarget(r.URL.Host, "")
	if !ok {
		http.Error(w, "egress proxy: CONNECT needs host:port", http.StatusBadRequest)
		return
	}
	if !x.acquire(w, r) {
		return
	}
	defer x.sem.Release(1)
	target, err := x.policy.DialContext(r.Context(), "tcp", r.URL.Host)
	if err != nil {
		x.fail(w, host, err)
		return
	}
	client, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		target.Close()
		http.Error(w, "egress proxy: cannot tunnel on this connection", http.StatusInternalServerError)
		return
	}
	if !x.track(client, target) {
		return
	}
	defer func() {
		x.untrack(client, target)
		client.Close()
		target.Close()
	}()
	client.SetDeadline(time.Time{}) // the server's deadlines no longer apply
	if _, err := io.WriteString(client, "HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
		return
	}
	// Bytes the client sent after its request (such as a TLS hello) may
	// sit in the server's read buffer.
	if n := brw.Reader.Buffered(); n > 0 {
		b, _ := brw.Reader.Peek(n)
		if _, err := target.Write(b); err != nil {
			return
		}
	}
	x.pipe(client, target)
}

// pipe copies between a and b until both directions have ended, one of them
// fails, or no byte has moved either way for the idle timeout.
func (x *Proxy) pipe(a, b net.Conn) {
	var last atomic.Int64
	last.Store(time.Now().UnixNano())
	idle := x.opts.IdleTimeout
	done := make(chan struct{})
	half := func(dst, src net.Conn) {
		err := copyIdle(dst, src, &last, idle)
		if err == nil {
			if cw, ok := dst.(interface{ CloseWrite() error }); ok {
				cw.CloseWrite() // the other direction may still be moving
				return
			}
		}
		// Failed, timed out or cannot half-close: end both directions.
		a.Close()
		b.Close()
	}
	go func() {
		defer close(done)
		half(b, a)
	}()
	half(a, b)
	<-done
}

// copyIdle copies src to dst until src's EOF (nil error) or an error;
// reads and writes time out idle after the last byte moved either way
// (last, in Unix nanoseconds, shared by both directions).
func copyIdle(dst, src net.Conn, last *atomic.Int64, idle time.Duration) error {
	buf := make([]byte, 32<<10)
	for {
		src.SetReadDeadline(time.Unix(0, last.Load()).Add(idle))
		n, err := src.Read(buf)
		if n > 0 {
			last.Store(time.Now().UnixNano())
			dst.SetWriteDeadline(time.Now().Add(idle))
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return werr
			}
			last.Store(time.Now().UnixNano())
		}
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() && time.Now().Before(time.Unix(0, last.Load()).Add(idle)) {
				continue // the other direction moved meanwhile
			}
			if err == io.EOF {
				return nil
			}
			return err
		}
	}
}

// fail answers a request whose destination could not be reached.
func (x *Proxy) fail(w http.ResponseWriter, host string, err error) {
	var (
		denied *DeniedError
		dns    *net.DNSError
		ne     net.Error
	)
	switch {
	case errors.As(err, &denied):
		x.log.Warn("egress: destination refused", "host", denied.Host, "addr", denied.Addr, "class", denied.Class)
		if x.opts.OnDenied != nil {
			x.opts.OnDenied(denied)
		}
		forbid(w, "egress: "+denied.Error())
	case errors.As(err, &dns):
		x.log.Debug("egress: cannot resolve", "host", host, "err", err)
		http.Error(w, fmt.Sprintf("egress: cannot resolve %s", host), http.StatusBadGateway)
	case errors.As(err, &ne) && ne.Timeout():
		x.log.Debug("egress: timeout", "host", host, "err", err)
		http.Error(w, fmt.Sprintf("egress: timed out reaching %s", host), http.StatusGatewayTimeout)
	default:
		x.log.Debug("egress: cannot connect", "host", host, "err", err)
		http.Error(w, fmt.Sprintf("egress: cannot connect to %s", host), http.StatusBadGateway)
	}
}

// ReasonDenied is the reason phrase of the proxy's 403: Go clients (the go
// command) report a failed CONNECT by its reason phrase alone, so this is
// how their callers tell a refusal from other failures.
const ReasonDenied = "Forbidden by gomirror egress policy"

// forbid answers 403 with ReasonDenied as the reason phrase, which
// net/http's ResponseWriter cannot set: on HTTP/1 the connection is taken
// over and the answer written by hand.
func forbid(w http.ResponseWriter, msg string) {
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		http.Error(w, msg, http.StatusForbidden)
		return
	}
	defer conn.Close()
	body := msg + "\n"
	fmt.Fprintf(brw, "HTTP/1.1 403 %s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s",
		ReasonDenied, len(body), body)
	brw.Flush()
}

// idleConn is a connection whose every read and write must make progress
// within idle.
type idleConn struct {
	net.Conn
	idle time.Duration
}

func (c *idleConn) Read(p []byte) (int, error) {
	c.Conn.SetReadDeadline(time.Now().Add(c.idle))
	return c.Conn.Read(p)
}

func (c *idleConn) Write(p []byte) (int, error) {
	c.Conn.SetWriteDeadline(time.Now().Add(c.idle))
	return c.Conn.Write(p)
}

// idleWriter gives every write of a forwarded response to the client idle
// time to complete.
type idleWriter struct {
	http.ResponseWriter
	rc   *http.ResponseController
	idle time.Duration
}

func (w *idleWriter) Write(p []byte) (int, error) {
	w.rc.SetWriteDeadline(time.Now().Add(w.idle))
	return w.ResponseWriter.Write(p)
}

func (w *idleWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// idleBody gives every read of a forwarded request's body idle time.
type idleBody struct {
	io.ReadCloser
	rc   *http.ResponseController
	idle time.Duration
}

func (b *idleBody) Read(p []byte) (int, error) {
	b.rc.SetReadDeadline(time.Now().Add(b.idle))
	return b.ReadCloser.Read(p)
}
