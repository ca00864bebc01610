package db

import "context"

// OpenAt is Open applying the migrations up to version upTo only.
func OpenAt(ctx context.Context, dsn string, upTo int) (*DB, error) { return open(ctx, dsn, upTo) }

// Exec runs a statement ('?' placeholders) on the writer.
func (d *DB) Exec(ctx context.Context, query string, args ...any) error {
	_, err := d.w.ExecContext(ctx, d.d.rebind(query), args...)
	return err
}

// Known is how many schema versions this binary knows for dsn's engine.
func Known(dsn string) int { return len(migrations(dialectOf(dsn))) }

// MigrationNames returns the versions and names of an engine's migrations.
func MigrationNames(postgres bool) []string {
	d := sqliteDialect
	if postgres {
		d = postgresDialect
	}
	var out []string
	for _, m := range migrations(d) {
		out = append(out, m.name)
	}
	return out
}

// ChunkSizes is chunkSizes.
var ChunkSizes = chunkSizes

// Count returns the number of rows of table.
func (d *DB) Count(ctx context.Context, table string) (int, error) {
	var n int
	err := d.r.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+table).Scan(&n)
	return n, err
}
