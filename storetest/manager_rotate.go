package storetest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/forgekit/accesstoken"
)

// testManagerRotate: rotation rejects the old secret, accepts the new one,
// and keeps scopes, target, description, owner and expiry.
func (s suite) testManagerRotate(t *testing.T) {
	st := s.store(t)
	m, clk := newManager(t, st)
	ctx := t.Context()
	res := accesstoken.Resource{Project: "alpha", Repository: "r1"}
	old := issue(t, m, clk, accesstoken.IssueRequest{
		Owner: "alice", Description: "rotated monthly",
		Target:    accesstoken.RepositoryTarget("alpha", "r1"),
		Scopes:    []accesstoken.Scope{accesstoken.ScopePull, accesstoken.ScopeBuildStatus},
		ExpiresAt: clk.Now().Add(30 * 24 * time.Hour),
	})
	verify(t, m, "old", old.Secret, res, accesstoken.ScopePull, nil)
	clk.Advance(time.Minute)
	next, err := m.Rotate(ctx, "alice", old.Token.ID)
	if err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	verify(t, m, "old after rotation", old.Secret, res, accesstoken.ScopePull, accesstoken.ErrRevoked)
	tok := verify(t, m, "new", next.Secret, res, accesstoken.ScopeBuildStatus, nil)
	if tok.ID != next.Token.ID {
		t.Fatalf("Verify(new): got token %v; want %v", tok.ID, next.Token.ID)
	}

	if err := m.Flush(ctx); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	want := asRecord(m, old)
	want.ID, want.Digest = next.Token.ID, m.Digest(next.Secret.Reveal())
	want.CreatedAt, want.LastUsedAt = clk.Stored(), clk.Stored()
	if want.ID == old.Token.ID {
		t.Fatalf("Rotate: got the old ID %v; want a new one", want.ID)
	}
	checkStored(t, st, want)

	oldWant := asRecord(m, old)
	oldWant.LastUsedAt = clk.Stored().Add(-time.Minute)
	oldWant.RevokedAt, oldWant.RevokedBy, oldWant.ReplacedBy = clk.Stored(), "alice", next.Token.ID
	checkStored(t, st, oldWant)

	toks, err := m.ListForOwner(ctx, "alice", accesstoken.ListOptions{})
	checkIDs(t, "ListForOwner after Rotate", toks, err, next.Token)
	_, err = m.Rotate(ctx, "alice", old.Token.ID)
	if !errors.Is(err, accesstoken.ErrRevoked) {
		t.Fatalf("Rotate(rotated token): got %v; want ErrRevoked", err)
	}
	toks, err = m.ListForOwner(ctx, "alice", accesstoken.ListOptions{IncludeInactive: true})
	checkIDs(t, "ListForOwner including inactive", toks, err, old.Token, next.Token)
}

// testManagerConcurrentRotate: of 10 concurrent rotations of one token by
// its owner exactly one succeeds and the others are ErrRevoked.
func (s suite) testManagerConcurrentRotate(t *testing.T) {
	st := s.store(t)
	m, clk := newManager(t, st)
	res := accesstoken.Resource{Project: "alpha", Repository: "r1"}
	old := issue(t, m, clk, accesstoken.IssueRequest{Owner: "alice", Target: accesstoken.ProjectTarget("alpha"), Scopes: allScopes})
	const n = 10
	results := make([]*accesstoken.Issued, n)
	errs := make([]error, n)
	ready, release := start()
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-ready
			results[i], errs[i] = m.Rotate(t.Context(), "alice", old.Token.ID)
		})
	}
	release()
	wg.Wait()
	var winner *accesstoken.Issued
	for i, err := range errs {
		switch {
		case err == nil && winner != nil:
			t.Fatalf("Rotate from %d goroutines: got two successes; want exactly one", n)
		case err == nil:
			winner = results[i]
		case !errors.Is(err, accesstoken.ErrRevoked):
			t.Fatalf("Rotate in goroutine %d: got %v; want nil or ErrRevoked", i, err)
		}
	}
	if winner == nil {
		t.Fatalf("Rotate from %d goroutines: got no success; want exactly one", n)
	}
	verify(t, m, "old", old.Secret, res, accesstoken.ScopePull, accesstoken.ErrRevoked)
	verify(t, m, "new", winner.Secret, res, accesstoken.ScopePull, nil)
	toks, err := m.ListForOwner(t.Context(), "alice", accesstoken.ListOptions{IncludeInactive: true})
	checkIDs(t, "ListForOwner including inactive", toks, err, old.Token, winner.Token)
	if got := byID(t, st, old.Token.ID).ReplacedBy; got != winner.Token.ID {
		t.Fatalf("ReplacedBy of the old token: got %v; want %v", got, winner.Token.ID)
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
