// Package netconf reads the network addresses that gomirror's
// configuration writes as text: lists of networks (direct-allow-networks,
// trusted-proxies) and the host:port a URL's connection goes to. It is the
// one place for both, so that every setting reads them alike.
package netconf

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
)

// ParseNetworks parses a list of networks separated by commas or white
// space: CIDR prefixes ("10.0.0.0/8", "fd00::/8") or single addresses
// ("192.168.1.5" meaning /32, "fd00::5" meaning /128). IPv4-mapped IPv6
// forms are turned into their IPv4 form, as the address checks see
// addresses. A prefix with bits set after its length ("10.1.2.3/8") is an
// error, as it is probably a typo. Every error quotes the entry it is
// about. An empty list is nil.
func ParseNetworks(list string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range strings.FieldsFunc(list, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' }) {
		var p netip.Prefix
		if strings.Contains(s, "/") {
			var err error
			if p, err = netip.ParsePrefix(s); err != nil {
				return nil, fmt.Errorf("%q: not a network like 10.0.0.0/8 or fd00::/8", s)
			}
			if p != p.Masked() {
				return nil, fmt.Errorf("%q: address bits set after the prefix length; did you mean %s?", s, p.Masked())
			}
		} else {
			a, err := netip.ParseAddr(s)
			if err != nil || a.Zone() != "" {
				return nil, fmt.Errorf("%q: not an IP address or a network like 10.0.0.0/8", s)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
		}
		out = append(out, p)
	}
	return out, nil
}

// DefaultPort returns the port a connection for scheme goes to when a URL
// names none: 80 for http, 443 for https, 1080 for socks5 and socks5h
// (proxy URLs); "" for any other scheme.
func DefaultPort(scheme string) string {
	switch scheme {
	case "http":
		return "80"
	case "https":
		return "443"
	case "socks5", "socks5h":
		return "1080"
	}
	return ""
}

// HostPort returns the host:port a connection for u goes to: u's port, or
// its scheme's DefaultPort. It returns "" if u has no host, or no port and
// a scheme without a default.
func HostPort(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = DefaultPort(u.Scheme)
	}
	if port == "" || u.Hostname() == "" {
		return ""
	}
	return net.JoinHostPort(u.Hostname(), port)
}
