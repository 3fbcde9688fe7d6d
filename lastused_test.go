package accesstoken_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/forgekit/accesstoken"
	"github.com/forgekit/accesstoken/memstore"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

// blockingStore holds every TouchLastUsed until release is closed, as a
// database whose write lock another process holds for a long time.
type blockingStore struct {
	*memstore.Store
	entered chan struct{} // receives once per TouchLastUsed call
	release chan struct{}
}

func (b *blockingStore) TouchLastUsed(ctx context.Context, id uuid.UUID, at time.Time, d time.Duration) (bool, error) {
	b.entered <- struct{}{}
	select {
	case <-b.release:
	case <-ctx.Done():
		return false, ctx.Err()
	}
	return b.Store.TouchLastUsed(ctx, id, at, d)
}

// TestVerifyNeverWaitsForLastUse: while the store cannot take the last-used
// write at all, verifications of the due token still succeed (they would
// hang here if they waited for it), a Flush given up keeps the use queued,
// and once the store is free the write lands.
func TestVerifyNeverWaitsForLastUse(t *testing.T) {
	st := &blockingStore{Store: memstore.New(), entered: make(chan struct{}, 100), release: make(chan struct{})}
	m, err := accesstoken.New(st, newPerms())
	require.NoError(t, err)
	iss := issue(t, m, accesstoken.ProjectTarget("demo"), accesstoken.ScopePull)

	before := time.Now().Add(-time.Second)
	for range 20 {
		tok, err := m.Verify(ctx, iss.Secret.Reveal(), hello, accesstoken.ScopePull)
		require.NoError(t, err)
		require.False(t, tok.LastUsedAt.Before(before), "the verified token says when it was used")
	}
	// The background writer takes the use and blocks in the store.
	<-st.entered
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	require.ErrorIs(t, m.Flush(cancelled), context.Canceled, "Flush gives up with its context")
	require.ErrorIs(t, m.Flush(cancelled), accesstoken.ErrStoreFailure)

	close(st.release)
	require.NoError(t, m.Flush(ctx), "Flush waits for the write in progress")
	tok, err := m.Get(ctx, "alice", iss.Token.ID)
	require.NoError(t, err)
	require.False(t, tok.LastUsedAt.Before(before), "written once the store was free")
	require.Len(t, st.entered, 0, "one write for twenty verifications")
}

// TestLastUseWrittenWithoutFlush: the Manager's own writer records a use
// a little after the verification, without anyone calling Flush.
func TestLastUseWrittenWithoutFlush(t *testing.T) {
	e := newEnv(t)
	iss := issue(t, e.m, accesstoken.ProjectTarget("demo"), accesstoken.ScopePull)
	_, err := e.m.Verify(ctx, iss.Secret.Reveal(), hello, accesstoken.ScopePull)
	require.NoError(t, err)
	deadline := time.Now().Add(100 * accesstoken.LastUsedDelay)
	for {
		tok, err := e.store.ByID(ctx, iss.Token.ID)
		require.NoError(t, err)
		if tok.LastUsedAt.Equal(e.clock.Now()) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("last use not written %v after the verification", 100*accesstoken.LastUsedDelay)
		}
		time.Sleep(accesstoken.LastUsedDelay / 10)
	}
}

// TestFailedLastUseWriteRetried: a write that fails is reported by Flush,
// does not fail the verification, and the token's next use writes it.
func TestFailedLastUseWriteRetried(t *testing.T) {
	fs := &failingStore{Store: memstore.New(), fail: map[string]bool{}}
	clk := newClock()
	m, err := accesstoken.New(fs, newPerms(), accesstoken.WithClock(clk.Now))
	require.NoError(t, err)
	iss := issue(t, m, accesstoken.ProjectTarget("demo"), accesstoken.ScopePull)

	fs.setFail("TouchLastUsed", true)
	_, err = m.Verify(ctx, iss.Secret.Reveal(), hello, accesstoken.ScopePull)
	require.NoError(t, err, "a failing store write does not fail the verification")
	require.ErrorIs(t, m.Flush(ctx), accesstoken.ErrStoreFailure)

	fs.setFail("TouchLastUsed", false)
	clk.Advance(time.Second)
	_, err = m.Verify(ctx, iss.Secret.Reveal(), hello, accesstoken.ScopePull)
	require.NoError(t, err)
	require.NoError(t, m.Flush(ctx))
	rec, err := fs.ByID(ctx, iss.Token.ID)
	require.NoError(t, err)
	require.Equal(t, clk.Now(), rec.LastUsedAt, "written at the next use")
}

// TestLastUseManyTokensConcurrently: uses of many tokens from many
// goroutines are all written, each once.
func TestLastUseManyTokensConcurrently(t *testing.T) {
	e := newEnv(t)
	const tokens = 64
	var secrets []string
	for range tokens {
		secrets = append(secrets, issue(t, e.m, accesstoken.ProjectTarget("demo"), accesstoken.ScopePull).Secret.Reveal())
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range tokens {
				if _, err := e.m.Verify(ctx, secrets[(i+g*7)%tokens], hello, accesstoken.ScopePull); err != nil {
					t.Errorf("Verify: %v", err)
				}
			}
		})
	}
	wg.Wait()
	require.NoError(t, e.m.Flush(ctx))
	toks, err := e.m.ListForOwner(ctx, "alice", accesstoken.ListOptions{})
	require.NoError(t, err)
	require.Len(t, toks, tokens)
	for _, tok := range toks {
		require.Equal(t, e.clock.Now(), tok.LastUsedAt, "token %s", tok.ID)
	}
}

// TestLastUseWrittenWhileVerifying: verifications go on while batches are
// written (by Flush here, as by the Manager's writer), for the race
// detector: a batch being written is read by verifications that check
// whether their use is already on its way.
func TestLastUseWrittenWhileVerifying(t *testing.T) {
	e := newEnv(t, accesstoken.WithLastUsedInterval(0)) // every use is due
	var secrets []string
	for range 16 {
		secrets = append(secrets, issue(t, e.m, accesstoken.ProjectTarget("demo"), accesstoken.ScopePull).Secret.Reveal())
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := e.m.Verify(ctx, secrets[(i+g)%len(secrets)], hello, accesstoken.ScopePull); err != nil {
					t.Errorf("Verify: %v", err)
					return
				}
			}
		})
	}
	for range 200 {
		e.clock.Advance(time.Second)
		require.NoError(t, e.m.Flush(ctx))
	}
	close(stop)
	wg.Wait()
	require.NoError(t, e.m.Flush(ctx))
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

// TestLastUseRefusedWriteNotedAgain: two instances share a store. B notes
// a use at 10 s while A's note of 0 s has not landed; A's lands, so B's is
// refused (a use within the interval is stored). A verification by B
// after the stored use's interval, but within that of its own refused
// note, must note the use again: the store must get it.
func TestLastUseRefusedWriteNotedAgain(t *testing.T) {
	store := memstore.New()
	clk := newClock()
	a, err := accesstoken.New(store, newPerms(), accesstoken.WithClock(clk.Now))
	require.NoError(t, err)
	b, err := accesstoken.New(store, newPerms(), accesstoken.WithClock(clk.Now))
	require.NoError(t, err)
	iss := issue(t, a, accesstoken.ProjectTarget("demo"), accesstoken.ScopePull)
	verify := func(m *accesstoken.Manager) {
		t.Helper()
		_, err := m.Verify(ctx, iss.Secret.Reveal(), hello, accesstoken.ScopePull)
		require.NoError(t, err)
	}
	stored := func() time.Time {
		t.Helper()
		rec, err := store.ByID(ctx, iss.Token.ID)
		require.NoError(t, err)
		return rec.LastUsedAt
	}
	t0 := clk.Now()
	verify(a)
	clk.Advance(10 * time.Second)
	verify(b)
	require.NoError(t, a.Flush(ctx))
	require.NoError(t, b.Flush(ctx))
	require.Equal(t, t0, stored(), "B's use, within the interval of A's, is not written")

	clk.Advance(accesstoken.DefaultLastUsedInterval - 5*time.Second) // due again, 5 s short of B's note's interval
	verify(b)
	require.NoError(t, b.Flush(ctx))
	require.Equal(t, clk.Now(), stored(), "the use after the interval is written")
}
