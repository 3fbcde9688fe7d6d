package gitserve_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"time"

	"github.com/forgekit/accesstoken"
	"github.com/forgekit/accesstoken/gitserve"
	"github.com/forgekit/accesstoken/httpauth"
	"github.com/forgekit/accesstoken/memstore"
)

// A git server whose pushes may not add a live token: refused everywhere,
// and on public repositories the token is revoked too.
func ExamplePushProtection() {
	m, err := accesstoken.New(memstore.New(), accesstoken.InsecureAllowAll()) // a real forge passes its Authorizer
	if err != nil {
		log.Fatal(err)
	}
	handler := &gitserve.Handler{
		Root: "/srv/git",
		Protect: &gitserve.PushProtection{
			Manager: m,
			Policy:  gitserve.RevokeIfPublic,
			Revoke: func(ctx context.Context, r gitserve.Revocation) error {
				// Revoked by a system actor, with the reason.
				_, err := m.RevokeLeaked(ctx, r.Secret.Reveal(), r.Actor, r.Reason)
				return err
			},
			TokensURL: "https://forge.example/settings/tokens",
		},
	}
	auth, err := httpauth.Middleware(m, giteaLayout)
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{
		Addr:              ":8080",
		Handler:           auth(handler),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	log.Fatal(srv.ListenAndServe())
}

// A forge's "scan" command: the tokens committed before push protection
// was on, in one repository.
func ExampleScanRepository() {
	m, err := accesstoken.New(memstore.New(), accesstoken.InsecureAllowAll())
	if err != nil {
		log.Fatal(err)
	}
	leaks, err := gitserve.ScanRepository(context.Background(), "/srv/git/demo/hello.git", gitserve.ScanOptions{
		Manager: m,
		Tokens:  accesstoken.ScanOptions{IncludeRevoked: true},
	})
	for _, l := range leaks {
		fmt.Println(l) // live token 5d0e… (owner "alice") in commit 1a2b…, path ci.yml, line 3
	}
	if err != nil {
		log.Fatal("the scan is incomplete: ", err)
	}
}
