package db

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
)

// TestStmtPreparedOncePerTx: a text run many times in one transaction is
// prepared once in it (database/sql keeps every statement prepared on a
// Tx until the Tx ends: a migration moving millions of records held one
// per call), and forgotten when the transaction ends.
func TestStmtPreparedOncePerTx(t *testing.T) {
	ctx := context.Background()
	d, err := Open(ctx, filepath.Join(t.TempDir(), "a.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	const q = "SELECT COUNT(*) FROM audit_segments WHERE last_ns > ?"
	err = d.inTx(ctx, func(tx *sql.Tx) error {
		a, err := d.stmt(ctx, tx, q)
		if err != nil {
			return err
		}
		b, err := d.stmt(ctx, tx, q)
		if err != nil {
			return err
		}
		if a != b {
			t.Errorf("prepared twice in one transaction")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	d.stmts.mu.Lock()
	n := len(d.stmts.inTx)
	d.stmts.mu.Unlock()
	if n != 0 {
		t.Errorf("%d transactions' statements kept after they ended", n)
	}
}
