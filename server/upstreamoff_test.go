package server

import (
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/gomirror/gomirror/config"
	"github.com/gomirror/gomirror/internal/fakeproxy"
)

// TestUpstreamOffMessagesAsREADME: with the upstream off, what is not
// stored is a 404 whose message is the one README.md quotes, for module
// files and for the checksum database.
func TestUpstreamOffMessagesAsREADME(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Defaults()
	cfg.VulnDB = "off"
	cfg.StorageDir, cfg.DirectDir = t.TempDir(), t.TempDir()
	cfg.Upstream = "off"
	cfg.SumDB = fakeproxy.New(t).DBKey // its key only: nothing is asked of it
	srv, err := New(&cfg, NewLogger(&strings.Builder{}, &cfg))
	if err != nil {
		t.Fatal(err)
	}
	h := srv.Handler()
	for _, tc := range []struct{ path, quoted string }{
		{"/example.com/m/@v/v1.0.0.info", `not found: module lookup disabled by upstream "off"`},
		{"/example.com/m/@v/v1.0.0.zip", `not found: module lookup disabled by upstream "off"`},
		{"/example.com/m/@latest", `not found: module lookup disabled by upstream "off"`},
		{"/example.com/m/@v/list", `not found: module lookup disabled by upstream "off"`},
		{"/example.com/m/@v/v1.0.0.mod", `not found: module lookup disabled by upstream "off"`},
		{"/sumdb/" + fakeproxy.DBName + "/lookup/example.com/m@v1.0.0", "is not stored here, and the upstream is off"},
	} {
		r := httptest.NewRequest("GET", tc.path, nil)
		r.RemoteAddr = "192.0.2.1:5000"
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		body := strings.TrimSpace(w.Body.String())
		if w.Code != http.StatusNotFound || !strings.Contains(body, tc.quoted) {
			t.Errorf("GET %s: %d %q; want 404 with %q", tc.path, w.Code, body, tc.quoted)
		}
		if !strings.Contains(string(readme), tc.quoted) {
			t.Errorf("README.md does not quote %q, the message of GET %s", tc.quoted, tc.path)
		}
	}
}
