package main

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/forgekit/accesstoken"
)

// slowManage delays CanManage, which Issue asks after the forge's own
// checks (description, cap): fault injection that widens the window in
// which requests at once could all pass the checks before any inserts.
type slowManage struct {
	perms
	delay time.Duration
}

func (s slowManage) CanManage(ctx context.Context, user string, t accesstoken.Target) (bool, error) {
	time.Sleep(s.delay)
	return s.perms.CanManage(ctx, user, t)
}

// testPolicy is a policy over its own connection pool to the forge's
// database, as one forge process has.
func testPolicy(t *testing.T, dataDir, dbURL string, maxActive int) *policy {
	t.Helper()
	db, store, err := openDB(context.Background(), dataDir, dbURL, true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	m, err := accesstoken.New(store, slowManage{perms{db}, 30 * time.Millisecond}, accesstoken.WithPrefix("forge"))
	if err != nil {
		t.Fatal(err)
	}
	return &policy{m: m, db: db, maxActive: maxActive}
}

// TestIssueAtOnce: requests to issue at once cannot pass the description
// rule or the cap together, in one process (SQLite) or in two sharing a
// PostgreSQL database.
func TestIssueAtOnce(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name  string
		procs int
		site  func(t *testing.T) (dataDir, dbURL string)
	}{
		{"SQLite", 1, func(t *testing.T) (string, string) { return t.TempDir(), "" }},
		{"PostgreSQL, two processes", 2, func(t *testing.T) (string, string) {
			s := postgresSite(t)
			return s.data, s.db
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			data, dbURL := c.site(t)
			var pols []*policy
			for range c.procs {
				pols = append(pols, testPolicy(t, data, dbURL, 3))
			}
			if err := pols[0].db.AddUser(ctx, "alice", password("alice")); err != nil {
				t.Fatal(err)
			}
			if err := pols[0].db.AddProject(ctx, "alpha", "alice"); err != nil {
				t.Fatal(err)
			}
			issueAll := func(desc func(i int) string) (created int) {
				var n atomic.Int32
				parallel(10, func(i int) {
					_, err := pols[i%len(pols)].issue(ctx, "alice", accesstoken.ProjectTarget("alpha"), desc(i),
						[]accesstoken.Scope{accesstoken.ScopePull}, time.Time{})
					var fe *fieldError
					switch {
					case err == nil:
						n.Add(1)
					case !errors.As(err, &fe) || !fe.Conflict:
						t.Errorf("issuing: %v; want a conflict", err)
					}
				})
				return int(n.Load())
			}
			if n := issueAll(func(int) string { return "same" }); n != 1 {
				t.Errorf("10 requests at once with one description made %d tokens; want 1", n)
			}
			if n := issueAll(func(i int) string { return fmt.Sprint("token ", i) }); n != 2 {
				t.Errorf("10 requests at once with room for 2 under the cap of 3 made %d tokens; want 2", n)
			}
		})
	}
}
