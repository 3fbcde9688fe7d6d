package memstore_test

import (
	"slices"
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

// TestScopeListsKeptApart checks that scope lists that would read alike if
// joined with a separator are not taken for one another when interned.
func TestScopeListsKeptApart(t *testing.T) {
	ctx := t.Context()
	s := memstore.New()
	lists := [][]accesstoken.Scope{{"a b"}, {"a", "b"}, {"a:b"}, {"a", ":b"}}
	ids := make([]uuid.UUID, len(lists))
	for i, sc := range lists {
		rec := &accesstoken.Record{Token: accesstoken.Token{
			ID: uuid.New(), Owner: "alice", Target: accesstoken.ProjectTarget("p"), Scopes: sc,
		}}
		rec.Digest[0] = byte(i)
		require.NoError(t, s.Insert(ctx, rec), "Insert")
		ids[i] = rec.ID
	}
	for i, want := range lists {
		rec, err := s.ByID(ctx, ids[i])
		require.NoError(t, err, "ByID")
		if !slices.Equal(rec.Scopes, want) {
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
	rec := &accesstoken.Record{Token: accesstoken.Token{ID: uuid.New(), Owner: "alice", Target: accesstoken.ProjectTarget("p")}}
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
