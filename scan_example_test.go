package accesstoken_test

import (
	"context"
	"fmt"

	"github.com/forgekit/accesstoken"
	"github.com/forgekit/accesstoken/memstore"
)

// A log pasted into an issue holds a live token and a revoked one: the
// scan says where they are and whose, never what they are, and the forge
// revokes the live one.
func ExampleManager_Scan() {
	ctx := context.Background()
	m, _ := accesstoken.New(memstore.New(), forgePermissions)
	issue := func(description string) *accesstoken.Issued {
		iss, _ := m.Issue(ctx, accesstoken.IssueRequest{Owner: "alice", Description: description, Target: accesstoken.ProjectTarget("demo"), Scopes: []accesstoken.Scope{accesstoken.ScopePull}})
		return iss
	}
	live, old := issue("CI clone"), issue("CI clone (old)")
	_, _ = m.Revoke(ctx, "alice", old.Token.ID)
	paste := []byte("$ git clone https://ci:" + live.Secret.Reveal() + "@forge.example/demo/hello.git\n" +
		"fatal: Authentication failed (token " + old.Secret.Reveal() + ")\n")

	found, err := m.Scan(ctx, paste, accesstoken.ScanOptions{IncludeRevoked: true})
	if err != nil {
		fmt.Println("scan failed, treat the paste as leaking:", err)
		return
	}
	for _, f := range found {
		fmt.Println(f.Kind, "token of", f.Token.Owner, "at line", f.Line, "column", f.Column)
		if f.Kind == accesstoken.FindingLive {
			_, _ = m.Revoke(ctx, f.Token.Owner, f.Token.ID) // or Manager.RevokeLeaked with f.Secret(paste)
		}
	}
	found, _ = m.Scan(ctx, paste, accesstoken.ScanOptions{})
	fmt.Println("live tokens left:", len(found))
	// Output:
	// live token of alice at line 1 column 24
	// revoked token of alice at line 2 column 37
	// live tokens left: 0
}
