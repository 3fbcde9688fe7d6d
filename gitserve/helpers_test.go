package gitserve_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/forgekit/accesstoken"
	"github.com/forgekit/accesstoken/gitserve"
	"github.com/forgekit/accesstoken/httpauth"
	"github.com/forgekit/accesstoken/internal/proctest"
	"github.com/forgekit/accesstoken/memstore"
)

// server is a git server for the tests: a public repository p/pub and a
// private one p/priv (same content), the token middleware, a Handler and
// optionally a Limiter in front.
type server struct {
	t       *testing.T
	root    string
	m       *accesstoken.Manager
	limiter *gitserve.Limiter
	handler *gitserve.Handler // set its fields before the first request
	cgi     *gitserve.CGI     // likewise
	srv     *httptest.Server
	log     syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// gitEnv isolates git from the machine's configuration.
func gitEnv(home string) []string {
	return []string{"HOME=" + home, "PATH=" + os.Getenv("PATH"), "GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0",
		"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.invalid", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.invalid"}
}

func requireGit(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("git not found; CI must have it")
		}
		t.Skip("git not found")
	}
}

func runGit(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = gitEnv(t.TempDir())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// newServer starts a server; a nil limits means no Limiter. The
// functions set up the Handler further.
func newServer(t *testing.T, limits *gitserve.Limits, setup ...func(*gitserve.Handler)) *server {
	t.Helper()
	return newServerWith(t, limits, false, setup...)
}

// newServerWith is newServer, with git http-backend (gitserve.CGI)
// serving instead of the Handler when cgi is set.
func newServerWith(t *testing.T, limits *gitserve.Limits, cgi bool, setup ...func(*gitserve.Handler)) *server {
	t.Helper()
	requireGit(t)
	s := &server{t: t, root: t.TempDir()}
	seed := filepath.Join(t.TempDir(), "seed")
	runGit(t, "", "init", "-q", "-b", "main", seed)
	if err := os.WriteFile(filepath.Join(seed, "README"), []byte("hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	runGit(t, seed, "add", "README")
	runGit(t, seed, "commit", "-q", "-m", "initial")
	for _, name := range []string{"pub", "priv"} {
		runGit(t, "", "clone", "-q", "--bare", seed, filepath.Join(s.root, "p", name+".git"))
	}
	m, err := accesstoken.New(memstore.New(), accesstoken.InsecureAllowAll())
	if err != nil {
		t.Fatal(err)
	}
	s.m = m
	logger := slog.New(slog.NewTextHandler(&s.log, nil))
	h := &gitserve.Handler{Root: s.root, Logger: logger}
	for _, f := range setup {
		f(h)
	}
	c := &gitserve.CGI{Root: s.root, Logger: logger}
	s.handler, s.cgi = h, c
	var git http.Handler = h
	if cgi {
		git = c
	}
	auth, err := httpauth.Middleware(m, httpauth.ResolverFunc(resolve))
	if err != nil {
		t.Fatal(err)
	}
	handler := auth(git)
	if limits != nil {
		l, err := gitserve.NewLimiter(*limits)
		if err != nil {
			t.Fatal(err)
		}
		s.limiter, h.Limiter, c.Limiter = l, l, l
		handler = l.Middleware(handler)
	}
	s.srv = httptest.NewServer(handler)
	t.Cleanup(s.srv.Close)
	return s
}

func resolve(_ *http.Request, p string) (*httpauth.Repo, error) {
	switch p {
	case "p/pub.git", "p/priv.git":
		name := strings.TrimSuffix(strings.TrimPrefix(p, "p/"), ".git")
		return &httpauth.Repo{Resource: accesstoken.Resource{Project: "p", Repository: name}, Dir: p, Public: name == "pub"}, nil
	}
	return nil, httpauth.ErrRepoNotFound
}

func (s *server) addr() string { return s.srv.Listener.Addr().String() }

// tokens numbers the tokens' descriptions, which must be unique among an
// owner's active tokens of a target.
var tokens struct {
	sync.Mutex
	n int
}

// token issues a token for project p with the given scopes.
func (s *server) token(scopes ...accesstoken.Scope) string {
	s.t.Helper()
	tokens.Lock()
	tokens.n++
	desc := fmt.Sprintf("test %d", tokens.n)
	tokens.Unlock()
	iss, err := s.m.Issue(context.Background(), accesstoken.IssueRequest{Owner: "alice", Description: desc, Target: accesstoken.ProjectTarget("p"), Scopes: scopes})
	if err != nil {
		s.t.Fatal(err)
	}
	return iss.Secret.Reveal()
}

// clone clones repo with git, with the token if not empty.
func (s *server) clone(repo, token string) (string, error) {
	u := "http://" + s.addr() + "/" + repo
	if token != "" {
		u = "http://x:" + token + "@" + s.addr() + "/" + repo
	}
	cmd := exec.Command("git", "clone", "-q", u, filepath.Join(s.t.TempDir(), "c"))
	cmd.Env = gitEnv(s.t.TempDir())
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// holdConn opens a connection and sends a request's headers, announcing
// a body of length bytes, and nothing more.
func holdConn(t *testing.T, addr, method, target string, headers []string, length int) net.Conn {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\n", method, target, addr)
	for _, h := range headers {
		b.WriteString(h + "\r\n")
	}
	fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n", length)
	if _, err := conn.Write(b.Bytes()); err != nil {
		t.Fatal(err)
	}
	return conn
}

// readResponse reads a response from conn, within a minute.
func readResponse(t *testing.T, conn net.Conn) (*http.Response, string) {
	t.Helper()
	_ = conn.SetReadDeadline(time.Now().Add(time.Minute))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("reading the response: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// waitFor polls cond until it holds, failing the test after a minute.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited a minute for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// gitProcesses returns the git processes this test binary has started,
// directly or not.
func gitProcesses(t *testing.T) []proctest.Proc {
	t.Helper()
	return proctest.Git(os.Getpid())
}
