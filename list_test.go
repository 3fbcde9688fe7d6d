package accesstoken_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/forgekit/accesstoken"
	"github.com/forgekit/accesstoken/memstore"
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

// TestPagesNewestFirst: newest first, pages go from the newest token to
// the oldest through their cursors; a cursor goes on in the order of its
// listing only; an unknown order is refused.
func TestPagesNewestFirst(t *testing.T) {
	e := newEnv(t)
	var toks []uuid.UUID
	for range 5 {
		toks = append(toks, issue(t, e.m, accesstoken.ProjectTarget("demo"), accesstoken.ScopePull).Token.ID)
		e.clock.Advance(time.Second)
	}
	ids := func(p accesstoken.Page) (out []uuid.UUID) {
		for _, tok := range p.Tokens {
			out = append(out, tok.ID)
		}
		return out
	}
	newest := accesstoken.ListOptions{Order: accesstoken.NewestFirst, Limit: 2}
	var got [][]uuid.UUID
	for {
		p, err := e.m.PageForOwner(ctx, "alice", newest)
		require.NoError(t, err)
		got = append(got, ids(p))
		if p.Next == "" {
			break
		}
		newest.Cursor = p.Next
	}
	require.Equal(t, [][]uuid.UUID{{toks[4], toks[3]}, {toks[2], toks[1]}, {toks[0]}}, got)

	// Each order's cursor, used with the other order.
	first, err := e.m.PageForOwner(ctx, "alice", accesstoken.ListOptions{Order: accesstoken.NewestFirst, Limit: 2})
	require.NoError(t, err)
	_, err = e.m.PageForOwner(ctx, "alice", accesstoken.ListOptions{Limit: 2, Cursor: first.Next})
	require.ErrorIs(t, err, accesstoken.ErrBadListOptions)
	require.ErrorIs(t, err, accesstoken.ErrInvalidInput)
	require.Contains(t, err.Error(), "the cursor is of a listing newest first, not oldest first")
	old, err := e.m.PageForOwner(ctx, "alice", accesstoken.ListOptions{Limit: 2})
	require.NoError(t, err)
	_, err = e.m.PageForOwner(ctx, "alice", accesstoken.ListOptions{Order: accesstoken.NewestFirst, Limit: 2, Cursor: old.Next})
	require.ErrorIs(t, err, accesstoken.ErrBadListOptions)
	require.ErrorIs(t, err, accesstoken.ErrInvalidInput)
	require.NotEqual(t, first.Next, old.Next)

	_, err = e.m.PageForOwner(ctx, "alice", accesstoken.ListOptions{Order: 2})
	require.ErrorIs(t, err, accesstoken.ErrBadListOptions)
	for _, c := range []struct {
		in   accesstoken.Order
		want string
	}{{accesstoken.OldestFirst, "oldest first"}, {accesstoken.NewestFirst, "newest first"}, {7, "Order(7)"}} {
		if got := c.in.String(); got != c.want {
			t.Errorf("Order(%d).String(): got %q; want %q", uint8(c.in), got, c.want)
		}
	}
}

// orderBlindStore lists oldest first whatever the order asked, as a Store
// written before Query.Order does.
type orderBlindStore struct{ accesstoken.Store }

func (s orderBlindStore) List(ctx context.Context, q accesstoken.Query) ([]accesstoken.Record, error) {
	q.Order, q.After = accesstoken.OldestFirst, accesstoken.Position{}
	return s.Store.List(ctx, q)
}

// TestListOutOfOrder: a store that lists in another order than the one
// asked fails the listing as a store failure; it never makes a page, nor
// a cursor that would skip tokens.
func TestListOutOfOrder(t *testing.T) {
	store := memstore.New()
	clk := newClock()
	m, err := accesstoken.New(orderBlindStore{store}, accesstoken.InsecureAllowAll(), accesstoken.WithClock(clk.Now))
	require.NoError(t, err)
	for range 3 {
		issue(t, m, accesstoken.ProjectTarget("demo"), accesstoken.ScopePull)
		clk.Advance(time.Second)
	}
	p, err := m.PageForOwner(ctx, "alice", accesstoken.ListOptions{Order: accesstoken.NewestFirst})
	require.ErrorIs(t, err, accesstoken.ErrStoreFailure, "%d tokens", len(p.Tokens))
	require.Empty(t, p.Tokens)
	// Oldest first, the second page starts again from the first token.
	p, err = m.PageForOwner(ctx, "alice", accesstoken.ListOptions{Limit: 1})
	require.NoError(t, err)
	_, err = m.PageForOwner(ctx, "alice", accesstoken.ListOptions{Limit: 1, Cursor: p.Next})
	require.ErrorIs(t, err, accesstoken.ErrStoreFailure)
}
