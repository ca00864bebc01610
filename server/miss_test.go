package server

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/gomirror/gomirror/config"
	"github.com/gomirror/gomirror/internal/fakeproxy"
)

// upstreamDelta counts the requests up received after the first before of
// them: to the module proxy protocol and to the checksum database.
func upstreamDelta(up *fakeproxy.Server, before int) (module, sumdb int, paths []string) {
	reqs := up.Requests()[before:]
	for _, p := range reqs {
		if strings.HasPrefix(p, "/sumdb/") {
			sumdb++
		} else {
			module++
		}
	}
	return module, sumdb, reqs
}

// TestMissesForNothingAreNotAmplified asks, again and again, for modules
// and versions that do not exist, and counts what reaches the upstream and
// its checksum database: one request to the module upstream per client
// miss, and a checksum lookup only for a .mod or .zip (which starts it in
// parallel with the download, at most once per version and negative-ttl);
// the same miss again reaches nothing.
func TestMissesForNothingAreNotAmplified(t *testing.T) {
	up := fakeproxy.New(t)
	s := start(t, up, nil) // prefetch and negative-ttl at their defaults
	ctx := context.Background()
	// A real module first: the checksum database's access point is found
	// once per process, outside the counts.
	if r := get(t, s.URL+"/example.com/hello/@v/v1.0.0.mod"); r.code != 200 {
		t.Fatalf("real .mod: %d %s", r.code, r.body)
	}
	if err := s.WaitFills(ctx); err != nil {
		t.Fatal(err)
	}
	const n = 5
	for _, tc := range []struct {
		name          string
		path          string // with %d for the round
		module, sumdb int    // upstream requests per miss
	}{
		{"info of an unknown module", "/example.com/nope-info%d/@v/v1.0.0.info", 1, 0},
		{"info of an unknown version", "/example.com/hello/@v/v1.9%d.0.info", 1, 0},
		{"info of an unknown pseudo-version", "/example.com/nope-pseudo%d/@v/v0.0.0-20240102030405-abcdefabcdef.info", 1, 0},
		{"info query of an unknown module", "/example.com/nope-query%d/@v/main.info", 1, 0},
		{"list of an unknown module", "/example.com/nope-list%d/@v/list", 1, 0},
		{"latest of an unknown module", "/example.com/nope-latest%d/@latest", 1, 0},
		{"mod of an unknown module", "/example.com/nope-mod%d/@v/v1.0.0.mod", 1, 1},
		{"mod of an unknown version", "/example.com/hello/@v/v1.8%d.0.mod", 1, 1},
		{"zip of an unknown module", "/example.com/nope-zip%d/@v/v1.0.0.zip", 1, 1},
		// The .mod's lookup said "not found": the .zip does not ask again.
		{"zip after mod of an unknown version", "/example.com/hello/@v/v1.8%d.0.zip", 1, 0},
		{"checksum lookup of an unknown module", "/sumdb/" + fakeproxy.DBName + "/lookup/example.com/nope-lookup%d@v1.0.0", 0, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for i := range n {
				p := fmt.Sprintf(tc.path, i)
				for attempt := range 3 {
					before := len(up.Requests())
					r := get(t, s.URL+p)
					if r.code != 404 && r.code != 410 {
						t.Fatalf("%s: %d %s", p, r.code, r.body)
					}
					if err := s.WaitFills(ctx); err != nil {
						t.Fatal(err)
					}
					module, sumdb, reqs := upstreamDelta(up, before)
					wantModule, wantSumDB := tc.module, tc.sumdb
					if attempt > 0 {
						wantModule, wantSumDB = 0, 0 // remembered for negative-ttl
					}
					if module != wantModule || sumdb != wantSumDB {
						t.Errorf("%s (attempt %d): %d module upstream and %d checksum database requests, want %d and %d: %q",
							p, attempt+1, module, sumdb, wantModule, wantSumDB, reqs)
					}
				}
			}
		})
	}
}

// TestUpstreamOffFetchesNoPrivateModule: with the upstream "off", a module
// matching private is not fetched from version control either (the host
// is loopback, so an implementation that tries reaches nothing else): it
// is a 404 saying the upstream is off.
func TestUpstreamOffFetchesNoPrivateModule(t *testing.T) {
	up := fakeproxy.New(t)
	s := start(t, up, func(c *config.Serve) {
		c.Upstream = "off"
		c.Private = "127.0.0.1/private"
	})
	for _, p := range []string{"/127.0.0.1/private/x/@v/list", "/127.0.0.1/private/x/@v/v1.0.0.info", "/127.0.0.1/private/x/@latest"} {
		if r := get(t, s.URL+p); r.code != 404 || !strings.Contains(r.body, `upstream "off"`) {
			t.Errorf("GET %s with the upstream off: %d %q; want 404 saying the upstream is off", p, r.code, r.body)
		}
	}
}
