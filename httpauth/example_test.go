package httpauth_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/forgekit/accesstoken"
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

func ExampleMiddleware() {
	ctx := context.Background()
	// alice may do everything on project demo.
	perms := accesstoken.AuthorizerFuncs{
		Access: func(_ context.Context, user string, res accesstoken.Resource, _ accesstoken.Scope) (bool, error) {
			return user == "alice" && res.Project == "demo", nil
		},
		Manage: func(_ context.Context, user string, t accesstoken.Target) (bool, error) {
			return user == "alice" && t.Project == "demo", nil
		},
	}
	m, _ := accesstoken.New(memstore.New(), perms)
	iss, _ := m.Issue(ctx, accesstoken.IssueRequest{
		Description: "CI",
		Owner:       "alice",
		Target:      accesstoken.RepositoryTarget("demo", "hello"),
		Scopes:      []accesstoken.Scope{accesstoken.ScopePull},
	})
	token := iss.Secret.Reveal()

	// The forge's git handler; in production, a gitserve.Handler.
	git := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		acc, _ := httpauth.FromContext(r.Context())
		fmt.Fprintf(w, "%s %s as %s", acc.Operation.Scope, acc.Repo.Resource, acc.Owner)
	})
	auth, err := httpauth.Middleware(m, giteaLayout)
	if err != nil {
		fmt.Println(err) // a nil Manager or Resolver, or an invalid option
		return
	}
	h := auth(git)

	do := func(method, target, auth string) {
		r := httptest.NewRequest(method, target, nil)
		if auth != "" {
			r.Header.Set("Authorization", auth)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		line := fmt.Sprintf("%d %s %s", w.Code, strings.TrimSpace(w.Body.String()), w.Header().Get("WWW-Authenticate"))
		fmt.Println(strings.TrimSpace(line))
	}
	fetch := "/demo/hello.git/info/refs?service=git-upload-pack"
	do("GET", fetch, "")                                                             // anonymous
	do("GET", fetch, "Bearer "+token)                                                // the token
	do("GET", "/demo/hello.git/info/refs?service=git-receive-pack", "Bearer "+token) // a push
	do("GET", "/demo/other.git/info/refs?service=git-upload-pack", "Bearer "+token)  // no such repository
	do("GET", fetch+"&access_token="+token, "")                                      // token in the URL
	do("GET", "/demo/../demo/hello.git/info/refs", "Bearer "+token)                  // path trick
	// Output:
	// 401 authentication required: use an access token as the password Basic realm="git", charset="UTF-8"
	// 200 repository:pull demo/hello as alice
	// 403 this access token does not allow push (it needs the repository:push scope)
	// 404 repository not found
	// 400 access tokens are not accepted in URLs; send the token as the HTTP password or as a Bearer token
	// 400 invalid repository path
}

// A handler behind the middleware reads the verified token, a value of its
// own, with TokenFrom; an anonymous pull of a public repository has none.
func ExampleTokenFrom() {
	ctx := context.Background()
	m, _ := accesstoken.New(memstore.New(), accesstoken.InsecureAllowAll()) // a real forge passes its Authorizer
	iss, _ := m.Issue(ctx, accesstoken.IssueRequest{
		Description: "CI",
		Owner:       "alice",
		Target:      accesstoken.ProjectTarget("demo"),
		Scopes:      []accesstoken.Scope{accesstoken.ScopePull, accesstoken.ScopePush},
	})
	public := httpauth.ResolverFunc(func(r *http.Request, repoPath string) (*httpauth.Repo, error) {
		return &httpauth.Repo{Resource: accesstoken.Resource{Project: "demo", Repository: "hello"}, Dir: "demo/hello.git", Public: true}, nil
	})

	git := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, ok := httpauth.TokenFrom(r.Context())
		if !ok {
			fmt.Fprintln(w, "anonymous")
			return
		}
		fmt.Fprintf(w, "%s, scopes %q, may push: %v\n", tok.Owner, tok.Scopes, tok.Scopes.Has(accesstoken.ScopePush))
	})
	auth, err := httpauth.Middleware(m, public)
	if err != nil {
		fmt.Println(err)
		return
	}
	h := auth(git)

	for _, auth := range []string{"", "Bearer " + iss.Secret.Reveal()} {
		r := httptest.NewRequest("GET", "/demo/hello.git/info/refs?service=git-upload-pack", nil)
		if auth != "" {
			r.Header.Set("Authorization", auth)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		fmt.Print(w.Body)
	}
	// Output:
	// anonymous
	// alice, scopes "repository:pull repository:push", may push: true
}

// A forge's API route for CI jobs' build results, as Launchpad's
// repository:build_status scope exists for: POST
// /api/{project}/{repo}/statuses/{sha}, with build-status tokens only. The
// middleware takes the token as the git middleware does, hides private
// repositories the token may not see (404, as a missing one) and hands the
// handler the verified token.
func ExampleRequire() {
	ctx := context.Background()
	// alice may do everything on project demo, whose repository hello is
	// private; nobody else may do anything.
	perms := accesstoken.AuthorizerFuncs{
		Access: func(_ context.Context, user string, res accesstoken.Resource, _ accesstoken.Scope) (bool, error) {
			return user == "alice" && res.Project == "demo", nil
		},
		Manage: func(_ context.Context, user string, t accesstoken.Target) (bool, error) {
			return user == "alice" && t.Project == "demo", nil
		},
	}
	m, _ := accesstoken.New(memstore.New(), perms)
	mint := func(desc string, scope accesstoken.Scope) string {
		iss, _ := m.Issue(ctx, accesstoken.IssueRequest{Owner: "alice", Description: desc,
			Target: accesstoken.RepositoryTarget("demo", "hello"), Scopes: []accesstoken.Scope{scope}})
		return iss.Secret.Reveal()
	}
	ci, pull := mint("CI statuses", accesstoken.ScopeBuildStatus), mint("clone", accesstoken.ScopePull)

	// The forge's lookup: does the repository exist, is it public? (A
	// real forge asks its database.)
	lookup := func(_ context.Context, res accesstoken.Resource) (bool, error) {
		if res == (accesstoken.Resource{Project: "demo", Repository: "hello"}) {
			return false, nil // exists, private
		}
		return false, httpauth.ErrRepoNotFound
	}
	statuses := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, _ := httpauth.TokenFrom(r.Context())
		fmt.Fprintf(w, "status of %s recorded for %s", r.PathValue("sha"), tok.Owner)
	})
	buildStatus, err := httpauth.Require(m, httpauth.RepositoryRoute("project", "repo", lookup), accesstoken.ScopeBuildStatus)
	if err != nil {
		fmt.Println(err) // a nil Manager or lookup, a scope m does not accept, an invalid option
		return
	}
	anyToken, err := httpauth.RequireToken(m)
	if err != nil {
		fmt.Println(err)
		return
	}
	mux := http.NewServeMux()
	mux.Handle("POST /api/{project}/{repo}/statuses/{sha}", buildStatus(statuses))
	// An endpoint about the token itself: any live token.
	mux.Handle("DELETE /api/tokens/self", anyToken(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, _ := httpauth.TokenFrom(r.Context())
		if _, err := m.Revoke(r.Context(), tok.Owner, tok.ID); err != nil {
			http.Error(w, "could not revoke", http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})))

	do := func(method, target, token string) {
		r := httptest.NewRequest(method, target, nil)
		if token != "" {
			r.Header.Set("Authorization", "Bearer "+token)
		}
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, r)
		fmt.Println(strings.TrimSpace(fmt.Sprint(w.Code, " ", w.Body.String())))
	}
	do("POST", "/api/demo/hello/statuses/abc123", ci)
	do("POST", "/api/demo/hello/statuses/abc123", "")
	do("POST", "/api/demo/hello/statuses/abc123", pull)
	do("POST", "/api/demo/nope/statuses/abc123", ci)
	do("POST", "/api/demo/hello/statuses/abc123?access_token="+ci, "")
	do("DELETE", "/api/tokens/self", ci)
	do("POST", "/api/demo/hello/statuses/abc123", ci)
	// Output:
	// 200 status of abc123 recorded for alice
	// 401 authentication required: send an access token
	// 403 this access token does not allow repository:build_status (it needs the repository:build_status scope)
	// 404 repository not found
	// 400 access tokens are not accepted in URLs; send the token as the HTTP password or as a Bearer token
	// 204
	// 401 access token revoked
}
