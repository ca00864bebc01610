// Package pgtest starts a real PostgreSQL server on loopback for tests of
// the db package on PostgreSQL: initdb on a temporary directory, then
// postgres on a free port with its unix socket in that directory. Without
// the binaries (Debian package postgresql, which .ci/run installs; they are
// looked up in PATH and in /usr/lib/postgresql/*/bin) a test is skipped
// with a loud message.
//
// initdb and postgres refuse to run as root, and tests run as root here and
// in CI: then both run as the system user "postgres" (or "nobody" if there
// is none), and the temporary directory, in the system's temporary
// directory rather than under t.TempDir (whose parents only root may
// enter), belongs to that user.
//
// One start costs a second or two, so a test package starts one server
// and gives each test a database of its own (Server.NewDatabase); Shared
// does that.
package pgtest

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers "pgx"

	"github.com/gomirror/gomirror/internal/testutil"
)

// ErrNotInstalled means that initdb or postgres cannot be found.
var ErrNotInstalled = errors.New("pgtest: no PostgreSQL binaries (initdb, postgres) in PATH or /usr/lib/postgresql/*/bin (Debian package postgresql; .ci/run installs it)")

// Server is a running PostgreSQL. Its superuser is "postgres", without a
// password.
type Server struct {
	URL  string // postgres://postgres@127.0.0.1:PORT/postgres?sslmode=disable
	Port int
	dir  string
	cmd  *exec.Cmd
	done chan error
	dbs  atomic.Int64
	stop sync.Once
}

// binDir returns the directory of initdb and postgres.
func binDir() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			p = real
		}
		if _, err := os.Stat(filepath.Join(filepath.Dir(p), "postgres")); err == nil {
			return filepath.Dir(p), nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	// Newest major version first.
	slices.SortFunc(dirs, func(a, b string) int {
		va, _ := strconv.Atoi(filepath.Base(filepath.Dir(a)))
		vb, _ := strconv.Atoi(filepath.Base(filepath.Dir(b)))
		return vb - va
	})
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err != nil {
			continue
		}
		if _, err := os.Stat(filepath.Join(d, "postgres")); err == nil {
			return d, nil
		}
	}
	return "", ErrNotInstalled
}

// Launch starts a server; the caller must Stop it. It returns
// ErrNotInstalled when the binaries are absent. port is a free loopback
// port (testutil.FreePort).
func Launch(port int) (*Server, error) {
	bin, err := binDir()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "gomirror-pgtest-*")
	if err != nil {
		return nil, err
	}
	cred, err := credential(dir)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	data := filepath.Join(dir, "data")
	env := []string{"LC_ALL=C", "LANG=C", "PATH=" + os.Getenv("PATH"), "TZ=UTC"}
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync")
	initdb.Env, initdb.Dir, initdb.SysProcAttr = env, dir, &syscall.SysProcAttr{Credential: cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("pgtest: initdb: %v\n%s", err, out)
	}
	s := &Server{Port: port, dir: dir, done: make(chan error, 1)}
	s.URL = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)
	// Durability is of no use to a test: no fsync, no full-page writes.
	s.cmd = exec.Command(filepath.Join(bin, "postgres"), "-D", data, "-p", strconv.Itoa(port), "-k", dir,
		"-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off",
		"-c", "full_page_writes=off", "-c", "max_connections=200", "-c", "logging_collector=off")
	s.cmd.Env, s.cmd.Dir = env, dir
	// Pdeathsig: a test binary that dies (a -timeout panic) takes the
	// server with it (immediate shutdown; its backends follow).
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Setpgid: true, Pdeathsig: syscall.SIGQUIT}
	stderr, err := s.cmd.StderrPipe()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := s.cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("pgtest: starting postgres: %w", err)
	}
	ready := make(chan struct{})
	var log syncBuffer
	go func() {
		sc := bufio.NewScanner(stderr)
		once := false
		for sc.Scan() {
			log.add(sc.Text())
			if !once && strings.Contains(sc.Text(), "database system is ready to accept connections") {
				once = true
				close(ready)
			}
		}
		io.Copy(io.Discard, stderr)
	}()
	go func() { s.done <- s.cmd.Wait() }()
	select {
	case <-ready:
		return s, nil
	case err := <-s.done:
		os.RemoveAll(dir)
		return nil, fmt.Errorf("pgtest: postgres exited: %v\n%s", err, log.String())
	case <-time.After(30 * time.Second):
		s.Stop()
		return nil, fmt.Errorf("pgtest: postgres not ready after 30s\n%s", log.String())
	}
}

// credential returns the user that initdb and postgres run as: this
// process's own unless it is root, else "postgres" or "nobody", to whom
// it gives dir.
func credential(dir string) (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	var u *user.User
	var err error
	for _, name := range []string{"postgres", "nobody"} {
		if u, err = user.Lookup(name); err == nil {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("pgtest: running as root and no user postgres or nobody to run PostgreSQL as: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(dir, uid, gid); err != nil {
		return nil, err
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}, nil
}

// Stop shuts the server down (fast shutdown, then a kill if it lingers)
// and removes its directory. It may be called more than once.
func (s *Server) Stop() {
	s.stop.Do(func() {
		s.cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-s.done:
		case <-time.After(15 * time.Second):
			syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
			<-s.done
		}
		os.RemoveAll(s.dir)
	})
}

// NewDatabase creates an empty database of its own for t (CREATE
// DATABASE) and returns its URL. The database is dropped when t ends.
func (s *Server) NewDatabase(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("test_%d", s.dbs.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := sql.Open("pgx", s.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() {
		admin, err := sql.Open("pgx", s.URL)
		if err != nil {
			return
		}
		defer admin.Close()
		admin.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
	})
	return strings.Replace(s.URL, "/postgres?", "/"+name+"?", 1)
}

// Start starts a server for t alone, stopped when t ends, or skips t
// loudly when PostgreSQL is not installed.
func Start(t testing.TB) *Server {
	t.Helper()
	s, err := Launch(testutil.FreePort(t))
	if errors.Is(err, ErrNotInstalled) {
		skip(t)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

func skip(t testing.TB) {
	t.Helper()
	t.Skip("!!! SKIPPING: " + ErrNotInstalled.Error() + "; the PostgreSQL tests cannot run without it !!!")
}

// Shared is one server for a whole test package, started by the first
// test that asks for it; the package's TestMain stops it after m.Run:
//
//	var pg pgtest.Shared
//
//	func TestMain(m *testing.M) {
//		code := m.Run()
//		pg.Stop()
//		os.Exit(code)
//	}
type Shared struct {
	once sync.Once
	srv  *Server
	err  error
}

// Server returns the package's server, starting it on first use; it
// skips t loudly when PostgreSQL is not installed and fails t when it
// cannot start.
func (sh *Shared) Server(t testing.TB) *Server {
	t.Helper()
	sh.once.Do(func() { sh.srv, sh.err = Launch(testutil.FreePort(t)) })
	if errors.Is(sh.err, ErrNotInstalled) {
		skip(t)
	}
	if sh.err != nil {
		t.Fatal(sh.err)
	}
	return sh.srv
}

// Stop stops the server if one was started.
func (sh *Shared) Stop() {
	if sh.srv != nil {
		sh.srv.Stop()
	}
}

// syncBuffer keeps the server's log for an error message.
type syncBuffer struct {
	mu    sync.Mutex
	lines []string
}

func (b *syncBuffer) add(line string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.lines) < 200 {
		b.lines = append(b.lines, line)
	}
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Join(b.lines, "\n")
}
