package db

import (
	"database/sql/driver"
	"errors"

	"github.com/jackc/pgx/v5/pgconn"
)

// Unavailable reports whether err says that the database cannot be used
// at all, rather than that one call failed: its file is damaged or is not
// a database (SQLite), or the server cannot be reached (PostgreSQL). The
// API answers such an error as it answers a database that is not open
// (503), and an operator repairs or restores the database while gomirror
// goes on serving modules.
func Unavailable(err error) bool {
	if err == nil {
		return false
	}
	var coded interface{ Code() int } // modernc.org/sqlite's *Error
	if errors.As(err, &coded) {
		switch coded.Code() & 0xff {
		case sqliteCorrupt, sqliteNotADB, sqliteCantOpen:
			return true
		}
	}
	var connect *pgconn.ConnectError
	return errors.As(err, &connect) || errors.Is(err, driver.ErrBadConn)
}

// SQLite's primary result codes that mean the database file cannot be
// used (https://sqlite.org/rescode.html).
const (
	sqliteCantOpen = 14 // SQLITE_CANTOPEN
	sqliteCorrupt  = 11 // SQLITE_CORRUPT
	sqliteNotADB   = 26 // SQLITE_NOTADB
)
