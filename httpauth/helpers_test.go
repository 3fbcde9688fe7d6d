package httpauth_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/forgekit/accesstoken"
	"github.com/forgekit/accesstoken/gitserve"
	"github.com/forgekit/accesstoken/httpauth"
	"github.com/forgekit/accesstoken/internal/clocktest"
	"github.com/forgekit/accesstoken/memstore"
)

// requireGit skips the test when git is missing, or fails it under CI=true:
// the git tests are the point of this package and must not vanish on CI.
func requireGit(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("git")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("git is required (CI=true): %v", err)
		}
		t.Skipf("git not installed: %v", err)
	}
	return p
}

// Permission levels in the test forge.
const (
	none = iota
	read
	write
)

// forge is a small forge: bare repositories under root, a permission
// table per user and project, and the URL layouts it resolves.
type forge struct {
	t    testing.TB
	root string
	home string
	seed string // a non-bare repository with one commit, cloned into every bare repository

	mu    sync.Mutex
	perms map[string]map[string]int // user → project → level
	repos map[accesstoken.Resource]*httpauth.Repo
	clock *clocktest.Clock // the Manager's

	store *memstore.Store
	m     *accesstoken.Manager

	// seen records what the next handler saw.
	seenMu       sync.Mutex
	seenProtocol []string
	seenEncoding []string // Content-Encoding of requests with one
	seenAuth     []string
	stderr       lockedBuffer
	backend      string // "direct" or "cgi"

	eventsMu sync.Mutex
	events   []accesstoken.Event
}

func (f *forge) recordEvent(_ context.Context, ev accesstoken.Event) {
	f.eventsMu.Lock()
	defer f.eventsMu.Unlock()
	f.events = append(f.events, ev)
}

// waitEvent waits until the Manager has emitted an event of the given
// kind for the token whose secret is given.
func (f *forge) waitEvent(kind accesstoken.EventKind, secret string) {
	f.t.Helper()
	tok, err := f.m.Authenticate(context.Background(), secret)
	if err != nil {
		f.t.Fatalf("waitEvent: %v", err)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		f.eventsMu.Lock()
		for _, ev := range f.events {
			if ev.Kind == kind && ev.TokenID == tok.ID {
				f.eventsMu.Unlock()
				return
			}
		}
		f.eventsMu.Unlock()
		if time.Now().After(deadline) {
			f.t.Fatalf("no %s event for token %s within a minute", kind, tok.ID)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// newForge creates the forge with repositories alpha/one, alpha/two,
// alpha/public (public) and beta/three; alice may write both projects, bob
// read alpha, carol nothing.
func newForge(t testing.TB) *forge { return newForgeWith(t, "direct") }

// backends are the git handlers the git tests run against: gitserve's
// Handler ("direct") and gitserve's CGI.
var backends = []string{"direct", "cgi"}

// forBackends runs test as a subtest for each of the backends, each with
// a forge of its own.
func forBackends(t *testing.T, test func(t *testing.T, f *forge)) {
	for _, b := range backends {
		t.Run(b, func(t *testing.T) { test(t, newForgeWith(t, b)) })
	}
}

// newForgeWith is newForge serving git with the named backend.
func newForgeWith(t testing.TB, backend string) *forge {
	t.Helper()
	f := &forge{
		backend: backend,
		t:       t,
		root:    t.TempDir(),
		home:    t.TempDir(),
		perms:   map[string]map[string]int{"alice": {"alpha": write, "beta": write}, "bob": {"alpha": read}},
		repos:   map[accesstoken.Resource]*httpauth.Repo{},
		clock:   clocktest.New(time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)),
	}
	requireGit(t)
	f.seed = filepath.Join(t.TempDir(), "seed")
	f.mustGit("", "init", "-q", "-b", "main", f.seed)
	writeFile(t, filepath.Join(f.seed, "README"), "hello\n")
	f.mustGit(f.seed, "add", "README")
	f.mustGit(f.seed, "commit", "-q", "-m", "initial")
	f.addRepo("alpha", "one", false)
	f.addRepo("alpha", "two", false)
	f.addRepo("alpha", "public", true)
	f.addRepo("beta", "three", false)
	f.store = memstore.New()
	m, err := accesstoken.New(f.store, f, accesstoken.WithClock(f.clock.Now), accesstoken.WithEvents(f.recordEvent))
	if err != nil {
		t.Fatal(err)
	}
	f.m = m
	return f
}

func (f *forge) addRepo(project, name string, public bool) {
	dir := project + "/" + name + ".git"
	f.mustGit("", "clone", "-q", "--bare", f.seed, filepath.Join(f.root, dir))
	res := accesstoken.Resource{Project: project, Repository: name}
	f.repos[res] = &httpauth.Repo{Resource: res, Dir: dir, Public: public}
}

func (f *forge) setPerm(user, project string, level int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.perms[user] == nil {
		f.perms[user] = map[string]int{}
	}
	f.perms[user][project] = level
}

// CanAccess models the forge's permissions: reading needs read access (or
// a public repository), pushing write access.
func (f *forge) CanAccess(_ context.Context, user string, res accesstoken.Resource, scope accesstoken.Scope) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	level := f.perms[user][res.Project]
	switch scope {
	case accesstoken.ScopePull:
		if r := f.repos[res]; r != nil && r.Public {
			return true, nil
		}
		return level >= read, nil
	case accesstoken.ScopePush:
		return level >= write, nil
	}
	return false, nil
}

// CanManage allows writers to manage tokens.
func (f *forge) CanManage(_ context.Context, user string, t accesstoken.Target) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.perms[user][t.Project] >= write, nil
}

// ResolveRepo resolves three layouts onto the same repositories:
// Gitea-like "project/repo.git" (or without ".git"), Launchpad-like
// "~owner/project/+git/repo", and a custom "id/<project>-<repo>".
func (f *forge) ResolveRepo(_ *http.Request, p string) (*httpauth.Repo, error) {
	seg := strings.Split(p, "/")
	var res accesstoken.Resource
	switch {
	case len(seg) == 4 && strings.HasPrefix(seg[0], "~") && seg[2] == "+git":
		res = accesstoken.Resource{Project: seg[1], Repository: seg[3]}
	case len(seg) == 2 && seg[0] == "id":
		proj, repo, ok := strings.Cut(seg[1], "-")
		if !ok {
			return nil, httpauth.ErrRepoNotFound
		}
		res = accesstoken.Resource{Project: proj, Repository: repo}
	case len(seg) == 2:
		res = accesstoken.Resource{Project: seg[0], Repository: strings.TrimSuffix(seg[1], ".git")}
	default:
		return nil, httpauth.ErrRepoNotFound
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if r := f.repos[res]; r != nil {
		return r, nil
	}
	return nil, fmt.Errorf("%w: %s", httpauth.ErrRepoNotFound, p)
}

// readme returns the repository's README.md with every run of white space
// made one space, so that a phrase is found wherever its lines break.
func readme(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(strings.Fields(string(b)), " ")
}

// built fails the test when a middleware constructor (Middleware, Require,
// ...) returned an error, and returns the middleware:
// built(t)(httpauth.Middleware(m, resolver))(next).
func built(t testing.TB) func(func(http.Handler) http.Handler, error) func(http.Handler) http.Handler {
	return func(mw func(http.Handler) http.Handler, err error) func(http.Handler) http.Handler {
		t.Helper()
		if err != nil {
			t.Fatalf("building the middleware: %v", err)
		}
		return mw
	}
}

// descriptions numbers the tokens' descriptions, which are unique among an
// owner's active tokens of a target.
var descriptions atomic.Int64

// nextDescription returns a description no token of the tests has.
func nextDescription() string { return fmt.Sprintf("test %d", descriptions.Add(1)) }

// issue issues a token for owner.
func (f *forge) issue(owner string, target accesstoken.Target, scopes ...accesstoken.Scope) string {
	return f.issueExp(owner, target, time.Time{}, scopes...)
}

func (f *forge) issueExp(owner string, target accesstoken.Target, exp time.Time, scopes ...accesstoken.Scope) string {
	f.t.Helper()
	iss, err := f.m.Issue(context.Background(), accesstoken.IssueRequest{
		Owner: owner, Target: target, Scopes: scopes, ExpiresAt: exp, Description: nextDescription(),
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return iss.Secret.Reveal()
}

// handler is what the test server serves: the middleware in front of a
// handler that records what it sees, answers LFS routes itself and passes
// git routes to the Backend.
func (f *forge) handler(opts ...httpauth.Option) http.Handler {
	var b http.Handler = &gitserve.Handler{Root: f.root, Logger: f.logger()}
	if f.backend == "cgi" {
		b = &gitserve.CGI{Root: f.root, Logger: f.logger()}
	}
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		acc, ok := httpauth.FromContext(r.Context())
		if !ok {
			http.Error(w, "no access in context", http.StatusInternalServerError)
			return
		}
		f.seenMu.Lock()
		if p := r.Header.Get("Git-Protocol"); p != "" {
			f.seenProtocol = append(f.seenProtocol, p)
		}
		if e := r.Header.Get("Content-Encoding"); e != "" {
			f.seenEncoding = append(f.seenEncoding, e)
		}
		for _, k := range []string{"Authorization", "Cookie", "Proxy-Authorization"} {
			if v := r.Header.Get(k); v != "" {
				f.seenAuth = append(f.seenAuth, k+": "+v)
			}
		}
		f.seenMu.Unlock()
		if acc.Operation.Route.LFS() {
			body, _ := io.ReadAll(r.Body)
			w.Header().Set("Content-Type", "text/plain")
			fmt.Fprintf(w, "lfs %s %s as %q body=%d\n", acc.Operation.Route, acc.Operation.Scope, acc.Owner, len(body))
			return
		}
		b.ServeHTTP(w, r)
	})
	return built(f.t)(httpauth.Middleware(f.m, f, opts...))(next)
}

// logger logs to f.stderr, as text.
func (f *forge) logger() *slog.Logger { return slog.New(slog.NewTextHandler(&f.stderr, nil)) }

func (f *forge) server(opts ...httpauth.Option) *httptest.Server {
	srv := httptest.NewServer(f.handler(opts...))
	f.t.Cleanup(srv.Close)
	return srv
}

// gitEnv isolates git from the machine's configuration.
func (f *forge) gitEnv() []string {
	return []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + f.home,
		"XDG_CONFIG_HOME=" + filepath.Join(f.home, ".config"),
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_TERMINAL_PROMPT=0",
		"GIT_ASKPASS=",
		"SSH_ASKPASS=",
		"GIT_AUTHOR_NAME=Test", "GIT_AUTHOR_EMAIL=test@example.com",
		"GIT_COMMITTER_NAME=Test", "GIT_COMMITTER_EMAIL=test@example.com",
		"LC_ALL=C",
	}
}

// git runs git in dir with an isolated configuration and returns its
// combined output.
func (f *forge) git(dir string, args ...string) (string, error) {
	all := append([]string{"-c", "credential.helper=", "-c", "init.defaultBranch=main", "-c", "advice.detachedHead=false"}, args...)
	cmd := exec.Command("git", all...)
	cmd.Dir = dir
	cmd.Env = f.gitEnv()
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (f *forge) mustGit(dir string, args ...string) string {
	f.t.Helper()
	out, err := f.git(dir, args...)
	if err != nil {
		f.t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// refs returns the refs of a bare repository.
func (f *forge) refs(dir string) string {
	f.t.Helper()
	return f.mustGit("", "--git-dir", filepath.Join(f.root, dir), "for-each-ref", "--format=%(refname) %(objectname)")
}

// snapshot lists every file under the project root with its size and
// modification time: any write to any repository changes it.
func (f *forge) snapshot() string {
	f.t.Helper()
	var lines []string
	err := filepath.WalkDir(f.root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if d.IsDir() {
			lines = append(lines, p+"/")
			return nil
		}
		lines = append(lines, fmt.Sprintf("%s %d %d", p, info.Size(), info.ModTime().UnixNano()))
		return nil
	})
	if err != nil {
		f.t.Fatal(err)
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// envHook installs a pre-receive hook in the repository dir (under the
// root) that writes its environment to the file it returns.
func (f *forge) envHook(dir string) string {
	f.t.Helper()
	envFile := filepath.Join(f.t.TempDir(), "hook-env")
	hook := filepath.Join(f.root, dir, "hooks/pre-receive")
	writeFile(f.t, hook, "#!/bin/sh\nenv > '"+envFile+"'\ncat >/dev/null\nexit 0\n")
	if err := os.Chmod(hook, 0o755); err != nil {
		f.t.Fatal(err)
	}
	return envFile
}

// workRepo returns a new non-bare repository with one commit of its own
// (unrelated to the seed), ready to be pushed anywhere.
func (f *forge) workRepo(content string) string {
	f.t.Helper()
	dir := filepath.Join(f.t.TempDir(), "work")
	f.mustGit("", "init", "-q", dir)
	writeFile(f.t, filepath.Join(dir, "file"), content)
	f.mustGit(dir, "add", "file")
	f.mustGit(dir, "commit", "-q", "-m", "work")
	return dir
}

func writeFile(t testing.TB, p, s string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

// failingStore is a Store whose lookups fail: fault injection for 503.
type failingStore struct{ accesstoken.Store }

func (failingStore) ByDigest(context.Context, accesstoken.Digest) (accesstoken.Record, error) {
	return accesstoken.Record{}, errors.New("database is down")
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

const (
	pullScope = accesstoken.ScopePull
	pushScope = accesstoken.ScopePush
	sha1hex   = "0123456789abcdef0123456789abcdef01234567"
	oid256    = "4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393"
)
