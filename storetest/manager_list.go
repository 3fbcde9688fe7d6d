package storetest

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/forgekit/accesstoken"
)

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

	collect := func(what string, page func(accesstoken.ListOptions) (accesstoken.Page, error), opts accesstoken.ListOptions) []accesstoken.Token {
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
