package egress

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
)

// resolverFunc is a Resolver made of a function.
type resolverFunc func(ctx context.Context, network, host string) ([]netip.Addr, error)

func (f resolverFunc) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	return f(ctx, network, host)
}

// hosts resolves the names in m (comma-separated addresses; loopback only,
// so that a broken policy cannot connect anywhere else) and nothing else.
func hosts(m map[string]string) Resolver {
	return resolverFunc(func(_ context.Context, _, host string) ([]netip.Addr, error) {
		var out []netip.Addr
		for _, s := range strings.Split(m[host], ",") {
			if s != "" {
				out = append(out, netip.MustParseAddr(s))
			}
		}
		if len(out) == 0 {
			return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
		}
		return out, nil
	})
}

// counter is a listener that counts the connections accepted from it.
type counter struct {
	net.Listener
	port string

	mu        sync.Mutex
	cond      *sync.Cond
	n         int64           // connections accepted, sentinels included
	sentinels int64           // connections count made itself
	seen      map[string]bool // remote addresses accepted
}

func newCounter(ln net.Listener) *counter {
	c := &counter{Listener: ln, seen: map[string]bool{}}
	c.cond = sync.NewCond(&c.mu)
	_, c.port, _ = net.SplitHostPort(ln.Addr().String())
	return c
}

func (c *counter) Accept() (net.Conn, error) {
	conn, err := c.Listener.Accept()
	if err == nil {
		c.mu.Lock()
		c.n++
		c.seen[conn.RemoteAddr().String()] = true
		c.cond.Broadcast()
		c.mu.Unlock()
	}
	return conn, err
}

// count returns how many connections reached the listener so far. A
// connection whose handshake completed before count was called is counted
// even if nobody had accepted it yet: count connects itself and waits until
// the server has accepted that connection, which is queued after every
// earlier one. The server must keep accepting.
func (c *counter) count() int64 {
	conn, err := net.Dial("tcp", c.Addr().String())
	if err != nil {
		panic(err)
	}
	defer conn.Close()
	me := conn.LocalAddr().String()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sentinels++
	for !c.seen[me] {
		c.cond.Wait()
	}
	return c.n - c.sentinels
}

// listen starts a loopback listener on addr that accepts connections,
// counts and closes them.
func listen(t *testing.T, addr string) *counter {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c := newCounter(ln)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			conn, err := c.Accept()
			if err != nil {
				return
			}
			conn.Close()
		}
	}()
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	return c
}

// serveTCP starts a loopback TCP server that runs handle on each
// connection it accepts and closes the connection when handle returns. It
// returns the server's address. When the test ends the server stops and
// its handlers are waited for.
func serveTCP(tb testing.TB, handle func(net.Conn)) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				handle(c)
			}()
		}
	}()
	tb.Cleanup(func() { ln.Close(); wg.Wait() })
	return ln.Addr().String()
}
