package storetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/forgekit/accesstoken"
	"github.com/google/uuid"
)

// pagesOf lists q page by page, limit records at a time, each page after
// the last record of the previous one, and returns every page.
func pagesOf(t *testing.T, st accesstoken.Store, q accesstoken.Query, limit int) [][]accesstoken.Record {
	t.Helper()
	q.Limit = limit
	var pages [][]accesstoken.Record
	for range 1000 {
		page := list(t, st, q)
		if len(page) > limit {
			t.Fatalf("List(%s): got %d records; want at most %d", queryString(q), len(page), limit)
		}
		if len(page) == 0 {
			return pages
		}
		pages = append(pages, page)
		q.After = accesstoken.PositionOf(page[len(page)-1].Token)
	}
	t.Fatalf("List(%s): more than 1000 pages", queryString(q))
	return nil
}

// testListPages: every query listed a page at a time, with any page size,
// gives the records of the whole list, in order, each once; a position
// that is no record's still splits the list where it falls.
func (s suite) testListPages(t *testing.T) {
	st := s.store(t)
	w := newWorld(t, st)
	// More of alice's tokens on alpha/r1, with ties in CreatedAt that only
	// the IDs order, and records in every state.
	tie := base.Add(30 * time.Second)
	for i := range 12 {
		r := newRecord(fmt.Sprintf("alpha/r1 #%d", i), "alice", accesstoken.RepositoryTarget("alpha", "r1"), tie.Add(time.Duration(i/4)*time.Second))
		switch i % 3 {
		case 1:
			r.RevokedAt, r.RevokedBy = tie, "alice"
		case 2:
			r.ExpiresAt = tie.Add(time.Hour)
		}
		w.all = append(w.all, r)
		mustInsert(t, st, r)
	}
	r1 := accesstoken.RepositoryTarget("alpha", "r1")
	queries := []accesstoken.Query{
		{Owner: "alice"},
		{Owner: "bob"},
		{Target: &r1},
		{Target: &r1, Covering: true},
		{Target: target(accesstoken.ProjectTarget("alpha"))},
		{All: true},
		{All: true, Owner: "alice", Target: &r1, Covering: true},
		{Owner: "alice", Active: tie.Add(time.Minute)},
		{All: true, Inactive: tie.Add(2 * time.Hour)},
		{Target: &r1, Covering: true, ExpiringBefore: tie.Add(2 * time.Hour)},
	}
	for _, q := range queries {
		whole := list(t, st, q)
		if len(whole) == 0 {
			t.Fatalf("List(%s): got nothing; the test wants records", queryString(q))
		}
		for _, limit := range []int{1, 2, 3, 5, len(whole), len(whole) + 1} {
			pages := pagesOf(t, st, q, limit)
			var all []accesstoken.Record
			for i, p := range pages {
				if i < len(pages)-1 && len(p) != limit {
					t.Fatalf("List(%s), page %d of %d: got %d records; want %d", queryString(q), i+1, len(pages), len(p), limit)
				}
				all = append(all, p...)
			}
			checkList(t, fmt.Sprintf("List(%s) in pages of %d", queryString(q), limit), all, ptrs(whole)...)
		}
		// A Limit alone is the first records.
		q.Limit = 2
		checkList(t, fmt.Sprintf("List(%s)", queryString(q)), list(t, st, q), ptrs(whole[:min(2, len(whole))])...)
		q.Limit = 0
		// A position between two records: the tie's IDs are random, so
		// take a CreatedAt between two of the list's and the largest ID,
		// and the smallest ID at the same CreatedAt as a record.
		for i, r := range whole {
			for _, after := range []accesstoken.Position{
				{CreatedAt: r.CreatedAt, ID: uuid.Max},
				{CreatedAt: r.CreatedAt.Add(-time.Microsecond), ID: uuid.Max},
				{CreatedAt: r.CreatedAt, ID: uuid.UUID{0: 0, 15: 1}},
			} {
				q.After = after
				var want []*accesstoken.Record
				for _, x := range whole {
					if x.CreatedAt.After(after.CreatedAt) || x.CreatedAt.Equal(after.CreatedAt) && slices.Compare(x.ID[:], after.ID[:]) > 0 {
						want = append(want, &x)
					}
				}
				checkList(t, fmt.Sprintf("List(%s) (record %d)", queryString(q), i), list(t, st, q), want...)
			}
		}
	}
}

// ptrs returns pointers to copies of recs.
func ptrs(recs []accesstoken.Record) []*accesstoken.Record {
	out := make([]*accesstoken.Record, len(recs))
	for i := range recs {
		r := recs[i]
		out[i] = &r
	}
	return out
}

// testListStates: Inactive leaves out active records (at that time), and
// ExpiringBefore records that never expire or expire at or after it;
// filters combine.
func (s suite) testListStates(t *testing.T) {
	st := s.store(t)
	now := base.Add(10 * time.Hour)
	repo := accesstoken.RepositoryTarget("alpha", "r1")
	var all []*accesstoken.Record
	mk := func(name string) *accesstoken.Record {
		r := newRecord(name, "alice", repo, base.Add(time.Duration(len(all))*time.Second))
		all = append(all, r)
		return r
	}
	mk("never expires")
	soon := mk("expires in a day")
	soon.ExpiresAt = now.Add(24 * time.Hour)
	week := mk("expires in a week")
	week.ExpiresAt = now.Add(7 * 24 * time.Hour)
	exact := mk("expires exactly now")
	exact.ExpiresAt = now
	expired := mk("expired an hour ago")
	expired.ExpiresAt = now.Add(-time.Hour)
	revoked := mk("revoked, would expire in a day")
	revoked.ExpiresAt, revoked.RevokedAt, revoked.RevokedBy = now.Add(24*time.Hour), now.Add(-time.Minute), "alice"
	revokedLater := mk("revoked after now")
	revokedLater.RevokedAt, revokedLater.RevokedBy = now.Add(time.Hour), "alice"
	mustInsert(t, st, all...)

	in7 := now.Add(7 * 24 * time.Hour)
	runListCases(t, st, []listCase{
		{"inactive", accesstoken.Query{Owner: "alice", Inactive: now.In(elsewhere)}, []*accesstoken.Record{exact, expired, revoked, revokedLater}},
		{"inactive a microsecond earlier", accesstoken.Query{Owner: "alice", Inactive: now.Add(-time.Microsecond)}, []*accesstoken.Record{expired, revoked, revokedLater}},
		{"expiring before a week", accesstoken.Query{Owner: "alice", ExpiringBefore: in7}, []*accesstoken.Record{soon, exact, expired, revoked}},
		{"active, expiring before a week", accesstoken.Query{Owner: "alice", Active: now, ExpiringBefore: in7}, []*accesstoken.Record{soon}},
		{"active, expiring before a week and a microsecond", accesstoken.Query{Target: &repo, Active: now, ExpiringBefore: in7.Add(time.Microsecond)}, []*accesstoken.Record{soon, week}},
		{"inactive, expiring before a week", accesstoken.Query{All: true, Inactive: now, ExpiringBefore: in7}, []*accesstoken.Record{exact, expired, revoked}},
		{"active and inactive", accesstoken.Query{Owner: "alice", Active: now, Inactive: now}, nil},
	})
}

// testListAll: All selects every record, and Owner and Target filter it
// together; without All, a Query of neither selects nothing.
func (s suite) testListAll(t *testing.T) {
	st := s.store(t)
	w := newWorld(t, st)
	r1 := accesstoken.RepositoryTarget("alpha", "r1")
	runListCases(t, st, []listCase{
		{"every record", accesstoken.Query{All: true}, w.all},
		{"neither owner nor target, without All", accesstoken.Query{}, nil},
		{"by owner", accesstoken.Query{All: true, Owner: "bob"}, w.owned("bob")},
		{"by target", accesstoken.Query{All: true, Target: &r1}, []*accesstoken.Record{w.alphaR1a, w.alphaR1b}},
		{"by owner and target", accesstoken.Query{Owner: "bob", Target: &r1}, []*accesstoken.Record{w.alphaR1b}},
		{"by owner and target, covering", accesstoken.Query{Owner: "alice", Target: &r1, Covering: true}, []*accesstoken.Record{w.alphaProj, w.alphaR1a}},
		{"by owner and project", accesstoken.Query{Owner: "bob", Target: target(accesstoken.ProjectTarget("alpha2"))}, []*accesstoken.Record{w.alpha2Proj}},
		{"by an owner without tokens and a target", accesstoken.Query{Owner: "carol", Target: &r1}, nil},
	})
}

// testDeleteInactive: DeleteInactive deletes the records revoked, or whose
// expiry is, before the time given, and nothing else; what it deleted is
// gone from every lookup and list.
func (s suite) testDeleteInactive(t *testing.T) {
	st := s.store(t)
	w := newWorld(t, st)
	cut := base.Add(30 * 24 * time.Hour)
	var gone, kept []*accesstoken.Record
	mk := func(name string, del bool) *accesstoken.Record {
		r := newRecord(name, "carol", accesstoken.ProjectTarget("gamma"), base.Add(time.Hour+time.Duration(len(gone)+len(kept))*time.Second))
		if del {
			gone = append(gone, r)
		} else {
			kept = append(kept, r)
		}
		return r
	}
	r := mk("revoked a microsecond before", true)
	r.RevokedAt, r.RevokedBy = cut.Add(-time.Microsecond), "carol"
	r = mk("expired long before", true)
	r.ExpiresAt = base.Add(time.Hour)
	r = mk("revoked after expiring before", true)
	r.ExpiresAt, r.RevokedAt, r.RevokedBy = cut.Add(-time.Hour), cut.Add(time.Hour), "carol"
	r = mk("rotated before", true)
	r.RevokedAt, r.RevokedBy, r.ReplacedBy = cut.Add(-time.Hour), "carol", uuid.New()
	r = mk("revoked exactly then", false)
	r.RevokedAt, r.RevokedBy = cut, "carol"
	r = mk("expired exactly then", false)
	r.ExpiresAt = cut
	r = mk("revoked after", false)
	r.RevokedAt, r.RevokedBy = cut.Add(time.Hour), "carol"
	r = mk("expires after", false)
	r.ExpiresAt = cut.Add(time.Hour)
	mk("active", false)
	mustInsert(t, st, gone...)
	mustInsert(t, st, kept...)

	n, err := st.DeleteInactive(t.Context(), cut.In(elsewhere))
	if err != nil {
		t.Fatalf("DeleteInactive: %v", err)
	}
	if n != len(gone) {
		t.Fatalf("DeleteInactive: got %d; want %d", n, len(gone))
	}
	for _, r := range gone {
		checkAbsent(t, st, r)
	}
	for _, r := range kept {
		checkStored(t, st, r)
	}
	w.checkOnly(t, st)
	checkList(t, "List by owner carol", list(t, st, accesstoken.Query{Owner: "carol"}), kept...)
	checkList(t, "List every record", list(t, st, accesstoken.Query{All: true}), append(slices.Clone(w.all), kept...)...)
	n, err = st.DeleteInactive(t.Context(), cut)
	if err != nil || n != 0 {
		t.Fatalf("DeleteInactive again: got %d, %v; want 0", n, err)
	}
	// The store goes on: its indexes hold nothing of what it deleted.
	again := newRecord("after the deletion", "carol", accesstoken.ProjectTarget("gamma"), cut)
	mustInsert(t, st, again)
	checkList(t, "List by owner carol, after an insertion", list(t, st, accesstoken.Query{Owner: "carol"}), append(slices.Clone(kept), again)...)
}
