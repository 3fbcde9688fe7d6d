package drivertest_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/forgekit/accesstoken/sqlstore"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite"
)

// postgresEnv names the environment variable with the URL of a PostgreSQL
// server the tests may create schemas in; scripts/test.sh sets it.
const postgresEnv = "ACCESSTOKEN_TEST_POSTGRES"

// sqliteDSN is the recommended modernc.org/sqlite configuration (see
// sqlstore's package doc) for a database file.
func sqliteDSN(path string) string {
	return "file:" + path + "?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=cache_size(-32768)&_txlock=immediate"
}

// openSQLiteFile opens a new SQLite database file in a temporary directory.
func openSQLiteFile(t testing.TB) *sql.DB {
	t.Helper()
	return openSQLiteDSN(t, sqliteDSN(filepath.Join(t.TempDir(), "tokens.db")))
}

// openSQLiteMemory opens a new in-memory SQLite database. Each connection
// to ":memory:" has a database of its own, so the pool is limited to one
// connection, as sqlstore's package doc recommends.
func openSQLiteMemory(t testing.TB) *sql.DB {
	t.Helper()
	db := openSQLiteDSN(t, "file::memory:?_pragma=busy_timeout(5000)&_txlock=immediate")
	db.SetMaxOpenConns(1)
	db.SetConnMaxIdleTime(0)
	db.SetConnMaxLifetime(0)
	return db
}

func openSQLiteDSN(t testing.TB, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Ping(); err != nil {
		t.Fatal(err)
	}
	return db
}

// newStore returns a migrated Store over db.
func newStore(t testing.TB, db *sql.DB, d sqlstore.Dialect, opts ...sqlstore.Option) *sqlstore.Store {
	t.Helper()
	s, err := sqlstore.New(db, d, opts...)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func randomName(prefix string) string {
	var b [8]byte
	rand.Read(b[:])
	return prefix + "_" + hex.EncodeToString(b[:])
}

// postgresURL returns the server's URL. Without one the test skips, or,
// under CI=true, fails: CI must test against a real PostgreSQL.
func postgresURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv(postgresEnv)
	if u == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not set under CI=true: run the tests with scripts/test.sh, which starts PostgreSQL", postgresEnv)
		}
		t.Skipf("%s is not set: skipping the PostgreSQL tests (scripts/test.sh starts a PostgreSQL for them)", postgresEnv)
	}
	return u
}

var (
	adminOnce sync.Once
	adminDB   *sql.DB
	adminErr  error
)

// admin returns a pool on the test server for creating and dropping
// schemas, shared by the tests of the package.
func admin(t testing.TB) *sql.DB {
	t.Helper()
	u := postgresURL(t)
	adminOnce.Do(func() {
		adminDB, adminErr = sql.Open("pgx", u)
		if adminErr == nil {
			adminErr = adminDB.Ping()
		}
	})
	if adminErr != nil {
		t.Fatalf("connecting to %s: %v", postgresEnv, adminErr)
	}
	return adminDB
}

// pgSchema creates a schema of its own for the test, dropped at its end, so
// that tests do not collide and may run in parallel. It returns a function
// that opens a new pool (a new "forge instance") whose search_path is that
// schema.
func pgSchema(t testing.TB) (schema string, open func(testing.TB) *sql.DB) {
	t.Helper()
	a := admin(t)
	schema = randomName("t")
	if _, err := a.Exec("CREATE SCHEMA " + schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := a.Exec("DROP SCHEMA " + schema + " CASCADE"); err != nil {
			t.Errorf("dropping schema %s: %v", schema, err)
		}
	})
	open = func(t testing.TB) *sql.DB {
		t.Helper()
		return openPGConfig(t, schema, nil)
	}
	return schema, open
}

// openPGConfig opens a pool on the test server with the given search_path;
// edit, if not nil, changes the connection configuration first.
func openPGConfig(t testing.TB, schema string, edit func(*pgx.ConnConfig)) *sql.DB {
	t.Helper()
	cfg, err := pgx.ParseConfig(postgresURL(t))
	if err != nil {
		t.Fatal(err)
	}
	cfg.RuntimeParams["search_path"] = schema
	if edit != nil {
		edit(cfg)
	}
	db := stdlib.OpenDB(*cfg)
	t.Cleanup(func() { db.Close() })
	return db
}

// openPG opens a pool on a new schema of the test server.
func openPG(t testing.TB) *sql.DB {
	_, open := pgSchema(t)
	return open(t)
}

// backend is a database a test runs against.
type backend struct {
	name    string
	dialect sqlstore.Dialect
	open    func(testing.TB) *sql.DB
}

var backends = []backend{
	{"sqlite-file", sqlstore.SQLite, openSQLiteFile},
	{"sqlite-memory", sqlstore.SQLite, openSQLiteMemory},
	{"postgres", sqlstore.PostgreSQL, openPG},
}

// forEachBackend runs f as a parallel subtest on each backend.
func forEachBackend(t *testing.T, f func(t *testing.T, b backend)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			f(t, b)
		})
	}
}

// openPGURL opens a pgx pool on url, closed at the end of the test.
func openPGURL(t testing.TB, url string) *sql.DB {
	t.Helper()
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
