package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/forgekit/accesstoken"
	"github.com/google/uuid"
)

// Dialect is the SQL dialect of the database behind a [Store]: [SQLite] or
// [PostgreSQL].
type Dialect string

// dialect is what one database needs that the others do not. The shared
// code of the package asks it and never asks which database it is. Each
// implementation is a file of its own (sqlite.go, postgres.go); supporting
// another database is one more such file, its migrations and its entry in
// dialects. Implementations are stateless values, safe for concurrent use.
type dialect interface {
	// bind rewrites a query written with ? placeholders into the
	// database's own. The package's queries have no ? inside string
	// literals.
	bind(q string) string

	// idArg and timeArg encode an ID and a time as query arguments; the
	// zero time is NULL. (Reading needs no dialect: the column scanners
	// accept what every supported driver returns.)
	idArg(id uuid.UUID) any
	timeArg(t time.Time) any

	// lookupWhere is the condition that selects the record whose digest is
	// d, with lookupArgs(d) as its arguments: what a verification runs.
	lookupWhere() string
	lookupArgs(d accesstoken.Digest) []any
	// keyColumns lists the columns that an INSERT writes beyond the
	// record's own ("" or ", name, ..."), and keyArgs their values.
	keyColumns() string
	keyArgs(d accesstoken.Digest) []any

	// beginMigration is the statement that begins the transaction in
	// which [Store.Migrate] runs, and lockMigrations takes, in it, what
	// keeps the Migrate of other instances waiting until it ends (if the
	// statement does not); lockName names the table's migrations.
	beginMigration() string
	lockMigrations(ctx context.Context, conn *sql.Conn, lockName string) error
	// appliedAtColumn is the type and default of the migrations table's
	// applied_at column.
	appliedAtColumn() string

	// lockDescription takes, in tx, whatever keeps other transactions
	// from checking and inserting the same owner, target and description
	// (lockName) until tx ends, if tx's beginning does not already.
	lockDescription(ctx context.Context, tx *sql.Tx, lockName string) error

	// isUniqueViolation and isUndefinedTable classify the driver's
	// errors, without importing a driver.
	isUniqueViolation(err error) bool
	isUndefinedTable(err error) bool
	// duplicateDetail explains a unique violation that the record's ID
	// and digest do not explain, or returns "".
	duplicateDetail(err error) string

	// indexOn is the table as CREATE INDEX ... ON names it, and
	// indexName the name of the index n of it, for the table name
	// (schema "" when not qualified).
	indexOn(schema, name string) string
	indexName(schema, name, n string) string
}

// Driver errors are classified without importing any driver:
//
//   - PostgreSQL drivers (pgx's *pgconn.PgError, lib/pq's *pq.Error) have a
//     method SQLState() string; 23505 is a unique violation, 42P01 an
//     undefined table.
//   - modernc.org/sqlite's *sqlite.Error has a method Code() int giving the
//     extended result code: 2067 (SQLITE_CONSTRAINT_UNIQUE) and 1555
//     (SQLITE_CONSTRAINT_PRIMARYKEY) are unique violations.
//   - Failing both, the message is matched: SQLite's "UNIQUE constraint
//     failed" and "no such table" (as github.com/mattn/go-sqlite3 reports
//     them) and PostgreSQL's "SQLSTATE 23505".
type sqlStater interface{ SQLState() string }

// sqlState returns the SQLSTATE of err, if it carries one.
func sqlState(err error) (string, bool) {
	var st sqlStater
	if errors.As(err, &st) {
		return st.SQLState(), true
	}
	return "", false
}
