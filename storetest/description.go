package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/forgekit/accesstoken"
)

// testDescriptionUnique: Insert refuses an active record whose owner,
// target and description another record active at its creation has, with
// ErrDuplicateDescription, and stores nothing of it; every other
// combination is stored.
func (s suite) testDescriptionUnique(t *testing.T) {
	st := s.store(t)
	repo := accesstoken.RepositoryTarget("alpha", "r1")
	at := base.Add(time.Hour)
	mk := func(desc, owner string, tg accesstoken.Target) *accesstoken.Record {
		r := newRecord(desc, owner, tg, at)
		return r
	}
	first := mk("CI", "alice", repo)
	revoked := mk("revoked", "alice", repo)
	revoked.RevokedAt, revoked.RevokedBy = base, "alice"
	expired := mk("expired", "alice", repo)
	expired.CreatedAt, expired.ExpiresAt = base, at
	later := mk("expires later", "alice", repo)
	later.CreatedAt, later.ExpiresAt = base, at.Add(time.Microsecond)
	mustInsert(t, st, first, revoked, expired, later)

	for _, tc := range []struct {
		name string
		rec  *accesstoken.Record
		want error
	}{
		{"same owner, target and description", mk("CI", "alice", repo), accesstoken.ErrDuplicateDescription},
		{"same as a token that expires after the new one's creation", mk("expires later", "alice", repo), accesstoken.ErrDuplicateDescription},
		{"another owner", mk("CI", "bob", repo), nil},
		{"another repository", mk("CI", "alice", accesstoken.RepositoryTarget("alpha", "r2")), nil},
		{"the same repository name in another project", mk("CI", "alice", accesstoken.RepositoryTarget("alpha2", "r1")), nil},
		{"the repository's project", mk("CI", "alice", accesstoken.ProjectTarget("alpha")), nil},
		{"the same repository outside any project", mk("CI", "alice", accesstoken.RepositoryTarget("", "r1")), nil},
		{"another case", mk("ci", "alice", repo), nil},
		{"a longer description", mk("CI ", "alice", repo), nil},
		{"same as a revoked token", mk("revoked", "alice", repo), nil},
		{"same as a token expired at the new one's creation", mk("expired", "alice", repo), nil},
		{"a revoked record with a taken description", func() *accesstoken.Record {
			r := mk("CI", "alice", repo)
			r.RevokedAt, r.RevokedBy = at, "alice"
			return r
		}(), nil},
		{"a record expired at its creation, with a taken description", func() *accesstoken.Record {
			r := mk("CI", "alice", repo)
			r.ExpiresAt = at
			return r
		}(), nil},
		{"empty descriptions are not checked", mk("", "alice", repo), nil},
		{"another empty description", mk("", "alice", repo), nil},
	} {
		err := st.Insert(t.Context(), *tc.rec)
		switch {
		case tc.want == nil && err != nil:
			t.Fatalf("%s: Insert: %v; want success", tc.name, err)
		case tc.want != nil && !errors.Is(err, tc.want):
			t.Fatalf("%s: Insert: got %v; want %v", tc.name, err, tc.want)
		case tc.want != nil:
			checkAbsent(t, st, tc.rec)
		default:
			checkStored(t, st, tc.rec)
		}
	}
	checkStored(t, st, first)

	// Once the first is revoked, its description is free again; a
	// rotation keeps it, taking the place of the record it replaces.
	if _, err := st.Revoke(t.Context(), first.ID, accesstoken.Revocation{At: at.Add(time.Minute), By: "alice"}); err != nil {
		t.Fatalf("Revoke: %v", err)
	}
	again := mk("CI", "alice", repo)
	again.CreatedAt = at.Add(2 * time.Minute)
	mustInsert(t, st, again)
	next := mk("CI", "alice", repo)
	next.CreatedAt = at.Add(3 * time.Minute)
	if err := st.Rotate(t.Context(), again.ID, accesstoken.Revocation{At: next.CreatedAt, By: "alice"}, *next); err != nil {
		t.Fatalf("Rotate to a record with the same description: %v", err)
	}
	checkStored(t, st, next)
	dup := mk("CI", "alice", repo)
	dup.CreatedAt = at.Add(4 * time.Minute)
	if err := st.Insert(t.Context(), *dup); !errors.Is(err, accesstoken.ErrDuplicateDescription) {
		t.Fatalf("Insert after the rotation: got %v; want ErrDuplicateDescription", err)
	}

	// A deleted record's description is free too.
	if _, err := st.DeleteTarget(t.Context(), repo); err != nil {
		t.Fatalf("DeleteTarget: %v", err)
	}
	mustInsert(t, st, dup)
}

// testDescriptionConcurrent: of concurrent Inserts of active records with
// the same owner, target and description, exactly one succeeds, and the
// others are ErrDuplicateDescription; records that differ go in together.
func (s suite) testDescriptionConcurrent(t *testing.T) {
	st := s.store(t)
	const n = 8
	for round := range 3 {
		desc := fmt.Sprintf("deploy key %d", round)
		recs := make([]*accesstoken.Record, n)
		others := make([]*accesstoken.Record, n)
		for i := range recs {
			recs[i] = newRecord(desc, "alice", accesstoken.ProjectTarget("alpha"), base.Add(time.Duration(round)*time.Hour))
			others[i] = newRecord(fmt.Sprintf("%s, other %d", desc, i), "alice", accesstoken.ProjectTarget("alpha"), base.Add(time.Duration(round)*time.Hour))
		}
		errs := make([]error, n)
		otherErrs := make([]error, n)
		ready, release := start()
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				<-ready
				errs[i] = st.Insert(t.Context(), *recs[i])
			})
			wg.Go(func() {
				<-ready
				otherErrs[i] = st.Insert(t.Context(), *others[i])
			})
		}
		release()
		wg.Wait()
		winner := -1
		for i, err := range errs {
			switch {
			case err == nil && winner >= 0:
				t.Fatalf("round %d: concurrent Inserts %d and %d of the same description both succeeded", round, winner, i)
			case err == nil:
				winner = i
			case !errors.Is(err, accesstoken.ErrDuplicateDescription):
				t.Fatalf("round %d: Insert %d: got %v; want nil or ErrDuplicateDescription", round, i, err)
			}
		}
		if winner < 0 {
			t.Fatalf("round %d: none of %d concurrent Inserts succeeded; want one", round, n)
		}
		for i, r := range recs {
			if i == winner {
				checkStored(t, st, r)
			} else {
				checkAbsent(t, st, r)
			}
		}
		for i, err := range otherErrs {
			if err != nil {
				t.Fatalf("round %d: Insert of a description of its own (%d): %v", round, i, err)
			}
			checkStored(t, st, others[i])
		}
	}
}
