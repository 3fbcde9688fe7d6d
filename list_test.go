package accesstoken_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/forgekit/accesstoken"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

func TestListForTarget(t *testing.T) {
	e := newEnv(t)
	p := issue(t, e.m, accesstoken.ProjectTarget("demo"), accesstoken.ScopePull)
	e.clock.Advance(time.Second)
	r := issue(t, e.m, accesstoken.RepositoryTarget("demo", "hello"), accesstoken.ScopePull)
	e.clock.Advance(time.Second)
	issue(t, e.m, accesstoken.RepositoryTarget("demo", "world"), accesstoken.ScopePull)
	issue(t, e.m, accesstoken.ProjectTarget("other"), accesstoken.ScopePull)
	revoked := issue(t, e.m, accesstoken.RepositoryTarget("demo", "hello"), accesstoken.ScopePull)
	_, err := e.m.Revoke(ctx, "alice", revoked.Token.ID)
	require.NoError(t, err)

	ids := func(toks []accesstoken.Token) (out []uuid.UUID) {
		for _, t := range toks {
			out = append(out, t.ID)
		}
		return out
	}
	got, err := e.m.ListForTarget(ctx, "alice", accesstoken.RepositoryTarget("demo", "hello"), accesstoken.ListOptions{})
	require.NoError(t, err)
	require.Equal(t, []uuid.UUID{p.Token.ID, r.Token.ID}, ids(got), "repository page lists the project tokens covering it")
	got, err = e.m.ListForTarget(ctx, "alice", accesstoken.RepositoryTarget("demo", "hello"), accesstoken.ListOptions{IncludeInactive: true})
	require.NoError(t, err)
	require.Equal(t, []uuid.UUID{p.Token.ID, r.Token.ID, revoked.Token.ID}, ids(got))
	got, err = e.m.ListForTarget(ctx, "alice", accesstoken.ProjectTarget("demo"), accesstoken.ListOptions{})
	require.NoError(t, err)
	require.Equal(t, []uuid.UUID{p.Token.ID}, ids(got))
	got, err = e.m.ListForOwner(ctx, "alice", accesstoken.ListOptions{})
	require.NoError(t, err)
	require.Len(t, got, 4)
}

// TestPagesAndRetentionErrors: cursors are opaque and checked; the
// retention is an event.
func TestPagesAndRetentionErrors(t *testing.T) {
	e := newEnv(t)
	for range 5 {
		issue(t, e.m, accesstoken.ProjectTarget("demo"), accesstoken.ScopePull)
		e.clock.Advance(time.Second)
	}
	p, err := e.m.PageForOwner(ctx, "alice", accesstoken.ListOptions{Limit: 2})
	require.NoError(t, err)
	require.Len(t, p.Tokens, 2)
	require.NotEmpty(t, p.Next)
	require.NotContains(t, p.Next, p.Tokens[1].ID.String(), "the cursor is opaque")
	for _, bad := range []string{p.Next[:len(p.Next)-1], p.Next + "A", "!" + p.Next[1:], strings.Repeat("A", len(p.Next))} {
		_, err := e.m.PageForOwner(ctx, "alice", accesstoken.ListOptions{Cursor: bad})
		require.ErrorIs(t, err, accesstoken.ErrBadListOptions, "%q", bad)
	}
	next, err := e.m.PageForOwner(ctx, "alice", accesstoken.ListOptions{Limit: 2, Cursor: p.Next})
	require.NoError(t, err)
	require.Len(t, next.Tokens, 2)
	require.True(t, next.Tokens[0].CreatedAt.After(p.Tokens[1].CreatedAt))
	require.Equal(t, "active", accesstoken.StateActive.String())
	require.Equal(t, "State(7)", accesstoken.State(7).String())

	_, err = e.m.Revoke(ctx, "alice", p.Tokens[0].ID)
	require.NoError(t, err)
	e.clock.Advance(time.Hour)
	e.ev.all = nil
	n, err := e.m.DeleteInactive(ctx, time.Minute)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.Len(t, e.ev.all, 1)
	require.Equal(t, accesstoken.EventPurged, e.ev.all[0].Kind)
	require.Equal(t, 1, e.ev.all[0].Count)

	e.perms.fail(errors.New("down"))
	_, err = e.m.PageForTarget(ctx, "alice", accesstoken.ProjectTarget("demo"), accesstoken.ListOptions{})
	require.ErrorIs(t, err, accesstoken.ErrAuthorizerFailure)
}
