package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/forgekit/accesstoken"
	"github.com/google/uuid"
)

// testRoundTrip: every field of an inserted record comes back exactly from
// ByID, ByDigest and List, times in UTC and zero times zero.
func (s suite) testRoundTrip(t *testing.T) {
	st := s.store(t)
	full := newRecord("Déploiement CI ✓ — every field set", "alice", accesstoken.RepositoryTarget("alpha", "r1"), base.In(elsewhere))
	// Not the canonical order: a store keeps the order it is given.
	full.Scopes = accesstoken.NewScopeSet(accesstoken.ScopeBuildStatus, accesstoken.ScopePull, accesstoken.ScopePush)
	full.ExpiresAt = base.Add(90 * 24 * time.Hour).In(elsewhere)
	full.LastUsedAt = base.Add(time.Hour + time.Microsecond)
	full.RevokedAt = base.Add(2*time.Hour + 999999*time.Microsecond).In(elsewhere)
	full.RevokedBy = "admin"
	full.RevocationReason = "found in a public paste ✓"
	full.ReplacedBy = uuid.New()

	zero := newRecord("", "bob", accesstoken.ProjectTarget("alpha"), base.Add(time.Second))
	zero.Scopes = accesstoken.ScopeSet{} // the Manager never stores one, but a store keeps what it is given

	mustInsert(t, st, full, zero)
	for _, want := range []*accesstoken.Record{full, zero} {
		checkStored(t, st, want)
	}
	checkList(t, "List by owner alice", list(t, st, accesstoken.Query{Owner: "alice"}), full)
	checkList(t, "List by owner bob", list(t, st, accesstoken.Query{Owner: "bob"}), zero)
	checkList(t, "List covering alpha/r1",
		list(t, st, accesstoken.Query{Target: target(accesstoken.RepositoryTarget("alpha", "r1")), Covering: true}),
		full, zero)
}

// testTimeRange: times far from now round-trip too, including the Unix
// epoch, which is not the zero time, and the last microsecond of the year
// 9999, the latest expiry the Manager accepts.
func (s suite) testTimeRange(t *testing.T) {
	st := s.store(t)
	rec := newRecord("times around the epoch and far ahead", "alice", accesstoken.ProjectTarget("alpha"), time.Unix(0, 0).UTC())
	rec.ExpiresAt = time.Date(9999, time.December, 31, 23, 59, 59, 999999000, time.UTC)
	rec.LastUsedAt = time.UnixMicro(-1).UTC()
	rec.RevokedAt = time.UnixMicro(1).In(elsewhere)
	rec.RevokedBy = "admin"
	mustInsert(t, st, rec)
	checkStored(t, st, rec)
}

// testAnyState: ByDigest and ByID return records whatever their state:
// expired, revoked, rotated. Deciding is the Manager's job.
func (s suite) testAnyState(t *testing.T) {
	st := s.store(t)
	expired := newRecord("expired long ago", "alice", accesstoken.ProjectTarget("alpha"), time.Unix(9e8, 0).UTC())
	expired.ExpiresAt = time.Unix(1e9, 0).UTC()
	revoked := newRecord("revoked", "alice", accesstoken.ProjectTarget("alpha"), base)
	revoked.RevokedAt, revoked.RevokedBy = base.Add(time.Hour), "admin"
	rotated := newRecord("rotated and expired", "alice", accesstoken.RepositoryTarget("alpha", "r1"), time.Unix(9e8, 0).UTC())
	rotated.ExpiresAt = time.Unix(1e9, 0).UTC()
	rotated.RevokedAt, rotated.RevokedBy, rotated.ReplacedBy = time.Unix(9e8+60, 0).UTC(), "alice", revoked.ID
	mustInsert(t, st, expired, revoked, rotated)
	for _, want := range []*accesstoken.Record{expired, revoked, rotated} {
		checkStored(t, st, want)
	}
}

// testDuplicateID: a second record with the same ID is refused with
// ErrDuplicate and nothing of it is stored.
func (s suite) testDuplicateID(t *testing.T) {
	s.checkDuplicateRefused(t, "ID", func(dup, a *accesstoken.Record) { dup.ID = a.ID },
		func(st accesstoken.Store, dup *accesstoken.Record) (accesstoken.Record, error) {
			return st.ByDigest(t.Context(), dup.Digest)
		})
}

// testDuplicateDigest: a second record with the same digest is refused with
// ErrDuplicate and nothing of it is stored.
func (s suite) testDuplicateDigest(t *testing.T) {
	s.checkDuplicateRefused(t, "digest", func(dup, a *accesstoken.Record) { dup.Digest = a.Digest },
		func(st accesstoken.Store, dup *accesstoken.Record) (accesstoken.Record, error) {
			return st.ByID(t.Context(), dup.ID)
		})
}

// checkDuplicateRefused inserts a record, then another that share makes
// share one key (field) with it, which must be refused with ErrDuplicate:
// the first stays as it was, and the refused one is found neither by its
// other key (byOther) nor in lists.
func (s suite) checkDuplicateRefused(t *testing.T, field string, share func(dup, a *accesstoken.Record), byOther func(accesstoken.Store, *accesstoken.Record) (accesstoken.Record, error)) {
	t.Helper()
	st := s.store(t)
	a := newRecord("a", "alice", accesstoken.RepositoryTarget("alpha", "r1"), base)
	mustInsert(t, st, a)
	dup := newRecord("same "+field+" as a", "mallory", accesstoken.ProjectTarget("beta"), base.Add(time.Second))
	share(dup, a)
	err := st.Insert(t.Context(), *dup)
	if !errors.Is(err, accesstoken.ErrDuplicate) {
		t.Fatalf("Insert(record with an existing %s): got %v; want ErrDuplicate", field, err)
	}

	checkStored(t, st, a)
	rec, err := byOther(st, dup)
	if !errors.Is(err, accesstoken.ErrNotFound) {
		t.Fatalf("lookup of the refused record by its other key: got %s, %v; want ErrNotFound", names([]accesstoken.Record{rec}), err)
	}
	checkList(t, "List by the refused record's owner", list(t, st, accesstoken.Query{Owner: "mallory"}))
	checkList(t, "List by the refused record's target", list(t, st, accesstoken.Query{Target: target(dup.Target)}))
}

// testNotFound: unknown IDs and digests are ErrNotFound, in an empty store
// and in one that holds other records.
func (s suite) testNotFound(t *testing.T) {
	st := s.store(t)
	unknown := newRecord("never inserted", "alice", accesstoken.ProjectTarget("alpha"), base)
	checkAbsent(t, st, unknown)
	mustInsert(t, st, newRecord("other", "alice", accesstoken.ProjectTarget("alpha"), base))
	checkAbsent(t, st, unknown)
	checkAbsent(t, st, &accesstoken.Record{Token: accesstoken.Token{Description: "zero ID and digest"}})
}
