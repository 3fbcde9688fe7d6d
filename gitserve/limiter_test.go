package gitserve_test

import (
	"bufio"
	"crypto/rand"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/forgekit/accesstoken"
	"github.com/forgekit/accesstoken/gitserve"
)

var uploadHeaders = []string{"Content-Type: application/x-git-upload-pack-request"}

// TestHeldConnectionsHoldNoProcess: 40 anonymous fetch requests that send
// their headers and announce a body of a megabyte, and send nothing, hold
// no git process (the security review counted 123 with git http-backend).
// Meanwhile a clone works; when they go away, nothing is left.
func TestHeldConnectionsHoldNoProcess(t *testing.T) {
	for _, cgi := range []bool{false, true} {
		t.Run(map[bool]string{false: "direct", true: "cgi"}[cgi], func(t *testing.T) { testHeldConnections(t, cgi) })
	}
}

func testHeldConnections(t *testing.T, cgi bool) {
	s := newServerWith(t, &gitserve.Limits{MaxPerClient: 64}, cgi)
	var conns []net.Conn
	for range 40 {
		conns = append(conns, holdConn(t, s.addr(), "POST", "/p/pub.git/git-upload-pack", uploadHeaders, 1_000_000))
	}
	waitFor(t, "40 requests in flight", func() bool { return s.limiter.Stats().InFlight == 40 })
	if st := s.limiter.Stats(); st.Running != 0 {
		t.Errorf("%d git processes for 40 requests without a body; want 0", st.Running)
	}
	if p := gitProcesses(t); len(p) != 0 {
		t.Errorf("git processes for requests without a body: %v", p)
	}
	if out, err := s.clone("p/pub.git", ""); err != nil {
		t.Fatalf("clone while 40 connections are held: %v\n%s", err, out)
	}
	for _, c := range conns {
		c.Close()
	}
	waitFor(t, "the held requests to end", func() bool { return s.limiter.Stats().InFlight == 0 })
	waitFor(t, "no git process", func() bool { return len(gitProcesses(t)) == 0 })
}

// TestFloodRefusedAtClientCap: beyond MaxPerClient, a client's requests
// get 503 with Retry-After at once; once its held requests go away it is
// served again.
func TestFloodRefusedAtClientCap(t *testing.T) {
	s := newServer(t, &gitserve.Limits{MaxPerClient: 10, RetryAfter: 7 * time.Second})
	var held, refused []net.Conn
	for i := range 40 {
		c := holdConn(t, s.addr(), "POST", "/p/pub.git/git-upload-pack", uploadHeaders, 1_000_000)
		if i < 10 {
			held = append(held, c)
			waitFor(t, fmt.Sprintf("request %d in flight", i+1), func() bool { return s.limiter.Stats().InFlight == i+1 })
		} else {
			refused = append(refused, c)
		}
	}
	for _, c := range refused {
		resp, body := readResponse(t, c)
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != "7" {
			t.Fatalf("request over the cap: %d, Retry-After %q; want 503, 7\n%s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
		}
		if !strings.Contains(body, "too many git requests") {
			t.Errorf("503 body %q does not say why", body)
		}
	}
	if out, err := s.clone("p/pub.git", ""); err == nil || !strings.Contains(out, "503") {
		t.Fatalf("clone at the cap: %v; want refused with 503\n%s", err, out)
	}
	for _, c := range held {
		c.Close()
	}
	waitFor(t, "the held requests to end", func() bool { return s.limiter.Stats().InFlight == 0 })
	if out, err := s.clone("p/pub.git", ""); err != nil {
		t.Fatalf("clone after the flood: %v\n%s", err, out)
	}
}

// holdPush starts a push whose git receive-pack runs (its body has
// started) and then waits for the rest of its body.
func holdPush(t *testing.T, s *server) net.Conn {
	t.Helper()
	tok := s.token(accesstoken.ScopePush)
	hdrs := []string{"Authorization: Bearer " + tok, "Content-Type: application/x-git-receive-pack-request"}
	c := holdConn(t, s.addr(), "POST", "/p/priv.git/git-receive-pack", hdrs, 1000)
	// The start of a pkt-line of 256 bytes: git reads it and waits for the
	// rest. (The middleware keeps the last 64 bytes back until the body
	// is complete, so git gets 36 of these 100.)
	if _, err := c.Write([]byte("0100" + strings.Repeat("a", 96))); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestProcessCap: with MaxProcesses git processes running and no room to
// wait, a clone gets 503; with room, it waits for a process and succeeds
// once one is free.
func TestProcessCap(t *testing.T) {
	t.Run("no waiting", func(t *testing.T) {
		s := newServer(t, &gitserve.Limits{MaxProcesses: 1, MaxWaiting: -1})
		c := holdPush(t, s)
		waitFor(t, "the push's git to run", func() bool { return s.limiter.Stats().Running == 1 })
		if out, err := s.clone("p/pub.git", ""); err == nil || !strings.Contains(out, "503") {
			t.Fatalf("clone with every process slot taken: %v; want 503\n%s", err, out)
		}
		c.Close()
		waitFor(t, "the push to end", func() bool { return s.limiter.Stats().Running == 0 })
		if out, err := s.clone("p/pub.git", ""); err != nil {
			t.Fatalf("clone once a slot is free: %v\n%s", err, out)
		}
	})
	t.Run("waiting", func(t *testing.T) {
		s := newServer(t, &gitserve.Limits{MaxProcesses: 1, MaxWaiting: 1, MaxWait: 10 * time.Minute})
		c := holdPush(t, s)
		waitFor(t, "the push's git to run", func() bool { return s.limiter.Stats().Running == 1 })
		done := make(chan error, 1)
		go func() {
			out, err := s.clone("p/pub.git", "")
			if err != nil {
				err = fmt.Errorf("%w\n%s", err, out)
			}
			done <- err
		}()
		waitFor(t, "the clone to wait", func() bool { return s.limiter.Stats().Waiting == 1 })
		c.Close()
		if err := <-done; err != nil {
			t.Fatalf("clone that waited for a slot: %v", err)
		}
	})
}

// TestIdleBodyCut: a push whose body stops moving is cut after
// IdleTimeout, and its git process with it.
func TestIdleBodyCut(t *testing.T) {
	s := newServer(t, &gitserve.Limits{IdleTimeout: 200 * time.Millisecond})
	c := holdPush(t, s)
	// The server gives up on the body: the client gets an error, or the
	// connection closed.
	_ = c.SetReadDeadline(time.Now().Add(time.Minute))
	if resp, err := http.ReadResponse(bufio.NewReader(c), nil); err == nil && resp.StatusCode < 400 {
		t.Errorf("status %d for a push whose body stopped; want an error or none", resp.StatusCode)
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("no answer and the connection still open a minute later: %v", err)
	}
	waitFor(t, "the cut request to end", func() bool { return s.limiter.Stats().InFlight == 0 })
	waitFor(t, "no git process", func() bool { return len(gitProcesses(t)) == 0 })
}

// TestMaxDuration: a request is cut after MaxDuration even if it keeps
// its connection otherwise within IdleTimeout.
func TestMaxDuration(t *testing.T) {
	s := newServer(t, &gitserve.Limits{IdleTimeout: time.Hour, MaxDuration: 300 * time.Millisecond})
	c := holdPush(t, s)
	// The request's reads and writes fail after MaxDuration: the client
	// gets no response, or an error.
	_ = c.SetReadDeadline(time.Now().Add(time.Minute))
	if resp, err := http.ReadResponse(bufio.NewReader(c), nil); err == nil && resp.StatusCode < 400 {
		t.Errorf("status %d for a push over its duration; want an error or none", resp.StatusCode)
	}
	waitFor(t, "the cut request to end", func() bool { return s.limiter.Stats().InFlight == 0 })
	waitFor(t, "no git process", func() bool { return len(gitProcesses(t)) == 0 })
}

// TestIdleResponseCut: a client that asks for a large pack and does not
// read it is cut after IdleTimeout, and git stops.
func TestIdleResponseCut(t *testing.T) {
	s := newServer(t, &gitserve.Limits{IdleTimeout: 200 * time.Millisecond})
	// A 16 MiB blob that does not compress: a response larger than the
	// connection's buffers.
	work := filepath.Join(t.TempDir(), "w")
	runGit(t, "", "clone", "-q", filepath.Join(s.root, "p", "pub.git"), work)
	blob := make([]byte, 16<<20)
	_, _ = rand.Read(blob)
	if err := os.WriteFile(filepath.Join(work, "big"), blob, 0o644); err != nil {
		t.Fatal(err)
	}
	runGit(t, work, "add", "big")
	runGit(t, work, "commit", "-q", "-m", "big")
	runGit(t, work, "push", "-q", "origin", "main")
	head := strings.TrimSpace(runGit(t, work, "rev-parse", "HEAD"))

	want := fmt.Sprintf("0032want %s\n", head)
	body := want + "0000" + "0009done\n"
	c := holdConn(t, s.addr(), "POST", "/p/pub.git/git-upload-pack", uploadHeaders, len(body))
	if _, err := c.Write([]byte(body)); err != nil {
		t.Fatal(err)
	}
	// Read nothing.
	waitFor(t, "the unread response to be cut", func() bool { return s.limiter.Stats().InFlight == 0 })
	waitFor(t, "no git process", func() bool { return len(gitProcesses(t)) == 0 })
}

// TestNewLimiterRejectsNegative: negative caps are errors.
func TestNewLimiterRejectsNegative(t *testing.T) {
	for _, l := range []gitserve.Limits{{MaxProcesses: -1}, {MaxWait: -1}, {MaxPerClient: -1}, {IdleTimeout: -1}, {MaxDuration: -1}, {RetryAfter: -1}} {
		if _, err := gitserve.NewLimiter(l); err == nil {
			t.Errorf("NewLimiter(%+v): no error", l)
		}
	}
	var nilLimiter *gitserve.Limiter
	if st := nilLimiter.Stats(); st != (gitserve.Stats{}) {
		t.Errorf("nil Limiter Stats: %+v", st)
	}
	_ = exec.ErrNotFound
}
