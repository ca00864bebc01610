package upstream

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Direct fetches modules from their version control systems by running the
// go command with GOPROXY=direct in a sandboxed environment: its own GOPATH,
// module cache and build cache under Dir, an allow-listed environment with
// GOFLAGS cleared and prompts disabled, a deadline per process, and the whole
// process group killed when the deadline passes.
//
// Checksums are not checked here (GOSUMDB=off): the caller verifies every
// module against the checksum database itself, exactly as for proxies.
type Direct struct {
	// Dir holds the sandbox's GOPATH and module cache. It persists across
	// runs so that repositories are not fetched again for each version.
	Dir string
	// GoBin is the go command to run; empty means "go" from PATH.
	GoBin string
	// Timeout bounds each go command run; zero means 10 minutes.
	Timeout time.Duration
	// Env lists extra VAR=value pairs for the go command (GOPRIVATE, GOVCS,
	// GIT_CONFIG_GLOBAL ...). They are applied after the allow-list.
	Env []string
	// sem bounds concurrent go processes.
	sem chan struct{}
}

var _ Fetcher = (*Direct)(nil)

// allowedEnv is the part of gomirror's own environment a direct fetch sees.
var allowedEnv = []string{
	"PATH", "HOME", "USER", "LOGNAME", "TMPDIR", "LANG", "LC_ALL",
	"SSL_CERT_FILE", "SSL_CERT_DIR",
	"HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy",
	"GIT_CONFIG_GLOBAL", "GIT_CONFIG_NOSYSTEM", "GIT_SSH_COMMAND", "GIT_SSL_CAINFO",
}

// NewDirect returns a Direct fetcher keeping its sandbox in dir and running
// at most maxProcs go processes at once.
func NewDirect(dir string, maxProcs int) (*Direct, error) {
	if maxProcs < 1 {
		maxProcs = 1
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("direct fetch dir: %w", err)
	}
	return &Direct{Dir: dir, sem: make(chan struct{}, maxProcs)}, nil
}

func (d *Direct) String() string { return "direct" }

// moduleJSON is the part of `go list -m -json` and `go mod download -json`
// output that gomirror uses.
type moduleJSON struct {
	Path     string
	Version  string
	Versions []string
	Time     *time.Time      `json:",omitempty"`
	Origin   json.RawMessage `json:",omitempty"`
	Info     string
	GoMod    string
	Zip      string
	Error    any // a string from go list, an object from go mod download
}

// infoJSON is the JSON of a .info file.
type infoJSON struct {
	Version string
	Time    *time.Time      `json:",omitempty"`
	Origin  json.RawMessage `json:",omitempty"`
}

func (d *Direct) List(ctx context.Context, path string) ([]byte, error) {
	m, err := d.goJSON(ctx, "list", path, "", "list", "-m", "-json", "-versions", "-retracted", path+"@latest")
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	for _, v := range m.Versions {
		b.WriteString(v + "\n")
	}
	return b.Bytes(), nil
}

func (d *Direct) Latest(ctx context.Context, path string) ([]byte, error) {
	return d.info(ctx, "latest", path, "latest")
}

func (d *Direct) Info(ctx context.Context, path, query string) ([]byte, error) {
	return d.info(ctx, "info", path, query)
}

func (d *Direct) info(ctx context.Context, op, path, query string) ([]byte, error) {
	m, err := d.goJSON(ctx, op, path, query, "list", "-m", "-json", path+"@"+query)
	if err != nil {
		return nil, err
	}
	return json.Marshal(infoJSON{Version: m.Version, Time: m.Time, Origin: m.Origin})
}

func (d *Direct) GoMod(ctx context.Context, path, version string) ([]byte, error) {
	m, err := d.download(ctx, "mod", path, version)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(m.GoMod)
	return b, d.wrap("mod", path, version, err)
}

func (d *Direct) Zip(ctx context.Context, path, version string) (io.ReadCloser, int64, error) {
	m, err := d.download(ctx, "zip", path, version)
	if err != nil {
		return nil, 0, err
	}
	f, err := os.Open(m.Zip)
	if err != nil {
		return nil, 0, d.wrap("zip", path, version, err)
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, d.wrap("zip", path, version, err)
	}
	return f, info.Size(), nil
}

func (d *Direct) download(ctx context.Context, op, path, version string) (*moduleJSON, error) {
	return d.goJSON(ctx, op, path, version, "mod", "download", "-json", path+"@"+version)
}

// goJSON runs the go command with args in the sandbox and decodes its JSON.
func (d *Direct) goJSON(ctx context.Context, op, path, version string, args ...string) (*moduleJSON, error) {
	out, err := d.run(ctx, args...)
	var m moduleJSON
	if len(out) > 0 {
		if jerr := json.Unmarshal(out, &m); jerr != nil && err == nil {
			err = fmt.Errorf("decoding go %s output: %w", args[0], jerr)
		}
	}
	if err == nil && m.Error != nil {
		err = goError(fmt.Sprint(errorText(m.Error)))
	}
	return &m, d.wrap(op, path, version, err)
}

func (d *Direct) wrap(op, path, version string, err error) error {
	if err == nil {
		return nil
	}
	return &Error{Upstream: "direct", Op: op, Module: path, Version: version, Err: err}
}

// run runs the go command in the sandbox and returns its standard output.
func (d *Direct) run(ctx context.Context, args ...string) ([]byte, error) {
	select {
	case d.sem <- struct{}{}:
		defer func() { <-d.sem }()
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	timeout := d.Timeout
	if timeout == 0 {
		timeout = 10 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	work := filepath.Join(d.Dir, "work")
	if err := os.MkdirAll(work, 0o755); err != nil {
		return nil, err
	}
	goBin := d.GoBin
	if goBin == "" {
		goBin = "go"
	}
	cmd := exec.CommandContext(ctx, goBin, args...)
	cmd.Dir = work // no go.mod here: module queries outside any main module
	cmd.Env = d.env()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		// Kill the whole group: the go command's git children too.
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		return nil, fmt.Errorf("go %s: %w", args[0], ctx.Err())
	}
	if err != nil {
		if stdout.Len() > 0 && json.Valid(stdout.Bytes()) {
			// go mod download -json reports the error inside the JSON.
			return stdout.Bytes(), nil
		}
		return nil, goError(strings.TrimSpace(stderr.String()))
	}
	return stdout.Bytes(), nil
}

func (d *Direct) env() []string {
	var env []string
	for _, k := range allowedEnv {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	env = append(env,
		"GOPATH="+filepath.Join(d.Dir, "gopath"),
		"GOMODCACHE="+filepath.Join(d.Dir, "modcache"),
		"GOCACHE="+filepath.Join(d.Dir, "gocache"),
		"GOENV=off",
		"GOFLAGS=",
		"GO111MODULE=on",
		"GOPROXY=direct",
		"GOSUMDB=off",
		"GOTOOLCHAIN=local",
		"GIT_TERMINAL_PROMPT=0",
		"GCM_INTERACTIVE=never",
		"GIT_ASKPASS=true",
		"SSH_ASKPASS=true",
	)
	return append(env, d.Env...)
}

func errorText(e any) any {
	if m, ok := e.(map[string]any); ok {
		if s, ok := m["Err"]; ok {
			return s
		}
	}
	return e
}

// goError turns the go command's error text into an error, recognising the
// messages that mean the module or version does not exist.
func goError(text string) error {
	if text == "" {
		text = "go command failed"
	}
	if len(text) > 2000 {
		text = text[:2000] + "..."
	}
	for _, s := range []string{
		"Could not resolve host", "Failed to connect", "Connection refused", "Connection timed out",
		"Network is unreachable", "no such host", "i/o timeout", "connection refused",
	} {
		if strings.Contains(text, s) {
			return &UnreachableError{Text: text}
		}
	}
	for _, s := range []string{
		"not found", "unknown revision", "invalid version", "no matching versions",
		"does not contain package", "repository does not exist", "malformed module path",
		"unrecognized import path",
	} {
		if strings.Contains(text, s) {
			return NotExist(text)
		}
	}
	return errors.New(text)
}

// UnreachableError means a direct fetch could not reach the version control
// server at all (name resolution, connection): it says nothing about whether
// the module exists.
type UnreachableError struct{ Text string }

func (e *UnreachableError) Error() string { return e.Text }

// IsUnreachable reports whether err means the source could not be reached.
func IsUnreachable(err error) bool {
	var ue *UnreachableError
	return errors.As(err, &ue)
}
