package egress

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/gomirror/gomirror/internal/netconf"
)

func TestCheck(t *testing.T) {
	allowing := &Policy{Allow: mustNetworks(t, "10.0.0.0/8, 127.0.0.2, fd00:ec2::/32, 169.254.169.254")}
	tests := []struct {
		addr  string
		class string // "" allowed
		p     *Policy
	}{
		{"127.0.0.1", "loopback", nil},
		{"127.255.255.254", "loopback", nil},
		{"::1", "loopback", nil},
		{"::ffff:127.0.0.1", "loopback", nil},
		{"169.254.169.254", "link-local", nil},
		{"::ffff:169.254.169.254", "link-local", nil},
		{"fe80::1", "link-local", nil},
		{"fe80::1%eth0", "link-local", nil},
		{"10.1.2.3", "private", nil},
		{"172.16.0.1", "private", nil},
		{"172.31.255.255", "private", nil},
		{"192.168.1.1", "private", nil},
		{"::ffff:10.0.0.1", "private", nil},
		{"::ffff:192.168.0.1", "private", nil},
		{"fd00:ec2::254", "private", nil}, // a cloud metadata address over IPv6
		{"fc00::1", "private", nil},
		{"fec0::1", "private", nil},
		{"100.64.0.1", "shared (CGNAT)", nil},
		{"100.127.255.255", "shared (CGNAT)", nil},
		{"224.0.0.1", "multicast", nil},
		{"239.255.255.250", "multicast", nil},
		{"ff02::1", "multicast", nil},
		{"0.0.0.0", "unspecified", nil},
		{"::", "unspecified", nil},
		{"::ffff:0.0.0.0", "unspecified", nil},
		{"0.1.2.3", "this-network", nil},
		{"255.255.255.255", "broadcast", nil},
		{"240.0.0.1", "reserved", nil},
		{"192.0.0.170", "reserved", nil},
		{"192.0.2.1", "documentation", nil},
		{"2001:db8::1", "documentation", nil},
		{"198.18.0.1", "benchmarking", nil},
		{"::127.0.0.1", "ipv4-compatible", nil},
		{"::8.8.8.8", "ipv4-compatible", nil},
		{"64:ff9b::7f00:1", "loopback", nil},      // NAT64 of 127.0.0.1
		{"64:ff9b::a9fe:a9fe", "link-local", nil}, // NAT64 of 169.254.169.254
		{"64:ff9b:1::1", "private", nil},
		{"2002:7f00:1::1", "loopback", nil},    // 6to4 of 127.0.0.1
		{"2002:a00:1::1", "private", nil},      // 6to4 of 10.0.0.1
		{"2001:0:4136:e378::1", "teredo", nil}, // Teredo
		{"100::1", "reserved", nil},
		{"4000::1", "reserved", nil},

		{"8.8.8.8", "", nil},
		{"93.184.215.14", "", nil},
		{"::ffff:8.8.8.8", "", nil},
		{"100.63.255.255", "", nil},
		{"100.128.0.0", "", nil},
		{"172.32.0.1", "", nil},
		{"2606:4700::1", "", nil},
		{"64:ff9b::808:808", "", nil}, // NAT64 of 8.8.8.8
		{"2002:808:808::1", "", nil},  // 6to4 of 8.8.8.8

		{"10.9.8.7", "", allowing},
		{"::ffff:10.9.8.7", "", allowing},
		{"2002:a00:1::1", "", allowing},
		{"64:ff9b::a00:1", "", allowing},
		{"127.0.0.2", "", allowing},
		{"127.0.0.1", "loopback", allowing},
		{"169.254.169.254", "", allowing},
		{"169.254.169.253", "link-local", allowing},
		{"fd00:ec2::254", "", allowing},
		{"fd01::1", "private", allowing},
		{"192.168.0.1", "private", allowing},
	}
	for _, tt := range tests {
		p := tt.p
		if p == nil {
			p = &Policy{}
		}
		a := netip.MustParseAddr(tt.addr)
		err := p.Check(a)
		if tt.class == "" {
			if err != nil {
				t.Errorf("Check(%s) = %v; want allowed", tt.addr, err)
			}
			continue
		}
		var d *DeniedError
		if !errors.As(err, &d) {
			t.Errorf("Check(%s) = %v; want a *DeniedError of class %s", tt.addr, err, tt.class)
			continue
		}
		if d.Class != tt.class {
			t.Errorf("Check(%s): class %q; want %q", tt.addr, d.Class, tt.class)
		}
	}
	if err := (&Policy{}).Check(netip.Addr{}); err == nil {
		t.Error("Check(zero Addr) = nil; want denied")
	}
	// Allowing everything is possible and explicit.
	all := &Policy{Allow: mustNetworks(t, "0.0.0.0/0 ::/0")}
	for _, s := range []string{"127.0.0.1", "::1", "169.254.169.254", "fd00::1"} {
		if err := all.Check(netip.MustParseAddr(s)); err != nil {
			t.Errorf("with everything allowed, Check(%s) = %v", s, err)
		}
	}
}

func mustNetworks(t *testing.T, s string) []netip.Prefix {
	t.Helper()
	n, err := netconf.ParseNetworks(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestDeniedErrorText(t *testing.T) {
	p := &Policy{Resolver: hosts(map[string]string{"metadata.test": "127.0.0.9"})}
	_, err := p.DialContext(context.Background(), "tcp", "metadata.test:80")
	var d *DeniedError
	if !errors.As(err, &d) {
		t.Fatalf("dial metadata.test: %v; want a *DeniedError", err)
	}
	if d.Host != "metadata.test" || d.Addr != netip.MustParseAddr("127.0.0.9") || d.Class != "loopback" {
		t.Errorf("DeniedError %+v", d)
	}
	msg := err.Error()
	for _, want := range []string{"metadata.test", "loopback", "direct-allow-networks"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not name %q", msg, want)
		}
	}
	if strings.Contains(msg, "127.0.0.9") {
		t.Errorf("error %q shows the address a name resolved to", msg)
	}
	err = (&Policy{}).Check(netip.MustParseAddr("::ffff:169.254.169.254"))
	if msg := err.Error(); !strings.Contains(msg, "169.254.169.254 is a link-local address") {
		t.Errorf("error %q", msg)
	}
}

func TestDialContext(t *testing.T) {
	tg := listen(t, "127.0.0.1:0")
	res := hosts(map[string]string{
		"metadata.test": "127.0.0.1",
		"mixed.test":    "127.0.0.1,127.0.0.3",
	})
	ctx := context.Background()
	deny := &Policy{Resolver: res}
	for _, host := range []string{"127.0.0.1", "metadata.test", "[::ffff:127.0.0.1]"} {
		c, err := deny.DialContext(ctx, "tcp", host+":"+tg.port)
		var d *DeniedError
		if !errors.As(err, &d) || d.Class != "loopback" {
			if c != nil {
				c.Close()
			}
			t.Errorf("dial %s: %v; want denied as loopback", host, err)
		}
	}
	if _, err := deny.DialContext(ctx, "tcp", "nowhere.test:"+tg.port); !errors.As(err, new(*net.DNSError)) {
		t.Errorf("dial nowhere.test: %v; want a *net.DNSError", err)
	}
	if _, err := deny.DialContext(ctx, "udp", "127.0.0.1:"+tg.port); err == nil {
		t.Error("dial udp: no error")
	}
	if n := tg.count(); n != 0 {
		t.Fatalf("%d connections reached the denied address", n)
	}

	// Only the allowed address of a name is dialled.
	some := &Policy{Resolver: res, Allow: mustNetworks(t, "127.0.0.3")}
	if c, err := some.DialContext(ctx, "tcp", "mixed.test:"+tg.port); err == nil {
		c.Close()
		t.Error("dial mixed.test reached something; want only 127.0.0.3 tried, where nothing listens")
	}
	if n := tg.count(); n != 0 {
		t.Fatalf("%d connections reached the denied address of mixed.test", n)
	}

	allow := &Policy{Resolver: res, Allow: mustNetworks(t, "127.0.0.0/8")}
	c, err := allow.DialContext(ctx, "tcp", "metadata.test:"+tg.port)
	if err != nil {
		t.Fatalf("allowed dial: %v", err)
	}
	c.Close()
	if n := tg.count(); n != 1 {
		t.Fatalf("allowed dial: %d connections at the target; want 1", n)
	}
}

// TestDialRechecksAtConnect: the address check runs again on the socket's
// destination, whatever resolved it.
func TestDialRechecksAtConnect(t *testing.T) {
	p := &Policy{}
	d := p.dialer()
	tg := listen(t, "127.0.0.1:0")
	c, err := d.DialContext(context.Background(), "tcp", "127.0.0.1:"+tg.port)
	var denied *DeniedError
	if !errors.As(err, &denied) {
		if c != nil {
			c.Close()
		}
		t.Fatalf("dial through the control check: %v; want a *DeniedError", err)
	}
	if n := tg.count(); n != 0 {
		t.Fatalf("%d connections", n)
	}
	// The template's own control function still runs.
	var called atomic.Bool
	p = &Policy{Allow: mustNetworks(t, "127.0.0.1"), Dialer: &net.Dialer{
		ControlContext: func(context.Context, string, string, syscall.RawConn) error { called.Store(true); return nil },
	}}
	c, err = p.DialContext(context.Background(), "tcp", "127.0.0.1:"+tg.port)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if !called.Load() {
		t.Error("the Dialer's ControlContext did not run")
	}
}

func TestDialRebinding(t *testing.T) {
	denied := listen(t, "127.0.0.1:0")
	allowed, err := net.Listen("tcp", "127.0.0.2:"+denied.port)
	if err != nil {
		t.Skipf("cannot listen on 127.0.0.2 with the same port: %v", err)
	}
	allowed.Close()
	ok := listen(t, "127.0.0.2:"+denied.port)
	var calls atomic.Int64
	p := &Policy{
		Allow: mustNetworks(t, "127.0.0.2"),
		Resolver: resolverFunc(func(context.Context, string, string) ([]netip.Addr, error) {
			if calls.Add(1) == 1 {
				return []netip.Addr{netip.MustParseAddr("127.0.0.2")}, nil
			}
			return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
		}),
	}
	for i := range 3 {
		c, err := p.DialContext(context.Background(), "tcp", "rebind.test:"+denied.port)
		if err == nil {
			if got := c.RemoteAddr().String(); got != "127.0.0.2:"+denied.port {
				t.Errorf("dial %d reached %s", i, got)
			}
			c.Close()
		} else if !errors.As(err, new(*DeniedError)) {
			t.Errorf("dial %d: %v", i, err)
		}
	}
	if n := denied.count(); n != 0 {
		t.Fatalf("%d connections reached the rebound, denied address", n)
	}
	if n := ok.count(); n != 1 {
		t.Errorf("%d connections at the allowed address; want 1 (the first answer)", n)
	}
}

func TestDialerTrusting(t *testing.T) {
	trusted := listen(t, "127.0.0.1:0")
	other := listen(t, "127.0.0.1:0")
	p := &Policy{}
	dial := p.DialerTrusting("127.0.0.1:"+trusted.port, "Proxy.Corp.Example:443")
	c, err := dial(context.Background(), "tcp", "127.0.0.1:"+trusted.port)
	if err != nil {
		t.Fatalf("trusted: %v", err)
	}
	c.Close()
	if _, err := dial(context.Background(), "tcp", "127.0.0.1:"+other.port); !errors.As(err, new(*DeniedError)) {
		t.Errorf("untrusted loopback: %v; want denied", err)
	}
	if trusted.count() != 1 || other.count() != 0 {
		t.Errorf("connections: trusted %d (want 1), other %d (want 0)", trusted.count(), other.count())
	}
	if got := normHostPort("PROXY.corp.example:443"); !hostPortSet([]string{"proxy.corp.example:443"})[got] {
		t.Errorf("host names are not compared without regard to case: %q", got)
	}
}

func TestCheckRedirect(t *testing.T) {
	p := &Policy{Resolver: hosts(map[string]string{"internal.test": "127.0.0.1", "public.test": "8.8.8.8"})}
	viaProxy := func(*http.Request) (*url.URL, error) { return url.Parse("http://proxy.test:3128") }
	behindProxy := p.CheckRedirect(viaProxy, "127.0.0.1:8080", "mirror.test:443")
	// Without a proxy the dialer checks addresses (TestDialerTrusting,
	// and server's TestUpstreamRedirectsFollowAddressRules end to end):
	// nothing is resolved here.
	direct := p.CheckRedirect(nil, "127.0.0.1:8080", "mirror.test:443")
	req := func(raw string) *http.Request {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		return (&http.Request{URL: u}).WithContext(context.Background())
	}
	tests := []struct {
		url      string
		ok       bool // behind a proxy
		okDirect bool
	}{
		{"http://127.0.0.1:8080/x", true, true}, // trusted
		{"https://mirror.test/x", true, true},   // trusted, default port
		{"https://public.test/x", true, true},
		{"http://127.0.0.1:8081/x", false, true},
		{"http://internal.test/x", false, true},
		{"https://169.254.169.254/latest", false, true},
		{"http://[::1]:8080/x", false, true},
		{"file:///etc/passwd", false, false},
		{"ftp://public.test/x", false, false},
		{"gopher://public.test/x", false, false},
	}
	for _, tt := range tests {
		if err := behindProxy(req(tt.url), nil); (err == nil) != tt.ok {
			t.Errorf("behind a proxy, redirect to %s: %v; want ok=%v", tt.url, err, tt.ok)
		}
		if err := direct(req(tt.url), nil); (err == nil) != tt.okDirect {
			t.Errorf("without a proxy, redirect to %s: %v; want ok=%v", tt.url, err, tt.okDirect)
		}
	}
	via := make([]*http.Request, MaxRedirects)
	for _, check := range []func(*http.Request, []*http.Request) error{behindProxy, direct} {
		if err := check(req("https://public.test/x"), via); err == nil {
			t.Errorf("redirect %d followed", MaxRedirects+1)
		}
	}
}
