package httpauth_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/forgekit/accesstoken"
	"github.com/forgekit/accesstoken/httpauth"
	"github.com/forgekit/accesstoken/internal/clocktest"
	"github.com/forgekit/accesstoken/memstore"
)

// api is a forge's JSON API behind the route middlewares, on a real
// http.ServeMux with Go 1.22 patterns. Its repositories: demo/hello
// (private; alice may pull, push and report statuses), demo/secret
// (private; alice may do nothing) and demo/pub (public; anyone may pull).
// Project demo is private (alice may read it); project open is public.
type api struct {
	t     *testing.T
	m     *accesstoken.Manager
	store *memstore.Store
	mux   *http.ServeMux
	clock *clocktest.Clock

	mu        sync.Mutex
	lookups   int
	lookupErr error
	authzErr  error
	seen      *http.Request
	failStore bool
}

var (
	apiHello  = accesstoken.Resource{Project: "demo", Repository: "hello"}
	apiSecret = accesstoken.Resource{Project: "demo", Repository: "secret"}
	apiPub    = accesstoken.Resource{Project: "demo", Repository: "pub"}
)

func newAPI(t *testing.T, opts ...httpauth.Option) *api {
	a := &api{t: t, store: memstore.New(), clock: clocktest.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))}
	authz := accesstoken.AuthorizerFuncs{
		Access: func(_ context.Context, user string, res accesstoken.Resource, scope accesstoken.Scope) (bool, error) {
			a.mu.Lock()
			defer a.mu.Unlock()
			if a.authzErr != nil {
				return false, a.authzErr
			}
			switch {
			case res == apiPub || res == accesstoken.ProjectResource("open"):
				return scope == accesstoken.ScopePull || user == "alice", nil
			case res == apiHello, res == accesstoken.ProjectResource("demo"):
				return user == "alice", nil
			}
			return false, nil
		},
		Manage: func(_ context.Context, user string, _ accesstoken.Target) (bool, error) { return user == "alice", nil },
	}
	m, err := accesstoken.New(failableStore{a.store, a}, authz, accesstoken.WithClock(a.clock.Now))
	if err != nil {
		t.Fatal(err)
	}
	a.m = m
	lookup := func(_ context.Context, res accesstoken.Resource) (bool, error) {
		a.mu.Lock()
		defer a.mu.Unlock()
		a.lookups++
		switch {
		case a.lookupErr != nil:
			return false, a.lookupErr
		case res == apiHello, res == apiSecret, res == accesstoken.ProjectResource("demo"):
			return false, nil
		case res == apiPub, res == accesstoken.ProjectResource("open"):
			return true, nil
		}
		return false, fmt.Errorf("%w: %v", httpauth.ErrRepoNotFound, res)
	}
	reached := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		a.seen = r
		a.mu.Unlock()
		acc, ok := httpauth.FromContext(r.Context())
		if !ok {
			http.Error(w, "no access", 500)
			return
		}
		res := "-"
		if acc.Repo != nil {
			res = acc.Repo.Resource.String()
		}
		fmt.Fprintf(w, "%s %s %s", acc.Owner, res, acc.Operation.Scope)
	})
	a.mux = http.NewServeMux()
	repo := httpauth.RepositoryRoute("project", "repo", lookup)
	a.mux.Handle("POST /api/{project}/{repo}/statuses/{sha}", built(t)(httpauth.Require(m, repo, accesstoken.ScopeBuildStatus, opts...))(reached))
	a.mux.Handle("POST /api/{project}/{repo}/any", built(t)(httpauth.RequireAny(m, repo, []accesstoken.Scope{accesstoken.ScopePush, accesstoken.ScopeBuildStatus}, opts...))(reached))
	a.mux.Handle("POST /api/{project}/{repo}/all", built(t)(httpauth.RequireAll(m, repo, []accesstoken.Scope{accesstoken.ScopePull, accesstoken.ScopePush}, opts...))(reached))
	a.mux.Handle("GET /api/projects/{project}/repos", built(t)(httpauth.Require(m, httpauth.ProjectRoute("project", lookup), accesstoken.ScopePull, opts...))(reached))
	a.mux.Handle("GET /api/personal/{repo}", built(t)(httpauth.Require(m, httpauth.RepositoryRoute("", "repo", lookup), accesstoken.ScopePull, opts...))(reached))
	self := built(t)(httpauth.RequireToken(m, opts...))
	a.mux.Handle("GET /api/token/self", self(reached))
	a.mux.Handle("DELETE /api/token/self", self(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, ok := httpauth.TokenFrom(r.Context())
		if !ok {
			http.Error(w, "no token", 500)
			return
		}
		if _, err := m.Revoke(r.Context(), tok.Owner, tok.ID); err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})))
	return a
}

// failableStore fails every lookup while api.failStore is set.
type failableStore struct {
	accesstoken.Store
	a *api
}

func (f failableStore) ByDigest(ctx context.Context, d accesstoken.Digest) (accesstoken.Record, error) {
	f.a.mu.Lock()
	fail := f.a.failStore
	f.a.mu.Unlock()
	if fail {
		return accesstoken.Record{}, errors.New("database is down")
	}
	return f.Store.ByDigest(ctx, d)
}

var apiTokens atomic.Int64

// mint issues a token of alice's.
func (a *api) mint(target accesstoken.Target, scopes ...accesstoken.Scope) accesstoken.Issued {
	a.t.Helper()
	iss, err := a.m.Issue(context.Background(), accesstoken.IssueRequest{Owner: "alice",
		Description: fmt.Sprintf("api test %d", apiTokens.Add(1)), Target: target, Scopes: scopes})
	if err != nil {
		a.t.Fatal(err)
	}
	return *iss
}

// do sends a request with the given headers (name, value, ...) and returns
// the reply and whether the handler behind the middleware was reached.
func (a *api) do(method, target string, hdr ...string) (*httptest.ResponseRecorder, bool) {
	a.mu.Lock()
	a.seen = nil
	a.mu.Unlock()
	r := httptest.NewRequest(method, target, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Add(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	a.mux.ServeHTTP(w, r)
	a.mu.Lock()
	defer a.mu.Unlock()
	return w, a.seen != nil
}

func (a *api) lookupCount() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := a.lookups
	a.lookups = 0
	return n
}

func authBearer(tok string) []string { return []string{"Authorization", "Bearer " + tok} }

// TestRequire: the route middleware's status policy, case by case, on a
// build-status route, a project route and a personal repository route.
func TestRequire(t *testing.T) {
	a := newAPI(t)
	status := a.mint(accesstoken.RepositoryTarget("demo", "hello"), accesstoken.ScopeBuildStatus).Secret.Reveal()
	pull := a.mint(accesstoken.RepositoryTarget("demo", "hello"), accesstoken.ScopePull).Secret.Reveal()
	projStatus := a.mint(accesstoken.ProjectTarget("demo"), accesstoken.ScopeBuildStatus, accesstoken.ScopePull).Secret.Reveal()
	projPull := a.mint(accesstoken.ProjectTarget("demo"), accesstoken.ScopePull).Secret.Reveal()
	unknown := otherFormatToken(t, a.m)
	const sha = "0123456789abcdef0123456789abcdef01234567"
	st := func(project, repo string) string { return "/api/" + project + "/" + repo + "/statuses/" + sha }
	for _, tc := range []struct {
		name   string
		path   string
		hdr    []string
		want   int
		body   string // the reply body, exactly (with its newline)
		lookup bool   // the resource was looked up
	}{
		{"bearer", st("demo", "hello"), authBearer(status), 200, "alice demo/hello repository:build_status", true},
		{"basic, token as password", st("demo", "hello"), []string{"Authorization", "Basic " + b64("ci:"+status)}, 200, "alice demo/hello repository:build_status", true},
		{"basic, token as user name", st("demo", "hello"), []string{"Authorization", "Basic " + b64(status+":")}, 200, "alice demo/hello repository:build_status", true},
		{"project token", st("demo", "hello"), authBearer(projStatus), 200, "alice demo/hello repository:build_status", true},

		{"no credentials", st("demo", "hello"), nil, 401, "authentication required: send an access token\n", false},
		{"no credentials, missing repository", st("demo", "nope"), nil, 401, "authentication required: send an access token\n", false},
		{"unknown token", st("demo", "hello"), authBearer(unknown), 401, "invalid access token\n", true},
		{"unknown token, missing repository", st("demo", "nope"), authBearer(unknown), 401, "invalid access token\n", true},
		{"malformed credentials", st("demo", "hello"), []string{"Authorization", "Digest x"}, 401, msgBadCredsText, false},
		{"token in the query", st("demo", "hello") + "?private_token=x", authBearer(status), 400, msgTokenInURLText, false},
		{"token value in the query", st("demo", "hello") + "?q=" + status, nil, 400, msgTokenInURLText, false},
		{"encoded slash in the path", "/api/demo%2Fhello/x/statuses/" + sha, authBearer(status), 400, "invalid path\n", false},

		{"valid token, missing repository", st("demo", "nope"), authBearer(status), 404, "repository not found\n", true},
		{"repository token, another private repository", st("demo", "secret"), authBearer(status), 404, "repository not found\n", true},
		{"project token, repository its owner may not see", st("demo", "secret"), authBearer(projStatus), 404, "repository not found\n", true},
		{"project token, missing scope, repository its owner may not see", st("demo", "secret"), authBearer(projPull), 404, "repository not found\n", true},
		{"repository token of this repository, missing scope", st("demo", "hello"), authBearer(pull), 403, "this access token does not allow repository:build_status (it needs the repository:build_status scope)\n", true},
		{"project token, missing scope, repository its owner may pull", st("demo", "hello"), authBearer(projPull), 403, "this access token does not allow repository:build_status (it needs the repository:build_status scope)\n", true},
		{"public repository, token for another", st("demo", "pub"), authBearer(status), 403, "this access token is not valid for this repository\n", true},

		{"project route, project token", "/api/projects/demo/repos", authBearer(projPull), 200, "alice demo/* repository:pull", true},
		{"project route, repository token", "/api/projects/demo/repos", authBearer(pull), 404, "project not found\n", true},
		{"project route, missing project", "/api/projects/nope/repos", authBearer(projPull), 404, "project not found\n", true},
		{"project route, public project, another project's token", "/api/projects/open/repos", authBearer(projPull), 403, "this access token is not valid for this repository\n", true},
		{"personal route, project token", "/api/personal/hello", authBearer(projPull), 404, "repository not found\n", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a.lookupCount()
			w, reached := a.do("POST", tc.path, tc.hdr...)
			if strings.HasPrefix(tc.path, "/api/projects/") || strings.HasPrefix(tc.path, "/api/personal/") {
				w, reached = a.do("GET", tc.path, tc.hdr...)
			}
			if w.Code != tc.want || w.Body.String() != tc.body {
				t.Fatalf("got %d %q; want %d %q", w.Code, w.Body, tc.want, tc.body)
			}
			if reached != (tc.want == 200) {
				t.Fatalf("handler reached: %v; want %v", reached, tc.want == 200)
			}
			if got := a.lookupCount() > 0; got != tc.lookup {
				t.Errorf("resource looked up: %v; want %v", got, tc.lookup)
			}
			if tc.want == 401 && w.Header().Get("WWW-Authenticate") != `Basic realm="api", charset="UTF-8"` {
				t.Errorf("challenge %q", w.Header().Get("WWW-Authenticate"))
			}
			for _, tok := range []string{status, pull, projStatus, projPull} {
				if strings.Contains(w.Body.String(), tok) {
					t.Fatal("the reply holds a token")
				}
			}
		})
	}
}

const (
	msgBadCredsText   = "unsupported or malformed Authorization header: use HTTP Basic with an access token as the password, or a Bearer token\n"
	msgTokenInURLText = "access tokens are not accepted in URLs; send the token as the HTTP password or as a Bearer token\n"
)

// TestRequireStripsCredentials: the handler behind the middleware sees
// none of the credentials, nor the session cookie that came with them.
func TestRequireStripsCredentials(t *testing.T) {
	a := newAPI(t, httpauth.WithCredentials(httpauth.AuthorizationHeader(), httpauth.TokenHeader("private-token")))
	tok := a.mint(accesstoken.RepositoryTarget("demo", "hello"), accesstoken.ScopeBuildStatus).Secret.Reveal()
	path := "/api/demo/hello/statuses/abc"
	for _, hdr := range [][]string{
		{"Authorization", "Bearer " + tok, "Cookie", "session=1", "Proxy-Authorization", "Basic eDp5"},
		{"Private-Token", " " + tok + " ", "Cookie", "session=1"},
	} {
		w, reached := a.do("POST", path, hdr...)
		if w.Code != 200 || !reached {
			t.Fatalf("%v: %d %s", hdr[0], w.Code, w.Body)
		}
		for _, k := range []string{"Authorization", "Private-Token", "Cookie", "Proxy-Authorization"} {
			if v := a.seen.Header.Get(k); v != "" {
				t.Errorf("%v: the handler saw %s", hdr[0], k)
			}
		}
	}
	// Two credentials in one request are refused, whatever they are.
	w, reached := a.do("POST", path, "Authorization", "Bearer "+tok, "Private-Token", tok)
	if w.Code != 401 || reached {
		t.Fatalf("two credentials: %d; want 401", w.Code)
	}
	for _, v := range [][]string{{"Private-Token", ""}, {"Private-Token", "a b"}, {"Private-Token", tok, "Private-Token", tok}} {
		if w, _ := a.do("POST", path, v...); w.Code != 401 {
			t.Errorf("malformed header %q: %d; want 401", v, w.Code)
		}
	}
}

// TestRequireFailsClosed: a failing store, permission check or lookup is
// 503, never a pass, and a misconfigured middleware refuses everything.
func TestRequireFailsClosed(t *testing.T) {
	a := newAPI(t)
	tok := a.mint(accesstoken.RepositoryTarget("demo", "hello"), accesstoken.ScopeBuildStatus).Secret.Reveal()
	path := "/api/demo/hello/statuses/abc"
	for _, tc := range []struct {
		name    string
		breakIt func(bool)
	}{
		{"store", func(on bool) { a.failStore = on }},
		{"permission check", func(on bool) {
			a.authzErr = nil
			if on {
				a.authzErr = errors.New("permissions are down")
			}
		}},
		{"lookup", func(on bool) {
			a.lookupErr = nil
			if on {
				a.lookupErr = errors.New("forge database is down")
			}
		}},
	} {
		a.mu.Lock()
		tc.breakIt(true)
		a.mu.Unlock()
		w, reached := a.do("POST", path, authBearer(tok)...)
		if w.Code != 503 || reached || w.Header().Get("Retry-After") == "" {
			t.Errorf("%s down: %d, reached %v; want 503 with Retry-After", tc.name, w.Code, reached)
		}
		a.mu.Lock()
		tc.breakIt(false)
		a.mu.Unlock()
	}
	if w, _ := a.do("POST", path, authBearer(tok)...); w.Code != 200 {
		t.Fatalf("after the failures: %d", w.Code)
	}

}

// TestRequireAnyAll: several scopes, any or all of them.
func TestRequireAnyAll(t *testing.T) {
	a := newAPI(t)
	push := a.mint(accesstoken.RepositoryTarget("demo", "hello"), accesstoken.ScopePull, accesstoken.ScopePush).Secret.Reveal()
	status := a.mint(accesstoken.RepositoryTarget("demo", "hello"), accesstoken.ScopeBuildStatus).Secret.Reveal()
	pull := a.mint(accesstoken.RepositoryTarget("demo", "hello"), accesstoken.ScopePull).Secret.Reveal()
	for _, tc := range []struct {
		name, path, tok string
		want            int
		body            string
	}{
		{"any: push", "/api/demo/hello/any", push, 200, "alice demo/hello repository:push"},
		{"any: build status", "/api/demo/hello/any", status, 200, "alice demo/hello repository:build_status"},
		{"any: neither", "/api/demo/hello/any", pull, 403, "this access token does not allow this (it needs one of the scopes repository:push, repository:build_status)\n"},
		{"all: both", "/api/demo/hello/all", push, 200, "alice demo/hello repository:pull"},
		{"all: one", "/api/demo/hello/all", pull, 403, "this access token does not allow this (it needs the scopes repository:pull and repository:push)\n"},
		{"any: hidden repository", "/api/demo/secret/any", push, 404, "repository not found\n"},
	} {
		w, _ := a.do("POST", tc.path, authBearer(tc.tok)...)
		if w.Code != tc.want || w.Body.String() != tc.body {
			t.Errorf("%s: got %d %q; want %d %q", tc.name, w.Code, w.Body, tc.want, tc.body)
		}
	}
}

// TestRequireToken: an endpoint about the token itself accepts any live
// token, whatever its target, and the token can revoke itself through it.
func TestRequireToken(t *testing.T) {
	a := newAPI(t, httpauth.WithOwnerUsername())
	tok := a.mint(accesstoken.ProjectTarget("elsewhere"), accesstoken.ScopePull).Secret.Reveal()
	w, reached := a.do("GET", "/api/token/self", authBearer(tok)...)
	if w.Code != 200 || !reached || w.Body.String() != "alice - " {
		t.Fatalf("self: %d %q", w.Code, w.Body)
	}
	if w, _ := a.do("GET", "/api/token/self", "Authorization", "Basic "+b64("bob:"+tok)); w.Code != 401 {
		t.Errorf("another user name with WithOwnerUsername: %d; want 401", w.Code)
	}
	if w, _ := a.do("GET", "/api/token/self"); w.Code != 401 || w.Header().Get("WWW-Authenticate") == "" {
		t.Errorf("no token: %d; want 401 with a challenge", w.Code)
	}
	if w, _ := a.do("GET", "/api/token/self?token=x", authBearer(tok)...); w.Code != 400 {
		t.Errorf("token in the query: %d; want 400", w.Code)
	}
	if w, _ := a.do("DELETE", "/api/token/self", "Authorization", "Basic "+b64("alice:"+tok)); w.Code != 204 {
		t.Fatalf("self-revocation: %d %s", w.Code, w.Body)
	}
	if w, _ := a.do("GET", "/api/token/self", authBearer(tok)...); w.Code != 401 || w.Body.String() != "access token revoked\n" {
		t.Errorf("after self-revocation: %d %q; want 401, revoked", w.Code, w.Body)
	}
	a.mu.Lock()
	a.failStore = true
	a.mu.Unlock()
	if w, _ := a.do("GET", "/api/token/self", authBearer(tok)...); w.Code != 503 {
		t.Errorf("store down: %d; want 503", w.Code)
	}
}

// TestMiddlewareTokenHeader: the git middleware takes credentials from the
// same sources, through the same code.
func TestMiddlewareTokenHeader(t *testing.T) {
	u := newUnit(t)
	h := u.handler(u.m, u.resolver(), httpauth.WithCredentials(httpauth.TokenHeader("Job-Token")))
	w := u.do(h, "GET", "/demo/hello.git/info/refs?service=git-upload-pack", "", "", "Job-Token", u.tok)
	if w.Code != http.StatusTeapot || u.seen.Header.Get("Job-Token") != "" {
		t.Fatalf("status %d; the handler saw the header: %v", w.Code, u.seen != nil && u.seen.Header.Get("Job-Token") != "")
	}
	if w := u.do(h, "GET", "/demo/hello.git/info/refs?service=git-upload-pack", "Bearer "+u.tok, ""); w.Code != 401 {
		t.Errorf("Authorization when only Job-Token is a source: %d; want 401", w.Code)
	}
}

// TestMisconfigured: every constructor reports what cannot work as an
// error matching ErrMisconfigured, never a panic, and a middleware given
// no next handler refuses every request with 500.
func TestMisconfigured(t *testing.T) {
	a := newAPI(t)
	m := a.m
	lookup := func(context.Context, accesstoken.Resource) (bool, error) { return false, nil }
	project := httpauth.ProjectRoute("p", lookup)
	resolver := httpauth.ResolverFunc(func(*http.Request, string) (*httpauth.Repo, error) { return nil, httpauth.ErrRepoNotFound })
	type mw = func(http.Handler) http.Handler
	for _, c := range []struct {
		name  string
		build func() (mw, error)
	}{
		{"Middleware: no Manager", func() (mw, error) { return httpauth.Middleware(nil, resolver) }},
		{"Middleware: no Resolver", func() (mw, error) { return httpauth.Middleware(m, nil) }},
		{"Require: no Manager", func() (mw, error) { return httpauth.Require(nil, project, accesstoken.ScopePull) }},
		{"Require: no ResourceFunc", func() (mw, error) { return httpauth.Require(m, nil, accesstoken.ScopePull) }},
		{"Require: no lookup", func() (mw, error) {
			return httpauth.Require(m, httpauth.RepositoryRoute("p", "r", nil), accesstoken.ScopePull)
		}},
		{"Require: empty scope", func() (mw, error) { return httpauth.Require(m, project, "") }},
		{"Require: unknown scope", func() (mw, error) { return httpauth.Require(m, project, "repository:pul") }},
		{"RequireAny: no scopes", func() (mw, error) { return httpauth.RequireAny(m, project, nil) }},
		{"RequireAll: no scopes", func() (mw, error) { return httpauth.RequireAll(m, project, []accesstoken.Scope{}) }},
		{"RequireToken: no Manager", func() (mw, error) { return httpauth.RequireToken(nil) }},
		{"nil Option", func() (mw, error) { return httpauth.Middleware(m, resolver, nil) }},
		{"WithRealm: empty", func() (mw, error) { return httpauth.Middleware(m, resolver, httpauth.WithRealm("")) }},
		{"WithRealm: a quote", func() (mw, error) { return httpauth.Middleware(m, resolver, httpauth.WithRealm(`My "Forge"`)) }},
		{"WithRealm: a newline", func() (mw, error) { return httpauth.RequireToken(m, httpauth.WithRealm("a\nb")) }},
		{"WithErrorFunc: nil", func() (mw, error) { return httpauth.Middleware(m, resolver, httpauth.WithErrorFunc(nil)) }},
		{"WithCredentials: none", func() (mw, error) { return httpauth.Middleware(m, resolver, httpauth.WithCredentials()) }},
		{"WithCredentials: a nil source", func() (mw, error) {
			return httpauth.Middleware(m, resolver, httpauth.WithCredentials(httpauth.AuthorizationHeader(), nil))
		}},
		{"WithMaxBatchBody: zero", func() (mw, error) { return httpauth.Middleware(m, resolver, httpauth.WithMaxBatchBody(0)) }},
		{"WithMaxBatchBody: on a route", func() (mw, error) {
			return httpauth.Require(m, project, accesstoken.ScopePull, httpauth.WithMaxBatchBody(1<<10))
		}},
		{"WithRecheckInterval: negative", func() (mw, error) {
			return httpauth.Middleware(m, resolver, httpauth.WithRecheckInterval(-time.Second))
		}},
		{"WithRecheckInterval: on a route", func() (mw, error) { return httpauth.RequireToken(m, httpauth.WithRecheckInterval(time.Second)) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := c.build()
			if !errors.Is(err, httpauth.ErrMisconfigured) || got != nil {
				t.Fatalf("got %v, %v; want no middleware and ErrMisconfigured", got != nil, err)
			}
		})
	}

	var got error
	onError := httpauth.WithErrorFunc(func(w http.ResponseWriter, r *http.Request, err error) {
		got = err
		w.WriteHeader(httpauth.StatusCode(err))
	})
	for name, h := range map[string]http.Handler{
		"Middleware":   built(t)(httpauth.Middleware(m, resolver, onError))(nil),
		"Require":      built(t)(httpauth.Require(m, project, accesstoken.ScopePull, onError))(nil),
		"RequireToken": built(t)(httpauth.RequireToken(m, onError))(nil),
	} {
		got = nil
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", "/x", nil))
		if w.Code != 500 || !errors.Is(got, httpauth.ErrMisconfigured) {
			t.Errorf("%s with a nil next handler: %d, %v; want 500, ErrMisconfigured", name, w.Code, got)
		}
	}
}
