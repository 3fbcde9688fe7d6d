package sqlstore

import (
	"errors"
	"strings"
)

// Driver errors are classified without importing any driver:
//
//   - PostgreSQL drivers (pgx's *pgconn.PgError, lib/pq's *pq.Error) have a
//     method SQLState() string; 23505 is a unique violation, 42P01 an
//     undefined table.
//   - modernc.org/sqlite's *sqlite.Error has a method Code() int giving the
//     extended result code: 2067 (SQLITE_CONSTRAINT_UNIQUE) and 1555
//     (SQLITE_CONSTRAINT_PRIMARYKEY) are unique violations.
//   - Failing both, the message is matched: SQLite's "UNIQUE constraint
//     failed" and "no such table" (as
//     github.com/mattn/go-sqlite3 reports them) and PostgreSQL's "SQLSTATE
//     23505".
type sqlStater interface{ SQLState() string }

type sqliteCoder interface{ Code() int }

const (
	sqliteConstraintPK     = 1555
	sqliteConstraintUnique = 2067
)

func (s *Store) isUniqueViolation(err error) bool {
	if err == nil {
		return false
	}
	var st sqlStater
	if errors.As(err, &st) {
		return st.SQLState() == "23505"
	}
	var c sqliteCoder
	if s.dialect == SQLite && errors.As(err, &c) {
		return c.Code() == sqliteConstraintUnique || c.Code() == sqliteConstraintPK
	}
	msg := err.Error()
	return strings.Contains(msg, "UNIQUE constraint failed") || strings.Contains(msg, "SQLSTATE 23505")
}

func (s *Store) isUndefinedTable(err error) bool {
	var st sqlStater
	if errors.As(err, &st) {
		return st.SQLState() == "42P01"
	}
	return strings.Contains(err.Error(), "no such table")
}
