package drivertest_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/forgekit/accesstoken"
	"github.com/forgekit/accesstoken/sqlstore"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 123456000, time.UTC)

func digestOf(s string) accesstoken.Digest { return sha256.Sum256([]byte(s)) }

// rec returns a record with every field set, distinct for each n.
func rec(n int, target accesstoken.Target) accesstoken.Record {
	return accesstoken.Record{
		Token: accesstoken.Token{
			ID:          uuid.New(),
			Owner:       fmt.Sprintf("user%d", n%3),
			Description: fmt.Sprintf("token %d ✓", n),
			Target:      target,
			Scopes:      accesstoken.NewScopeSet(accesstoken.ScopePush, accesstoken.ScopePull, "lfs:write"),
			CreatedAt:   t0.Add(time.Duration(n) * time.Second),
		},
		Digest: digestOf(fmt.Sprintf("secret %d %s", n, uuid.NewString())),
	}
}

// sharing8 returns a record whose digest has the first 8 bytes of d and
// differs from it in the others.
func sharing8(n int, d accesstoken.Digest) accesstoken.Record {
	r := rec(n, accesstoken.ProjectTarget("p"))
	copy(r.Digest[:8], d[:8])
	r.Digest[31] = ^d[31]
	return r
}

// TestDigestPrefix: on SQLite the digest's first 8 bytes are the table's
// key. A digest that shares them with a stored one is not found by it, and
// is refused as a duplicate (by Insert and by Rotate, which then changes
// nothing); PostgreSQL stores both. A row written by hand whose key is not
// its digest's prefix violates the CHECK.
func TestDigestPrefix(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		db := b.open(t)
		s := newStore(t, db, b.dialect)
		a := rec(1, accesstoken.ProjectTarget("p"))
		a.Digest[0] = 0xff // a negative key
		require.NoError(t, s.Insert(ctx, a))
		pos := rec(2, accesstoken.ProjectTarget("p"))
		pos.Digest[0] = 0x01 // a positive key
		require.NoError(t, s.Insert(ctx, pos))
		for _, r := range []accesstoken.Record{a, pos} {
			got, err := s.ByDigest(ctx, r.Digest)
			require.NoError(t, err)
			require.Equal(t, r, got)
		}

		near := sharing8(3, a.Digest)
		_, err := s.ByDigest(ctx, near.Digest)
		require.ErrorIs(t, err, accesstoken.ErrNotFound, "a digest sharing 8 bytes with a stored one")

		err = s.Insert(ctx, near)
		if b.dialect == sqlstore.PostgreSQL {
			require.NoError(t, err)
			got, err := s.ByDigest(ctx, near.Digest)
			require.NoError(t, err)
			require.Equal(t, near, got)
			got, err = s.ByDigest(ctx, a.Digest)
			require.NoError(t, err)
			require.Equal(t, a, got)
			return
		}
		require.ErrorIs(t, err, accesstoken.ErrDuplicate)
		require.ErrorContains(t, err, "first 8 bytes")
		_, err = s.ByID(ctx, near.ID)
		require.ErrorIs(t, err, accesstoken.ErrNotFound, "a refused insert stored nothing")
		_, err = s.ByDigest(ctx, near.Digest)
		require.ErrorIs(t, err, accesstoken.ErrNotFound)

		next := sharing8(4, pos.Digest)
		err = s.Rotate(ctx, a.ID, accesstoken.Revocation{At: t0.Add(time.Hour), By: "admin"}, next)
		require.ErrorIs(t, err, accesstoken.ErrDuplicate)
		got, err := s.ByID(ctx, a.ID)
		require.NoError(t, err)
		require.Equal(t, a, got, "a refused rotation changed nothing")
		_, err = s.ByID(ctx, next.ID)
		require.ErrorIs(t, err, accesstoken.ErrNotFound)

		// The key is held to the digest: a row written by hand with
		// another key, or none, is refused.
		bad := rec(5, accesstoken.ProjectTarget("p"))
		for _, key := range []any{lookupOf(bad.Digest) + 1, nil} {
			_, err = db.ExecContext(ctx, "INSERT INTO access_tokens (lookup, id, digest, owner, target_kind, project, scopes, created_at) VALUES (?, ?, ?, 'o', 'project', 'p', 's', 0)",
				key, bad.ID[:], bad.Digest[:])
			require.ErrorContains(t, err, "CHECK constraint failed", "key %v", key)
		}
		_, err = db.ExecContext(ctx, "INSERT INTO access_tokens (lookup, id, digest, owner, target_kind, project, scopes, created_at) VALUES (?, ?, ?, 'o', 'project', 'p', 's', 0)",
			lookupOf(bad.Digest), bad.ID[:], bad.Digest[:])
		require.NoError(t, err, "the key the store computes")
		got, err = s.ByDigest(ctx, bad.Digest)
		require.NoError(t, err)
		require.Equal(t, bad.ID, got.ID)
	})
}

// lookupOf is the SQLite key of a digest, computed here independently of
// sqlstore: its first 8 bytes, big-endian, as a signed integer.
func lookupOf(d accesstoken.Digest) int64 {
	var k int64
	for _, c := range d[:8] {
		k = k<<8 | int64(c)
	}
	return k
}

func TestTargetKindCheck(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		s := newStore(t, b.open(t), b.dialect)
		bad := rec(1, accesstoken.Target{})
		err := s.Insert(ctx, bad)
		require.Error(t, err, "a target without project or repository violates the CHECK")
		require.NotErrorIs(t, err, accesstoken.ErrDuplicate)

		// The CHECK holds for rows written by hand too.
		q := "INSERT INTO access_tokens (id, digest, owner, target_kind, project, repository, scopes, created_at) VALUES (?, ?, 'o', 'project', 'p', 'r', 's', ?)"
		var args []any
		if b.dialect == sqlstore.PostgreSQL {
			q = "INSERT INTO access_tokens (id, digest, owner, target_kind, project, repository, scopes, created_at) VALUES ($1, $2, 'o', 'project', 'p', 'r', 's', $3)"
			args = []any{uuid.NewString(), make([]byte, 32), t0}
		} else {
			args = []any{make([]byte, 16), make([]byte, 32), t0.UnixMicro()}
		}
		_, err = s.DB().ExecContext(ctx, q, args...)
		require.Error(t, err, "a project token with a repository violates the CHECK")
	})
}

func TestCancelledContext(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s := newStore(t, b.open(t), b.dialect)
		r := rec(1, accesstoken.ProjectTarget("p"))
		require.NoError(t, s.Insert(context.Background(), r))
		ctx, cancel := context.WithCancel(context.Background())
		cancel()

		target := accesstoken.ProjectTarget("p")
		calls := map[string]func() error{
			"Insert":   func() error { return s.Insert(ctx, rec(2, target)) },
			"ByDigest": func() error { _, err := s.ByDigest(ctx, r.Digest); return err },
			"ByID":     func() error { _, err := s.ByID(ctx, r.ID); return err },
			"List":     func() error { _, err := s.List(ctx, accesstoken.Query{Target: &target}); return err },
			"Revoke":   func() error { _, err := s.Revoke(ctx, r.ID, accesstoken.Revocation{At: t0, By: "a"}); return err },
			"Rotate":   func() error { return s.Rotate(ctx, r.ID, accesstoken.Revocation{At: t0, By: "a"}, rec(3, target)) },
			"Touch":    func() error { _, err := s.TouchLastUsed(ctx, r.ID, t0, time.Minute); return err },
			"Delete":   func() error { _, err := s.DeleteTarget(ctx, target); return err },
			"RevokeOwner": func() error {
				_, err := s.RevokeOwner(ctx, r.Owner, accesstoken.Revocation{At: t0, By: "system:test"})
				return err
			},
			"DeleteInactive": func() error { _, err := s.DeleteInactive(ctx, t0.Add(time.Hour)); return err },
			"Migrate":        func() error { return s.Migrate(ctx) },
		}
		for name, call := range calls {
			err := call()
			require.ErrorIs(t, err, context.Canceled, name)
		}
		got, err := s.ByID(context.Background(), r.ID)
		require.NoError(t, err)
		require.Equal(t, r, got, "nothing changed")
	})
}

// TestCancelMidQuery cancels a context while the query runs: a PostgreSQL
// statement that sleeps, or a SQLite write waiting on the database lock.
func TestCancelMidQuery(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		db := b.open(t)
		s := newStore(t, db, b.dialect)
		ctx := context.Background()
		r := rec(1, accesstoken.ProjectTarget("p"))
		require.NoError(t, s.Insert(ctx, r))

		// Another connection holds the write lock (SQLite) or the row
		// lock (PostgreSQL) so that Revoke has to wait.
		tx, err := db.BeginTx(ctx, nil)
		require.NoError(t, err)
		defer tx.Rollback()
		lock := "UPDATE access_tokens SET description = 'locked' WHERE id = ?"
		arg := any(r.ID[:])
		if b.dialect == sqlstore.PostgreSQL {
			lock = "UPDATE access_tokens SET description = 'locked' WHERE id = $1"
			arg = r.ID.String()
		}
		_, err = tx.ExecContext(ctx, lock, arg)
		require.NoError(t, err)

		cctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err = s.Revoke(cctx, r.ID, accesstoken.Revocation{At: t0, By: "alice"})
		require.ErrorIs(t, err, context.DeadlineExceeded)
		require.Less(t, time.Since(start), 10*time.Second, "the cancelled query returned promptly (its deadline was 0.2 s)")

		// A touch waits for the lock (it must not give up a write it can
		// make) and writes once the lock is released.
		touched := make(chan error, 1)
		go func() {
			ok, err := s.TouchLastUsed(ctx, r.ID, t0, time.Minute)
			if err == nil && !ok {
				err = errors.New("TouchLastUsed skipped the write")
			}
			touched <- err
		}()
		require.NoError(t, tx.Rollback())
		require.NoError(t, <-touched, "the touch waiting for the lock writes once it is free")
		got, err := s.ByID(ctx, r.ID)
		require.NoError(t, err)
		// PostgreSQL cancels a query asynchronously: the server may have
		// run the UPDATE once the lock was released, before the cancel
		// arrived. What must hold is that the record is whole: unchanged,
		// or revoked exactly as asked.
		want := r
		want.LastUsedAt = t0
		if got.Revoked() {
			want.RevokedAt, want.RevokedBy = t0, "alice"
		}
		require.Equal(t, want, got)
	})
}

func TestMigrate(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		db := b.open(t)
		s, err := sqlstore.New(db, b.dialect)
		require.NoError(t, err)
		v, err := s.Version(ctx)
		require.NoError(t, err)
		require.Equal(t, 0, v)

		// Several instances starting at once.
		var wg sync.WaitGroup
		for range 6 {
			wg.Go(func() {
				s, err := sqlstore.New(db, b.dialect)
				if err != nil {
					t.Error(err)
					return
				}
				if err := s.Migrate(ctx); err != nil {
					t.Errorf("concurrent Migrate: %v", err)
				}
			})
		}
		wg.Wait()
		require.NoError(t, s.Migrate(ctx), "Migrate is idempotent")
		v, err = s.Version(ctx)
		require.NoError(t, err)
		require.Equal(t, sqlstore.SchemaVersion, v)
		var n int
		require.NoError(t, db.QueryRowContext(ctx, "SELECT count(*) FROM access_tokens_migrations").Scan(&n))
		require.Equal(t, sqlstore.SchemaVersion, n)
		if b.dialect == sqlstore.SQLite {
			var applied int64 // Unix microseconds
			require.NoError(t, db.QueryRowContext(ctx, "SELECT applied_at FROM access_tokens_migrations").Scan(&applied))
			require.WithinDuration(t, time.Now(), time.UnixMicro(applied), time.Minute)
		}
	})
}

func TestTableName(t *testing.T) {
	t.Run("sqlite-attached", func(t *testing.T) {
		t.Parallel()
		db := openSQLiteFile(t)
		db.SetMaxOpenConns(1) // ATTACH is per connection
		_, err := db.Exec("ATTACH DATABASE ? AS forge", t.TempDir()+"/forge.db")
		require.NoError(t, err)
		s := newStore(t, db, sqlstore.SQLite, sqlstore.WithTable("forge.tokens"))
		require.Equal(t, "forge.tokens", s.Table())
		exerciseTable(t, s)
		var n int
		require.NoError(t, db.QueryRow("SELECT count(*) FROM forge.sqlite_master WHERE name LIKE 'tokens%'").Scan(&n))
		require.Equal(t, 7, n, "table, migrations table and five indexes (ID, target, owner, created, description) in the attached database")
	})
	t.Run("postgres-schema", func(t *testing.T) {
		t.Parallel()
		schema, open := pgSchema(t)
		db := open(t)
		_, err := db.Exec("SET search_path = public") // the name is qualified; search_path must not matter
		require.NoError(t, err)
		s := newStore(t, db, sqlstore.PostgreSQL, sqlstore.WithTable(schema+".tokens"))
		exerciseTable(t, s)
		var n int
		require.NoError(t, db.QueryRow("SELECT count(*) FROM pg_indexes WHERE schemaname = $1 AND tablename = 'tokens'", schema).Scan(&n))
		require.Equal(t, 6, n, "primary key, digest, target, owner, created and description indexes")
	})
	for _, bad := range []string{"", "Tokens", "a.b.c", "x;drop", "1abc", "a."} {
		_, err := sqlstore.New(openSQLiteMemory(t), sqlstore.SQLite, sqlstore.WithTable(bad))
		require.Error(t, err, "%q", bad)
	}
}

func exerciseTable(t *testing.T, s *sqlstore.Store) {
	t.Helper()
	ctx := context.Background()
	r := rec(1, accesstoken.RepositoryTarget("p", "r"))
	require.NoError(t, s.Insert(ctx, r))
	got, err := s.ByDigest(ctx, r.Digest)
	require.NoError(t, err)
	require.Equal(t, r, got)
	list, err := s.List(ctx, accesstoken.Query{Owner: r.Owner})
	require.NoError(t, err)
	require.Len(t, list, 1)
}

// TestQueryPlans checks that the verification lookup, the description
// check and a whole list are index hits, not scans. (TestListPlans checks
// the pages, in both orders.)
func TestQueryPlans(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		db := openSQLiteFile(t)
		newStore(t, db, sqlstore.SQLite)
		plans := map[string]string{ // query: what its plan must contain
			"SELECT id FROM access_tokens WHERE lookup = ? AND digest = ?":                                     "USING INTEGER PRIMARY KEY (rowid=?)",
			"SELECT id FROM access_tokens WHERE id = ?":                                                        "INDEX access_tokens_id (id=?)",
			"SELECT id FROM access_tokens WHERE project = ? AND repository IN (?, '') ORDER BY created_at, id": "INDEX access_tokens_target",
			"SELECT id FROM access_tokens WHERE owner = ? ORDER BY created_at, id":                             "INDEX access_tokens_owner",
			// The check of a description's uniqueness.
			"SELECT count(*) FROM access_tokens WHERE owner = ? AND project = ? AND repository = ? AND description = ? AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?)": "INDEX access_tokens_description",
		}
		for q, want := range plans {
			rows, err := db.Query("EXPLAIN QUERY PLAN "+q, make([]any, bytes.Count([]byte(q), []byte("?")))...)
			require.NoError(t, err)
			var plan string
			for rows.Next() {
				var id, parent, unused int
				var detail string
				require.NoError(t, rows.Scan(&id, &parent, &unused, &detail))
				plan += detail + "\n"
			}
			require.NoError(t, rows.Err())
			require.Contains(t, plan, want, q)
		}
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		db := openPG(t)
		newStore(t, db, sqlstore.PostgreSQL)
		conn, err := db.Conn(context.Background())
		require.NoError(t, err)
		defer conn.Close()
		// On an empty table the planner prefers anything: take away the
		// scans that are not index scans, and sorting, so that a plan
		// shows whether an index gives the rows in the order asked.
		for _, set := range []string{"SET enable_seqscan = off", "SET enable_bitmapscan = off", "SET enable_sort = off"} {
			_, err = conn.ExecContext(context.Background(), set)
			require.NoError(t, err)
		}
		var plan string
		require.NoError(t, conn.QueryRowContext(context.Background(), "EXPLAIN SELECT id FROM access_tokens WHERE digest = $1", make([]byte, 32)).Scan(&plan))
		require.Contains(t, plan, "access_tokens_digest")
		for q, want := range map[string]string{
			"SELECT count(*) FROM access_tokens WHERE owner = 'o' AND project = 'p' AND repository = 'r' AND description = 'd' AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())": "access_tokens_description",
		} {
			rows, err := conn.QueryContext(context.Background(), "EXPLAIN "+q)
			require.NoError(t, err)
			plan := planText(t, rows)
			require.Contains(t, plan, want, q)
			require.NotContains(t, plan, "Sort", "%s: sorts", q)
		}
	})
}

// TestBusySQLite: while another connection (another process, say) holds
// the SQLite write lock, verifications still succeed without waiting for
// it (Verify never writes), and the last use they noted is written once
// the lock is free.
func TestBusySQLite(t *testing.T) {
	ctx := context.Background()
	path := t.TempDir() + "/busy.db"
	db := openSQLiteDSN(t, sqliteDSN(path))
	s := newStore(t, db, sqlstore.SQLite)
	m, err := accesstoken.New(s, accesstoken.InsecureAllowAll())
	require.NoError(t, err)
	iss, err := m.Issue(ctx, accesstoken.IssueRequest{Description: uuid.NewString(), Owner: "alice", Target: accesstoken.ProjectTarget("demo"), Scopes: []accesstoken.Scope{accesstoken.ScopePull}})
	require.NoError(t, err)

	other := openSQLiteDSN(t, sqliteDSN(path))
	tx, err := other.BeginTx(ctx, nil) // BEGIN IMMEDIATE: takes the write lock
	require.NoError(t, err)
	defer tx.Rollback()
	_, err = tx.ExecContext(ctx, "UPDATE access_tokens SET description = 'busy'")
	require.NoError(t, err)

	res := accesstoken.Resource{Project: "demo", Repository: "x"}
	for range 3 {
		tok, err := m.Verify(ctx, iss.Secret.Reveal(), res, accesstoken.ScopePull)
		require.NoError(t, err)
		require.False(t, tok.LastUsedAt.IsZero(), "the verified token says when it was used")
	}
	stored, err := s.ByID(ctx, iss.Token.ID)
	require.NoError(t, err)
	require.True(t, stored.LastUsedAt.IsZero(), "not written while the lock is held")

	// A flush that gives up while the lock is held keeps the use queued.
	short, cancel := context.WithCancel(ctx)
	cancel()
	require.ErrorIs(t, m.Flush(short), context.Canceled)

	require.NoError(t, tx.Rollback())
	require.NoError(t, m.Flush(ctx))
	stored, err = s.ByID(ctx, iss.Token.ID)
	require.NoError(t, err)
	require.False(t, stored.LastUsedAt.IsZero(), "written once the database is free")
}
