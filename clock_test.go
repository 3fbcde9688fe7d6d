package accesstoken_test

import (
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/forgekit/accesstoken"
	"github.com/forgekit/accesstoken/memstore"
	"github.com/stretchr/testify/require"
)

// TestDefaultClockExpires runs the default (cached) clock through Verify:
// a token verified without pause stops verifying once its expiry has
// passed, so the cached reading does move on while in use, and last use is
// recorded with a time close to the system clock's.
func TestDefaultClockExpires(t *testing.T) {
	m, err := accesstoken.New(memstore.New(), accesstoken.InsecureAllowAll())
	require.NoError(t, err)
	// The first Verify must come before the expiry however slow the
	// machine: when it comes too late, the test starts again with a token
	// that lives four times longer, and then waits for that expiry (by
	// condition).
	var (
		s               string
		expires, before time.Time
		tok             accesstoken.Token
	)
	for life := 200 * time.Millisecond; ; life *= 4 {
		expires = time.Now().Add(life)
		iss, err := m.Issue(ctx, accesstoken.IssueRequest{Description: "manager 6 " + life.String(), Owner: "alice", Target: accesstoken.ProjectTarget("demo"), Scopes: []accesstoken.Scope{accesstoken.ScopePull}, ExpiresAt: expires})
		require.NoError(t, err)
		s = iss.Secret.Reveal()
		before = time.Now()
		tok, err = m.Verify(ctx, s, hello, accesstoken.ScopePull)
		if errors.Is(err, accesstoken.ErrExpired) && life < time.Hour {
			require.False(t, time.Now().Before(expires), "refused as expired before its expiry")
			continue
		}
		require.NoError(t, err)
		break
	}
	after := time.Now()
	// The cached clock lags the system clock by at most its period
	// (10 ms); the bound here is that plus the time Verify took.
	require.False(t, tok.LastUsedAt.Before(before.Add(-time.Second)) || tok.LastUsedAt.After(after.Add(time.Second)),
		"last use %v recorded by the default clock, outside [%v, %v] widened by 1 s", tok.LastUsedAt, before, after)
	deadline := expires.Add(time.Minute)
	for {
		_, err = m.Verify(ctx, s, hello, accesstoken.ScopePull)
		if err != nil {
			break
		}
		require.True(t, time.Now().Before(deadline), "still verifies a minute after its expiry")
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

// TestSynctestWithClock follows WithClock's advice for tests that run a
// Manager in a testing/synctest bubble: with WithClock(time.Now) the
// Manager lives on the bubble's fake time, so a token expires when the
// bubble's clock passes its expiry, and no goroutine is left behind.
func TestSynctestWithClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m, err := accesstoken.New(memstore.New(), accesstoken.InsecureAllowAll(), accesstoken.WithClock(time.Now))
		require.NoError(t, err)
		iss, err := m.Issue(t.Context(), accesstoken.IssueRequest{
			Description: "synctest 1",
			Owner:       "alice", Target: accesstoken.ProjectTarget("demo"),
			Scopes: []accesstoken.Scope{accesstoken.ScopePull}, ExpiresAt: time.Now().Add(time.Hour),
		})
		require.NoError(t, err)
		require.Equal(t, 2000, iss.Token.CreatedAt.Year(), "the bubble's fake time")
		_, err = m.Verify(t.Context(), iss.Secret.Reveal(), hello, accesstoken.ScopePull)
		require.NoError(t, err)
		time.Sleep(2 * time.Hour)
		_, err = m.Verify(t.Context(), iss.Secret.Reveal(), hello, accesstoken.ScopePull)
		require.ErrorIs(t, err, accesstoken.ErrExpired)
	})
}
