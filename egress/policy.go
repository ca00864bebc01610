// Package egress decides which network addresses gomirror may connect to on
// behalf of its clients, so that a client cannot make gomirror reach
// addresses that only gomirror can reach (server-side request forgery):
// loopback, link-local (the cloud metadata address 169.254.169.254 among
// them), private, shared (CGNAT), multicast, unspecified and reserved
// networks, unless the operator lists them (setting direct-allow-networks).
//
// Policy checks addresses after name resolution and again on the address a
// socket actually connects to, so a name that resolves to an allowed
// address first and to a denied one later (DNS rebinding) cannot slip
// through: the connection goes to the address that was checked.
//
// Two users:
//
//   - gomirror's HTTP client for upstream proxies dials through
//     Policy.DialerTrusting (the configured upstreams themselves are
//     trusted; any other host, such as a redirect target, is checked) and
//     follows redirects under Policy.CheckRedirect.
//   - the go command and git of public direct fetches reach the network only
//     through a Proxy, an HTTP forward proxy on 127.0.0.1 that checks every
//     destination of every request (so every redirect hop, which these
//     clients make as a new request through the proxy, is checked).
//
// # What the proxy cannot see
//
// A client bypasses a proxy it is not told to use. Proxy.Env sets every
// proxy variable and clears NO_PROXY, and curl and git then send even
// https://127.0.0.1/ and https://localhost/ through the proxy. Go's
// http.ProxyFromEnvironment, however, which the go command uses for its own
// ?go-get=1 meta tag requests, never uses a proxy for the host "localhost"
// or for loopback IP literals (golang.org/x/net/http/httpproxy, useProxy):
// the go command connects to those directly. gomirror checks a module
// path's host with Check before it runs the go command (upstream.Direct's
// CheckHost), which covers the first request; a public host that
// redirects its meta tag request to a loopback literal is not covered (the
// go command then attempts a TLS handshake with that loopback port; it
// sends no request unless the port presents a certificate valid for that
// address).
package egress

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/gomirror/gomirror/internal/netconf"
)

// Resolver resolves host names to addresses; *net.Resolver is one.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Policy decides which addresses outbound connections made on a client's
// behalf may reach. The zero Policy denies the default-denied classes (see
// Check) and resolves names with net.DefaultResolver. A Policy must not be
// changed once in use; it is safe for concurrent use.
type Policy struct {
	// Allow lists networks the operator allows although they are denied
	// by default (setting direct-allow-networks, read by
	// netconf.ParseNetworks).
	Allow []netip.Prefix
	// Resolver resolves host names; nil means net.DefaultResolver. Tests
	// inject one that maps made-up names to loopback.
	Resolver Resolver
	// Dialer is the template for the connections DialContext makes
	// (Timeout, KeepAlive, LocalAddr, ...); nil means a 10s timeout and a
	// 30s keep-alive. DialContext adds its own address check in front of
	// the Dialer's ControlContext or Control, which still run.
	Dialer *net.Dialer
}

// DeniedError is a connection Policy refused. Its text names the host and
// the class of its address and says how to allow it, nothing more: it may
// reach the client whose request caused the connection.
type DeniedError struct {
	Host  string     // the host asked for: a name, or the address itself
	Addr  netip.Addr // the denied address (for logs; not in Error)
	Class string     // "loopback", "private", "link-local", ...
}

func (e *DeniedError) Error() string {
	what := "resolves to"
	if a, err := netip.ParseAddr(strings.Trim(e.Host, "[]")); err == nil && a.WithZone("").Unmap() == e.Addr {
		what = "is"
	}
	article := "a"
	if e.Class != "" && strings.ContainsRune("aeiou", rune(e.Class[0])) {
		article = "an"
	}
	return fmt.Sprintf("%s %s %s %s address, which gomirror does not connect to unless direct-allow-networks lists it",
		e.Host, what, article, e.Class)
}

// denied are the networks refused by default, most specific first where
// they overlap. IPv4-mapped IPv6 addresses are checked as IPv4; NAT64 and
// 6to4 addresses by the IPv4 address they embed (see Check).
var denied = []struct {
	prefix netip.Prefix
	class  string
}{
	{netip.MustParsePrefix("255.255.255.255/32"), "broadcast"},
	{netip.MustParsePrefix("0.0.0.0/32"), "unspecified"},
	{netip.MustParsePrefix("0.0.0.0/8"), "this-network"},
	{netip.MustParsePrefix("10.0.0.0/8"), "private"},
	{netip.MustParsePrefix("100.64.0.0/10"), "shared (CGNAT)"},
	{netip.MustParsePrefix("127.0.0.0/8"), "loopback"},
	{netip.MustParsePrefix("169.254.0.0/16"), "link-local"},
	{netip.MustParsePrefix("172.16.0.0/12"), "private"},
	{netip.MustParsePrefix("192.0.0.0/24"), "reserved"}, // IETF protocol assignments
	{netip.MustParsePrefix("192.0.2.0/24"), "documentation"},
	{netip.MustParsePrefix("192.88.99.0/24"), "reserved"}, // former 6to4 relay anycast
	{netip.MustParsePrefix("192.168.0.0/16"), "private"},
	{netip.MustParsePrefix("198.18.0.0/15"), "benchmarking"},
	{netip.MustParsePrefix("198.51.100.0/24"), "documentation"},
	{netip.MustParsePrefix("203.0.113.0/24"), "documentation"},
	{netip.MustParsePrefix("224.0.0.0/4"), "multicast"},
	{netip.MustParsePrefix("240.0.0.0/4"), "reserved"},

	{netip.MustParsePrefix("::/128"), "unspecified"},
	{netip.MustParsePrefix("::1/128"), "loopback"},
	{netip.MustParsePrefix("::/96"), "ipv4-compatible"},  // deprecated; never routed
	{netip.MustParsePrefix("64:ff9b:1::/48"), "private"}, // local-use NAT64
	{netip.MustParsePrefix("100::/64"), "reserved"},      // discard-only
	{netip.MustParsePrefix("2001::/32"), "teredo"},
	{netip.MustParsePrefix("2001:2::/48"), "benchmarking"},
	{netip.MustParsePrefix("2001:db8::/32"), "documentation"},
	{netip.MustParsePrefix("3fff::/20"), "documentation"},
	{netip.MustParsePrefix("fc00::/7"), "private"}, // unique local
	{netip.MustParsePrefix("fe80::/10"), "link-local"},
	{netip.MustParsePrefix("fec0::/10"), "private"}, // deprecated site-local
	{netip.MustParsePrefix("ff00::/8"), "multicast"},
}

var (
	nat64     = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour = netip.MustParsePrefix("2002::/16")
	global6   = netip.MustParsePrefix("2000::/3")
)

// Check reports whether connecting to a is allowed: nil, or a *DeniedError
// whose Host is a's text. Denied by default: loopback, link-local,
// private (RFC 1918, IPv6 unique local and site-local), shared 100.64.0.0/10
// (CGNAT), multicast, unspecified and "this network" 0.0.0.0/8, broadcast,
// reserved 240.0.0.0/4 and IETF special-purpose ranges, documentation and
// benchmarking ranges, Teredo, deprecated IPv4-compatible IPv6, and IPv6
// outside the global unicast 2000::/3. An IPv4-mapped IPv6 address is
// checked as its IPv4 address; a NAT64 (64:ff9b::/96) or 6to4 (2002::/16)
// address is checked as the IPv4 address it embeds. An address in one of
// p.Allow is allowed whatever its class.
func (p *Policy) Check(a netip.Addr) error {
	if !a.IsValid() {
		return &DeniedError{Host: "invalid address", Class: "invalid"}
	}
	a = a.WithZone("")
	if a.Is4In6() {
		a = a.Unmap()
	}
	if class := p.class(a); class != "" {
		return &DeniedError{Host: a.String(), Addr: a, Class: class}
	}
	return nil
}

// class is the class that denies a, or "" if a is allowed.
func (p *Policy) class(a netip.Addr) string {
	for _, n := range p.Allow {
		if n.Contains(a) {
			return ""
		}
	}
	for _, d := range denied {
		if d.prefix.Contains(a) {
			return d.class
		}
	}
	if a.Is4() {
		return ""
	}
	b := a.As16()
	switch {
	case nat64.Contains(a):
		return p.class(netip.AddrFrom4([4]byte(b[12:16])))
	case sixToFour.Contains(a):
		return p.class(netip.AddrFrom4([4]byte(b[2:6])))
	case !global6.Contains(a):
		return "reserved"
	}
	return ""
}

// resolve returns host's addresses (host itself if it is an address),
// IPv4-mapped ones unmapped. network is "tcp", "tcp4" or "tcp6".
func (p *Policy) resolve(ctx context.Context, network, host string) ([]netip.Addr, error) {
	if a, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{a.Unmap()}, nil
	}
	r := p.Resolver
	if r == nil {
		r = net.DefaultResolver
	}
	ipnet := "ip"
	switch network {
	case "tcp4":
		ipnet = "ip4"
	case "tcp6":
		ipnet = "ip6"
	}
	addrs, err := r.LookupNetIP(ctx, ipnet, host)
	if err != nil {
		return nil, err
	}
	if len(addrs) == 0 {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	for i, a := range addrs {
		addrs[i] = a.Unmap()
	}
	return addrs, nil
}

// allowedAddrs resolves host and returns its allowed addresses; if there is
// none, the error is the first address's *DeniedError (Host set to host).
func (p *Policy) allowedAddrs(ctx context.Context, network, host string) ([]netip.Addr, error) {
	addrs, err := p.resolve(ctx, network, host)
	if err != nil {
		return nil, err
	}
	var ok []netip.Addr
	var first *DeniedError
	for _, a := range addrs {
		if err := p.Check(a); err != nil {
			if first == nil {
				first = err.(*DeniedError)
				first.Host = host
			}
			continue
		}
		ok = append(ok, a)
	}
	if len(ok) == 0 {
		return nil, first
	}
	return ok, nil
}

// dialer returns the template dialer with the address check installed in
// front of its own control function.
func (p *Policy) dialer() *net.Dialer {
	d := net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	if p.Dialer != nil {
		d = *p.Dialer
	}
	next, nextCtx := d.Control, d.ControlContext
	d.Control = nil
	d.ControlContext = func(ctx context.Context, network, address string, c syscall.RawConn) error {
		if err := p.checkDialled(address); err != nil {
			return err
		}
		switch {
		case nextCtx != nil:
			return nextCtx(ctx, network, address, c)
		case next != nil:
			return next(network, address, c)
		}
		return nil
	}
	return &d
}

// checkDialled checks the address a socket is about to connect to, as
// net.Dialer's control functions see it ("ip:port").
func (p *Policy) checkDialled(address string) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("egress: cannot check the address %q", address)
	}
	return p.Check(ap.Addr())
}

// DialContext connects to addr ("host:port") like net.Dialer.DialContext,
// for networks tcp, tcp4 and tcp6, within the Dialer's Timeout. It resolves the host with p.Resolver,
// checks every address, and tries only the allowed ones, in the resolver's
// order, by address: the name is not resolved again. The socket's
// destination is checked once more just before it connects. If no address
// is allowed, the error is a *DeniedError; if the host does not resolve, a
// *net.DNSError.
func (p *Policy) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	switch network {
	case "tcp", "tcp4", "tcp6":
	default:
		return nil, fmt.Errorf("egress: network %q not supported", network)
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	d := p.dialer()
	if d.Timeout > 0 {
		// One budget for resolving and all addresses, as net.Dialer has.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d.Timeout)
		defer cancel()
	}
	addrs, err := p.allowedAddrs(ctx, network, host)
	if err != nil {
		return nil, err
	}
	var firstErr error
	for i, a := range addrs {
		// As net.Dialer does, each address gets a share of what is left
		// (at least 2s), so that one unreachable address does not use up
		// the whole budget.
		actx := ctx
		if dl, ok := ctx.Deadline(); ok && len(addrs)-i > 1 {
			share := max(time.Until(dl)/time.Duration(len(addrs)-i), 2*time.Second)
			var cancel context.CancelFunc
			actx, cancel = context.WithTimeout(ctx, share)
			defer cancel()
		}
		c, err := d.DialContext(actx, network, net.JoinHostPort(a.String(), port))
		if err == nil {
			return c, nil
		}
		if firstErr == nil {
			firstErr = err
		}
		if ctx.Err() != nil {
			break
		}
	}
	return nil, firstErr
}

// DialerTrusting returns a dial function that connects to the given
// "host:port" pairs without any check, and to every other address through
// p.DialContext. The trusted pairs are the operator's own configuration
// (upstream proxies, mirrors, the checksum database, a proxy from the
// environment), which may legitimately be on private networks; everything
// else, such as the target of a redirect, is checked. A pair matches the
// dialled address exactly, host compared without regard to case; give
// ports explicitly ("proxy.corp:443"). Trusted pairs are dialled with
// p.Dialer's settings and resolved by it, not by p.Resolver.
func (p *Policy) DialerTrusting(hostports ...string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	trusted := hostPortSet(hostports)
	plain := net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	if p.Dialer != nil {
		plain = *p.Dialer
	}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		if trusted[normHostPort(addr)] {
			return plain.DialContext(ctx, network, addr)
		}
		return p.DialContext(ctx, network, addr)
	}
}

// MaxRedirects is how many redirects CheckRedirect follows for one request.
const MaxRedirects = 10

// CheckRedirect returns an http.Client CheckRedirect function for clients
// whose transport dials through DialerTrusting and sends requests through
// proxy, the transport's Proxy function (nil: none). hostports are the
// trusted pairs given to DialerTrusting but a proxy's own. It refuses a
// redirect to a scheme other than http and https and the redirect after
// MaxRedirects. Without a proxy that is all: the transport dials every
// redirect target itself, and the dialer checks it (every address it
// resolves, and the socket's destination), as the egress Proxy does. With
// a proxy the check is made here, for every redirect: one to a host other
// than the trusted pairs that has any denied address is refused. The
// dialer cannot make it then: it sees only the proxy, which resolves names
// itself (it may see other addresses than gomirror did; its own rules
// apply then), and a redirect that the proxy function sends direct could
// go to the proxy's own host:port, which the dialer trusts.
func (p *Policy) CheckRedirect(proxy func(*http.Request) (*url.URL, error), hostports ...string) func(req *http.Request, via []*http.Request) error {
	trusted := hostPortSet(hostports)
	return func(req *http.Request, via []*http.Request) error {
		if len(via) >= MaxRedirects {
			return fmt.Errorf("egress: stopped after %d redirects", MaxRedirects)
		}
		u := req.URL
		if u.Scheme != "http" && u.Scheme != "https" {
			return fmt.Errorf("egress: refusing a redirect to scheme %q: only http and https", u.Scheme)
		}
		if proxy == nil {
			return nil // the dialer checks
		}
		port := u.Port()
		if port == "" {
			port = netconf.DefaultPort(u.Scheme)
		}
		host := u.Hostname()
		if trusted[normHostPort(net.JoinHostPort(host, port))] {
			return nil
		}
		addrs, err := p.resolve(req.Context(), "tcp", host)
		if err != nil {
			return err
		}
		for _, a := range addrs {
			if err := p.Check(a); err != nil {
				var d *DeniedError
				if errors.As(err, &d) {
					d.Host = host
				}
				return err
			}
		}
		return nil
	}
}

func hostPortSet(hostports []string) map[string]bool {
	m := make(map[string]bool, len(hostports))
	for _, hp := range hostports {
		m[normHostPort(hp)] = true
	}
	return m
}

// normHostPort is hp with the host in lower case and an IP address in its
// canonical form, or hp itself if it is not host:port.
func normHostPort(hp string) string {
	host, port, err := net.SplitHostPort(hp)
	if err != nil {
		return hp
	}
	if a, err := netip.ParseAddr(host); err == nil {
		host = a.Unmap().String()
	}
	return net.JoinHostPort(strings.ToLower(host), port)
}
