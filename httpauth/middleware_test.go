package httpauth_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/forgekit/accesstoken"
	"github.com/forgekit/accesstoken/gitreq"
	"github.com/forgekit/accesstoken/httpauth"
	"github.com/forgekit/accesstoken/memstore"
)

// unit is a middleware over memstore with a fixed resolver: no git needed.
type unit struct {
	t        *testing.T
	m        *accesstoken.Manager
	repo     *httpauth.Repo
	tok      string // alice, demo/hello, pull+push
	seen     *http.Request
	body     string
	verifies atomic.Int32 // calls of m.Verify, counted by its events
}

func newUnit(t *testing.T) *unit {
	t.Helper()
	u := &unit{t: t, repo: &httpauth.Repo{Resource: accesstoken.Resource{Project: "demo", Repository: "hello"}, Dir: "demo/hello.git"}}
	m, err := accesstoken.New(memstore.New(), accesstoken.InsecureAllowAll(), accesstoken.WithEvents(func(_ context.Context, ev accesstoken.Event) {
		if ev.Kind == accesstoken.EventUsed || ev.Kind == accesstoken.EventRejected {
			u.verifies.Add(1)
		}
	}))
	if err != nil {
		t.Fatal(err)
	}
	iss, err := m.Issue(context.Background(), accesstoken.IssueRequest{
		Description: nextDescription(),
		Owner:       "alice", Target: accesstoken.RepositoryTarget("demo", "hello"),
		Scopes: []accesstoken.Scope{accesstoken.ScopePull, accesstoken.ScopePush},
	})
	if err != nil {
		t.Fatal(err)
	}
	u.m, u.tok = m, iss.Secret.Reveal()
	return u
}

func (u *unit) resolver() httpauth.Resolver {
	return httpauth.ResolverFunc(func(r *http.Request, p string) (*httpauth.Repo, error) {
		if p == "demo/hello.git" {
			return u.repo, nil
		}
		return nil, httpauth.ErrRepoNotFound
	})
}

func (u *unit) handler(m *accesstoken.Manager, res httpauth.Resolver, opts ...httpauth.Option) http.Handler {
	return built(u.t)(httpauth.Middleware(m, res, opts...))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.seen = r
		b, _ := io.ReadAll(r.Body)
		u.body = string(b)
		w.WriteHeader(http.StatusTeapot)
	}))
}

func (u *unit) do(h http.Handler, method, target, auth, body string, hdr ...string) *httptest.ResponseRecorder {
	u.seen = nil
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	if auth != "" {
		r.Header.Set("Authorization", auth)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Add(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestMiddlewareContextAndHeaders(t *testing.T) {
	u := newUnit(t)
	h := u.handler(u.m, u.resolver())
	w := u.do(h, "POST", "/demo/hello.git/info/lfs/objects/batch", "Basic "+b64("me:"+u.tok), `{"operation":"upload"}`,
		"Cookie", "session=1", "Proxy-Authorization", "Basic eDp5")
	if w.Code != http.StatusTeapot {
		t.Fatalf("status %d; want the next handler's 418\n%s", w.Code, w.Body)
	}
	acc, ok := httpauth.FromContext(u.seen.Context())
	if !ok || acc.Anonymous() || acc.Owner != "alice" || acc.Token.Owner != "alice" || acc.Repo != u.repo ||
		acc.Operation.Scope != accesstoken.ScopePush || acc.Operation.Route != gitreq.RouteLFSBatch {
		t.Fatalf("FromContext = %+v, %v", acc, ok)
	}
	if tok, ok := httpauth.TokenFrom(u.seen.Context()); !ok || tok != acc.Token || tok.Owner != "alice" ||
		!tok.Scopes.Has(accesstoken.ScopePush) {
		t.Fatalf("TokenFrom = %v, %v; want the token of the Access", tok, ok)
	}
	for _, k := range []string{"Authorization", "Cookie", "Proxy-Authorization"} {
		if v := u.seen.Header.Get(k); v != "" {
			t.Errorf("next handler saw %s", k)
		}
	}
	if u.body != `{"operation":"upload"}` {
		t.Errorf("next handler read body %q; want the LFS batch body restored", u.body)
	}
	if _, ok := httpauth.FromContext(context.Background()); ok {
		t.Error("FromContext of an empty context reported ok")
	}
	if _, ok := httpauth.FromContext(httpauth.NewContext(context.Background(), nil)); ok {
		t.Error("FromContext of a nil Access reported ok")
	}
	if tok, ok := httpauth.TokenFrom(context.Background()); ok || tok != (accesstoken.Token{}) {
		t.Errorf("TokenFrom of an empty context = %v, %v", tok, ok)
	}
}

// TestMiddlewareCredentialForms: every credential form, good and bad, and
// whether the token was looked up at all (credentials refused for their
// form, or for a user name that cannot be the owner's, never reach Verify).
func TestMiddlewareCredentialForms(t *testing.T) {
	u := newUnit(t)
	strict := []httpauth.Option{httpauth.WithOwnerUsername()}
	target := "/demo/hello.git/info/refs?service=git-upload-pack"
	for _, tc := range []struct {
		name     string
		opts     []httpauth.Option
		auth     string
		want     int
		reason   error
		verified bool // Verify was called
	}{
		{"basic, token as password", nil, "Basic " + b64("anyone:"+u.tok), 418, nil, true},
		{"basic, token as user name", nil, "Basic " + b64(u.tok+":"), 418, nil, true},
		{"basic, empty user name", nil, "Basic " + b64(":"+u.tok), 418, nil, true},
		{"basic scheme in other case", nil, "bAsIc " + b64("x:"+u.tok), 418, nil, true},
		{"bearer", nil, "Bearer " + u.tok, 418, nil, true},
		{"bearer, trailing space", nil, "Bearer " + u.tok + " ", 418, nil, true},
		{"bearer, empty", nil, "Bearer ", 401, httpauth.ErrBadCredentials, false},
		{"bearer, two words", nil, "Bearer " + u.tok + " x", 401, httpauth.ErrBadCredentials, false},
		{"basic, bad base64", nil, "Basic !!!", 401, httpauth.ErrBadCredentials, false},
		{"basic, no colon", nil, "Basic " + b64(u.tok), 401, httpauth.ErrBadCredentials, false},
		{"basic, empty", nil, "Basic " + b64(":"), 401, httpauth.ErrBadCredentials, false},
		{"basic, huge", nil, "Basic " + b64(strings.Repeat("x", 1000)+":"+u.tok), 401, httpauth.ErrBadCredentials, false},
		{"digest", nil, "Digest username=x", 401, httpauth.ErrBadCredentials, false},
		{"token scheme", nil, "token " + u.tok, 401, httpauth.ErrBadCredentials, false},
		{"bare token", nil, u.tok, 401, httpauth.ErrBadCredentials, false},
		{"malformed token", nil, "Bearer gat_x", 401, accesstoken.ErrMalformed, true},
		{"unknown token", nil, "Bearer " + otherFormatToken(t, u.m), 401, accesstoken.ErrUnknownToken, true},
		{"owner user name required: owner", strict, "Basic " + b64("alice:"+u.tok), 418, nil, true},
		{"owner user name required: other", strict, "Basic " + b64("bob:"+u.tok), 401, httpauth.ErrUsernameMismatch, true},
		{"owner user name required: token as user name", strict, "Basic " + b64(u.tok+":"), 401, httpauth.ErrUsernameMismatch, false},
		{"owner user name required: empty user name", strict, "Basic " + b64(":"+u.tok), 401, httpauth.ErrUsernameMismatch, false},
		{"owner user name required: bearer", strict, "Bearer " + u.tok, 418, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got error
			h := u.handler(u.m, u.resolver(), append(tc.opts, httpauth.WithErrorFunc(func(w http.ResponseWriter, r *http.Request, err error) {
				got = err
				httpauth.DefaultErrorFunc(w, r, err)
			}))...)
			before := u.verifies.Load()
			w := u.do(h, "GET", target, tc.auth, "")
			if w.Code != tc.want {
				t.Fatalf("status %d; want %d\n%s", w.Code, tc.want, w.Body)
			}
			if tc.reason != nil && !errors.Is(got, tc.reason) {
				t.Errorf("error %v; want %v", got, tc.reason)
			}
			if verified := u.verifies.Load() > before; verified != tc.verified {
				t.Errorf("token looked up: %v; want %v", verified, tc.verified)
			}
			if strings.Contains(w.Body.String(), u.tok) {
				t.Error("reply contains the token")
			}
			if w.Code == 401 && w.Header().Get("WWW-Authenticate") == "" {
				t.Error("401 without a challenge")
			}
		})
	}
}

// otherFormatToken returns a well-formed token of m's format that m never
// issued.
func otherFormatToken(t *testing.T, m *accesstoken.Manager) string {
	s, err := m.Format().Generate()
	if err != nil {
		t.Fatal(err)
	}
	return s.Reveal()
}

func TestMiddlewareFailsClosed(t *testing.T) {
	u := newUnit(t)
	broken, err := accesstoken.New(failingStore{memstore.New()}, accesstoken.InsecureAllowAll())
	if err != nil {
		t.Fatal(err)
	}
	authzDown, err := accesstoken.New(memstore.New(), accesstoken.AuthorizerFuncs{
		Access: func(context.Context, string, accesstoken.Resource, accesstoken.Scope) (bool, error) {
			return false, errors.New("permission service down")
		},
		Manage: func(context.Context, string, accesstoken.Target) (bool, error) { return true, nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	iss, err := authzDown.Issue(context.Background(), accesstoken.IssueRequest{Description: nextDescription(), Owner: "alice",
		Target: accesstoken.ProjectTarget("demo"), Scopes: []accesstoken.Scope{accesstoken.ScopePull}})
	if err != nil {
		t.Fatal(err)
	}
	resolverDown := httpauth.ResolverFunc(func(*http.Request, string) (*httpauth.Repo, error) {
		return nil, errors.New("database down")
	})
	badDir := httpauth.ResolverFunc(func(*http.Request, string) (*httpauth.Repo, error) {
		return &httpauth.Repo{Resource: u.repo.Resource, Dir: "../etc"}, nil
	})
	nilRepo := httpauth.ResolverFunc(func(*http.Request, string) (*httpauth.Repo, error) { return nil, nil })
	target := "/demo/hello.git/info/refs?service=git-upload-pack"
	for _, tc := range []struct {
		name string
		h    http.Handler
		auth string
		want int
	}{
		{"store down", u.handler(broken, u.resolver()), "Bearer " + u.tok, 503},
		{"authorizer down", u.handler(authzDown, u.resolver()), "Bearer " + iss.Secret.Reveal(), 503},
		{"resolver down", u.handler(u.m, resolverDown), "Bearer " + u.tok, 503},
		{"resolver down, anonymous", u.handler(u.m, resolverDown), "", 503},
		{"resolver returns an unsafe Dir", u.handler(u.m, badDir), "Bearer " + u.tok, 500},
		{"resolver returns nil", u.handler(u.m, nilRepo), "Bearer " + u.tok, 500},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := u.do(tc.h, "GET", target, tc.auth, "")
			if w.Code != tc.want {
				t.Fatalf("status %d; want %d\n%s", w.Code, tc.want, w.Body)
			}
			if tc.name == "store down" {
				// A missing repository too: the token could not be checked.
				if w := u.do(tc.h, "GET", "/demo/nope.git/info/refs?service=git-upload-pack", tc.auth, ""); w.Code != 503 {
					t.Errorf("missing repository: status %d; want 503", w.Code)
				}
			}
			if u.seen != nil {
				t.Fatal("the next handler was called")
			}
			if tc.want == 503 && w.Header().Get("Retry-After") == "" {
				t.Error("503 without Retry-After")
			}
		})
	}
}

func TestMiddlewareErrorFunc(t *testing.T) {
	u := newUnit(t)
	var got error
	h := u.handler(u.m, u.resolver(), httpauth.WithRealm("My Forge"), httpauth.WithErrorFunc(func(w http.ResponseWriter, r *http.Request, err error) {
		got = err
		w.WriteHeader(httpauth.StatusCode(err))
		_, _ = io.WriteString(w, "custom")
	}))
	w := u.do(h, "GET", "/demo/hello.git/info/refs?service=git-upload-pack", "", "")
	if w.Code != 401 || w.Body.String() != "custom" || !errors.Is(got, httpauth.ErrNoCredentials) {
		t.Fatalf("got %d %q %v", w.Code, w.Body, got)
	}
	if c := w.Header().Get("WWW-Authenticate"); c != `Basic realm="My Forge", charset="UTF-8"` {
		t.Errorf("challenge %q", c)
	}
	var e *httpauth.Error
	if !errors.As(got, &e) || e.Status != 401 || e.Message == "" {
		t.Errorf("error %#v; want an *Error with status 401", got)
	}
	if httpauth.StatusCode(errors.New("x")) != 500 {
		t.Error("StatusCode of a plain error is not 500")
	}
}

func TestMiddlewareVisibility(t *testing.T) {
	u := newUnit(t)
	other := &httpauth.Repo{Resource: accesstoken.Resource{Project: "demo", Repository: "secret"}, Dir: "demo/secret.git"}
	public := &httpauth.Repo{Resource: accesstoken.Resource{Project: "demo", Repository: "pub"}, Dir: "demo/pub.git", Public: true}
	res := httpauth.ResolverFunc(func(r *http.Request, p string) (*httpauth.Repo, error) {
		switch p {
		case "demo/hello.git":
			return u.repo, nil
		case "demo/secret.git":
			return other, nil
		case "demo/pub.git":
			return public, nil
		}
		return nil, httpauth.ErrRepoNotFound
	})
	pullOnly, err := u.m.Issue(context.Background(), accesstoken.IssueRequest{Description: nextDescription(), Owner: "alice",
		Target: accesstoken.RepositoryTarget("demo", "hello"), Scopes: []accesstoken.Scope{accesstoken.ScopePull}})
	if err != nil {
		t.Fatal(err)
	}
	h := u.handler(u.m, res)
	for _, tc := range []struct {
		name, target, auth string
		want               int
	}{
		{"private, token for another repository", "/demo/secret.git/info/refs?service=git-upload-pack", "Bearer " + u.tok, 404},
		{"missing repository", "/demo/nope.git/info/refs?service=git-upload-pack", "Bearer " + u.tok, 404},
		{"private, covered, missing scope", "/demo/hello.git/info/refs?service=git-receive-pack", "Bearer " + pullOnly.Secret.Reveal(), 403},
		{"public, token for another repository", "/demo/pub.git/info/refs?service=git-receive-pack", "Bearer " + u.tok, 403},
		{"public, anonymous pull", "/demo/pub.git/info/refs?service=git-upload-pack", "", 418},
		{"public, anonymous push", "/demo/pub.git/info/refs?service=git-receive-pack", "", 401},
		{"public, token for another repository, pull", "/demo/pub.git/info/refs?service=git-upload-pack", "Bearer " + u.tok, 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := u.do(h, "GET", tc.target, tc.auth, "")
			if w.Code != tc.want {
				t.Fatalf("status %d; want %d\n%s", w.Code, tc.want, w.Body)
			}
			if w.Code == 404 && w.Body.String() != "repository not found\n" {
				t.Errorf("404 body %q differs from a missing repository's", w.Body)
			}
		})
	}
	// An anonymous pull carries no token and no owner.
	u.do(h, "GET", "/demo/pub.git/info/refs?service=git-upload-pack", "", "")
	if acc, ok := httpauth.FromContext(u.seen.Context()); !ok || !acc.Anonymous() || acc.Token != (accesstoken.Token{}) || acc.Owner != "" {
		t.Errorf("anonymous access = %+v", acc)
	}
	if tok, ok := httpauth.TokenFrom(u.seen.Context()); ok || tok != (accesstoken.Token{}) {
		t.Errorf("TokenFrom of an anonymous request = %v, %v", tok, ok)
	}
	if !(*httpauth.Access)(nil).Anonymous() {
		t.Error("a nil Access is not anonymous")
	}
}

func TestMiddlewareMaxBatchBody(t *testing.T) {
	u := newUnit(t)
	h := u.handler(u.m, u.resolver(), httpauth.WithMaxBatchBody(64))
	small := `{"operation":"download"}`
	large := `{"operation":"download","pad":"` + strings.Repeat("x", 64) + `"}`
	if w := u.do(h, "POST", "/demo/hello.git/info/lfs/objects/batch", "Bearer "+u.tok, small); w.Code != 418 || u.body != small {
		t.Fatalf("small batch: status %d, body passed on %q", w.Code, u.body)
	}
	if w := u.do(h, "POST", "/demo/hello.git/info/lfs/objects/batch", "Bearer "+u.tok, large); w.Code != 413 || u.seen != nil {
		t.Fatalf("large batch: status %d; want 413", w.Code)
	}
}

// TestMiddlewareOwnerDemoted checks the answer when the token covers a
// private repository but its owner may no longer do what it asks: 403 with
// the reason while the owner can still read the repository (it is no secret
// to them), 404 once the owner cannot even read it.
func TestMiddlewareOwnerDemoted(t *testing.T) {
	var mu sync.Mutex
	rights := map[accesstoken.Scope]bool{accesstoken.ScopePull: true, accesstoken.ScopePush: true}
	authz := accesstoken.AuthorizerFuncs{
		Access: func(_ context.Context, user string, _ accesstoken.Resource, s accesstoken.Scope) (bool, error) {
			mu.Lock()
			defer mu.Unlock()
			return user == "alice" && rights[s], nil
		},
		Manage: func(context.Context, string, accesstoken.Target) (bool, error) { return true, nil },
	}
	m, err := accesstoken.New(memstore.New(), authz)
	if err != nil {
		t.Fatal(err)
	}
	iss, err := m.Issue(context.Background(), accesstoken.IssueRequest{Description: nextDescription(), Owner: "alice",
		Target: accesstoken.ProjectTarget("demo"), Scopes: []accesstoken.Scope{accesstoken.ScopePull, accesstoken.ScopePush}})
	if err != nil {
		t.Fatal(err)
	}
	u := newUnit(t)
	h := u.handler(m, u.resolver())
	push := "/demo/hello.git/info/refs?service=git-receive-pack"
	pull := "/demo/hello.git/info/refs?service=git-upload-pack"
	auth := "Bearer " + iss.Secret.Reveal()
	for _, step := range []struct {
		name       string
		pull, push bool
		target     string
		want       int
		body       string
	}{
		{"writer pushes", true, true, push, 418, ""},
		{"demoted to reader pushes", true, false, push, 403, "may not push"},
		{"demoted to reader pulls", true, false, pull, 418, ""},
		{"removed pushes", false, false, push, 404, "repository not found"},
		{"removed pulls", false, false, pull, 404, "repository not found"},
	} {
		mu.Lock()
		rights[accesstoken.ScopePull], rights[accesstoken.ScopePush] = step.pull, step.push
		mu.Unlock()
		w := u.do(h, "GET", step.target, auth, "")
		if w.Code != step.want || !strings.Contains(w.Body.String(), step.body) {
			t.Errorf("%s: status %d %q; want %d with %q", step.name, w.Code, w.Body, step.want, step.body)
		}
	}
}

// TestMiddlewareMissingScopeHidden: a project token covers every repository of
// its project, including private ones its owner may not see. Refused for
// a missing scope, it must not answer 403 where a missing repository gets
// 404, or its holder can list the project's hidden repositories.
func TestMiddlewareMissingScopeHidden(t *testing.T) {
	// alice manages project demo and may read demo/hello, not demo/secret.
	authz := accesstoken.AuthorizerFuncs{
		Access: func(_ context.Context, user string, res accesstoken.Resource, scope accesstoken.Scope) (bool, error) {
			return user == "alice" && res == accesstoken.Resource{Project: "demo", Repository: "hello"}, nil
		},
		Manage: func(_ context.Context, user string, t accesstoken.Target) (bool, error) {
			return user == "alice" && t.Project == "demo", nil
		},
	}
	m, err := accesstoken.New(memstore.New(), authz)
	if err != nil {
		t.Fatal(err)
	}
	issue := func(target accesstoken.Target) string {
		iss, err := m.Issue(context.Background(), accesstoken.IssueRequest{Description: nextDescription(), Owner: "alice", Target: target, Scopes: []accesstoken.Scope{accesstoken.ScopePull}})
		if err != nil {
			t.Fatal(err)
		}
		return iss.Secret.Reveal()
	}
	projTok, repoTok := issue(accesstoken.ProjectTarget("demo")), issue(accesstoken.RepositoryTarget("demo", "hello"))
	repos := map[string]*httpauth.Repo{
		"demo/hello.git":  {Resource: accesstoken.Resource{Project: "demo", Repository: "hello"}, Dir: "demo/hello.git"},
		"demo/secret.git": {Resource: accesstoken.Resource{Project: "demo", Repository: "secret"}, Dir: "demo/secret.git"},
	}
	res := httpauth.ResolverFunc(func(_ *http.Request, p string) (*httpauth.Repo, error) {
		if r := repos[p]; r != nil {
			return r, nil
		}
		return nil, httpauth.ErrRepoNotFound
	})
	h := built(t)(httpauth.Middleware(m, res))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) }))
	for _, tc := range []struct {
		name, path, tok string
		want            int
	}{
		{"project token, push, missing repository", "/demo/nope.git/info/refs?service=git-receive-pack", projTok, 404},
		{"project token, push, hidden repository (same answer)", "/demo/secret.git/info/refs?service=git-receive-pack", projTok, 404},
		{"project token, pull, hidden repository", "/demo/secret.git/info/refs?service=git-upload-pack", projTok, 404},
		{"project token, push, readable repository", "/demo/hello.git/info/refs?service=git-receive-pack", projTok, 403},
		{"repository token, push, its repository", "/demo/hello.git/info/refs?service=git-receive-pack", repoTok, 403},
		{"control: project token, pull, readable repository", "/demo/hello.git/info/refs?service=git-upload-pack", projTok, 418},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", tc.path, nil)
			r.Header.Set("Authorization", "Bearer "+tc.tok)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tc.want {
				t.Fatalf("status %d; want %d\n%s", w.Code, tc.want, w.Body)
			}
			if w.Code == 404 && w.Body.String() != "repository not found\n" {
				t.Errorf("404 body %q differs from a missing repository's", w.Body)
			}
		})
	}
}
