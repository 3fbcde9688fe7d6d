package accesstoken_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/forgekit/accesstoken"
	"github.com/forgekit/accesstoken/internal/clocktest"
	"github.com/forgekit/accesstoken/memstore"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

// newClock returns the fake clock of the tests, standing at a fixed time.
func newClock() *clocktest.Clock {
	return clocktest.New(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
}

// perms is a mutable forge permission model: access[user][project] is the
// set of scopes the user has on every repository of the project, and
// managers[user][project] whether the user may manage its tokens.
type perms struct {
	mu      sync.Mutex
	access  map[string]map[string][]accesstoken.Scope
	manager map[string]map[string]bool
	err     error
}

func newPerms() *perms {
	p := &perms{access: map[string]map[string][]accesstoken.Scope{}, manager: map[string]map[string]bool{}}
	all := []accesstoken.Scope{accesstoken.ScopePull, accesstoken.ScopePush, accesstoken.ScopeBuildStatus}
	p.set("alice", "demo", true, all...)
	p.set("alice", "other", true, all...)
	p.set("bob", "demo", false, accesstoken.ScopePull)
	return p
}

func (p *perms) set(user, project string, manage bool, scopes ...accesstoken.Scope) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.access[user] == nil {
		p.access[user], p.manager[user] = map[string][]accesstoken.Scope{}, map[string]bool{}
	}
	p.access[user][project], p.manager[user][project] = scopes, manage
}

func (p *perms) fail(err error) { p.mu.Lock(); p.err = err; p.mu.Unlock() }

func (p *perms) CanAccess(_ context.Context, user string, res accesstoken.Resource, scope accesstoken.Scope) (bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err != nil {
		return false, p.err
	}
	for _, s := range p.access[user][res.Project] {
		if s == scope {
			return true, nil
		}
	}
	return false, nil
}

func (p *perms) CanManage(_ context.Context, user string, t accesstoken.Target) (bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err != nil {
		return false, p.err
	}
	return p.manager[user][t.Project], nil
}

type env struct {
	m     *accesstoken.Manager
	store *memstore.Store
	clock *clocktest.Clock
	perms *perms
	ev    *events
}

type events struct {
	mu  sync.Mutex
	all []accesstoken.Event
}

func (e *events) record(_ context.Context, ev accesstoken.Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.all = append(e.all, ev)
}

func (e *events) kinds() []accesstoken.EventKind {
	e.mu.Lock()
	defer e.mu.Unlock()
	var k []accesstoken.EventKind
	for _, ev := range e.all {
		k = append(k, ev.Kind)
	}
	return k
}

func newEnv(t testing.TB, opts ...accesstoken.Option) *env {
	t.Helper()
	e := &env{store: memstore.New(), clock: newClock(), perms: newPerms(), ev: &events{}}
	opts = append([]accesstoken.Option{accesstoken.WithClock(e.clock.Now), accesstoken.WithEvents(e.ev.record)}, opts...)
	m, err := accesstoken.New(e.store, e.perms, opts...)
	require.NoError(t, err)
	e.m = m
	return e
}

func newManager(t testing.TB) *accesstoken.Manager { return newEnv(t).m }

// issue issues a token of alice's, with a description of its own:
// descriptions are unique among an owner's active tokens of a target.
func issue(t testing.TB, m *accesstoken.Manager, target accesstoken.Target, scopes ...accesstoken.Scope) *accesstoken.Issued {
	t.Helper()
	return issueDesc(t, m, fmt.Sprintf("test %d", issued.Add(1)), target, scopes...)
}

var issued atomic.Int64

// issueDesc issues a token of alice's with the given description.
func issueDesc(t testing.TB, m *accesstoken.Manager, desc string, target accesstoken.Target, scopes ...accesstoken.Scope) *accesstoken.Issued {
	t.Helper()
	iss, err := m.Issue(context.Background(), accesstoken.IssueRequest{Owner: "alice", Description: desc, Target: target, Scopes: scopes})
	require.NoError(t, err)
	return iss
}

var (
	ctx   = context.Background()
	hello = accesstoken.Resource{Project: "demo", Repository: "hello"}
	world = accesstoken.Resource{Project: "demo", Repository: "world"}
	elsew = accesstoken.Resource{Project: "other", Repository: "hello"}
)

func TestNewRequiresAuthorizer(t *testing.T) {
	_, err := accesstoken.New(memstore.New(), nil)
	require.ErrorContains(t, err, "Authorizer")
	_, err = accesstoken.New(nil, accesstoken.InsecureAllowAll())
	require.Error(t, err)
	for _, o := range []accesstoken.Option{
		accesstoken.WithPrefix("Bad"), accesstoken.WithPepper([]byte("short")), accesstoken.WithScopes("nocolon"),
		accesstoken.WithMaxLifetime(0), accesstoken.WithClock(nil),
	} {
		_, err = accesstoken.New(memstore.New(), accesstoken.InsecureAllowAll(), o)
		require.Error(t, err)
	}
}

func TestIssueBadInput(t *testing.T) {
	e := newEnv(t)
	good := accesstoken.IssueRequest{Description: "manager 1", Owner: "alice", Target: accesstoken.ProjectTarget("demo"), Scopes: []accesstoken.Scope{accesstoken.ScopePull}}
	tests := []struct {
		name string
		edit func(*accesstoken.IssueRequest)
		want error
	}{
		{"empty owner", func(r *accesstoken.IssueRequest) { r.Owner = "" }, accesstoken.ErrBadOwner},
		{"owner with NUL", func(r *accesstoken.IssueRequest) { r.Owner = "al\x00ice" }, accesstoken.ErrBadOwner},
		{"huge owner", func(r *accesstoken.IssueRequest) { r.Owner = strings.Repeat("a", 1<<20) }, accesstoken.ErrBadOwner},
		{"no scopes", func(r *accesstoken.IssueRequest) { r.Scopes = nil }, accesstoken.ErrNoScopes},
		{"unknown scope", func(r *accesstoken.IssueRequest) { r.Scopes = []accesstoken.Scope{"repository:admin"} }, accesstoken.ErrUnknownScope},
		{"misspelt scope", func(r *accesstoken.IssueRequest) { r.Scopes = []accesstoken.Scope{"repository:Pull"} }, accesstoken.ErrUnknownScope},
		{"huge scope", func(r *accesstoken.IssueRequest) {
			r.Scopes = []accesstoken.Scope{accesstoken.Scope(strings.Repeat("x", 1<<20))}
		}, accesstoken.ErrUnknownScope},
		{"expiry now", func(r *accesstoken.IssueRequest) { r.ExpiresAt = e.clock.Now() }, accesstoken.ErrBadExpiry},
		{"expiry in the past", func(r *accesstoken.IssueRequest) { r.ExpiresAt = e.clock.Now().Add(-time.Hour) }, accesstoken.ErrBadExpiry},
		{"description too long", func(r *accesstoken.IssueRequest) { r.Description = strings.Repeat("é", 256) }, accesstoken.ErrBadDescription},
		{"description with control", func(r *accesstoken.IssueRequest) { r.Description = "a\nb" }, accesstoken.ErrBadDescription},
		{"description invalid UTF-8", func(r *accesstoken.IssueRequest) { r.Description = "\xff" }, accesstoken.ErrBadDescription},
		{"no description", func(r *accesstoken.IssueRequest) { r.Description = "" }, accesstoken.ErrBadDescription},
		{"blank description", func(r *accesstoken.IssueRequest) { r.Description = " \u00a0 " }, accesstoken.ErrBadDescription},
		{"description with a space at the end", func(r *accesstoken.IssueRequest) { r.Description = "CI " }, accesstoken.ErrBadDescription},
		{"description with a space at the start", func(r *accesstoken.IssueRequest) { r.Description = " CI" }, accesstoken.ErrBadDescription},
		{"description with a right-to-left override", func(r *accesstoken.IssueRequest) { r.Description = "deploy \u202egnp.exe" }, accesstoken.ErrBadDescription},
		{"description with a left-to-right isolate", func(r *accesstoken.IssueRequest) { r.Description = "a\u2066b\u2069" }, accesstoken.ErrBadDescription},
		{"description with a right-to-left mark", func(r *accesstoken.IssueRequest) { r.Description = "a\u200fb" }, accesstoken.ErrBadDescription},
		{"description with a zero-width space", func(r *accesstoken.IssueRequest) { r.Description = "C\u200bI" }, accesstoken.ErrBadDescription},
		{"description with a zero-width joiner", func(r *accesstoken.IssueRequest) { r.Description = "C\u200dI" }, accesstoken.ErrBadDescription},
		{"description with a byte order mark", func(r *accesstoken.IssueRequest) { r.Description = "\ufeffCI" }, accesstoken.ErrBadDescription},
		{"description with a soft hyphen", func(r *accesstoken.IssueRequest) { r.Description = "C\u00adI" }, accesstoken.ErrBadDescription},
		{"description with a tag character", func(r *accesstoken.IssueRequest) { r.Description = "CI\U000E0041" }, accesstoken.ErrBadDescription},
		{"description with a Hangul filler", func(r *accesstoken.IssueRequest) { r.Description = "C\u3164I" }, accesstoken.ErrBadDescription},
		{"description with a line separator", func(r *accesstoken.IssueRequest) { r.Description = "C\u2028I" }, accesstoken.ErrBadDescription},
		{"description with DEL", func(r *accesstoken.IssueRequest) { r.Description = "C\x7fI" }, accesstoken.ErrBadDescription},
		{"owner named like a system actor", func(r *accesstoken.IssueRequest) { r.Owner = "system:ci" }, accesstoken.ErrBadOwner},
		{"owner named like a system actor, other case", func(r *accesstoken.IssueRequest) { r.Owner = "SYSTEM:ci" }, accesstoken.ErrBadOwner},
		{"empty target", func(r *accesstoken.IssueRequest) { r.Target = accesstoken.Target{} }, accesstoken.ErrBadTarget},
		{"huge project", func(r *accesstoken.IssueRequest) { r.Target = accesstoken.ProjectTarget(strings.Repeat("p", 256)) }, accesstoken.ErrBadTarget},
		{"project invalid UTF-8", func(r *accesstoken.IssueRequest) { r.Target = accesstoken.ProjectTarget("\xfe") }, accesstoken.ErrBadTarget},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := good
			tt.edit(&req)
			iss, err := e.m.Issue(ctx, req)
			require.Nil(t, iss)
			require.ErrorIs(t, err, tt.want)
			require.ErrorIs(t, err, accesstoken.ErrInvalidInput)
			require.Less(t, len(err.Error()), 200, "error message should be bounded")
			if req.Description != "" && req.Description != good.Description {
				require.NotContains(t, err.Error(), req.Description, "the error quotes the text")
			}
		})
	}
	require.Equal(t, 0, e.store.Len(), "a rejected request stored a token")
	// Exactly 255 characters, and scopes deduplicated into canonical order.
	req := good
	req.Description = strings.Repeat("é", 255)
	req.Scopes = []accesstoken.Scope{accesstoken.ScopePush, accesstoken.ScopePull, accesstoken.ScopePush}
	iss, err := e.m.Issue(ctx, req)
	require.NoError(t, err)
	require.Equal(t, []accesstoken.Scope{accesstoken.ScopePull, accesstoken.ScopePush}, iss.Token.Scopes.List())
}

func TestNoScopeImpliesAnother(t *testing.T) {
	e := newEnv(t)
	scopes := accesstoken.BuiltinScopes()
	for _, has := range scopes {
		iss := issue(t, e.m, accesstoken.ProjectTarget("demo"), has)
		for _, want := range scopes {
			_, err := e.m.Verify(ctx, iss.Secret.Reveal(), hello, want)
			if has == want {
				require.NoError(t, err, "%s token for %s", has, want)
			} else {
				require.ErrorIs(t, err, accesstoken.ErrMissingScope, "%s token for %s", has, want)
			}
		}
	}
}

func TestExtraScopes(t *testing.T) {
	e := newEnv(t, accesstoken.WithScopes("lfs:lock"))
	iss := issue(t, e.m, accesstoken.ProjectTarget("demo"), "lfs:lock", accesstoken.ScopePull)
	require.Equal(t, []accesstoken.Scope{accesstoken.ScopePull, "lfs:lock"}, iss.Token.Scopes.List())
	require.Equal(t, append(accesstoken.BuiltinScopes(), "lfs:lock"), e.m.Scopes())
}

func TestVerifyTargets(t *testing.T) {
	e := newEnv(t)
	proj := issue(t, e.m, accesstoken.ProjectTarget("demo"), accesstoken.ScopePull).Secret.Reveal()
	repo := issue(t, e.m, accesstoken.RepositoryTarget("demo", "hello"), accesstoken.ScopePull).Secret.Reveal()
	tests := []struct {
		name   string
		secret string
		res    accesstoken.Resource
		want   error
	}{
		{"project token, repo in project", proj, hello, nil},
		{"project token, other repo in project", proj, world, nil},
		{"project token, same name in other project", proj, elsew, accesstoken.ErrWrongTarget},
		{"repo token, its repo", repo, hello, nil},
		{"repo token, sibling", repo, world, accesstoken.ErrWrongTarget},
		{"repo token, same name in other project", repo, elsew, accesstoken.ErrWrongTarget},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, err := e.m.Verify(ctx, tt.secret, tt.res, accesstoken.ScopePull)
			if tt.want == nil {
				require.NoError(t, err)
				require.Equal(t, "alice", tok.Owner)
				return
			}
			require.Zero(t, tok)
			require.ErrorIs(t, err, tt.want)
		})
	}
}

func TestVerifyRejects(t *testing.T) {
	e := newEnv(t)
	good := issue(t, e.m, accesstoken.ProjectTarget("demo"), accesstoken.ScopePull).Secret.Reveal()
	unknown := mustGenerate(t, accesstoken.DefaultFormat())
	for _, tt := range []struct {
		name, in string
		want     error
	}{
		{"empty", "", accesstoken.ErrMalformed},
		{"1 MB", strings.Repeat("g", 1<<20), accesstoken.ErrMalformed},
		{"bad checksum", flipLast(good), accesstoken.ErrMalformed},
		{"non-ASCII", "gat_é" + good[6:], accesstoken.ErrMalformed},
		{"unknown", unknown, accesstoken.ErrUnknownToken},
		{"padded", " " + good, accesstoken.ErrMalformed},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.m.Verify(ctx, tt.in, hello, accesstoken.ScopePull)
			require.ErrorIs(t, err, tt.want)
			require.False(t, accesstoken.Temporary(err))
		})
	}
}

func TestExpiry(t *testing.T) {
	e := newEnv(t)
	iss, err := e.m.Issue(ctx, accesstoken.IssueRequest{
		Description: "manager 2",
		Owner:       "alice", Target: accesstoken.ProjectTarget("demo"), Scopes: []accesstoken.Scope{accesstoken.ScopePull},
		ExpiresAt: e.clock.Now().Add(time.Hour),
	})
	require.NoError(t, err)
	s := iss.Secret.Reveal()
	e.clock.Advance(time.Hour - time.Microsecond)
	_, err = e.m.Verify(ctx, s, hello, accesstoken.ScopePull)
	require.NoError(t, err)
	e.clock.Advance(time.Microsecond)
	_, err = e.m.Verify(ctx, s, hello, accesstoken.ScopePull)
	require.ErrorIs(t, err, accesstoken.ErrExpired)
	e.clock.Advance(-2 * time.Hour) // a clock going back does not resurrect? It does: expiry is a time, not a state.
	_, err = e.m.Verify(ctx, s, hello, accesstoken.ScopePull)
	require.NoError(t, err)
}

func TestMaxLifetime(t *testing.T) {
	e := newEnv(t, accesstoken.WithMaxLifetime(30*24*time.Hour))
	iss := issue(t, e.m, accesstoken.ProjectTarget("demo"), accesstoken.ScopePull)
	require.Equal(t, e.clock.Now().Add(30*24*time.Hour), iss.Token.ExpiresAt, "a token without expiry gets the maximum")
	_, err := e.m.Issue(ctx, accesstoken.IssueRequest{
		Description: "manager 3",
		Owner:       "alice", Target: accesstoken.ProjectTarget("demo"), Scopes: []accesstoken.Scope{accesstoken.ScopePull},
		ExpiresAt: e.clock.Now().Add(31 * 24 * time.Hour),
	})
	require.ErrorIs(t, err, accesstoken.ErrBadExpiry)
}

// TestOwnerPermissionFollowsToken: authentication, not authorization. The
// token stops working as soon as its owner loses the permission, and
// works again if it is given back.
func TestOwnerPermissionFollowsToken(t *testing.T) {
	e := newEnv(t)
	s := issue(t, e.m, accesstoken.ProjectTarget("demo"), accesstoken.ScopePull, accesstoken.ScopePush).Secret.Reveal()
	_, err := e.m.Verify(ctx, s, hello, accesstoken.ScopePush)
	require.NoError(t, err)

	e.perms.set("alice", "demo", true, accesstoken.ScopePull) // demoted to read-only
	_, err = e.m.Verify(ctx, s, hello, accesstoken.ScopePush)
	require.ErrorIs(t, err, accesstoken.ErrOwnerDenied)
	_, err = e.m.Verify(ctx, s, hello, accesstoken.ScopePull)
	require.NoError(t, err)

	e.perms.set("alice", "demo", false) // removed
	_, err = e.m.Verify(ctx, s, hello, accesstoken.ScopePull)
	require.ErrorIs(t, err, accesstoken.ErrOwnerDenied)

	e.perms.fail(errors.New("forge database down"))
	_, err = e.m.Verify(ctx, s, hello, accesstoken.ScopePull)
	require.ErrorIs(t, err, accesstoken.ErrAuthorizerFailure)
	require.True(t, accesstoken.Temporary(err))
}

func TestOnlyManagersIssue(t *testing.T) {
	e := newEnv(t)
	for _, target := range []accesstoken.Target{accesstoken.ProjectTarget("demo"), accesstoken.RepositoryTarget("demo", "hello"), accesstoken.ProjectTarget("nope")} {
		_, err := e.m.Issue(ctx, accesstoken.IssueRequest{Description: "manager 4", Owner: "bob", Target: target, Scopes: []accesstoken.Scope{accesstoken.ScopePull}})
		require.ErrorIs(t, err, accesstoken.ErrForbidden, "bob issuing for %v", target)
	}
	_, err := e.m.ListForTarget(ctx, "bob", accesstoken.ProjectTarget("demo"), accesstoken.ListOptions{})
	require.ErrorIs(t, err, accesstoken.ErrForbidden)
	require.Equal(t, 0, e.store.Len())
}

func TestRevokePermissions(t *testing.T) {
	e := newEnv(t)
	iss := issue(t, e.m, accesstoken.ProjectTarget("demo"), accesstoken.ScopePull)
	id := iss.Token.ID

	// bob is neither owner nor manager: the token does not exist for him.
	_, err := e.m.Revoke(ctx, "bob", id)
	require.ErrorIs(t, err, accesstoken.ErrNotFound)
	_, err = e.m.Get(ctx, "bob", id)
	require.ErrorIs(t, err, accesstoken.ErrNotFound)
	_, err = e.m.Revoke(ctx, "alice", uuid.New())
	require.ErrorIs(t, err, accesstoken.ErrNotFound)

	// carol manages the project and may revoke alice's token.
	e.perms.set("carol", "demo", true)
	tok, err := e.m.Revoke(ctx, "carol", id)
	require.NoError(t, err)
	require.Equal(t, "carol", tok.RevokedBy)
	_, err = e.m.Verify(ctx, iss.Secret.Reveal(), hello, accesstoken.ScopePull)
	require.ErrorIs(t, err, accesstoken.ErrRevoked)

	// The owner may revoke her own token even after losing access.
	iss2 := issue(t, e.m, accesstoken.ProjectTarget("demo"), accesstoken.ScopePull)
	e.perms.set("alice", "demo", false)
	_, err = e.m.Revoke(ctx, "alice", iss2.Token.ID)
	require.NoError(t, err)
	tok, err = e.m.Revoke(ctx, "alice", iss2.Token.ID)
	require.NoError(t, err, "revoking twice")
	require.Equal(t, "alice", tok.RevokedBy)
}

func TestRotate(t *testing.T) {
	e := newEnv(t)
	exp := e.clock.Now().Add(48 * time.Hour)
	iss, err := e.m.Issue(ctx, accesstoken.IssueRequest{
		Owner: "alice", Description: "deploy", Target: accesstoken.RepositoryTarget("demo", "hello"),
		Scopes: []accesstoken.Scope{accesstoken.ScopePull, accesstoken.ScopePush}, ExpiresAt: exp,
	})
	require.NoError(t, err)
	e.clock.Advance(time.Minute)

	// Someone else, even a manager, may not hold a secret acting as alice.
	e.perms.set("carol", "demo", true)
	_, err = e.m.Rotate(ctx, "carol", iss.Token.ID)
	require.ErrorIs(t, err, accesstoken.ErrForbidden)
	_, err = e.m.Rotate(ctx, "bob", iss.Token.ID)
	require.ErrorIs(t, err, accesstoken.ErrNotFound)

	next, err := e.m.Rotate(ctx, "alice", iss.Token.ID)
	require.NoError(t, err)
	require.NotEqual(t, iss.Token.ID, next.Token.ID)
	require.NotEqual(t, iss.Secret.Reveal(), next.Secret.Reveal())
	require.Equal(t, iss.Token.Description, next.Token.Description)
	require.Equal(t, iss.Token.Scopes, next.Token.Scopes)
	require.Equal(t, iss.Token.Target, next.Token.Target)
	require.Equal(t, exp, next.Token.ExpiresAt)
	require.Equal(t, e.clock.Now(), next.Token.CreatedAt)

	_, err = e.m.Verify(ctx, iss.Secret.Reveal(), hello, accesstoken.ScopePull)
	require.ErrorIs(t, err, accesstoken.ErrRevoked)
	_, err = e.m.Verify(ctx, next.Secret.Reveal(), hello, accesstoken.ScopePush)
	require.NoError(t, err)
	old, err := e.m.Get(ctx, "alice", iss.Token.ID)
	require.NoError(t, err)
	require.Equal(t, next.Token.ID, old.ReplacedBy)

	_, err = e.m.Rotate(ctx, "alice", iss.Token.ID)
	require.ErrorIs(t, err, accesstoken.ErrRevoked)
	e.clock.Advance(48 * time.Hour)
	_, err = e.m.Rotate(ctx, "alice", next.Token.ID)
	require.ErrorIs(t, err, accesstoken.ErrExpired)
	require.Equal(t, []accesstoken.EventKind{"issued", "rotated", "rejected", "used"}, e.ev.kinds()[:4])
}

func TestListForTarget(t *testing.T) {
	e := newEnv(t)
	p := issue(t, e.m, accesstoken.ProjectTarget("demo"), accesstoken.ScopePull)
	e.clock.Advance(time.Second)
	r := issue(t, e.m, accesstoken.RepositoryTarget("demo", "hello"), accesstoken.ScopePull)
	e.clock.Advance(time.Second)
	issue(t, e.m, accesstoken.RepositoryTarget("demo", "world"), accesstoken.ScopePull)
	issue(t, e.m, accesstoken.ProjectTarget("other"), accesstoken.ScopePull)
	revoked := issue(t, e.m, accesstoken.RepositoryTarget("demo", "hello"), accesstoken.ScopePull)
	_, err := e.m.Revoke(ctx, "alice", revoked.Token.ID)
	require.NoError(t, err)

	ids := func(toks []accesstoken.Token) (out []uuid.UUID) {
		for _, t := range toks {
			out = append(out, t.ID)
		}
		return out
	}
	got, err := e.m.ListForTarget(ctx, "alice", accesstoken.RepositoryTarget("demo", "hello"), accesstoken.ListOptions{})
	require.NoError(t, err)
	require.Equal(t, []uuid.UUID{p.Token.ID, r.Token.ID}, ids(got), "repository page lists the project tokens covering it")
	got, err = e.m.ListForTarget(ctx, "alice", accesstoken.RepositoryTarget("demo", "hello"), accesstoken.ListOptions{IncludeInactive: true})
	require.NoError(t, err)
	require.Equal(t, []uuid.UUID{p.Token.ID, r.Token.ID, revoked.Token.ID}, ids(got))
	got, err = e.m.ListForTarget(ctx, "alice", accesstoken.ProjectTarget("demo"), accesstoken.ListOptions{})
	require.NoError(t, err)
	require.Equal(t, []uuid.UUID{p.Token.ID}, ids(got))
	got, err = e.m.ListForOwner(ctx, "alice", accesstoken.ListOptions{})
	require.NoError(t, err)
	require.Len(t, got, 4)
}

func TestLastUsedThrottled(t *testing.T) {
	e := newEnv(t)
	iss := issue(t, e.m, accesstoken.ProjectTarget("demo"), accesstoken.ScopePull)
	s, id := iss.Secret.Reveal(), iss.Token.ID
	lastUsed := func() time.Time {
		require.NoError(t, e.m.Flush(ctx))
		tok, err := e.m.Get(ctx, "alice", id)
		require.NoError(t, err)
		return tok.LastUsedAt
	}
	require.True(t, lastUsed().IsZero())
	first := e.clock.Now()
	tok, err := e.m.Verify(ctx, s, hello, accesstoken.ScopePull)
	require.NoError(t, err)
	require.Equal(t, first, tok.LastUsedAt)
	require.Equal(t, first, lastUsed())
	e.clock.Advance(accesstoken.DefaultLastUsedInterval - time.Second)
	_, err = e.m.Verify(ctx, s, hello, accesstoken.ScopePull)
	require.NoError(t, err)
	require.Equal(t, first, lastUsed(), "written again within the interval")
	e.clock.Advance(time.Second)
	_, err = e.m.Verify(ctx, s, hello, accesstoken.ScopePull)
	require.NoError(t, err)
	require.Equal(t, e.clock.Now(), lastUsed())
}

// failingStore fails the calls named in fail; the rest go to memstore.
type failingStore struct {
	*memstore.Store
	mu   sync.Mutex
	fail map[string]bool
}

func (f *failingStore) setFail(call string, fail bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail[call] = fail
}

func (f *failingStore) failing(call string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.fail[call]
}

var errDown = errors.New("connection refused")

func (f *failingStore) ByDigest(ctx context.Context, d accesstoken.Digest) (accesstoken.Record, error) {
	if f.failing("ByDigest") {
		return accesstoken.Record{}, errDown
	}
	return f.Store.ByDigest(ctx, d)
}

func (f *failingStore) TouchLastUsed(ctx context.Context, id uuid.UUID, at time.Time, d time.Duration) (bool, error) {
	if f.failing("TouchLastUsed") {
		return false, errDown
	}
	return f.Store.TouchLastUsed(ctx, id, at, d)
}

func (f *failingStore) Insert(ctx context.Context, rec accesstoken.Record) error {
	if f.failing("Insert") {
		return errDown
	}
	return f.Store.Insert(ctx, rec)
}

// lyingStore returns a record for any digest.
type lyingStore struct{ *memstore.Store }

func (l lyingStore) ByDigest(ctx context.Context, d accesstoken.Digest) (accesstoken.Record, error) {
	recs, _ := l.Store.List(ctx, accesstoken.Query{Owner: "alice"})
	if len(recs) == 0 {
		return accesstoken.Record{}, accesstoken.ErrNotFound
	}
	return recs[0], nil
}

func TestStoreFailureFailsClosed(t *testing.T) {
	fs := &failingStore{Store: memstore.New(), fail: map[string]bool{}}
	m, err := accesstoken.New(fs, newPerms())
	require.NoError(t, err)
	iss := issue(t, m, accesstoken.ProjectTarget("demo"), accesstoken.ScopePull)

	fs.setFail("TouchLastUsed", true)
	_, err = m.Verify(ctx, iss.Secret.Reveal(), hello, accesstoken.ScopePull)
	require.NoError(t, err, "a failed last-used write must not fail the verify")

	fs.setFail("ByDigest", true)
	tok, err := m.Verify(ctx, iss.Secret.Reveal(), hello, accesstoken.ScopePull)
	require.Zero(t, tok)
	require.ErrorIs(t, err, accesstoken.ErrStoreFailure)
	require.True(t, accesstoken.Temporary(err))
	require.NotContains(t, err.Error(), iss.Secret.Reveal())

	fs.setFail("Insert", true)
	_, err = m.Issue(ctx, accesstoken.IssueRequest{Description: "manager 5", Owner: "alice", Target: accesstoken.ProjectTarget("demo"), Scopes: []accesstoken.Scope{accesstoken.ScopePull}})
	require.ErrorIs(t, err, accesstoken.ErrStoreFailure)

	// A store that answers with a record for another secret never
	// authenticates: the digest is compared again.
	ls := lyingStore{memstore.New()}
	m2, err := accesstoken.New(ls, accesstoken.InsecureAllowAll())
	require.NoError(t, err)
	issue(t, m2, accesstoken.ProjectTarget("demo"), accesstoken.ScopePull)
	_, err = m2.Verify(ctx, mustGenerate(t, accesstoken.DefaultFormat()), hello, accesstoken.ScopePull)
	require.ErrorIs(t, err, accesstoken.ErrStoreFailure)
}

func TestPepper(t *testing.T) {
	store := memstore.New()
	pepper := bytes.Repeat([]byte{7}, 32)
	m, err := accesstoken.New(store, accesstoken.InsecureAllowAll(), accesstoken.WithPepper(pepper))
	require.NoError(t, err)
	iss := issue(t, m, accesstoken.ProjectTarget("demo"), accesstoken.ScopePull)
	_, err = m.Verify(ctx, iss.Secret.Reveal(), hello, accesstoken.ScopePull)
	require.NoError(t, err)

	plain, err := accesstoken.New(store, accesstoken.InsecureAllowAll())
	require.NoError(t, err)
	require.NotEqual(t, plain.Digest(iss.Secret.Reveal()), m.Digest(iss.Secret.Reveal()))
	_, err = plain.Verify(ctx, iss.Secret.Reveal(), hello, accesstoken.ScopePull)
	require.ErrorIs(t, err, accesstoken.ErrUnknownToken, "the digest must depend on the pepper")
}

func TestEventsAndLogsHoldNoSecret(t *testing.T) {
	var logs bytes.Buffer
	e := newEnv(t, accesstoken.WithEvents(accesstoken.SlogEvents(slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))))
	iss := issue(t, e.m, accesstoken.ProjectTarget("demo"), accesstoken.ScopePull)
	s := iss.Secret.Reveal()
	_, _ = e.m.Verify(ctx, s, hello, accesstoken.ScopePull)
	_, _ = e.m.Verify(ctx, s, hello, accesstoken.ScopePush)
	_, _ = e.m.Verify(ctx, flipLast(s), hello, accesstoken.ScopePull)
	next, err := e.m.Rotate(ctx, "alice", iss.Token.ID)
	require.NoError(t, err)
	_, err = e.m.Revoke(ctx, "alice", next.Token.ID)
	require.NoError(t, err)
	_, err = e.m.DeleteTarget(ctx, accesstoken.ProjectTarget("demo"))
	require.NoError(t, err)

	out := logs.String()
	for _, want := range []string{`"event":"issued"`, `"event":"used"`, `"event":"rejected"`, "lacks the required scope", "checksum", `"event":"rotated"`, `"event":"revoked"`, `"event":"deleted"`} {
		require.Contains(t, out, want)
	}
	for _, secret := range []string{s, next.Secret.Reveal()} {
		require.NotContains(t, out, secret[4:20])
	}
	d := e.m.Digest(s)
	require.NotContains(t, out, string(d[:8]))
}

// TestMemstoreHeapPerToken checks the memory budget of memstore: at most
// 512 bytes of heap per stored token (the benchmarks report it at
// 1,000,000 tokens).
func TestMemstoreHeapPerToken(t *testing.T) {
	if testing.Short() {
		t.Skip("fills a large store")
	}
	per := fillMemstore(t, memstore.New(), 200_000)
	t.Logf("memstore: %.0f heap bytes per token at 200,000 tokens", per)
	if per > 512 {
		t.Errorf("memstore holds %.0f bytes per token; want at most 512", per)
	}
}

// TestVerifyAllocations checks the allocation budget of Verify over
// memstore (the issue allows 2; it takes none) and that a malformed token
// is rejected without allocating.
func TestVerifyAllocations(t *testing.T) {
	m, err := accesstoken.New(memstore.New(), accesstoken.InsecureAllowAll())
	require.NoError(t, err)
	s := issue(t, m, accesstoken.ProjectTarget("demo"), accesstoken.ScopePull).Secret.Reveal()
	_, err = m.Verify(ctx, s, hello, accesstoken.ScopePull) // records last use once
	require.NoError(t, err)
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := m.Verify(ctx, s, hello, accesstoken.ScopePull); err != nil {
			t.Fatal(err)
		}
	})
	require.Zero(t, allocs, "allocations per Verify")
	bad := flipLast(s)
	allocs = testing.AllocsPerRun(100, func() {
		if _, err := m.Verify(ctx, bad, hello, accesstoken.ScopePull); err == nil {
			t.Fatal("accepted")
		}
	})
	require.Zero(t, allocs, "allocations per rejection of a malformed token")
}

func TestRejectedErrorHoldsToken(t *testing.T) {
	e := newEnv(t)
	iss := issue(t, e.m, accesstoken.RepositoryTarget("demo", "hello"), accesstoken.ScopePull)
	_, err := e.m.Verify(ctx, iss.Secret.Reveal(), world, accesstoken.ScopePull)
	var rej *accesstoken.RejectedError
	require.ErrorAs(t, err, &rej)
	require.Equal(t, iss.Token.ID, rej.Token.ID)
	require.ErrorIs(t, err, accesstoken.ErrWrongTarget)
	require.Equal(t, accesstoken.ErrWrongTarget.Error(), err.Error())

	_, err = e.m.Verify(ctx, mustGenerate(t, accesstoken.DefaultFormat()), world, accesstoken.ScopePull)
	require.False(t, errors.As(err, &rej), "no token, no RejectedError")
	require.ErrorIs(t, err, accesstoken.ErrUnknownToken)
}

// TestDefaultClockExpires runs the default (cached) clock through Verify:
// a token verified without pause stops verifying once its expiry has
// passed, so the cached reading does move on while in use, and last use is
// recorded with a time close to the system clock's.
func TestDefaultClockExpires(t *testing.T) {
	m, err := accesstoken.New(memstore.New(), accesstoken.InsecureAllowAll())
	require.NoError(t, err)
	expires := time.Now().Add(200 * time.Millisecond)
	iss, err := m.Issue(ctx, accesstoken.IssueRequest{Description: "manager 6", Owner: "alice", Target: accesstoken.ProjectTarget("demo"), Scopes: []accesstoken.Scope{accesstoken.ScopePull}, ExpiresAt: expires})
	require.NoError(t, err)
	s := iss.Secret.Reveal()
	before := time.Now()
	tok, err := m.Verify(ctx, s, hello, accesstoken.ScopePull)
	require.NoError(t, err)
	require.WithinDuration(t, before, tok.LastUsedAt, time.Second, "last use recorded by the default clock")
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err = m.Verify(ctx, s, hello, accesstoken.ScopePull)
		if err != nil {
			break
		}
		require.True(t, time.Now().Before(deadline), "still verifies 10 s after its expiry")
	}
	require.ErrorIs(t, err, accesstoken.ErrExpired)
	require.False(t, time.Now().Before(expires), "refused as expired before its expiry")
}

// TestManagementReadsTheSystemClock checks that Issue takes its time from
// the system clock itself, not from Verify's cached reading, even while
// that cache is in use.
func TestManagementReadsTheSystemClock(t *testing.T) {
	m, err := accesstoken.New(memstore.New(), accesstoken.InsecureAllowAll())
	require.NoError(t, err)
	s := issue(t, m, accesstoken.ProjectTarget("demo"), accesstoken.ScopePull).Secret.Reveal()
	for range 100 {
		_, err := m.Verify(ctx, s, hello, accesstoken.ScopePull) // keeps the cache in use
		require.NoError(t, err)
		before := time.Now().Truncate(time.Microsecond)
		iss := issue(t, m, accesstoken.ProjectTarget("demo"), accesstoken.ScopePull)
		require.False(t, iss.Token.CreatedAt.Before(before), "CreatedAt %v before %v", iss.Token.CreatedAt, before)
	}
}
