package accesstoken_test

import (
	"errors"
	"testing"
	"time"

	"github.com/forgekit/accesstoken"
	"github.com/stretchr/testify/require"
)

// TestAuthenticate: Authenticate says whether a token is live, whatever
// its target and scopes and without asking the Authorizer, records no
// use, and reports a refusal as an event.
func TestAuthenticate(t *testing.T) {
	e := newEnv(t)
	exp := e.clock.Now().Add(time.Hour)
	live := issue(t, e.m, accesstoken.RepositoryTarget("demo", "hello"), accesstoken.ScopeBuildStatus)
	revoked := issue(t, e.m, accesstoken.ProjectTarget("demo"), accesstoken.ScopePull)
	_, err := e.m.Revoke(ctx, "alice", revoked.Token.ID)
	require.NoError(t, err)
	expiring, err := e.m.Issue(ctx, accesstoken.IssueRequest{Description: "authenticate 1", Owner: "alice", Target: accesstoken.ProjectTarget("demo"), Scopes: []accesstoken.Scope{accesstoken.ScopePull}, ExpiresAt: exp})
	require.NoError(t, err)
	e.clock.Advance(2 * time.Hour)
	e.perms.fail(errors.New("the forge's permission check is down")) // not asked

	e.ev.all = nil
	tok, err := e.m.Authenticate(ctx, live.Secret.Reveal())
	require.NoError(t, err)
	require.Equal(t, live.Token.ID, tok.ID)
	require.True(t, tok.LastUsedAt.IsZero(), "no use recorded")
	require.Empty(t, e.ev.kinds(), "no event for a live token")

	for _, tc := range []struct {
		name   string
		secret string
		want   error
		found  bool
	}{
		{"revoked", revoked.Secret.Reveal(), accesstoken.ErrRevoked, true},
		{"expired", expiring.Secret.Reveal(), accesstoken.ErrExpired, true},
		{"malformed", "gat_nope", accesstoken.ErrMalformed, false},
		{"unknown", otherManagerToken(t), accesstoken.ErrUnknownToken, false},
	} {
		tok, err := e.m.Authenticate(ctx, tc.secret)
		require.ErrorIs(t, err, tc.want, tc.name)
		require.Zero(t, tok, tc.name)
		var rej *accesstoken.RejectedError
		require.Equal(t, tc.found, errors.As(err, &rej), "%s: a RejectedError when the token was found", tc.name)
	}
	require.Equal(t, []accesstoken.EventKind{accesstoken.EventRejected, accesstoken.EventRejected, accesstoken.EventRejected, accesstoken.EventRejected}, e.ev.kinds())
	require.NoError(t, e.m.Flush(ctx))
	got, err := e.m.Get(ctx, "alice", live.Token.ID)
	require.NoError(t, err)
	require.True(t, got.LastUsedAt.IsZero(), "Authenticate recorded a use")
}

// otherManagerToken returns a well-formed token that no store of the
// tests holds.
func otherManagerToken(t *testing.T) string {
	other := newEnv(t)
	return issue(t, other.m, accesstoken.ProjectTarget("demo"), accesstoken.ScopePull).Secret.Reveal()
}

// TestRecheck: Recheck decides as Verify does, but a token that still
// passes leaves no trace (no use, no event), while a refusal is an event.
func TestRecheck(t *testing.T) {
	e := newEnv(t)
	iss := issue(t, e.m, accesstoken.ProjectTarget("demo"), accesstoken.ScopePull, accesstoken.ScopePush)
	s := iss.Secret.Reveal()
	e.ev.all = nil
	require.NoError(t, e.m.Recheck(ctx, s, hello, accesstoken.ScopePush))
	require.Empty(t, e.ev.kinds())
	require.NoError(t, e.m.Flush(ctx))
	got, err := e.m.Get(ctx, "alice", iss.Token.ID)
	require.NoError(t, err)
	require.True(t, got.LastUsedAt.IsZero(), "Recheck recorded a use")

	require.ErrorIs(t, e.m.Recheck(ctx, s, elsew, accesstoken.ScopePush), accesstoken.ErrWrongTarget)
	require.ErrorIs(t, e.m.Recheck(ctx, s, hello, accesstoken.ScopeBuildStatus), accesstoken.ErrMissingScope)
	e.perms.set("alice", "demo", true, accesstoken.ScopePull) // push taken away
	require.ErrorIs(t, e.m.Recheck(ctx, s, hello, accesstoken.ScopePush), accesstoken.ErrOwnerDenied)
	require.NoError(t, e.m.Recheck(ctx, s, hello, accesstoken.ScopePull))
	_, err = e.m.Revoke(ctx, "alice", iss.Token.ID)
	require.NoError(t, err)
	err = e.m.Recheck(ctx, s, hello, accesstoken.ScopePull)
	require.ErrorIs(t, err, accesstoken.ErrRevoked)
	var rej *accesstoken.RejectedError
	require.ErrorAs(t, err, &rej)
	require.Equal(t, iss.Token.ID, rej.Token.ID)
	require.Equal(t, []accesstoken.EventKind{accesstoken.EventRejected, accesstoken.EventRejected, accesstoken.EventRejected, accesstoken.EventRevoked, accesstoken.EventRejected}, e.ev.kinds())
}
