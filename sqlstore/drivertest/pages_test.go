package drivertest_test

import (
	"bytes"
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/forgekit/accesstoken"
	"github.com/forgekit/accesstoken/sqlstore"
)

// TestPageThrough100k: an operator pages through every one of 100,000
// tokens, 1,000 at a time, oldest first and newest first, on SQLite and
// PostgreSQL: each page is a range of the (created_at, id) index, read
// forwards or backwards (TestListPlans checks the plans), and the pages
// hold every token once, in order.
func TestPageThrough100k(t *testing.T) {
	const n = 100_000
	for _, b := range []struct {
		name string
		open func(t *testing.T) *sql.DB
		d    sqlstore.Dialect
	}{
		{"sqlite-file", func(t *testing.T) *sql.DB {
			path := filepath.Join(t.TempDir(), "tokens.db")
			fillSQLite(t, path, n)
			return openSQLiteDSN(t, sqliteDSN(path))
		}, sqlstore.SQLite},
		{"postgres", func(t *testing.T) *sql.DB {
			db := openPG(t)
			newStore(t, db, sqlstore.PostgreSQL)
			fillPostgres(t, db, n)
			return db
		}, sqlstore.PostgreSQL},
	} {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			s := newStore(t, b.open(t), b.d)
			m, err := accesstoken.New(s, accesstoken.InsecureAllowAll())
			if err != nil {
				t.Fatal(err)
			}
			for _, order := range []accesstoken.Order{accesstoken.OldestFirst, accesstoken.NewestFirst} {
				opts := accesstoken.ListOptions{State: accesstoken.StateAll, Limit: accesstoken.MaxPageSize, Order: order}
				var last accesstoken.Token
				total, pages := 0, 0
				for {
					p, err := m.PageAll(ctx, accesstoken.TokenFilter{}, opts)
					if err != nil {
						t.Fatalf("%v, page %d: %v", order, pages+1, err)
					}
					pages++
					for _, tok := range p.Tokens {
						c := tok.CreatedAt.Compare(last.CreatedAt)
						if c == 0 {
							c = bytes.Compare(tok.ID[:], last.ID[:])
						}
						if order == accesstoken.NewestFirst {
							c = -c
						}
						if total > 0 && c <= 0 {
							t.Fatalf("%v: token %d (%v %v) is not after token %d (%v %v)", order, total, tok.CreatedAt, tok.ID, total-1, last.CreatedAt, last.ID)
						}
						last = tok
						total++
					}
					if p.Next == "" {
						break
					}
					opts.Cursor = p.Next
				}
				if total != n || pages != n/accesstoken.MaxPageSize {
					t.Fatalf("%v: got %d tokens in %d pages; want %d in %d", order, total, pages, n, n/accesstoken.MaxPageSize)
				}
			}
			// And one owner's tokens (10 of every 100,000), past the
			// cursor of a page of everyone's.
			p, err := m.PageForOwner(ctx, "owner7", accesstoken.ListOptions{State: accesstoken.StateAll, Limit: 4})
			if err != nil || len(p.Tokens) != 4 || p.Next == "" {
				t.Fatalf("PageForOwner: %d tokens, next %q, %v", len(p.Tokens), p.Next, err)
			}
		})
	}
}
