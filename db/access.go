package db

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// VersionAccess is when a module version was last downloaded.
type VersionAccess struct {
	Module, Version string
	Time            time.Time
}

// RecordAccess records the accesses of batch: each version's time becomes
// the later of what the database had and the batch's (a batch from a
// replica whose clock or flush lags never moves a time back). Versions
// appear at most once per batch, or the latest is kept.
func (d *DB) RecordAccess(ctx context.Context, batch []VersionAccess) error {
	if len(batch) == 0 {
		return nil
	}
	latest := make(map[[2]string]int64, len(batch))
	for _, a := range batch {
		if a.Module == "" || a.Version == "" {
			return &BadQueryError{Msg: "access without module or version"}
		}
		k := [2]string{a.Module, a.Version}
		latest[k] = max(latest[k], a.Time.UnixNano())
	}
	rows := make([][]any, 0, len(latest))
	for k, ns := range latest {
		rows = append(rows, []any{k[0], k[1], ns})
	}
	const tail = "(module, version) DO UPDATE SET last_ns = excluded.last_ns WHERE access_times.last_ns < excluded.last_ns"
	if err := d.inTx(ctx, func(tx *sql.Tx) error {
		return d.upsert(ctx, tx, "access_times", "module, version, last_ns", 3, tail, rows)
	}); err != nil {
		return fmt.Errorf("db: recording access times: %w", err)
	}
	return nil
}

// AccessTimes calls f for every recorded access, in no particular order,
// streaming them (memory does not grow with their number); it stops at
// f's first error and returns it.
func (d *DB) AccessTimes(ctx context.Context, f func(VersionAccess) error) error {
	rows, err := d.r.QueryContext(ctx, "SELECT module, version, last_ns FROM access_times")
	if err != nil {
		return fmt.Errorf("db: reading access times: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			a  VersionAccess
			ns int64
		)
		if err := rows.Scan(&a.Module, &a.Version, &ns); err != nil {
			return fmt.Errorf("db: reading access times: %w", err)
		}
		a.Time = time.Unix(0, ns).UTC()
		if err := f(a); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("db: reading access times: %w", err)
	}
	return nil
}

// ForgetAccess deletes the recorded accesses of a module version (the
// collector calls it once it has evicted all of the version's files).
func (d *DB) ForgetAccess(ctx context.Context, module, version string) error {
	return d.inTx(ctx, func(tx *sql.Tx) error {
		_, err := d.execTx(ctx, tx, "DELETE FROM access_times WHERE module = ? AND version = ?", module, version)
		if err != nil {
			return fmt.Errorf("db: forgetting access time: %w", err)
		}
		return nil
	})
}
