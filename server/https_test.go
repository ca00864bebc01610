package server

import (
	"crypto/tls"
	"net/http/httptest"
	"testing"

	"github.com/gomirror/gomirror/internal/clientaddr"
)

// TestHTTPS checks what makes the console's cookies Secure: gomirror's own
// TLS, or X-Forwarded-Proto https from a trusted proxy only.
func TestHTTPS(t *testing.T) {
	clients, err := clientaddr.Parse("10.0.0.0/8")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{clients: clients}
	for _, tt := range []struct {
		name   string
		tls    bool
		peer   string
		header string
		want   bool
	}{
		{"plain HTTP", false, "192.0.2.1:1234", "", false},
		{"own TLS", true, "192.0.2.1:1234", "", true},
		{"trusted proxy, https", false, "10.1.2.3:1234", "https", true},
		{"trusted proxy, http", false, "10.1.2.3:1234", "http", false},
		{"untrusted peer claims https", false, "192.0.2.1:1234", "https", false},
	} {
		r := httptest.NewRequest("GET", "/ui/", nil)
		r.RemoteAddr = tt.peer
		if tt.tls {
			r.TLS = &tls.ConnectionState{}
		}
		if tt.header != "" {
			r.Header.Set("X-Forwarded-Proto", tt.header)
		}
		if got := s.https(r); got != tt.want {
			t.Errorf("%s: https = %v, want %v", tt.name, got, tt.want)
		}
	}
}
