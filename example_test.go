package accesstoken_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/forgekit/accesstoken"
	"github.com/forgekit/accesstoken/memstore"
)

// forgePermissions stands for the forge's own permission model: here alice
// may do everything on project "demo", and nobody may do anything else.
var forgePermissions = accesstoken.AuthorizerFuncs{
	Access: func(_ context.Context, user string, res accesstoken.Resource, _ accesstoken.Scope) (bool, error) {
		return user == "alice" && res.Project == "demo", nil
	},
	Manage: func(_ context.Context, user string, t accesstoken.Target) (bool, error) {
		return user == "alice" && t.Project == "demo", nil
	},
}

func ExampleManager_Issue() {
	ctx := context.Background()
	m, _ := accesstoken.New(memstore.New(), forgePermissions)

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
	fmt.Println(iss.Token.Owner, iss.Token.Target, iss.Token.Scopes)
	fmt.Println("printed secret:", iss.Secret)
	fmt.Println("length of the secret to show once:", len(iss.Secret.Reveal()))

	// bob may not manage tokens of project demo.
	_, err = m.Issue(ctx, accesstoken.IssueRequest{
		Owner: "bob", Target: accesstoken.ProjectTarget("demo"),
		Scopes: []accesstoken.Scope{accesstoken.ScopePull},
	})
	fmt.Println(err)
	// Output:
	// alice demo/* repository:pull
	// printed secret: [REDACTED]
	// length of the secret to show once: 53
	// accesstoken: not permitted to manage these tokens
}

func ExampleManager_Verify() {
	ctx := context.Background()
	m, _ := accesstoken.New(memstore.New(), forgePermissions)
	iss, _ := m.Issue(ctx, accesstoken.IssueRequest{
		Owner:  "alice",
		Target: accesstoken.ProjectTarget("demo"),
		Scopes: []accesstoken.Scope{accesstoken.ScopePull},
	})
	secret := iss.Secret.Reveal() // what git sends as the password

	hello := accesstoken.Resource{Project: "demo", Repository: "hello"}
	tok, err := m.Verify(ctx, secret, hello, accesstoken.ScopePull)
	fmt.Println(tok.Owner, err)

	_, err = m.Verify(ctx, secret, hello, accesstoken.ScopePush)
	fmt.Println(errors.Is(err, accesstoken.ErrMissingScope))

	other := accesstoken.Resource{Project: "other", Repository: "hello"}
	_, err = m.Verify(ctx, secret, other, accesstoken.ScopePull)
	fmt.Println(errors.Is(err, accesstoken.ErrWrongTarget))

	_, err = m.Verify(ctx, "gat_not-a-token", hello, accesstoken.ScopePull)
	fmt.Println(err)
	// Output:
	// alice <nil>
	// true
	// true
	// accesstoken: malformed token: wrong length
}

func ExampleManager_Revoke() {
	ctx := context.Background()
	m, _ := accesstoken.New(memstore.New(), forgePermissions)
	iss, _ := m.Issue(ctx, accesstoken.IssueRequest{
		Owner:  "alice",
		Target: accesstoken.RepositoryTarget("demo", "hello"),
		Scopes: []accesstoken.Scope{accesstoken.ScopePush},
	})
	hello := accesstoken.Resource{Project: "demo", Repository: "hello"}

	tok, _ := m.Revoke(ctx, "alice", iss.Token.ID)
	fmt.Println("revoked by", tok.RevokedBy)

	_, err := m.Verify(ctx, iss.Secret.Reveal(), hello, accesstoken.ScopePush)
	fmt.Println(err)
	// Output:
	// revoked by alice
	// accesstoken: token revoked
}
