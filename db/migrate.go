package db

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gomirror/gomirror/audit"
)

//go:embed migrations
var migrationFS embed.FS

// migration is one schema version: the statements of
// migrations/<dialect>/NNNN_name.sql.
type migration struct {
	version int
	name    string
	sql     string
}

// migrations returns d's migrations in version order: versions 1..n,
// without gaps (a test checks it).
func migrations(d dialect) []migration {
	dir := "migrations/" + d.name
	entries, err := fs.ReadDir(migrationFS, dir)
	if err != nil {
		panic(err) // embedded: cannot happen
	}
	var ms []migration
	for _, e := range entries {
		num, name, ok := strings.Cut(strings.TrimSuffix(e.Name(), ".sql"), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			panic("db: bad migration file name " + e.Name())
		}
		b, err := migrationFS.ReadFile(path.Join(dir, e.Name()))
		if err != nil {
			panic(err)
		}
		ms = append(ms, migration{version: v, name: name, sql: string(b)})
	}
	slices.SortFunc(ms, func(a, b migration) int { return a.version - b.version })
	return ms
}

// migrationLock is the PostgreSQL advisory lock key that serialises
// migrations of replicas starting at once ("gomirror" in ASCII).
const migrationLock = 0x676f6d6972726f72

// migrate applies the migrations up to version upTo that the database
// lacks, each in a transaction of its own that also records it in
// schema_migrations. Each transaction first takes the migration lock (on
// SQLite, the write lock of BEGIN IMMEDIATE; on PostgreSQL an advisory
// transaction lock) and then looks at what is applied, so that several
// processes opening one database at once apply each version once. A
// database whose schema is newer than this binary knows is an error.
func (d *DB) migrate(ctx context.Context, upTo int) error {
	ms := migrations(d.d)
	for _, m := range ms[:upTo] {
		if err := d.apply(ctx, m, len(ms)); err != nil {
			return err
		}
	}
	if upTo == 0 { // only the check
		return d.apply(ctx, migration{}, len(ms))
	}
	return nil
}

// apply applies m unless it is applied; m.version 0 applies nothing and
// only checks the version.
func (d *DB) apply(ctx context.Context, m migration, known int) (err error) {
	tx, err := d.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("db: migrating: %w", err)
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
		d.endTx(tx)
	}()
	if d.d.postgres {
		if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1)", int64(migrationLock)); err != nil {
			return fmt.Errorf("db: migrating: taking the lock: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY,
		name TEXT NOT NULL,
		applied_ns BIGINT NOT NULL)`); err != nil {
		return fmt.Errorf("db: migrating: %w", err)
	}
	var current sql.NullInt64
	if err := tx.QueryRowContext(ctx, "SELECT MAX(version) FROM schema_migrations").Scan(&current); err != nil {
		return fmt.Errorf("db: migrating: %w", err)
	}
	if int(current.Int64) > known {
		return fmt.Errorf("db: the database's schema is version %d, newer than this gomirror knows (%d): upgrade gomirror, or use another database", current.Int64, known)
	}
	if m.version == 0 || int(current.Int64) >= m.version {
		return tx.Commit()
	}
	if int(current.Int64) != m.version-1 {
		return fmt.Errorf("db: the database's schema is version %d, cannot apply version %d", current.Int64, m.version)
	}
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return fmt.Errorf("db: applying schema version %d (%s): %w", m.version, m.name, err)
	}
	if step := goStep(m.name); step != nil {
		if err := step(d, ctx, tx); err != nil {
			return fmt.Errorf("db: applying schema version %d (%s): %w", m.version, m.name, err)
		}
	}
	if _, err := tx.ExecContext(ctx, d.d.rebind("INSERT INTO schema_migrations (version, name, applied_ns) VALUES (?, ?, ?)"),
		m.version, m.name, time.Now().UnixNano()); err != nil {
		return fmt.Errorf("db: recording schema version %d: %w", m.version, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("db: applying schema version %d (%s): %w", m.version, m.name, err)
	}
	return nil
}

// SchemaVersion returns the schema version of the database: the last
// migration applied.
func (d *DB) SchemaVersion(ctx context.Context) (int, error) {
	var v sql.NullInt64
	err := d.r.QueryRowContext(ctx, "SELECT MAX(version) FROM schema_migrations").Scan(&v)
	return int(v.Int64), err
}

// goStep returns the part of migration name written in Go, if any: it
// runs after the migration's SQL, in its transaction.
func goStep(name string) func(d *DB, ctx context.Context, tx *sql.Tx) error {
	switch name {
	case "audit_segments":
		return (*DB).moveAuditRecords
	}
	return nil
}

// moveChunk is how many records of the audit table moveAuditRecords
// reads at a time: a segment's worth (it writes one segment per writer
// among them).
const moveChunk = 256

// moveAuditRecords moves the records of the audit table (versions 1 to
// 3) into segments, in time order, and drops the table. The roll-ups and
// audit_modules have them already.
func (d *DB) moveAuditRecords(ctx context.Context, tx *sql.Tx) error {
	const cols = "id, time_ns, client, remote, method, module, version, kind, status, bytes, duration_ns, cache, upstream, agent, replica"
	first := d.d.rebind("SELECT " + cols + " FROM audit ORDER BY time_ns, id LIMIT ?")
	next := d.d.rebind("SELECT " + cols + " FROM audit WHERE time_ns >= ? AND (time_ns > ? OR id > ?) ORDER BY time_ns, id LIMIT ?")
	var enc segmentEncoder
	batch := make([]audit.Record, 0, moveChunk)
	for {
		var rows *sql.Rows
		var err error
		if len(batch) == 0 {
			rows, err = tx.QueryContext(ctx, first, moveChunk)
		} else {
			last := batch[len(batch)-1]
			ns := last.Time.UnixNano()
			rows, err = tx.QueryContext(ctx, next, ns, ns, last.ID, moveChunk)
		}
		if err != nil {
			return fmt.Errorf("moving the audit records: %w", err)
		}
		batch = batch[:0]
		for rows.Next() {
			var r audit.Record
			var ns, dur int64
			if err := rows.Scan(&r.ID, &ns, &r.Client, &r.Remote, &r.Method, &r.Module, &r.Version, &r.Kind,
				&r.Status, &r.Bytes, &dur, &r.Cache, &r.Upstream, &r.Agent, &r.Replica); err != nil {
				rows.Close()
				return fmt.Errorf("moving the audit records: %w", err)
			}
			r.Time, r.Duration = time.Unix(0, ns).UTC(), time.Duration(dur)
			batch = append(batch, r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("moving the audit records: %w", err)
		}
		if len(batch) == 0 {
			break
		}
		for _, g := range byWriter(batch) {
			if _, err := d.writeSegment(ctx, tx, &enc, g.writer, g.recs, false); err != nil {
				return err
			}
		}
		if len(batch) < moveChunk {
			break
		}
	}
	if _, err := tx.ExecContext(ctx, "DROP TABLE audit"); err != nil {
		return fmt.Errorf("dropping the audit table: %w", err)
	}
	return nil
}
