package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/gomirror/gomirror/internal/fakeproxy"
)

// doctorReport runs `gomirror doctor --json` with env and returns the
// status and problem of its sumdb result for proxy, and its verdict.
func doctorReport(ctx context.Context, t *testing.T, env []string, proxy string) (status, problem, verdict string) {
	t.Helper()
	cmd := exec.CommandContext(ctx, gomirrorBin, "doctor", "--json", "--probe-module", "example.com/hello", "--lag-modules", "")
	cmd.Env = env
	out, _ := cmd.Output() // exit status 1 when a check fails
	var rep struct {
		Verdict string `json:"verdict"`
		Results []struct {
			Check, Target, Status, Problem string
		} `json:"results"`
	}
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatalf("doctor --json: %v\n%s", err, out)
	}
	for _, r := range rep.Results {
		if r.Check == "sumdb" && r.Target == proxy {
			return r.Status, r.Problem, rep.Verdict
		}
	}
	t.Fatalf("no sumdb result for %s:\n%s", proxy, out)
	return "", "", ""
}

// TestDoctorChecksumDatabaseUpstreamOff: doctor checks the checksum
// database through a real gomirror: ok while its upstream is on; with the
// upstream off and the newest version's lookup not stored (the go command
// fails to verify that version through it), doctor fails naming the
// lookup, where it once said ok because /sumdb/<name>/supported answered.
// A latest newer than the stored tiles is no failure: the go command
// never reads latest through a proxy.
func TestDoctorChecksumDatabaseUpstreamOff(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	up := fakeproxy.New(t)
	db := up.DBKey + " " + up.URL + "/sumdb/" + fakeproxy.DBName
	store := t.TempDir()

	on := startMirror(t, "--storage-dir", store, "--upstream", up.URL, "--sumdb", db)
	work := t.TempDir()
	mustGo(ctx, t, work, goEnv(t, on.URL, up.DBKey), "mod", "download", "example.com/hello@v1.0.0", "example.com/hello@v1.2.0")
	if status, problem, _ := doctorReport(ctx, t, goEnv(t, on.URL+",direct", up.DBKey), on.URL); status != "ok" {
		t.Errorf("upstream on: sumdb %s %s, want ok", status, problem)
	}
	on.stop(t)

	// The database grows, and the mirror (restarted, so that it asks its
	// upstream again) stores a latest of the grown tree, whose tiles it
	// never fetched: with its upstream off, it still serves what the go
	// command asks (the lookup and the tiles of the lookup's tree), so
	// doctor must not fail it for latest.
	get := func(u string) {
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	get(up.URL + "/sumdb/" + fakeproxy.DBName + "/lookup/example.com/dep@v1.0.0")
	again := startMirror(t, "--storage-dir", store, "--upstream", up.URL, "--sumdb", db)
	get(again.URL + "/sumdb/" + fakeproxy.DBName + "/latest")
	again.stop(t)

	off := startMirror(t, "--storage-dir", store, "--upstream", "off", "--sumdb", db)
	if status, problem, _ := doctorReport(ctx, t, goEnv(t, off.URL+",direct", up.DBKey), off.URL); status != "ok" {
		t.Errorf("upstream off, everything stored: sumdb %s %s, want ok", status, problem)
	}
	lookup := filepath.Join(store, "sumdb", fakeproxy.DBName, "lookup", "example.com", "hello@v1.2.0")
	if err := os.Remove(lookup); err != nil {
		t.Fatalf("the fill did not store the lookup: %v", err)
	}
	status, problem, verdict := doctorReport(ctx, t, goEnv(t, off.URL+",direct", up.DBKey), off.URL)
	if status != "fail" || problem != "sumdb-lookup" || verdict != "fail" {
		t.Errorf("upstream off, lookup not stored: sumdb %s %s, verdict %s; want fail sumdb-lookup", status, problem, verdict)
	}
}
