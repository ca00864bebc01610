// Package testutil holds small helpers that tests of several packages
// share: running a cobra command in process, a buffer safe for concurrent
// writers, a go env value, a free loopback port, the h1: hash of a zip
// in memory, and go.mod files from a txtar archive put into storage.
package testutil

import (
	"bytes"
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/mod/sumdb/dirhash"

	"github.com/gomirror/gomirror/internal/gocmd"
)

// RunCommand runs cmd with args in process, with stdin as its standard
// input (the process's if nil), usage and error printing silenced, and
// returns what it wrote to its standard output and standard error.
func RunCommand(t testing.TB, cmd *cobra.Command, stdin io.Reader, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	if stdin != nil {
		cmd.SetIn(stdin)
	}
	cmd.SetArgs(args)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	err = cmd.Execute()
	return out.String(), errOut.String(), err
}

// Buffer is a bytes.Buffer for concurrent writers (a logger, a child
// process's output) that a test reads while they write. The zero value is
// empty and ready to use.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// String returns what was written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// GoEnv returns the go command's value of the variable name (go env, in
// the test's environment), failing t if the go command cannot say.
func GoEnv(t testing.TB, name string) string {
	t.Helper()
	env, err := gocmd.Cmd{}.Env(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	return env[name]
}

// FreePort returns a loopback TCP port that was free a moment ago, for a
// child process that must be told its port.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// HashZip is dirhash.HashZip (the h1: hash of go.sum and the checksum
// database) for a module zip in memory, which it writes to a temporary
// file for dirhash to read.
func HashZip(z []byte) (string, error) {
	f, err := os.CreateTemp("", "testutil-hashzip-*.zip")
	if err != nil {
		return "", err
	}
	defer os.Remove(f.Name())
	_, err = f.Write(z)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", err
	}
	return dirhash.HashZip(f.Name(), dirhash.Hash1)
}

// MustHashZip is HashZip for a test: a zip it cannot hash fails t.
func MustHashZip(t testing.TB, z []byte) string {
	t.Helper()
	h, err := HashZip(z)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// QuietHome makes home (created if needed) a HOME in which the go command
// keeps no telemetry: its mode file says off. Otherwise a go command run
// with that HOME writes counters there, possibly from a child that outlives
// it, and a test's cleanup of the directory races with it. It returns home.
func QuietHome(t testing.TB, home string) string {
	t.Helper()
	mode := filepath.Join(home, ".config", "go", "telemetry", "mode")
	if err := os.MkdirAll(filepath.Dir(mode), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(mode, []byte("off"), 0o644); err != nil {
		t.Fatal(err)
	}
	return home
}

// Within runs f in the background and returns its result, failing the
// test if f has not returned within 30 seconds: what it waits for should
// come at once, so that a missing feature fails the test instead of
// hanging it until the test binary's timeout.
func Within[T any](t testing.TB, what string, f func() T) T {
	t.Helper()
	ch := make(chan T, 1)
	go func() { ch <- f() }()
	select {
	case v := <-ch:
		return v
	case <-time.After(30 * time.Second):
		t.Fatalf("%s: still waiting after 30s", what)
		panic("unreachable")
	}
}
