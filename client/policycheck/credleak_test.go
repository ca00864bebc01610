package policycheck

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"golang.org/x/mod/module"
)

func deadMirrorWithToken(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://tok3nAsUser@" + addr
}

var oneQuery = []Query{{Module: module.Version{Path: "example.com/m", Version: "v1.0.0"}, Kind: Code}}

// TestRemoteStatusErrorRedacted: --mirror with a token as user
// name, a server that answers 501 (not a gomirror with a policy): the
// error names the URL with its userinfo (remote.go builds u from
// r.Mirror and prints it raw).
func TestRemoteStatusErrorRedacted(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "not implemented", http.StatusNotImplemented)
	}))
	t.Cleanup(srv.Close)
	r := &Remote{Mirror: strings.Replace(srv.URL, "http://", "http://tok3nAsUser@", 1)}
	_, err := r.Decide(context.Background(), oneQuery)
	if err == nil || strings.Contains(err.Error(), "tok3nAsUser") {
		t.Fatalf("Decide: %v; want an error without the token", err)
	}
}

// TestRemoteTransportErrorRedacted: the same mirror unreachable:
// net/http's *url.Error keeps the user name.
func TestRemoteTransportErrorRedacted(t *testing.T) {
	r := &Remote{Mirror: deadMirrorWithToken(t)}
	_, err := r.Decide(context.Background(), oneQuery)
	if err == nil || strings.Contains(err.Error(), "tok3nAsUser") {
		t.Fatalf("Decide: %v; want an error without the token", err)
	}
}

// TestProxyFactsTransportErrorRedacted: --policy FILE --proxy
// URL-with-token, proxy unreachable: the fact's error (printed as "not
// checked: ..." and in --json) shows the user name.
func TestProxyFactsTransportErrorRedacted(t *testing.T) {
	p := &ProxyFacts{Proxy: deadMirrorWithToken(t)}
	_, err := p.get(context.Background(), "example.com/m/@v/v1.0.0.info")
	if err == nil || strings.Contains(err.Error(), "tok3nAsUser") {
		t.Fatalf("get: %v; want an error without the token", err)
	}
}

// TestRemoteJSONErrorPrintable: the endpoint's own JSON "error"
// replaces httpstatus.Error.Line after Check made Line printable: a
// hostile server's terminal escapes reach the user's terminal.
func TestRemoteJSONErrorPrintable(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusForbidden)
		w.Write([]byte(`{"error":"\u001b]0;owned\u0007\u001b[2Jdenied"}`))
	}))
	t.Cleanup(srv.Close)
	_, err := (&Remote{Mirror: srv.URL}).Decide(context.Background(), oneQuery)
	if err == nil || strings.ContainsAny(err.Error(), "\x1b\x07") {
		t.Fatalf("Decide: %q; want an error without control characters", err)
	}
}
