package doctor

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/gomirror/gomirror/client/mirrors"
	"github.com/gomirror/gomirror/client/setup"
	"github.com/gomirror/gomirror/i18n"
	"github.com/gomirror/gomirror/internal/netconf"
	"github.com/gomirror/gomirror/internal/redact"
)

// stepFailure is a failed step: a problem name, a message and a fix.
type stepFailure struct {
	problem      string
	message, fix i18n.Text
}

// timed runs f with its own timeout and records a step.
func (o *Options) timed(ctx context.Context, name string, f func(ctx context.Context) (detail i18n.Text, fail *stepFailure)) (Step, *stepFailure) {
	sctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	start := time.Now()
	detail, fail := f(sctx)
	d := time.Since(start)
	if fail != nil && sctx.Err() == context.DeadlineExceeded && ctx.Err() == nil {
		fail = &stepFailure{"timeout", i18n.T("%s: no answer within %v", name, o.Timeout),
			i18n.T("The server accepts nothing or hangs: check that it runs and that no firewall drops the traffic, or remove it from GOPROXY.")}
	}
	s := Step{Name: name, Status: OK, Detail: detail, latency: d, LatencyMS: float64(d.Microseconds()) / 1000}
	if fail != nil {
		s.Status, s.Detail = Fail, fail.message
	} else if d > o.Slow {
		s.Status = Warn
		s.Detail = i18n.T("%s (slow: %v, over %v)", s.Detail, d.Round(time.Millisecond), o.Slow)
	}
	return s, fail
}

func skipped(name string, why i18n.Text) Step {
	return Step{Name: name, Status: OK, Skipped: true, Detail: why}
}

// verdict turns steps into a result: the first failure, else "slow" if a
// step was slow, else ok.
func verdict(r Result, fail *stepFailure, okMsg i18n.Text) Result {
	if fail != nil {
		r.Status, r.Problem, r.Message, r.Fix = Fail, fail.problem, fail.message, fail.fix
		return r
	}
	var slow []string
	for _, s := range r.Steps {
		if s.Status == Warn {
			slow = append(slow, fmt.Sprintf("%s %v", s.Name, s.latency.Round(time.Millisecond)))
		}
	}
	if len(slow) > 0 {
		r.Status, r.Problem = Warn, "slow"
		r.Message = i18n.T("slow: %s", strings.Join(slow, ", "))
		r.Fix = i18n.T("Every go command that downloads waits for this: check the network path to the server and its load, or use a mirror closer to you: %s", mirrors.Suggestion())
		return r
	}
	r.Status, r.Message = OK, okMsg
	return r
}

// checkProxy checks one proxy URL, then the checksum database through it.
// It returns the results and, when the proxy speaks the protocol, the
// client that reached it (for the checks that compare proxies).
func checkProxy(ctx context.Context, o *Options, proxyURL string, db *sumDB) ([]Result, *http.Client) {
	r := Result{Check: "proxy", Target: redact.URL(proxyURL)}
	u, err := url.Parse(proxyURL)
	if err != nil {
		r.Status, r.Problem, r.Message = Fail, "goproxy-syntax", i18n.T("%v", err)
		return []Result{r}, nil
	}
	if u.Scheme == "file" {
		dir := filepath.FromSlash(u.Path)
		st, fail := o.timed(ctx, "dir", func(context.Context) (i18n.Text, *stepFailure) {
			if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
				return i18n.Text{}, &stepFailure{"no-such-dir", i18n.T("%s is not a directory: %v", dir, err),
					i18n.T("Create the directory or fix the file:// URL in GOPROXY.")}
			}
			return i18n.T("%s exists", dir), nil
		})
		r.Steps = append(r.Steps, st)
		return []Result{verdict(r, fail, i18n.T("directory exists"))}, nil
	}

	pf := proxyConfig(o.Getenv).ProxyFunc()
	via, _ := pf(u)
	host, port := u.Hostname(), u.Port()
	if port == "" {
		port = netconf.DefaultPort(u.Scheme)
	}
	hostport := net.JoinHostPort(host, port)
	tlsConf := &tls.Config{ServerName: host, RootCAs: o.RootCAs}

	var fail *stepFailure
	step := func(name string, f func(ctx context.Context) (i18n.Text, *stepFailure)) {
		if fail != nil {
			r.Steps = append(r.Steps, skipped(name, i18n.T("an earlier step failed")))
			return
		}
		var s Step
		s, fail = o.timed(ctx, name, f)
		r.Steps = append(r.Steps, s)
	}

	if via != nil {
		why := i18n.T("through HTTP proxy %s", redact.URL(via.String()))
		r.Steps = append(r.Steps, skipped("dns", why), skipped("tcp", why))
		if u.Scheme == "https" {
			r.Steps = append(r.Steps, skipped("tls", why))
		}
	} else {
		addr := host
		if net.ParseIP(host) != nil {
			r.Steps = append(r.Steps, skipped("dns", i18n.T("IP address")))
		} else {
			step("dns", func(ctx context.Context) (i18n.Text, *stepFailure) {
				addrs, err := o.Resolver.LookupHost(ctx, host)
				if err != nil {
					msg := i18n.T("DNS lookup of %s failed: %v", host, err)
					if de := (*net.DNSError)(nil); errors.As(err, &de) && de.IsNotFound {
						msg = i18n.T("DNS lookup of %s: no such host", host)
					}
					return i18n.Text{}, &stepFailure{"dns", msg, i18n.T("Check the host name %s in GOPROXY, and this machine's DNS settings (VPN?)", host)}
				}
				addr = addrs[0]
				return i18n.T("%s", strings.Join(addrs, " ")), nil
			})
		}
		var conn net.Conn
		step("tcp", func(ctx context.Context) (i18n.Text, *stepFailure) {
			target := net.JoinHostPort(addr, port)
			c, err := (&net.Dialer{}).DialContext(ctx, "tcp", target)
			if err != nil {
				if errors.Is(err, syscall.ECONNREFUSED) {
					return i18n.Text{}, &stepFailure{"connection-refused", i18n.T("TCP connect to %s: connection refused (nothing listens there)", target),
						i18n.T("Start the mirror (gomirror serve) on %s, or fix the host and port in GOPROXY.", hostport)}
				}
				return i18n.Text{}, &stepFailure{"tcp", i18n.T("TCP connect to %s: %v", target, err),
					i18n.T("Check that the server runs and that no firewall blocks the port, or fix the host and port in GOPROXY.")}
			}
			conn = c
			return i18n.T("connected to %s", target), nil
		})
		if conn != nil {
			defer conn.Close()
		}
		if u.Scheme == "https" {
			step("tls", func(ctx context.Context) (i18n.Text, *stepFailure) {
				tc := tls.Client(conn, tlsConf)
				if err := tc.HandshakeContext(ctx); err != nil {
					return i18n.Text{}, tlsFailure(host, err)
				}
				cs := tc.ConnectionState()
				return i18n.T("%s, certificate for %s valid until %s", tls.VersionName(cs.Version),
					certNames(cs.PeerCertificates[0]), cs.PeerCertificates[0].NotAfter.Format("2006-01-02")), nil
			})
		}
	}

	tr := &http.Transport{Proxy: func(req *http.Request) (*url.URL, error) { return pf(req.URL) }, TLSClientConfig: tlsConf.Clone(), DisableKeepAlives: true}
	client := &http.Client{Transport: tr}
	step("protocol", func(ctx context.Context) (i18n.Text, *stepFailure) {
		if err := setup.Check(ctx, client, proxyURL, o.ProbeModule); err != nil {
			return i18n.Text{}, &stepFailure{"not-a-proxy", i18n.T("the module proxy protocol check failed: %v", err),
				i18n.T("Check that GOPROXY names the mirror's base URL (what gomirror serve listens on, including any path prefix).")}
		}
		return i18n.T("GET /%s/@v/list answered as a module proxy", o.ProbeModule), nil
	})
	out := []Result{verdict(r, fail, i18n.T("speaks the module proxy protocol"))}
	if fail != nil {
		return out, nil
	}
	if db != nil {
		out = append(out, checkSumDBThrough(ctx, o, client, proxyURL, db))
	}
	return out, client
}

func certNames(c *x509.Certificate) string {
	names := append([]string{}, c.DNSNames...)
	for _, ip := range c.IPAddresses {
		names = append(names, ip.String())
	}
	if len(names) == 0 {
		names = append(names, c.Subject.CommonName)
	}
	return strings.Join(names, ", ")
}

// tlsFailure names what is wrong with a server's certificate.
func tlsFailure(host string, err error) *stepFailure {
	var (
		ua  x509.UnknownAuthorityError
		hn  x509.HostnameError
		inv x509.CertificateInvalidError
	)
	trust := i18n.T("Or add the CA to this machine's trust store (on Linux, SSL_CERT_FILE=<ca.pem> also works for the go command). GOINSECURE does not apply to GOPROXY.")
	switch {
	case errors.As(err, &ua):
		c := ua.Cert
		if c != nil && bytes.Equal(c.RawIssuer, c.RawSubject) && c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature) == nil {
			return &stepFailure{"self-signed", i18n.T("TLS handshake with %s: self-signed certificate (%q, for %s), not trusted by this machine", host, c.Subject.CommonName, certNames(c)),
				i18n.T("Give the server a certificate from a CA your machines trust. %s", trust)}
		}
		if c != nil {
			return &stepFailure{"unknown-authority", i18n.T("TLS handshake with %s: certificate signed by unknown authority (issued by %q)", host, c.Issuer.CommonName),
				i18n.T("Serve the full certificate chain, or use a certificate from a CA your machines trust. %s", trust)}
		}
		return &stepFailure{"unknown-authority", i18n.T("TLS handshake with %s: certificate signed by unknown authority", host),
			i18n.T("Serve the full certificate chain, or use a certificate from a CA your machines trust. %s", trust)}
	case errors.As(err, &hn):
		return &stepFailure{"hostname-mismatch", i18n.T("TLS handshake with %s: hostname mismatch: the certificate is for %s", host, certNames(hn.Certificate)),
			i18n.T("Use a name the certificate covers in GOPROXY, or reissue the certificate for %s.", host)}
	case errors.As(err, &inv) && inv.Reason == x509.Expired:
		return &stepFailure{"expired", i18n.T("TLS handshake with %s: certificate expired or not yet valid (%s)", host, inv.Detail),
			i18n.T("Renew the server's certificate, and check this machine's clock.")}
	}
	return &stepFailure{"tls", i18n.T("TLS handshake with %s: %v", host, err),
		i18n.T("Check that the server speaks HTTPS on this port (use http:// in GOPROXY if it does not).")}
}
