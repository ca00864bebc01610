package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gomirror/gomirror/internal/testutil"
)

// goEnvValue asks the go command for one variable.
func goEnvValue(t *testing.T, name string) string {
	t.Helper()
	return testutil.GoEnv(t, name)
}

// TestRealUpstreamBigProject downloads and builds a real project of 282
// modules (mixed-case paths, +incompatible, gopkg.in, /vN, pseudo-versions)
// through gomirror in front of the real upstream, with gomirror's embedded
// defaults (upstream and checksum database from go env), and the client's
// default checksum database reached through gomirror. It then restarts
// gomirror with the upstream off and builds again from storage alone.
func TestRealUpstreamBigProject(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the real upstream; skipped in -short mode")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	sumdbName := goEnvValue(t, "GOSUMDB")
	project, err := filepath.Abs("../testdata/bigproject")
	if err != nil {
		t.Fatal(err)
	}
	store := t.TempDir()
	m := startMirror(t, "--storage-dir", store)
	if !strings.Contains(m.logs.String(), "upstream=") {
		t.Fatalf("no upstream in the start-up log:\n%s", m.logs)
	}

	env := goEnv(t, m.URL, sumdbName)
	out := mustGo(ctx, t, project, env, "mod", "download", "-json")
	zips := strings.Count(out, `"Zip":`)
	if zips < 150 {
		t.Fatalf("go mod download fetched %d zips, want at least 150", zips)
	}
	if strings.Contains(out, `"Error"`) {
		t.Fatalf("go mod download reported errors:\n%s", tail(out, 40))
	}
	mustGo(ctx, t, project, env, "build", "-o", os.DevNull, ".")
	mustGo(ctx, t, project, env, "mod", "verify")

	// A module that is not in go.sum: the go command asks the checksum
	// database, through gomirror.
	small := t.TempDir()
	writeFiles(t, small, map[string]string{"go.mod": "module example.com/small\n\ngo 1.21\n"})
	mustGo(ctx, t, small, env, "get", "github.com/google/uuid@v1.6.0")
	lookup := "/sumdb/" + sumdbName + "/lookup/github.com/google/uuid@v1.6.0"
	if !strings.Contains(m.logs.String(), "path="+lookup+" status=200") {
		t.Errorf("the checksum lookup for a module outside go.sum did not go through gomirror (%s)", lookup)
	}

	// Offline: the same storage, upstream off, a fresh module cache.
	m.stop(t)
	off := startMirror(t, "--storage-dir", store, "--upstream", "off")
	env = goEnv(t, off.URL, sumdbName)
	out = mustGo(ctx, t, project, env, "mod", "download", "-json")
	if got := strings.Count(out, `"Zip":`); got != zips || strings.Contains(out, `"Error"`) {
		t.Fatalf("offline download: %d zips (want %d)\n%s", got, zips, tail(out, 40))
	}
	mustGo(ctx, t, project, env, "build", "-o", os.DevNull, ".")
	if strings.Contains(off.logs.String(), "status=5") {
		t.Errorf("offline mirror answered with a 5xx:\n%s", tail(off.logs.String(), 20))
	}
}
