package vulndb

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"golang.org/x/mod/module"

	"github.com/gomirror/gomirror/storage/mem"
)

// TestURLSource fetches a database over the API from a loopback server,
// keeps it in storage, and finds it there at the next start with the
// server gone.
func TestURLSource(t *testing.T) {
	served, _ := loadedDB(t, fixtureIDs...)
	var requests atomic.Int32
	h := served.Handler(HandlerOptions{Prefix: "/vuln/", Status: status})
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		h.ServeHTTP(w, r)
	}))
	defer ts.Close()
	ctx := context.Background()
	st := mem.New()
	src := &URLSource{URL: ts.URL + "/vuln", Storage: st, TempDir: t.TempDir()}
	db := New(Options{Source: src})
	if err := db.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	m := module.Version{Path: "golang.org/x/text", Version: "v0.3.7"}
	if advs, err := db.Vulns(ctx, m); err != nil || len(advs) != 1 || advs[0].ID != "GO-2022-1059" {
		t.Fatalf("Vulns after a fetch over the API: %v, %v", advs, err)
	}
	if n := requests.Load(); n != int32(3+len(fixtureIDs)) {
		t.Errorf("%d requests, want db, vulns, modules and %d entries", n, len(fixtureIDs))
	}
	// Unchanged: the three index files only.
	before := requests.Load()
	if err := db.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if n := requests.Load() - before; n != 3 {
		t.Errorf("a refresh of an unchanged database made %d requests, want 3", n)
	}
	// The API's .json.gz of the copy are those of the source.
	h2 := db.Handler(HandlerOptions{Prefix: "/vuln/", Status: status})
	for _, p := range []string{"/vuln/ID/GO-2022-1059.json", "/vuln/index/modules.json"} {
		if a, b := get(t, h, "GET", p).Body.String(), get(t, h2, "GET", p).Body.String(); a != b {
			t.Errorf("%s differs from the source's", p)
		}
	}

	// The next start, with the source gone: the stored copy.
	ts.Close()
	db2 := New(Options{Source: &URLSource{URL: ts.URL + "/vuln", Storage: st}})
	if err := db2.Load(ctx); err != nil {
		t.Fatal(err)
	}
	if advs, err := db2.Vulns(ctx, m); err != nil || len(advs) != 1 {
		t.Errorf("Vulns from the stored copy: %v, %v", advs, err)
	}
	if err := db2.Refresh(ctx); err == nil || db2.Status().Copy != db.Status().Copy {
		t.Errorf("a refresh with the source gone: %v; copy %q, want %q", err, db2.Status().Copy, db.Status().Copy)
	}
}

// TestURLSourceHostile: a database that lies is refused, and nothing of
// it is served.
func TestURLSourceHostile(t *testing.T) {
	served, _ := loadedDB(t, fixtureIDs...)
	h := served.Handler(HandlerOptions{Prefix: "/vuln/", Status: status})
	tests := map[string]func(w http.ResponseWriter, r *http.Request) bool{
		"entry of another ID": func(w http.ResponseWriter, r *http.Request) bool {
			if strings.HasSuffix(r.URL.Path, "GO-2022-1059.json.gz") {
				r.URL.Path = strings.Replace(r.URL.Path, "GO-2022-1059", "GO-2021-0113", 1)
			}
			return false
		},
		"entry missing": func(w http.ResponseWriter, r *http.Request) bool {
			if strings.HasSuffix(r.URL.Path, "GO-2022-1059.json.gz") {
				http.NotFound(w, r)
				return true
			}
			return false
		},
		"not gzip": func(w http.ResponseWriter, r *http.Request) bool {
			if strings.HasSuffix(r.URL.Path, "vulns.json.gz") {
				w.Write([]byte("[]"))
				return true
			}
			return false
		},
		"bomb": func(w http.ResponseWriter, r *http.Request) bool {
			if strings.HasSuffix(r.URL.Path, "GO-2022-1059.json.gz") {
				w.Write(gzipBytes(t, make([]byte, maxEntryBytes+10)))
				return true
			}
			return false
		},
	}
	for name, hook := range tests {
		ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !hook(w, r) {
				h.ServeHTTP(w, r)
			}
		}))
		db := New(Options{Source: &URLSource{URL: ts.URL + "/vuln", Storage: mem.New()}})
		if err := db.Refresh(context.Background()); err == nil || db.Status().Copy != "" {
			t.Errorf("%s: refresh %v, copy %q", name, err, db.Status().Copy)
		}
		ts.Close()
	}
}

func TestClientVulns(t *testing.T) {
	served, _ := loadedDB(t, fixtureIDs...)
	ts := httptest.NewServer(served.Handler(HandlerOptions{Prefix: "/vuln/", Status: status}))
	defer ts.Close()
	c := &Client{URL: ts.URL + "/vuln/"}
	mods := []module.Version{
		{Path: "golang.org/x/text", Version: "v0.3.6"},
		{Path: "golang.org/x/text", Version: "v0.3.8"},
		{Path: "github.com/containerd/containerd", Version: "v1.5.9"},
		{Path: "k8s.io/kubernetes", Version: "v1.0.0"},
	}
	got, err := c.Vulns(context.Background(), mods)
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range mods {
		want, _ := served.Vulns(context.Background(), m)
		if len(got[i]) != len(want) || (len(want) > 0 && (got[i][0].ID != want[0].ID || got[i][0].Fixed != want[0].Fixed)) {
			t.Errorf("Client.Vulns(%v) = %v, DB.Vulns = %v", m, got[i], want)
		}
	}
	if len(got[0]) != 2 || len(got[2]) != 1 || got[2][0].Fixed != "v1.5.10" {
		t.Errorf("Client.Vulns = %v", got)
	}
}
