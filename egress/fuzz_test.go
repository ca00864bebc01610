package egress

import (
	"net/netip"
	"testing"
)

// FuzzCheck checks, for any address, that every address Go itself calls
// loopback, private, link-local, multicast or unspecified is denied, and
// that an IPv4 address and its IPv4-mapped IPv6 form get the same answer:
// the ways an attacker can spell an internal address must not matter.
func FuzzCheck(f *testing.F) {
	for _, s := range []string{"127.0.0.1", "::1", "10.1.2.3", "169.254.169.254", "::ffff:127.0.0.1", "100.64.0.1",
		"fd00::1", "fe80::1", "224.0.0.1", "0.0.0.0", "8.8.8.8", "2001:4860::8888", "64:ff9b::7f00:1", "2002:7f00:1::1"} {
		f.Add(netip.MustParseAddr(s).AsSlice())
	}
	var p Policy
	f.Fuzz(func(t *testing.T, b []byte) {
		a, ok := netip.AddrFromSlice(b)
		if !ok {
			return
		}
		err := p.Check(a)
		u := a.Unmap()
		if err == nil && (u.IsLoopback() || u.IsPrivate() || u.IsLinkLocalUnicast() || u.IsMulticast() || u.IsUnspecified()) {
			t.Fatalf("Check(%v) allowed an internal address", a)
		}
		if u.Is4() {
			mapped := netip.AddrFrom16(u.As16())
			if (p.Check(u) == nil) != (p.Check(mapped) == nil) {
				t.Fatalf("Check(%v) and Check(%v) disagree", u, mapped)
			}
		}
	})
}
