package e2e

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// runGomirror runs `gomirror args...` (an operator command, with the
// settings' defaults: the upstream and checksum database from go env) and
// returns its standard output and error; it fails the test unless the
// exit status is want.
func runGomirror(ctx context.Context, t *testing.T, want int, args ...string) (stdout, stderr string) {
	t.Helper()
	cmd := exec.CommandContext(ctx, gomirrorBin, args...)
	cmd.Env = append(os.Environ(), "GOFLAGS=", "GOMIRROR_VULNDB=off")
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		code = exit.ExitCode()
	default:
		t.Fatalf("gomirror %s: %v", strings.Join(args, " "), err)
	}
	if code != want {
		t.Fatalf("gomirror %s: exit status %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, want, out.String(), tail(errOut.String(), 30))
	}
	return out.String(), errOut.String()
}

// TestSnapshotsAndEnvironments builds snapshots of a real small project
// (two versions of it, e2e/testdata/snapshot/v1 and v2) from the real
// upstream, then has the go command, with the default checksum database
// and a fresh module cache, build through /snapshots/NAME/ and /env/prod/
// of two replicas on one storage directory: what a snapshot lacks is
// refused, naming the snapshot, and a promotion and a rollback switch
// what the other replica serves.
func TestSnapshotsAndEnvironments(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the real upstream; skipped in -short mode")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	sumdbName := goEnvValue(t, "GOSUMDB")
	v1, err := filepath.Abs("testdata/snapshot/v1") // requires uuid v1.5.0
	if err != nil {
		t.Fatal(err)
	}
	v2, _ := filepath.Abs("testdata/snapshot/v2") // requires uuid v1.6.0
	store := t.TempDir()
	st := []string{"--storage-dir", store}

	out, _ := runGomirror(ctx, t, 0, append([]string{"snapshot", "create", "v1", "--from", v1}, st...)...)
	if !strings.Contains(out, "snapshot v1 created: 1 module versions (1 with zips)") {
		t.Errorf("create v1: %q", out)
	}
	runGomirror(ctx, t, 0, append([]string{"snapshot", "create", "v2", "--from", filepath.Join(v2, "go.sum")}, st...)...)
	out, _ = runGomirror(ctx, t, 1, append([]string{"snapshot", "diff", "v1", "v2"}, st...)...) // 1: they differ
	if out != "- github.com/google/uuid v1.5.0\n+ github.com/google/uuid v1.6.0\n" {
		t.Errorf("diff v1 v2:\n%s", out)
	}

	// Two replicas on the one storage directory.
	a := startMirror(t, st...)
	b := startMirror(t, st...)

	build := func(m *mirror, view, project string) (string, error) {
		t.Helper()
		env := isolated(goEnv(t, m.URL+view, sumdbName))
		return goCmd(ctx, t, project, env, "build", "-o", filepath.Join(t.TempDir(), "app"), ".")
	}
	mustBuild := func(m *mirror, view, project string) {
		t.Helper()
		if out, err := build(m, view, project); err != nil {
			t.Fatalf("go build of %s through %s: %v\n%s", filepath.Base(project), view, err, tail(out, 20))
		}
	}
	refused := func(m *mirror, view, project, want string) {
		t.Helper()
		out, err := build(m, view, project)
		if err == nil || !strings.Contains(out, want) {
			t.Errorf("go build of %s through %s: %v, output lacks %q:\n%s", filepath.Base(project), view, err, want, tail(out, 20))
		}
	}
	mustBuild(a, "/snapshots/v1", v1)
	refused(a, "/snapshots/v1", v2, "github.com/google/uuid@v1.6.0 is not in snapshot v1")
	mustBuild(b, "/snapshots/v2", v2)
	refused(b, "/snapshots/nope", v1, "no snapshot nope")

	// prod: v1, then v2 (promote), then v1 again (rollback), switched on
	// replica b by commands that write storage directly.
	latest := "/env/prod/github.com/google/uuid/@latest"
	// servedBy waits until m's prod serves version, and checks that it
	// did within snapshot.DefaultRefresh (2s) of the change (changed: when
	// the command that made it returned), plus a margin for the polling
	// and the request on a busy machine; 10s is the wait's own bound.
	var changed time.Time
	servedBy := func(m *mirror, version string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			body, _ := httpGet(m.URL + latest)
			if strings.Contains(body, `"Version":"`+version+`"`) {
				if took := time.Since(changed); took > 2*time.Second+time.Second {
					t.Errorf("%s served %s %v after the change, want within 2s (+1s margin)", m.URL, version, took)
				}
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s still answers %q, want %s", latest, body, version)
			}
			time.Sleep(100 * time.Millisecond) // polling the observable state, bounded by the deadline
		}
	}
	refused(b, "/env/prod", v1, "no environment prod")
	runGomirror(ctx, t, 0, append([]string{"env", "promote", "prod", "v1"}, st...)...)
	changed = time.Now()
	servedBy(b, "v1.5.0")
	mustBuild(b, "/env/prod", v1)
	refused(b, "/env/prod", v2, "not in environment prod (snapshot v1)")

	runGomirror(ctx, t, 0, append([]string{"env", "promote", "prod", "v2"}, st...)...)
	changed = time.Now()
	servedBy(b, "v1.6.0")
	servedBy(a, "v1.6.0")
	mustBuild(b, "/env/prod", v2)
	_, stderr := runGomirror(ctx, t, 1, append([]string{"snapshot", "delete", "v2"}, st...)...)
	if !strings.Contains(stderr, "in use by environment prod") {
		t.Errorf("delete of the snapshot in force:\n%s", stderr)
	}

	runGomirror(ctx, t, 0, append([]string{"env", "rollback", "prod"}, st...)...)
	changed = time.Now()
	servedBy(b, "v1.5.0")
	refused(b, "/env/prod", v2, "not in environment prod (snapshot v1)")
	mustBuild(b, "/env/prod", v1)
	out, _ = runGomirror(ctx, t, 0, append([]string{"env", "show", "prod"}, st...)...)
	if !strings.HasPrefix(out, "environment prod: snapshot v1\nTIME") || strings.Count(out, "\n") != 5 ||
		!strings.Contains(out, " rollback  v1 ") || !strings.Contains(out, " promote   v2 ") {
		t.Errorf("env show prod:\n%s", out)
	}
	for _, m := range []*mirror{a, b} {
		if strings.Contains(m.logs.String(), "status=5") {
			t.Errorf("a replica answered with a 5xx:\n%s", tail(m.logs.String(), 20))
		}
	}
}
