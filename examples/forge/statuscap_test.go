package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// TestStatusCapHoldsUnderParallelPosts: posts to one commit sent at once
// cannot all pass the count of maxStatusesPerCommit. With the cap five
// statuses away, 40 posts race for them: exactly five are stored, the
// others get errTooManyStatuses. Before, the count and the insert were
// two statements, and every post that counted before the others inserted
// went in. On SQLite and on PostgreSQL.
func TestStatusCapHoldsUnderParallelPosts(t *testing.T) {
	t.Parallel()
	for _, dbName := range []string{"sqlite", "postgres"} {
		t.Run(dbName, func(t *testing.T) {
			ctx := context.Background()
			url := ""
			if dbName == "postgres" {
				url = postgresSite(t).db
			}
			db, _, err := openDB(ctx, t.TempDir(), url, true)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			sha := fmt.Sprintf("%040x", 7)
			at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			status := func(i int) commitStatus {
				return commitStatus{ID: fmt.Sprintf("s%d", i), State: "success", Context: "ci", Creator: "alice", CreatedAt: at.Add(time.Duration(i) * time.Microsecond)}
			}
			for i := range maxStatusesPerCommit - 5 {
				if err := db.AddStatus(ctx, "alpha", "one", sha, status(i)); err != nil {
					t.Fatal(err)
				}
			}
			const posts = 40
			var wg sync.WaitGroup
			errs := make(chan error, posts)
			for i := range posts {
				wg.Go(func() { errs <- db.AddStatus(ctx, "alpha", "one", sha, status(maxStatusesPerCommit+i)) })
			}
			wg.Wait()
			close(errs)
			stored := 0
			for err := range errs {
				switch {
				case err == nil:
					stored++
				case !errors.Is(err, errTooManyStatuses):
					t.Errorf("a post failed: %v", err)
				}
			}
			var n int
			if err := db.queryRow(ctx, `SELECT COUNT(*) FROM forge_commit_statuses WHERE sha = ?`, sha).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if stored != 5 || n != maxStatusesPerCommit {
				t.Fatalf("%d of %d parallel posts stored, %d statuses in all; want 5 and %d", stored, posts, n, maxStatusesPerCommit)
			}
		})
	}
}
