package gitserve_test

import (
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
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

// A complete git server: limits, then the token check, then git run
// directly, with server timeouts that do not cut long clones off.
func ExampleHandler() {
	m, err := accesstoken.New(memstore.New(), accesstoken.InsecureAllowAll()) // a real forge passes its Authorizer
	if err != nil {
		log.Fatal(err)
	}
	limiter, err := gitserve.NewLimiter(gitserve.Limits{}) // the defaults
	if err != nil {
		log.Fatal(err)
	}
	git := &gitserve.Handler{Root: "/srv/git", Limiter: limiter}
	mux := http.NewServeMux()
	auth, err := httpauth.Middleware(m, giteaLayout)
	if err != nil {
		log.Fatal(err)
	}
	mux.Handle("/git/", http.StripPrefix("/git", limiter.Middleware(auth(git))))
	srv := &http.Server{
		Addr:              ":8080",
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second, // not ReadTimeout/WriteTimeout:
		IdleTimeout:       2 * time.Minute,  // those would cut long clones off
	}
	log.Fatal(srv.ListenAndServe())
	// After srv.Shutdown, m.Flush(ctx) writes the last uses of tokens.
}

// The same with git http-backend, for a forge that serves dumb HTTP too.
func ExampleCGI() {
	m, err := accesstoken.New(memstore.New(), accesstoken.InsecureAllowAll()) // a real forge passes its Authorizer
	if err != nil {
		log.Fatal(err)
	}
	limiter, err := gitserve.NewLimiter(gitserve.Limits{}) // the defaults
	if err != nil {
		log.Fatal(err)
	}
	backend := &gitserve.CGI{Root: "/srv/git", Limiter: limiter, DumbHTTP: true} // Root: GIT_PROJECT_ROOT
	mux := http.NewServeMux()
	auth, err := httpauth.Middleware(m, giteaLayout)
	if err != nil {
		log.Fatal(err)
	}
	mux.Handle("/git/", http.StripPrefix("/git", limiter.Middleware(auth(backend))))
	srv := &http.Server{
		Addr:              ":8080",
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second, // not ReadTimeout/WriteTimeout:
		IdleTimeout:       2 * time.Minute,  // those would cut long clones off
	}
	log.Fatal(srv.ListenAndServe())
}

// A Limiter in front of any git handler: a client over its cap of
// requests in flight gets 503 with Retry-After at once.
func ExampleLimiter() {
	limiter, err := gitserve.NewLimiter(gitserve.Limits{MaxPerClient: 1})
	if err != nil {
		log.Fatal(err)
	}
	release := make(chan struct{})
	inside := make(chan struct{})
	slow := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(inside)
		<-release // a clone that takes its time
	})
	h := limiter.Middleware(slow)

	done := make(chan struct{})
	go func() {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/p/r.git/info/refs?service=git-upload-pack", nil))
		close(done)
	}()
	<-inside
	fmt.Println("in flight:", limiter.Stats().InFlight)

	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/p/r.git/info/refs?service=git-upload-pack", nil))
	fmt.Println(w.Code, "Retry-After:", w.Header().Get("Retry-After"))
	fmt.Print(w.Body)

	close(release)
	<-done
	fmt.Println("in flight:", limiter.Stats().InFlight)
	// Output:
	// in flight: 1
	// 503 Retry-After: 5
	// too many git requests at once from your address; try again in a few seconds
	// in flight: 0
}
