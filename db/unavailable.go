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
	if code, ok := sqliteCode(err); ok {
		switch code {
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

// sqliteBusy is SQLite's SQLITE_BUSY: another connection holds the lock.
const sqliteBusy = 5

// sqliteCode returns SQLite's primary result code of err, if it is one of
// modernc.org/sqlite's errors.
func sqliteCode(err error) (int, bool) {
	var coded interface{ Code() int } // modernc.org/sqlite's *Error
	if errors.As(err, &coded) {
		return coded.Code() & 0xff, true
	}
	return 0, false
}
