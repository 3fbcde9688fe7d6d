package accesstoken_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/forgekit/accesstoken"
	"github.com/forgekit/accesstoken/memstore"
	"github.com/stretchr/testify/require"
)

// Tests for findings of a security review.

func TestVerifyResourceWithoutRepository(t *testing.T) {
	e := newEnv(t)
	iss := issue(t, e.m, accesstoken.ProjectTarget("demo"), accesstoken.ScopePull)
	for _, res := range []accesstoken.Resource{{Project: "demo"}, {}} {
		_, err := e.m.Verify(ctx, iss.Secret.Reveal(), res, accesstoken.ScopePull)
		require.ErrorIs(t, err, accesstoken.ErrWrongTarget, "Verify(%+v): the resource names no repository", res)
	}
	require.False(t, accesstoken.ProjectTarget("demo").Covers(accesstoken.Resource{Project: "demo"}))
}

func TestSecretInUnexportedField(t *testing.T) {
	e := newEnv(t)
	iss := issue(t, e.m, accesstoken.ProjectTarget("demo"), accesstoken.ScopePull)
	s := iss.Secret.Reveal()
	type pending struct {
		user   string
		secret accesstoken.Secret
	}
	type issuedCopy struct{ iss accesstoken.Issued }
	var logged strings.Builder
	slog.New(slog.NewTextHandler(&logged, nil)).Info("x", "pending", pending{"alice", iss.Secret})
	for _, out := range []string{
		fmt.Sprintf("%v", pending{"alice", iss.Secret}), fmt.Sprintf("%+v", issuedCopy{*iss}),
		fmt.Sprintf("%#v", pending{"alice", iss.Secret}), logged.String(),
	} {
		if strings.Contains(out, s) || strings.Contains(out, s[4:20]) {
			t.Errorf("secret printed: %q", strings.ReplaceAll(out, s, "<SECRET>"))
		}
	}
	require.Equal(t, "", accesstoken.Secret{}.Reveal())
}

func TestFarFutureExpiry(t *testing.T) {
	e := newEnv(t)
	for _, exp := range []time.Time{time.Date(300000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)} {
		_, err := e.m.Issue(ctx, accesstoken.IssueRequest{Description: "review 1", Owner: "alice", Target: accesstoken.ProjectTarget("demo"),
			Scopes: []accesstoken.Scope{accesstoken.ScopePull}, ExpiresAt: exp})
		require.ErrorIs(t, err, accesstoken.ErrBadExpiry, "expiry %v", exp)
	}
	exp := time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC)
	iss, err := e.m.Issue(ctx, accesstoken.IssueRequest{Description: "review 2", Owner: "alice", Target: accesstoken.ProjectTarget("demo"),
		Scopes: []accesstoken.Scope{accesstoken.ScopePull}, ExpiresAt: exp})
	require.NoError(t, err)
	tok, err := e.m.Get(ctx, "alice", iss.Token.ID)
	require.NoError(t, err)
	require.True(t, tok.ExpiresAt.Equal(exp), "stored %v; want %v", tok.ExpiresAt, exp)
}

func TestZeroFormatAcceptsNothing(t *testing.T) {
	var f accesstoken.Format
	tok := mustGenerate(t, accesstoken.DefaultFormat())
	require.ErrorIs(t, f.Check(tok[4:]), accesstoken.ErrMalformed)
	require.ErrorIs(t, f.Check(tok), accesstoken.ErrMalformed)
	require.Nil(t, f.FindAll(tok+" "+tok[4:]))
}

func TestNilAuthorizerFuncFailsClosed(t *testing.T) {
	m, err := accesstoken.New(memstore.New(), accesstoken.AuthorizerFuncs{})
	require.NoError(t, err)
	_, err = m.Issue(ctx, accesstoken.IssueRequest{Description: "review 3", Owner: "alice", Target: accesstoken.ProjectTarget("demo"), Scopes: []accesstoken.Scope{accesstoken.ScopePull}})
	require.ErrorIs(t, err, accesstoken.ErrAuthorizerFailure)
	_, err = m.Get(ctx, "", [16]byte{})
	require.ErrorIs(t, err, accesstoken.ErrBadOwner, "an empty actor is refused before asking anyone")
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

func TestRotateAppliesMaxLifetime(t *testing.T) {
	store := memstore.New()
	c := newClock()
	m, err := accesstoken.New(store, newPerms(), accesstoken.WithClock(c.Now))
	require.NoError(t, err)
	iss := issue(t, m, accesstoken.ProjectTarget("demo"), accesstoken.ScopePull)
	require.True(t, iss.Token.ExpiresAt.IsZero())

	// The policy is introduced later: the replacement obeys it.
	capped, err := accesstoken.New(store, newPerms(), accesstoken.WithClock(c.Now), accesstoken.WithMaxLifetime(24*time.Hour))
	require.NoError(t, err)
	next, err := capped.Rotate(context.Background(), "alice", iss.Token.ID)
	require.NoError(t, err)
	require.Equal(t, c.Now().Add(24*time.Hour), next.Token.ExpiresAt)
}
