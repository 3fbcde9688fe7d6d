package sqlstore_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"

	"github.com/forgekit/accesstoken"
	"github.com/forgekit/accesstoken/sqlstore"
)

// A forge's set-up on SQLite. sqlstore imports no driver; the program does,
// for example
//
//	import _ "modernc.org/sqlite" // driver name "sqlite"
//
// or, for sqlstore.PostgreSQL, github.com/jackc/pgx/v5/stdlib (driver name
// "pgx"). This module has no driver, so this example is only compiled; the
// same set-up runs, with modernc.org/sqlite, as the example of module
// github.com/forgekit/accesstoken/sqlstore/drivertest.
func Example() {
	ctx := context.Background()
	db, err := sql.Open("sqlite", "file:tokens.db?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=cache_size(-32768)&_txlock=immediate")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer db.Close()

	store, err := sqlstore.New(db, sqlstore.SQLite) // or sqlstore.PostgreSQL over a pgx pool
	if err != nil {
		fmt.Println(err)
		return
	}
	// Embedded, versioned migrations, safe to run from every instance at
	// start.
	if err := store.Migrate(ctx); err != nil {
		fmt.Println(err)
		return
	}
	m, err := accesstoken.New(store, accesstoken.InsecureAllowAll()) // a forge passes its own Authorizer
	if err != nil {
		fmt.Println(err)
		return
	}

	iss, err := m.Issue(ctx, accesstoken.IssueRequest{
		Description: "CI clone",
		Owner:       "alice",
		Target:      accesstoken.ProjectTarget("demo"),
		Scopes:      []accesstoken.Scope{accesstoken.ScopePull},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	tok, err := m.Verify(ctx, iss.Secret.Reveal(), accesstoken.Resource{Project: "demo", Repository: "hello"}, accesstoken.ScopePull)
	fmt.Println(tok.Owner, err)
}

// The table's name is checked when the Store is made, as every option of
// this module is: a bad one is an error from New, never a surprise at the
// first query. New does not touch the database, so this example needs
// none (its connector refuses to connect).
func ExampleWithTable() {
	db := sql.OpenDB(noDatabase{})
	defer db.Close()
	for _, name := range []string{"forge.access_tokens", "Access-Tokens", "a.b.c"} {
		_, err := sqlstore.New(db, sqlstore.PostgreSQL, sqlstore.WithTable(name))
		fmt.Printf("%s: %v\n", name, err)
	}
	_, err := sqlstore.New(db, "mysql")
	fmt.Println(err)
	// Output:
	// forge.access_tokens: <nil>
	// Access-Tokens: sqlstore: invalid table name "Access-Tokens": want [schema.]name, each lower-case letters, digits and underscores
	// a.b.c: sqlstore: invalid table name "a.b.c": want [schema.]name, each lower-case letters, digits and underscores
	// sqlstore: unknown dialect "mysql"
}

// noDatabase is a connector that never connects.
type noDatabase struct{}

func (noDatabase) Connect(context.Context) (driver.Conn, error) {
	return nil, errors.New("this example has no database")
}
func (noDatabase) Driver() driver.Driver { return nil }
