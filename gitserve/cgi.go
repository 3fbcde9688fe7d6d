package gitserve

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/cgi"
	"net/url"
	"strings"

	"github.com/forgekit/accesstoken/gitreq"
	"github.com/forgekit/accesstoken/httpauth"
)

// CGI serves repositories with `git http-backend` through [net/http/cgi].
// It must be behind [httpauth.Middleware], whose [httpauth.Access] it
// serves: it refuses (500) a request without one. Prefer [Handler], which
// runs git upload-pack and receive-pack itself and is faster; CGI is for
// forges that want what only git http-backend serves (dumb HTTP, see
// DumbHTTP). It is safe for concurrent use; do not change its fields
// after the first request.
//
// For each request it runs git http-backend with
//
//   - GIT_PROJECT_ROOT set to Root, PATH_INFO to the resolved
//     [httpauth.Repo.Dir] and the route, and QUERY_STRING to the ?service=
//     the middleware classified (nothing else of the client's URL);
//   - GIT_HTTP_EXPORT_ALL set: the middleware already decided access;
//   - REMOTE_USER set to the token's owner (unset when anonymous);
//   - GIT_PROTOCOL set from the Git-Protocol header (protocol v2), when
//     [gitreq.ValidGitProtocol] accepts it;
//   - http.receivepack forced to false unless the request was authorised
//     as a push, and http.getanyfile to false unless DumbHTTP is set,
//     through GIT_CONFIG_COUNT, GIT_CONFIG_KEY_n and GIT_CONFIG_VALUE_n,
//     which override the repositories' own configuration;
//   - no Authorization, Proxy-Authorization or Cookie header, so that
//     hooks never see a credential (they would as HTTP_AUTHORIZATION),
//     and no header whose name holds an underscore: [net/http/cgi]
//     turns "-" and "_" alike into "_", so "Git_Protocol" would reach git
//     as HTTP_GIT_PROTOCOL, which git copies to GIT_PROTOCOL unchecked
//     (web servers drop such headers for CGI for the same reason);
//   - the request body streamed to git without a length, which git
//     reads to its end: git sends pushes over http.postBuffer (1 MiB)
//     chunked, which Go's CGI host refuses, and git http-backend given a
//     CONTENT_LENGTH loops for ever at full CPU on a body that ends
//     early (a client that goes away, a request whose token is revoked
//     while its body arrives);
//   - its standard error logged to Logger, one record per line (see
//     [Handler]);
//   - nothing started for a client that sends nothing: an upload-pack
//     request is read whole (up to MaxRequestBody bytes as sent) before
//     git http-backend starts, and for a push git starts when the body
//     starts.
//
// It serves the smart-HTTP routes ([gitreq.RouteInfoRefs],
// [gitreq.RouteUploadPack], [gitreq.RouteReceivePack]) and, with
// DumbHTTP, the dumb-HTTP ones; it answers 404 to the others: git
// http-backend serves neither Git LFS nor git-upload-archive.
type CGI struct {
	// Root is the directory the repositories are under (git's
	// GIT_PROJECT_ROOT); [httpauth.Repo.Dir] is relative to it. It must be
	// set, to an existing directory.
	Root string

	// Git is the git binary to run. The default, "", is "git" found in
	// PATH.
	Git string

	// Env holds extra "KEY=value" variables for git http-backend and the
	// hooks it runs, such as GIT_HTTP_MAX_REQUEST_BUFFER. They cannot
	// override the variables CGI sets itself.
	Env []string

	// DumbHTTP serves git's dumb HTTP protocol too (info/refs without a
	// service, objects/…), through http.getanyfile. The default is off.
	DumbHTTP bool

	// Logger receives git's standard error, one record per line, and
	// failures to run git. The default, nil, is [slog.Default].
	Logger *slog.Logger

	// Limiter, if not nil, caps the git processes CGI starts (see
	// [Limiter]); a request beyond its caps gets 503. The default, nil,
	// caps nothing.
	Limiter *Limiter

	// MaxRequestBody is the largest upload-pack request body read before
	// git http-backend starts, as sent; a larger one gets 413. The
	// default, 0, is [DefaultMaxRequestBody]. git http-backend decodes a
	// gzip body itself, and bounds only the body as sent
	// (GIT_HTTP_MAX_REQUEST_BUFFER, 10 MiB by default: set it in Env to
	// raise it), not what it decodes to; the [Handler] bounds the decoded
	// body.
	MaxRequestBody int64
}

// ServeHTTP serves r with git http-backend.
func (c *CGI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	acc, ok := httpauth.FromContext(r.Context())
	if !ok || acc.Repo == nil || !gitreq.ValidDir(acc.Repo.Dir) {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	op := acc.Operation
	switch {
	case op.Route == gitreq.RouteInfoRefs && op.Service == "" && !c.DumbHTTP,
		op.Route == gitreq.RouteDumb && !c.DumbHTTP:
		http.Error(w, "dumb HTTP is not served", http.StatusNotFound)
		return
	case op.Route == gitreq.RouteInfoRefs, op.Route == gitreq.RouteUploadPack,
		op.Route == gitreq.RouteReceivePack, op.Route == gitreq.RouteDumb:
	default:
		http.Error(w, "not served by git http-backend", http.StatusNotFound)
		return
	}
	root, git, err := resolveRootAndGit(c.Root, c.Git)
	log := requestLogger(logger(c.Logger), r, acc)
	if err != nil {
		log.Error("git http-backend not run", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	// No process for a client that sends nothing: a fetch's request is
	// read before git starts, and a push starts git when its body starts.
	var body io.Reader
	if r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0 {
		var err error
		if body, err = holdBody(r, op.Route, c.MaxRequestBody); err != nil {
			refuseBody(w, r, log, err)
			return
		}
	}
	release, ok := c.Limiter.admit(w, r, log)
	if !ok {
		return
	}
	defer release()

	getAny := "false"
	if c.DumbHTTP {
		getAny = "true"
	}
	env := make([]string, 0, len(c.Env)+10)
	env = append(env, c.Env...)
	env = append(env,
		"GIT_PROJECT_ROOT="+root,
		"GIT_HTTP_EXPORT_ALL=1",
		"GIT_CONFIG_COUNT=2",
		"GIT_CONFIG_KEY_0=http.receivepack",
		"GIT_CONFIG_VALUE_0="+boolString(mayPush(acc)),
		"GIT_CONFIG_KEY_1=http.getanyfile",
		"GIT_CONFIG_VALUE_1="+getAny,
	)
	if acc.Owner != "" {
		env = append(env, "REMOTE_USER="+acc.Owner)
	}
	if p := r.Header.Get("Git-Protocol"); gitreq.ValidGitProtocol(p) {
		env = append(env, "GIT_PROTOCOL="+p)
	}

	r2 := new(http.Request)
	*r2 = *r
	r2.URL = &url.URL{Path: "/" + acc.Repo.Dir + "/" + op.Path}
	if op.Service != "" {
		r2.URL.RawQuery = "service=" + op.Service
	}
	r2.Header = r.Header.Clone()
	stripCGIHeaders(r2.Header)
	if body != nil {
		r2.Body = io.NopCloser(body)
		// Every body goes to git http-backend without CONTENT_LENGTH,
		// as a body of unknown length that it reads to the end. net/http/cgi
		// refuses chunked bodies (git sends pushes over http.postBuffer
		// so) but streams one of unknown length. And git http-backend
		// (2.39) told a CONTENT_LENGTH loops for ever, at full CPU, on a
		// body that ends before it: a client that sends less than it
		// announced and goes away, or a request refused while its body
		// arrives, would leave it spinning.
		r2.TransferEncoding = nil
		r2.ContentLength = -1
	}
	stderr := newLineLogger(log)
	defer stderr.Close()
	h := &cgi.Handler{
		Path:   git,
		Args:   []string{"http-backend"},
		Dir:    root,
		Env:    env,
		Stderr: stderr,
	}
	h.ServeHTTP(w, r2)
}

// stripCGIHeaders removes from hdr, before it becomes git http-backend's
// HTTP_* environment, the credential headers and Git-Protocol under any
// spelling of their names, and every header whose name holds an
// underscore, which net/http/cgi would give the CGI name of another
// header ("Git_Protocol" and "Git-Protocol" are both HTTP_GIT_PROTOCOL).
func stripCGIHeaders(hdr http.Header) {
	for k := range hdr {
		if strings.IndexByte(k, '_') >= 0 ||
			strings.EqualFold(k, "Authorization") || strings.EqualFold(k, "Proxy-Authorization") ||
			strings.EqualFold(k, "Cookie") || strings.EqualFold(k, "Git-Protocol") {
			delete(hdr, k)
		}
	}
}
