package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/forgekit/accesstoken"
)

// pager lists one page of a Manager's listing.
type pager func(accesstoken.ListOptions) (accesstoken.Page, error)

// collectPages lists every page of a listing from the first, through the
// cursors, and returns their tokens.
func collectPages(t *testing.T, what string, page pager, opts accesstoken.ListOptions) []accesstoken.Token {
	t.Helper()
	var got []accesstoken.Token
	for range 100 {
		p, err := page(opts)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if len(p.Tokens) > opts.Limit || (p.Next != "" && len(p.Tokens) != opts.Limit) {
			t.Fatalf("%s: a page of %d tokens with limit %d, next %q", what, len(p.Tokens), opts.Limit, p.Next)
		}
		got = append(got, p.Tokens...)
		if p.Next == "" {
			return got
		}
		opts.Cursor = p.Next
	}
	t.Fatalf("%s: more than 100 pages", what)
	return nil
}

// testManagerPages: the owner's, the target's and every token, a page at
// a time, through the cursors, with the filters.
func (s suite) testManagerPages(t *testing.T) {
	st := s.store(t)
	m, clk := newManager(t, st)
	var all, alpha []accesstoken.Token
	for i := range 23 {
		tg := accesstoken.ProjectTarget("alpha")
		if i%3 == 1 {
			tg = accesstoken.RepositoryTarget("alpha", "r1")
		} else if i%3 == 2 {
			tg = accesstoken.ProjectTarget("beta")
		}
		req := accesstoken.IssueRequest{Owner: "alice", Target: tg, Scopes: allScopes}
		if i%4 == 0 {
			req.ExpiresAt = clk.Now().Add(time.Duration(i+1) * 24 * time.Hour)
		}
		iss := issue(t, m, clk, req)
		all = append(all, iss.Token)
		if tg.Project == "alpha" {
			alpha = append(alpha, iss.Token)
		}
	}
	bobs := issue(t, m, clk, accesstoken.IssueRequest{Owner: "bob", Target: accesstoken.ProjectTarget("alpha"), Scopes: allScopes})
	if _, err := m.Revoke(t.Context(), "alice", all[5].ID); err != nil {
		t.Fatalf("Revoke: %v", err)
	}

	collect := func(what string, page pager, opts accesstoken.ListOptions) []accesstoken.Token {
		t.Helper()
		return collectPages(t, what, page, opts)
	}
	active := func(toks []accesstoken.Token) []accesstoken.Token {
		return slices.DeleteFunc(slices.Clone(toks), func(tok accesstoken.Token) bool { return tok.ID == all[5].ID })
	}
	owner := func(o accesstoken.ListOptions) (accesstoken.Page, error) {
		return m.PageForOwner(t.Context(), "alice", o)
	}
	project := func(o accesstoken.ListOptions) (accesstoken.Page, error) {
		return m.PageAll(t.Context(), accesstoken.TokenFilter{Target: target(accesstoken.RepositoryTarget("alpha", "r1")), Covering: true}, o)
	}
	everyone := func(o accesstoken.ListOptions) (accesstoken.Page, error) {
		return m.PageAll(t.Context(), accesstoken.TokenFilter{}, o)
	}
	for _, limit := range []int{1, 4, 23, 50} {
		checkIDs(t, fmt.Sprintf("PageForOwner by %d", limit), collect("PageForOwner", owner, accesstoken.ListOptions{Limit: limit}), nil, active(all)...)
		checkIDs(t, fmt.Sprintf("PageForOwner by %d, all states", limit), collect("PageForOwner", owner, accesstoken.ListOptions{Limit: limit, State: accesstoken.StateAll}), nil, all...)
		checkIDs(t, fmt.Sprintf("PageForTarget by %d", limit), collect("PageForTarget", func(o accesstoken.ListOptions) (accesstoken.Page, error) {
			return m.PageForTarget(t.Context(), "alice", accesstoken.RepositoryTarget("alpha", "r1"), o)
		}, accesstoken.ListOptions{Limit: limit, IncludeInactive: true}), nil, append(slices.Clone(alpha), bobs.Token)...)
		checkIDs(t, fmt.Sprintf("PageAll by %d", limit), collect("PageAll", everyone, accesstoken.ListOptions{Limit: limit, State: accesstoken.StateAll}), nil, append(slices.Clone(all), bobs.Token)...)
		checkIDs(t, fmt.Sprintf("PageAll of alpha/r1 by %d", limit), collect("PageAll", project, accesstoken.ListOptions{Limit: limit, State: accesstoken.StateAll}), nil, append(slices.Clone(alpha), bobs.Token)...)
	}
	checkIDs(t, "PageForOwner, inactive", collect("PageForOwner", owner, accesstoken.ListOptions{Limit: 3, State: accesstoken.StateInactive}), nil, all[5])
	week := clk.Now().Add(7 * 24 * time.Hour)
	var expiring []accesstoken.Token
	for _, tok := range active(all) {
		if !tok.ExpiresAt.IsZero() && tok.ExpiresAt.Before(week) {
			expiring = append(expiring, tok)
		}
	}
	if len(expiring) == 0 {
		t.Fatal("no token expires within a week; the test wants some")
	}
	checkIDs(t, "PageAll, active, expiring within a week", collect("PageAll", everyone, accesstoken.ListOptions{Limit: 2, ExpiringBefore: week}), nil, expiring...)
	toks, err := m.ListForOwner(t.Context(), "alice", accesstoken.ListOptions{Limit: 3})
	checkIDs(t, "ListForOwner, limit 3", toks, err, all[:3]...)
	p, err := m.PageForOwner(t.Context(), "alice", accesstoken.ListOptions{})
	if err != nil || len(p.Tokens) != len(all)-1 || p.Next != "" {
		t.Fatalf("PageForOwner, default limit: got %d tokens, next %q, %v", len(p.Tokens), p.Next, err)
	}
	for _, bad := range []accesstoken.ListOptions{{Limit: -1}, {Limit: accesstoken.MaxPageSize + 1}, {Cursor: "nope"}, {State: 9}} {
		if _, err := m.PageForOwner(t.Context(), "alice", bad); !errors.Is(err, accesstoken.ErrBadListOptions) || !errors.Is(err, accesstoken.ErrInvalidInput) {
			t.Fatalf("PageForOwner(%+v): got %v; want ErrBadListOptions", bad, err)
		}
	}
}

// testManagerPagesNewestFirst: the Page methods newest first, through
// their cursors, with tokens issued in the same microsecond (ordered by
// ID, the reverse of oldest first), with the filters; a cursor goes on
// in the order of its listing only, and one of the other order is
// refused.
func (s suite) testManagerPagesNewestFirst(t *testing.T) {
	st := s.store(t)
	m, clk := newManager(t, st)
	ctx := t.Context()
	r1 := accesstoken.RepositoryTarget("alpha", "r1")
	var all []accesstoken.Token // alice's, in every state
	for i := range 15 {
		tg := accesstoken.ProjectTarget("alpha")
		if i%2 == 1 {
			tg = r1
		}
		req := accesstoken.IssueRequest{Owner: "alice", Target: tg, Scopes: allScopes, Description: fmt.Sprintf("newest first %d", i)}
		if i%5 == 0 {
			req.ExpiresAt = clk.Now().Add(time.Duration(i+1) * time.Hour)
		}
		iss, err := m.Issue(ctx, req)
		if err != nil {
			t.Fatalf("Issue(%s): %v", req.Description, err)
		}
		all = append(all, iss.Token)
		if i%3 == 2 { // three tokens at each time: ties that the IDs order
			clk.Advance(time.Second)
		}
	}
	if _, err := m.Revoke(ctx, "alice", all[4].ID); err != nil {
		t.Fatalf("Revoke: %v", err)
	}
	all[4].RevokedAt = clk.Stored()
	slices.SortFunc(all, func(a, b accesstoken.Token) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return bytes.Compare(a.ID[:], b.ID[:])
	})
	newest := reversed(all)
	keep := func(toks []accesstoken.Token, f func(accesstoken.Token) bool) []accesstoken.Token {
		var out []accesstoken.Token
		for _, tok := range toks {
			if f(tok) {
				out = append(out, tok)
			}
		}
		return out
	}
	now := clk.Now()
	active := keep(newest, func(tok accesstoken.Token) bool { return tok.Active(now) })
	projectOnly := keep(newest, func(tok accesstoken.Token) bool { return tok.Target.IsProject() })
	soon := now.Add(11 * time.Hour)
	expiring := keep(active, func(tok accesstoken.Token) bool { return !tok.ExpiresAt.IsZero() && tok.ExpiresAt.Before(soon) })
	if len(expiring) < 2 || len(active) == len(newest) {
		t.Fatalf("%d tokens expiring, %d active of %d; the test wants several expiring and one inactive", len(expiring), len(active), len(newest))
	}
	owner := func(o accesstoken.ListOptions) (accesstoken.Page, error) { return m.PageForOwner(ctx, "alice", o) }
	repo := func(o accesstoken.ListOptions) (accesstoken.Page, error) { return m.PageForTarget(ctx, "alice", r1, o) }
	project := func(o accesstoken.ListOptions) (accesstoken.Page, error) {
		return m.PageForTarget(ctx, "alice", accesstoken.ProjectTarget("alpha"), o)
	}
	everyone := func(o accesstoken.ListOptions) (accesstoken.Page, error) {
		return m.PageAll(ctx, accesstoken.TokenFilter{}, o)
	}
	for _, limit := range []int{1, 2, 3, 4, len(newest), len(newest) + 1} {
		opts := func(st accesstoken.State) accesstoken.ListOptions {
			return accesstoken.ListOptions{Order: accesstoken.NewestFirst, State: st, Limit: limit}
		}
		for _, c := range []struct {
			name string
			page pager
			opts accesstoken.ListOptions
			want []accesstoken.Token
		}{
			{"PageForOwner, active", owner, opts(accesstoken.StateActive), active},
			{"PageForOwner, all states", owner, opts(accesstoken.StateAll), newest},
			{"PageForTarget of alpha/r1 (covering), all states", repo, opts(accesstoken.StateAll), newest},
			{"PageForTarget of project alpha, all states", project, opts(accesstoken.StateAll), projectOnly},
			{"PageAll, all states", everyone, opts(accesstoken.StateAll), newest},
			{"PageAll, active, expiring", everyone, accesstoken.ListOptions{Order: accesstoken.NewestFirst, ExpiringBefore: soon, Limit: limit}, expiring},
		} {
			what := fmt.Sprintf("%s, newest first, by %d", c.name, limit)
			checkIDs(t, what, collectPages(t, what, c.page, c.opts), nil, c.want...)
			c.opts.Order = accesstoken.OldestFirst
			what = fmt.Sprintf("%s, oldest first, by %d", c.name, limit)
			checkIDs(t, what, collectPages(t, what, c.page, c.opts), nil, reversed(c.want)...)
		}
	}
	toks, err := m.ListForOwner(ctx, "alice", accesstoken.ListOptions{Order: accesstoken.NewestFirst, Limit: 3})
	checkIDs(t, "ListForOwner, newest first, limit 3", toks, err, active[:3]...)

	// A cursor goes on in its own order only.
	for _, page := range []pager{owner, repo, everyone} {
		for _, made := range []accesstoken.Order{accesstoken.OldestFirst, accesstoken.NewestFirst} {
			p, err := page(accesstoken.ListOptions{Order: made, State: accesstoken.StateAll, Limit: 2})
			if err != nil || p.Next == "" {
				t.Fatalf("a first page %v: %d tokens, next %q, %v", made, len(p.Tokens), p.Next, err)
			}
			other := accesstoken.NewestFirst
			if made == accesstoken.NewestFirst {
				other = accesstoken.OldestFirst
			}
			bad := accesstoken.ListOptions{Order: other, State: accesstoken.StateAll, Limit: 2, Cursor: p.Next}
			if got, err := page(bad); !errors.Is(err, accesstoken.ErrBadListOptions) || !errors.Is(err, accesstoken.ErrInvalidInput) {
				t.Fatalf("the cursor of a page %v, used %v: got %d tokens, %v; want ErrBadListOptions", made, other, len(got.Tokens), err)
			}
			next, err := page(accesstoken.ListOptions{Order: made, State: accesstoken.StateAll, Limit: 2, Cursor: p.Next})
			if err != nil || len(next.Tokens) != 2 {
				t.Fatalf("the cursor of a page %v, used %v: got %d tokens, %v; want 2", made, made, len(next.Tokens), err)
			}
		}
	}
	for _, o := range []accesstoken.Order{2, 255} {
		if _, err := m.PageForOwner(ctx, "alice", accesstoken.ListOptions{Order: o}); !errors.Is(err, accesstoken.ErrBadListOptions) || !errors.Is(err, accesstoken.ErrInvalidInput) {
			t.Fatalf("PageForOwner(Order %v): got %v; want ErrBadListOptions", o, err)
		}
	}
}
