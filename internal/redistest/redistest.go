// Package redistest starts a real redis-server on loopback for tests of
// replica coordination. Without the binary (Debian package redis-server,
// which .ci/run installs) a test is skipped with a loud message.
package redistest

import (
	"bufio"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/gomirror/gomirror/internal/testutil"
)

// Server is a running redis-server.
type Server struct {
	URL  string // redis://127.0.0.1:PORT/0
	Addr string
	cmd  *exec.Cmd
	done chan error
}

// Start runs redis-server without persistence until the end of the test.
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("!!! SKIPPING: no redis-server in PATH (Debian package redis-server; .ci/run installs it); the replica coordination tests cannot run without it !!!")
	}
	port := testutil.FreePort(t)
	s := &Server{Addr: fmt.Sprintf("127.0.0.1:%d", port), done: make(chan error, 1)}
	s.URL = "redis://" + s.Addr + "/0"
	s.cmd = exec.Command(bin, "--port", fmt.Sprint(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", t.TempDir())
	out, err := s.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan struct{})
	var log strings.Builder
	go func() {
		sc := bufio.NewScanner(out)
		once := false
		for sc.Scan() {
			log.WriteString(sc.Text() + "\n")
			if !once && strings.Contains(sc.Text(), "Ready to accept connections") {
				once = true
				close(ready)
			}
		}
	}()
	go func() { s.done <- s.cmd.Wait() }()
	t.Cleanup(s.Stop)
	select {
	case <-ready:
	case err := <-s.done:
		t.Fatalf("redis-server exited: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("redis-server did not become ready")
	}
	return s
}

// Stop kills the server (a Redis outage); later commands fail to connect.
func (s *Server) Stop() {
	if s.cmd.ProcessState != nil {
		return
	}
	s.cmd.Process.Kill()
	<-s.done
}
