package golist

import (
	"context"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gomirror/gomirror/internal/fakeproxy"
)

// TestLoadToken: a proxy that answers only requests with the token (a
// gomirror with auth all) gets it from the real go command when
// GoCommand.Token is set (the environment's GOAUTH=off notwithstanding).
func TestLoadToken(t *testing.T) {
	up := fakeproxy.New(t)
	target, _ := url.Parse(up.URL)
	fwd := httputil.NewSingleHostReverseProxy(target)
	var refused atomic.Int64
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer gm_secret" {
			refused.Add(1)
			w.Header().Set("WWW-Authenticate", `Basic realm="gomirror"`)
			http.Error(w, "token needed", http.StatusUnauthorized)
			return
		}
		fwd.ServeHTTP(w, r)
	}))
	defer srv.Close()
	certFile := filepath.Join(t.TempDir(), "cert.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "GOENV=off", "GOPATH="+filepath.Join(t.TempDir(), "gopath"), "SSL_CERT_FILE="+certFile, "GOAUTH=off")
	dir := t.TempDir()
	gomod := filepath.Join(dir, "go.mod")
	if err := os.WriteFile(gomod, []byte("module example.com/app\n\ngo 1.21\n\nrequire example.com/hello v1.1.0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(context.Background(), GoCommand{Env: env}, srv.URL, gomod, nil, false); err == nil || refused.Load() == 0 {
		t.Fatalf("without the token: error %v, %d refused", err, refused.Load())
	}
	out, err := Load(context.Background(), GoCommand{Env: env, Token: "gm_secret"}, srv.URL, gomod, nil, false)
	if err != nil {
		t.Fatalf("with the token: %v", err)
	}
	if !strings.Contains(string(out.List), `"example.com/hello"`) {
		t.Errorf("list:\n%s", out.List)
	}
}
