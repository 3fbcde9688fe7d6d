package sqlstore

import (
	"context"
	"database/sql"
	"hash/fnv"
	"strconv"
	"strings"
	"time"

	"github.com/forgekit/accesstoken"
	"github.com/google/uuid"
)

// PostgreSQL is PostgreSQL 12 or later, as github.com/jackc/pgx/v5/stdlib
// or github.com/lib/pq provide it.
const PostgreSQL Dialect = "postgres"

// postgresDialect: $n placeholders; IDs as uuid and times as timestamptz;
// a unique index on the digest.
type postgresDialect struct{}

// bind turns ? placeholders into $1, $2, ....
func (postgresDialect) bind(q string) string {
	var b strings.Builder
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(q[i])
	}
	return b.String()
}

func (postgresDialect) idArg(id uuid.UUID) any { return id.String() }

func (postgresDialect) timeArg(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC()
}

func (postgresDialect) lookupWhere() string { return "digest = ?" }

func (postgresDialect) lookupArgs(d accesstoken.Digest) []any { return []any{d[:]} }

func (postgresDialect) keyColumns() string { return "" }

func (postgresDialect) keyArgs(accesstoken.Digest) []any { return nil }

func (postgresDialect) beginMigration() string { return "BEGIN" }

// lockMigrations takes a transaction-level advisory lock derived from
// lockName.
func (postgresDialect) lockMigrations(ctx context.Context, conn *sql.Conn, lockName string) error {
	_, err := conn.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1)", advisoryKey(lockName))
	return err
}

// lockDescription takes a transaction-level advisory lock derived from
// lockName: concurrent insertions of the same owner, target and
// description wait for one another (two different ones whose keys
// collide, one time in 2^64, only wait needlessly).
func (postgresDialect) lockDescription(ctx context.Context, tx *sql.Tx, lockName string) error {
	_, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1)", advisoryKey(lockName))
	return err
}

// advisoryKey is the key of an advisory lock: the FNV-1a hash of its name.
func advisoryKey(name string) int64 {
	h := fnv.New64a()
	h.Write([]byte(name))
	return int64(h.Sum64())
}

func (postgresDialect) appliedAtColumn() string { return "timestamptz NOT NULL DEFAULT now()" }

func (postgresDialect) isUniqueViolation(err error) bool {
	if err == nil {
		return false
	}
	if st, ok := sqlState(err); ok {
		return st == "23505"
	}
	return strings.Contains(err.Error(), "SQLSTATE 23505")
}

func (postgresDialect) isUndefinedTable(err error) bool {
	if st, ok := sqlState(err); ok {
		return st == "42P01"
	}
	return false
}

func (postgresDialect) duplicateDetail(error) string { return "" }

// indexOn: the index goes to the table's schema, and ON names the table
// as written.
func (postgresDialect) indexOn(schema, name string) string {
	if schema != "" {
		return schema + "." + name
	}
	return name
}

func (postgresDialect) indexName(_, name, n string) string { return name + "_" + n }
