package accesstoken_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/forgekit/accesstoken"
	"github.com/forgekit/accesstoken/memstore"
	"github.com/stretchr/testify/require"
)

// repoPerms is a forge whose permissions are per repository, and which
// counts the questions it is asked.
type repoPerms struct {
	mu    sync.Mutex
	can   map[accesstoken.Resource][]accesstoken.Scope // alice's scopes, by resource
	calls int
	err   error
}

func (p *repoPerms) has(res accesstoken.Resource, scope accesstoken.Scope) bool {
	for _, s := range p.can[res] {
		if s == scope {
			return true
		}
	}
	return false
}

func (p *repoPerms) CanAccess(_ context.Context, user string, res accesstoken.Resource, scope accesstoken.Scope) (bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls++
	return user == "alice" && p.has(res, scope), p.err
}

func (p *repoPerms) CanManage(context.Context, string, accesstoken.Target) (bool, error) {
	return true, nil
}

func (p *repoPerms) asked() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := p.calls
	p.calls = 0
	return n
}

// seeingPerms is repoPerms as a VisibilityAuthorizer.
type seeingPerms struct{ *repoPerms }

func (p seeingPerms) CanAccessAndSee(_ context.Context, user string, res accesstoken.Resource, scope accesstoken.Scope) (bool, bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls++
	return user == "alice" && p.has(res, scope), user == "alice" && p.has(res, accesstoken.ScopePull), p.err
}

var (
	readable = accesstoken.Resource{Project: "demo", Repository: "readable"} // alice may pull
	writable = accesstoken.Resource{Project: "demo", Repository: "writable"} // alice may pull and push
	hiddenR  = accesstoken.Resource{Project: "demo", Repository: "hidden"}   // alice may do nothing
)

func newRepoPerms() *repoPerms {
	return &repoPerms{can: map[accesstoken.Resource][]accesstoken.Scope{
		readable: {accesstoken.ScopePull},
		writable: {accesstoken.ScopePull, accesstoken.ScopePush},
	}}
}

// TestRejectedVisible: Verify decides what a refusal may reveal, once, in
// the core, with as few questions to the Authorizer as the answer needs:
// one at most per verification with a VisibilityAuthorizer, two at most
// (a refused push, then whether the owner may pull) without.
func TestRejectedVisible(t *testing.T) {
	for _, seeing := range []bool{false, true} {
		name := "Authorizer"
		if seeing {
			name = "VisibilityAuthorizer"
		}
		t.Run(name, func(t *testing.T) {
			p := newRepoPerms()
			var authz accesstoken.Authorizer = p
			if seeing {
				authz = seeingPerms{p}
			}
			m, err := accesstoken.New(memstore.New(), authz)
			require.NoError(t, err)
			mint := func(target accesstoken.Target, scopes ...accesstoken.Scope) string {
				t.Helper()
				iss, err := m.Issue(ctx, accesstoken.IssueRequest{Owner: "alice", Description: fmt.Sprintf("visibility %d", issued.Add(1)), Target: target, Scopes: scopes})
				require.NoError(t, err)
				return iss.Secret.Reveal()
			}
			proj := mint(accesstoken.ProjectTarget("demo"), accesstoken.ScopePull, accesstoken.ScopePush)
			projPull := mint(accesstoken.ProjectTarget("demo"), accesstoken.ScopePull)
			repoPull := mint(accesstoken.RepositoryTarget("demo", "hidden"), accesstoken.ScopePull)
			p.asked()

			for _, tc := range []struct {
				name     string
				secret   string
				res      accesstoken.Resource
				scope    accesstoken.Scope
				want     error
				visible  bool
				asked    int // without a VisibilityAuthorizer
				askedVis int // with one
			}{
				{"granted", proj, writable, accesstoken.ScopePush, nil, false, 1, 1},
				{"repository token of res, missing scope", repoPull, hiddenR, accesstoken.ScopePush, accesstoken.ErrMissingScope, true, 0, 0},
				{"project token, missing scope, owner may pull", projPull, readable, accesstoken.ScopePush, accesstoken.ErrMissingScope, true, 1, 1},
				{"project token, missing scope, owner may not see", projPull, hiddenR, accesstoken.ScopePush, accesstoken.ErrMissingScope, false, 1, 1},
				{"push denied, owner may pull", proj, readable, accesstoken.ScopePush, accesstoken.ErrOwnerDenied, true, 2, 1},
				{"push denied, owner may not see", proj, hiddenR, accesstoken.ScopePush, accesstoken.ErrOwnerDenied, false, 2, 1},
				{"pull denied", proj, hiddenR, accesstoken.ScopePull, accesstoken.ErrOwnerDenied, false, 1, 1},
				{"wrong target", repoPull, readable, accesstoken.ScopePull, accesstoken.ErrWrongTarget, false, 0, 0},
			} {
				_, err := m.Verify(ctx, tc.secret, tc.res, tc.scope)
				asked := p.asked()
				if tc.want == nil {
					require.NoError(t, err, tc.name)
				} else {
					require.ErrorIs(t, err, tc.want, tc.name)
					var rej *accesstoken.RejectedError
					require.True(t, errors.As(err, &rej), tc.name)
					require.Equal(t, tc.visible, rej.Visible, "%s: Visible", tc.name)
				}
				want := tc.asked
				if seeing {
					want = tc.askedVis
				}
				require.Equal(t, want, asked, "%s: questions to the Authorizer", tc.name)
			}

			// A refused Recheck asks nothing more and reveals nothing.
			var rej *accesstoken.RejectedError
			require.True(t, errors.As(m.Recheck(ctx, proj, readable, accesstoken.ScopePush), &rej))
			require.False(t, rej.Visible)
			require.Equal(t, 1, p.asked())

			// A failing permission check is a failure, never visible.
			p.mu.Lock()
			p.err = errors.New("permissions are down")
			p.mu.Unlock()
			_, err = m.Verify(ctx, proj, readable, accesstoken.ScopePush)
			require.ErrorIs(t, err, accesstoken.ErrAuthorizerFailure)
			require.True(t, accesstoken.Temporary(err))
			require.True(t, errors.As(err, &rej))
			require.False(t, rej.Visible)
			_, err = m.Verify(ctx, projPull, readable, accesstoken.ScopePush)
			require.ErrorIs(t, err, accesstoken.ErrMissingScope)
			require.True(t, errors.As(err, &rej))
			require.False(t, rej.Visible, "a failed visibility check counts as no")
		})
	}
}

// TestVerifyAnyAll: several scopes, any or all of them.
func TestVerifyAnyAll(t *testing.T) {
	e := newEnv(t)
	e.perms.set("alice", "demo", true, accesstoken.ScopePull, accesstoken.ScopePush) // no build_status
	pullStatus := issue(t, e.m, accesstoken.ProjectTarget("demo"), accesstoken.ScopePull, accesstoken.ScopeBuildStatus).Secret.Reveal()
	status := issueDesc(t, e.m, "status only", accesstoken.ProjectTarget("demo"), accesstoken.ScopeBuildStatus).Secret.Reveal()

	tok, got, err := e.m.VerifyAny(ctx, pullStatus, hello, accesstoken.ScopeBuildStatus, accesstoken.ScopePull)
	require.NoError(t, err)
	require.Equal(t, accesstoken.ScopePull, got, "the scope the owner may use, not the first the token holds")
	require.Equal(t, "alice", tok.Owner)
	_, got, err = e.m.VerifyAny(ctx, pullStatus, hello, accesstoken.ScopePush, accesstoken.ScopePull)
	require.NoError(t, err)
	require.Equal(t, accesstoken.ScopePull, got)
	_, _, err = e.m.VerifyAny(ctx, pullStatus, hello, accesstoken.ScopePush, "lfs:write")
	require.ErrorIs(t, err, accesstoken.ErrMissingScope)
	_, _, err = e.m.VerifyAny(ctx, status, hello, accesstoken.ScopeBuildStatus, accesstoken.ScopePush)
	require.ErrorIs(t, err, accesstoken.ErrOwnerDenied)
	_, _, err = e.m.VerifyAny(ctx, status, elsew, accesstoken.ScopeBuildStatus, accesstoken.ScopePush)
	require.ErrorIs(t, err, accesstoken.ErrWrongTarget)
	_, got, err = e.m.VerifyAny(ctx, pullStatus, hello, accesstoken.ScopePull)
	require.NoError(t, err)
	require.Equal(t, accesstoken.ScopePull, got)

	_, err = e.m.VerifyAll(ctx, pullStatus, hello, accesstoken.ScopePull, accesstoken.ScopePull)
	require.NoError(t, err)
	_, err = e.m.VerifyAll(ctx, pullStatus, hello, accesstoken.ScopePull, accesstoken.ScopePush)
	require.ErrorIs(t, err, accesstoken.ErrMissingScope)
	_, err = e.m.VerifyAll(ctx, pullStatus, hello, accesstoken.ScopePull, accesstoken.ScopeBuildStatus)
	require.ErrorIs(t, err, accesstoken.ErrOwnerDenied)

	for _, err := range []error{
		func() error { _, _, err := e.m.VerifyAny(ctx, pullStatus, hello); return err }(),
		func() error { _, err := e.m.VerifyAll(ctx, pullStatus, hello); return err }(),
	} {
		require.ErrorIs(t, err, accesstoken.ErrNoScopes)
		require.ErrorIs(t, err, accesstoken.ErrInvalidInput)
	}

	// The event of a refusal names the scope that decided.
	e.ev.all = nil
	_, err = e.m.VerifyAll(ctx, pullStatus, hello, accesstoken.ScopePull, accesstoken.ScopeBuildStatus)
	require.Error(t, err)
	require.Len(t, e.ev.all, 1)
	require.Equal(t, accesstoken.EventRejected, e.ev.all[0].Kind)
	require.Equal(t, accesstoken.ScopeBuildStatus, e.ev.all[0].Scope)
}

// TestProjectResource: a route about a project as a whole is covered by
// that project's project tokens only; a Resource literal without a
// repository still names nothing.
func TestProjectResource(t *testing.T) {
	e := newEnv(t)
	proj := issue(t, e.m, accesstoken.ProjectTarget("demo"), accesstoken.ScopePull).Secret.Reveal()
	repo := issue(t, e.m, accesstoken.RepositoryTarget("demo", "hello"), accesstoken.ScopePull).Secret.Reveal()
	demo := accesstoken.ProjectResource("demo")
	require.True(t, demo.IsProject())
	require.False(t, hello.IsProject())
	require.Equal(t, "demo/*", demo.String())
	require.NoError(t, demo.Validate())
	for _, bad := range []accesstoken.Resource{accesstoken.ProjectResource(""), {Project: "demo"}, {}} {
		require.ErrorIs(t, bad.Validate(), accesstoken.ErrBadTarget, "%#v", bad)
	}

	_, err := e.m.Verify(ctx, proj, demo, accesstoken.ScopePull)
	require.NoError(t, err)
	_, err = e.m.Verify(ctx, proj, accesstoken.ProjectResource("other"), accesstoken.ScopePull)
	require.ErrorIs(t, err, accesstoken.ErrWrongTarget)
	_, err = e.m.Verify(ctx, repo, demo, accesstoken.ScopePull)
	require.ErrorIs(t, err, accesstoken.ErrWrongTarget, "a repository token does not cover its project")
	_, err = e.m.Verify(ctx, proj, accesstoken.Resource{Project: "demo"}, accesstoken.ScopePull)
	require.ErrorIs(t, err, accesstoken.ErrWrongTarget, "a literal without a repository names nothing")
	withRepo := accesstoken.ProjectResource("demo")
	withRepo.Repository = "hello"
	require.False(t, accesstoken.ProjectTarget("demo").Covers(withRepo))
	require.False(t, accesstoken.RepositoryTarget("demo", "hello").Covers(withRepo))

	// The Authorizer is told it is asked about the project.
	var asked accesstoken.Resource
	m, err := accesstoken.New(e.store, accesstoken.AuthorizerFuncs{
		Access: func(_ context.Context, _ string, res accesstoken.Resource, _ accesstoken.Scope) (bool, error) {
			asked = res
			return false, nil
		},
	})
	require.NoError(t, err)
	_, err = m.Verify(ctx, proj, demo, accesstoken.ScopePull)
	require.ErrorIs(t, err, accesstoken.ErrOwnerDenied)
	require.True(t, asked.IsProject())
	require.Equal(t, demo, asked)
}
