package storetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/forgekit/accesstoken"
	"github.com/google/uuid"
)

// world is a store's worth of tokens over three projects and a personal
// repository. Project "alpha2" has a name that starts with "alpha", and
// repository "r1" exists in alpha, alpha2, beta and outside any project, so
// that a store matching by prefix, or by repository name alone, is caught.
type world struct {
	all []*accesstoken.Record // in CreatedAt order

	alphaProj  *accesstoken.Record // alice, project alpha
	alphaR1a   *accesstoken.Record // alice, alpha/r1
	alphaR1b   *accesstoken.Record // bob, alpha/r1
	alphaR2    *accesstoken.Record // alice, alpha/r2
	alpha2Proj *accesstoken.Record // bob, project alpha2
	alpha2R1   *accesstoken.Record // alice, alpha2/r1
	betaProj   *accesstoken.Record // alice, project beta
	betaR1     *accesstoken.Record // bob, beta/r1
	personalR1 *accesstoken.Record // alice, repository r1 outside any project
}

// newWorld inserts a world into st, newest first so that insertion order
// is not the listing order.
func newWorld(t *testing.T, st accesstoken.Store) *world {
	t.Helper()
	w := &world{}
	mk := func(name, owner string, tg accesstoken.Target) *accesstoken.Record {
		r := newRecord(name, owner, tg, base.Add(time.Duration(len(w.all))*time.Second))
		w.all = append(w.all, r)
		return r
	}
	w.alphaProj = mk("alpha/*", "alice", accesstoken.ProjectTarget("alpha"))
	w.alphaR1a = mk("alpha/r1 (alice)", "alice", accesstoken.RepositoryTarget("alpha", "r1"))
	w.alphaR1b = mk("alpha/r1 (bob)", "bob", accesstoken.RepositoryTarget("alpha", "r1"))
	w.alphaR2 = mk("alpha/r2", "alice", accesstoken.RepositoryTarget("alpha", "r2"))
	w.alpha2Proj = mk("alpha2/*", "bob", accesstoken.ProjectTarget("alpha2"))
	w.alpha2R1 = mk("alpha2/r1", "alice", accesstoken.RepositoryTarget("alpha2", "r1"))
	w.betaProj = mk("beta/*", "alice", accesstoken.ProjectTarget("beta"))
	w.betaR1 = mk("beta/r1", "bob", accesstoken.RepositoryTarget("beta", "r1"))
	w.personalR1 = mk("personal r1", "alice", accesstoken.RepositoryTarget("", "r1"))
	for _, r := range slices.Backward(w.all) {
		mustInsert(t, st, r)
	}
	return w
}

// owned returns the records of w.all owned by owner and not in gone.
func (w *world) owned(owner string, gone ...*accesstoken.Record) []*accesstoken.Record {
	var out []*accesstoken.Record
	for _, r := range w.all {
		if r.Owner == owner && !slices.Contains(gone, r) {
			out = append(out, r)
		}
	}
	return out
}

// checkOnly fails the test unless st holds every record of w except gone,
// unchanged, and nothing of gone.
func (w *world) checkOnly(t *testing.T, st accesstoken.Store, gone ...*accesstoken.Record) {
	t.Helper()
	for _, r := range w.all {
		if slices.Contains(gone, r) {
			checkAbsent(t, st, r)
		} else {
			checkStored(t, st, r)
		}
	}
	for _, owner := range []string{"alice", "bob"} {
		checkList(t, fmt.Sprintf("List by owner %q", owner), list(t, st, accesstoken.Query{Owner: owner}), w.owned(owner, gone...)...)
	}
}

// listCase is one query and the records it must return, in order.
type listCase struct {
	name string
	in   accesstoken.Query
	want []*accesstoken.Record
}

// runListCases runs each case as it is and, when it asks for the whole
// list oldest first, newest first too, which must return the same records
// in the reverse order: every filter combined with either order.
func runListCases(t *testing.T, st accesstoken.Store, cases []listCase) {
	t.Helper()
	for _, c := range cases {
		checkList(t, fmt.Sprintf("%s: List(%s)", c.name, queryString(c.in)), list(t, st, c.in), c.want...)
		if c.in.Order == accesstoken.OldestFirst && c.in.Limit == 0 && c.in.After.IsZero() {
			q := c.in
			q.Order = accesstoken.NewestFirst
			checkList(t, fmt.Sprintf("%s, newest first: List(%s)", c.name, queryString(q)), list(t, st, q), reversed(c.want)...)
		}
	}
}

// testListEmptyStore: an empty store lists nothing, without error.
func (s suite) testListEmptyStore(t *testing.T) {
	st := s.store(t)
	runListCases(t, st, []listCase{
		{name: "owner", in: accesstoken.Query{Owner: "alice"}},
		{name: "project", in: accesstoken.Query{Target: target(accesstoken.ProjectTarget("alpha"))}},
		{name: "repository", in: accesstoken.Query{Target: target(accesstoken.RepositoryTarget("alpha", "r1"))}},
		{name: "covering", in: accesstoken.Query{Target: target(accesstoken.RepositoryTarget("alpha", "r1")), Covering: true}},
		{name: "active", in: accesstoken.Query{Owner: "alice", Active: base}},
	})
}

// testListByOwner: an owner query returns that owner's tokens, whatever
// their target.
func (s suite) testListByOwner(t *testing.T) {
	st := s.store(t)
	w := newWorld(t, st)
	runListCases(t, st, []listCase{
		{"alice", accesstoken.Query{Owner: "alice"}, []*accesstoken.Record{w.alphaProj, w.alphaR1a, w.alphaR2, w.alpha2R1, w.betaProj, w.personalR1}},
		{"bob", accesstoken.Query{Owner: "bob"}, []*accesstoken.Record{w.alphaR1b, w.alpha2Proj, w.betaR1}},
		{"owner with no tokens", accesstoken.Query{Owner: "carol"}, nil},
		{"owner name is a prefix", accesstoken.Query{Owner: "ali"}, nil},
		{"neither owner nor target", accesstoken.Query{}, nil},
	})
}

// testListByProjectTarget: a project target selects that project's project
// tokens only, not its repositories' tokens.
func (s suite) testListByProjectTarget(t *testing.T) {
	st := s.store(t)
	w := newWorld(t, st)
	runListCases(t, st, []listCase{
		{"alpha", accesstoken.Query{Target: target(accesstoken.ProjectTarget("alpha"))}, []*accesstoken.Record{w.alphaProj}},
		{"alpha2", accesstoken.Query{Target: target(accesstoken.ProjectTarget("alpha2"))}, []*accesstoken.Record{w.alpha2Proj}},
		{"beta", accesstoken.Query{Target: target(accesstoken.ProjectTarget("beta"))}, []*accesstoken.Record{w.betaProj}},
		{"project without tokens", accesstoken.Query{Target: target(accesstoken.ProjectTarget("gamma"))}, nil},
	})
}

// testListByRepositoryTarget: a repository target selects that repository's
// tokens only: not project tokens, not a repository of the same name in
// another project.
func (s suite) testListByRepositoryTarget(t *testing.T) {
	st := s.store(t)
	w := newWorld(t, st)
	repo := func(p, r string) *accesstoken.Target { return target(accesstoken.RepositoryTarget(p, r)) }
	runListCases(t, st, []listCase{
		{"alpha/r1", accesstoken.Query{Target: repo("alpha", "r1")}, []*accesstoken.Record{w.alphaR1a, w.alphaR1b}},
		{"alpha/r2", accesstoken.Query{Target: repo("alpha", "r2")}, []*accesstoken.Record{w.alphaR2}},
		{"alpha2/r1", accesstoken.Query{Target: repo("alpha2", "r1")}, []*accesstoken.Record{w.alpha2R1}},
		{"beta/r1", accesstoken.Query{Target: repo("beta", "r1")}, []*accesstoken.Record{w.betaR1}},
		{"personal r1", accesstoken.Query{Target: repo("", "r1")}, []*accesstoken.Record{w.personalR1}},
		{"repository without tokens", accesstoken.Query{Target: repo("alpha", "r3")}, nil},
	})
}

// testListCovering: a repository target with Covering adds the project
// tokens of its project, and nothing of sibling repositories or other
// projects.
func (s suite) testListCovering(t *testing.T) {
	st := s.store(t)
	w := newWorld(t, st)
	covering := func(p, r string) accesstoken.Query {
		return accesstoken.Query{Target: target(accesstoken.RepositoryTarget(p, r)), Covering: true}
	}
	runListCases(t, st, []listCase{
		{"alpha/r1", covering("alpha", "r1"), []*accesstoken.Record{w.alphaProj, w.alphaR1a, w.alphaR1b}},
		{"alpha/r2", covering("alpha", "r2"), []*accesstoken.Record{w.alphaProj, w.alphaR2}},
		{"alpha repository without tokens of its own", covering("alpha", "r3"), []*accesstoken.Record{w.alphaProj}},
		{"alpha2/r1", covering("alpha2", "r1"), []*accesstoken.Record{w.alpha2Proj, w.alpha2R1}},
		{"beta/r1", covering("beta", "r1"), []*accesstoken.Record{w.betaProj, w.betaR1}},
		{"personal r1", covering("", "r1"), []*accesstoken.Record{w.personalR1}},
		{"project without tokens", covering("gamma", "r1"), nil},
	})
}

// testListActive: Active leaves out tokens revoked, or expired at that time
// (expiring exactly then counts as expired), and Active zero leaves out
// nothing.
func (s suite) testListActive(t *testing.T) {
	st := s.store(t)
	now := base.Add(10 * time.Hour)
	repo := accesstoken.RepositoryTarget("alpha", "r1")
	var all []*accesstoken.Record
	mk := func(name string, tg accesstoken.Target) *accesstoken.Record {
		r := newRecord(name, "alice", tg, base.Add(time.Duration(len(all))*time.Second))
		all = append(all, r)
		return r
	}
	never := mk("never expires", repo)
	later := mk("expires a microsecond later", repo)
	later.ExpiresAt = now.Add(time.Microsecond)
	exact := mk("expires exactly then", repo)
	exact.ExpiresAt = now
	expired := mk("expired an hour before", repo)
	expired.ExpiresAt = now.Add(-time.Hour)
	revoked := mk("revoked", repo)
	revoked.RevokedAt, revoked.RevokedBy = now.Add(-time.Hour), "admin"
	rotated := mk("rotated", repo)
	rotated.RevokedAt, rotated.RevokedBy, rotated.ReplacedBy = now.Add(-time.Minute), "alice", never.ID
	revokedLater := mk("not expired, revoked", repo)
	revokedLater.ExpiresAt, revokedLater.RevokedAt, revokedLater.RevokedBy = now.Add(time.Hour), now.Add(-time.Second), "alice"
	proj := mk("project, expires later", accesstoken.ProjectTarget("alpha"))
	proj.ExpiresAt = now.Add(time.Hour)
	projRevoked := mk("project, revoked", accesstoken.ProjectTarget("alpha"))
	projRevoked.RevokedAt, projRevoked.RevokedBy = now.Add(-time.Hour), "admin"
	mustInsert(t, st, all...)

	byOwner := accesstoken.Query{Owner: "alice"}
	activeByOwner := byOwner
	activeByOwner.Active = now.In(elsewhere)
	covering := accesstoken.Query{Target: &repo, Covering: true, Active: now}
	runListCases(t, st, []listCase{
		{"owner, all", byOwner, all},
		{"owner, active", activeByOwner, []*accesstoken.Record{never, later, proj}},
		{"repository, active", accesstoken.Query{Target: &repo, Active: now}, []*accesstoken.Record{never, later}},
		{"covering, active", covering, []*accesstoken.Record{never, later, proj}},
		{"project, active", accesstoken.Query{Target: target(accesstoken.ProjectTarget("alpha")), Active: now}, []*accesstoken.Record{proj}},
		{"owner, active a microsecond before the exact expiry", accesstoken.Query{Owner: "alice", Active: now.Add(-time.Microsecond)}, []*accesstoken.Record{never, later, exact, proj}},
	})
}

// testListOrder: lists are ordered oldest first by CreatedAt (to the
// microsecond, whatever the time zone the times were given in), then by the
// bytes of the ID (unsigned: 7f… before 80…), and newest first in exactly
// the reverse order (runListCases checks it).
func (s suite) testListOrder(t *testing.T) {
	st := s.store(t)
	id := func(s string) uuid.UUID { return uuid.MustParse(s) }
	mk := func(name, uid string, created time.Time) *accesstoken.Record {
		r := newRecord(name, "alice", accesstoken.RepositoryTarget("alpha", "r1"), created)
		r.ID = id(uid)
		return r
	}
	// The want order.
	east := time.FixedZone("UTC+5", 5*3600)
	recs := []*accesstoken.Record{
		mk("a minute earlier, given in UTC+5", "ffffffff-ffff-4fff-bfff-ffffffffffff", base.Add(-time.Minute).In(east)),
		mk("tie, ID 00…", "00000000-0000-4000-8000-000000000001", base),
		mk("tie, ID 7f…fe", "7fffffff-ffff-4fff-bfff-fffffffffffe", base),
		mk("tie, ID 7f…ff", "7fffffff-ffff-4fff-bfff-ffffffffffff", base),
		mk("tie, ID 80…", "80000000-0000-4000-8000-000000000000", base.In(elsewhere)),
		mk("tie, ID ff…", "ffffffff-ffff-4fff-bfff-fffffffffffe", base),
		mk("a microsecond later, ID 00…", "00000000-0000-4000-8000-000000000000", base.Add(time.Microsecond)),
		mk("a second later", "10000000-0000-4000-8000-000000000000", base.Add(time.Second)),
	}
	for _, i := range []int{3, 7, 0, 5, 1, 6, 4, 2} {
		mustInsert(t, st, recs[i])
	}
	runListCases(t, st, []listCase{
		{"owner", accesstoken.Query{Owner: "alice"}, recs},
		{"repository", accesstoken.Query{Target: target(accesstoken.RepositoryTarget("alpha", "r1"))}, recs},
		{"covering", accesstoken.Query{Target: target(accesstoken.RepositoryTarget("alpha", "r1")), Covering: true}, recs},
		{"active", accesstoken.Query{Owner: "alice", Active: base}, recs},
	})
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

// comesAfter reports whether x comes after the position p in lists of
// order o: later oldest first, earlier newest first (ties by the bytes of
// the ID, unsigned).
func comesAfter(x *accesstoken.Record, p accesstoken.Position, o accesstoken.Order) bool {
	c := x.CreatedAt.Compare(p.CreatedAt)
	if c == 0 {
		c = slices.Compare(x.ID[:], p.ID[:])
	}
	if o == accesstoken.NewestFirst {
		return c < 0
	}
	return c > 0
}

// testListPages: every query listed a page at a time, in either order,
// with any page size, gives the records of the whole list, in order, each
// once; newest first is the reverse of oldest first; a position that is no
// record's still splits the list where it falls.
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
	for _, oldest := range queries {
		oldestWhole := list(t, st, oldest)
		if len(oldestWhole) == 0 {
			t.Fatalf("List(%s): got nothing; the test wants records", queryString(oldest))
		}
		for _, order := range []accesstoken.Order{accesstoken.OldestFirst, accesstoken.NewestFirst} {
			q := oldest
			q.Order = order
			whole := list(t, st, q)
			if order == accesstoken.NewestFirst {
				checkList(t, fmt.Sprintf("List(%s): the reverse of oldest first", queryString(q)), whole, reversed(ptrs(oldestWhole))...)
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
			// A position between two records: the tie's IDs are random,
			// so take a CreatedAt between two of the list's and the
			// largest or smallest ID, and the smallest and largest IDs at
			// the same CreatedAt as a record.
			for i, r := range whole {
				for _, after := range []accesstoken.Position{
					{CreatedAt: r.CreatedAt, ID: uuid.Max},
					{CreatedAt: r.CreatedAt.Add(-time.Microsecond), ID: uuid.Max},
					{CreatedAt: r.CreatedAt.Add(time.Microsecond), ID: uuid.UUID{0: 0, 15: 1}},
					{CreatedAt: r.CreatedAt, ID: uuid.UUID{0: 0, 15: 1}},
				} {
					q.After = after
					var want []*accesstoken.Record
					for _, x := range whole {
						if comesAfter(&x, after, order) {
							want = append(want, &x)
						}
					}
					checkList(t, fmt.Sprintf("List(%s) (record %d)", queryString(q), i), list(t, st, q), want...)
				}
			}
		}
	}
}

// testListUnknownOrder: an Order that is neither OldestFirst nor
// NewestFirst is an error, not a list in some order.
func (s suite) testListUnknownOrder(t *testing.T) {
	st := s.store(t)
	newWorld(t, st)
	for _, o := range []accesstoken.Order{2, 255} {
		q := accesstoken.Query{Owner: "alice", Order: o}
		if recs, err := st.List(t.Context(), q); err == nil {
			t.Fatalf("List(%s): got %s, no error; want an error", queryString(q), names(recs))
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
