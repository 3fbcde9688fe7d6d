package drivertest_test

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/forgekit/accesstoken"
	"github.com/forgekit/accesstoken/internal/clocktest"
	"github.com/forgekit/accesstoken/sqlstore"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

// countingStore counts the last-used writes that happened.
type countingStore struct {
	accesstoken.Store
	writes *atomic.Int32
}

func (c countingStore) TouchLastUsed(ctx context.Context, id uuid.UUID, at time.Time, interval time.Duration) (bool, error) {
	ok, err := c.Store.TouchLastUsed(ctx, id, at, interval)
	if ok {
		c.writes.Add(1)
	}
	return ok, err
}

// instance is one forge replica: its own pool, Store and Manager.
type instance struct {
	db    *sql.DB
	store *sqlstore.Store
	m     *accesstoken.Manager
}

// TestManyInstances stands for two forge replicas behind a load balancer:
// two Stores over two separate pools against one database.
func TestManyInstances(t *testing.T) {
	setups := []struct {
		name    string
		dialect sqlstore.Dialect
		opener  func(t *testing.T) func(testing.TB) *sql.DB
	}{
		{"postgres", sqlstore.PostgreSQL, func(t *testing.T) func(testing.TB) *sql.DB {
			_, open := pgSchema(t)
			return open
		}},
		// Two processes on one machine sharing a SQLite file.
		{"sqlite-file", sqlstore.SQLite, func(t *testing.T) func(testing.TB) *sql.DB {
			path := filepath.Join(t.TempDir(), "shared.db")
			return func(t testing.TB) *sql.DB { return openSQLiteDSN(t, sqliteDSN(path)) }
		}},
	}
	for _, su := range setups {
		t.Run(su.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			open := su.opener(t)
			clock := clocktest.New(time.Now().UTC()) // shared by the instances
			var writes atomic.Int32

			// Both start at once and migrate the empty database.
			var a, b instance
			var wg sync.WaitGroup
			for _, in := range []*instance{&a, &b} {
				in.db = open(t)
				s, err := sqlstore.New(in.db, su.dialect)
				require.NoError(t, err)
				t.Cleanup(func() { s.Close() })
				in.store = s
				in.m, err = accesstoken.New(countingStore{s, &writes}, accesstoken.InsecureAllowAll(), accesstoken.WithClock(clock.Now))
				require.NoError(t, err)
				wg.Go(func() {
					if err := s.Migrate(ctx); err != nil {
						t.Errorf("Migrate: %v", err)
					}
				})
			}
			wg.Wait()
			require.False(t, t.Failed())

			res := accesstoken.Resource{Project: "demo", Repository: "hello"}
			issue := func(in instance) *accesstoken.Issued {
				t.Helper()
				iss, err := in.m.Issue(ctx, accesstoken.IssueRequest{
					Description: uuid.NewString(),
					Owner:       "alice", Target: accesstoken.ProjectTarget("demo"),
					Scopes: []accesstoken.Scope{accesstoken.ScopePull, accesstoken.ScopePush},
				})
				require.NoError(t, err)
				return iss
			}

			// Last uses reach the store when the Managers' writers write
			// them; flush both, as a forge does at shutdown.
			flush := func() {
				t.Helper()
				require.NoError(t, a.m.Flush(ctx))
				require.NoError(t, b.m.Flush(ctx))
			}

			// Issued through one, verified through the other.
			iss := issue(a)
			tok, err := b.m.Verify(ctx, iss.Secret.Reveal(), res, accesstoken.ScopePull)
			require.NoError(t, err)
			require.Equal(t, iss.Token.ID, tok.ID)
			flush()
			require.EqualValues(t, 1, writes.Load())

			// Last-used writes coalesce across both: many verifications at
			// the same (fake) time from both instances write once.
			clock.Advance(accesstoken.DefaultLastUsedInterval)
			writes.Store(0)
			start := make(chan struct{})
			for i := range 32 {
				in := a
				if i%2 == 1 {
					in = b
				}
				wg.Go(func() {
					<-start
					if _, err := in.m.Verify(ctx, iss.Secret.Reveal(), res, accesstoken.ScopePull); err != nil {
						t.Errorf("Verify: %v", err)
					}
				})
			}
			close(start)
			wg.Wait()
			flush()
			require.EqualValues(t, 1, writes.Load(), "one last-used write for both instances")
			stored, err := a.store.ByID(ctx, iss.Token.ID)
			require.NoError(t, err)
			require.Equal(t, clock.Now().Truncate(time.Microsecond), stored.LastUsedAt)

			// Within the interval nobody writes; after it, one does.
			clock.Advance(time.Minute)
			_, err = a.m.Verify(ctx, iss.Secret.Reveal(), res, accesstoken.ScopePull)
			require.NoError(t, err)
			_, err = b.m.Verify(ctx, iss.Secret.Reveal(), res, accesstoken.ScopePull)
			require.NoError(t, err)
			flush()
			require.EqualValues(t, 1, writes.Load())

			// Revoked through one, refused by the other at once.
			_, err = a.m.Revoke(ctx, "alice", iss.Token.ID)
			require.NoError(t, err)
			_, err = b.m.Verify(ctx, iss.Secret.Reveal(), res, accesstoken.ScopePull)
			require.ErrorIs(t, err, accesstoken.ErrRevoked)

			// Rotated through both at once: one new token.
			iss2 := issue(b)
			var rotated, refused atomic.Int32
			var next atomic.Pointer[accesstoken.Issued]
			for i := range 8 {
				in := a
				if i%2 == 1 {
					in = b
				}
				wg.Go(func() {
					n, err := in.m.Rotate(ctx, "alice", iss2.Token.ID)
					switch {
					case err == nil:
						rotated.Add(1)
						next.Store(n)
					case errors.Is(err, accesstoken.ErrRevoked):
						refused.Add(1)
					default:
						t.Errorf("Rotate: %v", err)
					}
				})
			}
			wg.Wait()
			require.EqualValues(t, 1, rotated.Load())
			require.EqualValues(t, 7, refused.Load())
			for _, in := range []instance{a, b} {
				_, err = in.m.Verify(ctx, iss2.Secret.Reveal(), res, accesstoken.ScopePush)
				require.ErrorIs(t, err, accesstoken.ErrRevoked)
				_, err = in.m.Verify(ctx, next.Load().Secret.Reveal(), res, accesstoken.ScopePush)
				require.NoError(t, err)
			}
			list, err := b.m.ListForTarget(ctx, "alice", accesstoken.ProjectTarget("demo"), accesstoken.ListOptions{IncludeInactive: true})
			require.NoError(t, err)
			require.Len(t, list, 3)

			// Issued with one description through both at once: one token.
			var issued, taken atomic.Int32
			for i := range 8 {
				in := a
				if i%2 == 1 {
					in = b
				}
				wg.Go(func() {
					_, err := in.m.Issue(ctx, accesstoken.IssueRequest{Owner: "alice", Description: "release", Target: accesstoken.RepositoryTarget("demo", "hello"), Scopes: []accesstoken.Scope{accesstoken.ScopePush}})
					switch {
					case err == nil:
						issued.Add(1)
					case errors.Is(err, accesstoken.ErrDuplicateDescription):
						taken.Add(1)
					default:
						t.Errorf("Issue: %v", err)
					}
				})
			}
			wg.Wait()
			require.EqualValues(t, 1, issued.Load())
			require.EqualValues(t, 7, taken.Load())
		})
	}
}
