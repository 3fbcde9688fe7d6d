package storetest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/forgekit/accesstoken"
	"github.com/google/uuid"
)

// testRevoke: Revoke sets RevokedAt and RevokedBy, returns the record as
// stored, and changes nothing else.
func (s suite) testRevoke(t *testing.T) {
	st := s.store(t)
	a := newRecord("revoked", "alice", accesstoken.RepositoryTarget("alpha", "r1"), base)
	a.ExpiresAt = base.Add(24 * time.Hour)
	a.LastUsedAt = base.Add(time.Minute)
	b := newRecord("left alone", "alice", accesstoken.RepositoryTarget("alpha", "r1"), base.Add(time.Second))
	mustInsert(t, st, a, b)

	at := base.Add(time.Hour + 7*time.Microsecond).In(elsewhere)
	got, err := st.Revoke(t.Context(), a.ID, accesstoken.Revocation{At: at, By: "admin"})
	if err != nil {
		t.Fatalf("Revoke: %v", err)
	}
	a.RevokedAt, a.RevokedBy = at, "admin"
	checkRecord(t, "Revoke", &got, a)
	checkStored(t, st, a)
	checkStored(t, st, b)
}

// testRevokeIdempotent: revoking a revoked record changes nothing; the
// first revocation stands, later or earlier.
func (s suite) testRevokeIdempotent(t *testing.T) {
	st := s.store(t)
	a := newRecord("revoked twice", "alice", accesstoken.ProjectTarget("alpha"), base)
	mustInsert(t, st, a)
	first := base.Add(time.Hour)
	_, err := st.Revoke(t.Context(), a.ID, accesstoken.Revocation{At: first, By: "first"})
	if err != nil {
		t.Fatalf("first Revoke: %v", err)
	}
	a.RevokedAt, a.RevokedBy = first, "first"
	for _, again := range []struct {
		at time.Time
		by string
	}{
		{first.Add(time.Hour), "second"},
		{first.Add(-time.Minute), "third"},
		{first, "first"},
	} {
		got, err := st.Revoke(t.Context(), a.ID, accesstoken.Revocation{At: again.at, By: again.by})
		if err != nil {
			t.Fatalf("Revoke(revoked record, %v, %q): %v", again.at, again.by, err)
		}
		checkRecord(t, fmt.Sprintf("Revoke(revoked record, %v, %q)", again.at, again.by), &got, a)
		checkStored(t, st, a)
	}
}

// testRevokeNotFound: revoking an unknown ID is ErrNotFound.
func (s suite) testRevokeNotFound(t *testing.T) {
	st := s.store(t)
	mustInsert(t, st, newRecord("other", "alice", accesstoken.ProjectTarget("alpha"), base))
	got, err := st.Revoke(t.Context(), uuid.New(), accesstoken.Revocation{At: base, By: "admin"})
	if !errors.Is(err, accesstoken.ErrNotFound) || got != (accesstoken.Record{}) {
		t.Fatalf("Revoke(unknown ID): got %s, %v; want no record, ErrNotFound", names([]accesstoken.Record{got}), err)
	}
}

// testRevokeConcurrent: of concurrent revocations of one record exactly one
// stands, and every call returns that one.
func (s suite) testRevokeConcurrent(t *testing.T) {
	st := s.store(t)
	a := newRecord("revoked concurrently", "alice", accesstoken.ProjectTarget("alpha"), base)
	mustInsert(t, st, a)
	const n = 8
	results := make([]accesstoken.Record, n)
	errs := make([]error, n)
	ready, release := start()
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-ready
			results[i], errs[i] = st.Revoke(t.Context(), a.ID, accesstoken.Revocation{At: base.Add(time.Duration(i+1) * time.Minute), By: fmt.Sprintf("admin%d", i)})
		})
	}
	release()
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("Revoke by admin%d: %v", i, errs[i])
		}
	}
	stored := byID(t, st, a.ID)
	if stored.RevokedAt.IsZero() {
		t.Fatalf("RevokedAt after %d revocations: got the zero time; want it set", n)
	}
	winner := -1
	for i := range n {
		if stored.RevokedBy == fmt.Sprintf("admin%d", i) {
			winner = i
		}
	}
	if winner == -1 {
		t.Fatalf("RevokedBy: got %q; want one of admin0…admin%d", stored.RevokedBy, n-1)
	}
	a.RevokedAt, a.RevokedBy = base.Add(time.Duration(winner+1)*time.Minute), stored.RevokedBy
	checkRecord(t, "ByID after concurrent revocations", stored, a)
	for i := range n {
		checkRecord(t, fmt.Sprintf("Revoke by admin%d", i), &results[i], a)
	}
}

// testRevokeReason: Revoke records the reason with the time and the actor,
// and a second revocation keeps the first one's reason; Rotate records its
// reason on the record it replaces.
func (s suite) testRevokeReason(t *testing.T) {
	st := s.store(t)
	a := newRecord("leaked", "alice", accesstoken.ProjectTarget("alpha"), base)
	b := newRecord("no reason", "alice", accesstoken.ProjectTarget("alpha"), base.Add(time.Second))
	mustInsert(t, st, a, b)
	at := base.Add(time.Hour)
	got, err := st.Revoke(t.Context(), a.ID, accesstoken.Revocation{At: at, By: "system:push-protection", Reason: "found in a push to beta/r1 ✓"})
	if err != nil {
		t.Fatalf("Revoke: %v", err)
	}
	a.RevokedAt, a.RevokedBy, a.RevocationReason = at, "system:push-protection", "found in a push to beta/r1 ✓"
	checkRecord(t, "Revoke", &got, a)
	checkStored(t, st, a)
	got, err = st.Revoke(t.Context(), a.ID, accesstoken.Revocation{At: at.Add(time.Hour), By: "alice", Reason: "another reason"})
	if err != nil {
		t.Fatalf("second Revoke: %v", err)
	}
	checkRecord(t, "second Revoke", &got, a)
	checkStored(t, st, a)

	got, err = st.Revoke(t.Context(), b.ID, accesstoken.Revocation{At: at, By: "alice"})
	if err != nil {
		t.Fatalf("Revoke without a reason: %v", err)
	}
	b.RevokedAt, b.RevokedBy = at, "alice"
	checkRecord(t, "Revoke without a reason", &got, b)

	old, next, _ := rotation(t, st)
	if err := st.Rotate(t.Context(), old.ID, accesstoken.Revocation{At: at, By: "alice", Reason: "rotated monthly"}, *next); err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	old.RevokedAt, old.RevokedBy, old.RevocationReason, old.ReplacedBy = at, "alice", "rotated monthly", next.ID
	checkStored(t, st, old)
	checkStored(t, st, next)
}

// testRevokeOwner: RevokeOwner revokes every record of the owner active at
// the time given, returns them revoked and oldest first, and leaves alone
// other owners' records and the owner's records already revoked or expired.
func (s suite) testRevokeOwner(t *testing.T) {
	st := s.store(t)
	w := newWorld(t, st)
	at := base.Add(time.Hour)
	alreadyRevoked := newRecord("alice's, revoked before", "alice", accesstoken.ProjectTarget("gamma"), base.Add(time.Minute))
	alreadyRevoked.RevokedAt, alreadyRevoked.RevokedBy, alreadyRevoked.RevocationReason = base.Add(2*time.Minute), "alice", "no longer needed"
	expired := newRecord("alice's, expired exactly then", "alice", accesstoken.ProjectTarget("gamma"), base.Add(2*time.Minute))
	expired.ExpiresAt = at
	expiring := newRecord("alice's, expires a microsecond later", "alice", accesstoken.ProjectTarget("gamma"), base.Add(3*time.Minute))
	expiring.ExpiresAt = at.Add(time.Microsecond)
	mustInsert(t, st, alreadyRevoked, expired, expiring)

	rev := accesstoken.Revocation{At: at.In(elsewhere), By: "system:account-deactivation", Reason: "account deactivated"}
	got, err := st.RevokeOwner(t.Context(), "alice", rev)
	if err != nil {
		t.Fatalf("RevokeOwner: %v", err)
	}
	var want []*accesstoken.Record
	for _, r := range append(w.owned("alice"), expiring) {
		r.RevokedAt, r.RevokedBy, r.RevocationReason = at, rev.By, rev.Reason
		want = append(want, r)
	}
	slices.SortFunc(want, func(a, b *accesstoken.Record) int { return a.CreatedAt.Compare(b.CreatedAt) })
	checkList(t, "RevokeOwner(alice)", got, want...)
	for _, r := range w.all {
		checkStored(t, st, r) // bob's unchanged, alice's revoked
	}
	checkStored(t, st, alreadyRevoked)
	checkStored(t, st, expired)
	checkStored(t, st, expiring)

	got, err = st.RevokeOwner(t.Context(), "alice", accesstoken.Revocation{At: at.Add(time.Hour), By: "system:again", Reason: "again"})
	if err != nil || len(got) != 0 {
		t.Fatalf("RevokeOwner(alice) again: got %s, %v; want none", names(got), err)
	}
	for _, owner := range []string{"carol", "ali", ""} {
		got, err = st.RevokeOwner(t.Context(), owner, rev)
		if err != nil || got == nil || len(got) != 0 {
			t.Fatalf("RevokeOwner(%q): got %v, %v; want an empty list", owner, got, err)
		}
	}
	for _, r := range w.owned("bob") {
		checkStored(t, st, r)
	}
}

// testRevokeOwnerConcurrent: concurrent RevokeOwner calls, and Revokes of
// single records, revoke each record once: every record is returned by
// one RevokeOwner at most, and holds the revocation that won.
func (s suite) testRevokeOwnerConcurrent(t *testing.T) {
	st := s.store(t)
	const records, callers = 20, 4
	recs := make([]*accesstoken.Record, records)
	for i := range recs {
		recs[i] = newRecord(fmt.Sprintf("token %d", i), "alice", accesstoken.ProjectTarget("alpha"), base.Add(time.Duration(i)*time.Second))
		mustInsert(t, st, recs[i])
	}
	results := make([][]accesstoken.Record, callers)
	errs := make([]error, callers+records)
	ready, release := start()
	var wg sync.WaitGroup
	for c := range callers {
		wg.Go(func() {
			<-ready
			results[c], errs[c] = st.RevokeOwner(t.Context(), "alice", accesstoken.Revocation{At: base.Add(time.Hour), By: fmt.Sprintf("system:caller-%d", c), Reason: "compromised"})
		})
	}
	for i := 0; i < records; i += 3 {
		wg.Go(func() {
			<-ready
			_, errs[callers+i] = st.Revoke(t.Context(), recs[i].ID, accesstoken.Revocation{At: base.Add(time.Hour), By: "alice"})
		})
	}
	release()
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	returned := map[uuid.UUID]string{}
	for c, list := range results {
		for _, r := range list {
			if prev, dup := returned[r.ID]; dup {
				t.Fatalf("record %q returned by RevokeOwner of %s and of system:caller-%d", r.Description, prev, c)
			}
			returned[r.ID] = r.RevokedBy
			if r.RevokedBy != fmt.Sprintf("system:caller-%d", c) {
				t.Fatalf("RevokeOwner of system:caller-%d returned %q revoked by %q", c, r.Description, r.RevokedBy)
			}
		}
	}
	for _, r := range recs {
		got := byID(t, st, r.ID)
		if got.RevokedAt.IsZero() {
			t.Fatalf("record %q not revoked", r.Description)
		}
		by, ok := returned[r.ID]
		switch {
		case ok && got.RevokedBy != by:
			t.Fatalf("record %q: returned as revoked by %s, stored as revoked by %s", r.Description, by, got.RevokedBy)
		case !ok && got.RevokedBy != "alice":
			t.Fatalf("record %q: revoked by %s but returned by no RevokeOwner", r.Description, got.RevokedBy)
		}
	}
}
