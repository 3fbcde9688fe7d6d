package gitserve

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/forgekit/accesstoken/gitreq"
	"github.com/forgekit/accesstoken/httpauth"
)

// DefaultMaxRequestBody is the largest git-upload-pack request body a
// [Handler] reads, after decompression, before it starts git: 10 MiB, the
// default of git http-backend's GIT_HTTP_MAX_REQUEST_BUFFER.
const DefaultMaxRequestBody = 10 << 20

// Handler serves git's smart HTTP protocol by running git upload-pack and
// git receive-pack itself (with --stateless-rpc), one process per
// request, without CGI and without git http-backend. It must be behind
// [httpauth.Middleware], whose [httpauth.Access] it serves: it refuses
// (500) a request without one. It is safe for concurrent use; do not
// change its fields after the first request.
//
// It serves GET …/info/refs?service=git-upload-pack (and
// git-receive-pack), POST …/git-upload-pack and POST …/git-receive-pack,
// as git http-backend does:
//
//   - protocol v0, v1 and v2: a Git-Protocol header that
//     [gitreq.ValidGitProtocol] accepts is passed to git as GIT_PROTOCOL
//     (and the ref advertisement of v2 has no "# service=" line);
//   - request bodies compressed with gzip (git sends large fetch requests
//     so), and chunked ones (git sends pushes over http.postBuffer so);
//   - http.receivepack and http.uploadpack as git http-backend applies
//     them, decided by the middleware: receive-pack, and its ref
//     advertisement, only for requests authorised as pushes with a token
//     (403 otherwise), upload-pack for every request the middleware let
//     in;
//   - the content types git expects (415 for a POST of another type) and
//     the same no-cache headers;
//   - no credential in git's environment: git and its hooks get PATH,
//     HOME, TMPDIR and the locale of the server's environment, Env,
//     REMOTE_USER and REMOTE_ADDR, GIT_PROTOCOL, and for a push
//     GIT_COMMITTER_NAME and GIT_COMMITTER_EMAIL as git http-backend sets
//     them; never a request header.
//
// A client that connects and sends nothing holds no git process: an
// upload-pack request body (the want and have lines of a fetch, small) is
// read whole, up to MaxRequestBody, before git starts, and a receive-pack
// starts git only when its body starts to arrive. So the body is
// complete, and the middleware has checked the token again, before git
// upload-pack reads a byte of it. Each git process is in a process group
// of its own, killed with its helpers (pack-objects, index-pack, hooks)
// when the request ends early (the client goes away, or a [Limiter]
// cuts it). git's standard error is logged to Logger, one record per line
// ("git stderr", the line in the attribute "line", control characters
// replaced), with the repository, route, client, user and a request
// identifier, so that nothing a client makes git print can forge a log
// record.
//
// Partial clone (--filter) is served: upload-pack runs with
// uploadpack.allowFilter and uploadpack.allowReachableSHA1InWant. Dumb
// HTTP, git-upload-archive and Git LFS are not (404): see [CGI] for dumb
// HTTP.
type Handler struct {
	// Root is the directory the repositories are under;
	// [httpauth.Repo.Dir] is relative to it. It must be set, to an
	// existing directory.
	Root string

	// Git is the git binary to run. The default, "", is "git" found in
	// PATH.
	Git string

	// Env holds extra "KEY=value" variables for git and the hooks it
	// runs. They cannot override the variables Handler sets itself.
	Env []string

	// Logger receives git's standard error, one record per line, and
	// failures to run git. The default, nil, is [slog.Default].
	Logger *slog.Logger

	// Limiter, if not nil, caps the git processes the Handler starts (see
	// [Limiter]): a process slot is taken when git starts (after an
	// upload-pack request's body is read, when a receive-pack's body
	// starts), and a request beyond the caps gets 503. The default, nil,
	// caps nothing.
	Limiter *Limiter

	// MaxRequestBody is the largest upload-pack request body read before
	// git starts, after decompression; a larger one gets 413. The
	// default, 0, is [DefaultMaxRequestBody].
	MaxRequestBody int64

	// PackCache is how many bytes of recent upload-pack responses (packs
	// and ref listings) the Handler keeps in memory, to answer the same
	// request to a repository whose refs have not changed without running
	// git; identical requests that arrive together run git once (a
	// request waits at most 10 s for an identical one in flight). A
	// response larger than a quarter of it is not kept, and the responses
	// being collected for it take at most as much memory again. The
	// default, 0, is [DefaultPackCache]; a negative value turns the cache
	// off.
	PackCache int64

	// Protect, if not nil, refuses pushes that add a live token of its
	// Manager, before any ref moves (see [PushProtection]). The default,
	// nil, scans nothing.
	Protect *PushProtection

	once    sync.Once
	root    string
	git     string
	baseEnv []string
	caps    *capsCache
	packs   *packCache // nil when off
	initErr error
}

// ServeHTTP serves r.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	acc, ok := httpauth.FromContext(r.Context())
	if !ok || acc.Repo == nil || !gitreq.ValidDir(acc.Repo.Dir) {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h.once.Do(h.init)
	log := requestLogger(logger(h.Logger), r, acc)
	if h.initErr != nil {
		log.Error("git not run", "err", h.initErr)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	op := acc.Operation
	switch {
	case op.Route == gitreq.RouteInfoRefs && op.Service != "":
		h.advertise(w, r, acc, log)
	case op.Route == gitreq.RouteUploadPack:
		h.uploadPack(w, r, acc, log)
	case op.Route == gitreq.RouteReceivePack:
		h.receivePack(w, r, acc, log)
	case op.Route == gitreq.RouteInfoRefs, op.Route == gitreq.RouteDumb:
		http.Error(w, "dumb HTTP is not served", http.StatusNotFound)
	default:
		http.Error(w, "not served by this git server", http.StatusNotFound)
	}
}

// inheritedEnv are the variables of the server's environment that git
// and its hooks get: what finding programs and files needs, and git's own
// settings of the installation. Nothing else of the server's environment
// (which may hold a database password) is passed on.
var inheritedEnv = []string{"PATH", "HOME", "TMPDIR", "LANG", "LC_ALL", "LC_CTYPE", "TZ",
	"GIT_EXEC_PATH", "GIT_CONFIG_NOSYSTEM", "GIT_CONFIG_SYSTEM", "GIT_CONFIG_GLOBAL"}

func (h *Handler) init() {
	h.root, h.git, h.initErr = resolveRootAndGit(h.Root, h.Git)
	for _, k := range inheritedEnv {
		if v, ok := os.LookupEnv(k); ok {
			h.baseEnv = append(h.baseEnv, k+"="+v)
		}
	}
	h.baseEnv = append(h.baseEnv, h.Env...)
	h.caps = newCapsCache(h.baseEnv, h.git)
	switch {
	case h.PackCache == 0:
		h.packs = newPackCache(DefaultPackCache)
	case h.PackCache > 0:
		h.packs = newPackCache(h.PackCache)
	}
}

// repoDir returns the absolute directory of acc's repository, or answers
// 404 when it does not exist.
func (h *Handler) repoDir(w http.ResponseWriter, acc *httpauth.Access, log *slog.Logger) (string, bool) {
	dir := filepath.Join(h.root, filepath.FromSlash(acc.Repo.Dir))
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		log.Warn("repository directory missing", "err", err)
		http.Error(w, "repository not found", http.StatusNotFound)
		return "", false
	}
	return dir, true
}

// env returns git's environment for the request.
func (h *Handler) env(r *http.Request, acc *httpauth.Access, service string) []string {
	env := make([]string, 0, len(h.baseEnv)+12)
	env = append(env, h.baseEnv...)
	env = append(env, "REMOTE_ADDR="+clientIP(r))
	if acc.Owner != "" {
		env = append(env, "REMOTE_USER="+acc.Owner)
	}
	if p := r.Header.Get("Git-Protocol"); gitreq.ValidGitProtocol(p) {
		env = append(env, "GIT_PROTOCOL="+p)
	}
	switch service {
	case "upload-pack":
		env = append(env,
			"GIT_CONFIG_COUNT=2",
			"GIT_CONFIG_KEY_0=uploadpack.allowFilter", "GIT_CONFIG_VALUE_0=true",
			"GIT_CONFIG_KEY_1=uploadpack.allowReachableSHA1InWant", "GIT_CONFIG_VALUE_1=true")
	case "receive-pack":
		if acc.Owner != "" {
			env = append(env,
				"GIT_COMMITTER_NAME="+acc.Owner,
				"GIT_COMMITTER_EMAIL="+acc.Owner+"@http."+clientIP(r))
		}
	}
	return env
}

// noCache sets the headers git http-backend sends so that nothing caches
// a response.
func noCache(hdr http.Header) {
	hdr.Set("Expires", "Fri, 01 Jan 1980 00:00:00 GMT")
	hdr.Set("Pragma", "no-cache")
	hdr.Set("Cache-Control", "no-cache, max-age=0, must-revalidate")
}

// advertise serves GET …/info/refs?service=….
func (h *Handler) advertise(w http.ResponseWriter, r *http.Request, acc *httpauth.Access, log *slog.Logger) {
	service := strings.TrimPrefix(acc.Operation.Service, "git-")
	if service == "receive-pack" && !mayPush(acc) {
		http.Error(w, "Service not enabled: 'receive-pack'", http.StatusForbidden)
		return
	}
	dir, ok := h.repoDir(w, acc, log)
	if !ok {
		return
	}
	c := run{
		service: service,
		args:    []string{service, "--stateless-rpc", "--advertise-refs", dir},
		dir:     dir,
		ctype:   "application/x-git-" + service + "-advertisement",
	}
	if !protocolV2(r.Header.Get("Git-Protocol")) {
		// Protocol v0 and v1 start with the service line; v2 does not.
		c.prefix = append(pktLine("# service=git-"+service+"\n"), "0000"...)
	} else if service == "upload-pack" {
		// The v2 advertisement holds no refs: it is the same until git's
		// configuration changes, and served without running git.
		stamp := h.caps.stamp(dir)
		if adv, ok := h.caps.get(dir, stamp); ok {
			hdr := w.Header()
			hdr.Set("Content-Type", c.ctype)
			noCache(hdr)
			_, _ = w.Write(adv)
			return
		}
		c.capture = func(adv []byte) {
			if adv != nil {
				h.caps.put(dir, stamp, adv)
			}
		}
		c.captureMax = 64 << 10
	}
	h.run(w, r, acc, log, c)
}

// uploadPack serves POST …/git-upload-pack: the request is read whole
// before git starts (and answered from the pack cache when it can be).
func (h *Handler) uploadPack(w http.ResponseWriter, r *http.Request, acc *httpauth.Access, log *slog.Logger) {
	dir, body, ok := h.rpcRequest(w, r, acc, log, "upload-pack")
	if !ok {
		return
	}
	limit := h.MaxRequestBody
	if limit <= 0 {
		limit = DefaultMaxRequestBody
	}
	req, err := readAtMost(body, limit)
	if err != nil {
		refuseBody(w, r, log, err)
		return
	}
	c := h.rpc("upload-pack", dir, bytes.NewReader(req))
	if h.packs != nil {
		protocol := r.Header.Get("Git-Protocol")
		if !gitreq.ValidGitProtocol(protocol) {
			protocol = ""
		}
		if key, ok := packKey(dir, h.caps.stamp(dir), protocol, req); ok {
			data, hit, col := h.packs.get(r.Context(), key)
			if hit {
				hdr := w.Header()
				hdr.Set("Content-Type", c.ctype)
				noCache(hdr)
				_, _ = w.Write(data)
				return
			}
			if col != nil {
				c.capture, c.captureGrow, c.captureMax = col.finish, col.reserve, h.packs.maxEntry()
			}
		}
	}
	h.run(w, r, acc, log, c)
}

// receivePack serves POST …/git-receive-pack: git starts when the body
// starts to arrive, and reads it as it comes.
func (h *Handler) receivePack(w http.ResponseWriter, r *http.Request, acc *httpauth.Access, log *slog.Logger) {
	if !mayPush(acc) {
		http.Error(w, "Service not enabled: 'receive-pack'", http.StatusForbidden)
		return
	}
	dir, body, ok := h.rpcRequest(w, r, acc, log, "receive-pack")
	if !ok {
		return
	}
	br, err := firstByte(body)
	if err != nil {
		refuseBody(w, r, log, err)
		return
	}
	c := h.rpc("receive-pack", dir, br)
	if h.Protect != nil { // push protection (protect.go)
		c.prepare = h.protectPush(h.Protect, acc, dir, log)
	}
	h.run(w, r, acc, log, c)
}

// rpcRequest checks what an upload-pack or receive-pack POST must be (its
// content type, an existing repository, a body encoding git sends) and
// returns the repository's directory and the decoded body; or it answers
// the request and returns false.
func (h *Handler) rpcRequest(w http.ResponseWriter, r *http.Request, acc *httpauth.Access, log *slog.Logger, service string) (dir string, body io.Reader, ok bool) {
	if r.Header.Get("Content-Type") != "application/x-git-"+service+"-request" {
		http.Error(w, "Unsupported Media Type", http.StatusUnsupportedMediaType)
		return "", nil, false
	}
	if dir, ok = h.repoDir(w, acc, log); !ok {
		return "", nil, false
	}
	body, err := requestBody(r)
	if err != nil {
		refuseBody(w, r, log, err)
		return "", nil, false
	}
	return dir, body, true
}

// rpc returns the git command that serves a POST to service of the
// repository dir, reading stdin.
func (h *Handler) rpc(service, dir string, stdin io.Reader) run {
	return run{
		service: service,
		args:    []string{service, "--stateless-rpc", dir},
		dir:     dir,
		stdin:   stdin,
		ctype:   "application/x-git-" + service + "-result",
	}
}

// protocolV2 reports whether git, given the Git-Protocol header p as
// GIT_PROTOCOL, speaks protocol version 2: p is valid and one of its
// colon-separated items is "version=2" (git takes the highest version it
// knows among them).
func protocolV2(p string) bool {
	if !gitreq.ValidGitProtocol(p) {
		return false
	}
	for item := range strings.SplitSeq(p, ":") {
		if item == "version=2" {
			return true
		}
	}
	return false
}

// pktLine returns s as one pkt-line of git's protocol.
func pktLine(s string) []byte {
	return fmt.Appendf(nil, "%04x%s", len(s)+4, s)
}
