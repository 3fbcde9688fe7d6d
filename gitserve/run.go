package gitserve

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os/exec"
	"sync"
	"time"

	"github.com/forgekit/accesstoken/httpauth"
)

// run describes one git command serving a request.
type run struct {
	service string // "upload-pack" or "receive-pack"
	args    []string
	dir     string
	stdin   io.Reader
	ctype   string
	prefix  []byte // written before git's output
	// capture, if set, is called once when the request is done: with
	// git's whole output if git succeeded and it was all kept (at most
	// captureMax bytes, in a buffer that captureGrow, if set, let grow),
	// with nil otherwise.
	capture     func([]byte)
	captureGrow func(n int64) bool
	captureMax  int64
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
	release, ok := h.Limiter.admit(w, r, log)
	if !ok {
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
			refuseBody(w, r, log, in)
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
		captured = &limitedBuffer{max: c.captureMax, grow: c.captureGrow}
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

// limitedBuffer keeps what is written to it up to max bytes, in a buffer
// whose growth grow, if set, must allow (it reserves the room; the buffer
// gives it back with a negative n when it is dropped), and then only that
// it went over.
type limitedBuffer struct {
	b    []byte
	max  int64
	grow func(n int64) bool
	over bool
}

// minBuffer is the first size of a limitedBuffer's buffer.
const minBuffer = 32 << 10

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if l.over {
		return len(p), nil
	}
	need := int64(len(l.b) + len(p))
	if need > int64(cap(l.b)) {
		size := min(max(2*int64(cap(l.b)), need, minBuffer), l.max)
		if need > l.max || (l.grow != nil && !l.grow(size-int64(cap(l.b)))) {
			if l.grow != nil {
				l.grow(-int64(cap(l.b)))
			}
			l.over, l.b = true, nil
			return len(p), nil
		}
		b := make([]byte, len(l.b), size)
		copy(b, l.b)
		l.b = b
	}
	l.b = append(l.b, p...)
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
