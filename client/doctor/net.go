package doctor

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
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
	"github.com/gomirror/gomirror/internal/netconf"
	"github.com/gomirror/gomirror/layout"
)

// stepFailure is a failed step: a problem name, a message and a fix.
type stepFailure struct {
	problem, message, fix string
}

// timed runs f with its own timeout and records a step.
func (o *Options) timed(ctx context.Context, name string, f func(ctx context.Context) (detail string, fail *stepFailure)) (Step, *stepFailure) {
	sctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	start := time.Now()
	detail, fail := f(sctx)
	d := time.Since(start)
	if fail != nil && sctx.Err() == context.DeadlineExceeded && ctx.Err() == nil {
		fail = &stepFailure{"timeout", fmt.Sprintf("%s: no answer within %v", name, o.Timeout),
			"The server accepts nothing or hangs: check that it runs and that no firewall drops the traffic, or remove it from GOPROXY."}
	}
	s := Step{Name: name, Status: OK, Detail: detail, latency: d, LatencyMS: float64(d.Microseconds()) / 1000}
	if fail != nil {
		s.Status, s.Detail = Fail, fail.message
	} else if d > o.Slow {
		s.Status = Warn
		s.Detail += fmt.Sprintf(" (slow: %v, over %v)", d.Round(time.Millisecond), o.Slow)
	}
	return s, fail
}

func skipped(name, why string) Step {
	return Step{Name: name, Status: OK, Skipped: true, Detail: why}
}

// verdict turns steps into a result: the first failure, else "slow" if a
// step was slow, else ok.
func verdict(r Result, fail *stepFailure, okMsg string) Result {
	if fail != nil {
		r.Status, r.Problem, r.Message, r.Fix = Fail, fail.problem, fail.message, fail.fix
		return r
	}
	var slow []string
	for _, s := range r.Steps {
		if s.Status == Warn {
			slow = append(slow, fmt.Sprintf("%s took %v", s.Name, s.latency.Round(time.Millisecond)))
		}
	}
	if len(slow) > 0 {
		r.Status, r.Problem = Warn, "slow"
		r.Message = "slow: " + strings.Join(slow, ", ")
		r.Fix = "Every go command that downloads waits for this: check the network path to the server and its load, or use a mirror closer to you: " + mirrors.Suggestion().String()
		return r
	}
	r.Status, r.Message = OK, okMsg
	return r
}

// checkProxy checks one proxy URL, then the checksum database through it.
func checkProxy(ctx context.Context, o *Options, proxyURL, sumdbName string) []Result {
	r := Result{Check: "proxy", Target: proxyURL}
	u, err := url.Parse(proxyURL)
	if err != nil {
		r.Status, r.Problem, r.Message = Fail, "goproxy-syntax", err.Error()
		return []Result{r}
	}
	if u.Scheme == "file" {
		dir := filepath.FromSlash(u.Path)
		st, fail := o.timed(ctx, "dir", func(context.Context) (string, *stepFailure) {
			if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
				return "", &stepFailure{"no-such-dir", fmt.Sprintf("%s is not a directory: %v", dir, err),
					"Create the directory or fix the file:// URL in GOPROXY."}
			}
			return dir + " exists", nil
		})
		r.Steps = append(r.Steps, st)
		return []Result{verdict(r, fail, "directory exists")}
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
	step := func(name string, f func(ctx context.Context) (string, *stepFailure)) {
		if fail != nil {
			r.Steps = append(r.Steps, skipped(name, "an earlier step failed"))
			return
		}
		var s Step
		s, fail = o.timed(ctx, name, f)
		r.Steps = append(r.Steps, s)
	}

	if via != nil {
		why := "through HTTP proxy " + via.Redacted()
		r.Steps = append(r.Steps, skipped("dns", why), skipped("tcp", why))
		if u.Scheme == "https" {
			r.Steps = append(r.Steps, skipped("tls", why))
		}
	} else {
		addr := host
		if net.ParseIP(host) != nil {
			r.Steps = append(r.Steps, skipped("dns", "IP address"))
		} else {
			step("dns", func(ctx context.Context) (string, *stepFailure) {
				addrs, err := o.Resolver.LookupHost(ctx, host)
				if err != nil {
					msg := fmt.Sprintf("DNS lookup of %s failed: %v", host, err)
					if de := (*net.DNSError)(nil); errors.As(err, &de) && de.IsNotFound {
						msg = fmt.Sprintf("DNS lookup of %s: no such host", host)
					}
					return "", &stepFailure{"dns", msg, fmt.Sprintf("Check the host name %s in GOPROXY, and this machine's DNS settings (VPN?)", host)}
				}
				addr = addrs[0]
				return strings.Join(addrs, " "), nil
			})
		}
		var conn net.Conn
		step("tcp", func(ctx context.Context) (string, *stepFailure) {
			target := net.JoinHostPort(addr, port)
			c, err := (&net.Dialer{}).DialContext(ctx, "tcp", target)
			if err != nil {
				if errors.Is(err, syscall.ECONNREFUSED) {
					return "", &stepFailure{"connection-refused", fmt.Sprintf("TCP connect to %s: connection refused (nothing listens there)", target),
						fmt.Sprintf("Start the mirror (gomirror serve) on %s, or fix the host and port in GOPROXY.", hostport)}
				}
				return "", &stepFailure{"tcp", fmt.Sprintf("TCP connect to %s: %v", target, err),
					"Check that the server runs and that no firewall blocks the port, or fix the host and port in GOPROXY."}
			}
			conn = c
			return "connected to " + target, nil
		})
		if conn != nil {
			defer conn.Close()
		}
		if u.Scheme == "https" {
			step("tls", func(ctx context.Context) (string, *stepFailure) {
				tc := tls.Client(conn, tlsConf)
				if err := tc.HandshakeContext(ctx); err != nil {
					return "", tlsFailure(host, err)
				}
				cs := tc.ConnectionState()
				return fmt.Sprintf("%s, certificate for %s valid until %s", tls.VersionName(cs.Version),
					certNames(cs.PeerCertificates[0]), cs.PeerCertificates[0].NotAfter.Format("2006-01-02")), nil
			})
		}
	}

	tr := &http.Transport{Proxy: func(req *http.Request) (*url.URL, error) { return pf(req.URL) }, TLSClientConfig: tlsConf.Clone(), DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	step("protocol", func(ctx context.Context) (string, *stepFailure) {
		if err := setup.Check(ctx, client, proxyURL, o.ProbeModule); err != nil {
			return "", &stepFailure{"not-a-proxy", err.Error(),
				"Check that GOPROXY names the mirror's base URL (what gomirror serve listens on, including any path prefix)."}
		}
		return fmt.Sprintf("GET /%s/@v/list answered as a module proxy", o.ProbeModule), nil
	})
	out := []Result{verdict(r, fail, "speaks the module proxy protocol")}
	if fail != nil || sumdbName == "" {
		return out
	}

	s := Result{Check: "sumdb", Target: proxyURL}
	var sfail *stepFailure
	var proxied bool
	st, sfail := o.timed(ctx, "sumdb", func(ctx context.Context) (string, *stepFailure) {
		su := proxyURL + "/" + layout.SumDBKey(sumdbName+"/supported")
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, su, nil)
		if err != nil {
			return "", &stepFailure{"sumdb-error", err.Error(), ""}
		}
		resp, err := client.Do(req)
		if err != nil {
			return "", &stepFailure{"sumdb-error", fmt.Sprintf("GET %s: %v", su, err), "Check the mirror's logs."}
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		switch resp.StatusCode {
		case http.StatusOK:
			proxied = true
			return "GET " + su + ": 200", nil
		case http.StatusNotFound, http.StatusGone:
			return fmt.Sprintf("GET %s: %s (the go command asks %s directly)", su, resp.Status, sumdbName), nil
		}
		return "", &stepFailure{"sumdb-error", fmt.Sprintf("GET %s: %s (%s): checksum database lookups through this proxy fail", su, resp.Status, bytes.TrimSpace(body)),
			"Check the mirror's checksum database settings and logs; the go command only falls back to the database itself on 404/410."}
	})
	s.Steps = []Step{st}
	msg := "proxies the checksum database " + sumdbName
	if !proxied {
		msg = "does not proxy the checksum database " + sumdbName + "; the go command connects to it directly"
	}
	return append(out, verdict(s, sfail, msg))
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
	trust := "Or add the CA to this machine's trust store (on Linux, SSL_CERT_FILE=<ca.pem> also works for the go command). GOINSECURE does not apply to GOPROXY."
	switch {
	case errors.As(err, &ua):
		c := ua.Cert
		if c != nil && bytes.Equal(c.RawIssuer, c.RawSubject) && c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature) == nil {
			return &stepFailure{"self-signed", fmt.Sprintf("TLS handshake with %s: self-signed certificate (%q, for %s), not trusted by this machine", host, c.Subject.CommonName, certNames(c)),
				"Give the server a certificate from a CA your machines trust. " + trust}
		}
		issuer := ""
		if c != nil {
			issuer = fmt.Sprintf(" (issued by %q)", c.Issuer.CommonName)
		}
		return &stepFailure{"unknown-authority", fmt.Sprintf("TLS handshake with %s: certificate signed by unknown authority%s", host, issuer),
			"Serve the full certificate chain, or use a certificate from a CA your machines trust. " + trust}
	case errors.As(err, &hn):
		return &stepFailure{"hostname-mismatch", fmt.Sprintf("TLS handshake with %s: hostname mismatch: the certificate is for %s", host, certNames(hn.Certificate)),
			"Use a name the certificate covers in GOPROXY, or reissue the certificate for " + host + "."}
	case errors.As(err, &inv) && inv.Reason == x509.Expired:
		return &stepFailure{"expired", fmt.Sprintf("TLS handshake with %s: certificate expired or not yet valid (%s)", host, inv.Detail),
			"Renew the server's certificate, and check this machine's clock."}
	}
	return &stepFailure{"tls", fmt.Sprintf("TLS handshake with %s: %v", host, err),
		"Check that the server speaks HTTPS on this port (use http:// in GOPROXY if it does not)."}
}
