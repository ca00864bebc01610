package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/gomirror/gomirror/audit"
	"github.com/gomirror/gomirror/db"
	"github.com/gomirror/gomirror/internal/testutil"
	"github.com/gomirror/gomirror/layout"
)

// runCmd runs cmd with args in process and returns its stdout, stderr, the
// status it asked to exit with (-1 if none) and error.
func runCmd(t *testing.T, cmd *cobra.Command, args ...string) (stdout, stderr string, code int, err error) {
	t.Helper()
	code = -1
	defer func(old func(int)) { exit = old }(exit)
	exit = func(c int) { code = c }
	stdout, stderr, err = testutil.RunCommand(t, cmd, nil, args...)
	return stdout, stderr, code, err
}

// recordsDir returns a storage directory whose default database holds the
// audit records n (newest first, a second apart, the newest a minute ago)
// and the settings that name it.
func recordsDir(t *testing.T, recs []audit.Record) (dir string, args []string) {
	t.Helper()
	dir = t.TempDir()
	dbFile := filepath.Join(dir, filepath.FromSlash(layout.DatabaseFile))
	if err := os.MkdirAll(filepath.Dir(dbFile), 0o700); err != nil {
		t.Fatal(err)
	}
	d, err := db.Open(context.Background(), dbFile)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := d.WriteAudit(context.Background(), recs); err != nil {
		t.Fatal(err)
	}
	return dir, []string{"--storage-dir", dir, "--upstream", "off", "--sumdb", "off"}
}

// cliRecords returns n audit records, newest first, the newest a minute
// ago, a second apart: every third a 404 of client "ci", the rest zips
// of github.com/corp/m<i%3> answered 200 from storage.
func cliRecords(n int) []audit.Record {
	start := time.Now().UTC().Add(-time.Minute)
	var out []audit.Record
	for i := range n {
		r := audit.Record{ID: fmt.Sprintf("id%05d", i), Time: start.Add(-time.Duration(i) * time.Second), Remote: "10.0.0.1", Method: "GET",
			Module: fmt.Sprintf("github.com/corp/m%d", i%3), Version: "v1.0.0", Kind: "zip", Status: 200, Bytes: 100, Duration: time.Millisecond, Cache: "hit"}
		if i%3 == 0 {
			r.Client, r.Status, r.Kind, r.Cache, r.Version = "ci", 404, "info", "miss", "v9.9.9"
		}
		out = append(out, r)
	}
	return out
}

func TestAuditCommand(t *testing.T) {
	recs := cliRecords(10)
	_, args := recordsDir(t, recs)
	with := func(more ...string) []string { return append(slices.Clone(args), more...) }

	// The table: a header, one line per record, newest first.
	stdout, stderr, code, err := runCmd(t, newAudit(), args...)
	if err != nil || code != -1 {
		t.Fatalf("audit: exit %d, %v, %s", code, err, stderr)
	}
	lines := strings.Split(strings.TrimRight(stdout, "\n"), "\n")
	if len(lines) != 11 || !strings.HasPrefix(lines[0], "TIME") || !strings.Contains(lines[0], "MODULE") {
		t.Fatalf("table:\n%s", stdout)
	}
	if f := strings.Fields(lines[1]); !slices.Contains(f, "ci") || !slices.Contains(f, "404") || !slices.Contains(f, "github.com/corp/m0") || !slices.Contains(f, "v9.9.9") {
		t.Errorf("first row %q: want the newest record (ci, 404, github.com/corp/m0, v9.9.9)", lines[1])
	}
	if f := strings.Fields(lines[2]); !slices.Contains(f, "-") || !slices.Contains(f, "hit") {
		t.Errorf("second row %q: want - for no client, and hit", lines[2])
	}

	// JSON lines.
	stdout, _, _, err = runCmd(t, newAudit(), with("--json")...)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	sc := bufio.NewScanner(strings.NewReader(stdout))
	for sc.Scan() {
		var r audit.Record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("--json line %q: %v", sc.Text(), err)
		}
		ids = append(ids, r.ID)
	}
	var want []string
	for _, r := range recs {
		want = append(want, r.ID)
	}
	if !slices.Equal(ids, want) {
		t.Errorf("--json: %v; want %v", ids, want)
	}

	// CSV with its header.
	stdout, _, _, err = runCmd(t, newAudit(), with("--csv", "--status", "4xx")...)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(strings.NewReader(stdout)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 5 || !slices.Equal(rows[0], audit.CSVColumns) {
		t.Fatalf("--csv --status 4xx: %v", rows)
	}
	for _, r := range rows[1:] {
		if r[1] != "ci" || r[7] != "404" || r[4] != "info" {
			t.Errorf("--csv row %v: want a 404 of ci's .info", r)
		}
	}
	if got := rows[1][len(rows[1])-1]; got != "id00000" {
		t.Errorf("--csv: first row's id %q", got)
	}

	// Filters.
	for _, tc := range []struct {
		flags []string
		want  int
	}{
		{[]string{"--status", "404"}, 4},
		{[]string{"--status", "200-299"}, 6},
		{[]string{"--client", "ci"}, 4},
		{[]string{"--module", "github.com/corp/m1"}, 3},
		{[]string{"--module", "github.com/corp"}, 10},
		{[]string{"--kind", "info"}, 4},
		{[]string{"--cache", "hit"}, 6},
		{[]string{"--remote", "10.0.0.2"}, 0},
		{[]string{"--since", "1s"}, 0},
		{[]string{"--until", "1h"}, 0},
		{[]string{"--since", time.Now().Add(-time.Hour).Format(time.RFC3339)}, 10},
		{[]string{"--since", "7d", "--limit", "3"}, 3},
	} {
		stdout, stderr, code, err := runCmd(t, newAudit(), with(append(tc.flags, "--json")...)...)
		if err != nil || code != -1 {
			t.Errorf("%v: exit %d, %v, %s", tc.flags, code, err, stderr)
			continue
		}
		if n := strings.Count(stdout, "\n"); n != tc.want {
			t.Errorf("%v: %d records; want %d", tc.flags, n, tc.want)
		}
	}
	// No records: said so in a table; a CSV still has its header.
	stdout, _, _, _ = runCmd(t, newAudit(), with("--client", "nobody")...)
	if strings.TrimSpace(stdout) != "no records" {
		t.Errorf("no records, table: %q", stdout)
	}
	stdout, _, _, _ = runCmd(t, newAudit(), with("--client", "nobody", "--csv")...)
	if strings.TrimSpace(stdout) != strings.Join(audit.CSVColumns, ",") {
		t.Errorf("no records, CSV: %q; want the header", stdout)
	}
}

// TestAuditCommandLimitAcrossPages reads more records than one page of
// the database holds.
func TestAuditCommandLimitAcrossPages(t *testing.T) {
	recs := cliRecords(2300)
	_, args := recordsDir(t, recs)
	for _, tc := range []struct {
		limit string
		want  int
	}{
		{"", 1000}, // the default
		{"1", 1},
		{"1001", 1001},
		{"2100", 2100},
		{"99999", 2300},
	} {
		a := append(slices.Clone(args), "--csv")
		if tc.limit != "" {
			a = append(a, "--limit", tc.limit)
		}
		stdout, stderr, code, err := runCmd(t, newAudit(), a...)
		if err != nil || code != -1 {
			t.Fatalf("--limit %s: exit %d, %v, %s", tc.limit, code, err, stderr)
		}
		rows, err := csv.NewReader(strings.NewReader(stdout)).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, r := range rows[1:] {
			ids = append(ids, r[len(r)-1])
		}
		if len(ids) != tc.want {
			t.Fatalf("--limit %s: %d records; want %d", tc.limit, len(ids), tc.want)
		}
		for i, id := range ids {
			if id != recs[i].ID {
				t.Fatalf("--limit %s: record %d is %s; want %s (each once, newest first)", tc.limit, i, id, recs[i].ID)
			}
		}
	}
}

func TestRecordsCommandsUsageErrorsExit2(t *testing.T) {
	dir, args := recordsDir(t, cliRecords(3))
	with := func(more ...string) []string { return append(slices.Clone(args), more...) }
	rebuildCmd := func() *cobra.Command { return subcommand(t, newIndex(), "rebuild") }
	for _, tc := range []struct {
		name string
		cmd  func() *cobra.Command
		args []string
		want string
	}{
		{"audit argument", newAudit, with("extra"), "extra"},
		{"audit unknown flag", newAudit, with("--no-such-flag"), "no-such-flag"},
		{"audit since", newAudit, with("--since", "yesterday"), "--since"},
		{"audit until", newAudit, with("--until", "-1h"), "--until"},
		{"audit status", newAudit, with("--status", "6xx"), "--status"},
		{"audit limit", newAudit, with("--limit", "0"), "--limit"},
		{"audit limit not a number", newAudit, with("--limit", "many"), "limit"},
		{"audit kind", newAudit, with("--kind", "tarball"), "--kind"},
		{"audit cache", newAudit, with("--cache", "warm"), "--cache"},
		{"audit json and csv", newAudit, with("--json", "--csv"), "--csv"},
		{"audit database off", newAudit, with("--database", "off"), "database is off"},
		{"audit bad database", newAudit, with("--database", "postgres://"), "database"},
		{"audit bad setting", newAudit, with("--fetch-timeout", "soon"), "fetch-timeout"},
		{"audit missing storage dir", newAudit, []string{"--storage-dir", filepath.Join(dir, "nope"), "--upstream", "off", "--sumdb", "off"}, "storage-dir"},
		{"audit no database", newAudit, []string{"--storage-dir", t.TempDir(), "--upstream", "off", "--sumdb", "off"}, "gomirror serve creates it"},
		{"stats no database", newStats, []string{"--storage-dir", t.TempDir(), "--upstream", "off", "--sumdb", "off"}, "gomirror serve creates it"},
		{"index rebuild missing storage dir", rebuildCmd, []string{"--storage-dir", filepath.Join(dir, "nope"), "--upstream", "off", "--sumdb", "off"}, "storage-dir"},
		{"stats days", newStats, with("--days", "0"), "--days"},
		{"stats from", newStats, with("--from", "yesterday"), "--from"},
		{"stats to", newStats, with("--to", "2026-3-1"), "--to"},
		{"stats from after to", newStats, with("--from", "2026-03-05", "--to", "2026-03-01"), "after"},
		{"stats days and from", newStats, with("--days", "3", "--from", "2026-03-01"), "--days"},
		{"stats top", newStats, with("--top", "0"), "--top"},
		{"stats argument", newStats, with("extra"), "extra"},
		{"index rebuild argument", rebuildCmd, with("extra"), "extra"},
		{"index rebuild database off", rebuildCmd, with("--database", "off"), "database is off"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, code, err := runCmd(t, tc.cmd(), tc.args...)
			if code != 2 || err == nil {
				t.Fatalf("exit %d, err %v; want exit 2\nstdout: %s\nstderr: %s", code, err, stdout, stderr)
			}
			if lines := strings.Split(strings.TrimRight(stderr, "\n"), "\n"); len(lines) != 1 || !strings.Contains(lines[0], tc.want) {
				t.Errorf("stderr %q: want one line naming %q", stderr, tc.want)
			}
			if stdout != "" {
				t.Errorf("stdout %q", stdout)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "nope")); err == nil {
		t.Error("a missing storage-dir was created")
	}
}

// subcommand returns parent's subcommand name, run as itself.
func subcommand(t *testing.T, parent *cobra.Command, name string) *cobra.Command {
	t.Helper()
	for _, c := range parent.Commands() {
		if c.Name() == name {
			parent.RemoveCommand(c)
			return c
		}
	}
	t.Fatalf("no subcommand %s", name)
	return nil
}

func TestStatsCommand(t *testing.T) {
	dir, args := recordsDir(t, cliRecords(10))
	d, err := db.Open(context.Background(), filepath.Join(dir, filepath.FromSlash(layout.DatabaseFile)))
	if err != nil {
		t.Fatal(err)
	}
	if err := d.PutArtifact(context.Background(), db.Artifact{Module: "github.com/corp/m1", Version: "v1.0.0", File: "zip", Size: 123, Stored: time.Now()}); err != nil {
		t.Fatal(err)
	}
	d.Close()
	with := func(more ...string) []string { return append(slices.Clone(args), more...) }
	today := time.Now().UTC().Format(time.DateOnly)

	stdout, stderr, code, err := runCmd(t, newStats(), args...)
	if err != nil || code != -1 {
		t.Fatalf("stats: exit %d, %v, %s", code, err, stderr)
	}
	// Records a minute old may be yesterday's just after midnight; the
	// default period (30 days) holds them either way.
	if !strings.Contains(stdout, "10 requests") || !strings.Contains(stdout, "to "+today) || !strings.Contains(stdout, "github.com/corp/m1") ||
		!strings.Contains(stdout, "stored: 1 modules, 1 versions, 1 files, 123 bytes") {
		t.Errorf("stats:\n%s", stdout)
	}
	stdout, _, _, err = runCmd(t, newStats(), with("--json", "--top", "2")...)
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		From, To string
		Summary  db.Summary
		Top      []db.ModuleCount
		Stored   db.Totals
	}
	if err := json.Unmarshal([]byte(stdout), &s); err != nil {
		t.Fatalf("--json: %v in %s", err, stdout)
	}
	if s.Stored.Objects != 1 || s.Stored.Bytes != 123 {
		t.Errorf("--json stored: %+v, want 1 object of 123 bytes", s.Stored)
	}
	// m1 and m2: 3 downloads each; m0: 4 requests, no downloads.
	if s.To != today || s.Summary.Requests != 10 || s.Summary.Downloads != 6 || len(s.Top) != 2 ||
		s.Top[0].Module != "github.com/corp/m1" || s.Top[0].Downloads != 3 || s.Top[1].Module != "github.com/corp/m2" {
		t.Errorf("--json: %s", stdout)
	}
	stdout, _, _, err = runCmd(t, newStats(), with("--module", "github.com/corp/m1", "--json")...)
	if err != nil {
		t.Fatal(err)
	}
	var days []db.DayCount
	if err := json.Unmarshal([]byte(stdout), &days); err != nil {
		t.Fatalf("--module --json: %v in %s", err, stdout)
	}
	var downloads int64
	for _, d := range days {
		downloads += d.Downloads
		if d.Version != "v1.0.0" {
			t.Errorf("m1's day %+v: want only v1.0.0", d)
		}
	}
	if downloads != 3 {
		t.Errorf("--module --json: %d downloads; want 3: %s", downloads, stdout)
	}
	// m0 was only ever answered 404: no module figures (the audit log has
	// the requests).
	stdout, _, _, err = runCmd(t, newStats(), with("--module", "github.com/corp/m0", "--json")...)
	if err != nil || strings.TrimSpace(stdout) != "[]" {
		t.Errorf("--module m0 --json: %v, %s; want no figures", err, stdout)
	}
	stdout, _, _, err = runCmd(t, newStats(), with("--module", "github.com/corp/m1")...)
	if err != nil || !strings.Contains(stdout, "github.com/corp/m1, ") || !strings.Contains(stdout, "DOWNLOADS") || !strings.Contains(stdout, "v1.0.0") {
		t.Errorf("--module: %v\n%s", err, stdout)
	}
	// A period without records.
	stdout, _, _, err = runCmd(t, newStats(), with("--from", "2020-01-01", "--to", "2020-01-31", "--json")...)
	if err != nil || !strings.Contains(stdout, `"requests": 0`) || !strings.Contains(stdout, `"from": "2020-01-01"`) {
		t.Errorf("an empty period: %v\n%s", err, stdout)
	}
}

func TestIndexRebuildCommand(t *testing.T) {
	dir, args := recordsDir(t, nil)
	storeModule(t, dir, "corp.example/a", "v1.0.0")
	storeModule(t, dir, "corp.example/a", "v1.1.0")
	storeModule(t, dir, "corp.example/b", "v0.1.0")
	// A list, and a non-canonical .info: not artifacts.
	os.WriteFile(filepath.Join(dir, "corp.example", "a", "@v", "list"), []byte("v1.0.0\nv1.1.0\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "corp.example", "a", "@v", "master.info"), []byte("{}"), 0o644)
	// An entry for an artifact no longer stored.
	d, err := db.Open(context.Background(), filepath.Join(dir, filepath.FromSlash(layout.DatabaseFile)))
	if err != nil {
		t.Fatal(err)
	}
	if err := d.PutArtifact(context.Background(), db.Artifact{Module: "corp.example/gone", Version: "v1.0.0", File: "zip", Size: 1, Stored: time.Now()}); err != nil {
		t.Fatal(err)
	}
	d.Close()

	stdout, stderr, code, err := runCmd(t, subcommand(t, newIndex(), "rebuild"), args...)
	if err != nil || code != -1 {
		t.Fatalf("index rebuild: exit %d, %v, %s", code, err, stderr)
	}
	if !strings.Contains(stdout, "9 added, 1 removed; 2 modules, 3 versions, 9 files") {
		t.Errorf("index rebuild: %q", stdout)
	}
	// The catalog is what storage holds, sizes included.
	d, err = db.Open(context.Background(), filepath.Join(dir, filepath.FromSlash(layout.DatabaseFile)))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	vs, _, err := d.Versions(context.Background(), "", 100)
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(vs); got != "[corp.example/a@v1.0.0 corp.example/a@v1.1.0 corp.example/b@v0.1.0]" {
		t.Errorf("catalog versions %s", got)
	}
	arts, err := d.Module(context.Background(), "corp.example/a")
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range arts {
		info, err := os.Stat(filepath.Join(dir, "corp.example", "a", "@v", a.Version+"."+a.File))
		if err != nil || info.Size() != a.Size || !info.ModTime().Equal(a.Stored) {
			t.Errorf("%+v: storage has %v", a, info)
		}
	}
	// Again: nothing to do.
	stdout, _, _, err = runCmd(t, subcommand(t, newIndex(), "rebuild"), args...)
	if err != nil || !strings.Contains(stdout, "0 added, 0 removed; 2 modules, 3 versions, 9 files") {
		t.Errorf("index rebuild again: %v %q", err, stdout)
	}
}

// TestAuditCSVIsNotAFormula: a client's User-Agent of "=HYPERLINK(...)"
// opens in a spreadsheet as text, not as a formula.
func TestAuditCSVIsNotAFormula(t *testing.T) {
	r := cliRecords(1)[0]
	r.Agent = `=HYPERLINK("http://127.0.0.1/x","click")`
	r.Version = "+1"
	_, args := recordsDir(t, []audit.Record{r})
	stdout, stderr, code, err := runCmd(t, newAudit(), append(args, "--csv")...)
	if err != nil || code != -1 {
		t.Fatalf("audit --csv: exit %d, %v, %s", code, err, stderr)
	}
	rows, err := csv.NewReader(strings.NewReader(stdout)).ReadAll()
	if err != nil || len(rows) != 2 {
		t.Fatalf("audit --csv: %v\n%s", err, stdout)
	}
	for _, cell := range rows[1] {
		if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
			t.Errorf("cell %q would be a formula", cell)
		}
	}
	if !slices.Contains(rows[1], `'=HYPERLINK("http://127.0.0.1/x","click")`) {
		t.Errorf("row %q: want the user agent kept, as text", rows[1])
	}
}

// TestAuditPolicy: the table shows a record's policy decision, and
// --policy-decisions lists only the records that have one (refused or warned).
func TestAuditPolicy(t *testing.T) {
	recs := cliRecords(6)
	recs[2].Policy = `warned by rule "legacy" (policy.yaml:16): denied`
	recs[4].Policy, recs[4].Status = `refused by rule "no-1.1" (policy.yaml:12): denied for versions >=1.1.0`, 403
	_, args := recordsDir(t, recs)
	stdout, stderr, code, err := runCmd(t, newAudit(), args...)
	if err != nil || code != -1 {
		t.Fatalf("audit: exit %d, %v, %s", code, err, stderr)
	}
	lines := strings.Split(strings.TrimRight(stdout, "\n"), "\n")
	if len(lines) != 7 || !strings.HasSuffix(strings.TrimSpace(lines[0]), "POLICY") || !strings.Contains(lines[3], `warned by rule "legacy"`) {
		t.Errorf("table without the policy column or decision:\n%s", stdout)
	}
	stdout, _, _, err = runCmd(t, newAudit(), append(slices.Clone(args), "--policy-decisions", "--json")...)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for line := range strings.Lines(stdout) {
		var r audit.Record
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("--json line %q: %v", line, err)
		}
		ids = append(ids, r.ID)
	}
	if want := []string{recs[2].ID, recs[4].ID}; !slices.Equal(ids, want) {
		t.Errorf("--policy-decisions: %v, want %v", ids, want)
	}
}
