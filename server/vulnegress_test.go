package server

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"sync/atomic"
	"testing"

	"github.com/gomirror/gomirror/config"
	"github.com/gomirror/gomirror/internal/fakeproxy"
)

// TestVulnDBURLEgress: a vulndb URL's host is reached (it is configured,
// so trusted), but a redirect of it to another host is checked by the
// egress policy as an upstream's is: loopback is not allowed here.
func TestVulnDBURLEgress(t *testing.T) {
	var internalHits, hostileHits atomic.Int32
	internal := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		internalHits.Add(1)
		http.NotFound(w, r)
	}))
	defer internal.Close()
	hostile := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hostileHits.Add(1)
		http.Redirect(w, r, internal.URL+"/latest/meta-data/x", http.StatusFound)
	}))
	defer hostile.Close()
	up := fakeproxy.New(t)
	s := start(t, up, func(c *config.Serve) { c.VulnDB = hostile.URL + "/vuln" })
	if err := s.vulndb.Refresh(context.Background()); err == nil {
		t.Error("a refresh redirected to another host succeeded")
	}
	if hostileHits.Load() == 0 {
		t.Error("the configured vulndb host was not reached")
	}
	if n := internalHits.Load(); n != 0 {
		t.Errorf("a redirect to a host the egress policy does not allow was followed (%d requests)", n)
	}
}

// TestVulnDBOnAdminListen: with admin-listen, the console is there, and so
// is /vuln/, which its advisory links name.
func TestVulnDBOnAdminListen(t *testing.T) {
	up := fakeproxy.New(t)
	entry, err := os.ReadFile("../vulndb/testdata/osv/GO-2022-1059.json")
	if err != nil {
		t.Fatal(err)
	}
	up.Add("golang.org/x/vulndb", "v0.0.0-20261105234957-e22db6528018", map[string][]byte{"go.mod": []byte("module golang.org/x/vulndb\n"), "data/osv/GO-2022-1059.json": entry})
	s := startEdge(t, up, func(c *config.Serve) { c.VulnDB = "module"; c.AdminListen = "127.0.0.1:0" })
	if err := s.vulndb.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, base := range []string{s.URL, s.AdminURL} {
		if r := get(t, base+"/vuln/ID/GO-2022-1059.json"); r.code != http.StatusOK || r.body != string(entry) {
			t.Errorf("GET %s/vuln/ID/GO-2022-1059.json: %d %s", base, r.code, truncate(r.body))
		}
	}
}
