package server

import (
	"net/http"
	"net/netip"
	"net/url"
	"strings"

	"golang.org/x/net/http/httpproxy"

	"github.com/gomirror/gomirror/config"
	"github.com/gomirror/gomirror/egress"
	"github.com/gomirror/gomirror/internal/netconf"
	"github.com/gomirror/gomirror/sumdb"
	"github.com/gomirror/gomirror/upstream"
)

// upstreamClient returns the HTTP client for upstream proxies, mirrors and
// the checksum database. It connects to the hosts the operator configured
// (trustedHostPorts) and to a proxy from gomirror's environment wherever
// they are; any other host, which only a redirect can lead it to, must pass
// policy, and redirects go only to http and https, at most
// egress.MaxRedirects of them.
//
// Without a proxy in the environment the transport has none, and the
// dialer checks every redirect target. Behind one the dial goes to the
// proxy, which is trusted; a redirect target is then checked by
// CheckRedirect, which resolves the name itself (the proxy resolves it
// again and applies its own rules).
func upstreamClient(cfg *config.Serve, policy *egress.Policy) *http.Client {
	trusted := trustedHostPorts(cfg)
	t := upstream.NewTransport()
	if env := httpproxy.FromEnvironment(); env.HTTPSProxy == "" && env.HTTPProxy == "" {
		t.Proxy = nil // http.ProxyFromEnvironment would use none for any request
	}
	t.DialContext = policy.DialerTrusting(append(trusted, envProxyHostPorts()...)...)
	return &http.Client{Transport: t, CheckRedirect: policy.CheckRedirect(t.Proxy, trusted...)}
}

// trustedHostPorts returns the host:port of every http(s) upstream URL,
// group mirror, the checksum database's own URL, and a vulndb URL.
func trustedHostPorts(cfg *config.Serve) []string {
	var urls []string
	for _, elem := range upstream.SplitList(cfg.Upstream) {
		urls = append(urls, elem.Value)
	}
	for _, g := range cfg.UpstreamGroups {
		urls = append(urls, g.Mirrors...)
	}
	if strings.TrimSpace(cfg.SumDB) != "off" {
		// Errors are New's to report.
		if db, err := sumdb.Parse(cfg.SumDB); err == nil && db != nil {
			urls = append(urls, db.URL)
		}
	}
	if v := strings.TrimSpace(cfg.VulnDB); strings.HasPrefix(v, "http://") || strings.HasPrefix(v, "https://") {
		urls = append(urls, v)
	}
	var out []string
	for _, raw := range urls {
		if u, err := url.Parse(raw); err == nil {
			if hp := netconf.HostPort(u); hp != "" {
				out = append(out, hp)
			}
		}
	}
	return out
}

// envProxyHostPorts returns the host:port of the proxies HTTPS_PROXY and
// HTTP_PROXY name, which the transport (http.ProxyFromEnvironment) dials
// instead of the upstream.
func envProxyHostPorts() []string {
	env := httpproxy.FromEnvironment()
	var out []string
	for _, raw := range []string{env.HTTPSProxy, env.HTTPProxy} {
		if raw == "" {
			continue
		}
		// As httpproxy parses it: a value without a scheme is http.
		u, err := url.Parse(raw)
		if err != nil || u.Scheme == "" || u.Host == "" {
			if u, err = url.Parse("http://" + raw); err != nil {
				continue
			}
		}
		if hp := netconf.HostPort(u); hp != "" {
			out = append(out, hp)
		}
	}
	return out
}

// usesDirect reports whether the GOPROXY-syntax list names "direct".
func usesDirect(list string) bool {
	for _, e := range upstream.SplitList(list) {
		if e.Value == "direct" {
			return true
		}
	}
	return false
}

// hostChecker returns the check of a module path's first element for the
// public direct sandbox: an IP literal must pass policy (the go command
// connects to loopback literals without its proxy); a name is resolved and
// checked by the egress proxy.
func hostChecker(policy *egress.Policy) func(host string) error {
	return func(host string) error {
		a, err := netip.ParseAddr(host)
		if err != nil {
			return nil
		}
		return policy.Check(a)
	}
}
