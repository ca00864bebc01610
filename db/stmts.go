package db

import (
	"context"
	"database/sql"
	"slices"
	"sync"
)

// stmtCache keeps the writer's prepared statements on SQLite, by query
// text: preparing a multi-row INSERT costs about as much as running it
// (the pure-Go SQLite parses and plans it every time), and WriteAudit
// runs the same few statements batch after batch. Callers use a bounded
// set of texts (chunkSizes), so the cache stays small. PostgreSQL needs
// none: pgx caches its prepared statements per connection itself.
//
// The writer has one connection, which a transaction holds: a statement
// first met in a transaction is prepared in it for that use, and on the
// writer (cached) once the transaction is over.
//
// A statement prepared in a transaction is kept for the rest of it (in
// inTx), so that a transaction running one text many times (a migration
// moving millions of records, a prune deleting thousands of keys)
// prepares it once: database/sql keeps each statement prepared on a Tx
// until the Tx ends, and a long transaction would otherwise hold one per
// call.
type stmtCache struct {
	mu      sync.Mutex
	m       map[string]*sql.Stmt
	inTx    map[*sql.Tx]map[string]*sql.Stmt
	pending []string
	closed  bool
}

// stmt returns the prepared form of query, bound to tx.
func (d *DB) stmt(ctx context.Context, tx *sql.Tx, query string) (*sql.Stmt, error) {
	c := &d.stmts
	c.mu.Lock()
	s := c.m[query]
	if s == nil && !c.closed && !slices.Contains(c.pending, query) {
		c.pending = append(c.pending, query)
	}
	var ts *sql.Stmt
	if s == nil {
		ts = c.inTx[tx][query]
	}
	c.mu.Unlock()
	if s != nil {
		return tx.StmtContext(ctx, s), nil
	}
	if ts != nil {
		return ts, nil
	}
	ts, err := tx.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.inTx == nil {
		c.inTx = map[*sql.Tx]map[string]*sql.Stmt{}
	}
	if c.inTx[tx] == nil {
		c.inTx[tx] = map[string]*sql.Stmt{}
	}
	c.inTx[tx][query] = ts
	c.mu.Unlock()
	return ts, nil
}

// endTx forgets the statements prepared in tx, which has ended (which
// closed them).
func (d *DB) endTx(tx *sql.Tx) {
	c := &d.stmts
	c.mu.Lock()
	delete(c.inTx, tx)
	c.mu.Unlock()
}

// prepare prepares on the writer the statements that transactions met
// uncached. The caller holds no transaction of the writer.
func (d *DB) prepare(ctx context.Context) {
	c := &d.stmts
	c.mu.Lock()
	pending := c.pending
	c.pending = nil
	c.mu.Unlock()
	for _, q := range pending {
		// Not under c.mu: this may wait for another transaction, which
		// may need c.mu.
		s, err := d.w.PrepareContext(ctx, q)
		if err != nil {
			continue // prepared per use, as before
		}
		c.mu.Lock()
		if c.closed || c.m[q] != nil {
			s.Close()
		} else {
			if c.m == nil {
				c.m = map[string]*sql.Stmt{}
			}
			c.m[q] = s
		}
		c.mu.Unlock()
	}
}

// execTx runs query (with '?' placeholders) in tx: on SQLite as a cached
// prepared statement, on PostgreSQL as is.
func (d *DB) execTx(ctx context.Context, tx *sql.Tx, query string, args ...any) (sql.Result, error) {
	if d.d.postgres {
		return tx.ExecContext(ctx, d.d.rebind(query), args...)
	}
	s, err := d.stmt(ctx, tx, query)
	if err != nil {
		return nil, err
	}
	return s.ExecContext(ctx, args...)
}

// queryTx is execTx for a query that returns rows.
func (d *DB) queryTx(ctx context.Context, tx *sql.Tx, query string, args ...any) (*sql.Rows, error) {
	if d.d.postgres {
		return tx.QueryContext(ctx, d.d.rebind(query), args...)
	}
	s, err := d.stmt(ctx, tx, query)
	if err != nil {
		return nil, err
	}
	return s.QueryContext(ctx, args...)
}

// close closes the cached statements; later calls prepare per call.
func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range c.m {
		s.Close()
	}
	c.m, c.closed = nil, true
}

// chunkSizes splits n rows into chunks of at most max rows (a power of
// two), the rest in descending powers of two: at most log2(max)+1
// distinct statement texts per table, whatever the batch sizes.
func chunkSizes(n, max int) []int {
	var out []int
	for ; n >= max; n -= max {
		out = append(out, max)
	}
	for p := max / 2; p > 0; p /= 2 {
		if n >= p {
			out = append(out, p)
			n -= p
		}
	}
	return out
}
