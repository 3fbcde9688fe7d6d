package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/forgekit/accesstoken"
	"github.com/google/uuid"
)

// A cancelled context is a system error: every method returns an error
// that is not ErrNotFound (which the Manager would take for an answer), no
// result, and changes nothing.

// cancelled returns a context that is already cancelled.
func cancelled(t *testing.T) context.Context {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	return ctx
}

// checkCancelledErr fails the test unless err is a system error.
func checkCancelledErr(t *testing.T, what string, err error) {
	t.Helper()
	switch {
	case err == nil:
		t.Fatalf("%s with a cancelled context: got no error; want one", what)
	case errors.Is(err, accesstoken.ErrNotFound):
		t.Fatalf("%s with a cancelled context: got %v; want an error that does not match ErrNotFound, which would be an answer", what, err)
	}
}

// checkCancelledRecord fails the test unless err is a system error and no
// record came with it.
func checkCancelledRecord(t *testing.T, what string, got accesstoken.Record, err error) {
	t.Helper()
	checkCancelledErr(t, what, err)
	if got != (accesstoken.Record{}) {
		t.Fatalf("%s with a cancelled context: got record %q; want none", what, got.Description)
	}
}

// cancelFixture inserts a record for the cancelled-context tests.
func cancelFixture(t *testing.T, st accesstoken.Store) *accesstoken.Record {
	t.Helper()
	rec := newRecord("existing", "alice", accesstoken.RepositoryTarget("alpha", "r1"), base)
	mustInsert(t, st, rec)
	return rec
}

func (s suite) testCancelledInsert(t *testing.T) {
	st := s.store(t)
	rec := newRecord("inserted with a cancelled context", "alice", accesstoken.ProjectTarget("alpha"), base)
	checkCancelledErr(t, "Insert", st.Insert(cancelled(t), *rec))
	checkAbsent(t, st, rec)
}

func (s suite) testCancelledByDigest(t *testing.T) {
	st := s.store(t)
	rec := cancelFixture(t, st)
	for _, c := range []struct {
		name string
		d    accesstoken.Digest
	}{
		{"ByDigest(existing digest)", rec.Digest},
		{"ByDigest(unknown digest)", randomDigest()},
	} {
		got, err := st.ByDigest(cancelled(t), c.d)
		checkCancelledRecord(t, c.name, got, err)
	}
}

func (s suite) testCancelledByID(t *testing.T) {
	st := s.store(t)
	rec := cancelFixture(t, st)
	for _, c := range []struct {
		name string
		id   uuid.UUID
	}{
		{"ByID(existing ID)", rec.ID},
		{"ByID(unknown ID)", uuid.New()},
	} {
		got, err := st.ByID(cancelled(t), c.id)
		checkCancelledRecord(t, c.name, got, err)
	}
}

func (s suite) testCancelledList(t *testing.T) {
	st := s.store(t)
	cancelFixture(t, st)
	for _, q := range []accesstoken.Query{
		{Owner: "alice"},
		{Owner: "nobody"},
		{Target: target(accesstoken.RepositoryTarget("alpha", "r1")), Covering: true, Active: base},
	} {
		got, err := st.List(cancelled(t), q)
		checkCancelledErr(t, "List("+queryString(q)+")", err)
		if got != nil {
			t.Fatalf("List(%s) with a cancelled context: got %s; want no list", queryString(q), names(got))
		}
	}
}

func (s suite) testCancelledRevoke(t *testing.T) {
	st := s.store(t)
	rec := cancelFixture(t, st)
	got, err := st.Revoke(cancelled(t), rec.ID, accesstoken.Revocation{At: base.Add(time.Hour), By: "admin"})
	checkCancelledRecord(t, "Revoke", got, err)
	checkStored(t, st, rec)
}

func (s suite) testCancelledRotate(t *testing.T) {
	st := s.store(t)
	old, next, other := rotation(t, st)
	checkCancelledErr(t, "Rotate", st.Rotate(cancelled(t), old.ID, accesstoken.Revocation{At: base.Add(time.Hour), By: "alice"}, *next))
	checkStored(t, st, old)
	checkStored(t, st, other)
	checkAbsent(t, st, next)
}

func (s suite) testCancelledTouch(t *testing.T) {
	st := s.store(t)
	rec := cancelFixture(t, st)
	wrote, err := st.TouchLastUsed(cancelled(t), rec.ID, base.Add(time.Hour), time.Minute)
	checkCancelledErr(t, "TouchLastUsed", err)
	if wrote {
		t.Fatal("TouchLastUsed with a cancelled context: got true; want false")
	}
	checkStored(t, st, rec)
}

func (s suite) testCancelledDelete(t *testing.T) {
	st := s.store(t)
	rec := cancelFixture(t, st)
	n, err := st.DeleteTarget(cancelled(t), rec.Target)
	checkCancelledErr(t, "DeleteTarget", err)
	if n != 0 {
		t.Fatalf("DeleteTarget with a cancelled context: got %d; want 0", n)
	}
	checkStored(t, st, rec)
}

func (s suite) testCancelledRevokeOwner(t *testing.T) {
	st := s.store(t)
	rec := cancelFixture(t, st)
	got, err := st.RevokeOwner(cancelled(t), rec.Owner, accesstoken.Revocation{At: base.Add(time.Hour), By: "system:test", Reason: "test"})
	checkCancelledErr(t, "RevokeOwner", err)
	if len(got) != 0 {
		t.Fatalf("RevokeOwner with a cancelled context: got %s; want nothing", names(got))
	}
	checkStored(t, st, rec)
}

func (s suite) testCancelledDeleteInactive(t *testing.T) {
	st := s.store(t)
	rec := cancelFixture(t, st)
	rec.RevokedAt, rec.RevokedBy = base, "alice"
	if _, err := st.Revoke(t.Context(), rec.ID, accesstoken.Revocation{At: base, By: "alice"}); err != nil {
		t.Fatalf("Revoke: %v", err)
	}
	n, err := st.DeleteInactive(cancelled(t), base.Add(time.Hour))
	checkCancelledErr(t, "DeleteInactive", err)
	if n != 0 {
		t.Fatalf("DeleteInactive with a cancelled context: got %d; want 0", n)
	}
	checkStored(t, st, rec)
}
