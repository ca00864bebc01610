package e2e

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestPolicyCheckSignal sends SIGINT, and SIGTERM, to a running
// `gomirror policy check` (the binary) while the go command it runs waits
// on a module proxy that never answers: the go command must be stopped
// (its connection to the proxy closes), gomirror must exit with status 2,
// and no temporary directory of gomirror's may be left behind.
func TestPolicyCheckSignal(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			arrived := make(chan struct{}, 1)
			gone := make(chan struct{}, 1)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				select {
				case arrived <- struct{}{}:
				default:
				}
				<-r.Context().Done() // the client went away
				select {
				case gone <- struct{}{}:
				default:
				}
			}))
			defer srv.Close()
			defer srv.CloseClientConnections()
			dir := t.TempDir()
			writeFiles(t, dir, map[string]string{
				"go.mod":      "module example.com/app\n\ngo 1.21\n\nrequire example.com/hang v1.0.0\n",
				"policy.yaml": "rules:\n  - module: example.com/denied\n    action: deny\n",
			})
			tmp := t.TempDir()
			env := append(goEnv(t, "off", "off"), "TMPDIR="+tmp, "GOMIRROR_TOKEN=")
			cmd := exec.CommandContext(ctx, gomirrorBin, "policy", "check", "--policy", filepath.Join(dir, "policy.yaml"), "--proxy", srv.URL, dir)
			cmd.Env = env
			var stderr strings.Builder
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			select {
			case <-arrived:
			case <-ctx.Done():
				t.Fatalf("the go command never asked the proxy; gomirror said:\n%s", stderr.String())
			}
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			// Not a sleep: a limit on how long a stopped go command may
			// keep its connection open.
			select {
			case <-gone:
			case <-time.After(30 * time.Second):
				t.Fatal("the go command still waits on the proxy 30 s after gomirror got the signal (orphaned)")
			}
			err := cmd.Wait()
			exit, ok := err.(*exec.ExitError)
			if !ok || exit.ExitCode() != 2 {
				t.Fatalf("gomirror ended with %v, want exit status 2; stderr:\n%s", err, stderr.String())
			}
			ents, err := os.ReadDir(tmp)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range ents {
				if strings.HasPrefix(e.Name(), "gomirror-") {
					t.Errorf("left behind in TMPDIR: %s", e.Name())
				}
			}
		})
	}
}
