package drivertest_test

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/forgekit/accesstoken"
	"github.com/forgekit/accesstoken/sqlstore"
	_ "modernc.org/sqlite" // the driver; sqlstore imports none
)

// Example is sqlstore's example (a forge's set-up on SQLite) with the
// driver, run: sqlstore's own module has no driver, so there it is only
// compiled.
func Example() {
	ctx := context.Background()
	// A file in production ("file:tokens.db?..."); in memory here, which
	// needs a single connection.
	db, err := sql.Open("sqlite", "file::memory:?_pragma=busy_timeout(5000)&_txlock=immediate")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer db.Close()
	db.SetMaxOpenConns(1)

	store, err := sqlstore.New(db, sqlstore.SQLite)
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := store.Migrate(ctx); err != nil {
		fmt.Println(err)
		return
	}
	m, err := accesstoken.New(store, accesstoken.InsecureAllowAll())
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
	v, _ := store.Version(ctx)
	fmt.Println("schema version", v)
	// Output:
	// alice <nil>
	// schema version 2
}
