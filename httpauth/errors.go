package httpauth

import (
	"errors"
	"net/http"
	"strings"
)

// Sentinel errors. The error the middleware passes to its [ErrorFunc] is an
// [*Error] that matches one of them, one of package gitreq's (a request
// that is not a safe git request: [gitreq.ErrBadPath] 400,
// [gitreq.ErrNotGitRoute] 404, [gitreq.ErrBadRequest] 400,
// [gitreq.ErrBodyTooLarge] 413) or one of package accesstoken's, with
// [errors.Is].
var (
	// ErrTokenInURL reports a request that carries an access token (or a
	// parameter named like one: access_token, token, private_token, …) in
	// its query string. Tokens in URLs end up in logs and proxies, so such
	// requests are refused, whatever else they carry. Status 400.
	ErrTokenInURL = errors.New("httpauth: access tokens are not accepted in URLs")

	// ErrNoCredentials reports an anonymous request that needs a token.
	// Status 401 with a WWW-Authenticate challenge.
	ErrNoCredentials = errors.New("httpauth: authentication required")

	// ErrBadCredentials reports an Authorization header that is not Basic
	// or Bearer, is malformed, or is repeated. Status 401.
	ErrBadCredentials = errors.New("httpauth: malformed or unsupported Authorization header")

	// ErrUsernameMismatch reports Basic credentials whose user name is not
	// the token's owner, when [WithOwnerUsername] requires it. Status 401.
	ErrUsernameMismatch = errors.New("httpauth: user name is not the token's owner")

	// ErrRepoNotFound is returned by a [Resolver] for a path that names no
	// repository, or one the forge hides (disabled, being created). The
	// middleware answers it exactly as it answers a private repository the
	// token may not see: 404 for a valid token, 401 otherwise.
	ErrRepoNotFound = errors.New("httpauth: repository not found")

	// ErrResolverFailure reports that the [Resolver] failed with an error
	// other than [ErrRepoNotFound]. Like a store failure it fails closed.
	// Status 503.
	ErrResolverFailure = errors.New("httpauth: repository lookup failure")

	// ErrBadRepo reports a [Repo] from the [Resolver] that cannot be used: an
	// invalid Resource or an unsafe Dir. It is a bug in the forge. Status 500.
	ErrBadRepo = errors.New("httpauth: resolver returned an invalid repository")

	// ErrMisconfigured reports a middleware that cannot work as asked: the
	// constructors ([Middleware], [Require] and its kin) return it, with
	// what is wrong, for a nil Manager, [Resolver] or [ResourceFunc], no
	// scopes or one the Manager does not accept, and an invalid [Option].
	// A middleware given a nil next handler answers every request with it
	// (status 500), never letting one through.
	ErrMisconfigured = errors.New("httpauth: middleware misconfigured")
)

// Error is the error the middleware passes to its [ErrorFunc]: the status
// the default ErrorFunc answers with, the text it sends, and the cause.
//
// Message is safe to show the client: it never contains the token and
// never says more about a hidden repository than that it was not found.
// Err may say more (why access was denied to a hidden repository, a
// database error): log it, do not send it.
type Error struct {
	// Status is the HTTP status code: 400, 401, 403, 404, 413, 500 or 503.
	Status int
	// Message is a one-line explanation for the git user.
	Message string
	// Err is the cause: one of this package's sentinels or of package
	// accesstoken, possibly wrapped.
	Err error
}

// Error returns the text of the cause, or the message when there is no
// cause. It may say more than Message; see [Error].
func (e *Error) Error() string {
	if e.Err == nil {
		return "httpauth: " + e.Message
	}
	return e.Err.Error()
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// StatusCode returns the HTTP status for err: the Status of an [*Error] in
// its chain, or 500.
func StatusCode(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Status
	}
	return http.StatusInternalServerError
}

// ErrorFunc writes the reply to a request the middleware refused. err is
// always an [*Error]. When its Status is 401 the middleware has already
// set the WWW-Authenticate challenge header.
type ErrorFunc func(w http.ResponseWriter, r *http.Request, err error)

// DefaultErrorFunc is the [ErrorFunc] used unless [WithErrorFunc] sets
// another. It answers with the Status of the [*Error] and its Message as a
// plain-text body ending in a newline, which git shows the user as
// "remote: …". A 503 also gets "Retry-After: 5".
func DefaultErrorFunc(w http.ResponseWriter, r *http.Request, err error) {
	status, msg := http.StatusInternalServerError, ""
	if e := (*Error)(nil); errors.As(err, &e) {
		status, msg = e.Status, e.Message
	}
	if msg == "" {
		msg = http.StatusText(status)
	}
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	if status == http.StatusServiceUnavailable {
		h.Set("Retry-After", "5")
	}
	w.WriteHeader(status)
	if !strings.HasSuffix(msg, "\n") {
		msg += "\n"
	}
	_, _ = w.Write([]byte(msg))
}

func fail(status int, msg string, err error) *Error {
	return &Error{Status: status, Message: msg, Err: err}
}
