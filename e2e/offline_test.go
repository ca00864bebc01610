package e2e

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gomirror/gomirror/internal/fakeproxy"
)

// TestUpstreamOffConnectsToNothing fills a store through a fake upstream,
// then serves it with --upstream off. The checksum database is named with
// its own URL, the fake's on loopback, so that any connection gomirror
// makes to it is counted. Offline, the real go command downloads and
// verifies what is stored; what is not stored fails with a message saying
// the upstream is off; and neither the upstream nor its checksum database
// sees a single connection.
func TestUpstreamOffConnectsToNothing(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	up := fakeproxy.New(t)
	db := up.DBKey + " " + up.URL + "/sumdb/" + fakeproxy.DBName
	store := t.TempDir()

	// Fill: two versions, verified by the go command through gomirror's
	// /sumdb/ endpoint, so that their lookups and tiles are stored.
	on := startMirror(t, "--storage-dir", store, "--upstream", up.URL, "--sumdb", db)
	work := t.TempDir()
	mustGo(ctx, t, work, goEnv(t, on.URL, up.DBKey), "mod", "download", "example.com/hello@v1.0.0", "example.com/hello@v1.1.0")
	on.stop(t)
	// The lookup of v1.1.0 is lost: its zip is stored, its checksum not.
	lookup := filepath.Join(store, "sumdb", fakeproxy.DBName, "lookup", "example.com", "hello@v1.1.0")
	if err := os.Remove(lookup); err != nil {
		t.Fatalf("the fill did not store the lookup: %v", err)
	}

	conns, reqs := up.Conns(), len(up.Requests())
	off := startMirror(t, "--storage-dir", store, "--upstream", "off", "--sumdb", db)
	env := goEnv(t, off.URL, up.DBKey)
	mustGo(ctx, t, work, env, "mod", "download", "example.com/hello@v1.0.0")

	// Stored, but its checksum is not: the go command's lookup fails.
	out, err := goCmd(ctx, t, work, env, "mod", "download", "example.com/hello@v1.1.0")
	if err == nil {
		t.Errorf("a module whose checksum lookup is not stored was verified offline:\n%s", out)
	}
	t.Logf("offline, a stored module whose lookup is not stored:\n%s", out)
	for _, want := range []string{"404 Not Found", "lookup/example.com/hello@v1.1.0 is not stored here, and the upstream is off"} {
		if !strings.Contains(out, want) {
			t.Errorf("go command output lacks %q:\n%s", want, out)
		}
	}
	// Not stored at all.
	out, err = goCmd(ctx, t, work, env, "mod", "download", "example.com/hello@v1.2.0")
	if err == nil || !strings.Contains(out, `upstream "off"`) {
		t.Errorf("a module that is not stored, offline: %v\n%s", err, out)
	}
	// The checksum database's other files, asked for directly.
	for _, p := range []string{"tile/8/0/999", "latest", "lookup/example.com/hello@v1.2.0"} {
		resp, err := http.Get(off.URL + "/sumdb/" + fakeproxy.DBName + "/" + p)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if p == "latest" && resp.StatusCode == 200 {
			continue // stored during the fill: served
		}
		if resp.StatusCode != 404 || !strings.Contains(string(body), "is not stored here, and the upstream is off") {
			t.Errorf("/sumdb/%s offline: %s %q; want 404 saying the upstream is off", p, resp.Status, body)
		}
	}
	off.stop(t)
	if n := up.Conns() - conns; n != 0 {
		t.Errorf("offline gomirror opened %d connections to the upstream and its checksum database; want 0", n)
	}
	if r := up.Requests()[reqs:]; len(r) != 0 {
		t.Errorf("offline gomirror sent %d requests upstream: %q", len(r), r)
	}
}
