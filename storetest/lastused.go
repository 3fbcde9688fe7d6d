package storetest

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/forgekit/accesstoken"
	"github.com/google/uuid"
)

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
