package doctor

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestFailuresRedacted: a GOPROXY URL with a token as its user name,
// naming a server that fails the protocol check (an HTML 404, as a wrong
// path prefix answers; a dropped connection, whose *url.Error keeps the
// user name): doctor's steps and messages never show the token, in text
// or JSON.
func TestFailuresRedacted(t *testing.T) {
	for name, h := range map[string]http.HandlerFunc{
		"not a proxy": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte("<html>not here</html>"))
		},
		"connection dropped": func(w http.ResponseWriter, r *http.Request) {
			c, _, _ := w.(http.Hijacker).Hijack()
			c.Close()
		},
	} {
		t.Run(name, func(t *testing.T) {
			srv := httptest.NewServer(h)
			t.Cleanup(srv.Close)
			with := strings.Replace(srv.URL, "http://", "http://tok3nAsUser@", 1)
			rep, text, js := run(t, env(t, with+",direct"), nil)
			if strings.Contains(text, "tok3nAsUser") || strings.Contains(js, "tok3nAsUser") {
				t.Errorf("the token (user name) is shown:\n%s", text)
			}
			if r := find(t, rep, "proxy", srv.URL); r.Status != Fail {
				t.Errorf("proxy check %s, want fail:\n%s", r.Status, text)
			}
		})
	}
}

// TestHTTPProxyRedacted: HTTPS_PROXY with credentials (the usual
// corporate proxy form user:password@host:port): the http-proxy check
// prints the variables raw with %q, password included.
func TestHTTPProxyRedacted(t *testing.T) {
	full := goodProxy(t)
	getenv := func(k string) string {
		if k == "HTTPS_PROXY" {
			return "http://proxyuser:pr0xypass@127.0.0.1:1"
		}
		if k == "NO_PROXY" {
			return "127.0.0.1"
		}
		return ""
	}
	_, text, js := run(t, full.env(t, full.URL+",direct"), func(o *Options) { o.Getenv = getenv })
	if strings.Contains(text, "pr0xypass") || strings.Contains(js, "pr0xypass") || strings.Contains(text, "proxyuser") {
		t.Errorf("the HTTP proxy's credentials are shown:\n%s", text)
	}
}
