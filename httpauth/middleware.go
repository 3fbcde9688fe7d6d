package httpauth

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/forgekit/accesstoken"
	"github.com/forgekit/accesstoken/gitreq"
)

// Repo is a repository as the forge resolved it from a URL.
type Repo struct {
	// Resource is the repository's identity, the one tokens target:
	// what [accesstoken.Manager.Verify] is asked about.
	Resource accesstoken.Resource
	// Dir is the repository's directory relative to the project root
	// (gitserve's Root), slash-separated, such as
	// "alice/hello.git" or "repos/ab/1234.git". It must be clean and
	// relative, without ".." segments; the middleware answers 500
	// ([ErrBadRepo]) otherwise. The git handler serves exactly this
	// directory and never looks at the request path.
	Dir string
	// Public reports whether anyone may pull the repository without a
	// token. Anonymous pulls of a public repository pass the middleware;
	// pushes never do. A token sent to a public repository is still
	// checked, and refused if invalid.
	Public bool
}

// Resolver maps the repository part of a URL path to a repository: it is
// the forge's URL layout. repoPath is the path without its leading slash
// and without the route ([SplitPath]): "alice/hello.git" on a Gitea-like
// forge, "~alice/demo/+git/hello" on a Launchpad-like one. The middleware
// has already rejected unsafe paths, but the Resolver decides what is a
// repository: it must accept only the paths of its layout, exactly.
//
// It returns [ErrRepoNotFound] (possibly wrapped) for a path that names no
// repository. Any other error fails closed with 503. It must be safe for
// concurrent use. The Repo returned must not be modified afterwards; the
// same *Repo may be returned for every request.
type Resolver interface {
	// ResolveRepo returns the repository repoPath names in request r.
	ResolveRepo(r *http.Request, repoPath string) (*Repo, error)
}

// ResolverFunc adapts a function to a [Resolver].
type ResolverFunc func(r *http.Request, repoPath string) (*Repo, error)

// ResolveRepo calls f(r, repoPath).
func (f ResolverFunc) ResolveRepo(r *http.Request, repoPath string) (*Repo, error) {
	return f(r, repoPath)
}

// Access is what the middleware decided about a request, passed to the
// next handler in the request's context ([FromContext]).
type Access struct {
	// Repo is the repository, as the [Resolver] returned it.
	Repo *Repo
	// Operation is what the request does.
	Operation gitreq.Operation
	// Token is the verified token, a copy the handler may keep, or the
	// zero Token for an anonymous pull of a public repository
	// ([Access.Anonymous]).
	Token accesstoken.Token
	// Owner is the user the request acts as (Token.Owner), or "" when
	// anonymous.
	Owner string
}

// Anonymous reports whether the request carries no token: an anonymous
// pull of a public repository. Token is then the zero Token. A nil Access
// is anonymous too: it grants nothing.
func (a *Access) Anonymous() bool { return a == nil || a.Token == accesstoken.Token{} }

type contextKey struct{ name string }

var accessKey = &contextKey{"httpauth access"}

// NewContext returns a copy of ctx that carries a.
func NewContext(ctx context.Context, a *Access) context.Context {
	return context.WithValue(ctx, accessKey, a)
}

// FromContext returns the [Access] the middleware stored in ctx, and
// whether there was one. The Access belongs to the request: read it, do
// not modify it.
func FromContext(ctx context.Context) (*Access, bool) {
	a, ok := ctx.Value(accessKey).(*Access)
	return a, ok && a != nil
}

// TokenFrom returns the verified token of the request whose context is
// ctx, and true; or the zero Token and false when there is no [Access] in
// ctx or the request is anonymous ([Access.Anonymous]). It does not
// allocate.
func TokenFrom(ctx context.Context) (accesstoken.Token, bool) {
	a, ok := FromContext(ctx)
	if !ok || a.Anonymous() {
		return accesstoken.Token{}, false
	}
	return a.Token, true
}

// accessContext is a context carrying an Access, allocated together with
// it: what NewContext does, in one allocation instead of two. The Access
// holds the Token by value, so the middleware allocates nothing more for
// it (a store may allocate the token's strings). It also keeps, out of
// the Access (which handlers may print), what re-checking the request
// needs: the token and the repository path.
type accessContext struct {
	context.Context
	acc      Access
	repo     Repo // the route middleware's resource, which acc.Repo points to
	secret   string
	repoPath string
	g        *guard
}

// selfKey finds the accessContext itself, for Refuse.
var selfKey = &contextKey{"httpauth middleware"}

func (c *accessContext) Value(key any) any {
	switch key {
	case accessKey:
		return &c.acc
	case selfKey:
		return c
	}
	return c.Context.Value(key)
}

// guard is what both middlewares share: the Manager, the configuration
// and the challenge.
type guard struct {
	m *accesstoken.Manager
	config
	challenge string
}

// newGuard returns the guard of a middleware of m, [Middleware]'s or
// (forRoute) a route middleware's, configured by opts; or an error matching
// ErrMisconfigured.
func newGuard(m *accesstoken.Manager, forRoute bool, opts []Option) (guard, error) {
	if m == nil {
		return guard{}, fmt.Errorf("%w: nil Manager", ErrMisconfigured)
	}
	c, err := newConfig(forRoute, opts)
	if err != nil {
		return guard{}, err
	}
	return guard{m: m, config: c, challenge: `Basic realm="` + c.realm + `", charset="UTF-8"`}, nil
}

// refuseAll returns the handler of a middleware given a nil next
// handler: it refuses every request with 500, through the ErrorFunc.
func (g guard) refuseAll() http.Handler {
	err := fail(http.StatusInternalServerError, msgBadRepo, fmt.Errorf("%w: nil next handler", ErrMisconfigured))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { g.refuse(w, r, err) })
}

type gitAuth struct {
	guard
	resolve Resolver
	next    http.Handler
}

// Middleware returns the middleware that authenticates git HTTP requests
// with tokens of m, for the repositories resolve names:
//
//	auth, err := httpauth.Middleware(m, resolver, httpauth.WithRealm("forge"))
//	if err != nil {
//		return err // a nil Manager or Resolver, or an invalid option
//	}
//	mux.Handle("/git/", http.StripPrefix("/git", auth(gitHandler)))
//
// It returns an error matching [ErrMisconfigured] for a nil m or resolve
// and for an invalid [Option]. Given a nil next handler, the middleware
// refuses every request with 500 ([ErrMisconfigured]).
//
// A refused request never reaches next: see the package documentation for
// the order of checks and the status codes. A request that passes reaches
// next with the [Access] in its context ([FromContext], [TokenFrom]) and
// without its credentials (Authorization, Proxy-Authorization, every
// header a [CredentialSource] reads) and Cookie headers (removed from
// r.Header), so that a CGI backend and git's hooks never see the token.
//
// A valid token that may not do what the request does gets 403 on a
// public repository. On a private one it gets 403 only when it is a
// repository token for this repository that lacks the scope (its holder was
// given a token for this repository, so "forbidden" tells them nothing
// new), or when its target covers the repository and its owner may pull
// it; when the target does not cover the repository or the owner may not
// even pull it, it gets 404 with the same text as a repository that does
// not exist, so that private repositories cannot be probed (a project
// token covers the project's repositories its owner may not see).
// [accesstoken.Manager.Verify] decides which, asking the forge's
// Authorizer ([accesstoken.RejectedError.Visible]); the middleware adds
// only that a public repository may always be named.
func Middleware(m *accesstoken.Manager, resolve Resolver, opts ...Option) (func(http.Handler) http.Handler, error) {
	g, err := newGuard(m, false, opts)
	if err != nil {
		return nil, err
	}
	if resolve == nil {
		return nil, fmt.Errorf("%w: nil Resolver", ErrMisconfigured)
	}
	return func(next http.Handler) http.Handler {
		if next == nil {
			return g.refuseAll()
		}
		return &gitAuth{guard: g, resolve: resolve, next: next}
	}, nil
}

func (h *gitAuth) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx := &accessContext{Context: r.Context(), g: &h.guard}
	err := h.authorize(r, ctx)
	if err != nil {
		h.refuse(w, r, err)
		return
	}
	h.stripCredentials(r.Header)
	r = r.WithContext(ctx)
	if r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0 {
		r.Body = &recheckBody{body: r.Body, check: func() *Error { return h.recheck(r, ctx) },
			every: h.recheckEvery, checked: time.Now()}
	}
	h.next.ServeHTTP(w, r)
}

// refuse answers a refused request: the challenge on 401, then the
// ErrorFunc.
func (g *guard) refuse(w http.ResponseWriter, r *http.Request, err *Error) {
	if err.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", g.challenge)
	}
	g.errorFunc(w, r, err)
}

// recheck checks again what authorize decided for the request whose
// context is c: the token, with [accesstoken.Manager.Recheck], or for an
// anonymous pull, that the repository is still public.
func (h *gitAuth) recheck(r *http.Request, c *accessContext) *Error {
	acc := &c.acc
	if acc.Anonymous() {
		repo, err := h.resolve.ResolveRepo(r, c.repoPath)
		switch {
		case errors.Is(err, ErrRepoNotFound), err == nil && (repo == nil || !repo.Public):
			return fail(http.StatusUnauthorized, msgAuth, ErrNoCredentials)
		case err != nil:
			return fail(http.StatusServiceUnavailable, msgUnavailable, fmt.Errorf("%w: %w", ErrResolverFailure, err))
		}
		return nil
	}
	if err := h.m.Recheck(r.Context(), c.secret, acc.Repo.Resource, acc.Operation.Scope); err != nil {
		// The request was let in: the repository's existence is no secret
		// to it any more.
		return verifyError(err, acc.Operation.Scope, true, true)
	}
	return nil
}

// Refuse answers a request that a handler behind [Middleware] gives up
// because of err, as the middleware answers the requests it refuses
// itself (its [ErrorFunc], and the challenge on 401), when err holds an
// [*Error]: what reading a request body returns when the token is found
// revoked (or no longer allowed) while the body arrives. For any other
// error it answers 500. It writes the response: call it only before
// writing anything else.
func Refuse(w http.ResponseWriter, r *http.Request, err error) {
	var e *Error
	if !errors.As(err, &e) {
		e = fail(http.StatusInternalServerError, msgBadRepo, err)
	}
	if c, ok := r.Context().Value(selfKey).(*accessContext); ok && c != nil && c.g != nil {
		c.g.refuse(w, r, e)
		return
	}
	DefaultErrorFunc(w, r, e)
}

// Prepared messages: the text git users see.
const (
	msgBadPath     = "invalid repository path"
	msgTokenInURL  = "access tokens are not accepted in URLs; send the token as the HTTP password or as a Bearer token"
	msgNotFound    = "repository not found"
	msgNotGitRoute = "not found"
	msgBadRequest  = "malformed git request"
	msgTooLarge    = "LFS batch request too large"
	msgAuth        = "authentication required: use an access token as the password"
	msgBadCreds    = "unsupported or malformed Authorization header: use HTTP Basic with an access token as the password, or a Bearer token"
	msgUsername    = "the user name must be the token owner's"
	msgUnavailable = "the access check is temporarily unavailable; try again later"
	msgBadRepo     = "internal error"
)

// authorize runs every check and fills in c (its Access, and what a
// re-check needs), or returns why the request is refused.
func (h *gitAuth) authorize(r *http.Request, c *accessContext) *Error {
	if err := gitreq.CheckPath(r); err != nil {
		return fail(http.StatusBadRequest, msgBadPath, err)
	}
	if e := h.checkURLQuery(r); e != nil {
		return e
	}
	repoPath, op, err := gitreq.Parse(r.Method, r.URL.Path[1:], r.URL.RawQuery)
	if err != nil {
		return classifyError(err)
	}

	repo, rerr := h.resolve.ResolveRepo(r, repoPath)
	// The Resource needs no deeper check: tokens only target valid
	// identities, so an invalid one is covered by none.
	if rerr == nil && (repo == nil || repo.Resource.Repository == "" || !gitreq.ValidDir(repo.Dir)) {
		return fail(http.StatusInternalServerError, msgBadRepo, ErrBadRepo)
	}
	if rerr != nil && !errors.Is(rerr, ErrRepoNotFound) {
		return fail(http.StatusServiceUnavailable, msgUnavailable, fmt.Errorf("%w: %w", ErrResolverFailure, rerr))
	}

	cred, present, cerr := h.credentials(r.Header)
	if cerr != nil {
		return credentialsError(cerr)
	}
	secret := cred.Secret
	if !present {
		if rerr != nil || !repo.Public {
			return fail(http.StatusUnauthorized, msgAuth, ErrNoCredentials)
		}
		if op.NeedsBody() {
			if e := h.batchScope(r, &op); e != nil {
				return e
			}
		}
		if op.Scope != accesstoken.ScopePull {
			return fail(http.StatusUnauthorized, msgAuth, ErrNoCredentials)
		}
		c.acc = Access{Repo: repo, Operation: op}
		c.repoPath = repoPath
		return nil
	}

	if rerr != nil || op.NeedsBody() {
		// Check the token before anything else is done for the request:
		// a missing (or hidden) repository is answered as a private one
		// the token may not see, 401 if the token is bad, 404 if it is
		// good; an LFS batch body is read only for a live token.
		if _, err := h.m.Authenticate(r.Context(), secret); err != nil {
			return verifyError(err, op.Scope, false, false)
		}
		if rerr != nil {
			return fail(http.StatusNotFound, msgNotFound, rerr)
		}
		if e := h.batchScope(r, &op); e != nil {
			return e
		}
	}

	tok, err := h.m.Verify(r.Context(), secret, repo.Resource, op.Scope)
	if err != nil {
		return verifyError(err, op.Scope, repo.Public, repo.Public || revealable(err))
	}
	if e := h.checkOwnerUsername(cred, tok); e != nil {
		return e
	}
	c.acc = Access{Repo: repo, Operation: op, Token: tok, Owner: tok.Owner}
	c.secret, c.repoPath = secret, repoPath
	return nil
}

// batchScope reads an LFS batch request's body, bounded, and decides the
// operation's scope from it.
func (h *gitAuth) batchScope(r *http.Request, op *gitreq.Operation) *Error {
	b, err := h.readBody(r)
	if err == nil {
		op.Scope, err = gitreq.BatchScope(b)
	}
	switch {
	case err == nil:
		return nil
	case errors.Is(err, gitreq.ErrBodyTooLarge), errors.Is(err, gitreq.ErrBadRequest):
		return classifyError(err)
	default:
		return classifyError(errors.Join(gitreq.ErrBadRequest, err))
	}
}

// revealable reports whether a refusal of Verify may confirm its resource:
// the Manager decided it (RejectedError.Visible).
func revealable(err error) bool {
	var rej *accesstoken.RejectedError
	return errors.As(err, &rej) && rej.Visible
}

// credentialsError is the reply to credentials that cannot be used.
func credentialsError(err error) *Error {
	if errors.Is(err, ErrUsernameMismatch) {
		return fail(http.StatusUnauthorized, msgUsername, err)
	}
	return fail(http.StatusUnauthorized, msgBadCreds, err)
}

// checkOwnerUsername applies [WithOwnerUsername] once the token is known:
// a Basic user name sent with the token as password must be its owner's.
func (g *guard) checkOwnerUsername(cred Credentials, tok accesstoken.Token) *Error {
	if g.ownerUsername && cred.Form == FormBasicPassword && cred.User != tok.Owner {
		return fail(http.StatusUnauthorized, msgUsername, ErrUsernameMismatch)
	}
	return nil
}

func classifyError(err error) *Error {
	switch {
	case errors.Is(err, gitreq.ErrBodyTooLarge):
		return fail(http.StatusRequestEntityTooLarge, msgTooLarge, err)
	case errors.Is(err, gitreq.ErrBadRequest):
		return fail(http.StatusBadRequest, msgBadRequest, err)
	default:
		return fail(http.StatusNotFound, msgNotGitRoute, err)
	}
}

// verifyError maps an error of Manager.Verify to the reply. public says
// whether the repository is public; visible whether the client may know
// that it exists for a refusal of a token that covers it (it is public, or
// see ownerSees).
func verifyError(err error, scope accesstoken.Scope, public, visible bool) *Error {
	switch {
	case accesstoken.Temporary(err):
		return fail(http.StatusServiceUnavailable, msgUnavailable, err)
	case errors.Is(err, accesstoken.ErrMalformed):
		return fail(http.StatusUnauthorized, "malformed access token (mistyped or truncated?)", err)
	case errors.Is(err, accesstoken.ErrUnknownToken):
		return fail(http.StatusUnauthorized, "invalid access token", err)
	case errors.Is(err, accesstoken.ErrExpired):
		return fail(http.StatusUnauthorized, "access token expired", err)
	case errors.Is(err, accesstoken.ErrRevoked):
		return fail(http.StatusUnauthorized, "access token revoked", err)
	case errors.Is(err, accesstoken.ErrMissingScope) && visible:
		return fail(http.StatusForbidden, "this access token does not allow "+verb(scope)+" (it needs the "+string(scope)+" scope)", err)
	case errors.Is(err, accesstoken.ErrWrongTarget) && public:
		return fail(http.StatusForbidden, "this access token is not valid for this repository", err)
	case errors.Is(err, accesstoken.ErrOwnerDenied) && visible:
		return fail(http.StatusForbidden, "the token's owner may not "+verb(scope)+" this repository", err)
	case errors.Is(err, accesstoken.ErrWrongTarget), errors.Is(err, accesstoken.ErrOwnerDenied),
		errors.Is(err, accesstoken.ErrMissingScope):
		return fail(http.StatusNotFound, msgNotFound, err)
	default:
		return fail(http.StatusInternalServerError, msgBadRepo, err)
	}
}

func verb(s accesstoken.Scope) string {
	switch s {
	case accesstoken.ScopePull:
		return "pull"
	case accesstoken.ScopePush:
		return "push"
	}
	return string(s)
}

// readBody reads the LFS batch body, bounded, and puts it back for the
// next handler.
func (h *gitAuth) readBody(r *http.Request) ([]byte, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	if r.ContentLength > h.maxBody {
		return nil, gitreq.ErrBodyTooLarge
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, h.maxBody+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > h.maxBody {
		return nil, gitreq.ErrBodyTooLarge
	}
	_ = r.Body.Close()
	r.Body = io.NopCloser(bytes.NewReader(b))
	r.ContentLength = int64(len(b))
	r.TransferEncoding = nil
	return b, nil
}

// tokenParams are query parameters that forges (and the failures in
// SECURITY.md) accept tokens in; their presence alone refuses a request.
var tokenParams = [...]string{"access_token", "token", "private_token", "oauth_token", "auth_token", "password", "passwd"}

// checkURLQuery refuses a request whose query string carries a token (or
// a parameter named like one), or does not decode.
func (g *guard) checkURLQuery(r *http.Request) *Error {
	if r.URL.RawQuery == "" {
		return nil
	}
	switch err := g.checkQuery(r.URL.RawQuery); err {
	case nil:
		return nil
	case ErrTokenInURL:
		return fail(http.StatusBadRequest, msgTokenInURL, err)
	default:
		return fail(http.StatusBadRequest, msgBadRequest, err)
	}
}

// checkQuery returns [ErrTokenInURL] if the query names a token parameter
// or carries a well-formed token of m's format anywhere, and
// [ErrBadRequest] if it does not decode.
func (g *guard) checkQuery(q string) error {
	f := g.m.Format()
	if len(f.FindAll(q)) > 0 { // FindAll looks for the prefix first, without allocating
		return ErrTokenInURL
	}
	for q != "" {
		var part string
		part, q, _ = strings.Cut(q, "&")
		k, v, _ := strings.Cut(part, "=")
		k, err1 := url.QueryUnescape(k)
		if err1 != nil {
			// Undecidable; refuse rather than guess.
			return gitreq.ErrBadRequest
		}
		if len(k) >= 5 && len(k) <= 13 {
			for _, p := range tokenParams {
				if strings.EqualFold(k, p) {
					return ErrTokenInURL
				}
			}
		}
		// A token (letters, digits, '_') appears as such in the raw
		// query unless it was percent-encoded; look at decoded parts.
		if strings.IndexByte(part, '%') >= 0 {
			v, err2 := url.QueryUnescape(v)
			if err2 != nil {
				return gitreq.ErrBadRequest
			}
			if len(f.FindAll(k)) > 0 || len(f.FindAll(v)) > 0 {
				return ErrTokenInURL
			}
		}
	}
	return nil
}

// credentials returns the token of the request whose headers are hdr, by
// asking every source, and applies [WithOwnerUsername]: a Basic user name
// is then required and the token-as-user-name form refused (the user name
// itself is compared with the token's owner once the token is known).
// present is false when no source found a token.
func (g *guard) credentials(hdr http.Header) (cred Credentials, present bool, err error) {
	if len(g.sources) == 1 { // the usual case, without the loop's bookkeeping
		cred, present, err = g.sources[0].Credentials(hdr)
	} else {
		for _, src := range g.sources {
			got, found, serr := src.Credentials(hdr)
			switch {
			case serr != nil:
				return Credentials{}, true, serr
			case found && present:
				return Credentials{}, true, ErrBadCredentials
			case found:
				cred, present = got, true
			}
		}
	}
	if err != nil || !present {
		return Credentials{}, present, err
	}
	if g.ownerUsername && (cred.Form == FormBasicUser || cred.Form == FormBasicPassword && cred.User == "") {
		return Credentials{}, true, ErrUsernameMismatch
	}
	return cred, true, nil
}

// stripCredentials removes from hdr every header a source reads, and
// Cookie: a handler behind a middleware acts as the token, never as a
// browser session that came with it. The server stores header keys in
// canonical form. (The git backends also remove keys a handler may have
// stored otherwise.)
func (g *guard) stripCredentials(hdr http.Header) {
	for _, src := range g.sources {
		for _, k := range src.Headers() {
			delete(hdr, k)
		}
	}
	delete(hdr, "Authorization")
	delete(hdr, "Proxy-Authorization")
	delete(hdr, "Cookie")
}
