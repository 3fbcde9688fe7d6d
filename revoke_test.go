package accesstoken_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/forgekit/accesstoken"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

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

// TestRevokeTwiceEmitsOnce: only the revocation that revoked the token is
// reported, whether the second comes from another manager later or from
// the same user at the same instant (the test clock stands still); and
// every event names the token, the issue event too.
func TestRevokeTwiceEmitsOnce(t *testing.T) {
	for _, c := range []struct {
		name, second string
		later        time.Duration
	}{
		{"another manager, later", "carol", time.Second},
		{"the same user, at the same instant", "alice", 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			iss := issue(t, e.m, accesstoken.ProjectTarget("demo"), accesstoken.ScopePull)
			e.perms.set("carol", "demo", true)
			_, err := e.m.Revoke(ctx, "alice", iss.Token.ID)
			require.NoError(t, err)
			e.clock.Advance(c.later)
			tok, err := e.m.Revoke(ctx, c.second, iss.Token.ID)
			require.NoError(t, err)
			require.Equal(t, "alice", tok.RevokedBy)
			require.Equal(t, []accesstoken.EventKind{"issued", "revoked"}, e.ev.kinds())
			for _, ev := range e.ev.all {
				require.Equal(t, iss.Token.ID, ev.TokenID, "%v event", ev.Kind)
			}
		})
	}
}

// TestRevokeLeakedAndOwner: incident response records the system actor and
// the reason, in the store and in the events and logs, never a secret; a
// system actor cannot act as a user and a user cannot act as a system.
func TestRevokeLeakedAndOwner(t *testing.T) {
	var logs bytes.Buffer
	logEvent := accesstoken.SlogEvents(slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	ev := &events{}
	e := newEnv(t, accesstoken.WithEvents(func(ctx context.Context, e accesstoken.Event) {
		ev.record(ctx, e)
		logEvent(ctx, e)
	}))
	a := issue(t, e.m, accesstoken.ProjectTarget("demo"), accesstoken.ScopePull)
	b := issue(t, e.m, accesstoken.RepositoryTarget("demo", "hello"), accesstoken.ScopePull)
	c := issue(t, e.m, accesstoken.ProjectTarget("other"), accesstoken.ScopePull)

	tok, err := e.m.RevokeLeaked(ctx, a.Secret.Reveal(), "system:push-protection", "found in a push to other/x")
	require.NoError(t, err)
	require.Equal(t, "system:push-protection", tok.RevokedBy)
	require.Equal(t, "found in a push to other/x", tok.RevocationReason)
	_, err = e.m.Verify(ctx, a.Secret.Reveal(), hello, accesstoken.ScopePull)
	require.ErrorIs(t, err, accesstoken.ErrRevoked)

	// A user may not pose as a system actor, and a system actor may not
	// act as a user.
	_, err = e.m.RevokeLeaked(ctx, b.Secret.Reveal(), "alice", "x")
	require.ErrorIs(t, err, accesstoken.ErrBadOwner)
	_, err = e.m.Revoke(ctx, "system:push-protection", b.Token.ID)
	require.ErrorIs(t, err, accesstoken.ErrBadOwner)
	// A secret passed as the actor by mistake is not echoed.
	_, err = e.m.RevokeLeaked(ctx, "system:x", b.Secret.Reveal(), "x")
	require.Error(t, err)
	require.NotContains(t, err.Error(), b.Secret.Reveal())

	n, err := e.m.RevokeOwner(ctx, "alice", "system:account-deactivation", "account compromised")
	require.NoError(t, err)
	require.Equal(t, 2, n, "b and c; a was revoked already")
	for _, iss := range []*accesstoken.Issued{b, c} {
		got, err := e.m.Get(ctx, "alice", iss.Token.ID)
		require.NoError(t, err)
		require.Equal(t, "system:account-deactivation", got.RevokedBy)
		require.Equal(t, "account compromised", got.RevocationReason)
	}
	var revs []accesstoken.Event
	for _, x := range ev.all {
		if x.Kind == accesstoken.EventRevoked {
			revs = append(revs, x)
		}
	}
	require.Len(t, revs, 3)
	require.Equal(t, "system:push-protection", revs[0].Actor)
	require.Equal(t, "found in a push to other/x", revs[0].Reason)
	require.Equal(t, a.Token.ID, revs[0].TokenID)
	for _, ev := range revs[1:] {
		require.Equal(t, "system:account-deactivation", ev.Actor)
		require.Equal(t, "account compromised", ev.Reason)
		require.Equal(t, "alice", ev.Owner)
	}
	out := logs.String()
	require.Contains(t, out, `"revocation_reason":"account compromised"`)
	require.Contains(t, out, `"actor":"system:push-protection"`)
	for _, iss := range []*accesstoken.Issued{a, b, c} {
		require.NotContains(t, out, iss.Secret.Reveal())
	}
}

// TestRevokeWithReasonAndSelf: a user's revocation may say why; a token
// revokes itself as its owner.
func TestRevokeWithReasonAndSelf(t *testing.T) {
	e := newEnv(t)
	a := issue(t, e.m, accesstoken.ProjectTarget("demo"), accesstoken.ScopePull)
	for _, bad := range []string{" x", "x\u202e", strings.Repeat("r", 256)} {
		_, err := e.m.RevokeWithReason(ctx, "alice", a.Token.ID, bad)
		require.ErrorIs(t, err, accesstoken.ErrBadReason, "%q", bad)
	}
	tok, err := e.m.RevokeWithReason(ctx, "alice", a.Token.ID, "no longer needed")
	require.NoError(t, err)
	require.Equal(t, "no longer needed", tok.RevocationReason)
	require.Equal(t, "alice", tok.RevokedBy)

	b := issue(t, e.m, accesstoken.ProjectTarget("demo"), accesstoken.ScopePull)
	e.perms.set("alice", "demo", false) // the owner may revoke their token whatever their permissions
	e.ev.all = nil
	tok, err = e.m.RevokeSelf(ctx, b.Secret.Reveal())
	require.NoError(t, err)
	require.Equal(t, "alice", tok.RevokedBy)
	require.True(t, tok.Revoked())
	require.Equal(t, []accesstoken.EventKind{accesstoken.EventRevoked}, e.ev.kinds())
	_, err = e.m.RevokeSelf(ctx, b.Secret.Reveal())
	require.ErrorIs(t, err, accesstoken.ErrRevoked)
	_, err = e.m.RevokeSelf(ctx, "gat_nope")
	require.ErrorIs(t, err, accesstoken.ErrMalformed)
}
