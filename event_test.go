package accesstoken_test

import (
	"bytes"
	"log/slog"
	"testing"

	"github.com/forgekit/accesstoken"
	"github.com/stretchr/testify/require"
)

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
