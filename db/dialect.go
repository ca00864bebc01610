package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"net/url"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gomirror/gomirror/internal/redact"

	_ "github.com/jackc/pgx/v5/stdlib" // registers "pgx"
	_ "modernc.org/sqlite"             // registers "sqlite"
)

// dialect is what differs between the two engines. Queries are written
// with '?' placeholders and the schema, the upserts (INSERT ... ON
// CONFLICT ... DO UPDATE / DO NOTHING) and RETURNING are the same on
// both; rebind turns the placeholders into PostgreSQL's $n.
type dialect struct {
	name     string // "sqlite" or "postgres"
	postgres bool
}

var (
	sqliteDialect   = dialect{name: "sqlite"}
	postgresDialect = dialect{name: "postgres", postgres: true}
)

// dialectOf returns the dialect that dsn names (see Open).
func dialectOf(dsn string) dialect {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		return postgresDialect
	}
	return sqliteDialect
}

// rebind returns query with its '?' placeholders numbered for PostgreSQL
// ($1, $2, ...); for SQLite it returns query. Queries hold no '?' in
// string literals.
func (d dialect) rebind(query string) string {
	if !d.postgres || !strings.Contains(query, "?") {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 16)
	n := 0
	for i := 0; i < len(query); i++ {
		if query[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(query[i])
	}
	return b.String()
}

// maxParams is how many parameters one statement may have: SQLite's limit
// (32766 since 3.32) and PostgreSQL's (65535), with room to spare.
const maxParams = 30000

// connect opens the pools for dsn and checks that the database answers.
func connect(ctx context.Context, dsn string) (*DB, error) {
	d := dialectOf(dsn)
	if d.postgres {
		pool, err := sql.Open("pgx", dsn)
		if err != nil {
			return nil, fmt.Errorf("db: opening %s: %w", redact.URL(dsn), redact.Err(err))
		}
		pool.SetMaxOpenConns(16)
		pool.SetMaxIdleConns(8)
		if err := pool.PingContext(ctx); err != nil {
			pool.Close()
			return nil, fmt.Errorf("db: connecting to %s: %w", redact.URL(dsn), scrub(err, dsn))
		}
		return &DB{d: d, w: pool, r: pool}, nil
	}
	if dsn == "" {
		return nil, fmt.Errorf("db: no database path")
	}
	if strings.ContainsAny(dsn, "?#") {
		return nil, fmt.Errorf("db: SQLite path %q: '?' and '#' are not allowed in it", dsn)
	}
	if err := private(dsn); err != nil {
		return nil, err
	}
	// WAL: readers never block the writer nor the writer them. The busy
	// timeout makes a connection wait for another process's write (the
	// CLI next to a running server) instead of failing at once.
	params := "?_pragma=busy_timeout(" + strconv.Itoa(int(busyTimeout/time.Millisecond)) + ")&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)&_pragma=cache_size(-65536)&_pragma=mmap_size(1073741824)"
	// The writer does not checkpoint after its commits: a checkpointer
	// does, on a connection of its own, so that a commit does not wait
	// for a checkpoint's writes and fsyncs.
	w, err := sql.Open("sqlite", "file:"+dsn+params+"&_pragma=wal_autocheckpoint(0)&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("db: opening %s: %w", dsn, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxIdleTime(0)
	if err := pingSQLite(ctx, w); err != nil {
		w.Close()
		return nil, fmt.Errorf("db: opening %s: %w", dsn, err)
	}
	r, err := sql.Open("sqlite", "file:"+dsn+params)
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("db: opening %s: %w", dsn, err)
	}
	n := max(2, runtime.GOMAXPROCS(0))
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	c, err := sql.Open("sqlite", "file:"+dsn+params)
	if err != nil {
		w.Close()
		r.Close()
		return nil, fmt.Errorf("db: opening %s: %w", dsn, err)
	}
	c.SetMaxOpenConns(1)
	return &DB{d: d, w: w, r: r, ckpt: startCheckpointer(c)}, nil
}

// busyTimeout is how long a SQLite connection waits for another's lock
// (its busy_timeout).
const busyTimeout = 10 * time.Second

// pingSQLite opens w's connection, trying again (for as long as the busy
// timeout, within ctx) while SQLite answers SQLITE_BUSY: switching a new
// database to WAL mode takes a lock that the busy timeout does not wait
// for when another connection is taking it too (SQLite then fails one of
// them at once rather than let them deadlock), as replicas or commands
// starting together on a new database do.
func pingSQLite(ctx context.Context, w *sql.DB) error {
	deadline := time.Now().Add(busyTimeout)
	for {
		err := w.PingContext(ctx)
		if err == nil || !isBusy(err) || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(time.Duration(10+rand.IntN(40)) * time.Millisecond):
		}
	}
}

// isBusy reports whether err is SQLite's SQLITE_BUSY (or one of its
// extended codes).
func isBusy(err error) bool {
	code, ok := sqliteCode(err)
	return ok && code == sqliteBusy
}

// checkpointEvery is how many write transactions the checkpointer lets
// pass between two checkpoints. WriteAudit's batch of 256 records writes
// a few hundred pages to the log, so the log stays at some ten MB.
const checkpointEvery = 8

// checkpointer runs SQLite's passive checkpoints (which never block the
// writer or the readers) on a connection of its own, after every
// checkpointEvery write transactions.
type checkpointer struct {
	conn   *sql.DB
	writes atomic.Int64
	kick   chan struct{}
	stop   chan struct{}
	done   chan struct{}
	closed sync.Once
}

func startCheckpointer(conn *sql.DB) *checkpointer {
	c := &checkpointer{conn: conn, kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go c.run()
	return c
}

func (c *checkpointer) run() {
	defer close(c.done)
	for {
		select {
		case <-c.stop:
			return
		case <-c.kick:
			// A failed checkpoint leaves the log longer; the next one
			// copies it.
			var busy, logged, copied int64
			c.conn.QueryRow("PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &logged, &copied)
		}
	}
}

// wrote counts a write transaction, starting a checkpoint after every
// checkpointEvery of them (unless one is still going: then the next).
func (c *checkpointer) wrote() {
	if c == nil || c.writes.Add(1)%checkpointEvery != 0 {
		return
	}
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// close stops the checkpointer and empties the log into the database
// (through w, the writer, after the last write). Only the first call
// does anything.
func (c *checkpointer) close(w *sql.DB) {
	c.closed.Do(func() {
		close(c.stop)
		<-c.done
		c.conn.Close()
		var busy, logged, copied int64
		w.QueryRow("PRAGMA wal_checkpoint(TRUNCATE)").Scan(&busy, &logged, &copied)
	})
}

// scrub is redact.Err, and also removes the DSN's password where an
// error quotes it outside a URL (a driver's "password=..." text).
func scrub(err error, dsn string) error {
	err = redact.Err(err)
	if u, perr := url.Parse(dsn); perr == nil && u.User != nil {
		if pw, ok := u.User.Password(); ok && pw != "" && strings.Contains(err.Error(), pw) {
			return fmt.Errorf("%s", strings.ReplaceAll(err.Error(), pw, "xxxxx"))
		}
	}
	return err
}

// private creates the SQLite file at path, if missing, readable by its
// owner only: the audit log names clients. SQLite gives the -wal and -shm
// files it creates the database file's permissions. An existing file keeps
// the permissions its owner gave it (a database shared with a group, which
// a CLI user who is not its owner may open).
func private(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("db: %w", err)
	}
	return f.Close()
}
