// Package drivertest holds the tests of package
// [github.com/forgekit/accesstoken/sqlstore] that need real database drivers:
// the conformance suite ([github.com/forgekit/accesstoken/storetest.Run]) on
// SQLite (modernc.org/sqlite, a file and in memory) and PostgreSQL
// (github.com/jackc/pgx/v5/stdlib), the store's own tests, fault injection,
// several instances on one database, a PostgreSQL cluster stopped and
// restarted under the store, an upgrade from an older schema, paging
// through 100,000 tokens, the benchmarks, and the examples: a forge's
// set-up on SQLite (run as an example), and on PostgreSQL from a URL and
// from an existing pgx pool (which need the server, so
// TestPostgresExamples runs them).
//
// It is a module of its own, github.com/forgekit/accesstoken/sqlstore/drivertest,
// so that the library's go.mod does not require the drivers and a program
// that imports sqlstore gets none of them in its module graph. Its go.mod
// replaces the library with the one in this repository, so the tests always
// run against the sqlstore of the same commit. The package exports nothing.
//
// The PostgreSQL tests need the server that scripts/test.sh starts (its URL
// in ACCESSTOKEN_TEST_POSTGRES); without it they skip, except under
// CI=true, where they fail:
//
//	scripts/test.sh --with-postgres go test ./sqlstore/drivertest/
package drivertest
