package httpauth_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/forgekit/accesstoken"
	"github.com/forgekit/accesstoken/httpauth"
	"github.com/forgekit/accesstoken/internal/proctest"
)

// heldRequest is a request whose headers are sent at once and whose body
// is sent later, as a client that holds a connection open does.
type heldRequest struct {
	t    *testing.T
	conn net.Conn
}

// holdRequest sends the request line and headers (with Content-Length:
// length) and nothing of the body.
func holdRequest(t *testing.T, addr, method, target string, headers []string, length int) *heldRequest {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n", method, target, addr)
	for _, h := range headers {
		b.WriteString(h + "\r\n")
	}
	fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n", length)
	if _, err := conn.Write(b.Bytes()); err != nil {
		t.Fatal(err)
	}
	return &heldRequest{t: t, conn: conn}
}

// finish sends body and returns the response.
func (h *heldRequest) finish(body []byte) rawResponse {
	h.t.Helper()
	_ = h.conn.SetDeadline(time.Now().Add(time.Minute))
	werr := make(chan error, 1)
	go func() {
		_, err := h.conn.Write(body)
		werr <- err
	}()
	resp, err := http.ReadResponse(bufio.NewReader(h.conn), nil)
	if err != nil {
		h.t.Fatalf("reading the response: %v (write: %v)", err, <-werr)
	}
	defer resp.Body.Close()
	rb, _ := io.ReadAll(resp.Body)
	return rawResponse{resp.StatusCode, resp.Header, string(rb)}
}

// pktLine returns s as a pkt-line.
func pktLine(s string) string { return fmt.Sprintf("%04x%s", len(s)+4, s) }

// v2LsRefs is a protocol v2 ls-refs request: every ref.
var v2LsRefs = []byte(pktLine("command=ls-refs\n") + "0001" + pktLine("peel\n") + "0000")

// revoke revokes the token whose secret is given, as its owner.
func (f *forge) revoke(owner, secret string) {
	f.t.Helper()
	tok, err := f.m.Authenticate(context.Background(), secret)
	if err != nil {
		f.t.Fatal(err)
	}
	if _, err := f.m.Revoke(context.Background(), owner, tok.ID); err != nil {
		f.t.Fatal(err)
	}
}

// TestHeldPushAfterRevocation: a receive-pack request opened with a valid
// push token and held without a body, whose token is then revoked and
// whose owner loses the project, updates no ref when its body finally
// arrives (the security review's reproduction).
func TestHeldPushAfterRevocation(t *testing.T) {
	forBackends(t, func(t *testing.T, f *forge) {
		srv := f.server()
		addr := srv.Listener.Addr().String()
		tok := f.issue("alice", accesstoken.RepositoryTarget("alpha", "one"), pushScope)
		body := newPushBodies(f).body("refs/heads/planted-late")
		held := holdRequest(t, addr, "POST", "/alpha/one.git/git-receive-pack",
			[]string{basicAuth("x", tok), "Content-Type: application/x-git-receive-pack-request"}, len(body))
		f.waitEvent(accesstoken.EventUsed, tok) // the middleware let it in

		f.revoke("alice", tok)
		f.setPerm("alice", "alpha", none)
		resp := held.finish(body)
		if resp.status == http.StatusOK && strings.Contains(resp.body, "ok refs/heads/planted-late") {
			t.Fatalf("the held push was applied after the revocation:\n%s", resp.body)
		}
		if strings.Contains(f.refs("alpha/one.git"), "planted-late") {
			t.Fatal("the branch of the held push exists")
		}
		if f.backend == "direct" && resp.status != http.StatusUnauthorized {
			t.Errorf("status %d; want 401 (token revoked)\n%s", resp.status, resp.body)
		}

		// Control: the same held request with a token left alone pushes.
		f.setPerm("alice", "alpha", write)
		tok2 := f.issue("alice", accesstoken.RepositoryTarget("alpha", "two"), pushScope)
		body2 := newPushBodies(f).body("refs/heads/held-ok")
		held = holdRequest(t, addr, "POST", "/alpha/two.git/git-receive-pack",
			[]string{basicAuth("x", tok2), "Content-Type: application/x-git-receive-pack-request"}, len(body2))
		f.waitEvent(accesstoken.EventUsed, tok2)
		if resp := held.finish(body2); resp.status != http.StatusOK || !strings.Contains(f.refs("alpha/two.git"), "held-ok") {
			t.Fatalf("control: held push with a live token: %d\n%s", resp.status, resp.body)
		}
	})
}

// TestHeldFetchAfterRevocation: a protocol v2 upload-pack request held
// open, whose token is revoked before its ls-refs command arrives, lists
// nothing: in particular not a branch pushed after the revocation.
func TestHeldFetchAfterRevocation(t *testing.T) {
	forBackends(t, func(t *testing.T, f *forge) {
		srv := f.server()
		addr := srv.Listener.Addr().String()
		tok := f.issue("alice", accesstoken.ProjectTarget("alpha"), pullScope)
		hdrs := []string{basicAuth("x", tok), "Content-Type: application/x-git-upload-pack-request", "Git-Protocol: version=2"}
		held := holdRequest(t, addr, "POST", "/alpha/one.git/git-upload-pack", hdrs, len(v2LsRefs))
		f.waitEvent(accesstoken.EventUsed, tok)

		f.revoke("alice", tok)
		pusher := f.issue("alice", accesstoken.ProjectTarget("alpha"), pushScope)
		if out, err := f.git(f.workRepo("late"), "push", "-q", basicURL(srv, "x", pusher, "alpha/one.git"), "HEAD:refs/heads/pushed-after-revocation"); err != nil {
			t.Fatalf("push: %v\n%s", err, out)
		}
		resp := held.finish(v2LsRefs)
		if strings.Contains(resp.body, "pushed-after-revocation") || strings.Contains(resp.body, "refs/heads/main") {
			t.Fatalf("the held ls-refs listed refs after the revocation:\n%s", resp.body)
		}
		if f.backend == "direct" && resp.status != http.StatusUnauthorized {
			t.Errorf("status %d; want 401 (token revoked)\n%s", resp.status, resp.body)
		}

		// Control: with a live token the same held request lists the refs.
		tok2 := f.issue("alice", accesstoken.ProjectTarget("alpha"), pullScope)
		hdrs[0] = basicAuth("x", tok2)
		held = holdRequest(t, addr, "POST", "/alpha/one.git/git-upload-pack", hdrs, len(v2LsRefs))
		f.waitEvent(accesstoken.EventUsed, tok2)
		if resp := held.finish(v2LsRefs); !strings.Contains(resp.body, "pushed-after-revocation") {
			t.Fatalf("control: held ls-refs with a live token: %d\n%s", resp.status, resp.body)
		}
	})
}

// TestHeldAnonymousFetchMadePrivate: an anonymous fetch of a public
// repository, held open while the repository is made private, gets
// nothing.
func TestHeldAnonymousFetchMadePrivate(t *testing.T) {
	forBackends(t, func(t *testing.T, f *forge) {
		srv := f.server()
		addr := srv.Listener.Addr().String()
		hdrs := []string{"Content-Type: application/x-git-upload-pack-request", "Git-Protocol: version=2"}
		held := holdRequest(t, addr, "POST", "/alpha/public.git/git-upload-pack", hdrs, len(v2LsRefs))
		// Nothing to wait for but the request reaching the server: a
		// second, complete request on another connection is answered
		// after the first's headers were read only if the server is
		// serving both; the re-check runs when the body arrives anyway.
		if resp := rawRequest(t, addr, "POST", "/alpha/public.git/git-upload-pack", hdrs, v2LsRefs, false); !strings.Contains(resp.body, "refs/heads/main") {
			t.Fatalf("control: anonymous ls-refs of the public repository: %d %s", resp.status, resp.body)
		}
		f.setPublic("alpha", "public", false)
		resp := held.finish(v2LsRefs)
		if strings.Contains(resp.body, "refs/heads/main") {
			t.Fatalf("the held anonymous ls-refs listed refs after the repository became private:\n%s", resp.body)
		}
	})
}

// setPublic makes a repository public or private, as the forge's owner
// does on its settings page. (Repos the resolver returned are not
// changed: a new one replaces them.)
func (f *forge) setPublic(project, name string, public bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	res := accesstoken.Resource{Project: project, Repository: name}
	r := *f.repos[res]
	r.Public = public
	f.repos[res] = &r
}

// TestPaddedPushAfterRevocation: a push whose request ends in padding, so
// that the pack is complete before the body is, and whose pack arrives
// after the revocation, is refused, with the token checked before every
// read (WithRecheckInterval(1ns)); a live token's padded push is applied.
// (git 2.39 reads a push to its end before it acts, so the check at the
// end would refuse it too; TestRecheckBody shows the checks on the way.)
func TestPaddedPushAfterRevocation(t *testing.T) {
	forBackends(t, func(t *testing.T, f *forge) {
		srv := f.server(httpauth.WithRecheckInterval(time.Nanosecond))
		addr := srv.Listener.Addr().String()
		for _, revoke := range []bool{false, true} {
			tok := f.issue("alice", accesstoken.RepositoryTarget("alpha", "one"), pushScope)
			ref := fmt.Sprintf("refs/heads/padded-%v", revoke)
			body := append(newPushBodies(f).body(ref), bytes.Repeat([]byte("x"), 4096)...)
			held := holdRequest(t, addr, "POST", "/alpha/one.git/git-receive-pack",
				[]string{basicAuth("x", tok), "Content-Type: application/x-git-receive-pack-request"}, len(body))
			f.waitEvent(accesstoken.EventUsed, tok)
			if revoke {
				f.revoke("alice", tok)
			}
			resp := held.finish(body)
			if got := strings.Contains(f.refs("alpha/one.git"), ref); got == revoke {
				t.Fatalf("revoked %v: branch created %v (status %d)\n%s", revoke, got, resp.status, resp.body)
			}
		}
	})
}

// waitNoGit waits until this test binary has no git process left.
func waitNoGit(t *testing.T, what string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		git := proctest.Git(os.Getpid())
		if len(git) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: git processes still running a minute later: %v", what, git)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestTruncatedBodyLeavesNoProcess: a client that announces a body, sends
// part of it and goes away leaves no git process behind. (git
// http-backend 2.39 given the announced length as CONTENT_LENGTH loops
// for ever on such a body, at full CPU.)
func TestTruncatedBodyLeavesNoProcess(t *testing.T) {
	forBackends(t, func(t *testing.T, f *forge) {
		srv := f.server()
		addr := srv.Listener.Addr().String()
		tok := f.issue("alice", accesstoken.RepositoryTarget("alpha", "one"), pushScope)
		body := newPushBodies(f).body("refs/heads/truncated")
		held := holdRequest(t, addr, "POST", "/alpha/one.git/git-receive-pack",
			[]string{basicAuth("x", tok), "Content-Type: application/x-git-receive-pack-request"}, len(body)+1000)
		if _, err := held.conn.Write(body); err != nil {
			t.Fatal(err)
		}
		// Wait for git to have started on it, then go away.
		deadline := time.Now().Add(time.Minute)
		for len(proctest.Descendants(os.Getpid())) == 0 {
			if time.Now().After(deadline) {
				t.Fatal("no git process started for the push")
			}
			time.Sleep(5 * time.Millisecond)
		}
		held.conn.Close()
		waitNoGit(t, "after the client went away")
		if strings.Contains(f.refs("alpha/one.git"), "truncated") {
			t.Fatal("the truncated push created its branch")
		}
	})
}
