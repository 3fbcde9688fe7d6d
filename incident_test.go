package accesstoken_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/forgekit/accesstoken"
	"github.com/stretchr/testify/require"
)

func TestSystemActor(t *testing.T) {
	for _, name := range []string{"push-protection", "a", "account.deactivation_2", strings.Repeat("x", 64)} {
		actor, err := accesstoken.SystemActor(name)
		require.NoError(t, err, name)
		require.Equal(t, "system:"+name, actor)
		require.True(t, accesstoken.IsSystemActor(actor), actor)
	}
	for _, name := range []string{"", "Push", "1x", "-x", "a b", "a:b", "é", strings.Repeat("x", 65), "gat_" + strings.Repeat("A", 49)} {
		_, err := accesstoken.SystemActor(name)
		require.ErrorIs(t, err, accesstoken.ErrBadOwner, "%q", name)
		require.ErrorIs(t, err, accesstoken.ErrInvalidInput)
		if name != "" {
			require.NotContains(t, err.Error(), name, "the error quotes the name")
		}
	}
	for _, s := range []string{"alice", "system:", "System:x", "system:X", "system", "xsystem:a", "system:a b"} {
		require.False(t, accesstoken.IsSystemActor(s), s)
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

// TestPagesAndRetentionErrors: cursors are opaque and checked; the
// retention is an event.
func TestPagesAndRetentionErrors(t *testing.T) {
	e := newEnv(t)
	for range 5 {
		issue(t, e.m, accesstoken.ProjectTarget("demo"), accesstoken.ScopePull)
		e.clock.Advance(time.Second)
	}
	p, err := e.m.PageForOwner(ctx, "alice", accesstoken.ListOptions{Limit: 2})
	require.NoError(t, err)
	require.Len(t, p.Tokens, 2)
	require.NotEmpty(t, p.Next)
	require.NotContains(t, p.Next, p.Tokens[1].ID.String(), "the cursor is opaque")
	for _, bad := range []string{p.Next[:len(p.Next)-1], p.Next + "A", "!" + p.Next[1:], strings.Repeat("A", len(p.Next))} {
		_, err := e.m.PageForOwner(ctx, "alice", accesstoken.ListOptions{Cursor: bad})
		require.ErrorIs(t, err, accesstoken.ErrBadListOptions, "%q", bad)
	}
	next, err := e.m.PageForOwner(ctx, "alice", accesstoken.ListOptions{Limit: 2, Cursor: p.Next})
	require.NoError(t, err)
	require.Len(t, next.Tokens, 2)
	require.True(t, next.Tokens[0].CreatedAt.After(p.Tokens[1].CreatedAt))
	require.Equal(t, "active", accesstoken.StateActive.String())
	require.Equal(t, "State(7)", accesstoken.State(7).String())

	_, err = e.m.Revoke(ctx, "alice", p.Tokens[0].ID)
	require.NoError(t, err)
	e.clock.Advance(time.Hour)
	e.ev.all = nil
	n, err := e.m.DeleteInactive(ctx, time.Minute)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.Len(t, e.ev.all, 1)
	require.Equal(t, accesstoken.EventPurged, e.ev.all[0].Kind)
	require.Equal(t, 1, e.ev.all[0].Count)

	e.perms.fail(errors.New("down"))
	_, err = e.m.PageForTarget(ctx, "alice", accesstoken.ProjectTarget("demo"), accesstoken.ListOptions{})
	require.ErrorIs(t, err, accesstoken.ErrAuthorizerFailure)
}
