package storetest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/forgekit/accesstoken"
	"github.com/google/uuid"
)

// The Manager tests drive the store as a forge does, through an
// [accesstoken.Manager] with a fake clock.

var allScopes = accesstoken.BuiltinScopes()

// newManager returns a Manager over st that allows everything and tells the
// time from a fake clock, which it returns too.
func newManager(t *testing.T, st accesstoken.Store, opts ...accesstoken.Option) (*accesstoken.Manager, *clock) {
	t.Helper()
	clk := newClock()
	m, err := accesstoken.New(st, accesstoken.InsecureAllowAll(), append([]accesstoken.Option{accesstoken.WithClock(clk.Now)}, opts...)...)
	if err != nil {
		t.Fatalf("accesstoken.New: %v", err)
	}
	return m, clk
}

// issued numbers the descriptions issue makes: descriptions are unique
// among an owner's active tokens of a target.
var issued atomic.Int64

// issue issues a token that must be issued, then moves clk on by a second
// so that tokens issued one after the other are listed in that order.
func issue(t *testing.T, m *accesstoken.Manager, clk *clock, req accesstoken.IssueRequest) *accesstoken.Issued {
	t.Helper()
	if req.Description == "" {
		req.Description = fmt.Sprintf("%s's token %d for %s", req.Owner, issued.Add(1), req.Target)
	}
	iss, err := m.Issue(t.Context(), req)
	if err != nil {
		t.Fatalf("Issue(%s): %v", req.Description, err)
	}
	clk.Advance(time.Second)
	return iss
}

// verify fails the test unless Manager.Verify of secret for res and scope
// returns an error matching want, or succeeds when want is nil.
func verify(t *testing.T, m *accesstoken.Manager, what string, secret accesstoken.Secret, res accesstoken.Resource, scope accesstoken.Scope, want error) accesstoken.Token {
	t.Helper()
	tok, err := m.Verify(t.Context(), secret.Reveal(), res, scope)
	switch {
	case want == nil && err != nil:
		t.Fatalf("Verify(%s, %v, %s): got %v; want success", what, res, scope, err)
	case want == nil && tok.ID == uuid.Nil:
		t.Fatalf("Verify(%s, %v, %s): got no token and no error; want a token", what, res, scope)
	case want != nil && !errors.Is(err, want):
		t.Fatalf("Verify(%s, %v, %s): got %v; want %v", what, res, scope, err, want)
	}
	return tok
}

// tokenIDs returns the IDs of toks.
func tokenIDs(toks []accesstoken.Token) []uuid.UUID {
	ids := make([]uuid.UUID, len(toks))
	for i, tok := range toks {
		ids[i] = tok.ID
	}
	return ids
}

// checkIDs fails the test unless got lists exactly the tokens want, in
// order.
func checkIDs(t *testing.T, what string, got []accesstoken.Token, err error, want ...accesstoken.Token) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if g, w := tokenIDs(got), tokenIDs(want); !slices.Equal(g, w) {
		t.Fatalf("%s: got %v; want %v", what, g, w)
	}
}

// asRecord returns what the store should hold for an issued token.
func asRecord(m *accesstoken.Manager, iss *accesstoken.Issued) *accesstoken.Record {
	return &accesstoken.Record{Token: iss.Token, Digest: m.Digest(iss.Secret.Reveal())}
}

// testManagerIssue: an issued token is stored as Issue returned it, and
// verifies for its repository and scopes.
func (s suite) testManagerIssue(t *testing.T) {
	st := s.store(t)
	m, clk := newManager(t, st)
	ctx := t.Context()
	created := clk.Stored()
	iss := issue(t, m, clk, accesstoken.IssueRequest{
		Owner:       "alice",
		Description: "CI déploiement ✓",
		Target:      accesstoken.RepositoryTarget("alpha", "r1"),
		Scopes:      []accesstoken.Scope{accesstoken.ScopePush, accesstoken.ScopePull},
		ExpiresAt:   clk.Now().Add(24 * time.Hour),
	})
	want := asRecord(m, iss)
	if !want.CreatedAt.Equal(created) {
		t.Fatalf("CreatedAt: got %v; want %v", want.CreatedAt, created)
	}
	checkStored(t, st, want)
	got, err := m.Get(ctx, "alice", iss.Token.ID)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	checkRecord(t, "Get", &accesstoken.Record{Token: got, Digest: want.Digest}, want)

	res := accesstoken.Resource{Project: "alpha", Repository: "r1"}
	tok := verify(t, m, "issued token", iss.Secret, res, accesstoken.ScopePull, nil)
	if tok.ID != iss.Token.ID {
		t.Fatalf("Verify: got token %v; want %v", tok.ID, iss.Token.ID)
	}
	verify(t, m, "issued token", iss.Secret, res, accesstoken.ScopePush, nil)
	verify(t, m, "issued token", iss.Secret, res, accesstoken.ScopeBuildStatus, accesstoken.ErrMissingScope)

	unknown, err := m.Format().Generate()
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	verify(t, m, "never issued", unknown, res, accesstoken.ScopePull, accesstoken.ErrUnknownToken)

	toks, err := m.ListForOwner(ctx, "alice", accesstoken.ListOptions{})
	checkIDs(t, "ListForOwner", toks, err, iss.Token)
	toks, err = m.ListForTarget(ctx, "alice", accesstoken.RepositoryTarget("alpha", "r1"), accesstoken.ListOptions{})
	checkIDs(t, "ListForTarget(alpha/r1)", toks, err, iss.Token)
	toks, err = m.ListForTarget(ctx, "alice", accesstoken.ProjectTarget("alpha"), accesstoken.ListOptions{})
	checkIDs(t, "ListForTarget(alpha)", toks, err)
}

// testManagerCoverage: a project token works on every repository of its
// project and no other; a repository token only on its repository.
func (s suite) testManagerCoverage(t *testing.T) {
	st := s.store(t)
	m, clk := newManager(t, st)
	proj := issue(t, m, clk, accesstoken.IssueRequest{Owner: "alice", Target: accesstoken.ProjectTarget("alpha"), Scopes: allScopes})
	repo := issue(t, m, clk, accesstoken.IssueRequest{Owner: "alice", Target: accesstoken.RepositoryTarget("alpha", "r1"), Scopes: allScopes})
	personal := issue(t, m, clk, accesstoken.IssueRequest{Owner: "alice", Target: accesstoken.RepositoryTarget("", "r1"), Scopes: allScopes})
	pullOnly := issue(t, m, clk, accesstoken.IssueRequest{Owner: "alice", Target: accesstoken.RepositoryTarget("alpha", "r1"), Scopes: []accesstoken.Scope{accesstoken.ScopePull}})

	r := func(p, r string) accesstoken.Resource { return accesstoken.Resource{Project: p, Repository: r} }
	cases := []struct {
		name  string
		tok   *accesstoken.Issued
		res   accesstoken.Resource
		scope accesstoken.Scope
		want  error
	}{
		{"project token", proj, r("alpha", "r1"), accesstoken.ScopePush, nil},
		{"project token", proj, r("alpha", "r2"), accesstoken.ScopePull, nil},
		{"project token", proj, r("alpha", "new-repository"), accesstoken.ScopeBuildStatus, nil},
		{"project token", proj, r("alpha2", "r1"), accesstoken.ScopePull, accesstoken.ErrWrongTarget},
		{"project token", proj, r("beta", "r1"), accesstoken.ScopePull, accesstoken.ErrWrongTarget},
		{"project token", proj, r("", "r1"), accesstoken.ScopePull, accesstoken.ErrWrongTarget},
		{"repository token", repo, r("alpha", "r1"), accesstoken.ScopePush, nil},
		{"repository token", repo, r("alpha", "r2"), accesstoken.ScopePull, accesstoken.ErrWrongTarget},
		{"repository token", repo, r("alpha2", "r1"), accesstoken.ScopePull, accesstoken.ErrWrongTarget},
		{"repository token", repo, r("beta", "r1"), accesstoken.ScopePull, accesstoken.ErrWrongTarget},
		{"repository token", repo, r("", "r1"), accesstoken.ScopePull, accesstoken.ErrWrongTarget},
		{"personal repository token", personal, r("", "r1"), accesstoken.ScopePull, nil},
		{"personal repository token", personal, r("alpha", "r1"), accesstoken.ScopePull, accesstoken.ErrWrongTarget},
		{"pull-only token", pullOnly, r("alpha", "r1"), accesstoken.ScopePull, nil},
		{"pull-only token", pullOnly, r("alpha", "r1"), accesstoken.ScopePush, accesstoken.ErrMissingScope},
	}
	for _, c := range cases {
		verify(t, m, c.name, c.tok.Secret, c.res, c.scope, c.want)
	}

	toks, err := m.ListForTarget(t.Context(), "alice", accesstoken.RepositoryTarget("alpha", "r1"), accesstoken.ListOptions{})
	checkIDs(t, "ListForTarget(alpha/r1)", toks, err, proj.Token, repo.Token, pullOnly.Token)
	toks, err = m.ListForTarget(t.Context(), "alice", accesstoken.RepositoryTarget("alpha", "r2"), accesstoken.ListOptions{})
	checkIDs(t, "ListForTarget(alpha/r2)", toks, err, proj.Token)
	toks, err = m.ListForTarget(t.Context(), "alice", accesstoken.RepositoryTarget("", "r1"), accesstoken.ListOptions{})
	checkIDs(t, "ListForTarget(personal r1)", toks, err, personal.Token)
}

// testManagerExpiry: a token verifies until its expiry time and fails with
// ErrExpired at and after it.
func (s suite) testManagerExpiry(t *testing.T) {
	st := s.store(t)
	m, clk := newManager(t, st)
	res := accesstoken.Resource{Project: "alpha", Repository: "r1"}
	iss := issue(t, m, clk, accesstoken.IssueRequest{
		Owner: "alice", Target: accesstoken.ProjectTarget("alpha"), Scopes: allScopes,
		ExpiresAt: clk.Now().Add(time.Hour),
	})
	never := issue(t, m, clk, accesstoken.IssueRequest{Owner: "alice", Target: accesstoken.ProjectTarget("alpha"), Scopes: allScopes})
	verify(t, m, "when issued", iss.Secret, res, accesstoken.ScopePull, nil)
	exp := iss.Token.ExpiresAt
	clk.Set(exp.Add(-time.Microsecond))
	verify(t, m, "a microsecond before expiry", iss.Secret, res, accesstoken.ScopePull, nil)
	clk.Set(exp.In(elsewhere))
	verify(t, m, "at expiry", iss.Secret, res, accesstoken.ScopePull, accesstoken.ErrExpired)
	toks, err := m.ListForOwner(t.Context(), "alice", accesstoken.ListOptions{})
	checkIDs(t, "ListForOwner at expiry", toks, err, never.Token)
	clk.Advance(24 * time.Hour)
	verify(t, m, "a day after expiry", iss.Secret, res, accesstoken.ScopePull, accesstoken.ErrExpired)
	verify(t, m, "token without expiry", never.Secret, res, accesstoken.ScopePull, nil)
	toks, err = m.ListForOwner(t.Context(), "alice", accesstoken.ListOptions{IncludeInactive: true})
	checkIDs(t, "ListForOwner including inactive", toks, err, iss.Token, never.Token)
}

// testManagerLastUsed: the last-used time is recorded on the first
// verification, not again within the interval, and again once it has
// passed.
func (s suite) testManagerLastUsed(t *testing.T) {
	st := s.store(t)
	const interval = 10 * time.Minute
	m, clk := newManager(t, st, accesstoken.WithLastUsedInterval(interval))
	res := accesstoken.Resource{Project: "alpha", Repository: "r1"}
	iss := issue(t, m, clk, accesstoken.IssueRequest{Owner: "alice", Target: accesstoken.ProjectTarget("alpha"), Scopes: allScopes})
	if got := byID(t, st, iss.Token.ID).LastUsedAt; !got.IsZero() {
		t.Fatalf("LastUsedAt before use: got %v; want the zero time", got)
	}
	clk.Advance(time.Minute)
	first := clk.Stored()
	steps := []struct {
		name    string
		advance time.Duration
		want    time.Time
	}{
		{"first use", 0, first},
		{"within the interval", interval / 2, first},
		{"a microsecond short of the interval", interval/2 - time.Microsecond, first},
		{"once the interval has passed", time.Microsecond, first.Add(interval)},
		{"again within the interval", time.Minute, first.Add(interval)},
	}
	for _, step := range steps {
		clk.Advance(step.advance)
		tok := verify(t, m, step.name, iss.Secret, res, accesstoken.ScopePull, nil)
		if p := timeProblem(tok.LastUsedAt, step.want); p != "" {
			t.Fatalf("%s: LastUsedAt of the verified token: %s", step.name, p)
		}
		if err := m.Flush(t.Context()); err != nil {
			t.Fatalf("%s: Flush: %v", step.name, err)
		}
		if p := timeProblem(byID(t, st, iss.Token.ID).LastUsedAt, step.want); p != "" {
			t.Fatalf("%s: stored LastUsedAt: %s", step.name, p)
		}
	}
}

// testManagerConcurrentUse: many verifications of one token at once, as a
// CI fleet's clones make them, all succeed, and its last use is recorded
// (once the Manager's writer has written it: Flush), in every interval.
func (s suite) testManagerConcurrentUse(t *testing.T) {
	st := s.store(t)
	const interval = 10 * time.Minute
	m, clk := newManager(t, st, accesstoken.WithLastUsedInterval(interval))
	res := accesstoken.Resource{Project: "alpha", Repository: "r1"}
	iss := issue(t, m, clk, accesstoken.IssueRequest{Owner: "alice", Target: accesstoken.ProjectTarget("alpha"), Scopes: allScopes})
	for round := range 3 {
		clk.Advance(interval)
		want := clk.Stored()
		ready, release := start()
		var wg sync.WaitGroup
		for range 50 {
			wg.Go(func() {
				<-ready
				if _, err := m.Verify(t.Context(), iss.Secret.Reveal(), res, accesstoken.ScopePull); err != nil {
					t.Errorf("round %d: Verify: %v", round, err)
				}
			})
		}
		release()
		wg.Wait()
		if err := m.Flush(t.Context()); err != nil {
			t.Fatalf("round %d: Flush: %v", round, err)
		}
		if p := timeProblem(byID(t, st, iss.Token.ID).LastUsedAt, want); p != "" {
			t.Fatalf("round %d: stored LastUsedAt after 50 concurrent verifications: %s", round, p)
		}
	}
}

// testManagerCancelled: a cancelled context is a store failure, never a
// verdict on the token.
func (s suite) testManagerCancelled(t *testing.T) {
	st := s.store(t)
	m, clk := newManager(t, st)
	res := accesstoken.Resource{Project: "alpha", Repository: "r1"}
	iss := issue(t, m, clk, accesstoken.IssueRequest{Owner: "alice", Target: accesstoken.ProjectTarget("alpha"), Scopes: allScopes})
	unknown, err := m.Format().Generate()
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	for _, c := range []struct {
		name   string
		secret accesstoken.Secret
	}{{"issued token", iss.Secret}, {"unknown token", unknown}} {
		tok, err := m.Verify(cancelled(t), c.secret.Reveal(), res, accesstoken.ScopePull)
		if tok != (accesstoken.Token{}) || !errors.Is(err, accesstoken.ErrStoreFailure) {
			t.Fatalf("Verify(%s) with a cancelled context: got %v, %v; want no token, ErrStoreFailure", c.name, tok, err)
		}
	}
	_, err = m.Revoke(cancelled(t), "alice", iss.Token.ID)
	if !errors.Is(err, accesstoken.ErrStoreFailure) {
		t.Fatalf("Revoke with a cancelled context: got %v; want ErrStoreFailure", err)
	}
	_, err = m.ListForOwner(cancelled(t), "alice", accesstoken.ListOptions{})
	if !errors.Is(err, accesstoken.ErrStoreFailure) {
		t.Fatalf("ListForOwner with a cancelled context: got %v; want ErrStoreFailure", err)
	}
	verify(t, m, "issued token, after the cancelled calls", iss.Secret, res, accesstoken.ScopePull, nil)
}

// testManagerConcurrent: goroutines issue, verify, list and revoke at once;
// each sees its own writes at once, and afterwards every revoked token
// fails with ErrRevoked and every other one verifies.
func (s suite) testManagerConcurrent(t *testing.T) {
	st := s.store(t)
	m, _ := newManager(t, st)
	const workers, ops = 8, 20
	type token struct {
		secret  accesstoken.Secret
		id      uuid.UUID
		owner   string
		res     accesstoken.Resource
		revoked bool
	}
	var (
		mu     sync.Mutex
		shared []token // every token issued so far, for other goroutines to verify
	)
	own := make([][]token, workers)
	ready, release := start()
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			<-ready
			ctx := t.Context()
			owner := []string{"alice", "bob"}[w%2]
			tg := accesstoken.ProjectTarget("proj")
			if w%4 != 0 {
				tg = accesstoken.RepositoryTarget("proj", fmt.Sprintf("r%d", w%4))
			}
			for i := range ops {
				iss, err := m.Issue(ctx, accesstoken.IssueRequest{Owner: owner, Target: tg, Scopes: allScopes, Description: fmt.Sprintf("worker %d, token %d", w, i)})
				if err != nil {
					t.Errorf("worker %d: Issue: got %v; want success", w, err)
					return
				}
				tok := token{secret: iss.Secret, id: iss.Token.ID, owner: owner, res: accesstoken.Resource{Project: "proj", Repository: fmt.Sprintf("r%d", w%4)}}
				if _, err := m.Verify(ctx, tok.secret.Reveal(), tok.res, accesstoken.ScopePush); err != nil {
					t.Errorf("worker %d: Verify(token just issued): got %v; want success", w, err)
					return
				}
				var listed []accesstoken.Token
				if i%2 == 0 {
					listed, err = m.ListForOwner(ctx, owner, accesstoken.ListOptions{})
				} else {
					listed, err = m.ListForTarget(ctx, owner, tg, accesstoken.ListOptions{})
				}
				if err != nil || !slices.Contains(tokenIDs(listed), tok.id) {
					t.Errorf("worker %d: list after Issue: got %d tokens, %v; want them to include the token just issued", w, len(listed), err)
					return
				}
				mu.Lock()
				shared = append(shared, tok)
				peer := shared[(w*31+i*7)%len(shared)]
				mu.Unlock()
				if _, err := m.Verify(ctx, peer.secret.Reveal(), peer.res, accesstoken.ScopePull); err != nil && !errors.Is(err, accesstoken.ErrRevoked) {
					t.Errorf("worker %d: Verify(another goroutine's token): got %v; want success or ErrRevoked", w, err)
					return
				}
				if i%3 == 0 {
					if _, err := m.Revoke(ctx, owner, tok.id); err != nil {
						t.Errorf("worker %d: Revoke: got %v; want success", w, err)
						return
					}
					tok.revoked = true
					if _, err := m.Verify(ctx, tok.secret.Reveal(), tok.res, accesstoken.ScopePull); !errors.Is(err, accesstoken.ErrRevoked) {
						t.Errorf("worker %d: Verify(token just revoked): got %v; want ErrRevoked", w, err)
						return
					}
				}
				own[w] = append(own[w], tok)
			}
		})
	}
	release()
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}

	active := map[string]int{}
	total := map[string]int{}
	for _, toks := range own {
		for _, tok := range toks {
			total[tok.owner]++
			want := error(accesstoken.ErrRevoked)
			if !tok.revoked {
				want = nil
				active[tok.owner]++
			}
			verify(t, m, "after the concurrent phase", tok.secret, tok.res, accesstoken.ScopePull, want)
		}
	}
	for _, owner := range []string{"alice", "bob"} {
		toks, err := m.ListForOwner(t.Context(), owner, accesstoken.ListOptions{})
		if err != nil {
			t.Fatalf("ListForOwner(%s): %v", owner, err)
		}
		if len(toks) != active[owner] {
			t.Fatalf("active tokens of %s: got %d; want %d", owner, len(toks), active[owner])
		}
		toks, err = m.ListForOwner(t.Context(), owner, accesstoken.ListOptions{IncludeInactive: true})
		if err != nil {
			t.Fatalf("ListForOwner(%s, including inactive): %v", owner, err)
		}
		if len(toks) != total[owner] {
			t.Fatalf("tokens of %s: got %d; want %d", owner, len(toks), total[owner])
		}
	}
}

// testManagerDescriptionUnique: Issue refuses a description that an active
// token of the owner and target has, and two concurrent Issues with one
// description cannot both succeed.
func (s suite) testManagerDescriptionUnique(t *testing.T) {
	st := s.store(t)
	m, clk := newManager(t, st)
	req := accesstoken.IssueRequest{Owner: "alice", Description: "CI", Target: accesstoken.ProjectTarget("alpha"), Scopes: allScopes,
		ExpiresAt: clk.Now().Add(time.Hour)}
	first := issue(t, m, clk, req)
	if _, err := m.Issue(t.Context(), req); !errors.Is(err, accesstoken.ErrDuplicateDescription) || !errors.Is(err, accesstoken.ErrInvalidInput) {
		t.Fatalf("Issue with a taken description: got %v; want ErrDuplicateDescription", err)
	}
	other := req
	other.Owner = "bob"
	issue(t, m, clk, other)
	other = req
	other.Target = accesstoken.ProjectTarget("beta")
	issue(t, m, clk, other)
	// A rotation keeps the description.
	next, err := m.Rotate(t.Context(), "alice", first.Token.ID)
	if err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	if next.Token.Description != "CI" {
		t.Fatalf("Description after Rotate: got %q; want %q", next.Token.Description, "CI")
	}
	if _, err := m.Issue(t.Context(), req); !errors.Is(err, accesstoken.ErrDuplicateDescription) {
		t.Fatalf("Issue with the rotated token's description: got %v; want ErrDuplicateDescription", err)
	}
	// Once it expires, the description is free.
	clk.Advance(time.Hour)
	req.ExpiresAt = time.Time{}
	issue(t, m, clk, req)

	const n = 8
	errs := make([]error, n)
	ready, release := start()
	var wg sync.WaitGroup
	race := accesstoken.IssueRequest{Owner: "alice", Description: "deploy", Target: accesstoken.RepositoryTarget("alpha", "r1"), Scopes: allScopes}
	for i := range n {
		wg.Go(func() {
			<-ready
			_, errs[i] = m.Issue(t.Context(), race)
		})
	}
	release()
	wg.Wait()
	ok := 0
	for i, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, accesstoken.ErrDuplicateDescription):
			t.Fatalf("concurrent Issue %d: got %v; want nil or ErrDuplicateDescription", i, err)
		}
	}
	if ok != 1 {
		t.Fatalf("%d concurrent Issues of one description: %d succeeded; want 1", n, ok)
	}
	toks, err := m.ListForTarget(t.Context(), "alice", race.Target, accesstoken.ListOptions{})
	if err != nil || len(slices.DeleteFunc(toks, func(tok accesstoken.Token) bool { return tok.Description != "deploy" })) != 1 {
		t.Fatalf("tokens described %q: got %d, %v; want 1", "deploy", len(toks), err)
	}
}
