package memstore_test

import (
	"context"
	"fmt"

	"github.com/forgekit/accesstoken"
	"github.com/forgekit/accesstoken/memstore"
)

// A Manager over memstore: what tests and single-process forges use. The
// tokens live as long as the process.
func Example() {
	ctx := context.Background()
	store := memstore.New()
	m, err := accesstoken.New(store, accesstoken.InsecureAllowAll()) // a forge passes its own Authorizer
	if err != nil {
		fmt.Println(err)
		return
	}
	iss, err := m.Issue(ctx, accesstoken.IssueRequest{
		Owner:       "alice",
		Description: "CI clone",
		Target:      accesstoken.ProjectTarget("demo"),
		Scopes:      []accesstoken.Scope{accesstoken.ScopePull},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("tokens stored:", store.Len())

	tok, err := m.Verify(ctx, iss.Secret.Reveal(), accesstoken.Resource{Project: "demo", Repository: "hello"}, accesstoken.ScopePull)
	fmt.Println(tok.Owner, err)

	// What the store keeps is the digest, never the token.
	rec, err := store.ByDigest(ctx, m.Digest(iss.Secret.Reveal()))
	fmt.Println(rec.ID == iss.Token.ID, rec.Description, err)
	// Output:
	// tokens stored: 1
	// alice <nil>
	// true CI clone <nil>
}
