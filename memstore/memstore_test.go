package memstore_test

import (
	"testing"
	"time"

	"github.com/forgekit/accesstoken"
	"github.com/forgekit/accesstoken/memstore"
	"github.com/forgekit/accesstoken/storetest"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

// TestConformance runs the Store conformance suite against memstore.
func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) accesstoken.Store { return memstore.New() })
}

// TestScopeSetsKeptApart checks that interned scope sets that share names,
// or hold the same names in another order, are not taken for one another.
func TestScopeSetsKeptApart(t *testing.T) {
	ctx := t.Context()
	s := memstore.New()
	sets := []accesstoken.ScopeSet{
		accesstoken.NewScopeSet("a:b"),
		accesstoken.NewScopeSet("a:b", "c:d"),
		accesstoken.NewScopeSet("c:d", "a:b"),
		accesstoken.NewScopeSet("a:bc:d"),
		{},
	}
	ids := make([]uuid.UUID, len(sets))
	for i, sc := range sets {
		rec := accesstoken.Record{Token: accesstoken.Token{
			ID: uuid.New(), Owner: "alice", Target: accesstoken.ProjectTarget("p"), Scopes: sc,
		}}
		rec.Digest[0] = byte(i)
		require.NoError(t, s.Insert(ctx, rec), "Insert")
		ids[i] = rec.ID
	}
	for i, want := range sets {
		rec, err := s.ByID(ctx, ids[i])
		require.NoError(t, err, "ByID")
		if rec.Scopes != want {
			t.Errorf("Scopes: got %q; want %q", rec.Scopes, want)
		}
	}
}

// TestTouchLastUsedSubMicrosecondInterval checks that an interval that is
// not a whole number of microseconds is not rounded down: the stored time
// must be at least the interval older.
func TestTouchLastUsedSubMicrosecondInterval(t *testing.T) {
	ctx := t.Context()
	s := memstore.New()
	rec := accesstoken.Record{Token: accesstoken.Token{ID: uuid.New(), Owner: "alice", Target: accesstoken.ProjectTarget("p")}}
	require.NoError(t, s.Insert(ctx, rec), "Insert")
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	const interval = 1500 * time.Nanosecond
	for _, step := range []struct {
		at   time.Time
		want bool
	}{
		{t0, true},
		{t0.Add(time.Microsecond), false},
		{t0.Add(2 * time.Microsecond), true},
	} {
		wrote, err := s.TouchLastUsed(ctx, rec.ID, step.at, interval)
		require.NoError(t, err, "TouchLastUsed")
		if wrote != step.want {
			t.Fatalf("TouchLastUsed(%v, interval %v): got %v; want %v", step.at, interval, wrote, step.want)
		}
	}
}

// TestDigestPrefixCollision checks the index on the first 8 bytes of the
// digest: tokens whose digests share them are told apart, found, deleted
// and checked for duplicates by their whole digest.
func TestDigestPrefixCollision(t *testing.T) {
	ctx := t.Context()
	s := memstore.New()
	recs := make([]*accesstoken.Record, 3)
	for i := range recs {
		recs[i] = &accesstoken.Record{Token: accesstoken.Token{
			ID: uuid.New(), Owner: "alice", Target: accesstoken.RepositoryTarget("p", string(rune('a'+i))),
			Scopes: accesstoken.NewScopeSet(accesstoken.ScopePull),
		}}
		copy(recs[i].Digest[:8], "samekey!")
		recs[i].Digest[31] = byte(i)
		require.NoError(t, s.Insert(ctx, *recs[i]))
	}
	dup := *recs[2]
	dup.ID = uuid.New()
	require.ErrorIs(t, s.Insert(ctx, dup), accesstoken.ErrDuplicate)
	var other accesstoken.Digest
	copy(other[:8], "samekey!")
	other[31] = 9
	_, err := s.ByDigest(ctx, other)
	require.ErrorIs(t, err, accesstoken.ErrNotFound)
	for _, r := range recs {
		got, err := s.ByDigest(ctx, r.Digest)
		require.NoError(t, err)
		require.Equal(t, r.ID, got.ID)
	}
	// Deleting the indexed one promotes a collided one.
	n, err := s.DeleteTarget(ctx, recs[0].Target)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	_, err = s.ByDigest(ctx, recs[0].Digest)
	require.ErrorIs(t, err, accesstoken.ErrNotFound)
	for _, r := range recs[1:] {
		got, err := s.ByDigest(ctx, r.Digest)
		require.NoError(t, err)
		require.Equal(t, r.ID, got.ID)
	}
	n, err = s.DeleteTarget(ctx, accesstoken.ProjectTarget("p"))
	require.NoError(t, err)
	require.Equal(t, 2, n)
	for _, r := range recs {
		_, err = s.ByDigest(ctx, r.Digest)
		require.ErrorIs(t, err, accesstoken.ErrNotFound)
	}
}
