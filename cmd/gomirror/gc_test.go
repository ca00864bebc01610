package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gomirror/gomirror/db"
	"github.com/gomirror/gomirror/gc"
	"github.com/gomirror/gomirror/layout"
)

// TestGCCommand: a store of three versions over its quota, one pinned by
// nothing but downloaded recently, one private; --dry-run lists what
// would go and deletes nothing, gc deletes it, --json reports it.
func TestGCCommand(t *testing.T) {
	dir, args := recordsDir(t, nil)
	old := time.Now().Add(-400 * 24 * time.Hour)
	write := func(key string, n int, mtime time.Time) {
		p := filepath.Join(dir, filepath.FromSlash(key))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(strings.Repeat("z", n)), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	for _, m := range []string{"example.com/a", "example.com/b", "corp.example/private"} {
		write(m+"/@v/v1.0.0.info", 10, old)
		write(m+"/@v/v1.0.0.mod", 10, old)
		write(m+"/@v/v1.0.0.zip", 1000, old)
		write(m+"/@v/v1.0.0.ziphash", 5, old)
	}
	write("sumdb/sum.example/tile/8/0/000", 9000, old)
	d, err := db.Open(context.Background(), filepath.Join(dir, filepath.FromSlash(layout.DatabaseFile)))
	if err != nil {
		t.Fatal(err)
	}
	// b was downloaded yesterday: a goes first.
	if err := d.RecordAccess(context.Background(), []db.VersionAccess{{Module: "example.com/b", Version: "v1.0.0", Time: time.Now().Add(-24 * time.Hour)}}); err != nil {
		t.Fatal(err)
	}
	d.Close()
	args = append(args, "--storage-max-size", "2200", "--private", "corp.example")
	zip := func(m string) string { return filepath.Join(dir, m, "@v", "v1.0.0.zip") }

	stdout, stderr, code, err := runCmd(t, newGC(), append(args, "--dry-run")...)
	if err != nil || code != -1 {
		t.Fatalf("gc --dry-run: exit %d, %v, %s", code, err, stderr)
	}
	if !strings.Contains(stdout, "would evict example.com/a@v1.0.0 zip 1000 quota") || strings.Contains(stdout, "example.com/b@") || strings.Contains(stdout, "corp.example") {
		t.Errorf("gc --dry-run printed:\n%s", stdout)
	}
	if !strings.Contains(stdout, "kept: pinned 0, private 1") {
		t.Errorf("gc --dry-run totals:\n%s", stdout)
	}
	if _, err := os.Stat(zip("example.com/a")); err != nil {
		t.Fatalf("dry run deleted: %v", err)
	}

	stdout, stderr, code, err = runCmd(t, newGC(), append(args, "--json")...)
	if err != nil || code != -1 {
		t.Fatalf("gc: exit %d, %v, %s", code, err, stderr)
	}
	var rep gc.Report
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("gc --json: %v\n%s", err, stdout)
	}
	if len(rep.Evictions) != 1 || rep.Evictions[0].Module != "example.com/a" || rep.Freed[gc.ReasonQuota] != 1000 {
		t.Errorf("gc --json: %+v", rep)
	}
	for m, want := range map[string]bool{"example.com/a": false, "example.com/b": true, "corp.example/private": true} {
		if _, err := os.Stat(zip(m)); (err == nil) != want {
			t.Errorf("%s zip stored = %v, want %v", m, err == nil, want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "sumdb/sum.example/tile/8/0/000")); err != nil {
		t.Errorf("checksum database data removed: %v", err)
	}

	// Nothing configured is a usage error.
	_, _, code, _ = runCmd(t, newGC(), args[:6]...)
	if code != 2 {
		t.Errorf("gc without a quota or retention: exit %d, want 2", code)
	}
}

// TestGCReportFailed: an eviction whose deletion failed is printed as
// failed, not as evicted.
func TestGCReportFailed(t *testing.T) {
	var b strings.Builder
	rep := gc.Report{Failed: 1, Evictions: []gc.Eviction{{Module: "example.com/a", Version: "v1.0.0", Files: []string{"zip"}, Bytes: 5, Reason: gc.ReasonQuota, Failed: true}}}
	if err := writeGCReport(&b, rep); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(b.String(), "failed to evict example.com/a@v1.0.0 zip 5 quota") || !strings.Contains(b.String(), "failed 1") {
		t.Errorf("report:\n%s", b.String())
	}
}

// TestGCDatabaseOff (review finding 3): with the database off, --dry-run
// works (ordered by stored time, said on stderr); a real collection is
// refused with the reason.
func TestGCDatabaseOff(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "example.com", "a", "@v", "v1.0.0.zip")
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte("zip"), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"--storage-dir", dir, "--upstream", "off", "--sumdb", "off", "--database", "off", "--storage-max-size", "1", "--grace", "0s"}
	stdout, stderr, code, err := runCmd(t, newGC(), append(args, "--dry-run")...)
	if err != nil || code != -1 {
		t.Fatalf("gc --dry-run with the database off: exit %d, %v, %s", code, err, stderr)
	}
	if !strings.Contains(stdout, "would evict example.com/a@v1.0.0 zip 3 quota") || !strings.Contains(stderr, "database is off") {
		t.Errorf("stdout:\n%s\nstderr:\n%s", stdout, stderr)
	}
	_, stderr, code, _ = runCmd(t, newGC(), args...)
	if code != 2 || !strings.Contains(stderr, "--dry-run") {
		t.Errorf("gc with the database off: exit %d, %s; want 2 and a hint at --dry-run", code, stderr)
	}
	if _, err := os.Stat(p); err != nil {
		t.Errorf("the zip was deleted: %v", err)
	}
}
