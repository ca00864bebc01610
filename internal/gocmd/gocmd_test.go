package gocmd

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

// fakeGo writes a shell script standing in for the go command.
func fakeGo(t *testing.T, script string) string {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("shell scripts")
	}
	p := filepath.Join(t.TempDir(), "go")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+script), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRun(t *testing.T) {
	tests := []struct {
		name       string
		script     string
		want       string
		wantErr    string
		wantStderr string
	}{
		{"output", `echo "out $*"`, "out env GOPROXY\n", "", ""},
		{"warning on success goes to Stderr", `echo warn >&2; echo ok`, "ok\n", "", "warn\n"},
		{"failure carries stderr", `echo "bad line in env file" >&2; exit 1`, "", "go env GOPROXY: bad line in env file", ""},
		{"failure without stderr says how", `exit 3`, "", "go env GOPROXY: exit status 3", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			out, err := Cmd{Path: fakeGo(t, tt.script), Stderr: &stderr}.Run(context.Background(), "env", "GOPROXY")
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || string(out) != tt.want || stderr.String() != tt.wantStderr {
				t.Errorf("Run = %q, %v, stderr %q; want %q, stderr %q", out, err, stderr.String(), tt.want, tt.wantStderr)
			}
		})
	}
}

func TestRunEnvironmentAndDir(t *testing.T) {
	dir := t.TempDir()
	c := Cmd{Path: fakeGo(t, `echo "$GOFLAGS $(pwd)"`), Environ: []string{"GOFLAGS=-x"}, Dir: dir}
	out, err := c.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	real, _ := filepath.EvalSymlinks(dir)
	if got := strings.TrimSpace(string(out)); got != "-x "+dir && got != "-x "+real {
		t.Errorf("got %q, want %q", got, "-x "+dir)
	}
}

// TestRunCancelKills: a go command that hangs is killed when the context
// is done, and the error says so.
func TestRunCancelKills(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := Cmd{Path: fakeGo(t, `exec sleep 30`)}.Run(ctx, "env")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("Run returned after %v", d)
	}
}

type fakeRunner struct {
	out  string
	err  error
	args *[]string
}

func (f fakeRunner) Run(ctx context.Context, args ...string) ([]byte, error) {
	*f.args = args
	return []byte(f.out), f.err
}

func TestEnv(t *testing.T) {
	var args []string
	got, err := Env(context.Background(), fakeRunner{out: `{"GOPROXY": "off", "GOSUMDB": ""}`, args: &args}, "GOPROXY", "GOSUMDB")
	if err != nil || len(got) != 2 || got["GOPROXY"] != "off" {
		t.Errorf("Env = %v, %v", got, err)
	}
	if !slices.Equal(args, []string{"env", "-json", "GOPROXY", "GOSUMDB"}) {
		t.Errorf("ran go %v", args)
	}
	if _, err := Env(context.Background(), fakeRunner{out: "GOPROXY=off", args: &args}); err == nil || !strings.Contains(err.Error(), "go env -json") {
		t.Errorf("not JSON: %v", err)
	}
	boom := errors.New("boom")
	if _, err := Env(context.Background(), fakeRunner{err: boom, args: &args}); !errors.Is(err, boom) {
		t.Errorf("failure: %v", err)
	}
}

// TestEnvRealGoCommand asks the go command in PATH, with GOENV=off.
func TestEnvRealGoCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the go command")
	}
	env, err := Cmd{Environ: WithEnv(nil, "GOENV=off", "GOPROXY=off")}.Env(context.Background(), "GOPROXY", "GOVERSION")
	if err != nil {
		t.Fatal(err)
	}
	if env["GOPROXY"] != "off" || !strings.HasPrefix(env["GOVERSION"], "go") {
		t.Errorf("go env = %v", env)
	}
}

func TestWithEnv(t *testing.T) {
	got := WithEnv([]string{"A=1", "B=2", "C", "B=3"}, "B=4", "D=")
	if want := []string{"A=1", "C", "B=4", "D="}; !slices.Equal(got, want) {
		t.Errorf("WithEnv = %q, want %q", got, want)
	}
	if got := WithEnv(nil); len(got) != len(os.Environ()) {
		t.Errorf("WithEnv(nil) has %d entries, the environment %d", len(got), len(os.Environ()))
	}
}

// Output keeps standard output of a failed command (go mod download -json
// reports its failures there); Run does not.
func TestOutputOnFailure(t *testing.T) {
	c := Cmd{Path: fakeGo(t, "echo '{\"Error\":\"gone\"}'; echo boom >&2; exit 1")}
	out, err := c.Output(context.Background(), "mod", "download", "-json")
	if err == nil || !strings.Contains(err.Error(), "boom") || !strings.Contains(string(out), "gone") {
		t.Errorf("Output = %q, %v; want the JSON and an error with stderr", out, err)
	}
	if out, err := c.Run(context.Background(), "mod", "download", "-json"); out != nil || err == nil {
		t.Errorf("Run = %q, %v; want no output and an error", out, err)
	}
}
