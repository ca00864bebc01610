// Package db holds the operator's data that is not an artifact: the audit
// log, its daily roll-ups (download statistics), the catalog of stored
// module versions, and the history of alerts. One type, DB, on SQLite (an
// embedded file, the default, through the pure-Go modernc.org/sqlite) or
// PostgreSQL (shared by replicas, through pgx), with the same schema and
// behaviour on both, which the conformance suite in dbtest checks.
//
// Storage stays the source of truth for artifacts: the catalog can be
// rebuilt from it (ReplaceCatalog), and gomirror serves modules without a
// database.
package db

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
)

// DB is an open database. Its methods are safe for concurrent use, also by
// several processes on one database (replicas on PostgreSQL; the CLI next
// to a running server on SQLite).
type DB struct {
	d dialect
	// w is where writes go. On SQLite it has one connection, whose
	// transactions begin IMMEDIATE: writers of this process queue for it
	// instead of failing with SQLITE_BUSY, and another process (the CLI)
	// is waited for up to the busy timeout. On PostgreSQL r and w are the
	// same pool.
	w *sql.DB
	r *sql.DB // reads
	// ckpt copies SQLite's write-ahead log into the database file in the
	// background (nil on PostgreSQL).
	ckpt *checkpointer
	// stmts are the writer's prepared statements (SQLite).
	stmts stmtCache
	// encoders are WriteAudit's segment encoders (*segmentEncoder),
	// kept with their buffers: a batch's encoding is then built without
	// growing them from nothing (garbage of ~130 bytes a record).
	encoders sync.Pool
}

// Open opens the database that dsn names and applies the schema
// migrations it lacks: a postgres:// or postgresql:// URL for PostgreSQL,
// anything else is the path of an SQLite file (created if missing).
// Errors never show the DSN's password.
func Open(ctx context.Context, dsn string) (*DB, error) {
	return open(ctx, dsn, len(migrations(dialectOf(dsn))))
}

// open is Open applying migrations up to version upTo only (tests build a
// database of an earlier version with it).
func open(ctx context.Context, dsn string, upTo int) (*DB, error) {
	d, err := connect(ctx, dsn)
	if err != nil {
		return nil, err
	}
	if err := d.migrate(ctx, upTo); err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}

// Engine returns "sqlite" or "postgres".
func (d *DB) Engine() string { return d.d.name }

// Ping checks that the database answers.
func (d *DB) Ping(ctx context.Context) error {
	if err := d.r.PingContext(ctx); err != nil {
		return fmt.Errorf("db: %w", err)
	}
	return nil
}

// Close closes the database. Calls after the first do nothing.
func (d *DB) Close() error {
	if d.ckpt != nil {
		d.ckpt.close(d.w)
	}
	d.stmts.close()
	err := d.w.Close()
	if d.r != d.w {
		if rerr := d.r.Close(); err == nil {
			err = rerr
		}
	}
	return err
}
