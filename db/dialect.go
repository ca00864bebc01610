package db

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"runtime"
	"strconv"
	"strings"

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
	// WAL: readers never block the writer nor the writer them. The busy
	// timeout makes a connection wait for another process's write (the
	// CLI next to a running server) instead of failing at once.
	params := "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)&_pragma=cache_size(-65536)&_pragma=mmap_size(1073741824)&_pragma=wal_autocheckpoint(8192)"
	w, err := sql.Open("sqlite", "file:"+dsn+params+"&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("db: opening %s: %w", dsn, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxIdleTime(0)
	if err := w.PingContext(ctx); err != nil {
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
	return &DB{d: d, w: w, r: r}, nil
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
