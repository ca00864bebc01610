package clientaddr

import (
	"net/http/httptest"
	"testing"
)

func TestAddr(t *testing.T) {
	r, err := Parse("10.0.0.0/8, 192.0.2.7 ,2001:db8::/32")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name      string
		res       *Resolver
		peer      string
		xff       []string
		want      string
		forwarded bool
	}{
		{"no proxies trusted: header ignored", nil, "198.51.100.1:5000", []string{"203.0.113.9"}, "198.51.100.1", false},
		{"untrusted peer: header ignored", r, "198.51.100.1:5000", []string{"203.0.113.9"}, "198.51.100.1", false},
		{"trusted peer, no header", r, "10.1.2.3:5000", nil, "10.1.2.3", false},
		{"trusted peer: right-most address", r, "10.1.2.3:5000", []string{"203.0.113.9"}, "203.0.113.9", true},
		{"client-forged addresses on the left are not believed", r, "10.1.2.3:5000", []string{"1.1.1.1, 203.0.113.9"}, "203.0.113.9", true},
		{"trusted hops are skipped", r, "10.1.2.3:5000", []string{"1.1.1.1, 203.0.113.9, 10.9.9.9", "192.0.2.7"}, "203.0.113.9", true},
		{"a malformed hop stops the walk at the last trusted proxy", r, "10.1.2.3:5000", []string{"1.1.1.1, nonsense, 10.9.9.9"}, "10.9.9.9", true},
		{"a malformed right-most hop leaves the peer", r, "10.1.2.3:5000", []string{"1.1.1.1, nonsense"}, "10.1.2.3", false},
		{"every hop trusted: the left-most", r, "10.1.2.3:5000", []string{"10.7.7.7, 10.8.8.8"}, "10.7.7.7", true},
		{"ports and brackets and mapped addresses", r, "[::ffff:10.1.2.3]:5000", []string{"[2001:db9::1]:80, 203.0.113.9:1234"}, "203.0.113.9", true},
		{"IPv6 peer in a trusted prefix", r, "[2001:db8::5]:5000", []string{"2001:db9::1"}, "2001:db9::1", true},
		{"empty elements are no hops", r, "10.1.2.3:5000", []string{"203.0.113.9,,"}, "203.0.113.9", true},
		{"not an IP peer", r, "@", []string{"203.0.113.9"}, "@", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", "/", nil)
			req.RemoteAddr = tt.peer
			for _, v := range tt.xff {
				req.Header.Add("X-Forwarded-For", v)
			}
			got, fwd := tt.res.Addr(req)
			if got != tt.want || fwd != tt.forwarded {
				t.Errorf("Addr = %q, %v; want %q, %v", got, fwd, tt.want, tt.forwarded)
			}
		})
	}
}

func TestParse(t *testing.T) {
	for _, bad := range []string{"10.0.0.0/33", "example.com", "10.0.0.1/8/2", "fe80::1%eth0"} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) succeeded", bad)
		}
	}
	r, err := Parse("")
	if err != nil || r.Trusts() {
		t.Errorf("Parse(\"\") = %v, %v; want a resolver that trusts nothing", r, err)
	}
}

func TestFromWithoutMiddleware(t *testing.T) {
	req := httptest.NewRequest("GET", "/", nil)
	req.RemoteAddr = "198.51.100.1:5000"
	req.Header.Set("X-Forwarded-For", "203.0.113.9")
	if got := From(req); got != "198.51.100.1" {
		t.Errorf("From = %q; want the socket peer", got)
	}
	req = req.WithContext(With(req.Context(), "203.0.113.9"))
	if got := From(req); got != "203.0.113.9" {
		t.Errorf("From = %q; want the stored address", got)
	}
}

func TestKey(t *testing.T) {
	tests := []struct{ in, want string }{
		{"192.0.2.1:1234", "192.0.2.1"},
		{"[::ffff:192.0.2.1]:1234", "192.0.2.1"},
		{"[2001:db8::1]:80", "2001:db8::/64"},
		{"2001:db8::1", "2001:db8::/64"},
		{"[fe80::1%eth0]:80", "fe80::/64"},
		{"192.0.2.1", "192.0.2.1"},
		{"@", "@"},
	}
	for _, tt := range tests {
		if got := Key(tt.in); got != tt.want {
			t.Errorf("Key(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestPeerAddr checks that PeerAddr gives, for a peer that is not a
// trusted proxy, the address Addr gives for every request from it
// (whatever X-Forwarded-For says), and declines for a trusted proxy.
func TestPeerAddr(t *testing.T) {
	trusting, err := Parse("10.0.0.0/8, 2001:db8::/32")
	if err != nil {
		t.Fatal(err)
	}
	for _, res := range []*Resolver{nil, {}, trusting} {
		for _, peer := range []string{"198.51.100.1:5000", "[2001:db8::1%eth0]:443", "[::ffff:192.0.2.9]:80", "10.1.2.3:5000", "[2001:db8::5]:1", "not an address", "@"} {
			addr, ok := res.PeerAddr(peer)
			wantOK := !(res == trusting && (peer == "10.1.2.3:5000" || peer == "[2001:db8::5]:1" || peer == "[2001:db8::1%eth0]:443"))
			if ok != wantOK {
				t.Errorf("trusts %v, %s: ok %v, want %v", res.Trusts(), peer, ok, wantOK)
				continue
			}
			for _, xff := range []string{"", "203.0.113.9", "1.1.1.1, 10.9.9.9"} {
				req := httptest.NewRequest("GET", "/", nil)
				req.RemoteAddr = peer
				if xff != "" {
					req.Header.Set("X-Forwarded-For", xff)
				}
				if want, _ := res.Addr(req); ok && addr != want {
					t.Errorf("trusts %v, %s, X-Forwarded-For %q: PeerAddr %q, Addr %q", res.Trusts(), peer, xff, addr, want)
				}
			}
		}
	}
}
