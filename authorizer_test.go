package accesstoken_test

import (
	"testing"

	"github.com/forgekit/accesstoken"
	"github.com/forgekit/accesstoken/memstore"
	"github.com/stretchr/testify/require"
)

func TestNilAuthorizerFuncFailsClosed(t *testing.T) {
	m, err := accesstoken.New(memstore.New(), accesstoken.AuthorizerFuncs{})
	require.NoError(t, err)
	_, err = m.Issue(ctx, accesstoken.IssueRequest{Description: "review 3", Owner: "alice", Target: accesstoken.ProjectTarget("demo"), Scopes: []accesstoken.Scope{accesstoken.ScopePull}})
	require.ErrorIs(t, err, accesstoken.ErrAuthorizerFailure)
	_, err = m.Get(ctx, "", [16]byte{})
	require.ErrorIs(t, err, accesstoken.ErrBadOwner, "an empty actor is refused before asking anyone")
}
