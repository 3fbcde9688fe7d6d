package drivertest_test

import (
	"context"
	"database/sql"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/forgekit/accesstoken"
	"github.com/forgekit/accesstoken/sqlstore"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

// schemaV1 creates, on db, the schema of version 1 exactly as sqlstore's
// first migration did (read from its file, rendered for the default table
// name) and records it as applied, as Migrate would have.
func schemaV1(t *testing.T, db *sql.DB, d sqlstore.Dialect) {
	t.Helper()
	src, err := os.ReadFile("../migrations/" + string(d) + "/0001_create.sql")
	require.NoError(t, err)
	placeholder := regexp.MustCompile(`\{\{(table|tablename)\}\}|\{\{(index|constraint) "([a-z_]+)"\}\}`)
	sqlText := placeholder.ReplaceAllStringFunc(string(src), func(p string) string {
		if m := placeholder.FindStringSubmatch(p); m[3] != "" {
			return "access_tokens_" + m[3]
		}
		return "access_tokens"
	})
	var stmt strings.Builder
	for line := range strings.Lines(sqlText) {
		if strings.HasPrefix(strings.TrimSpace(line), "--") {
			continue
		}
		stmt.WriteString(line)
		if strings.HasSuffix(strings.TrimSpace(line), ";") {
			_, err := db.Exec(stmt.String())
			require.NoError(t, err, stmt.String())
			stmt.Reset()
		}
	}
	applied := "timestamptz NOT NULL DEFAULT now()"
	if d == sqlstore.SQLite {
		applied = "INTEGER NOT NULL DEFAULT 0"
	}
	_, err = db.Exec("CREATE TABLE access_tokens_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at " + applied + ")")
	require.NoError(t, err)
	_, err = db.Exec("INSERT INTO access_tokens_migrations (version, name) VALUES (1, '0001_create.sql')")
	require.NoError(t, err)
}

// insertV1 writes rec into the version-1 table by hand, with the columns
// that version had.
func insertV1(t *testing.T, db *sql.DB, d sqlstore.Dialect, rec accesstoken.Record) {
	t.Helper()
	kind := "repository"
	if rec.Target.IsProject() {
		kind = "project"
	}
	tm := func(x time.Time) any {
		switch {
		case x.IsZero():
			return nil
		case d == sqlstore.SQLite:
			return x.UnixMicro()
		}
		return x
	}
	id := func(u uuid.UUID) any {
		switch {
		case u == uuid.Nil:
			return nil
		case d == sqlstore.SQLite:
			return u[:]
		}
		return u.String()
	}
	cols := "id, digest, owner, description, target_kind, project, repository, scopes, created_at, expires_at, last_used_at, revoked_at, revoked_by, replaced_by"
	args := []any{id(rec.ID), rec.Digest[:], rec.Owner, rec.Description, kind, rec.Target.Project, rec.Target.Repository,
		rec.Scopes.String(), tm(rec.CreatedAt), tm(rec.ExpiresAt), tm(rec.LastUsedAt), tm(rec.RevokedAt), rec.RevokedBy, id(rec.ReplacedBy)}
	q := "INSERT INTO access_tokens (" + cols + ", lookup) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
	if d == sqlstore.SQLite {
		args = append(args, lookupOf(rec.Digest))
	} else {
		q = "INSERT INTO access_tokens (" + cols + ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
	}
	_, err := db.Exec(q, args...)
	require.NoError(t, err)
}

// TestUpgradeFromVersion1: a database of schema version 1, holding tokens
// in every state (and two active tokens that share a description, which
// version 1 allowed), is migrated to the current version by Migrate: every
// token reads back as it was (with no revocation reason), verifies or is
// refused as before, and the new behaviour works on it.
func TestUpgradeFromVersion1(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		db := b.open(t)
		schemaV1(t, db, b.dialect)
		s, err := sqlstore.New(db, b.dialect)
		require.NoError(t, err)
		t.Cleanup(func() { s.Close() })
		v, err := s.Version(ctx)
		require.NoError(t, err)
		require.Equal(t, 1, v)

		now := time.Now().UTC().Truncate(time.Microsecond)
		m, err := accesstoken.New(s, accesstoken.InsecureAllowAll(), accesstoken.WithClock(func() time.Time { return now }))
		require.NoError(t, err)
		secrets := map[string]string{}
		mk := func(name, owner, desc string, target accesstoken.Target, age time.Duration) accesstoken.Record {
			sec, err := m.Format().Generate()
			require.NoError(t, err)
			secrets[name] = sec.Reveal()
			return accesstoken.Record{Token: accesstoken.Token{
				ID: uuid.New(), Owner: owner, Description: desc, Target: target,
				Scopes:    accesstoken.NewScopeSet(accesstoken.ScopePull, accesstoken.ScopePush),
				CreatedAt: now.Add(-age),
			}, Digest: m.Digest(sec.Reveal())}
		}
		repo := accesstoken.RepositoryTarget("demo", "hello")
		live := mk("live", "alice", "CI", repo, 48*time.Hour)
		live.ExpiresAt, live.LastUsedAt = now.Add(24*time.Hour), now.Add(-time.Hour)
		twin := mk("twin", "alice", "CI", repo, 47*time.Hour) // the same description: version 1 allowed it
		noDesc := mk("no description", "alice", "", accesstoken.ProjectTarget("demo"), 46*time.Hour)
		revoked := mk("revoked", "bob", "old", repo, 45*time.Hour)
		revoked.RevokedAt, revoked.RevokedBy = now.Add(-40*24*time.Hour), "alice"
		next := mk("rotated to", "bob", "rotating", repo, 35*24*time.Hour)
		rotated := mk("rotated", "bob", "rotating", repo, 60*24*time.Hour)
		rotated.RevokedAt, rotated.RevokedBy, rotated.ReplacedBy = next.CreatedAt, "bob", next.ID
		expired := mk("expired", "carol", "gone", accesstoken.RepositoryTarget("", "personal"), 90*24*time.Hour)
		expired.ExpiresAt = now.Add(-60 * 24 * time.Hour)
		all := []accesstoken.Record{live, twin, noDesc, revoked, next, rotated, expired}
		for _, r := range all {
			insertV1(t, db, b.dialect, r)
		}

		require.NoError(t, s.Migrate(ctx))
		v, err = s.Version(ctx)
		require.NoError(t, err)
		require.Equal(t, sqlstore.SchemaVersion, v)
		for _, r := range all {
			got, err := s.ByID(ctx, r.ID)
			require.NoError(t, err, r.Description)
			require.Equal(t, r, got, "%s after the upgrade", r.Description)
			got, err = s.ByDigest(ctx, r.Digest)
			require.NoError(t, err)
			require.Equal(t, r, got)
		}
		res := accesstoken.Resource{Project: "demo", Repository: "hello"}
		for name, want := range map[string]error{"live": nil, "twin": nil, "revoked": accesstoken.ErrRevoked, "rotated": accesstoken.ErrRevoked, "rotated to": nil} {
			_, err := m.Verify(ctx, secrets[name], res, accesstoken.ScopePull)
			if want == nil {
				require.NoError(t, err, name)
			} else {
				require.ErrorIs(t, err, want, name)
			}
		}
		toks, err := m.ListForOwner(ctx, "alice", accesstoken.ListOptions{})
		require.NoError(t, err)
		require.Len(t, toks, 3)

		// The new behaviour on the old data: descriptions are checked
		// from now on (the twins stay, and rotate), reasons recorded,
		// pages, retention.
		_, err = m.Issue(ctx, accesstoken.IssueRequest{Owner: "alice", Description: "CI", Target: repo, Scopes: []accesstoken.Scope{accesstoken.ScopePull}})
		require.ErrorIs(t, err, accesstoken.ErrDuplicateDescription)
		_, err = m.Rotate(ctx, "alice", twin.ID)
		require.NoError(t, err, "a legacy twin rotates")
		tok, err := m.RevokeWithReason(ctx, "alice", live.ID, "moved to another runner")
		require.NoError(t, err)
		require.Equal(t, "moved to another runner", tok.RevocationReason)
		p, err := m.PageAll(ctx, accesstoken.TokenFilter{}, accesstoken.ListOptions{State: accesstoken.StateAll, Limit: 3})
		require.NoError(t, err)
		require.Len(t, p.Tokens, 3)
		require.Equal(t, []uuid.UUID{expired.ID, rotated.ID, next.ID}, []uuid.UUID{p.Tokens[0].ID, p.Tokens[1].ID, p.Tokens[2].ID}, "oldest first")
		n, err := m.DeleteInactive(ctx, 30*24*time.Hour)
		require.NoError(t, err)
		require.Equal(t, 3, n, "revoked, rotated and expired, all more than 30 days ago")
		require.NoError(t, s.Migrate(ctx), "Migrate is idempotent")
	})
}
