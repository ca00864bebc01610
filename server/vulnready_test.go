package server

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/gomirror/gomirror/config"
	"github.com/gomirror/gomirror/internal/fakeproxy"
)

// TestVulnDBLoadingIsUnavailable: while the vulnerability database's
// first load is under way, a decision of deny-vulnerable is a 503 with
// Retry-After (not a 403: nothing was refused, the go command's user may
// retry), and /readyz says not ready; once loaded, both are fine.
func TestVulnDBLoadingIsUnavailable(t *testing.T) {
	up := fakeproxy.New(t)
	entry, err := os.ReadFile("../vulndb/testdata/osv/GO-2022-1059.json")
	if err != nil {
		t.Fatal(err)
	}
	const version = "v0.0.0-20261105234957-e22db6528018"
	up.Add("golang.org/x/vulndb", version, map[string][]byte{"go.mod": []byte("module golang.org/x/vulndb\n"), "data/osv/GO-2022-1059.json": entry})
	up.Add("golang.org/x/text", "v0.3.8", map[string][]byte{"go.mod": []byte("module golang.org/x/text\n")})
	pol := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(pol, []byte("rules:\n  - name: no-known-vulns\n    module: golang.org/x/text\n    deny-vulnerable: true\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	asked, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	up.SetHook(func(w http.ResponseWriter, r *http.Request) bool {
		if strings.HasPrefix(r.URL.Path, "/golang.org/x/vulndb/") {
			once.Do(func() {
				close(asked)
				<-release
			})
		}
		return false
	})
	s := start(t, up, func(c *config.Serve) { c.VulnDB = "module"; c.Policy = pol })
	<-asked // the first refresh is under way; nothing was stored
	r := get(t, s.URL+"/golang.org/x/text/@v/v0.3.8.info")
	if r.code != http.StatusServiceUnavailable || r.hdr.Get("Retry-After") == "" || !strings.Contains(r.body, "vulnerability database") {
		t.Errorf("while the database loads: %d Retry-After=%q %q; want 503 with Retry-After", r.code, r.hdr.Get("Retry-After"), r.body)
	}
	if r := get(t, s.URL+"/readyz"); r.code != http.StatusServiceUnavailable {
		t.Errorf("/readyz while the database loads: %d %q; want 503", r.code, r.body)
	}
	close(release)
	if err := s.vulndb.Refresh(context.Background()); err != nil { // waits for the first
		t.Fatal(err)
	}
	if r := get(t, s.URL+"/golang.org/x/text/@v/v0.3.8.info"); r.code != http.StatusOK {
		t.Errorf("once loaded: %d %q", r.code, r.body)
	}
	if r := get(t, s.URL+"/readyz"); r.code != http.StatusOK {
		t.Errorf("/readyz once loaded: %d %q", r.code, r.body)
	}
}
