package upstream

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gomirror/gomirror/internal/testutil"
)

// TestProxyErrorsShowNoCredentials sends requests through proxies whose
// URLs carry credentials and which fail in the ways the transport reports
// with a URL: a refused connection, a redirect to a refused address that
// has userinfo of its own, a redirect loop, a bad Location. No error text,
// and no name, may show a secret; and credentials do not follow a redirect
// to another host.
func TestProxyErrorsShowNoCredentials(t *testing.T) {
	const secret = "pr0xy-s3cret"
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()

	auth := &testutil.HeaderLog{Name: "Authorization"}
	other := httptest.NewServer(auth.Handler(http.NotFound))
	defer other.Close()
	redirecting := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.Contains(r.URL.Path, "to-closed"):
			http.Redirect(w, r, "http://tok-"+secret+"@"+closed+"/x", http.StatusFound)
		case strings.Contains(r.URL.Path, "to-other"):
			http.Redirect(w, r, other.URL+"/x", http.StatusFound)
		case strings.Contains(r.URL.Path, "bad-location"):
			w.Header().Set("Location", "http://u:"+secret+"@%zz/")
			w.WriteHeader(http.StatusFound)
		default:
			http.Redirect(w, r, r.URL.Path, http.StatusFound) // a loop
		}
	}))
	defer redirecting.Close()

	for _, tt := range []struct{ base, module string }{
		{"http://alice:" + secret + "@" + closed, "example.com/a"},
		{"http://" + secret + "@" + closed, "example.com/a"},
		{strings.Replace(redirecting.URL, "http://", "http://alice:"+secret+"@", 1), "example.com/to-closed"},
		{strings.Replace(redirecting.URL, "http://", "http://alice:"+secret+"@", 1), "example.com/to-other"},
		{strings.Replace(redirecting.URL, "http://", "http://alice:"+secret+"@", 1), "example.com/bad-location"},
		{strings.Replace(redirecting.URL, "http://", "http://alice:"+secret+"@", 1), "example.com/loop"},
	} {
		p, err := NewProxy(tt.base, nil)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(p.String(), secret) || strings.Contains(p.String(), "alice") {
			t.Errorf("proxy name %q shows credentials", p)
		}
		_, _, err = p.Info(context.Background(), tt.module, "v1.0.0")
		if err == nil {
			t.Fatalf("%s: no error", tt.module)
		}
		if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), "alice") {
			t.Errorf("%s: error shows credentials: %v", tt.module, err)
		}
	}
	otherAuth := auth.Values()
	if len(otherAuth) == 0 {
		t.Fatal("the redirect target was never asked")
	}
	for _, a := range otherAuth {
		if a != "" {
			t.Errorf("the redirect target on another host got Authorization %q", a)
		}
	}

	// Parse errors of configured URLs name the URL without its userinfo.
	for _, bad := range []string{"http://alice:" + secret + "@127.0.0.1:1/%zz", "ftp://alice:" + secret + "@127.0.0.1:1", "http://alice:" + secret + "@"} {
		if _, err := NewProxy(bad, nil); err == nil || strings.Contains(err.Error(), secret) {
			t.Errorf("NewProxy(bad URL) error %v: want one without the secret", err)
		}
	}
	if _, err := ParseChain("alice:"+secret+"@127.0.0.1:1", Options{}); err == nil || strings.Contains(err.Error(), secret) {
		t.Errorf("ParseChain of a URL without a scheme: %v: want an error without the secret", err)
	}
}
