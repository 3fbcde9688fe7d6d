package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/forgekit/accesstoken"
)

// The tests build the real binary, set the forge up through its command
// line, start `forge serve` on a free port and drive it with the real git
// client and HTTP.

var forgeBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "forge-test-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	forgeBin = filepath.Join(dir, "forge")
	args := []string{"build", "-o", forgeBin}
	if os.Getenv("FORGE_TEST_RACE") == "1" {
		// The server under the race detector too: slow (a race-enabled
		// binary with the SQLite driver takes seconds to start), so only
		// on request.
		args = append(args, "-race")
	}
	cmd := exec.Command("go", append(args, ".")...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building forge:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// needGit skips without git, except under CI=true, where it fails.
func needGit(t *testing.T) {
	t.Helper()
	need(t, "git")
}

func need(t *testing.T, bin string) string {
	t.Helper()
	p, err := exec.LookPath(bin)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s not found (CI=true: the test script must install it)", bin)
		}
		t.Skipf("%s not found", bin)
	}
	return p
}

// site is one forge installation: a data directory and, optionally, a
// PostgreSQL database.
type site struct {
	t    *testing.T
	data string
	db   string // postgres:// URL, or "" for SQLite
	home string // HOME of the forge's processes (and of its git)
}

// newSite returns a new forge, set up as an administrator does: only
// `forge serve` creates one, so it is started once and stopped.
func newSite(t *testing.T) *site {
	s := emptySite(t)
	s.create()
	return s
}

// emptySite returns a site with no forge yet.
func emptySite(t *testing.T) *site {
	needGit(t)
	return &site{t: t, data: t.TempDir(), home: t.TempDir()}
}

// create sets the forge up: the first `forge serve` does.
func (s *site) create() {
	s.t.Helper()
	s.start().stop()
}

// command returns a forge command, its git isolated from the user's
// configuration as the client's is.
func (s *site) command(args ...string) *exec.Cmd {
	cmd := exec.Command(forgeBin, append(s.globalArgs(), args...)...)
	cmd.Env = append(os.Environ(), "HOME="+s.home, "XDG_CONFIG_HOME="+s.home, "GIT_CONFIG_NOSYSTEM=1")
	return cmd
}

func (s *site) globalArgs() []string {
	args := []string{"-data", s.data}
	if s.db != "" {
		args = append(args, "-db", s.db)
	}
	return args
}

// cli runs a forge command and returns its output and exit code.
func (s *site) cli(stdin string, args ...string) (out string, code int) {
	s.t.Helper()
	// The first argument may hold the command words: "user add".
	args = append(strings.Fields(args[0]), args[1:]...)
	cmd := s.command(args...)
	cmd.Stdin = strings.NewReader(stdin)
	b, err := cmd.CombinedOutput()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			return string(b), ee.ExitCode()
		}
		s.t.Fatalf("forge %v: %v", args, err)
	}
	return string(b), 0
}

// must runs a forge command that must succeed.
func (s *site) must(stdin string, args ...string) {
	s.t.Helper()
	if out, code := s.cli(stdin, args...); code != 0 {
		s.t.Fatalf("forge %v: exit %d\n%s", args, code, out)
	}
}

func (s *site) addUser(name string) { s.t.Helper(); s.must(password(name)+"\n", "user add", name) }

// password is each test user's password.
func password(user string) string { return "pw-of-" + user }

// server is a running `forge serve`.
type server struct {
	t    *testing.T
	cmd  *exec.Cmd
	URL  string // http://127.0.0.1:PORT
	host string // 127.0.0.1:PORT
	mu   sync.Mutex
	out  bytes.Buffer // standard output and error
	// stdout is standard output alone: the two are separate pipes, read
	// concurrently, so in out a line of the log can fall between two
	// lines the forge printed at once.
	stdout bytes.Buffer
	done   chan struct{}
	err    error
	// listening receives the URL the forge prints once it listens.
	listening chan string
}

func (s *server) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.out.Write(p)
}

func (s *server) output() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.out.String()
}

// printed returns what the forge wrote to standard output alone.
func (s *server) printed() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stdout.String()
}

// start starts `forge serve` on a free port and waits until it listens.
func (s *site) start(extra ...string) *server {
	s.t.Helper()
	srv := s.launch(extra...)
	srv.waitListening()
	return srv
}

// launch starts `forge serve` on a free port; waitListening waits until it
// listens.
func (s *site) launch(extra ...string) *server {
	s.t.Helper()
	args := append([]string{"serve", "-addr", "127.0.0.1:0"}, extra...)
	if !containsPrefix(extra, "-demo") {
		args = append(args, "-demo=false")
	}
	srv := &server{t: s.t, cmd: s.command(args...), done: make(chan struct{}), listening: make(chan string, 1)}
	stdout, err := srv.cmd.StdoutPipe()
	if err != nil {
		s.t.Fatal(err)
	}
	srv.cmd.Stderr = srv
	if err := srv.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			srv.Write([]byte(line + "\n"))
			srv.mu.Lock()
			srv.stdout.WriteString(line + "\n")
			srv.mu.Unlock()
			if u, ok := strings.CutPrefix(line, "forge listening on "); ok {
				srv.listening <- strings.TrimSuffix(u, "/")
			}
		}
		srv.err = srv.cmd.Wait()
		close(srv.done)
	}()
	s.t.Cleanup(func() {
		select {
		case <-srv.done:
		default:
			srv.cmd.Process.Kill()
			<-srv.done
		}
		if s.t.Failed() {
			s.t.Logf("forge output:\n%s", srv.output())
		}
	})
	return srv
}

func (srv *server) waitListening() {
	srv.t.Helper()
	select {
	case u := <-srv.listening:
		srv.URL = u
		srv.host = strings.TrimPrefix(u, "http://")
	case <-srv.done:
		srv.t.Fatalf("forge exited: %v\n%s", srv.err, srv.output())
	case <-time.After(2 * time.Minute):
		srv.t.Fatalf("forge did not start\n%s", srv.output())
	}
}

// stop sends SIGTERM and waits for a clean exit.
func (srv *server) stop() {
	srv.t.Helper()
	if err := srv.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		srv.t.Fatal(err)
	}
	select {
	case <-srv.done:
	case <-time.After(30 * time.Second):
		srv.t.Fatalf("forge did not stop on SIGTERM\n%s", srv.output())
	}
	if srv.err != nil {
		srv.t.Fatalf("forge exited with %v after SIGTERM\n%s", srv.err, srv.output())
	}
}

func containsPrefix(list []string, p string) bool {
	for _, s := range list {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// api sends a JSON API request as user (with their password) and returns
// the status and the body. body may be nil, a string (sent as is) or a
// value to encode.
func (srv *server) api(method, path, user string, body any) (int, []byte) {
	srv.t.Helper()
	return srv.apiAuth(method, path, func(r *http.Request) {
		if user != "" {
			r.SetBasicAuth(user, password(user))
		}
	}, body)
}

func (srv *server) apiAuth(method, path string, auth func(*http.Request), body any) (int, []byte) {
	srv.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			srv.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, srv.URL+path, rd)
	if err != nil {
		srv.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	auth(req)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		srv.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		srv.t.Fatal(err)
	}
	return resp.StatusCode, b
}

// apiToken is a token as the API returns it.
type apiTok struct {
	ID          string     `json:"id"`
	Token       string     `json:"token"`
	Description string     `json:"description"`
	Scopes      []string   `json:"scopes"`
	Owner       string     `json:"owner"`
	Target      apiTarget  `json:"target"`
	CreatedAt   time.Time  `json:"created_at"`
	ExpiresAt   *time.Time `json:"expires_at"`
	LastUsedAt  *time.Time `json:"last_used_at"`
	RevokedAt   *time.Time `json:"revoked_at"`
	RevokedBy   *string    `json:"revoked_by"`
	ReplacedBy  *string    `json:"replaced_by"`
	State       string     `json:"state"`
}

// tokensPath is the API path of the tokens of "project" or
// "project/repo".
func apiTokensPath(target string) string {
	if strings.Contains(target, "/") {
		return "/api/repos/" + target + "/tokens"
	}
	return "/api/projects/" + target + "/tokens"
}

// tokenSeq numbers the descriptions of the tokens tests issue, which
// must differ among a user's active tokens of a target.
var tokenSeq atomic.Int64

// issue mints a token through the API and fails the test unless it gets 201.
func (srv *server) issue(user, target string, scopes ...string) apiTok {
	srv.t.Helper()
	desc := fmt.Sprintf("test token %d", tokenSeq.Add(1))
	code, body := srv.api("POST", apiTokensPath(target), user, map[string]any{"description": desc, "scopes": scopes})
	if code != http.StatusCreated {
		srv.t.Fatalf("issuing a %v token for %s as %s: %d %s", scopes, target, user, code, body)
	}
	var tok apiTok
	if err := json.Unmarshal(body, &tok); err != nil {
		srv.t.Fatal(err)
	}
	return tok
}

// apiList is a page of a list, as the API returns it.
type apiList struct {
	Tokens     []apiTok `json:"tokens"`
	NextCursor *string  `json:"next_cursor"`
}

// list lists target's tokens as user sees them through the API (query
// is "" or "?all=true"), every page of them.
func (srv *server) list(user, target string, query string) []apiTok {
	srv.t.Helper()
	return srv.listAll(user, apiTokensPath(target), query)
}

// listAll lists every page of an API list at path.
func (srv *server) listAll(user, path, query string) []apiTok {
	srv.t.Helper()
	var toks []apiTok
	sep := "?"
	if query != "" {
		sep = "&"
	}
	for cursor := ""; ; {
		u := path + query
		if cursor != "" {
			u += sep + "cursor=" + url.QueryEscape(cursor)
		}
		code, body := srv.api("GET", u, user, nil)
		if code != http.StatusOK {
			srv.t.Fatalf("listing %s as %s: %d %s", u, user, code, body)
		}
		var page apiList
		if err := json.Unmarshal(body, &page); err != nil {
			srv.t.Fatalf("listing %s: %v\n%s", u, err, body)
		}
		toks = append(toks, page.Tokens...)
		if page.NextCursor == nil {
			return toks
		}
		cursor = *page.NextCursor
	}
}

// waitUsed waits until the list of target's tokens, as user sees it, shows
// the token id as used, and returns it. The library writes a last use about
// a second after the verification (accesstoken.LastUsedDelay): the deadline
// is thirty times that, for a loaded machine.
func (srv *server) waitUsed(user, target, id string) *apiTok {
	srv.t.Helper()
	deadline := time.Now().Add(30 * accesstoken.LastUsedDelay)
	for {
		l := find(srv.list(user, target, ""), id)
		if l != nil && l.LastUsedAt != nil {
			return l
		}
		if time.Now().After(deadline) {
			srv.t.Fatalf("token %s of %s: %+v; want it shown as used within %v", id, target, l, 30*accesstoken.LastUsedDelay)
		}
		time.Sleep(accesstoken.LastUsedDelay / 10)
	}
}

// gitClient runs the real git, isolated from the user's configuration.
type gitClient struct {
	t    *testing.T
	home string
}

func newGit(t *testing.T) *gitClient {
	needGit(t)
	return &gitClient{t: t, home: t.TempDir()}
}

func (g *gitClient) run(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = g.env()
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (g *gitClient) env() []string {
	return append(os.Environ(),
		"HOME="+g.home, "XDG_CONFIG_HOME="+g.home,
		"GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0", "GIT_ASKPASS=", "SSH_ASKPASS=",
		"GIT_AUTHOR_NAME=Test", "GIT_AUTHOR_EMAIL=test@example.invalid",
		"GIT_COMMITTER_NAME=Test", "GIT_COMMITTER_EMAIL=test@example.invalid")
}

// shell runs a shell command line, such as one the forge prints, with the
// same isolated git.
func (g *gitClient) shell(dir, script string) (string, error) {
	cmd := exec.Command("sh", "-c", script)
	cmd.Dir = dir
	cmd.Env = g.env()
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// clone clones u into a new directory; extra are options before "clone".
func (g *gitClient) clone(u string, extra ...string) (string, error) {
	dst := filepath.Join(g.t.TempDir(), "clone")
	return g.run("", append(extra, "clone", "-q", u, dst)...)
}

// workRepo returns a work tree with one commit, to push from.
func (g *gitClient) workRepo() string {
	g.t.Helper()
	dir := g.t.TempDir()
	for _, args := range [][]string{
		{"init", "-q", "-b", "main"},
		{"commit", "-q", "--allow-empty", "-m", "test commit"},
	} {
		if out, err := g.run(dir, args...); err != nil {
			g.t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	return dir
}

// tokenURL is the clone URL of repo ("project/name") with a token as the
// Basic password.
func (srv *server) tokenURL(user, token, repo string) string {
	if token == "" {
		return srv.URL + "/" + repo + ".git"
	}
	return "http://" + user + ":" + token + "@" + srv.host + "/" + repo + ".git"
}
