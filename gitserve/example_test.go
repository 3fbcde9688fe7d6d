package gitserve_test

import (
	"log"
	"net/http"
	"strings"
	"time"

	"github.com/forgekit/accesstoken"
	"github.com/forgekit/accesstoken/gitserve"
	"github.com/forgekit/accesstoken/httpauth"
	"github.com/forgekit/accesstoken/memstore"
)

// giteaLayout resolves "owner/name.git" URLs, where the owner is the
// project. A real forge looks the repository up in its database.
var giteaLayout = httpauth.ResolverFunc(func(r *http.Request, repoPath string) (*httpauth.Repo, error) {
	owner, name, ok := strings.Cut(repoPath, "/")
	name, dotGit := strings.CutSuffix(name, ".git")
	if !ok || !dotGit || owner != "demo" || name != "hello" {
		return nil, httpauth.ErrRepoNotFound
	}
	return &httpauth.Repo{
		Resource: accesstoken.Resource{Project: owner, Repository: name},
		Dir:      owner + "/" + name + ".git",
	}, nil
})

// A complete git server: limits, then the token check, then git http-backend,
// with server timeouts that do not cut long clones off.
func ExampleCGI() {
	m, err := accesstoken.New(memstore.New(), accesstoken.InsecureAllowAll()) // a real forge passes its Authorizer
	if err != nil {
		log.Fatal(err)
	}
	limiter, err := gitserve.NewLimiter(gitserve.Limits{}) // the defaults
	if err != nil {
		log.Fatal(err)
	}
	backend := &gitserve.CGI{Root: "/srv/git", Limiter: limiter} // GIT_PROJECT_ROOT
	mux := http.NewServeMux()
	mux.Handle("/git/", http.StripPrefix("/git", limiter.Middleware(httpauth.Middleware(m, giteaLayout)(backend))))
	srv := &http.Server{
		Addr:              ":8080",
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second, // not ReadTimeout/WriteTimeout:
		IdleTimeout:       2 * time.Minute,  // those would cut long clones off
	}
	log.Fatal(srv.ListenAndServe())
}
