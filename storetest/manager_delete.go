package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/forgekit/accesstoken"
)

// testManagerDeleteTarget: tokens of a deleted project (its repositories'
// too) or repository no longer verify and are gone from lists; others stay.
func (s suite) testManagerDeleteTarget(t *testing.T) {
	st := s.store(t)
	m, clk := newManager(t, st)
	ctx := t.Context()
	req := func(tg accesstoken.Target) accesstoken.IssueRequest {
		return accesstoken.IssueRequest{Owner: "alice", Target: tg, Scopes: allScopes}
	}
	alpha := issue(t, m, clk, req(accesstoken.ProjectTarget("alpha")))
	alphaR1 := issue(t, m, clk, req(accesstoken.RepositoryTarget("alpha", "r1")))
	alphaR2 := issue(t, m, clk, req(accesstoken.RepositoryTarget("alpha", "r2")))
	alpha2 := issue(t, m, clk, req(accesstoken.ProjectTarget("alpha2")))
	betaR1 := issue(t, m, clk, req(accesstoken.RepositoryTarget("beta", "r1")))
	betaR2 := issue(t, m, clk, req(accesstoken.RepositoryTarget("beta", "r2")))

	n, err := m.DeleteTarget(ctx, accesstoken.ProjectTarget("alpha"))
	if err != nil {
		t.Fatalf("DeleteTarget(alpha): %v", err)
	}
	if n != 3 {
		t.Fatalf("DeleteTarget(alpha): got %d; want 3", n)
	}
	n, err = m.DeleteTarget(ctx, accesstoken.RepositoryTarget("beta", "r1"))
	if err != nil {
		t.Fatalf("DeleteTarget(beta/r1): %v", err)
	}
	if n != 1 {
		t.Fatalf("DeleteTarget(beta/r1): got %d; want 1", n)
	}

	for _, c := range []struct {
		name string
		tok  *accesstoken.Issued
		res  accesstoken.Resource
		want error
	}{
		{"alpha/*", alpha, accesstoken.Resource{Project: "alpha", Repository: "r1"}, accesstoken.ErrUnknownToken},
		{"alpha/r1", alphaR1, accesstoken.Resource{Project: "alpha", Repository: "r1"}, accesstoken.ErrUnknownToken},
		{"alpha/r2", alphaR2, accesstoken.Resource{Project: "alpha", Repository: "r2"}, accesstoken.ErrUnknownToken},
		{"alpha2/*", alpha2, accesstoken.Resource{Project: "alpha2", Repository: "r1"}, nil},
		{"beta/r1", betaR1, accesstoken.Resource{Project: "beta", Repository: "r1"}, accesstoken.ErrUnknownToken},
		{"beta/r2", betaR2, accesstoken.Resource{Project: "beta", Repository: "r2"}, nil},
	} {
		verify(t, m, c.name, c.tok.Secret, c.res, accesstoken.ScopePull, c.want)
		_, err := m.Get(ctx, "alice", c.tok.Token.ID)
		switch {
		case c.want == nil && err != nil:
			t.Fatalf("Get(%s): got %v; want the token", c.name, err)
		case c.want != nil && !errors.Is(err, accesstoken.ErrNotFound):
			t.Fatalf("Get(deleted %s): got %v; want ErrNotFound", c.name, err)
		}
	}
	toks, err := m.ListForOwner(ctx, "alice", accesstoken.ListOptions{IncludeInactive: true})
	checkIDs(t, "ListForOwner", toks, err, alpha2.Token, betaR2.Token)
	toks, err = m.ListForTarget(ctx, "alice", accesstoken.RepositoryTarget("alpha", "r1"), accesstoken.ListOptions{IncludeInactive: true})
	checkIDs(t, "ListForTarget(alpha/r1)", toks, err)
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
