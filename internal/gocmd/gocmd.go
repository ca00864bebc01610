// Package gocmd runs the go command for gomirror's own questions to it
// (go env, go version, go env -w and the like). It is the one place that
// resolves the binary, sets up its environment and turns its failures into
// errors. The sandboxed go command that fetches modules for clients is
// upstream.Direct's, not this.
package gocmd

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"
)

// Runner runs the go command with args and returns its standard output.
// Tests substitute fakes for Cmd through it.
type Runner interface {
	Run(ctx context.Context, args ...string) ([]byte, error)
}

var _ Runner = Cmd{}

// Cmd is a Runner for the real go command. The zero value runs "go" from
// PATH in the caller's environment and working directory.
type Cmd struct {
	Path    string    // the go command; "go", looked up in PATH, if empty
	Environ []string  // its environment; the caller's (os.Environ) if nil
	Dir     string    // its working directory; the caller's if empty
	Stderr  io.Writer // gets what it prints on standard error when it succeeds (warnings); discarded if nil
}

// waitDelay bounds how long Run waits for the output after the process
// was killed (a child holding its pipes open).
const waitDelay = 5 * time.Second

// Run runs the go command. When ctx is done the process is killed and the
// error wraps ctx.Err(). Any other failure's error is "go <args>: " and
// what it printed on standard error (or how it failed if it printed
// nothing). Callers must only run commands whose arguments and standard
// error carry no secrets: both end up in the error.
func (c Cmd) Run(ctx context.Context, args ...string) ([]byte, error) {
	out, err := c.Output(ctx, args...)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Output is Run, except that when the command fails it also returns what
// it printed on standard output: commands such as go mod download -json
// report each failure there, as JSON.
func (c Cmd) Output(ctx context.Context, args ...string) ([]byte, error) {
	path := c.Path
	if path == "" {
		path = "go"
	}
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Env = c.Environ
	cmd.Dir = c.Dir
	cmd.WaitDelay = waitDelay
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("go %s: %w", strings.Join(args, " "), ctx.Err())
		}
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = err.Error()
		}
		return out, fmt.Errorf("go %s: %s", strings.Join(args, " "), msg)
	}
	if c.Stderr != nil && stderr.Len() > 0 {
		c.Stderr.Write(stderr.Bytes())
	}
	return out, nil
}

// Env asks the go command for vars (all of its variables if none) with
// go env -json.
func (c Cmd) Env(ctx context.Context, vars ...string) (map[string]string, error) {
	return Env(ctx, c, vars...)
}

// Env asks r for vars (all of its variables if none) with go env -json. A
// variable the go command does not know is there, empty.
func Env(ctx context.Context, r Runner, vars ...string) (map[string]string, error) {
	out, err := r.Run(ctx, append([]string{"env", "-json"}, vars...)...)
	if err != nil {
		return nil, err
	}
	m := map[string]string{}
	if err := json.Unmarshal(out, &m); err != nil {
		return nil, fmt.Errorf("go env -json: %v", err)
	}
	return m, nil
}

// WithEnv returns environ (os.Environ if nil) with the K=V settings set:
// earlier settings of the same keys are removed.
func WithEnv(environ []string, set ...string) []string {
	if environ == nil {
		environ = os.Environ()
	}
	keys := map[string]bool{}
	for _, kv := range set {
		k, _, _ := strings.Cut(kv, "=")
		keys[k] = true
	}
	out := make([]string, 0, len(environ)+len(set))
	for _, kv := range environ {
		if k, _, _ := strings.Cut(kv, "="); !keys[k] {
			out = append(out, kv)
		}
	}
	return append(out, set...)
}
