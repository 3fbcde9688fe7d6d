package accesstoken_test

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/forgekit/accesstoken"
	"github.com/forgekit/accesstoken/memstore"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

func TestNewRequiresAuthorizer(t *testing.T) {
	_, err := accesstoken.New(memstore.New(), nil)
	require.ErrorContains(t, err, "Authorizer")
	_, err = accesstoken.New(nil, accesstoken.InsecureAllowAll())
	require.Error(t, err)
	for _, o := range []accesstoken.Option{
		accesstoken.WithPrefix("Bad"), accesstoken.WithPepper([]byte("short")), accesstoken.WithScopes("nocolon"),
		accesstoken.WithMaxLifetime(0), accesstoken.WithClock(nil),
	} {
		_, err = accesstoken.New(memstore.New(), accesstoken.InsecureAllowAll(), o)
		require.Error(t, err)
	}
}

// failingStore fails the calls named in fail; the rest go to memstore.
type failingStore struct {
	*memstore.Store
	mu   sync.Mutex
	fail map[string]bool
}

func (f *failingStore) setFail(call string, fail bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail[call] = fail
}

func (f *failingStore) failing(call string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.fail[call]
}

var errDown = errors.New("connection refused")

func (f *failingStore) ByDigest(ctx context.Context, d accesstoken.Digest) (accesstoken.Record, error) {
	if f.failing("ByDigest") {
		return accesstoken.Record{}, errDown
	}
	return f.Store.ByDigest(ctx, d)
}

func (f *failingStore) TouchLastUsed(ctx context.Context, id uuid.UUID, at time.Time, d time.Duration) (bool, error) {
	if f.failing("TouchLastUsed") {
		return false, errDown
	}
	return f.Store.TouchLastUsed(ctx, id, at, d)
}

func (f *failingStore) Insert(ctx context.Context, rec accesstoken.Record) error {
	if f.failing("Insert") {
		return errDown
	}
	return f.Store.Insert(ctx, rec)
}

// lyingStore returns a record for any digest.
type lyingStore struct{ *memstore.Store }

func (l lyingStore) ByDigest(ctx context.Context, d accesstoken.Digest) (accesstoken.Record, error) {
	recs, _ := l.Store.List(ctx, accesstoken.Query{Owner: "alice"})
	if len(recs) == 0 {
		return accesstoken.Record{}, accesstoken.ErrNotFound
	}
	return recs[0], nil
}

func TestStoreFailureFailsClosed(t *testing.T) {
	fs := &failingStore{Store: memstore.New(), fail: map[string]bool{}}
	m, err := accesstoken.New(fs, newPerms())
	require.NoError(t, err)
	iss := issue(t, m, accesstoken.ProjectTarget("demo"), accesstoken.ScopePull)

	fs.setFail("TouchLastUsed", true)
	_, err = m.Verify(ctx, iss.Secret.Reveal(), hello, accesstoken.ScopePull)
	require.NoError(t, err, "a failed last-used write must not fail the verify")

	fs.setFail("ByDigest", true)
	tok, err := m.Verify(ctx, iss.Secret.Reveal(), hello, accesstoken.ScopePull)
	require.Zero(t, tok)
	require.ErrorIs(t, err, accesstoken.ErrStoreFailure)
	require.True(t, accesstoken.Temporary(err))
	require.NotContains(t, err.Error(), iss.Secret.Reveal())

	fs.setFail("Insert", true)
	_, err = m.Issue(ctx, accesstoken.IssueRequest{Description: "manager 5", Owner: "alice", Target: accesstoken.ProjectTarget("demo"), Scopes: []accesstoken.Scope{accesstoken.ScopePull}})
	require.ErrorIs(t, err, accesstoken.ErrStoreFailure)

	// A store that answers with a record for another secret never
	// authenticates: the digest is compared again.
	ls := lyingStore{memstore.New()}
	m2, err := accesstoken.New(ls, accesstoken.InsecureAllowAll())
	require.NoError(t, err)
	issue(t, m2, accesstoken.ProjectTarget("demo"), accesstoken.ScopePull)
	_, err = m2.Verify(ctx, mustGenerate(t, accesstoken.DefaultFormat()), hello, accesstoken.ScopePull)
	require.ErrorIs(t, err, accesstoken.ErrStoreFailure)
}

func TestPepper(t *testing.T) {
	store := memstore.New()
	pepper := bytes.Repeat([]byte{7}, 32)
	m, err := accesstoken.New(store, accesstoken.InsecureAllowAll(), accesstoken.WithPepper(pepper))
	require.NoError(t, err)
	iss := issue(t, m, accesstoken.ProjectTarget("demo"), accesstoken.ScopePull)
	_, err = m.Verify(ctx, iss.Secret.Reveal(), hello, accesstoken.ScopePull)
	require.NoError(t, err)

	plain, err := accesstoken.New(store, accesstoken.InsecureAllowAll())
	require.NoError(t, err)
	require.NotEqual(t, plain.Digest(iss.Secret.Reveal()), m.Digest(iss.Secret.Reveal()))
	_, err = plain.Verify(ctx, iss.Secret.Reveal(), hello, accesstoken.ScopePull)
	require.ErrorIs(t, err, accesstoken.ErrUnknownToken, "the digest must depend on the pepper")
}
