package storetest

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
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

// testTouchInterval: TouchLastUsed writes when LastUsedAt is zero, not
// again within the interval, and again once at is at least the interval
// later; it never moves LastUsedAt back.
func (s suite) testTouchInterval(t *testing.T) {
	st := s.store(t)
	a := newRecord("touched", "alice", accesstoken.ProjectTarget("alpha"), base)
	a.ExpiresAt = base.Add(24 * time.Hour)
	b := newRecord("left alone", "alice", accesstoken.ProjectTarget("alpha"), base)
	mustInsert(t, st, a, b)
	const interval = 10 * time.Minute
	t0 := base.Add(time.Hour)
	steps := []struct {
		name      string
		at        time.Time
		want      bool
		wantStore time.Time
	}{
		{"never used", t0.In(elsewhere), true, t0},
		{"same time", t0, false, t0},
		{"within the interval", t0.Add(interval / 2), false, t0},
		{"a microsecond short of the interval", t0.Add(interval - time.Microsecond), false, t0},
		{"exactly the interval later", t0.Add(interval), true, t0.Add(interval)},
		{"earlier than the last use", t0, false, t0.Add(interval)},
		{"long after", t0.Add(30 * 24 * time.Hour), true, t0.Add(30 * 24 * time.Hour)},
	}
	for _, step := range steps {
		wrote, err := st.TouchLastUsed(t.Context(), a.ID, step.at, interval)
		if err != nil {
			t.Fatalf("TouchLastUsed, %s: %v", step.name, err)
		}
		if wrote != step.want {
			t.Fatalf("TouchLastUsed, %s: got %v; want %v", step.name, wrote, step.want)
		}
		a.LastUsedAt = step.wantStore
		checkStored(t, st, a)
	}
	checkStored(t, st, b)
}

// testTouchNotFound: touching an unknown ID is (false, nil).
func (s suite) testTouchNotFound(t *testing.T) {
	st := s.store(t)
	mustInsert(t, st, newRecord("other", "alice", accesstoken.ProjectTarget("alpha"), base))
	wrote, err := st.TouchLastUsed(t.Context(), uuid.New(), base, time.Minute)
	if wrote || err != nil {
		t.Fatalf("TouchLastUsed(unknown ID): got %v, %v; want false, nil", wrote, err)
	}
}

// testTouchConcurrent: of 50 concurrent touches with the same time exactly
// one writes, and again for the next interval.
func (s suite) testTouchConcurrent(t *testing.T) {
	st := s.store(t)
	a := newRecord("touched concurrently", "alice", accesstoken.ProjectTarget("alpha"), base)
	mustInsert(t, st, a)
	const n = 50
	const interval = 10 * time.Minute
	for round, at := range []time.Time{base.Add(time.Hour), base.Add(time.Hour + interval)} {
		wrote := make([]bool, n)
		errs := make([]error, n)
		ready, release := start()
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				<-ready
				wrote[i], errs[i] = st.TouchLastUsed(t.Context(), a.ID, at, interval)
			})
		}
		release()
		wg.Wait()
		writes := 0
		for i := range n {
			if errs[i] != nil {
				t.Fatalf("round %d: TouchLastUsed in goroutine %d: %v", round, i, errs[i])
			}
			if wrote[i] {
				writes++
			}
		}
		if writes != 1 {
			t.Fatalf("round %d: %d concurrent TouchLastUsed with the same time: got %d writes; want 1", round, n, writes)
		}
		a.LastUsedAt = at
		checkStored(t, st, a)
	}
}

// testTouchContended: the liveness half of the TouchLastUsed contract.
// Many records are due at once and are touched concurrently, each by
// several callers, while other callers insert and revoke records (writers
// that contend for the same locks): every record gets its write. A store
// that gives a write up because it had to wait for a lock fails here.
func (s suite) testTouchContended(t *testing.T) {
	st := s.store(t)
	const records, touchers, writers = 24, 3, 24
	recs := make([]*accesstoken.Record, records)
	for i := range recs {
		recs[i] = newRecord(fmt.Sprintf("due %d", i), "alice", accesstoken.ProjectTarget("alpha"), base)
		mustInsert(t, st, recs[i])
	}
	at := base.Add(time.Hour)
	wrote := make([]atomic.Int32, records)
	errs := make(chan error, records*touchers+2*writers)
	ready, release := start()
	var wg sync.WaitGroup
	for i := range recs {
		for range touchers {
			wg.Go(func() {
				<-ready
				ok, err := st.TouchLastUsed(t.Context(), recs[i].ID, at, time.Minute)
				if err != nil {
					errs <- fmt.Errorf("TouchLastUsed of record %d: %w", i, err)
				}
				if ok {
					wrote[i].Add(1)
				}
			})
		}
	}
	for i := range writers {
		wg.Go(func() {
			<-ready
			r := newRecord(fmt.Sprintf("contender %d", i), "bob", accesstoken.ProjectTarget("beta"), base)
			if err := st.Insert(t.Context(), *r); err != nil {
				errs <- fmt.Errorf("Insert of contender %d: %w", i, err)
				return
			}
			if _, err := st.Revoke(t.Context(), r.ID, accesstoken.Revocation{At: at, By: "bob"}); err != nil {
				errs <- fmt.Errorf("Revoke of contender %d: %w", i, err)
			}
		})
	}
	release()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for i, r := range recs {
		if n := wrote[i].Load(); n != 1 {
			t.Errorf("record %d: %d of %d concurrent TouchLastUsed wrote under contention; want exactly 1", i, n, touchers)
		}
		r.LastUsedAt = at
		checkStored(t, st, r)
	}
}

// testDeleteRepository: deleting a repository target deletes that
// repository's tokens (revoked ones too) and nothing else.
func (s suite) testDeleteRepository(t *testing.T) {
	st := s.store(t)
	w := newWorld(t, st)
	at := base.Add(time.Hour)
	_, err := st.Revoke(t.Context(), w.alphaR1b.ID, accesstoken.Revocation{At: at, By: "admin"})
	if err != nil {
		t.Fatalf("Revoke: %v", err)
	}
	w.alphaR1b.RevokedAt, w.alphaR1b.RevokedBy = at, "admin"

	n, err := st.DeleteTarget(t.Context(), accesstoken.RepositoryTarget("alpha", "r1"))
	if err != nil {
		t.Fatalf("DeleteTarget(alpha/r1): %v", err)
	}
	if n != 2 {
		t.Fatalf("DeleteTarget(alpha/r1): got %d; want 2", n)
	}
	w.checkOnly(t, st, w.alphaR1a, w.alphaR1b)
	runListCases(t, st, []listCase{
		{"deleted repository", accesstoken.Query{Target: target(accesstoken.RepositoryTarget("alpha", "r1"))}, nil},
		{"deleted repository, covering", accesstoken.Query{Target: target(accesstoken.RepositoryTarget("alpha", "r1")), Covering: true}, []*accesstoken.Record{w.alphaProj}},
	})

	n, err = st.DeleteTarget(t.Context(), accesstoken.RepositoryTarget("", "r1"))
	if err != nil {
		t.Fatalf("DeleteTarget(personal r1): %v", err)
	}
	if n != 1 {
		t.Fatalf("DeleteTarget(personal r1): got %d; want 1", n)
	}
	w.checkOnly(t, st, w.alphaR1a, w.alphaR1b, w.personalR1)
}

// testDeleteProject: deleting a project target deletes the project's
// tokens and those of all its repositories, and nothing of other projects.
func (s suite) testDeleteProject(t *testing.T) {
	st := s.store(t)
	w := newWorld(t, st)
	n, err := st.DeleteTarget(t.Context(), accesstoken.ProjectTarget("alpha"))
	if err != nil {
		t.Fatalf("DeleteTarget(alpha): %v", err)
	}
	if n != 4 {
		t.Fatalf("DeleteTarget(alpha): got %d; want 4", n)
	}
	w.checkOnly(t, st, w.alphaProj, w.alphaR1a, w.alphaR1b, w.alphaR2)
	runListCases(t, st, []listCase{
		{"deleted project", accesstoken.Query{Target: target(accesstoken.ProjectTarget("alpha"))}, nil},
		{"repository of the deleted project, covering", accesstoken.Query{Target: target(accesstoken.RepositoryTarget("alpha", "r2")), Covering: true}, nil},
	})
}

// testDeleteUnknown: deleting a target without tokens deletes nothing.
func (s suite) testDeleteUnknown(t *testing.T) {
	st := s.store(t)
	w := newWorld(t, st)
	for _, tg := range []accesstoken.Target{
		accesstoken.ProjectTarget("gamma"),
		accesstoken.ProjectTarget("alph"),
		accesstoken.RepositoryTarget("alpha", "r3"),
		accesstoken.RepositoryTarget("gamma", "r1"),
	} {
		n, err := st.DeleteTarget(t.Context(), tg)
		if err != nil {
			t.Fatalf("DeleteTarget(%v): %v", tg, err)
		}
		if n != 0 {
			t.Fatalf("DeleteTarget(%v): got %d; want 0", tg, n)
		}
	}
	w.checkOnly(t, st)
}
