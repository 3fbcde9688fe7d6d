package httpauth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/forgekit/accesstoken"
	"github.com/forgekit/accesstoken/gitreq"
)

// ResourceFunc returns the repository or project that a request to a
// protected route acts on, as the forge derives it from the request
// (typically from the wildcards of its [http.ServeMux] pattern, with
// [http.Request.PathValue]: see [RepositoryRoute] and [ProjectRoute]), and
// whether it is public: anyone may read it, so its existence is no secret.
//
// It returns [ErrRepoNotFound] (possibly wrapped) for a request that names
// no resource, or one the forge hides; the route middleware then answers
// exactly as for a private resource the token may not see (404 for a live
// token, 401 otherwise), so that existence cannot be probed. Any other
// error fails closed with 503. The route middleware calls it only for a
// request that carries a token. It must be safe for concurrent use.
type ResourceFunc func(r *http.Request) (res accesstoken.Resource, public bool, err error)

// LookupFunc tells, for the route helpers [RepositoryRoute] and
// [ProjectRoute], whether the repository or project res exists and
// whether it is public. It returns [ErrRepoNotFound] (possibly wrapped)
// when res does not exist or is hidden; any other error fails closed. It
// must be safe for concurrent use.
type LookupFunc func(ctx context.Context, res accesstoken.Resource) (public bool, err error)

// RepositoryRoute returns the [ResourceFunc] of a route whose pattern names
// a repository with two wildcards, such as
// "POST /api/{project}/{repo}/statuses/{sha}" (RepositoryRoute("project",
// "repo", lookup); see [Require]). The resource is {Project: r.PathValue(project), Repository:
// r.PathValue(repo)}; with project "" the pattern names repositories
// outside any project, by repo alone. A wildcard that is empty or not a
// valid identity (see [accesstoken.Target.Validate]) names nothing
// ([ErrRepoNotFound]) and lookup is not called; otherwise lookup says
// whether the repository exists and is public. With a nil lookup it
// returns nil, which the route constructors refuse ([ErrMisconfigured]).
func RepositoryRoute(project, repo string, lookup LookupFunc) ResourceFunc {
	if lookup == nil {
		return nil
	}
	return func(r *http.Request) (accesstoken.Resource, bool, error) {
		res := accesstoken.Resource{Repository: r.PathValue(repo)}
		if project != "" {
			res.Project = r.PathValue(project)
			if res.Project == "" {
				return res, false, fmt.Errorf("%w: no project in the path", ErrRepoNotFound)
			}
		}
		if res.Repository == "" {
			return res, false, fmt.Errorf("%w: no repository in the path", ErrRepoNotFound)
		}
		return lookupResource(r, res, lookup)
	}
}

// ProjectRoute returns the [ResourceFunc] of a route whose pattern names a
// project with a wildcard, such as "GET /api/projects/{project}/repos"
// (ProjectRoute("project", lookup)). The resource is {Project:
// r.PathValue(project)}, which only project tokens of that project cover.
// An empty or invalid name names nothing ([ErrRepoNotFound]) and lookup is
// not called; otherwise lookup says whether the project exists and is
// public. With a nil lookup it returns nil, which the route constructors
// refuse ([ErrMisconfigured]).
func ProjectRoute(project string, lookup LookupFunc) ResourceFunc {
	if lookup == nil {
		return nil
	}
	return func(r *http.Request) (accesstoken.Resource, bool, error) {
		res := accesstoken.ProjectResource(r.PathValue(project))
		if res.Project == "" {
			return res, false, fmt.Errorf("%w: no project in the path", ErrRepoNotFound)
		}
		return lookupResource(r, res, lookup)
	}
}

func lookupResource(r *http.Request, res accesstoken.Resource, lookup LookupFunc) (accesstoken.Resource, bool, error) {
	if err := res.Validate(); err != nil {
		return res, false, fmt.Errorf("%w: %w", ErrRepoNotFound, err)
	}
	public, err := lookup(r.Context(), res)
	return res, public, err
}

// Require returns middleware for any net/http route (an API endpoint, not
// git's protocol, which [Middleware] serves): a request passes only with a
// token that has scope on the resource that resource derives from it, as
// [accesstoken.Manager.Verify] decides. For example a CI job's build
// status report, which Launchpad's repository:build_status scope exists
// for:
//
//	statuses, err := httpauth.Require(m, httpauth.RepositoryRoute("project", "repo", lookup), accesstoken.ScopeBuildStatus)
//	if err != nil {
//		return err
//	}
//	mux.Handle("POST /api/{project}/{repo}/statuses/{sha}", statuses(postStatus))
//
// It takes credentials exactly as [Middleware] does, through the same
// code ([WithCredentials]; Basic with the token as password or user name,
// or Bearer, by default; never the query string, and a request with a
// token there is refused with 400), and answers with the same status
// policy, in this order:
//
//   - 400 for an unsafe path ([gitreq.CheckPath]: encoded slashes or dots,
//     "..", control characters) or a token in the query string;
//   - 401, with a Basic challenge, without credentials or with unusable
//     ones; the resource is not looked up for such a request, so that
//     its answer is the same whether the resource exists or not;
//   - 503 when resource fails (other than [ErrRepoNotFound]), or the
//     store or the forge's permission check fails;
//   - 401 for a malformed, unknown, revoked or expired token;
//   - 404, with the same text as for a resource that does not exist, where
//     the resource is private and the token does not cover it or its
//     owner may not see it ([accesstoken.RejectedError.Visible]);
//   - 403 where a valid token may not do this to a resource it may know
//     of (a public one, or one the Manager says the refusal may reveal).
//
// A request that passes reaches next without its credentials (every
// header a source reads, Proxy-Authorization and Cookie are removed) and
// with an [Access] in its context ([FromContext], [TokenFrom]) whose Repo
// holds the resource (Resource and Public; Dir is empty), whose
// Operation.Scope is the scope granted, and whose Token is the verified
// token. Options are those of [Middleware] but the two about git requests
// ([WithMaxBatchBody], [WithRecheckInterval]), which are refused; the
// realm defaults to "api".
//
// It returns an error matching [ErrMisconfigured] for a nil m or resource,
// a scope m does not accept ([accesstoken.Manager.Scopes]) and an invalid
// [Option]. Given a nil next handler, the middleware refuses every request
// with 500 ([ErrMisconfigured]).
func Require(m *accesstoken.Manager, resource ResourceFunc, scope accesstoken.Scope, opts ...Option) (func(http.Handler) http.Handler, error) {
	return newRoute(m, resource, []accesstoken.Scope{scope}, false, opts)
}

// RequireAny is [Require] for an operation that any one of several scopes
// allows ([accesstoken.Manager.VerifyAny]); Access.Operation.Scope is the
// one granted. No scopes is an error.
func RequireAny(m *accesstoken.Manager, resource ResourceFunc, scopes []accesstoken.Scope, opts ...Option) (func(http.Handler) http.Handler, error) {
	return newRoute(m, resource, scopes, false, opts)
}

// RequireAll is [Require] for an operation that needs every one of several
// scopes ([accesstoken.Manager.VerifyAll]); Access.Operation.Scope is the
// first of them. No scopes is an error.
func RequireAll(m *accesstoken.Manager, resource ResourceFunc, scopes []accesstoken.Scope, opts ...Option) (func(http.Handler) http.Handler, error) {
	return newRoute(m, resource, scopes, true, opts)
}

// RequireToken returns middleware for endpoints about the token itself,
// which name no resource (look the token up, as GitLab's
// /personal_access_tokens/self; revoke it): a request passes with any live
// token of m, whatever its target and scopes
// ([accesstoken.Manager.Authenticate]: form, lookup, revoked, expired; no
// use recorded, no permission asked). Credentials, answers and errors are
// those of [Require] (401, 503; there is no resource to hide). The next
// handler finds the token with [TokenFrom] (Access.Repo is nil); to revoke
// it, call [accesstoken.Manager.Revoke] with the token's owner as actor,
// which an owner may always do.
func RequireToken(m *accesstoken.Manager, opts ...Option) (func(http.Handler) http.Handler, error) {
	g, err := newGuard(m, true, opts)
	if err != nil {
		return nil, err
	}
	return func(next http.Handler) http.Handler {
		if next == nil {
			return g.refuseAll()
		}
		return &routeAuth{guard: g, next: next, self: true}
	}, nil
}

func newRoute(m *accesstoken.Manager, resource ResourceFunc, scopes []accesstoken.Scope, all bool, opts []Option) (func(http.Handler) http.Handler, error) {
	g, err := newGuard(m, true, opts)
	if err != nil {
		return nil, err
	}
	if resource == nil {
		return nil, fmt.Errorf("%w: nil ResourceFunc", ErrMisconfigured)
	}
	if len(scopes) == 0 {
		return nil, fmt.Errorf("%w: no scopes", ErrMisconfigured)
	}
	known := m.Scopes()
	for _, sc := range scopes {
		if !slices.Contains(known, sc) {
			return nil, fmt.Errorf("%w: scope %q is not one the Manager accepts", ErrMisconfigured, sc)
		}
	}
	scopes = slices.Clone(scopes)
	return func(next http.Handler) http.Handler {
		if next == nil {
			return g.refuseAll()
		}
		return &routeAuth{guard: g, resource: resource, scopes: scopes, all: all, next: next}
	}, nil
}

// route is the middleware of Require, RequireAny, RequireAll and
// RequireToken (self).
type routeAuth struct {
	guard
	resource ResourceFunc
	scopes   []accesstoken.Scope
	all      bool
	self     bool
	next     http.Handler
}

func (h *routeAuth) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx := &accessContext{Context: r.Context(), g: &h.guard}
	if err := h.authorize(r, ctx); err != nil {
		h.refuse(w, r, err)
		return
	}
	h.stripCredentials(r.Header)
	h.next.ServeHTTP(w, r.WithContext(ctx))
}

// Messages of the route middleware (the others are Middleware's).
const (
	msgRouteBadPath = "invalid path"
	msgRouteNoToken = "authentication required: send an access token"
)

func (h *routeAuth) authorize(r *http.Request, c *accessContext) *Error {
	if err := gitreq.CheckPath(r); err != nil {
		return fail(http.StatusBadRequest, msgRouteBadPath, err)
	}
	if e := h.checkURLQuery(r); e != nil {
		return e
	}
	cred, present, err := h.credentials(r.Header)
	switch {
	case err != nil:
		return credentialsError(err)
	case !present:
		return fail(http.StatusUnauthorized, msgRouteNoToken, ErrNoCredentials)
	}
	ctx := r.Context()
	if h.self {
		tok, err := h.m.Authenticate(ctx, cred.Secret)
		if err != nil {
			return verifyError(err, "", false, false)
		}
		if e := h.checkOwnerUsername(cred, tok); e != nil {
			return e
		}
		c.acc = Access{Token: tok, Owner: tok.Owner}
		return nil
	}

	res, public, rerr := h.resource(r)
	switch {
	case errors.Is(rerr, ErrRepoNotFound):
		// Answered as a private resource the token may not see: 401 if
		// the token is bad, 404 if it is good.
		if _, err := h.m.Authenticate(ctx, cred.Secret); err != nil {
			return verifyError(err, h.scopes[0], false, false)
		}
		return fail(http.StatusNotFound, notFoundText(res), rerr)
	case rerr != nil:
		return fail(http.StatusServiceUnavailable, msgUnavailable, fmt.Errorf("%w: %w", ErrResolverFailure, rerr))
	}
	var tok accesstoken.Token
	granted := h.scopes[0]
	switch {
	case len(h.scopes) == 1:
		tok, err = h.m.Verify(ctx, cred.Secret, res, granted)
	case h.all:
		tok, err = h.m.VerifyAll(ctx, cred.Secret, res, h.scopes...)
	default:
		tok, granted, err = h.m.VerifyAny(ctx, cred.Secret, res, h.scopes...)
	}
	if err != nil {
		e := verifyError(err, h.scopes[0], public, public || revealable(err))
		if e.Status == http.StatusNotFound {
			e.Message = notFoundText(res)
		} else if e.Status == http.StatusForbidden && len(h.scopes) > 1 && errors.Is(err, accesstoken.ErrMissingScope) {
			e.Message = "this access token does not allow this (it needs " + h.needText() + ")"
		}
		return e
	}
	if e := h.checkOwnerUsername(cred, tok); e != nil {
		return e
	}
	c.repo = Repo{Resource: res, Public: public}
	c.acc = Access{Repo: &c.repo, Operation: gitreq.Operation{Scope: granted}, Token: tok, Owner: tok.Owner}
	return nil
}

// notFoundText is the body of a 404 for res: the same for a resource that
// does not exist and for one that is hidden.
func notFoundText(res accesstoken.Resource) string {
	if res.IsProject() {
		return "project not found"
	}
	return msgNotFound
}

// needText names the scopes a route needs, for a 403.
func (h *routeAuth) needText() string {
	names := make([]string, len(h.scopes))
	for i, sc := range h.scopes {
		names[i] = string(sc)
	}
	if h.all {
		return "the scopes " + strings.Join(names, " and ")
	}
	return "one of the scopes " + strings.Join(names, ", ")
}
