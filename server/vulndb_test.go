package server

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/gomirror/gomirror/config"
	"github.com/gomirror/gomirror/internal/fakeproxy"
)

// TestVulnDBServed: the database is the x/vulndb module's data/osv,
// fetched through the mirror (the fake upstream's @latest answers 404, as
// the real one does for it: the newest of the list is taken), and served
// at /vuln/; /readyz tells which copy; with the upstream off at the next
// start, the stored copy is served.
func TestVulnDBServed(t *testing.T) {
	up := fakeproxy.New(t)
	entry, err := os.ReadFile("../vulndb/testdata/osv/GO-2022-1059.json")
	if err != nil {
		t.Fatal(err)
	}
	const version = "v0.0.0-20261105234957-e22db6528018"
	if _, err := up.Add("golang.org/x/vulndb", version, map[string][]byte{
		"go.mod":                     []byte("module golang.org/x/vulndb\n"),
		"data/osv/GO-2022-1059.json": entry,
	}); err != nil {
		t.Fatal(err)
	}
	s := start(t, up, func(c *config.Serve) { c.VulnDB = "module" })
	if err := s.vulndb.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	r := get(t, s.URL+"/vuln/ID/GO-2022-1059.json")
	if r.code != 200 || r.body != string(entry) {
		t.Fatalf("GET /vuln/ID/GO-2022-1059.json: %d %q", r.code, r.body)
	}
	for path, want := range map[string]int{
		"/vuln/index/modules.json.gz":  200,
		"/vuln/ID/GO-2099-0001.json":   404,
		"/vuln/ID/../index/db.json":    200, // after the mux's redirect to the clean path
		"/vuln/index/db.json?x=1":      200,
		"/vuln":                        400, // a module path without a dot
		"/golang.org/x/vulndb/@v/list": 200,
	} {
		if r := get(t, s.URL+path); r.code != want {
			t.Errorf("GET %s: %d, want %d", path, r.code, want)
		}
	}
	if r := get(t, s.URL+"/readyz"); r.code != 200 || !strings.Contains(r.body, "vulndb: golang.org/x/vulndb@"+version+" (1 entries") {
		t.Errorf("/readyz: %d %q", r.code, r.body)
	}
	if r := get(t, s.URL+"/metrics"); !strings.Contains(r.body, `kind="vuln"`) {
		t.Errorf("no request of kind vuln in /metrics")
	}
	if n := up.Hits("/golang.org/x/vulndb/@v/" + version + ".zip"); n != 1 {
		t.Errorf("the zip was fetched %d times, want 1", n)
	}

	// A newer version whose zip does not match the checksum database: the
	// refresh fails, the last good copy stays.
	const v2 = "v0.0.0-20261201000000-aaaaaaaaaaaa"
	if _, err := up.Add("golang.org/x/vulndb", v2, map[string][]byte{"go.mod": []byte("module golang.org/x/vulndb\n")}); err != nil {
		t.Fatal(err)
	}
	up.Tamper(t, "golang.org/x/vulndb", v2, true, false)
	if err := s.vulndb.Refresh(context.Background()); err == nil {
		t.Fatal("a refresh to a tampered zip succeeded")
	}
	if r := get(t, s.URL+"/readyz"); r.code != 200 || !strings.Contains(r.body, "serving the last good copy golang.org/x/vulndb@"+version) {
		t.Errorf("/readyz after a failed refresh: %d %q", r.code, r.body)
	}
	if r := get(t, s.URL+"/vuln/ID/GO-2022-1059.json"); r.code != 200 {
		t.Errorf("after a failed refresh: %d", r.code)
	}
	if r := get(t, s.URL+"/metrics"); !strings.Contains(r.body, "gomirror_vulndb_refresh_failing 1") || !strings.Contains(r.body, "gomirror_vulndb_entries 1") {
		t.Errorf("/metrics after a failed refresh lacks gomirror_vulndb_refresh_failing 1 or gomirror_vulndb_entries 1")
	}
	dir := s.Dir
	s.stop()

	// The next start, upstream off: the stored copy.
	off := start(t, up, func(c *config.Serve) { c.VulnDB, c.Upstream, c.StorageDir = "module", "off", dir })
	if err := off.vulndb.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	if r := get(t, off.URL+"/vuln/ID/GO-2022-1059.json.gz"); r.code != 200 {
		t.Errorf("offline, from storage: %d", r.code)
	}
}
