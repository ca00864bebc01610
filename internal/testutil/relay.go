package testutil

import (
	"io"
	"net"
	"sync"
	"testing"
)

// Relay forwards TCP connections from a loopback port to a target, and can
// cut them: a fault injector for "the database is down" in front of a real
// server. While cut, it closes every connection it relays and every new
// one at once.
type Relay struct {
	Addr string // host:port to connect to instead of the target

	target string
	ln     net.Listener
	mu     sync.Mutex
	cut    bool
	conns  map[net.Conn]struct{}
	wg     sync.WaitGroup
}

// NewRelay relays to target until the end of the test.
func NewRelay(t testing.TB, target string) *Relay {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &Relay{Addr: ln.Addr().String(), target: target, ln: ln, conns: map[net.Conn]struct{}{}}
	r.wg.Add(1)
	go r.accept()
	t.Cleanup(func() {
		ln.Close()
		r.Cut()
		r.wg.Wait()
	})
	return r
}

// Cut closes every relayed connection and refuses new ones (accepting and
// closing them) until Restore.
func (r *Relay) Cut() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cut = true
	for c := range r.conns {
		c.Close()
	}
}

// Restore relays new connections again.
func (r *Relay) Restore() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cut = false
}

// track adds c to the relayed connections, or reports false while cut.
func (r *Relay) track(c ...net.Conn) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cut {
		return false
	}
	for _, x := range c {
		r.conns[x] = struct{}{}
	}
	return true
}

func (r *Relay) untrack(c ...net.Conn) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, x := range c {
		delete(r.conns, x)
		x.Close()
	}
}

func (r *Relay) accept() {
	defer r.wg.Done()
	for {
		c, err := r.ln.Accept()
		if err != nil {
			return
		}
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			r.mu.Lock()
			cut := r.cut
			r.mu.Unlock()
			if cut {
				c.Close()
				return
			}
			up, err := net.Dial("tcp", r.target)
			if err != nil {
				c.Close()
				return
			}
			if !r.track(c, up) {
				c.Close()
				up.Close()
				return
			}
			defer r.untrack(c, up)
			done := make(chan struct{}, 2)
			go func() { io.Copy(up, c); done <- struct{}{} }()
			go func() { io.Copy(c, up); done <- struct{}{} }()
			<-done
		}()
	}
}
