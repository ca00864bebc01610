// Package gitserver starts a real git smart-HTTP server on loopback for
// tests: `git http-backend` behind net/http/cgi, serving the repositories a
// test creates with InitRepo, optionally behind HTTP basic auth.
//
// # How the go command reaches it
//
// For a module path on a host it does not know, the go command first asks
// https://<path>?go-get=1 for a <meta name="go-import"> tag. That needs the
// made-up host name to resolve and to speak HTTPS (or to be listed in
// GOINSECURE and then speak plain HTTP on port 80), neither of which a test
// on 127.0.0.1 can arrange without touching DNS or proxies. (Tried: with
// GOPROXY=direct, example.test/hello fails with `unrecognized import path
// "example.test/hello": https fetch: ... no such host`.)
//
// So the modules served here use the go command's other resolution rule: a
// path element ending in a VCS qualifier. A module path like
//
//	example.test/hello.git
//
// tells the go command "this is a git repository at example.test/hello"
// without any meta tag lookup. It then probes the secure schemes in order and
// runs `git ls-remote https://example.test/hello`; the git config file written
// by GitConfig rewrites that URL with
//
//	[url "http://127.0.0.1:PORT/"]
//		insteadOf = https://example.test/
//
// so every git command the go command runs talks to this server instead. The
// go command only ever sees an https:// URL, so neither GOINSECURE nor GOVCS
// needs changing. With GOPROXY=direct and GOSUMDB=off, Env is all a go
// command needs:
//
//	GIT_CONFIG_GLOBAL=<file from GitConfig>
//	GIT_CONFIG_NOSYSTEM=1
//
// A go command that keeps a checksum database or a proxy list would also need
// GOPRIVATE=example.test; Env leaves that out so that tests can show what a
// go command does with the settings it was given.
//
// The go.mod of each repository must declare the ".git" path; Repo.ModulePath
// returns it.
package gitserver

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gomirror/gomirror/internal/testutil"
)

// Host is the made-up host name of the modules the server holds.
const Host = "example.test"

// Server is a git smart-HTTP server on 127.0.0.1.
type Server struct {
	// URL is the server's base URL, like http://127.0.0.1:PORT, with no
	// trailing slash and no credentials.
	URL string
	// Root is the directory holding the repositories (GIT_PROJECT_ROOT).
	Root string
	// User and Password are the basic auth credentials the server requires,
	// or empty if it requires none.
	User, Password string

	git string // path of the git binary
	ts  *httptest.Server

	mu      sync.Mutex
	hook    func(w http.ResponseWriter, r *http.Request) bool
	log     []string
	fetches []Fetch

	stderr testutil.Buffer // http-backend's standard error
}

// An Option configures New.
type Option func(*Server)

// WithBasicAuth makes the server refuse requests without these credentials.
func WithBasicAuth(user, password string) Option {
	return func(s *Server) { s.User, s.Password = user, password }
}

// New starts a server and stops it at the end of the test. It skips the test
// if there is no git binary.
func New(t testing.TB, opts ...Option) *Server {
	t.Helper()
	git := lookGit(t)
	s := &Server{Root: t.TempDir(), git: git}
	for _, o := range opts {
		o(s)
	}
	home := t.TempDir()
	backend := &cgi.Handler{
		Path: git,
		Args: []string{"http-backend"},
		Dir:  s.Root,
		Env: []string{
			"GIT_PROJECT_ROOT=" + s.Root,
			"GIT_HTTP_EXPORT_ALL=1",
			"GIT_CONFIG_NOSYSTEM=1",
			"GIT_CONFIG_GLOBAL=" + os.DevNull,
			"HOME=" + home,
		},
		InheritEnv: []string{"PATH"},
		Stderr:     &s.stderr,
	}
	s.ts = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetch, err := readFetch(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		s.log = append(s.log, r.URL.Path)
		if fetch != nil {
			s.fetches = append(s.fetches, *fetch)
		}
		hook := s.hook
		s.mu.Unlock()
		if hook != nil && hook(w, r) {
			return
		}
		if s.User != "" {
			u, p, ok := r.BasicAuth()
			if !ok || u != s.User || p != s.Password {
				w.Header().Set("WWW-Authenticate", `Basic realm="gitserver"`)
				http.Error(w, "authentication required", http.StatusUnauthorized)
				return
			}
		}
		backend.ServeHTTP(w, r)
	}))
	s.URL = s.ts.URL
	t.Cleanup(func() {
		s.ts.Close()
		if out := s.stderr.String(); t.Failed() && out != "" {
			t.Logf("git http-backend stderr:\n%s", out)
		}
	})
	return s
}

// lookGit returns the path of git or skips the test.
func lookGit(t testing.TB) string {
	t.Helper()
	git, err := exec.LookPath("git")
	if err != nil {
		t.Skipf("!!! SKIPPING: no git binary in PATH (%v); the git smart-HTTP tests cannot run without it !!!", err)
	}
	return git
}

// SetHook installs f to see every request first; if f returns true it has
// answered the request. A nil f removes the hook.
func (s *Server) SetHook(f func(w http.ResponseWriter, r *http.Request) bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hook = f
}

// Requests returns the URL paths of every request received, in order.
func (s *Server) Requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.log)
}

// Fetch is one fetch negotiation a client sent to git-upload-pack.
type Fetch struct {
	Repo  string // the repository's URL path, like "/hello/git-upload-pack" minus the suffix
	Wants int    // objects asked for
	Haves int    // objects the client said it already has: 0 for a clone
}

// Fetches returns the fetch negotiations received, in order. A client with
// an empty repository (a clone, or the go command's first fetch into its
// module cache) sends no "have" lines.
func (s *Server) Fetches() []Fetch {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.fetches)
}

// readFetch reads the body of an upload-pack POST (leaving it readable for
// the backend) and counts its want and have lines. It returns nil for other
// requests and for protocol v2 commands other than fetch.
func readFetch(r *http.Request) (*Fetch, error) {
	if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/git-upload-pack") {
		return nil, nil
	}
	raw, err := io.ReadAll(r.Body)
	r.Body.Close()
	if err != nil {
		return nil, err
	}
	r.Body = io.NopCloser(bytes.NewReader(raw))
	body := raw
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			return nil, err
		}
		if body, err = io.ReadAll(zr); err != nil {
			return nil, err
		}
	}
	text := string(body)
	if strings.Contains(text, "command=") && !strings.Contains(text, "command=fetch") {
		return nil, nil // protocol v2 ls-refs and the like
	}
	f := &Fetch{Repo: strings.TrimSuffix(r.URL.Path, "/git-upload-pack")}
	// pkt-lines: 4 hex digits of length, then the payload.
	f.Wants = strings.Count(text, "want ")
	f.Haves = strings.Count(text, "have ")
	if f.Wants == 0 {
		return nil, nil
	}
	return f, nil
}

// Close stops the server: later requests fail to connect.
func (s *Server) Close() { s.ts.Close() }

// cloneURL is the server's base URL with its credentials, if any.
func (s *Server) cloneURL() string {
	if s.User == "" {
		return s.URL
	}
	scheme, rest, _ := strings.Cut(s.URL, "://")
	return scheme + "://" + s.User + ":" + s.Password + "@" + rest
}

// RepoURL returns the URL git clones repository name from, credentials
// included.
func (s *Server) RepoURL(name string) string { return s.cloneURL() + "/" + name }

// GitConfig writes a git config file that sends every https://Host/ URL to
// this server (with its credentials) and returns its path. Point
// GIT_CONFIG_GLOBAL at it.
func (s *Server) GitConfig(t testing.TB) string {
	t.Helper()
	return s.writeGitConfig(t, s.cloneURL())
}

// PlainGitConfig is GitConfig without the credentials in the rewritten URL:
// git must get them some other way (a credential helper, say).
func (s *Server) PlainGitConfig(t testing.TB) string {
	t.Helper()
	return s.writeGitConfig(t, s.URL)
}

func (s *Server) writeGitConfig(t testing.TB, base string) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "gitconfig")
	cfg := fmt.Sprintf("[url %q]\n\tinsteadOf = https://%s/\n", base+"/", Host)
	if err := os.WriteFile(file, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return file
}

// Env returns the environment a go command with GOPROXY=direct and
// GOSUMDB=off needs to fetch the server's modules: the git config from
// GitConfig, and no system git config.
func (s *Server) Env(t testing.TB) []string {
	t.Helper()
	return []string{
		"GIT_CONFIG_GLOBAL=" + s.GitConfig(t),
		"GIT_CONFIG_NOSYSTEM=1",
	}
}

// Repo is a repository on the server, with a working tree.
type Repo struct {
	Name string // the path under the server's root, like "hello"
	Dir  string // the working tree

	s       *Server
	commits int
}

// InitRepo creates an empty repository name (a slash-separated path such as
// "hello" or "owner/hello") with default branch "main".
func (s *Server) InitRepo(t testing.TB, name string) *Repo {
	t.Helper()
	if name == "" || strings.HasSuffix(name, ".git") || strings.Contains(name, "..") {
		t.Fatalf("gitserver: bad repository name %q", name)
	}
	r := &Repo{Name: name, Dir: filepath.Join(s.Root, filepath.FromSlash(name)), s: s}
	if err := os.MkdirAll(r.Dir, 0o755); err != nil {
		t.Fatal(err)
	}
	r.git(t, "init", "-q", "-b", "main")
	return r
}

// ModulePath is the module path the go command fetches this repository as.
func (r *Repo) ModulePath() string { return Host + "/" + r.Name + ".git" }

// URL is the repository's URL on the server, credentials included.
func (r *Repo) URL() string { return r.s.RepoURL(r.Name) }

// Commit writes files (slash-separated name to content) into the working
// tree, commits everything and returns the commit hash. Commits get
// increasing, deterministic timestamps one hour apart.
func (r *Repo) Commit(t testing.TB, files map[string]string, msg string) string {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(r.Dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r.commits++
	r.git(t, "add", "-A")
	r.git(t, "commit", "-q", "--allow-empty", "-m", msg)
	return r.git(t, "rev-parse", "HEAD")
}

// Tag creates the lightweight tag at HEAD.
func (r *Repo) Tag(t testing.TB, tag string) {
	t.Helper()
	r.git(t, "tag", tag)
}

// Branch creates (or moves) branch name to HEAD.
func (r *Repo) Branch(t testing.TB, name string) {
	t.Helper()
	r.git(t, "branch", "-f", name)
}

// Checkout switches the working tree to branch or commit ref.
func (r *Repo) Checkout(t testing.TB, ref string) {
	t.Helper()
	r.git(t, "checkout", "-q", ref)
}

// git runs git in the working tree and returns its trimmed output.
func (r *Repo) git(t testing.TB, args ...string) string {
	t.Helper()
	when := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(r.commits) * time.Hour).Format(time.RFC3339)
	cmd := exec.Command(r.s.git, args...)
	cmd.Dir = r.Dir
	cmd.Env = append(withoutGitVars(os.Environ()),
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_CONFIG_GLOBAL="+os.DevNull,
		"GIT_AUTHOR_NAME=gitserver", "GIT_AUTHOR_EMAIL=gitserver@example.test", "GIT_AUTHOR_DATE="+when,
		"GIT_COMMITTER_NAME=gitserver", "GIT_COMMITTER_EMAIL=gitserver@example.test", "GIT_COMMITTER_DATE="+when,
	)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// withoutGitVars drops GIT_* variables (GIT_DIR, GIT_WORK_TREE ...) that
// would point git elsewhere.
func withoutGitVars(env []string) []string {
	return slices.DeleteFunc(env, func(kv string) bool { return strings.HasPrefix(kv, "GIT_") })
}

// TempDir is t.TempDir for a directory the go command will put a module
// cache in: the go command makes the cache read-only, so before the test's
// own cleanup removes the directory this makes it writable again.
func TempDir(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	t.Cleanup(func() {
		filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				os.Chmod(p, 0o755)
			}
			return nil
		})
	})
	return dir
}
