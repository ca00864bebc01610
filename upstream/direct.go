package upstream

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Direct fetches modules from their version control systems by running the
// go command with GOPROXY=direct in a sandboxed environment: its own GOPATH,
// module cache and build cache under Dir, an allow-listed environment with
// GOFLAGS cleared and prompts disabled, a deadline per process, and the whole
// process group killed when the deadline passes.
//
// gomirror runs two of them that share nothing (see the server package):
// one for private modules, which holds the VCS credentials and sees the
// operator's git configuration, and an Isolated one for public modules,
// which anyone may make fetch anything and so gets no credentials, no
// configuration and no network but what its Env (an egress proxy) allows.
// Their module caches are separate, so a public path can never be answered
// from what the private sandbox fetched with credentials.
//
// Checksums are not checked here (GOSUMDB=off): the caller verifies every
// module against the checksum database itself, exactly as for proxies.
//
// Errors name the module and the class of failure (not found, unreachable,
// refused by the egress policy, busy); the go command's own output, which
// holds sandbox paths and other hosts' answers, goes only to Logger.
type Direct struct {
	// Dir holds the sandbox's GOPATH and module cache. It persists across
	// runs so that repositories are not fetched again for each version.
	Dir string
	// GoBin is the go command to run; empty means "go" from PATH.
	GoBin string
	// Timeout bounds each go command run; zero means 10 minutes.
	Timeout time.Duration
	// Env lists extra VAR=value pairs for the go command (GOPRIVATE, GOVCS,
	// GIT_CONFIG_GLOBAL ...). They are applied after the sandbox's own.
	Env []string
	// Isolated gives the go command and git nothing of gomirror's
	// environment but PATH, locale, temp dir and CA certificates: a HOME of
	// the sandbox's own (no .netrc, .gitconfig or ssh keys), no system or
	// global git configuration, no credential helper, no inherited proxy
	// settings, git restricted to https (GIT_ALLOW_PROTOCOL) and the go
	// command to git (GOVCS).
	Isolated bool
	// CAFile, for an Isolated sandbox, is the PEM file of the certificate
	// authorities its go command and git trust instead of the system's;
	// empty means the system's. gomirror's own SSL_CERT_FILE and
	// GIT_SSL_CAINFO are not inherited: an authority that vouches for
	// internal services would let the go command talk to one on a
	// loopback address, which it does not reach through the egress proxy.
	CAFile string
	// CheckHost, if set, is asked about the first element of a module path
	// before any go command runs for it; an error refuses the fetch. It is
	// how an Isolated sandbox refuses IP literals that its egress proxy
	// would not see (the go command does not proxy loopback literals).
	CheckHost func(host string) error
	// QueueTimeout bounds the wait for a process slot; then the fetch
	// fails with a *BusyError. Zero means DefaultQueueTimeout.
	QueueTimeout time.Duration
	// Share is how many process slots one requester (WithRequester) may
	// hold at once, so that no client can take the whole pool; 0 means no
	// limit.
	Share int
	// Logger receives the go command's output of failed runs; nil
	// discards it.
	Logger *slog.Logger

	sem chan struct{} // bounds concurrent go processes

	mu     sync.Mutex
	shares map[string]*share // per requester, while it has fetches waiting or running

	homeOnce sync.Once // an Isolated sandbox's HOME is prepared once
	homeErr  error
}

// DefaultQueueTimeout is Direct.QueueTimeout's default.
const DefaultQueueTimeout = 30 * time.Second

// share is one requester's part of the pool.
type share struct {
	slots chan struct{}
	users int
}

var (
	_ Fetcher  = (*Direct)(nil)
	_ Directer = (*Direct)(nil)
)

// inheritedEnv is the part of gomirror's own environment a direct fetch of
// a private module sees: the operator's git and proxy configuration apply.
var inheritedEnv = []string{
	"PATH", "HOME", "USER", "LOGNAME", "TMPDIR", "LANG", "LC_ALL",
	"SSL_CERT_FILE", "SSL_CERT_DIR",
	"HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy",
	"GIT_CONFIG_GLOBAL", "GIT_CONFIG_NOSYSTEM", "GIT_SSH_COMMAND", "GIT_SSL_CAINFO",
}

// isolatedEnv is the part of gomirror's own environment an Isolated
// sandbox sees: nothing that names a credential, a configuration or a
// route.
// Not even CA certificates: a certificate authority of the operator's may
// vouch for internal services, which a public fetch must not talk to (see
// CAFile).
var isolatedEnv = []string{"PATH", "USER", "LOGNAME", "TMPDIR", "LANG", "LC_ALL"}

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
	return &Direct{Dir: dir, sem: make(chan struct{}, maxProcs), shares: map[string]*share{}}, nil
}

func (d *Direct) String() string { return "direct" }

// IsDirect reports true: d fetches from version control.
func (d *Direct) IsDirect() bool { return true }

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

func (d *Direct) List(ctx context.Context, path string) ([]byte, Answer, error) {
	return d.answer(d.list(ctx, path))
}

func (d *Direct) Latest(ctx context.Context, path string) ([]byte, Answer, error) {
	return d.answer(d.info(ctx, "latest", path, "latest"))
}

func (d *Direct) Info(ctx context.Context, path, query string) ([]byte, Answer, error) {
	return d.answer(d.info(ctx, "info", path, query))
}

func (d *Direct) GoMod(ctx context.Context, path, version string) ([]byte, Answer, error) {
	return d.answer(d.goMod(ctx, path, version))
}

func (d *Direct) Zip(ctx context.Context, path, version string) (io.ReadCloser, int64, Answer, error) {
	f, size, err := d.zip(ctx, path, version)
	if err != nil {
		return f, size, Answer{}, err
	}
	return f, size, AnswerOf(d), nil
}

// answer returns b with d's Answer, or err.
func (d *Direct) answer(b []byte, err error) ([]byte, Answer, error) {
	if err != nil {
		return b, Answer{}, err
	}
	return b, AnswerOf(d), nil
}

func (d *Direct) list(ctx context.Context, path string) ([]byte, error) {
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

func (d *Direct) info(ctx context.Context, op, path, query string) ([]byte, error) {
	m, err := d.goJSON(ctx, op, path, query, "list", "-m", "-json", path+"@"+query)
	if err != nil {
		return nil, err
	}
	return json.Marshal(infoJSON{Version: m.Version, Time: m.Time, Origin: m.Origin})
}

func (d *Direct) goMod(ctx context.Context, path, version string) ([]byte, error) {
	m, err := d.download(ctx, "mod", path, version)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(m.GoMod)
	return b, d.wrap("mod", path, version, err)
}

func (d *Direct) zip(ctx context.Context, path, version string) (io.ReadCloser, int64, error) {
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
	if d.CheckHost != nil {
		host, _, _ := strings.Cut(path, "/")
		if err := d.CheckHost(host); err != nil {
			return nil, d.wrap(op, path, version, &RefusedError{Reason: err.Error()})
		}
	}
	out, err := d.run(ctx, args...)
	var m moduleJSON
	if len(out) > 0 {
		if jerr := json.Unmarshal(out, &m); jerr != nil && err == nil {
			err = fmt.Errorf("decoding go %s output: %w", args[0], jerr)
		}
	}
	if err == nil && m.Error != nil {
		err = goError(fmt.Sprint(errorText(m.Error)), d.Isolated)
	}
	if f := (*goFailure)(nil); errors.As(err, &f) && d.Logger != nil {
		d.Logger.Warn("direct fetch failed", "op", op, "module", path, "version", version, "class", f.Error(), "output", f.detail)
	}
	return &m, d.wrap(op, path, version, err)
}

func (d *Direct) wrap(op, path, version string, err error) error {
	if err == nil {
		return nil
	}
	return &Error{Upstream: "direct", Op: op, Module: path, Version: version, Err: err}
}

// acquire waits for a process slot, within the requester's share, for at
// most QueueTimeout. release gives it back.
func (d *Direct) acquire(ctx context.Context) (release func(), err error) {
	wait := d.QueueTimeout
	if wait <= 0 {
		wait = DefaultQueueTimeout
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	busy := &BusyError{RetryAfter: min(wait, 30*time.Second)}

	var sh *share
	if who := requester(ctx); d.Share > 0 && who != "" {
		d.mu.Lock()
		if d.shares == nil {
			d.shares = map[string]*share{}
		}
		sh = d.shares[who]
		if sh == nil {
			sh = &share{slots: make(chan struct{}, d.Share)}
			d.shares[who] = sh
		}
		sh.users++
		d.mu.Unlock()
		leave := func() {
			d.mu.Lock()
			if sh.users--; sh.users == 0 {
				delete(d.shares, who)
			}
			d.mu.Unlock()
		}
		select {
		case sh.slots <- struct{}{}:
		case <-ctx.Done():
			leave()
			return nil, ctx.Err()
		case <-timer.C:
			leave()
			busy.Own = true
			return nil, busy
		}
		prev := leave
		leave = func() { <-sh.slots; prev() }
		defer func() {
			if err != nil {
				leave()
			}
		}()
		release = leave
	}
	select {
	case d.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-timer.C:
		return nil, busy
	}
	own := release
	return func() {
		<-d.sem
		if own != nil {
			own()
		}
	}, nil
}

// run runs the go command in the sandbox and returns its standard output.
func (d *Direct) run(ctx context.Context, args ...string) ([]byte, error) {
	release, err := d.acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
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
	env, err := d.env()
	if err != nil {
		return nil, err
	}
	goBin := d.GoBin
	if goBin == "" {
		goBin = "go"
	}
	cmd := exec.CommandContext(ctx, goBin, args...)
	cmd.Dir = work // no go.mod here: module queries outside any main module
	cmd.Env = env
	killGroupOnCancel(cmd) // the go command's git children too
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	if ctx.Err() != nil {
		return nil, fmt.Errorf("go %s: %w", args[0], ctx.Err())
	}
	if err != nil {
		if stdout.Len() > 0 && json.Valid(stdout.Bytes()) {
			// go mod download -json reports the error inside the JSON.
			return stdout.Bytes(), nil
		}
		return nil, goError(strings.TrimSpace(stderr.String()), d.Isolated)
	}
	return stdout.Bytes(), nil
}

// env returns the go command's environment, preparing the Isolated
// sandbox's HOME on first use.
func (d *Direct) env() ([]string, error) {
	inherit := inheritedEnv
	if d.Isolated {
		inherit = isolatedEnv
	}
	var env []string
	for _, k := range inherit {
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
	if d.Isolated {
		home := filepath.Join(d.Dir, "home")
		d.homeOnce.Do(func() {
			// The go command keeps no telemetry for fetches made on
			// clients' behalf: its mode file in the sandbox's HOME says off.
			mode := filepath.Join(home, ".config", "go", "telemetry", "mode")
			if d.homeErr = os.MkdirAll(filepath.Dir(mode), 0o700); d.homeErr == nil {
				d.homeErr = os.WriteFile(mode, []byte("off"), 0o600)
			}
		})
		if d.homeErr != nil {
			return nil, d.homeErr
		}
		env = append(env,
			"HOME="+home,
			"XDG_CONFIG_HOME="+filepath.Join(home, ".config"),
			"GIT_CONFIG_NOSYSTEM=1",
			"GIT_CONFIG_GLOBAL="+os.DevNull,
			// No credential helper, whatever a configuration says.
			"GIT_CONFIG_COUNT=1", "GIT_CONFIG_KEY_0=credential.helper", "GIT_CONFIG_VALUE_0=",
			"GIT_ALLOW_PROTOCOL=https",
			"GOVCS=*:git",
			"GOAUTH=off",
			"NETRC="+os.DevNull,
			"GIT_SSH_COMMAND=false", // no ssh at all (GIT_ALLOW_PROTOCOL forbids it too)
		)
		if d.CAFile != "" {
			env = append(env, "SSL_CERT_FILE="+d.CAFile, "GIT_SSL_CAINFO="+d.CAFile)
		}
	}
	return append(env, d.Env...), nil
}

func errorText(e any) any {
	if m, ok := e.(map[string]any); ok {
		if s, ok := m["Err"]; ok {
			return s
		}
	}
	return e
}

// goFailure is a go command run that failed: its Error is the class of
// failure, fit for a client; detail is the command's output, which names
// sandbox paths and quotes other hosts' answers, for the server's log only.
type goFailure struct {
	class  string
	detail string
	kind   error // fs.ErrNotExist, an *UnreachableError, a *RefusedError or nil
}

func (e *goFailure) Error() string { return e.class }
func (e *goFailure) Unwrap() error { return e.kind }

// goError classifies the go command's error text. For an isolated
// sandbox (public paths, which anyone may name) "unrecognized import path"
// is a not-found whatever the cause, as the public module proxies answer
// it: reporting a refused connection differently from a failed TLS
// handshake would tell a client which ports are open behind gomirror.
func goError(text string, isolated bool) error {
	if len(text) > 4000 {
		text = text[:4000] + "..."
	}
	f := &goFailure{class: "the go command failed (the server log has its output)", detail: text}
	// The egress proxy's refusals: the go command prints the reason
	// phrase of the proxy's answer (egress.ReasonDenied), git only its
	// status.
	for _, s := range []string{"gomirror egress policy", "CONNECT tunnel failed, response 403"} {
		if strings.Contains(text, s) {
			r := &RefusedError{Reason: "the module's host or repository is on a network gomirror does not reach for public modules"}
			f.class, f.kind = r.Error(), r
			return f
		}
	}
	notFound := func() bool {
		// The go command says "invalid version" also when a git command
		// failed on the way ("invalid version: git fetch ... exit status
		// 128"): that is a broken server, not a missing version.
		vcsFailed := strings.Contains(text, "exit status")
		for _, s := range []string{
			"unknown revision", "invalid version", "no matching versions", "does not contain package",
			"repository does not exist", "malformed module path", "unrecognized import path", "not found",
			// A repository that wants credentials gomirror does not have
			// is, for gomirror, one that does not exist.
			"terminal prompts disabled", "could not read Username",
		} {
			if strings.Contains(text, s) && !(s == "invalid version" && vcsFailed) {
				f.class, f.kind = "not found: "+s, fs.ErrNotExist
				return true
			}
		}
		return false
	}
	if isolated && strings.Contains(text, "unrecognized import path") && notFound() {
		return f
	}
	for _, s := range []string{
		"Could not resolve host", "Failed to connect", "Connection refused", "Connection timed out",
		"Network is unreachable", "no such host", "i/o timeout", "connection refused",
		"CONNECT tunnel failed, response 502",
	} {
		if strings.Contains(text, s) {
			u := &UnreachableError{Text: "its version control server could not be reached"}
			f.class, f.kind = u.Text, u
			return f
		}
	}
	if !notFound() {
		// Phrases of the go command's that name what went wrong without
		// naming a path or quoting a server are passed on.
		for _, s := range []string{"no secure protocol found", "Host key verification failed", "Permission denied (publickey)", "Authentication failed"} {
			if strings.Contains(text, s) {
				f.class = "the go command failed: " + s + " (the server log has its output)"
				break
			}
		}
	}
	return f
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

// RefusedError is a fetch that gomirror refused to make: its destination is
// outside what the sandbox may reach.
type RefusedError struct{ Reason string }

func (e *RefusedError) Error() string { return "refused: " + e.Reason }

// BusyError is a fetch that found no free process slot within the queue
// timeout. Own means the requester's own share was full.
type BusyError struct {
	RetryAfter time.Duration
	Own        bool
}

func (e *BusyError) Error() string {
	if e.Own {
		return "too many direct fetches from this client at once; try again later"
	}
	return "all direct fetch slots are busy; try again later"
}

// requesterKey carries who asked for a fetch.
type requesterKey struct{}

// WithRequester returns ctx marked as a request of who (a token name or a
// client address): a Direct with a Share gives each requester at most that
// many of its process slots. The mark survives context.WithoutCancel, so
// that a fill started for a request is counted against its requester.
//
// It is the one deliberate context value of the fetch path: a
// request-scoped input (who asked), not a result. Results, such as which
// upstream answered, come back as values (Answer).
func WithRequester(ctx context.Context, who string) context.Context {
	return context.WithValue(ctx, requesterKey{}, who)
}

// WithRequesterOf is WithRequester with the requester named by who when a
// fetch asks for it (a Direct with a Share), from the fetch's context (ctx
// or one derived from it, detached ones included), rather than for every
// request: a request answered without a direct fetch does not pay for
// naming its requester.
func WithRequesterOf(ctx context.Context, who func(ctx context.Context) string) context.Context {
	k, v := RequesterOfValue(who)
	return context.WithValue(ctx, k, v)
}

// RequesterOfValue returns the key and value that WithRequesterOf adds to
// a context, for a context that carries several values in one (a server's
// per-request context): its Value(k) must return v.
func RequesterOfValue(who func(ctx context.Context) string) (k, v any) {
	return requesterKey{}, who
}

func requester(ctx context.Context) string {
	switch who := ctx.Value(requesterKey{}).(type) {
	case string:
		return who
	case func(context.Context) string:
		return who(ctx)
	}
	return ""
}
