package gitserve

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"sync"
	"time"
)

// Limits are the caps of a [Limiter]. A zero field takes its default; a
// negative one is an error, except where it says otherwise.
type Limits struct {
	// MaxProcesses caps the git commands running at once, for every
	// client together (each may start helpers of its own, such as git
	// pack-objects). The default is 4 per CPU the Go runtime uses
	// (GOMAXPROCS), and at least 8.
	MaxProcesses int

	// MaxWaiting caps the requests waiting for a process when
	// MaxProcesses are running; a request beyond it is refused at once.
	// The default is 8 times MaxProcesses. A negative value means no
	// waiting: a request that finds every process slot taken is refused.
	MaxWaiting int

	// MaxWait caps how long a request waits for a process; it is then
	// refused. The default is 30 seconds.
	MaxWait time.Duration

	// MaxPerClient caps the git requests of one client ([Limits.ClientKey])
	// in flight at once: waiting for a process, sending a body, running
	// or receiving a response. A request beyond it is refused at once, so
	// that one client holding connections open cannot take every slot.
	// The default is 32.
	MaxPerClient int

	// IdleTimeout cuts a request whose body or response stops moving: a
	// read of the request body that gets nothing for this long, or a
	// write of the response that the client does not take for this long,
	// fails; the handler then stops and its git process is killed. git
	// itself keeps a quiet transfer alive (upload-pack and receive-pack
	// send a keep-alive every 5 seconds while they work), so a transfer
	// that is slow but moving is never cut. The default is 1 minute.
	IdleTimeout time.Duration

	// MaxDuration, if positive, caps a whole request: after it the
	// request's context ends, its git process is killed and its
	// connection's reads and writes fail. The default, zero, is no cap:
	// clones of large repositories can take long.
	MaxDuration time.Duration

	// ClientKey returns the client a request comes from, for
	// MaxPerClient. The default is the IP address of r.RemoteAddr; behind
	// a reverse proxy, return the address the proxy reports (and only
	// from a proxy you trust).
	ClientKey func(r *http.Request) string

	// RetryAfter is what a refused request is told, in its Retry-After
	// header, to wait before trying again. The default is 5 seconds.
	RetryAfter time.Duration
}

// Defaults of [Limits].
const (
	DefaultMaxWait      = 30 * time.Second
	DefaultMaxPerClient = 32
	DefaultIdleTimeout  = time.Minute
	DefaultRetryAfter   = 5 * time.Second
)

// Errors of a [Limiter], in the error a refused request is logged with.
var (
	// ErrBusy reports a request refused because MaxProcesses git
	// processes are running and MaxWaiting requests are waiting, or
	// because it waited MaxWait. Status 503 with Retry-After.
	ErrBusy = errors.New("gitserve: too many git processes")
	// ErrClientBusy reports a request refused because its client has
	// MaxPerClient requests in flight. Status 503 with Retry-After.
	ErrClientBusy = errors.New("gitserve: too many requests from this client")
)

// Limiter bounds what clients can make a git server do: git processes
// running at once, requests waiting for one, requests in flight per
// client, and requests whose body or response stops moving. Build one
// with [NewLimiter]; put its [Limiter.Middleware] in front of the git
// handler (outside [httpauth.Middleware], so that anonymous requests are
// bounded before anything else is done for them), and give the same
// Limiter to [Handler] or [CGI], which take a process slot from it when
// they start git. A request beyond a cap gets 503 with Retry-After at
// once, or after waiting at most MaxWait: never an unbounded queue.
//
// A nil *Limiter limits nothing. A Limiter is safe for concurrent use.
type Limiter struct {
	lim       Limits
	procs     chan struct{} // a token per running process
	waiting   chan struct{} // a token per waiting request
	retryText string

	mu      sync.Mutex
	clients map[string]int
}

// NewLimiter returns a Limiter with the caps l, defaults filled in.
func NewLimiter(l Limits) (*Limiter, error) {
	switch {
	case l.MaxProcesses < 0, l.MaxWait < 0, l.MaxPerClient < 0, l.IdleTimeout < 0, l.MaxDuration < 0, l.RetryAfter < 0:
		return nil, errors.New("gitserve: negative limit")
	}
	if l.MaxProcesses == 0 {
		l.MaxProcesses = max(8, 4*runtime.GOMAXPROCS(0))
	}
	if l.MaxWaiting == 0 {
		l.MaxWaiting = 8 * l.MaxProcesses
	} else if l.MaxWaiting < 0 {
		l.MaxWaiting = 0
	}
	if l.MaxWait == 0 {
		l.MaxWait = DefaultMaxWait
	}
	if l.MaxPerClient == 0 {
		l.MaxPerClient = DefaultMaxPerClient
	}
	if l.IdleTimeout == 0 {
		l.IdleTimeout = DefaultIdleTimeout
	}
	if l.ClientKey == nil {
		l.ClientKey = clientIP
	}
	if l.RetryAfter == 0 {
		l.RetryAfter = DefaultRetryAfter
	}
	return &Limiter{
		lim:       l,
		procs:     make(chan struct{}, l.MaxProcesses),
		waiting:   make(chan struct{}, max(l.MaxWaiting, 1)),
		retryText: strconv.Itoa(int((l.RetryAfter + time.Second - 1) / time.Second)),
		clients:   map[string]int{},
	}, nil
}

// Limits returns the Limiter's caps, defaults filled in.
func (l *Limiter) Limits() Limits { return l.lim }

// Stats is what a [Limiter] holds at one moment.
type Stats struct {
	Running  int // git processes running
	Waiting  int // requests waiting for a process
	InFlight int // requests in flight, every client together
	Clients  int // clients with requests in flight
}

// Stats returns what the Limiter holds now, for a status page or metrics.
func (l *Limiter) Stats() Stats {
	if l == nil {
		return Stats{}
	}
	l.mu.Lock()
	n, c := 0, len(l.clients)
	for _, k := range l.clients {
		n += k
	}
	l.mu.Unlock()
	waiting := len(l.waiting)
	if l.lim.MaxWaiting == 0 {
		waiting = 0
	}
	return Stats{Running: len(l.procs), Waiting: waiting, InFlight: n, Clients: c}
}

// acquire takes a process slot for r, waiting if the caps allow, and
// returns the function that gives it back. A nil Limiter gives a slot at
// once.
func (l *Limiter) acquire(r *http.Request) (release func(), err error) {
	if l == nil {
		return func() {}, nil
	}
	select {
	case l.procs <- struct{}{}:
		return l.release, nil
	default:
	}
	if l.lim.MaxWaiting == 0 {
		return nil, ErrBusy
	}
	select {
	case l.waiting <- struct{}{}:
	default:
		return nil, ErrBusy
	}
	defer func() { <-l.waiting }()
	t := time.NewTimer(l.lim.MaxWait)
	defer t.Stop()
	select {
	case l.procs <- struct{}{}:
		return l.release, nil
	case <-t.C:
		return nil, fmt.Errorf("%w: waited %v", ErrBusy, l.lim.MaxWait)
	case <-r.Context().Done():
		return nil, r.Context().Err()
	}
}

func (l *Limiter) release() { <-l.procs }

// admit takes a process slot for r (acquire) or, when the caps refuse
// one, logs why and answers 503 (refuse); ok says which. Handler and CGI
// call it just before they start git.
func (l *Limiter) admit(w http.ResponseWriter, r *http.Request, log *slog.Logger) (release func(), ok bool) {
	release, err := l.acquire(r)
	if err != nil {
		log.Warn("git request refused", "err", err)
		l.refuse(w, err)
		return nil, false
	}
	return release, true
}

// refuse answers a request the Limiter refused: 503 with Retry-After, and
// a line git shows its user.
func (l *Limiter) refuse(w http.ResponseWriter, err error) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	retry := "5"
	if l != nil {
		retry = l.retryText
	}
	h.Set("Retry-After", retry)
	w.WriteHeader(http.StatusServiceUnavailable)
	msg := "the git server is busy; try again in a few seconds\n"
	if errors.Is(err, ErrClientBusy) {
		msg = "too many git requests at once from your address; try again in a few seconds\n"
	}
	_, _ = io.WriteString(w, msg)
}

// Middleware bounds the requests of next: per client in flight, bodies and
// responses that stop moving, and the whole request (see [Limits]). A
// request over its client's cap gets 503 with Retry-After.
func (l *Limiter) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := l.lim.ClientKey(r)
		if !l.enter(key) {
			l.refuse(w, ErrClientBusy)
			return
		}
		defer l.leave(key)

		rc := http.NewResponseController(w)
		var end time.Time // the request's overall deadline, if any
		if l.lim.MaxDuration > 0 {
			end = time.Now().Add(l.lim.MaxDuration)
			ctx, cancel := context.WithDeadline(r.Context(), end)
			defer cancel()
			r = r.WithContext(ctx)
			_ = rc.SetReadDeadline(end)
		}
		iw := &idleWriter{ResponseWriter: w, rc: rc, idle: l.lim.IdleTimeout, end: end}
		if r.Body != nil && r.Body != http.NoBody {
			r2 := *r
			r2.Body = &idleBody{body: r.Body, rc: rc, idle: l.lim.IdleTimeout, end: end}
			r = &r2
		}
		defer iw.finish()
		next.ServeHTTP(iw, r)
	})
}

// enter counts a request of client key in, if its cap allows.
func (l *Limiter) enter(key string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.clients[key] >= l.lim.MaxPerClient {
		return false
	}
	l.clients[key]++
	return true
}

func (l *Limiter) leave(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.clients[key] <= 1 {
		delete(l.clients, key)
	} else {
		l.clients[key]--
	}
}

// deadline returns now+idle, or end if that is sooner.
func deadline(idle time.Duration, end time.Time) time.Time {
	d := time.Now().Add(idle)
	if !end.IsZero() && end.Before(d) {
		return end
	}
	return d
}

// idleBody is a request body whose reads fail once one of them waits for
// the client for longer than idle. The read deadline is set only while a
// read is waiting (and reset to the request's end after it), since a
// deadline left on the connection would also end the server's background
// read once the body is done, and with it the request.
type idleBody struct {
	body io.ReadCloser
	rc   *http.ResponseController
	idle time.Duration
	end  time.Time
}

func (b *idleBody) Read(p []byte) (int, error) {
	_ = b.rc.SetReadDeadline(deadline(b.idle, b.end))
	n, err := b.body.Read(p)
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		// Not cut: leave no deadline for the server's own reads. (Once
		// cut, the deadline stays passed, so that the server does not
		// wait for the rest of the body either.)
		_ = b.rc.SetReadDeadline(b.end)
	}
	return n, err
}

func (b *idleBody) Close() error { return b.body.Close() }

// idleWriter is a ResponseWriter whose writes fail once one of them waits
// for the client for longer than idle.
type idleWriter struct {
	http.ResponseWriter
	rc   *http.ResponseController
	idle time.Duration
	end  time.Time
}

func (w *idleWriter) Write(p []byte) (int, error) {
	_ = w.rc.SetWriteDeadline(deadline(w.idle, w.end))
	return w.ResponseWriter.Write(p)
}

// Flush sends what is buffered, with the same bound.
func (w *idleWriter) Flush() {
	_ = w.rc.SetWriteDeadline(deadline(w.idle, w.end))
	_ = w.rc.Flush()
}

// Unwrap lets [http.ResponseController] reach the server's writer.
func (w *idleWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// finish gives what the server does after the handler the same bound:
// the last flush of the response, and reading what is left of the request
// body (which the server does before it answers a request whose body the
// handler did not read).
func (w *idleWriter) finish() {
	d := deadline(w.idle, w.end)
	_ = w.rc.SetWriteDeadline(d)
	_ = w.rc.SetReadDeadline(d)
}
