package egress

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gomirror/gomirror/internal/testcert"
)

func startProxy(t *testing.T, p *Policy, opts ProxyOptions) *Proxy {
	t.Helper()
	x, err := NewProxy(p, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { x.Close() })
	return x
}

// proxyURL is the URL Env hands to children.
func proxyURL(t *testing.T, x *Proxy) *url.URL {
	t.Helper()
	env := map[string]string{}
	for _, kv := range x.Env() {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	for _, k := range []string{"HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"} {
		if env[k] != env["HTTPS_PROXY"] {
			t.Fatalf("Env: %s differs from HTTPS_PROXY", k)
		}
	}
	if v, ok := env["NO_PROXY"]; !ok || v != "" {
		t.Fatalf("Env does not clear NO_PROXY")
	}
	if v, ok := env["no_proxy"]; !ok || v != "" {
		t.Fatalf("Env does not clear no_proxy")
	}
	u, err := url.Parse(env["HTTPS_PROXY"])
	if err != nil || u.User == nil {
		t.Fatalf("Env: proxy URL %v, %v; want one with credentials", u, err)
	}
	return u
}

// basic is a Proxy-Authorization value.
func basic(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

// auth is the Proxy-Authorization value for x.
func auth(t *testing.T, x *Proxy) string {
	u := proxyURL(t, x)
	pass, _ := u.User.Password()
	return basic(u.User.Username(), pass)
}

// send writes req to the proxy (absolute-form unless it is CONNECT or
// origin is set) on a new connection and reads the response. The
// connection stays open for a tunnel; the caller closes it.
func send(t *testing.T, x *Proxy, req *http.Request, origin bool) (*http.Response, net.Conn) {
	t.Helper()
	c, err := net.Dial("tcp", x.ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	if req.Method == http.MethodConnect || origin {
		err = req.Write(c)
	} else {
		err = req.WriteProxy(c)
	}
	if err != nil {
		c.Close()
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), req)
	if err != nil {
		c.Close()
		t.Fatal(err)
	}
	return resp, c
}

// connect sends CONNECT authority with the Proxy-Authorization value
// authz ("" for none).
func connect(t *testing.T, x *Proxy, authority, authz string) (*http.Response, string, net.Conn) {
	t.Helper()
	req := &http.Request{Method: http.MethodConnect, URL: &url.URL{Host: authority}, Host: authority, Header: http.Header{}}
	if authz != "" {
		req.Header.Set("Proxy-Authorization", authz)
	}
	resp, c := send(t, x, req, false)
	var body []byte
	if resp.StatusCode != http.StatusOK {
		body, _ = io.ReadAll(resp.Body)
	}
	return resp, string(body), c
}

func TestProxyConnectDenied(t *testing.T) {
	tg := listen(t, "127.0.0.1:0")
	var denied atomic.Int64
	x := startProxy(t, &Policy{Resolver: hosts(map[string]string{
		"metadata.test": "127.0.0.1",
		"localhost":     "127.0.0.1,::1",
		"two.test":      "::1,127.0.0.1",
	})}, ProxyOptions{OnDenied: func(*DeniedError) { denied.Add(1) }})
	authz := auth(t, x)
	targets := []string{"127.0.0.1", "localhost", "metadata.test", "two.test", "[::ffff:127.0.0.1]", "[::1]", "127.000.000.001"}
	for _, host := range targets {
		resp, body, c := connect(t, x, host+":"+tg.port, authz)
		c.Close()
		if host == "127.000.000.001" {
			// Not an address to netip, not a name our resolver knows.
			if resp.StatusCode != http.StatusBadGateway {
				t.Errorf("CONNECT %s: %d %q; want 502", host, resp.StatusCode, body)
			}
			continue
		}
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "loopback") {
			t.Errorf("CONNECT %s: %d %q; want 403 naming the class loopback", host, resp.StatusCode, body)
		}
		if strings.Contains(body, x.secret) || (!strings.Contains(host, "127.0.0.1") && strings.Contains(body, "127.0.0.1")) {
			t.Errorf("CONNECT %s: body %q shows more than the host and class", host, body)
		}
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
			t.Errorf("CONNECT %s: Content-Type %q", host, ct)
		}
	}
	if n := tg.count(); n != 0 {
		t.Fatalf("%d connections reached the denied target", n)
	}
	if n := denied.Load(); n != int64(len(targets)-1) {
		t.Errorf("OnDenied called %d times; want %d", n, len(targets)-1)
	}

	for _, tt := range []struct {
		authority string
		code      int
	}{
		{"nowhere.test:443", http.StatusBadGateway},
		{"127.0.0.1", http.StatusBadRequest},
		{"127.0.0.1:0", http.StatusBadRequest},
		{"127.0.0.1:70000", http.StatusBadRequest},
		{":443", http.StatusBadRequest},
	} {
		resp, body, c := connect(t, x, tt.authority, authz)
		c.Close()
		if resp.StatusCode != tt.code {
			t.Errorf("CONNECT %s: %d %q; want %d", tt.authority, resp.StatusCode, body, tt.code)
		}
	}
}

// tlsServer starts an HTTPS server on 127.0.0.1 (certificate for
// localhost and 127.0.0.1) and counts its connections.
func tlsServer(t *testing.T, h http.Handler) (*httptest.Server, *counter, *testcert.Cert) {
	t.Helper()
	cert := testcert.New(t)
	ts, cnt := tlsServerOn(t, nil, h, cert)
	return ts, cnt, cert
}

// tlsServerOn starts an HTTPS server with cert on ln (nil: a free port of
// 127.0.0.1) and counts its connections.
func tlsServerOn(t *testing.T, ln net.Listener, h http.Handler, cert *testcert.Cert) (*httptest.Server, *counter) {
	t.Helper()
	kp, err := tls.LoadX509KeyPair(cert.CertFile, cert.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewUnstartedServer(h)
	if ln != nil {
		ts.Listener.Close()
		ts.Listener = ln
	}
	cnt := newCounter(ts.Listener)
	ts.Listener = cnt
	ts.TLS = &tls.Config{Certificates: []tls.Certificate{kp}}
	ts.Config.ErrorLog = log.New(io.Discard, "", 0) // count's own connections fail the handshake
	ts.StartTLS()
	t.Cleanup(ts.Close)
	return ts, cnt
}

func TestProxyConnectAllowed(t *testing.T) {
	ts, cnt, cert := tlsServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello "+r.URL.Path)
	}))
	_, port, _ := net.SplitHostPort(ts.Listener.Addr().String())
	x := startProxy(t, &Policy{
		Allow:    mustNetworks(t, "127.0.0.0/8"),
		Resolver: hosts(map[string]string{"localhost": "127.0.0.1"}),
	}, ProxyOptions{})
	tr := &http.Transport{Proxy: http.ProxyURL(proxyURL(t, x)), TLSClientConfig: cert.ClientConfig()}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	for _, host := range []string{"localhost", "127.0.0.1"} {
		resp, err := client.Get("https://" + host + ":" + port + "/x")
		if err != nil {
			t.Fatalf("GET through the proxy: %v", err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(b) != "hello /x" {
			t.Errorf("GET https://%s through the proxy: %d %q", host, resp.StatusCode, b)
		}
	}
	if n := cnt.count(); n < 1 {
		t.Errorf("%d connections at the allowed server", n)
	}
}

func TestProxyAuth(t *testing.T) {
	tg := listen(t, "127.0.0.1:0")
	x := startProxy(t, &Policy{Allow: mustNetworks(t, "127.0.0.0/8")}, ProxyOptions{})
	u := proxyURL(t, x)
	pass, _ := u.User.Password()
	if len(pass) < 16 {
		t.Fatalf("secret %d characters long", len(pass))
	}
	other := startProxy(t, &Policy{}, ProxyOptions{})
	if proxyURL(t, other).String() == u.String() {
		t.Fatal("two proxies share a secret")
	}
	for _, authz := range []string{"", basic(u.User.Username(), "wrong"), basic("other", pass), "Bearer " + pass, basic(u.User.Username(), pass+"x")} {
		resp, _, c := connect(t, x, "127.0.0.1:"+tg.port, authz)
		c.Close()
		if resp.StatusCode != http.StatusProxyAuthRequired || !strings.HasPrefix(resp.Header.Get("Proxy-Authenticate"), "Basic") {
			t.Errorf("CONNECT with Proxy-Authorization %q: %d, Proxy-Authenticate %q; want 407 asking for Basic",
				authz, resp.StatusCode, resp.Header.Get("Proxy-Authenticate"))
		}
		req, _ := http.NewRequest("GET", "http://127.0.0.1:"+tg.port+"/", nil)
		if authz != "" {
			req.Header.Set("Proxy-Authorization", authz)
		}
		resp, c = send(t, x, req, false)
		c.Close()
		if resp.StatusCode != http.StatusProxyAuthRequired {
			t.Errorf("GET with Proxy-Authorization %q: %d; want 407", authz, resp.StatusCode)
		}
	}
	if n := tg.count(); n != 0 {
		t.Fatalf("%d connections made for unauthenticated requests", n)
	}
}

func TestProxyPlainHTTP(t *testing.T) {
	var mu sync.Mutex
	var seen http.Header
	backend := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = r.Header.Clone()
		mu.Unlock()
		w.Header().Set("Connection", "X-Resp-Hop")
		w.Header().Set("X-Resp-Hop", "1")
		w.Header().Set("X-Resp-End", "1")
		io.WriteString(w, "plain "+r.Host+r.URL.Path)
	}))
	cnt := newCounter(backend.Listener)
	backend.Listener = cnt
	backend.Start()
	defer backend.Close()
	port := cnt.port
	res := hosts(map[string]string{"localhost": "127.0.0.1", "metadata.test": "127.0.0.1"})

	// Denied: no connection, 403.
	deny := startProxy(t, &Policy{Resolver: res}, ProxyOptions{})
	for _, host := range []string{"127.0.0.1", "localhost", "metadata.test"} {
		req, _ := http.NewRequest("GET", "http://"+host+":"+port+"/x", nil)
		req.Header.Set("Proxy-Authorization", auth(t, deny))
		resp, c := send(t, deny, req, false)
		body, _ := io.ReadAll(resp.Body)
		c.Close()
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(body), "loopback") {
			t.Errorf("GET http://%s: %d %q; want 403 naming loopback", host, resp.StatusCode, body)
		}
	}
	if n := cnt.count(); n != 0 {
		t.Fatalf("%d connections reached the denied backend", n)
	}

	// Allowed: forwarded, hop-by-hop headers dropped both ways.
	allow := startProxy(t, &Policy{Resolver: res, Allow: mustNetworks(t, "127.0.0.0/8")}, ProxyOptions{})
	tr := &http.Transport{Proxy: http.ProxyURL(proxyURL(t, allow))}
	defer tr.CloseIdleConnections()
	req, _ := http.NewRequest("GET", "http://localhost:"+port+"/x", nil)
	req.Header.Set("Connection", "X-Hop")
	req.Header.Set("X-Hop", "secret")
	req.Header.Set("Keep-Alive", "timeout=5")
	req.Header.Set("X-End", "kept")
	req.Header.Set("X-Forwarded-For", "10.0.0.1")
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "plain localhost:"+port+"/x" {
		t.Fatalf("allowed GET: %d %q", resp.StatusCode, body)
	}
	mu.Lock()
	got := seen
	mu.Unlock()
	for _, h := range []string{"X-Hop", "Keep-Alive", "Proxy-Authorization", "X-Forwarded-For", "Forwarded"} {
		if v := got.Get(h); v != "" {
			t.Errorf("backend received %s: %q", h, v)
		}
	}
	if got.Get("X-End") != "kept" {
		t.Errorf("backend did not receive the end-to-end header X-End: %v", got)
	}
	if resp.Header.Get("X-Resp-Hop") != "" || resp.Header.Get("X-Resp-End") != "1" {
		t.Errorf("response headers %v: want X-Resp-Hop dropped, X-Resp-End kept", resp.Header)
	}

	// What the proxy does not forward, without connecting anywhere.
	before := cnt.count()
	authz := auth(t, allow)
	for _, tt := range []struct {
		method, url string
		origin      bool
		header      http.Header
		code        int
	}{
		{"GET", "http://localhost:" + port + "/x", true, nil, http.StatusBadRequest}, // origin-form
		{"GET", "https://localhost:" + port + "/x", false, nil, http.StatusBadRequest},
		{"GET", "ftp://localhost:" + port + "/x", false, nil, http.StatusBadRequest},
		{"PUT", "http://localhost:" + port + "/x", false, nil, http.StatusMethodNotAllowed},
		{"DELETE", "http://localhost:" + port + "/x", false, nil, http.StatusMethodNotAllowed},
		{"TRACE", "http://localhost:" + port + "/x", false, nil, http.StatusMethodNotAllowed},
		{"GET", "http://localhost:" + port + "/ws", false, http.Header{"Connection": {"Upgrade"}, "Upgrade": {"websocket"}}, http.StatusBadRequest},
	} {
		req, _ := http.NewRequest(tt.method, tt.url, nil)
		for k, v := range tt.header {
			req.Header[k] = v
		}
		req.Header.Set("Proxy-Authorization", authz)
		resp, c := send(t, allow, req, tt.origin)
		c.Close()
		if resp.StatusCode != tt.code {
			t.Errorf("%s %s (origin-form %v): %d; want %d", tt.method, tt.url, tt.origin, resp.StatusCode, tt.code)
		}
	}
	if n := cnt.count(); n != before {
		t.Errorf("refused requests made %d connections", n-before)
	}
}

// TestProxyRebinding: a name that resolves to an allowed address first and
// to a denied one afterwards never gets a connection to the denied one.
func TestProxyRebinding(t *testing.T) {
	denied := listen(t, "127.0.0.1:0")
	probe, err := net.Listen("tcp", "127.0.0.2:"+denied.port)
	if err != nil {
		t.Skipf("cannot listen on 127.0.0.2 with the same port: %v", err)
	}
	probe.Close()
	ok := listen(t, "127.0.0.2:"+denied.port)
	var calls atomic.Int64
	x := startProxy(t, &Policy{
		Allow: mustNetworks(t, "127.0.0.2"),
		Resolver: resolverFunc(func(_ context.Context, _, _ string) ([]netip.Addr, error) {
			if calls.Add(1)%2 == 1 {
				return []netip.Addr{netip.MustParseAddr("127.0.0.2")}, nil
			}
			return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
		}),
	}, ProxyOptions{})
	authz := auth(t, x)
	codes := map[int]int{}
	for range 4 {
		resp, _, c := connect(t, x, "rebind.test:"+denied.port, authz)
		c.Close()
		codes[resp.StatusCode]++
		req, _ := http.NewRequest("GET", "http://rebind.test:"+denied.port+"/", nil)
		req.Header.Set("Proxy-Authorization", authz)
		resp, c = send(t, x, req, false)
		c.Close()
		codes[resp.StatusCode]++
	}
	if n := denied.count(); n != 0 {
		t.Fatalf("%d connections reached the rebound, denied address (statuses %v)", n, codes)
	}
	if codes[http.StatusForbidden] == 0 || ok.count() == 0 {
		t.Errorf("statuses %v, %d connections at the allowed address: the resolver was not consulted per request", codes, ok.count())
	}
}

// echo starts a loopback TCP server that echoes what it reads.
func echo(tb testing.TB) string {
	tb.Helper()
	return serveTCP(tb, func(c net.Conn) { io.Copy(c, c) })
}

// tunnel opens a CONNECT tunnel and checks it with one echoed line.
func tunnel(t *testing.T, x *Proxy, addr string) net.Conn {
	t.Helper()
	resp, body, c := connect(t, x, addr, auth(t, x))
	if resp.StatusCode != http.StatusOK {
		c.Close()
		t.Fatalf("CONNECT %s: %d %q", addr, resp.StatusCode, body)
	}
	if _, err := io.WriteString(c, "ping\n"); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || line != "ping\n" {
		t.Fatalf("echo through the tunnel: %q, %v", line, err)
	}
	return c
}

func TestProxyMaxConns(t *testing.T) {
	addr := echo(t)
	x := startProxy(t, &Policy{Allow: mustNetworks(t, "127.0.0.0/8")}, ProxyOptions{MaxConns: 1, DialTimeout: time.Second})
	c := tunnel(t, x, addr)
	resp, body, c2 := connect(t, x, addr, auth(t, x))
	c2.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("CONNECT beyond MaxConns: %d %q; want 503", resp.StatusCode, body)
	}
	c.Close() // frees the slot once the proxy sees the tunnel end
	tunnel(t, x, addr).Close()
}

func TestProxyIdleTimeout(t *testing.T) {
	// A target that sends a byte every 50ms for 40 ticks (2s, twice the
	// idle timeout) and reads nothing. The idle timeout is 20 ticks long, so
	// a machine busy enough to delay a tick that much is needed to cut the
	// transfer early.
	const ticks = 40
	target := serveTCP(t, func(c net.Conn) {
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for range ticks {
			<-tick.C
			if _, err := c.Write([]byte{'.'}); err != nil {
				return
			}
		}
		// Then silence, connection open.
		io.Copy(io.Discard, c)
	})
	idle := time.Second
	x := startProxy(t, &Policy{Allow: mustNetworks(t, "127.0.0.0/8")}, ProxyOptions{IdleTimeout: idle})
	resp, body, c := connect(t, x, target, auth(t, x))
	defer c.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("CONNECT: %d %q", resp.StatusCode, body)
	}
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	start := time.Now()
	got, err := io.ReadAll(c)
	took := time.Since(start)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("the idle tunnel was not closed within 30s (read %d bytes)", len(got))
	}
	// A tunnel moving data one way only (for twice the idle timeout) is
	// not idle; once silent it is closed.
	if len(got) != ticks {
		t.Errorf("read %d bytes before the tunnel closed; want all %d (the one-way transfer was cut as idle)", len(got), ticks)
	}
	if took < idle {
		t.Errorf("tunnel closed after %v, before the idle timeout", took)
	}
}

func TestProxyClose(t *testing.T) {
	addr := echo(t)
	x, err := NewProxy(&Policy{Allow: mustNetworks(t, "127.0.0.0/8")}, ProxyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c := tunnel(t, x, addr)
	defer c.Close()
	if err := x.Close(); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil || errors.As(err, new(net.Error)) && err.(net.Error).Timeout() {
		t.Fatalf("tunnel still open after Close: %v", err)
	}
	if c, err := net.Dial("tcp", x.ln.Addr().String()); err == nil {
		c.Close()
		t.Fatal("proxy still accepts connections after Close")
	}
	if err := x.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

// TestProxyResolveTimeout: a name server that never answers costs at most
// the dial timeout, then 504.
func TestProxyResolveTimeout(t *testing.T) {
	x := startProxy(t, &Policy{Resolver: resolverFunc(func(ctx context.Context, _, _ string) ([]netip.Addr, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	})}, ProxyOptions{DialTimeout: 100 * time.Millisecond})
	resp, _, c := connect(t, x, "slow.test:443", auth(t, x)) // the test's timeout catches a hang
	c.Close()
	if resp.StatusCode != http.StatusGatewayTimeout {
		t.Errorf("CONNECT to a name that never resolves: %d; want 504", resp.StatusCode)
	}
}

// BenchmarkTunnel measures bytes through one CONNECT tunnel to a loopback
// echo server (SetBytes: MB/s is the tunnel's throughput each way).
func BenchmarkTunnel(b *testing.B) {
	target := echo(b)
	x, err := NewProxy(&Policy{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}, ProxyOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer x.Close()
	c, err := net.Dial("tcp", x.ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	req := &http.Request{Method: http.MethodConnect, URL: &url.URL{Host: target}, Host: target,
		Header: http.Header{"Proxy-Authorization": {basic(proxyUser, x.secret)}}}
	req.Write(c)
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, req)
	if err != nil || resp.StatusCode != 200 {
		b.Fatalf("CONNECT: %v %v", resp, err)
	}
	buf := make([]byte, 64<<10)
	out := make([]byte, len(buf))
	b.SetBytes(int64(len(buf)))
	go func() {
		for range b.N {
			if _, err := c.Write(buf); err != nil {
				return
			}
		}
	}()
	for range b.N {
		if _, err := io.ReadFull(br, out); err != nil {
			b.Fatal(err)
		}
	}
}
