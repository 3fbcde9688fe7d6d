package gitserve

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

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
	// git; identical requests that arrive together run git once. A
	// response larger than a quarter of it is not kept. The default, 0,
	// is [DefaultPackCache]; a negative value turns the cache off.
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
// before git starts.
func (h *Handler) uploadPack(w http.ResponseWriter, r *http.Request, acc *httpauth.Access, log *slog.Logger) {
	if !h.checkType(w, r, "upload-pack") {
		return
	}
	dir, ok := h.repoDir(w, acc, log)
	if !ok {
		return
	}
	body, err := requestBody(r)
	if err != nil {
		h.bodyError(w, r, log, err)
		return
	}
	limit := h.MaxRequestBody
	if limit <= 0 {
		limit = DefaultMaxRequestBody
	}
	req, err := io.ReadAll(io.LimitReader(body, limit+1))
	if err == nil && int64(len(req)) > limit {
		err = errTooLarge
	}
	if err != nil {
		h.bodyError(w, r, log, err)
		return
	}
	c := run{
		service: "upload-pack",
		args:    []string{"upload-pack", "--stateless-rpc", dir},
		dir:     dir,
		stdin:   bytes.NewReader(req),
		ctype:   "application/x-git-upload-pack-result",
	}
	if h.packs != nil {
		protocol := r.Header.Get("Git-Protocol")
		if !gitreq.ValidGitProtocol(protocol) {
			protocol = ""
		}
		if key, ok := packKey(dir, h.caps.stamp(dir), protocol, req); ok {
			data, hit, finish := h.packs.get(r.Context(), key)
			if hit {
				hdr := w.Header()
				hdr.Set("Content-Type", c.ctype)
				noCache(hdr)
				_, _ = w.Write(data)
				return
			}
			c.capture, c.captureMax = finish, h.packs.maxEntry()
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
	if !h.checkType(w, r, "receive-pack") {
		return
	}
	dir, ok := h.repoDir(w, acc, log)
	if !ok {
		return
	}
	body, err := requestBody(r)
	if err != nil {
		h.bodyError(w, r, log, err)
		return
	}
	br := bufio.NewReaderSize(body, 64<<10)
	if _, err := br.Peek(1); err != nil && err != io.EOF {
		h.bodyError(w, r, log, err)
		return
	}
	c := run{
		service: "receive-pack",
		args:    []string{"receive-pack", "--stateless-rpc", dir},
		dir:     dir,
		stdin:   br,
		ctype:   "application/x-git-receive-pack-result",
	}
	if h.Protect != nil { // push protection (protect.go)
		c.prepare = h.protectPush(h.Protect, acc, dir, log)
	}
	h.run(w, r, acc, log, c)
}

var errTooLarge = errors.New("gitserve: request body too large")

// checkType answers 415 unless r has the content type of a request to
// service.
func (h *Handler) checkType(w http.ResponseWriter, r *http.Request, service string) bool {
	if r.Header.Get("Content-Type") != "application/x-git-"+service+"-request" {
		http.Error(w, "Unsupported Media Type", http.StatusUnsupportedMediaType)
		return false
	}
	return true
}

// requestBody returns r's body, decompressed when it is gzip-encoded.
func requestBody(r *http.Request) (io.Reader, error) {
	switch enc := r.Header.Get("Content-Encoding"); enc {
	case "", "identity":
		return r.Body, nil
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", errBadEncoding, err)
		}
		zr.Multistream(false)
		return zr, nil
	default:
		return nil, errBadEncoding
	}
}

var errBadEncoding = errors.New("gitserve: request body encoding not supported or malformed")

// bodyError answers a request whose body could not be read before any
// response was written: as the middleware would (httpauth.Refuse) when a
// re-check of its token failed, 413 when it was too large, 415 for a bad
// encoding, and otherwise 400 (the client went away or sent garbage, or
// a Limiter cut a body that did not move).
func (h *Handler) bodyError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	refuseBody(w, r, log, err)
}

// refuseBody is bodyError, for both handlers.
func refuseBody(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	var herr *httpauth.Error
	switch {
	case errors.As(err, &herr):
		log.Info("git request refused while its body arrived", "err", err)
		httpauth.Refuse(w, r, err)
	case errors.Is(err, errTooLarge):
		http.Error(w, "request too large", http.StatusRequestEntityTooLarge)
	case errors.Is(err, errBadEncoding):
		http.Error(w, "request body encoding not supported or malformed", http.StatusUnsupportedMediaType)
	default:
		log.Info("git request body not read", "err", err)
		http.Error(w, "could not read the request", http.StatusBadRequest)
	}
}

// run describes one git command serving a request.
type run struct {
	service string // "upload-pack" or "receive-pack"
	args    []string
	dir     string
	stdin   io.Reader
	ctype   string
	prefix  []byte // written before git's output
	// capture, if set, is called once when the request is done: with
	// git's whole output if git succeeded and wrote at most captureMax
	// bytes, with nil otherwise.
	capture    func([]byte)
	captureMax int64
	// prepare, if set, sets up cmd before it starts (push protection:
	// its hooks and pipes); finish is called once git has exited. If it
	// fails, git is not run.
	prepare func(ctx context.Context, cmd *exec.Cmd) (finish func(), err error)
}

// run starts git for a request, with a process slot of the Limiter, and
// streams its output as the response. The response's headers are written
// when git writes its first byte, so that a git that fails at once (or
// whose request body turns out to be refused) is answered with an error
// status rather than a 200 with nothing in it.
func (h *Handler) run(w http.ResponseWriter, r *http.Request, acc *httpauth.Access, log *slog.Logger, c run) {
	var output []byte // for c.capture: nil unless all of git's output is in it
	if c.capture != nil {
		defer func() { c.capture(output) }()
	}
	release, err := h.Limiter.acquire(r)
	if err != nil {
		log.Warn("git request refused", "err", err)
		h.Limiter.refuse(w, err)
		return
	}
	defer release()

	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	cmd := exec.CommandContext(ctx, h.git, c.args...)
	cmd.Dir = c.dir
	cmd.Env = h.env(r, acc, c.service)
	stdinErr := &recordingReader{r: c.stdin}
	if c.stdin != nil {
		cmd.Stdin = stdinErr
	}
	stderr := newLineLogger(log)
	defer stderr.Close()
	cmd.Stderr = stderr
	setProcessGroup(cmd)
	cmd.WaitDelay = 10 * time.Second
	if c.prepare != nil {
		finish, err := c.prepare(ctx, cmd)
		if err != nil {
			log.Error("git not started", "err", err)
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		defer finish()
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		log.Error("git not started", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	if err := cmd.Start(); err != nil {
		log.Error("git not started", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}

	buf := make([]byte, 32<<10)
	n, rerr := io.ReadAtLeast(stdout, buf, 1)
	waited := false
	if n == 0 {
		// git wrote nothing: it had nothing to say (git sends a push
		// larger than http.postBuffer after a probe of four bytes, which
		// receive-pack answers with nothing), or it failed, or its input
		// did.
		werr := cmd.Wait()
		waited = true
		if in := stdinErr.err(); in != nil {
			h.bodyError(w, r, log, in)
			return
		}
		if werr != nil || ignoreEOF(rerr) != nil {
			err := errors.Join(werr, ignoreEOF(rerr))
			if c.stdin != nil {
				// git read the client's request and gave up on it (its
				// reason is in the log, from its standard error).
				log.Warn("git refused the request", "err", err)
				http.Error(w, "git could not process the request", http.StatusBadRequest)
				return
			}
			log.Error("git failed without output", "err", err)
			http.Error(w, "git failed", http.StatusInternalServerError)
			return
		}
	}
	hdr := w.Header()
	hdr.Set("Content-Type", c.ctype)
	noCache(hdr)
	w.WriteHeader(http.StatusOK)
	fw := flushWriter{w: w, rc: http.NewResponseController(w)}
	_, werr := fw.Write(c.prefix)
	if werr == nil {
		_, werr = fw.Write(buf[:n])
	}
	var captured *limitedBuffer
	if c.capture != nil {
		captured = &limitedBuffer{max: c.captureMax}
		captured.Write(buf[:n])
	}
	if werr == nil {
		var dst io.Writer = fw
		if captured != nil {
			dst = io.MultiWriter(fw, captured)
		}
		_, werr = io.CopyBuffer(dst, stdout, buf)
	}
	if werr != nil {
		// The client is gone, or a Limiter cut a response it did not
		// take: stop git and its helpers.
		cancel()
	}
	if waited {
		return
	}
	err = cmd.Wait()
	switch {
	case err == nil:
		if captured != nil && werr == nil && !captured.over {
			output = captured.b
		}
	case werr != nil:
		log.Info("git response not delivered", "err", werr)
	case stdinErr.err() != nil:
		log.Info("git request body not delivered", "err", stdinErr.err())
	case ctx.Err() != nil:
		log.Info("git stopped", "err", context.Cause(ctx))
	default:
		log.Warn("git failed", "err", err)
	}
}

func ignoreEOF(err error) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return nil
	}
	return err
}

// limitedBuffer keeps what is written to it up to max bytes, and then
// only that it went over.
type limitedBuffer struct {
	b    []byte
	max  int64
	over bool
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if !l.over {
		if int64(len(l.b)+len(p)) > l.max {
			l.over, l.b = true, nil
		} else {
			l.b = append(l.b, p...)
		}
	}
	return len(p), nil
}

// recordingReader remembers the first error other than io.EOF that its
// reader returned: why git's input stopped.
type recordingReader struct {
	r    io.Reader
	mu   sync.Mutex
	fail error
}

func (rr *recordingReader) Read(p []byte) (int, error) {
	n, err := rr.r.Read(p)
	if err != nil && err != io.EOF {
		rr.mu.Lock()
		if rr.fail == nil {
			rr.fail = err
		}
		rr.mu.Unlock()
	}
	return n, err
}

func (rr *recordingReader) err() error {
	rr.mu.Lock()
	defer rr.mu.Unlock()
	return rr.fail
}

// flushWriter writes to a response and flushes after each write, so that
// git's progress and keep-alive packets reach the client as git sends
// them.
type flushWriter struct {
	w  io.Writer
	rc *http.ResponseController
}

func (f flushWriter) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	n, err := f.w.Write(p)
	if err == nil {
		err = f.rc.Flush()
	}
	return n, err
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
