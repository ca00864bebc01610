package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gomirror/gomirror/audit"
	"github.com/gomirror/gomirror/db"
	"github.com/gomirror/gomirror/internal/fakeproxy"
	"github.com/gomirror/gomirror/internal/pgtest"
	"github.com/gomirror/gomirror/internal/testutil"
	"github.com/gomirror/gomirror/layout"
)

// request sends n GETs of a cached .info to m and checks they succeed.
func requestInfo(t *testing.T, m *mirror, n int) {
	t.Helper()
	for range n {
		if _, err := httpGet(m.URL + "/example.com/hello/@v/v1.0.0.info"); err != nil {
			t.Fatal(err)
		}
	}
}

var replayedMetric = regexp.MustCompile(`(?m)^gomirror_audit_records_total\{result="replayed"\} (\d+)`)

// TestAuditLosesNothingAcrossOutageAndSIGTERM: records made while the
// database (a real PostgreSQL, behind a relay the test cuts) is down are
// spilled, survive a SIGTERM, and are written once the database is back,
// each once; two replicas on the one database then see each other's
// records.
func TestAuditLosesNothingAcrossOutageAndSIGTERM(t *testing.T) {
	pg := pgtest.Start(t)
	direct := pg.NewDatabase(t)
	u, err := url.Parse(direct)
	if err != nil {
		t.Fatal(err)
	}
	relay := testutil.NewRelay(t, u.Host)
	u.Host = relay.Addr
	viaRelay := u.String()

	up := fakeproxy.New(t)
	store := t.TempDir()
	args := []string{"--storage-dir", store, "--upstream", up.URL, "--sumdb", up.DBKey, "--database", viaRelay}

	// Phase 1: the database is up.
	m := startMirror(t, args...)
	requestInfo(t, m, 20)
	// Phase 2: it goes down; requests are served all the same, and SIGTERM
	// leaves their records in the spill directory.
	relay.Cut()
	requestInfo(t, m, 30)
	m.stop(t)
	spill := filepath.Join(store, filepath.FromSlash(layout.AuditSpillDir))
	if ents, err := os.ReadDir(spill); err != nil || len(ents) == 0 {
		t.Fatalf("spill directory %s after SIGTERM with the database down: %v, %v", spill, ents, err)
	}

	// Phase 3: the database is back; two replicas start on the same storage
	// and database; the spilled records are replayed.
	relay.Restore()
	a := startMirror(t, args...)
	b := startMirror(t, args...)
	requestInfo(t, a, 5)
	requestInfo(t, b, 7)
	// Wait for the replay of phase 2's records (by whichever replica).
	deadline := time.Now().Add(time.Minute)
	for {
		n := 0
		for _, r := range []*mirror{a, b} {
			body, err := httpGet(r.URL + "/metrics")
			if err != nil {
				t.Fatal(err)
			}
			if mm := replayedMetric.FindStringSubmatch(body); mm != nil {
				k, _ := strconv.Atoi(mm[1])
				n += k
			}
		}
		if n >= 30 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after a minute, %d of the 30 spilled records were replayed\n%s", n, tail(a.logs.String()+b.logs.String(), 40))
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Each replica's API shows both replicas' records, once they are
	// written (a batch waits up to a second).
	for _, r := range []*mirror{a, b} {
		for _, other := range []*mirror{a, b} {
			want := fmt.Sprintf(`"replica": "%s"`, other.replica(t))
			for deadline := time.Now().Add(time.Minute); ; {
				body, err := httpGet(r.URL + "/api/v1/audit?since=1h&limit=1000")
				if err != nil {
					t.Fatal(err)
				}
				if strings.Contains(body, want) {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("after a minute, %s's /api/v1/audit shows no record of replica %s", r.URL, other.replica(t))
				}
				time.Sleep(100 * time.Millisecond)
			}
		}
	}
	a.stop(t)
	b.stop(t)

	// Every record of the three phases is in the database, once.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	d, err := db.Open(ctx, direct)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ids := map[string]bool{}
	replicas := map[string]int{}
	q := audit.Query{Limit: 1000}
	for {
		page, err := d.QueryAudit(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range page.Records {
			if ids[r.ID] {
				t.Errorf("record %s twice", r.ID)
			}
			ids[r.ID] = true
			replicas[r.Replica]++
			if r.Kind != "info" || r.Status != http.StatusOK || r.Module != "example.com/hello" {
				t.Errorf("unexpected record %+v", r)
			}
		}
		if page.Next == "" {
			break
		}
		q.Cursor = page.Next
	}
	if len(ids) != 20+30+5+7 {
		t.Errorf("the database holds %d records, want %d (by replica: %v)", len(ids), 20+30+5+7, replicas)
	}
	if len(replicas) != 3 {
		t.Errorf("records by replica %v, want three replicas", replicas)
	}
	if ents, _ := os.ReadDir(spill); len(ents) != 0 {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("spill directory still holds %v after the replay", names)
	}
}

// replica is the name m's audit records carry (server.replicaName for a
// listen port chosen at start).
func (m *mirror) replica(t *testing.T) string {
	t.Helper()
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%s pid %d", host, m.cmd.Process.Pid)
}
