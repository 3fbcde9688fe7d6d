package drivertest_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"

	"github.com/forgekit/accesstoken"
	"github.com/forgekit/accesstoken/sqlstore"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib" // the driver ("pgx"); sqlstore imports none
)

// A forge's set-up on PostgreSQL, whose instances share one database. The
// URL comes from the forge's configuration, here DATABASE_URL (such as
// postgres://forge@db.internal/forge). Every instance runs Migrate at
// start: the migrations run once, behind an advisory lock.
//
// This example needs a PostgreSQL server, so it is not run as an example;
// TestPostgresExamples runs it against the test server and checks its
// output.
func Example_postgreSQL() {
	ctx := context.Background()
	db, err := sql.Open("pgx", os.Getenv("DATABASE_URL"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer db.Close()
	db.SetMaxOpenConns(20) // per instance; PostgreSQL's max_connections is shared by all

	store, err := sqlstore.New(db, sqlstore.PostgreSQL)
	if err != nil {
		fmt.Println(err)
		return
	}
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
		Owner:       "alice",
		Description: "CI clone",
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
}

// A forge that already has a pgx pool for its own tables shares it with
// the token store: stdlib.OpenDBFromPool gives database/sql a view of the
// pool, so there is one set of connections for both. The tokens go in a
// schema of their own here (WithTable), created by the forge's own
// migrations.
//
// Like Example_postgreSQL, it is run by TestPostgresExamples.
func Example_pgxPool() {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer pool.Close()
	if _, err := pool.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS auth"); err != nil { // the forge's own schema
		fmt.Println(err)
		return
	}

	db := stdlib.OpenDBFromPool(pool)
	defer db.Close() // closes the view, not the pool
	store, err := sqlstore.New(db, sqlstore.PostgreSQL, sqlstore.WithTable("auth.access_tokens"))
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
		Owner:       "alice",
		Description: "deploy",
		Target:      accesstoken.RepositoryTarget("demo", "hello"),
		Scopes:      []accesstoken.Scope{accesstoken.ScopePush},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	// The forge's own queries and the store's share the pool.
	var n int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM auth.access_tokens").Scan(&n); err != nil {
		fmt.Println(err)
		return
	}
	_, err = m.Verify(ctx, iss.Secret.Reveal(), accesstoken.Resource{Project: "demo", Repository: "hello"}, accesstoken.ScopePush)
	fmt.Println(n, "token stored in auth.access_tokens; verified:", err)
}
