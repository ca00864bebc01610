package server

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gomirror/gomirror/audit"
	"github.com/gomirror/gomirror/config"
	"github.com/gomirror/gomirror/db"
	"github.com/gomirror/gomirror/internal/fakeproxy"
	"github.com/gomirror/gomirror/layout"
)

// auditRecords stops s (the recorder writes what it holds) and returns
// every record in its database.
func auditRecords(t *testing.T, s *testServer, dsn string) []audit.Record {
	t.Helper()
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d, err := db.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	page, err := d.QueryAudit(ctx, audit.Query{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return page.Records
}

// waitDB waits until s has opened its database (off the serving path,
// just after start), so that records go to it rather than to the spill
// directory.
func waitDB(t *testing.T, s *testServer) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); s.records.DB() == nil; {
		if time.Now().After(deadline) {
			t.Fatal("the database did not open within 30s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestClientChosenAuditFieldsAreBounded: net/http takes a request method
// of any length (a token up to the header limit) and a User-Agent of up to
// a megabyte; neither may make an audit record (held in the recorder's
// queue, the database, the spill file) large.
func TestClientChosenAuditFieldsAreBounded(t *testing.T) {
	dsn := filepath.Join(t.TempDir(), "gomirror.db")
	s := startOffline(t, nil, func(c *config.Serve) { c.Database = dsn })
	waitDB(t, s)
	method := strings.Repeat("A", 200<<10)
	agent := strings.Repeat("b", 200<<10)
	c, err := net.Dial("tcp", s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(c, "%s /example.com/huge/@v/list HTTP/1.1\r\nHost: x\r\nUser-Agent: %s\r\nConnection: close\r\n\r\n", method, agent)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	c.Close()
	recs := auditRecords(t, s, dsn)
	if len(recs) != 1 {
		t.Fatalf("%d audit records, want 1: %+v", len(recs), recs)
	}
	r := recs[0]
	if len(r.Method) > audit.MaxField || len(r.Agent) > audit.MaxField || !strings.HasPrefix(r.Method, "AAAA") || !strings.HasPrefix(r.Agent, "bbbb") {
		t.Errorf("record with a %d-byte method and a %d-byte user agent; want each cut to at most %d bytes", len(r.Method), len(r.Agent), audit.MaxField)
	}
	if r.Module != "example.com/huge" || r.Kind != "list" || r.Status != resp.StatusCode {
		t.Errorf("record %+v: want the list request of example.com/huge answered %d", r, resp.StatusCode)
	}
}

// TestDatabaseFileIsPrivate: the audit database holds who downloaded what
// (client addresses, token names): only gomirror's user may read it, as
// its spill files.
func TestDatabaseFileIsPrivate(t *testing.T) {
	dsn := filepath.Join(t.TempDir(), "gomirror.db")
	s := startOffline(t, nil, func(c *config.Serve) { c.Database = dsn })
	get(t, s.URL+"/example.com/a/@v/list")
	auditRecords(t, s, dsn)
	for _, f := range []string{dsn, dsn + "-wal", dsn + "-shm"} {
		fi, err := os.Stat(f)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if perm := fi.Mode().Perm(); perm&0o077 != 0 {
			t.Errorf("%s has mode %v, want no access for group and others", filepath.Base(f), perm)
		}
	}
}

// TestAuditLogLines: with audit-log, every audit record is also a JSON
// line in that file, for log shippers.
func TestAuditLogLines(t *testing.T) {
	dir := t.TempDir()
	dsn, lines := filepath.Join(dir, "gomirror.db"), filepath.Join(dir, "audit.jsonl")
	s := startOffline(t, nil, func(c *config.Serve) { c.Database, c.AuditLog = dsn, lines })
	waitDB(t, s)
	for _, p := range []string{"/example.com/a/@v/list", "/example.com/a/@v/v1.0.0.info", "/example.com/b/@latest"} {
		get(t, s.URL+p)
	}
	get(t, s.URL+"/healthz") // not audited
	recs := auditRecords(t, s, dsn)
	b, err := os.ReadFile(lines)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var r audit.Record
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		got = append(got, r.ID+" "+r.Kind+" "+r.Module)
	}
	var want []string
	for _, r := range recs {
		want = append(want, r.ID+" "+r.Kind+" "+r.Module)
	}
	slices.Sort(got)
	slices.Sort(want)
	if len(want) != 3 || !slices.Equal(got, want) {
		t.Errorf("audit-log lines %q; database records %q; want the same 3", got, want)
	}
	if fi, err := os.Stat(lines); err != nil || fi.Mode().Perm()&0o077 != 0 {
		t.Errorf("audit-log file mode: %v, %v; want private", fi.Mode(), err)
	}
}

// TestCatalogBehindAtShutdownIsRebuiltNextTime: catalog updates that a
// server could not write (its database was not there) are not forgotten
// when it stops: the next server rebuilds the catalog from storage,
// although its database's catalog is not empty.
func TestCatalogBehindAtShutdownIsRebuiltNextTime(t *testing.T) {
	up := fakeproxy.New(t)
	dir := t.TempDir()
	broken := filepath.Join(t.TempDir(), "a-directory")
	if err := os.Mkdir(broken, 0o700); err != nil {
		t.Fatal(err)
	}
	s1 := start(t, up, func(c *config.Serve) { c.StorageDir, c.Database = dir, broken })
	if r := get(t, s1.URL+"/example.com/hello/@v/v1.0.0.info"); r.code != http.StatusOK {
		t.Fatalf("info: %d %s", r.code, r.body)
	}
	if err := s1.WaitFills(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s1.stop(); err != nil {
		t.Fatal(err)
	}
	marker := filepath.Join(dir, filepath.FromSlash(layout.CatalogBehindMarker))
	if _, err := os.Stat(marker); err != nil {
		t.Fatalf("after a stop with catalog updates unwritten: %v", err)
	}
	// A database whose catalog is not empty: only the mark makes the
	// next server rebuild it.
	dsn := filepath.Join(t.TempDir(), "gomirror.db")
	d, err := db.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.PutArtifact(context.Background(), db.Artifact{Module: "example.com/other", Version: "v1.0.0", File: "info", Size: 1, Stored: time.Now()}); err != nil {
		t.Fatal(err)
	}
	d.Close()
	s2 := start(t, up, func(c *config.Serve) { c.StorageDir, c.Database = dir, dsn })
	waitDB(t, s2)
	for deadline := time.Now().Add(30 * time.Second); ; {
		arts, err := s2.records.DB().Module(context.Background(), "example.com/hello")
		_, merr := os.Stat(marker)
		if err == nil && len(arts) > 0 && os.IsNotExist(merr) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 30s: catalog of example.com/hello %v (%v), mark %v", arts, err, merr)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
