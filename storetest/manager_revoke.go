package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/forgekit/accesstoken"
	"github.com/google/uuid"
)

// testManagerRevoke: a revoked token fails the very next Verify, of this
// Manager and of another one sharing the store.
func (s suite) testManagerRevoke(t *testing.T) {
	st := s.store(t)
	m, clk := newManager(t, st)
	other, _ := newManager(t, st)
	ctx := t.Context()
	res := accesstoken.Resource{Project: "alpha", Repository: "r1"}
	a := issue(t, m, clk, accesstoken.IssueRequest{Owner: "alice", Target: accesstoken.RepositoryTarget("alpha", "r1"), Scopes: allScopes})
	b := issue(t, m, clk, accesstoken.IssueRequest{Owner: "alice", Target: accesstoken.ProjectTarget("alpha"), Scopes: allScopes})
	verify(t, m, "a", a.Secret, res, accesstoken.ScopePull, nil)
	verify(t, other, "a, other Manager", a.Secret, res, accesstoken.ScopePull, nil)

	clk.Advance(time.Minute)
	tok, err := m.Revoke(ctx, "alice", a.Token.ID)
	if err != nil {
		t.Fatalf("Revoke: %v", err)
	}
	if !tok.RevokedAt.Equal(clk.Stored()) || tok.RevokedBy != "alice" {
		t.Fatalf("Revoke: got RevokedAt %v, RevokedBy %q; want %v, %q", tok.RevokedAt, tok.RevokedBy, clk.Stored(), "alice")
	}
	verify(t, m, "revoked a", a.Secret, res, accesstoken.ScopePull, accesstoken.ErrRevoked)
	verify(t, other, "revoked a, other Manager", a.Secret, res, accesstoken.ScopePull, accesstoken.ErrRevoked)
	verify(t, m, "b", b.Secret, res, accesstoken.ScopePull, nil)

	clk.Advance(time.Minute)
	tok, err = m.Revoke(ctx, "bob", a.Token.ID)
	if err != nil {
		t.Fatalf("second Revoke: %v", err)
	}
	if !tok.RevokedAt.Equal(clk.Stored().Add(-time.Minute)) || tok.RevokedBy != "alice" {
		t.Fatalf("second Revoke: got RevokedAt %v, RevokedBy %q; want the first: %v, %q", tok.RevokedAt, tok.RevokedBy, clk.Stored().Add(-time.Minute), "alice")
	}
	toks, err := m.ListForOwner(ctx, "alice", accesstoken.ListOptions{})
	checkIDs(t, "ListForOwner", toks, err, b.Token)
	toks, err = m.ListForOwner(ctx, "alice", accesstoken.ListOptions{IncludeInactive: true})
	checkIDs(t, "ListForOwner including inactive", toks, err, a.Token, b.Token)
	_, err = m.Revoke(ctx, "alice", uuid.New())
	if !errors.Is(err, accesstoken.ErrNotFound) {
		t.Fatalf("Revoke(unknown ID): got %v; want ErrNotFound", err)
	}
}

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
