package storetest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/forgekit/accesstoken"
)

// The Manager operations of incident response, self-revocation, rotation
// with a new expiry, pages, unique descriptions and retention, over the
// store.

// testManagerRevokeLeaked: a leaked token is revoked by a system actor,
// whoever owns it, with the reason, and fails the next verification.
func (s suite) testManagerRevokeLeaked(t *testing.T) {
	st := s.store(t)
	m, clk := newManager(t, st)
	res := accesstoken.Resource{Project: "alpha", Repository: "r1"}
	leaked := issue(t, m, clk, accesstoken.IssueRequest{Owner: "bob", Target: accesstoken.ProjectTarget("alpha"), Scopes: allScopes})
	other := issue(t, m, clk, accesstoken.IssueRequest{Owner: "bob", Target: accesstoken.ProjectTarget("alpha"), Scopes: allScopes})
	actor, err := accesstoken.SystemActor("push-protection")
	if err != nil {
		t.Fatalf("SystemActor: %v", err)
	}
	at := clk.Stored()
	tok, err := m.RevokeLeaked(t.Context(), leaked.Secret.Reveal(), actor, "found in a push to beta/r1")
	if err != nil {
		t.Fatalf("RevokeLeaked: %v", err)
	}
	want := asRecord(m, leaked)
	want.RevokedAt, want.RevokedBy, want.RevocationReason = at, "system:push-protection", "found in a push to beta/r1"
	checkRecord(t, "RevokeLeaked", &accesstoken.Record{Token: tok, Digest: want.Digest}, want)
	checkStored(t, st, want)
	verify(t, m, "leaked", leaked.Secret, res, accesstoken.ScopePull, accesstoken.ErrRevoked)
	verify(t, m, "other", other.Secret, res, accesstoken.ScopePull, nil)

	// Again: the first revocation stands.
	clk.Advance(time.Minute)
	if _, err := m.RevokeLeaked(t.Context(), leaked.Secret.Reveal(), actor, "found again"); err != nil {
		t.Fatalf("RevokeLeaked again: %v", err)
	}
	checkStored(t, st, want)

	unknown, _ := m.Format().Generate()
	for _, c := range []struct {
		name, secret, actor, reason string
		want                        error
	}{
		{"unknown token", unknown.Reveal(), actor, "x", accesstoken.ErrUnknownToken},
		{"malformed token", "gat_nope", actor, "x", accesstoken.ErrMalformed},
		{"a user as actor", other.Secret.Reveal(), "alice", "x", accesstoken.ErrBadOwner},
		{"no reason", other.Secret.Reveal(), actor, "", accesstoken.ErrBadReason},
		{"a reason with a bidirectional override", other.Secret.Reveal(), actor, "found in \u202egnp.exe", accesstoken.ErrBadReason},
	} {
		if _, err := m.RevokeLeaked(t.Context(), c.secret, c.actor, c.reason); !errors.Is(err, c.want) {
			t.Fatalf("RevokeLeaked(%s): got %v; want %v", c.name, err, c.want)
		}
	}
	verify(t, m, "other, after the refused calls", other.Secret, res, accesstoken.ScopePull, nil)
}

// testManagerRevokeOwner: every active token of an account is revoked by a
// system actor, with the reason; the others' tokens work on.
func (s suite) testManagerRevokeOwner(t *testing.T) {
	st := s.store(t)
	m, clk := newManager(t, st)
	res := accesstoken.Resource{Project: "alpha", Repository: "r1"}
	var bobs []*accesstoken.Issued
	for _, tg := range []accesstoken.Target{accesstoken.ProjectTarget("alpha"), accesstoken.RepositoryTarget("alpha", "r1"), accesstoken.ProjectTarget("beta")} {
		bobs = append(bobs, issue(t, m, clk, accesstoken.IssueRequest{Owner: "bob", Target: tg, Scopes: allScopes}))
	}
	revoked := issue(t, m, clk, accesstoken.IssueRequest{Owner: "bob", Target: accesstoken.ProjectTarget("alpha"), Scopes: allScopes})
	if _, err := m.RevokeWithReason(t.Context(), "bob", revoked.Token.ID, "not needed"); err != nil {
		t.Fatalf("RevokeWithReason: %v", err)
	}
	alices := issue(t, m, clk, accesstoken.IssueRequest{Owner: "alice", Target: accesstoken.ProjectTarget("alpha"), Scopes: allScopes})
	at := clk.Stored()
	n, err := m.RevokeOwner(t.Context(), "bob", "system:account-deactivation", "account deactivated")
	if err != nil || n != len(bobs) {
		t.Fatalf("RevokeOwner(bob): got %d, %v; want %d", n, err, len(bobs))
	}
	for _, iss := range bobs {
		verify(t, m, "bob's", iss.Secret, res, accesstoken.ScopePull, accesstoken.ErrRevoked)
		want := asRecord(m, iss)
		want.RevokedAt, want.RevokedBy, want.RevocationReason = at, "system:account-deactivation", "account deactivated"
		checkStored(t, st, want)
	}
	if got := byID(t, st, revoked.Token.ID); got.RevokedBy != "bob" || got.RevocationReason != "not needed" {
		t.Fatalf("bob's token revoked before: RevokedBy %q, RevocationReason %q; want the first revocation's", got.RevokedBy, got.RevocationReason)
	}
	verify(t, m, "alice's", alices.Secret, res, accesstoken.ScopePull, nil)
	toks, err := m.ListForOwner(t.Context(), "bob", accesstoken.ListOptions{})
	checkIDs(t, "bob's active tokens", toks, err)

	for _, c := range []struct {
		name, owner, actor, reason string
		want                       error
	}{
		{"a user as actor", "alice", "bob", "x", accesstoken.ErrBadOwner},
		{"a system actor as owner", "system:x", "system:y", "x", accesstoken.ErrBadOwner},
		{"no reason", "alice", "system:x", "", accesstoken.ErrBadReason},
		{"no owner", "", "system:x", "x", accesstoken.ErrBadOwner},
	} {
		if _, err := m.RevokeOwner(t.Context(), c.owner, c.actor, c.reason); !errors.Is(err, c.want) {
			t.Fatalf("RevokeOwner(%s): got %v; want %v", c.name, err, c.want)
		}
	}
	verify(t, m, "alice's, after the refused calls", alices.Secret, res, accesstoken.ScopePull, nil)
}

// testManagerRevokeSelf: a token revokes itself given its secret.
func (s suite) testManagerRevokeSelf(t *testing.T) {
	st := s.store(t)
	m, clk := newManager(t, st)
	res := accesstoken.Resource{Project: "alpha", Repository: "r1"}
	iss := issue(t, m, clk, accesstoken.IssueRequest{Owner: "alice", Target: accesstoken.ProjectTarget("alpha"), Scopes: allScopes})
	at := clk.Stored()
	tok, err := m.RevokeSelf(t.Context(), iss.Secret.Reveal())
	if err != nil {
		t.Fatalf("RevokeSelf: %v", err)
	}
	want := asRecord(m, iss)
	want.RevokedAt, want.RevokedBy = at, "alice"
	checkRecord(t, "RevokeSelf", &accesstoken.Record{Token: tok, Digest: want.Digest}, want)
	checkStored(t, st, want)
	verify(t, m, "revoked itself", iss.Secret, res, accesstoken.ScopePull, accesstoken.ErrRevoked)
	if _, err := m.RevokeSelf(t.Context(), iss.Secret.Reveal()); !errors.Is(err, accesstoken.ErrRevoked) {
		t.Fatalf("RevokeSelf again: got %v; want ErrRevoked", err)
	}
}

// testManagerRotateWithExpiry: a rotation can set a new expiry, within the
// maximum lifetime.
func (s suite) testManagerRotateWithExpiry(t *testing.T) {
	st := s.store(t)
	m, clk := newManager(t, st, accesstoken.WithMaxLifetime(90*24*time.Hour))
	res := accesstoken.Resource{Project: "alpha", Repository: "r1"}
	old := issue(t, m, clk, accesstoken.IssueRequest{Owner: "alice", Target: accesstoken.ProjectTarget("alpha"), Scopes: allScopes,
		ExpiresAt: clk.Now().Add(7 * 24 * time.Hour)})
	for _, bad := range []time.Time{clk.Now().Add(-time.Hour), clk.Now().Add(91 * 24 * time.Hour)} {
		if _, err := m.RotateWithExpiry(t.Context(), "alice", old.Token.ID, bad); !errors.Is(err, accesstoken.ErrBadExpiry) {
			t.Fatalf("RotateWithExpiry(%v): got %v; want ErrBadExpiry", bad, err)
		}
	}
	verify(t, m, "old, after refused rotations", old.Secret, res, accesstoken.ScopePull, nil)
	exp := clk.Now().Add(60 * 24 * time.Hour)
	next, err := m.RotateWithExpiry(t.Context(), "alice", old.Token.ID, exp)
	if err != nil {
		t.Fatalf("RotateWithExpiry: %v", err)
	}
	if !next.Token.ExpiresAt.Equal(exp.UTC().Truncate(time.Microsecond)) {
		t.Fatalf("ExpiresAt: got %v; want %v", next.Token.ExpiresAt, exp)
	}
	checkStored(t, st, asRecord(m, next))
	verify(t, m, "old", old.Secret, res, accesstoken.ScopePull, accesstoken.ErrRevoked)
	verify(t, m, "new", next.Secret, res, accesstoken.ScopePull, nil)
	clk.Advance(30 * 24 * time.Hour)
	verify(t, m, "new, past the old expiry", next.Secret, res, accesstoken.ScopePull, nil)
	// Zero is the maximum lifetime here.
	again, err := m.RotateWithExpiry(t.Context(), "alice", next.Token.ID, time.Time{})
	if err != nil {
		t.Fatalf("RotateWithExpiry(zero): %v", err)
	}
	if want := clk.Stored().Add(90 * 24 * time.Hour); !again.Token.ExpiresAt.Equal(want) {
		t.Fatalf("ExpiresAt after RotateWithExpiry(zero): got %v; want %v", again.Token.ExpiresAt, want)
	}
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

// testManagerDescriptionUnique: Issue refuses a description that an active
// token of the owner and target has, and two concurrent Issues with one
// description cannot both succeed.
func (s suite) testManagerDescriptionUnique(t *testing.T) {
	st := s.store(t)
	m, clk := newManager(t, st)
	req := accesstoken.IssueRequest{Owner: "alice", Description: "CI", Target: accesstoken.ProjectTarget("alpha"), Scopes: allScopes,
		ExpiresAt: clk.Now().Add(time.Hour)}
	first := issue(t, m, clk, req)
	if _, err := m.Issue(t.Context(), req); !errors.Is(err, accesstoken.ErrDuplicateDescription) || !errors.Is(err, accesstoken.ErrInvalidInput) {
		t.Fatalf("Issue with a taken description: got %v; want ErrDuplicateDescription", err)
	}
	other := req
	other.Owner = "bob"
	issue(t, m, clk, other)
	other = req
	other.Target = accesstoken.ProjectTarget("beta")
	issue(t, m, clk, other)
	// A rotation keeps the description.
	next, err := m.Rotate(t.Context(), "alice", first.Token.ID)
	if err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	if next.Token.Description != "CI" {
		t.Fatalf("Description after Rotate: got %q; want %q", next.Token.Description, "CI")
	}
	if _, err := m.Issue(t.Context(), req); !errors.Is(err, accesstoken.ErrDuplicateDescription) {
		t.Fatalf("Issue with the rotated token's description: got %v; want ErrDuplicateDescription", err)
	}
	// Once it expires, the description is free.
	clk.Advance(time.Hour)
	req.ExpiresAt = time.Time{}
	issue(t, m, clk, req)

	const n = 8
	errs := make([]error, n)
	ready, release := start()
	var wg sync.WaitGroup
	race := accesstoken.IssueRequest{Owner: "alice", Description: "deploy", Target: accesstoken.RepositoryTarget("alpha", "r1"), Scopes: allScopes}
	for i := range n {
		wg.Go(func() {
			<-ready
			_, errs[i] = m.Issue(t.Context(), race)
		})
	}
	release()
	wg.Wait()
	ok := 0
	for i, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, accesstoken.ErrDuplicateDescription):
			t.Fatalf("concurrent Issue %d: got %v; want nil or ErrDuplicateDescription", i, err)
		}
	}
	if ok != 1 {
		t.Fatalf("%d concurrent Issues of one description: %d succeeded; want 1", n, ok)
	}
	toks, err := m.ListForTarget(t.Context(), "alice", race.Target, accesstoken.ListOptions{})
	if err != nil || len(slices.DeleteFunc(toks, func(tok accesstoken.Token) bool { return tok.Description != "deploy" })) != 1 {
		t.Fatalf("tokens described %q: got %d, %v; want 1", "deploy", len(toks), err)
	}
}

// testManagerDeleteInactive: the retention deletes tokens revoked or
// expired longer ago than the age given, and nothing else.
func (s suite) testManagerDeleteInactive(t *testing.T) {
	st := s.store(t)
	m, clk := newManager(t, st)
	res := accesstoken.Resource{Project: "alpha", Repository: "r1"}
	req := func(exp time.Duration) accesstoken.IssueRequest {
		r := accesstoken.IssueRequest{Owner: "alice", Target: accesstoken.ProjectTarget("alpha"), Scopes: allScopes}
		if exp > 0 {
			r.ExpiresAt = clk.Now().Add(exp)
		}
		return r
	}
	oldRevoked := issue(t, m, clk, req(0))
	if _, err := m.Revoke(t.Context(), "alice", oldRevoked.Token.ID); err != nil {
		t.Fatalf("Revoke: %v", err)
	}
	oldExpired := issue(t, m, clk, req(time.Hour))
	live := issue(t, m, clk, req(0))
	clk.Advance(31 * 24 * time.Hour)
	recentRevoked := issue(t, m, clk, req(0))
	if _, err := m.Revoke(t.Context(), "alice", recentRevoked.Token.ID); err != nil {
		t.Fatalf("Revoke: %v", err)
	}
	if _, err := m.DeleteInactive(t.Context(), -time.Second); !errors.Is(err, accesstoken.ErrInvalidInput) {
		t.Fatalf("DeleteInactive(negative): got %v; want ErrInvalidInput", err)
	}
	n, err := m.DeleteInactive(t.Context(), 30*24*time.Hour)
	if err != nil || n != 2 {
		t.Fatalf("DeleteInactive(30 days): got %d, %v; want 2", n, err)
	}
	for _, iss := range []*accesstoken.Issued{oldRevoked, oldExpired} {
		verify(t, m, "deleted", iss.Secret, res, accesstoken.ScopePull, accesstoken.ErrUnknownToken)
	}
	verify(t, m, "live", live.Secret, res, accesstoken.ScopePull, nil)
	verify(t, m, "recently revoked", recentRevoked.Secret, res, accesstoken.ScopePull, accesstoken.ErrRevoked)
	clk.Advance(time.Second)
	n, err = m.DeleteInactive(t.Context(), 0)
	if err != nil || n != 1 {
		t.Fatalf("DeleteInactive(0): got %d, %v; want 1", n, err)
	}
	verify(t, m, "live, after DeleteInactive(0)", live.Secret, res, accesstoken.ScopePull, nil)
}
