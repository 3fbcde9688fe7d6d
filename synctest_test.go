package accesstoken_test

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/forgekit/accesstoken"
	"github.com/forgekit/accesstoken/memstore"
	"github.com/stretchr/testify/require"
)

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
