package sqlstore

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"strings"
	"time"

	"github.com/forgekit/accesstoken"
	"github.com/google/uuid"
)

// SQLite is SQLite 3.35 or later (RETURNING), as modernc.org/sqlite or
// github.com/mattn/go-sqlite3 provide it.
const SQLite Dialect = "sqlite"

// sqliteDialect: ? placeholders; IDs as 16-byte BLOBs and times as INTEGER
// Unix microseconds; the table's rowid is the digest's first 8 bytes
// (lookupKey), so that a verification is one descent of the table's
// B-tree.
type sqliteDialect struct{}

func (sqliteDialect) bind(q string) string { return q }

func (sqliteDialect) idArg(id uuid.UUID) any { return id[:] }

func (sqliteDialect) timeArg(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMicro()
}

func (sqliteDialect) lookupWhere() string { return "lookup = ? AND digest = ?" }

func (sqliteDialect) lookupArgs(d accesstoken.Digest) []any { return []any{lookupKey(d), d[:]} }

func (sqliteDialect) keyColumns() string { return ", lookup" }

func (sqliteDialect) keyArgs(d accesstoken.Digest) []any { return []any{lookupKey(d)} }

// lookupKey is the SQLite rowid of the record with digest d: its first 8
// bytes as a signed big-endian integer (the migration's CHECK ties the two
// together). Two different digests share it with a probability of 2^-64,
// and the second is then refused as a duplicate (see [Store.Insert]).
func lookupKey(d accesstoken.Digest) int64 {
	return int64(binary.BigEndian.Uint64(d[:8]))
}

// beginMigration is an IMMEDIATE transaction, which takes the database's
// write lock before it reads the migrations table: that is the lock.
func (sqliteDialect) beginMigration() string { return "BEGIN IMMEDIATE" }

func (sqliteDialect) lockMigrations(context.Context, *sql.Conn, string) error { return nil }

// lockDescription: nothing more. An IMMEDIATE transaction (the
// _txlock=immediate of the recommended settings) holds the database's
// write lock from its beginning; a deferred one fails to write, with
// SQLITE_BUSY, after another wrote.
func (sqliteDialect) lockDescription(context.Context, *sql.Tx, string) error { return nil }

func (sqliteDialect) appliedAtColumn() string {
	return "INTEGER NOT NULL DEFAULT (CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER))" // Unix microseconds
}

// sqliteCoder is modernc.org/sqlite's *sqlite.Error.
type sqliteCoder interface{ Code() int }

const (
	sqliteConstraintPK     = 1555
	sqliteConstraintUnique = 2067
)

func (sqliteDialect) isUniqueViolation(err error) bool {
	if err == nil {
		return false
	}
	if st, ok := sqlState(err); ok {
		return st == "23505"
	}
	var c sqliteCoder
	if errors.As(err, &c) {
		return c.Code() == sqliteConstraintUnique || c.Code() == sqliteConstraintPK
	}
	return strings.Contains(err.Error(), "UNIQUE constraint failed")
}

func (sqliteDialect) isUndefinedTable(err error) bool {
	return strings.Contains(err.Error(), "no such table")
}

func (sqliteDialect) duplicateDetail(err error) string {
	if strings.Contains(err.Error(), ".lookup") {
		return "the digest's first 8 bytes are another token's (a new secret will do)"
	}
	return ""
}

// indexOn: SQLite's CREATE INDEX takes the schema (an attached database)
// on the index's name and the bare table name after ON.
func (sqliteDialect) indexOn(_, name string) string { return name }

func (sqliteDialect) indexName(schema, name, n string) string {
	if schema != "" {
		return schema + "." + name + "_" + n
	}
	return name + "_" + n
}
