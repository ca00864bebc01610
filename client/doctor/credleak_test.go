package doctor

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestProtocolFailureRedacted: a GOPROXY URL with a token as its
// user name, naming a server that does not speak the module proxy
// protocol (an HTML 404, e.g. a wrong path prefix): doctor's protocol step
// and result message must not show the token (setup.Check's error embeds
// the raw base URL and probe URL).
func TestProtocolFailureRedacted(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusNotFound)
		w.Write([]byte("<html>not here</html>"))
	}))
	t.Cleanup(srv.Close)
	with := strings.Replace(srv.URL, "http://", "http://tok3nAsUser@", 1)
	_, text, js := run(t, env(t, with+",direct"), nil)
	if strings.Contains(text, "tok3nAsUser") || strings.Contains(js, "tok3nAsUser") {
		t.Errorf("the token (user name) is shown:\n%s", text)
	}
}

// TestTransportFailureRedacted: a proxy that accepts the
// connection and closes it: the protocol step's "does not answer" error is
// net/http's *url.Error, whose URL keeps the user name.
func TestTransportFailureRedacted(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hj, _ := w.(http.Hijacker)
		c, _, _ := hj.Hijack()
		c.Close()
	}))
	t.Cleanup(srv.Close)
	with := strings.Replace(srv.URL, "http://", "http://tok3nAsUser@", 1)
	_, text, js := run(t, env(t, with+",direct"), nil)
	if strings.Contains(text, "tok3nAsUser") || strings.Contains(js, "tok3nAsUser") {
		t.Errorf("the token (user name) is shown:\n%s", text)
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
