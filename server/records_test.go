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
