package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/forgekit/accesstoken"
	"github.com/google/uuid"
)

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
