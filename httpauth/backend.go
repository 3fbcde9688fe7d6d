package httpauth

import (
	"fmt"
	"io"
	"net/http"
	"net/http/cgi"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/forgekit/accesstoken"
)

// Backend serves repositories with `git http-backend` through
// [net/http/cgi]. It must be behind [Middleware], whose [Access] it
// serves: it refuses (500) a request without one. Build it with
// [NewBackend] (the zero value is not usable); it is safe for concurrent
// use.
//
// For each request it runs git http-backend with
//
//   - GIT_PROJECT_ROOT set to the root, PATH_INFO to the resolved
//     [Repo.Dir] and the route, and QUERY_STRING to the ?service= the
//     middleware classified (nothing else of the client's URL);
//   - GIT_HTTP_EXPORT_ALL set: the middleware already decided access;
//   - REMOTE_USER set to the token's owner (unset when anonymous);
//   - GIT_PROTOCOL set from the Git-Protocol header (protocol v2), when it
//     has the form git uses;
//   - http.receivepack forced to false unless the request was authorised
//     as a push, and http.getanyfile to false (no dumb HTTP), through
//     GIT_CONFIG_COUNT, GIT_CONFIG_KEY_n and GIT_CONFIG_VALUE_n, which
//     override the repositories' own configuration;
//   - no Authorization, Proxy-Authorization or Cookie header, so that
//     hooks never see a credential (they would as HTTP_AUTHORIZATION),
//     and no header whose name holds an underscore: [net/http/cgi]
//     turns "-" and "_" alike into "_", so "Git_Protocol" would reach git
//     as HTTP_GIT_PROTOCOL, which git copies to GIT_PROTOCOL unchecked
//     (web servers drop such headers for CGI for the same reason);
//   - a chunked request body streamed to git, which reads it to the end
//     (git sends pushes over http.postBuffer, 1 MiB, chunked; Go's CGI
//     host refuses chunked bodies, so the Backend passes them on without a
//     length).
//
// It serves the smart-HTTP routes ([RouteInfoRefs], [RouteUploadPack],
// [RouteReceivePack]) and answers 404 to the others: git http-backend
// serves neither Git LFS nor git-upload-archive, and dumb HTTP is off.
// See the package documentation for server timeouts.
type Backend struct {
	root   string
	git    string
	stderr io.Writer
	env    []string
}

// BackendOption configures a [Backend].
type BackendOption func(*Backend)

// WithGit sets the git binary to run. The default is "git" found in PATH
// when [NewBackend] is called.
func WithGit(path string) BackendOption { return func(b *Backend) { b.git = path } }

// WithStderr sets where git http-backend's standard error goes. The
// default is [os.Stderr].
func WithStderr(w io.Writer) BackendOption { return func(b *Backend) { b.stderr = w } }

// WithEnv adds "KEY=value" variables to git http-backend's environment,
// such as GIT_HTTP_MAX_REQUEST_BUFFER. They cannot override the variables
// the Backend sets itself.
func WithEnv(kv ...string) BackendOption {
	return func(b *Backend) { b.env = append(b.env, kv...) }
}

// NewBackend returns a Backend serving the repositories under root, an
// existing directory. [Repo.Dir] is relative to it.
func NewBackend(root string, opts ...BackendOption) (*Backend, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("httpauth: project root: %w", err)
	}
	if fi, err := os.Stat(abs); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("httpauth: project root %q is not a directory", root)
	}
	b := &Backend{root: abs, git: "git"}
	for _, o := range opts {
		o(b)
	}
	if b.git, err = exec.LookPath(b.git); err != nil {
		return nil, fmt.Errorf("httpauth: git binary: %w", err)
	}
	return b, nil
}

// ServeHTTP serves r with git http-backend.
func (b *Backend) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	acc, ok := FromContext(r.Context())
	if !ok || acc.Repo == nil || !dirOK(acc.Repo.Dir) {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	op := acc.Operation
	switch op.Route {
	case RouteInfoRefs, RouteUploadPack, RouteReceivePack:
	default:
		http.Error(w, "not served by git http-backend", http.StatusNotFound)
		return
	}
	if op.Route == RouteInfoRefs && op.Service == "" {
		http.Error(w, "dumb HTTP is not served", http.StatusNotFound)
		return
	}

	receive := "false"
	if op.Scope == accesstoken.ScopePush && !acc.Anonymous() {
		receive = "true"
	}
	env := make([]string, 0, len(b.env)+10)
	env = append(env, b.env...)
	env = append(env,
		"GIT_PROJECT_ROOT="+b.root,
		"GIT_HTTP_EXPORT_ALL=1",
		"GIT_CONFIG_COUNT=2",
		"GIT_CONFIG_KEY_0=http.receivepack",
		"GIT_CONFIG_VALUE_0="+receive,
		"GIT_CONFIG_KEY_1=http.getanyfile",
		"GIT_CONFIG_VALUE_1=false",
	)
	if acc.Owner != "" {
		env = append(env, "REMOTE_USER="+acc.Owner)
	}
	if p := r.Header.Get("Git-Protocol"); p != "" && gitProtocolOK(p) {
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
	if len(r2.TransferEncoding) > 0 {
		// Chunked (ContentLength is -1): net/http/cgi refuses that
		// encoding, but streams a body of unknown length without
		// CONTENT_LENGTH, and git http-backend reads it to the end.
		r2.TransferEncoding = nil
	}
	h := &cgi.Handler{
		Path:   b.git,
		Args:   []string{"http-backend"},
		Dir:    b.root,
		Env:    env,
		Stderr: b.stderr,
	}
	h.ServeHTTP(w, r2)
}

// gitProtocolOK accepts the values git sends in Git-Protocol, such as
// "version=2": letters, digits and "=:,._-", at most 256 bytes.
func gitProtocolOK(p string) bool {
	if len(p) > 256 {
		return false
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '=' || c == ':' || c == ',' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
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
