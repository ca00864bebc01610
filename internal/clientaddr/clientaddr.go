// Package clientaddr decides which address a request comes from: the one
// place where gomirror computes it. Everything per client (the auth failure
// limit, the access log, the request record) uses the address it returns.
//
// Without trusted proxies the client address is the socket peer's, and
// X-Forwarded-For is ignored: anyone can send that header. With trusted
// proxies (reverse proxies or load balancers that append the address they
// received a request from to X-Forwarded-For), a request whose socket peer
// is one of them has its client address taken from X-Forwarded-For: the
// right-most address in it that is not itself a trusted proxy. Addresses
// to the left of that one were written by the client or by proxies it
// chose, so they are never believed. Walking from the right, a value that
// is not an IP address stops the walk: the client address is then the
// last trusted proxy passed (the socket peer if none was), because nothing
// written before a malformed hop can be vouched for. If every address is a
// trusted proxy, the left-most is the client.
package clientaddr

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"strings"

	"github.com/gomirror/gomirror/internal/netconf"
)

// Resolver computes client addresses. The zero value and nil trust no
// proxy.
type Resolver struct {
	trusted []netip.Prefix
}

// Parse returns a Resolver that trusts the networks in list (CIDR
// prefixes or single addresses, separated by commas or spaces, read by
// netconf.ParseNetworks: a prefix with host bits set is an error). An empty
// list trusts no proxy.
func Parse(list string) (*Resolver, error) {
	trusted, err := netconf.ParseNetworks(list)
	if err != nil {
		return nil, err
	}
	return &Resolver{trusted: trusted}, nil
}

// Trusts reports whether any proxy is trusted.
func (r *Resolver) Trusts() bool { return r != nil && len(r.trusted) > 0 }

// Trusted reports whether the socket peer address (an address, or
// host:port) is a trusted proxy.
func (r *Resolver) Trusted(peer string) bool {
	a, ok := parse(hostOf(peer))
	return ok && r.Trusts() && r.trustedAddr(a)
}

// Key returns the key under which limits count a client address (as Addr
// returns it, or host:port): the address itself, or for IPv6 its /64
// network, which is what one client usually has to pick addresses from.
func Key(addr string) string {
	a, ok := parse(addr)
	if !ok {
		a, ok = parse(hostOf(addr))
	}
	if !ok {
		return addr
	}
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}

func (r *Resolver) trustedAddr(a netip.Addr) bool {
	for _, p := range r.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// parse returns s (an address, an address with a port, or an IPv6 address
// in brackets) as a canonical address: no zone, IPv4-mapped IPv6 unmapped.
func parse(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	if a, err := netip.ParseAddr(s); err == nil {
		return a.WithZone("").Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().WithZone("").Unmap(), true
	}
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		if a, err := netip.ParseAddr(s[1 : len(s)-1]); err == nil {
			return a.WithZone("").Unmap(), true
		}
	}
	return netip.Addr{}, false
}

// Addr returns the client address of req (see the package comment) and
// whether it came from X-Forwarded-For. A socket peer that is not an IP
// address (a Unix socket, a test's made-up RemoteAddr) is returned as it
// is.
func (r *Resolver) Addr(req *http.Request) (addr string, forwarded bool) {
	peer, ok := parse(hostOf(req.RemoteAddr))
	if !ok {
		return req.RemoteAddr, false
	}
	if !r.Trusts() || !r.trustedAddr(peer) {
		return peer.String(), false
	}
	client, fromHeader := peer, false
	hops := req.Header.Values("X-Forwarded-For")
	for i := len(hops) - 1; i >= 0; i-- {
		elems := strings.Split(hops[i], ",")
		for j := len(elems) - 1; j >= 0; j-- {
			if strings.TrimSpace(elems[j]) == "" {
				continue // "a,,b" or a trailing comma: no hop
			}
			a, ok := parse(elems[j])
			if !ok {
				return client.String(), fromHeader
			}
			client, fromHeader = a, true
			if !r.trustedAddr(a) {
				return client.String(), true
			}
		}
	}
	return client.String(), fromHeader
}

// PeerAddr returns, for a socket peer address (host:port, as a request's
// RemoteAddr), the client address Addr returns for every request from it
// when the peer is not a trusted proxy, and ok true; for a trusted proxy,
// whose requests name their client in X-Forwarded-For, ok false. So a
// server can find the client address of a connection's requests once.
func (r *Resolver) PeerAddr(remoteAddr string) (addr string, ok bool) {
	peer, parsed := parse(hostOf(remoteAddr))
	if !parsed {
		return remoteAddr, true
	}
	if r.Trusts() && r.trustedAddr(peer) {
		return "", false
	}
	return peer.String(), true
}

func hostOf(remoteAddr string) string {
	if h, _, err := net.SplitHostPort(remoteAddr); err == nil {
		return h
	}
	return remoteAddr
}

type key struct{}

// Middleware stores each request's client address (Resolver.Addr) in its
// context for From, then calls next.
func (r *Resolver) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		addr, _ := r.Addr(req)
		next.ServeHTTP(w, req.WithContext(With(req.Context(), addr)))
	})
}

// With returns ctx carrying addr as the client address.
func With(ctx context.Context, addr string) context.Context {
	k, v := ContextValue(addr)
	return context.WithValue(ctx, k, v)
}

// ContextValue returns the key and value that With adds to a context, for
// a context that carries several values in one (a server's per-request
// context): its Value(k) must return v.
func ContextValue(addr string) (k, v any) { return key{}, addr }

// From returns the client address stored for req, or, if none was (no
// Middleware in front), Peer(req).
func From(req *http.Request) string {
	if a, ok := FromContext(req.Context()); ok {
		return a
	}
	return Peer(req)
}

// FromContext returns the client address stored in ctx (With), if any.
func FromContext(ctx context.Context) (addr string, ok bool) {
	addr, ok = ctx.Value(key{}).(string)
	return addr, ok
}

// Peer returns req's socket peer address in the form Addr uses (no port,
// no zone, IPv4-mapped IPv6 unmapped), whatever X-Forwarded-For says.
func Peer(req *http.Request) string {
	addr, _ := (*Resolver)(nil).Addr(req)
	return addr
}
