package accesstoken_test

import (
	"context"
	"testing"
	"time"

	"github.com/forgekit/accesstoken"
	"github.com/forgekit/accesstoken/memstore"
	"github.com/stretchr/testify/require"
)

func TestRotate(t *testing.T) {
	e := newEnv(t)
	exp := e.clock.Now().Add(48 * time.Hour)
	iss, err := e.m.Issue(ctx, accesstoken.IssueRequest{
		Owner: "alice", Description: "deploy", Target: accesstoken.RepositoryTarget("demo", "hello"),
		Scopes: []accesstoken.Scope{accesstoken.ScopePull, accesstoken.ScopePush}, ExpiresAt: exp,
	})
	require.NoError(t, err)
	e.clock.Advance(time.Minute)

	// Someone else, even a manager, may not hold a secret acting as alice.
	e.perms.set("carol", "demo", true)
	_, err = e.m.Rotate(ctx, "carol", iss.Token.ID)
	require.ErrorIs(t, err, accesstoken.ErrForbidden)
	_, err = e.m.Rotate(ctx, "bob", iss.Token.ID)
	require.ErrorIs(t, err, accesstoken.ErrNotFound)

	next, err := e.m.Rotate(ctx, "alice", iss.Token.ID)
	require.NoError(t, err)
	require.NotEqual(t, iss.Token.ID, next.Token.ID)
	require.NotEqual(t, iss.Secret.Reveal(), next.Secret.Reveal())
	require.Equal(t, iss.Token.Description, next.Token.Description)
	require.Equal(t, iss.Token.Scopes, next.Token.Scopes)
	require.Equal(t, iss.Token.Target, next.Token.Target)
	require.Equal(t, exp, next.Token.ExpiresAt)
	require.Equal(t, e.clock.Now(), next.Token.CreatedAt)

	_, err = e.m.Verify(ctx, iss.Secret.Reveal(), hello, accesstoken.ScopePull)
	require.ErrorIs(t, err, accesstoken.ErrRevoked)
	_, err = e.m.Verify(ctx, next.Secret.Reveal(), hello, accesstoken.ScopePush)
	require.NoError(t, err)
	old, err := e.m.Get(ctx, "alice", iss.Token.ID)
	require.NoError(t, err)
	require.Equal(t, next.Token.ID, old.ReplacedBy)

	_, err = e.m.Rotate(ctx, "alice", iss.Token.ID)
	require.ErrorIs(t, err, accesstoken.ErrRevoked)
	e.clock.Advance(48 * time.Hour)
	_, err = e.m.Rotate(ctx, "alice", next.Token.ID)
	require.ErrorIs(t, err, accesstoken.ErrExpired)
	require.Equal(t, []accesstoken.EventKind{"issued", "rotated", "rejected", "used"}, e.ev.kinds()[:4])
}

func TestRotateAppliesMaxLifetime(t *testing.T) {
	store := memstore.New()
	c := newClock()
	m, err := accesstoken.New(store, newPerms(), accesstoken.WithClock(c.Now))
	require.NoError(t, err)
	iss := issue(t, m, accesstoken.ProjectTarget("demo"), accesstoken.ScopePull)
	require.True(t, iss.Token.ExpiresAt.IsZero())

	// The policy is introduced later: the replacement obeys it.
	capped, err := accesstoken.New(store, newPerms(), accesstoken.WithClock(c.Now), accesstoken.WithMaxLifetime(24*time.Hour))
	require.NoError(t, err)
	next, err := capped.Rotate(context.Background(), "alice", iss.Token.ID)
	require.NoError(t, err)
	require.Equal(t, c.Now().Add(24*time.Hour), next.Token.ExpiresAt)
}
