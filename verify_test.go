package accesstoken_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/forgekit/accesstoken"
	"github.com/forgekit/accesstoken/memstore"
	"github.com/stretchr/testify/require"
)

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

func TestVerifyResourceWithoutRepository(t *testing.T) {
	e := newEnv(t)
	iss := issue(t, e.m, accesstoken.ProjectTarget("demo"), accesstoken.ScopePull)
	for _, res := range []accesstoken.Resource{{Project: "demo"}, {}} {
		_, err := e.m.Verify(ctx, iss.Secret.Reveal(), res, accesstoken.ScopePull)
		require.ErrorIs(t, err, accesstoken.ErrWrongTarget, "Verify(%+v): the resource names no repository", res)
	}
	require.False(t, accesstoken.ProjectTarget("demo").Covers(accesstoken.Resource{Project: "demo"}))
}
