package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/forgekit/accesstoken"
	"github.com/google/uuid"
)

// rotation is a record and the record to rotate it to.
func rotation(t *testing.T, st accesstoken.Store) (old, next, other *accesstoken.Record) {
	t.Helper()
	old = newRecord("old", "alice", accesstoken.RepositoryTarget("alpha", "r1"), base)
	old.Scopes = accesstoken.NewScopeSet(accesstoken.ScopePull, accesstoken.ScopePush)
	old.ExpiresAt = base.Add(30 * 24 * time.Hour)
	old.LastUsedAt = base.Add(time.Minute)
	other = newRecord("other", "alice", accesstoken.RepositoryTarget("alpha", "r1"), base.Add(time.Second))
	mustInsert(t, st, old, other)
	next = newRecord("next", "alice", old.Target, base.Add(time.Hour))
	next.Scopes = old.Scopes
	next.ExpiresAt = old.ExpiresAt
	return old, next, other
}

// testRotate: Rotate revokes the old record (at, by, ReplacedBy) and
// inserts the next one exactly.
func (s suite) testRotate(t *testing.T) {
	st := s.store(t)
	old, next, other := rotation(t, st)
	at := next.CreatedAt.In(elsewhere)
	if err := st.Rotate(t.Context(), old.ID, accesstoken.Revocation{At: at, By: "alice"}, *next); err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	old.RevokedAt, old.RevokedBy, old.ReplacedBy = at, "alice", next.ID
	checkStored(t, st, old)
	checkStored(t, st, next)
	checkStored(t, st, other)
	checkList(t, "List by owner after Rotate", list(t, st, accesstoken.Query{Owner: "alice"}), old, other, next)
	checkList(t, "active List after Rotate", list(t, st, accesstoken.Query{Owner: "alice", Active: at}), other, next)
}

// testRotateRevoked: a revoked record cannot be rotated: ErrRevoked, and
// nothing changes.
func (s suite) testRotateRevoked(t *testing.T) {
	st := s.store(t)
	old, next, _ := rotation(t, st)
	_, err := st.Revoke(t.Context(), old.ID, accesstoken.Revocation{At: base.Add(time.Minute), By: "admin"})
	if err != nil {
		t.Fatalf("Revoke: %v", err)
	}
	old.RevokedAt, old.RevokedBy = base.Add(time.Minute), "admin"
	err = st.Rotate(t.Context(), old.ID, accesstoken.Revocation{At: base.Add(time.Hour), By: "alice"}, *next)
	if !errors.Is(err, accesstoken.ErrRevoked) {
		t.Fatalf("Rotate(revoked record): got %v; want ErrRevoked", err)
	}
	checkStored(t, st, old)
	checkAbsent(t, st, next)
}

// testRotateTwice: a rotated record cannot be rotated again; it stays
// replaced by the first next record.
func (s suite) testRotateTwice(t *testing.T) {
	st := s.store(t)
	old, next, _ := rotation(t, st)
	at := base.Add(time.Hour)
	if err := st.Rotate(t.Context(), old.ID, accesstoken.Revocation{At: at, By: "alice"}, *next); err != nil {
		t.Fatalf("first Rotate: %v", err)
	}
	old.RevokedAt, old.RevokedBy, old.ReplacedBy = at, "alice", next.ID
	again := newRecord("next again", "alice", old.Target, at.Add(time.Hour))
	err := st.Rotate(t.Context(), old.ID, accesstoken.Revocation{At: at.Add(time.Hour), By: "alice"}, *again)
	if !errors.Is(err, accesstoken.ErrRevoked) {
		t.Fatalf("second Rotate: got %v; want ErrRevoked", err)
	}
	checkStored(t, st, old)
	checkStored(t, st, next)
	checkAbsent(t, st, again)
}

// testRotateNotFound: rotating an unknown ID is ErrNotFound and inserts
// nothing.
func (s suite) testRotateNotFound(t *testing.T) {
	st := s.store(t)
	_, next, _ := rotation(t, st)
	err := st.Rotate(t.Context(), uuid.New(), accesstoken.Revocation{At: base.Add(time.Hour), By: "alice"}, *next)
	if !errors.Is(err, accesstoken.ErrNotFound) {
		t.Fatalf("Rotate(unknown ID): got %v; want ErrNotFound", err)
	}
	checkAbsent(t, st, next)
}

// testRotateDuplicate: a next record whose ID or digest is taken is
// ErrDuplicate, and then the old record is not revoked: both or neither.
func (s suite) testRotateDuplicate(t *testing.T) {
	cases := []struct {
		name string
		in   func(old, next, other *accesstoken.Record)
	}{
		{"ID of another record", func(old, next, other *accesstoken.Record) { next.ID = other.ID }},
		{"digest of another record", func(old, next, other *accesstoken.Record) { next.Digest = other.Digest }},
		{"ID of the rotated record", func(old, next, other *accesstoken.Record) { next.ID = old.ID }},
		{"digest of the rotated record", func(old, next, other *accesstoken.Record) { next.Digest = old.Digest }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st := s.store(t)
			old, next, other := rotation(t, st)
			c.in(old, next, other)
			err := st.Rotate(t.Context(), old.ID, accesstoken.Revocation{At: base.Add(time.Hour), By: "alice"}, *next)
			if !errors.Is(err, accesstoken.ErrDuplicate) {
				t.Fatalf("Rotate to a record with the %s: got %v; want ErrDuplicate", c.name, err)
			}
			checkStored(t, st, old)
			checkStored(t, st, other)
			if next.ID != old.ID && next.ID != other.ID {
				rec, err := st.ByID(t.Context(), next.ID)
				if !errors.Is(err, accesstoken.ErrNotFound) {
					t.Fatalf("ByID(ID of the refused record): got %s, %v; want ErrNotFound", names([]accesstoken.Record{rec}), err)
				}
			}
			if next.Digest != old.Digest && next.Digest != other.Digest {
				rec, err := st.ByDigest(t.Context(), next.Digest)
				if !errors.Is(err, accesstoken.ErrNotFound) {
					t.Fatalf("ByDigest(digest of the refused record): got %s, %v; want ErrNotFound", names([]accesstoken.Record{rec}), err)
				}
			}
			checkList(t, "List by owner", list(t, st, accesstoken.Query{Owner: "alice"}), old, other)
		})
	}
}

// testRotateConcurrent: of concurrent rotations of one record exactly one
// succeeds, the others are ErrRevoked, and only the winner's record is
// inserted.
func (s suite) testRotateConcurrent(t *testing.T) {
	st := s.store(t)
	old, _, other := rotation(t, st)
	const n = 10
	nexts := make([]*accesstoken.Record, n)
	errs := make([]error, n)
	for i := range nexts {
		nexts[i] = newRecord(fmt.Sprintf("next%d", i), "alice", old.Target, base.Add(time.Hour))
	}
	at := base.Add(time.Hour)
	ready, release := start()
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-ready
			errs[i] = st.Rotate(t.Context(), old.ID, accesstoken.Revocation{At: at, By: "alice"}, *nexts[i])
		})
	}
	release()
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Fatalf("Rotate to next%d and to next%d both succeeded; want exactly one to", winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, accesstoken.ErrRevoked):
			t.Fatalf("Rotate to next%d: got %v; want nil or ErrRevoked", i, err)
		}
	}
	if winner == -1 {
		t.Fatalf("Rotate from %d goroutines: got no success; want exactly one", n)
	}
	old.RevokedAt, old.RevokedBy, old.ReplacedBy = at, "alice", nexts[winner].ID
	checkStored(t, st, old)
	checkStored(t, st, other)
	for i, next := range nexts {
		if i == winner {
			checkStored(t, st, next)
		} else {
			checkAbsent(t, st, next)
		}
	}
}
