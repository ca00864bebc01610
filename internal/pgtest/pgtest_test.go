package pgtest_test

import (
	"context"
	"database/sql"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/gomirror/gomirror/internal/pgtest"
)

func TestStartAndNewDatabase(t *testing.T) {
	s := pgtest.Start(t)
	dsn := s.NewDatabase(t)
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var name string
	if err := db.QueryRowContext(context.Background(), "SELECT current_database()").Scan(&name); err != nil {
		t.Fatal(err)
	}
	if name == "postgres" || name == "" {
		t.Fatalf("NewDatabase's URL names database %q, want a new one", name)
	}
	if other := s.NewDatabase(t); other == dsn {
		t.Fatalf("two NewDatabase calls gave the same URL %s", dsn)
	}
}
