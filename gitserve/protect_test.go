package gitserve_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/forgekit/accesstoken"
	"github.com/forgekit/accesstoken/gitserve"
	"github.com/forgekit/accesstoken/httpauth"
	"github.com/forgekit/accesstoken/memstore"
)

// These tests push with the real git client to a Handler with push
// protection, behind the token middleware.

// pstore is a memstore whose lookups by digest can be made to fail, for
// every digest but one (the pusher's token, which the middleware looks
// up).
type pstore struct {
	*memstore.Store
	mu     sync.Mutex
	down   bool
	except accesstoken.Digest
}

func (s *pstore) ByDigest(ctx context.Context, d accesstoken.Digest) (accesstoken.Record, error) {
	s.mu.Lock()
	down := s.down && d != s.except
	s.mu.Unlock()
	if down {
		return accesstoken.Record{}, errors.New("connection refused")
	}
	return s.Store.ByDigest(ctx, d)
}

// pserver is a git server with push protection: a public repository
// p/pub and a private one p/priv.
type pserver struct {
	t      *testing.T
	root   string
	store  *pstore
	m      *accesstoken.Manager
	srv    *httptest.Server
	log    syncBuffer
	push   string // a pull and push token of alice for project p
	mode   string // see pushModes
	mu     sync.Mutex
	events []accesstoken.Event
}

func newPServer(t *testing.T, protect func(s *pserver) *gitserve.PushProtection) *pserver {
	t.Helper()
	return newPServerMode(t, "loose", protect)
}

// pushModes are the ways the server receives and reads a push: "loose"
// (git unpacks a small push into loose objects, as by default; push
// protection reads them), "pack" (git keeps every push as a pack, as it
// does pushes of more than 100 objects; push protection reads it), "git"
// (a pack that push protection leaves to git rev-list and cat-file, as it
// does packs over 64 MiB).
var pushModes = []string{"loose", "pack", "git"}

// forModes runs test in each push mode.
func forModes(t *testing.T, test func(t *testing.T, mode string)) {
	for _, mode := range pushModes {
		t.Run(mode, func(t *testing.T) { test(t, mode) })
	}
}

func newPServerMode(t *testing.T, mode string, protect func(s *pserver) *gitserve.PushProtection) *pserver {
	t.Helper()
	requireGit(t)
	s := &pserver{t: t, root: t.TempDir(), store: &pstore{Store: memstore.New()}}
	seed := filepath.Join(t.TempDir(), "seed")
	runGit(t, "", "init", "-q", "-b", "main", seed)
	writeFile(t, filepath.Join(seed, "README"), "hello\n")
	runGit(t, seed, "add", "README")
	runGit(t, seed, "commit", "-q", "-m", "initial")
	for _, name := range []string{"pub", "priv"} {
		dir := filepath.Join(s.root, "p", name+".git")
		runGit(t, "", "clone", "-q", "--bare", seed, dir)
		if mode != "loose" {
			runGit(t, dir, "config", "receive.unpackLimit", "1")
		}
	}
	if mode == "git" {
		t.Cleanup(gitserve.SetMaxPackInMemory(0))
	}
	s.mode = mode
	m, err := accesstoken.New(s.store, accesstoken.InsecureAllowAll(), accesstoken.WithEvents(func(_ context.Context, ev accesstoken.Event) {
		s.mu.Lock()
		s.events = append(s.events, ev)
		s.mu.Unlock()
	}))
	if err != nil {
		t.Fatal(err)
	}
	s.m = m
	h := &gitserve.Handler{Root: s.root, Logger: slog.New(slog.NewTextHandler(&s.log, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	h.Protect = protect(s)
	auth, err := httpauth.Middleware(m, httpauth.ResolverFunc(resolve))
	if err != nil {
		t.Fatal(err)
	}
	s.srv = httptest.NewServer(auth(h))
	t.Cleanup(s.srv.Close)
	s.push = s.issue("alice", accesstoken.ScopePull, accesstoken.ScopePush)
	return s
}

// protected is the default push protection: block only, for s's Manager.
func protected(s *pserver) *gitserve.PushProtection {
	return &gitserve.PushProtection{Manager: s.m, TokensURL: "https://forge.example/tokens"}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// issue issues a token of project p.
func (s *pserver) issue(owner string, scopes ...accesstoken.Scope) string {
	s.t.Helper()
	iss, err := s.m.Issue(context.Background(), accesstoken.IssueRequest{Owner: owner, Description: "leak test", Target: accesstoken.ProjectTarget("p"), Scopes: scopes})
	if err != nil {
		s.t.Fatal(err)
	}
	return iss.Secret.Reveal()
}

// leaked issues the token the tests leak: carol's, pull only.
func (s *pserver) leaked() string { return s.issue("carol", accesstoken.ScopePull) }

func (s *pserver) url(repo string) string {
	return "http://alice:" + s.push + "@" + s.srv.Listener.Addr().String() + "/" + repo
}

// work clones repo into a new work tree.
func (s *pserver) work(repo string) string {
	s.t.Helper()
	dir := filepath.Join(s.t.TempDir(), "work")
	runGit(s.t, "", "clone", "-q", s.url(repo), dir)
	return dir
}

// commit writes files (path → content; "" removes the file) and commits
// them with msg, and returns the commit's ID.
func (s *pserver) commit(dir, msg string, files map[string]string) string {
	s.t.Helper()
	for p, c := range files {
		if c == "" {
			runGit(s.t, dir, "rm", "-q", p)
			continue
		}
		writeFile(s.t, filepath.Join(dir, p), c)
		runGit(s.t, dir, "add", p)
	}
	runGit(s.t, dir, "commit", "-q", "--allow-empty", "-m", msg)
	return strings.TrimSpace(runGit(s.t, dir, "rev-parse", "HEAD"))
}

// gitPush pushes from dir to repo and returns git's output.
func (s *pserver) gitPush(dir, repo string, args ...string) (string, error) {
	cmd := exec.Command("git", append([]string{"push", s.url(repo)}, args...)...)
	cmd.Dir = dir
	cmd.Env = gitEnv(s.t.TempDir())
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// ref returns the server's value of ref in repo ("" if none).
func (s *pserver) ref(repo, ref string) string {
	cmd := exec.Command("git", "rev-parse", "--verify", "-q", ref)
	cmd.Dir = filepath.Join(s.root, repo)
	out, _ := cmd.Output()
	return strings.TrimSpace(string(out))
}

// has reports whether the server's repo has the object id.
func (s *pserver) has(repo, id string) bool {
	cmd := exec.Command("git", "cat-file", "-e", id)
	cmd.Dir = filepath.Join(s.root, repo)
	return cmd.Run() == nil
}

// requireNoPart fails if s holds the secret or any 8 characters of its
// random part.
func requireNoPart(t *testing.T, what, s, secret string) {
	t.Helper()
	body := secret[strings.IndexByte(secret, '_')+1:]
	for i := 0; i+8 <= len(body); i++ {
		if strings.Contains(s, body[i:i+8]) {
			t.Fatalf("%s holds part of the secret (%q):\n%s", what, body[i:i+8], s)
		}
	}
}

// requireRefused checks that a push was refused by push protection, with
// git's output out, and that it says each of want and never the token.
func requireRefused(t *testing.T, out string, err error, secret string, want ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("push accepted; want refused\n%s", out)
	}
	for _, w := range append([]string{"pre-receive hook declined", "remote: Push refused"}, want...) {
		if !strings.Contains(out, w) {
			t.Errorf("git's output does not say %q:\n%s", w, out)
		}
	}
	requireNoPart(t, "git's output", out, secret)
}

// TestPushProtectionRefusesLiveToken: a push adding a file that holds a
// live token is refused with the commit, path and line, never the token;
// no ref moves, the objects are not in the repository, a clone or a fetch
// does not see them, and the token still works (the policy blocks only).
func TestPushProtectionRefusesLiveToken(t *testing.T) { forModes(t, testRefusesLiveToken) }

func testRefusesLiveToken(t *testing.T, mode string) {
	s := newPServerMode(t, mode, protected)
	secret := s.leaked()
	tok, err := s.m.Authenticate(context.Background(), secret)
	if err != nil {
		t.Fatal(err)
	}
	before := s.ref("p/priv.git", "main")
	w := s.work("p/priv.git")
	c := s.commit(w, "CI config", map[string]string{"config/ci.yml": "steps:\n  - run: git clone https://ci:" + secret + "@forge.example/p/priv.git\n"})
	blob := strings.TrimSpace(runGit(t, w, "rev-parse", "HEAD:config/ci.yml"))

	out, err := s.gitPush(w, "p/priv.git", "main")
	requireRefused(t, out, err, secret,
		"remote:   in commit "+c+", path config/ci.yml, line 2",
		"token "+tok.ID.String()+", owned by carol",
		"git rebase -i", "git filter-repo", "revoke the token at https://forge.example/tokens",
		"[remote rejected] main -> main (pre-receive hook declined)")
	if got := s.ref("p/priv.git", "main"); got != before {
		t.Fatalf("main moved to %s; want %s", got, before)
	}
	for _, id := range []string{c, blob} {
		if s.has("p/priv.git", id) {
			t.Errorf("the repository has object %s of the refused push", id)
		}
	}
	clone := filepath.Join(t.TempDir(), "clone")
	runGit(t, "", "clone", "-q", s.url("p/priv.git"), clone)
	if got := strings.TrimSpace(runGit(t, clone, "rev-parse", "HEAD")); got != before {
		t.Errorf("a clone after the refusal has %s; want %s", got, before)
	}
	cmd := exec.Command("git", "fetch", "-q", s.url("p/priv.git"), c)
	cmd.Dir, cmd.Env = clone, gitEnv(t.TempDir())
	if out, err := cmd.CombinedOutput(); err == nil {
		t.Errorf("fetching the refused commit by its ID worked:\n%s", out)
	}
	if _, err := s.m.Authenticate(context.Background(), secret); err != nil {
		t.Errorf("the token was revoked, or broken, by a push to a private repository: %v", err)
	}
	log := s.log.String()
	requireNoPart(t, "the server's log", log, secret)
	if !strings.Contains(log, "push protection: push refused") || !strings.Contains(log, tok.ID.String()) {
		t.Errorf("the log does not record the refusal with the token's ID:\n%s", log)
	}
	if got := strings.Contains(log, "push protection: scanning with git"); got != (mode == "git") {
		t.Errorf("scanned with git: %v; want %v in mode %s", got, mode == "git", mode)
	}

	// Without the token, the same content pushes.
	runGit(t, w, "reset", "-q", "--hard", "HEAD~1")
	c = s.commit(w, "CI config", map[string]string{"config/ci.yml": "steps:\n  - run: git clone https://ci:$CI_TOKEN@forge.example/p/priv.git\n"})
	if out, err := s.gitPush(w, "p/priv.git", "main"); err != nil {
		t.Fatalf("clean push refused: %v\n%s", err, out)
	}
	if got := s.ref("p/priv.git", "main"); got != c {
		t.Fatalf("main is %s; want %s", got, c)
	}
}

// TestPushProtectionAccepts: what is not a live token of the Manager does
// not block a push.
func TestPushProtectionAccepts(t *testing.T) { forModes(t, testAccepts) }

func testAccepts(t *testing.T, mode string) {
	s := newPServerMode(t, mode, protected)
	revoked := s.leaked()
	tok, _ := s.m.Authenticate(context.Background(), revoked)
	if _, err := s.m.Revoke(context.Background(), "carol", tok.ID); err != nil {
		t.Fatal(err)
	}
	live := s.leaked()
	bad := live[:len(live)-1] + map[bool]string{true: "1", false: "0"}[live[len(live)-1] == '0']
	other, _ := accesstoken.NewFormat("acme")
	otherSecret, _ := other.Generate()
	unknown, _ := accesstoken.DefaultFormat().Generate()
	tests := []struct{ name, content string }{
		{"revoked token", "token: " + revoked + "\n"},
		{"same shape, bad checksum", "token: " + bad + "\n"},
		{"another prefix's token", "token: " + otherSecret.Reveal() + "\n"},
		{"unknown token of the format", "token: " + unknown.Reveal() + "\n"},
		{"live token split across lines", "token: " + live[:25] + "\n" + live[25:] + "\n"},
		{"live token split with a backslash", "token: " + live[:25] + "\\\n" + live[25:] + "\n"},
		{"live token glued to a word", "token: x" + live + "\n"},
	}
	w := s.work("p/priv.git")
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := s.commit(w, tt.name, map[string]string{fmt.Sprintf("f%d.txt", i): tt.content})
			if out, err := s.gitPush(w, "p/priv.git", "main"); err != nil {
				t.Fatalf("push refused: %v\n%s", err, out)
			}
			if got := s.ref("p/priv.git", "main"); got != c {
				t.Fatalf("main is %s; want %s", got, c)
			}
		})
	}
}

// TestPushProtectionWhereTokensHide: a token is found wherever the push
// adds it (not the tip, a subdirectory, a file added and removed, a
// commit or tag message, several branches), and not where git's rules or
// the size limit leave content unscanned.
func TestPushProtectionWhereTokensHide(t *testing.T) { forModes(t, testWhereTokensHide) }

func testWhereTokensHide(t *testing.T, mode string) {
	s := newPServerMode(t, mode, func(s *pserver) *gitserve.PushProtection {
		p := protected(s)
		p.MaxObjectSize = 64 << 10
		return p
	})
	secret := s.leaked()

	t.Run("not the tip", func(t *testing.T) {
		w := s.work("p/priv.git")
		c1 := s.commit(w, "one", map[string]string{"a.txt": "x\ny\nz " + secret + "\n"})
		s.commit(w, "two", map[string]string{"b.txt": "b\n"})
		s.commit(w, "three", map[string]string{"c.txt": "c\n"})
		out, err := s.gitPush(w, "p/priv.git", "main")
		requireRefused(t, out, err, secret, "in commit "+c1+", path a.txt, line 3")
	})
	t.Run("subdirectory", func(t *testing.T) {
		w := s.work("p/priv.git")
		c := s.commit(w, "deep", map[string]string{"deploy/prod/env/secret.env": "TOKEN=" + secret + "\n"})
		out, err := s.gitPush(w, "p/priv.git", "main")
		requireRefused(t, out, err, secret, "in commit "+c+", path deploy/prod/env/secret.env, line 1")
	})
	t.Run("added and removed in the same push", func(t *testing.T) {
		w := s.work("p/priv.git")
		c1 := s.commit(w, "oops", map[string]string{"token.txt": secret + "\n"})
		s.commit(w, "remove the token", map[string]string{"token.txt": ""})
		if _, err := os.Stat(filepath.Join(w, "token.txt")); err == nil {
			t.Fatal("token.txt still there")
		}
		out, err := s.gitPush(w, "p/priv.git", "main")
		requireRefused(t, out, err, secret, "in commit "+c1+", path token.txt, line 1")
	})
	t.Run("commit message", func(t *testing.T) {
		w := s.work("p/priv.git")
		c := s.commit(w, "use token "+secret+" for CI", nil)
		out, err := s.gitPush(w, "p/priv.git", "main")
		requireRefused(t, out, err, secret, "in the message of commit "+c)
	})
	t.Run("annotated tag message", func(t *testing.T) {
		w := s.work("p/priv.git")
		runGit(t, w, "tag", "-a", "v1", "-m", "release\n\ntoken "+secret)
		tag := strings.TrimSpace(runGit(t, w, "rev-parse", "v1"))
		out, err := s.gitPush(w, "p/priv.git", "v1")
		requireRefused(t, out, err, secret, "in the message of tag object "+tag)
		if s.ref("p/priv.git", "refs/tags/v1") != "" {
			t.Error("the tag was created")
		}
	})
	t.Run("one of several branches", func(t *testing.T) {
		w := s.work("p/priv.git")
		runGit(t, w, "checkout", "-q", "-b", "clean")
		s.commit(w, "clean", map[string]string{"clean.txt": "ok\n"})
		runGit(t, w, "checkout", "-q", "-b", "dirty", "main")
		c := s.commit(w, "dirty", map[string]string{"dirty.txt": secret + "\n"})
		out, err := s.gitPush(w, "p/priv.git", "clean", "dirty")
		requireRefused(t, out, err, secret, "in commit "+c+", path dirty.txt")
		if s.ref("p/priv.git", "clean") != "" || s.ref("p/priv.git", "dirty") != "" {
			t.Error("a branch of the refused push was created")
		}
	})
	t.Run("binary by git's rule", func(t *testing.T) {
		w := s.work("p/priv.git")
		c := s.commit(w, "binary", map[string]string{"blob.bin": "\x00binary\n" + secret + "\n"})
		if out, err := s.gitPush(w, "p/priv.git", "main"); err != nil {
			t.Fatalf("a binary file (NUL in its first 8000 bytes) was scanned: %v\n%s", err, out)
		}
		if s.ref("p/priv.git", "main") != c {
			t.Fatal("main did not move")
		}
		s.commit(w, "not binary", map[string]string{"late-nul.bin": strings.Repeat("x", 8000) + "\x00\n" + secret + "\n"})
		out, err := s.gitPush(w, "p/priv.git", "main")
		requireRefused(t, out, err, secret, "path late-nul.bin")
	})
	t.Run("larger than MaxObjectSize", func(t *testing.T) {
		w := s.work("p/priv.git")
		c := s.commit(w, "big", map[string]string{"big.txt": secret + "\n" + strings.Repeat("filler line\n", 6000)})
		if out, err := s.gitPush(w, "p/priv.git", "main"); err != nil {
			t.Fatalf("a file over MaxObjectSize was scanned: %v\n%s", err, out)
		}
		if s.ref("p/priv.git", "main") != c {
			t.Fatal("main did not move")
		}
	})
	t.Run("deleting a branch", func(t *testing.T) {
		w := s.work("p/priv.git")
		runGit(t, w, "push", "-q", s.url("p/priv.git"), "main:gone")
		if out, err := s.gitPush(w, "p/priv.git", ":gone"); err != nil {
			t.Fatalf("deletion refused: %v\n%s", err, out)
		}
		if s.ref("p/priv.git", "gone") != "" {
			t.Fatal("branch not deleted")
		}
	})
	t.Run("already in the repository", func(t *testing.T) {
		// A token pushed before protection was on is not what this
		// push adds: ScanRepository finds it.
		w := s.work("p/priv.git")
		c := s.commit(w, "before", map[string]string{"old.txt": secret + "\n"})
		bare := filepath.Join(s.root, "p/priv.git")
		runGit(t, w, "push", "-q", bare, "main:refs/heads/old") // a push that bypasses the Handler
		if out, err := s.gitPush(w, "p/priv.git", "main:refs/heads/again"); err != nil {
			t.Fatalf("push of a branch of known commits refused: %v\n%s", err, out)
		}
		if s.ref("p/priv.git", "again") != c {
			t.Fatal("branch not created")
		}
	})
	requireNoPart(t, "the server's log", s.log.String(), secret)
}

// TestPushProtectionRevokesOnPublic: with RevokeIfPublic, a push of a live
// token to a public repository revokes it, through the Revoke seam, with
// push protection as the actor and a reason that says where; the same push
// to a private repository is only refused.
func TestPushProtectionRevokesOnPublic(t *testing.T) { forModes(t, testRevokesOnPublic) }

func testRevokesOnPublic(t *testing.T, mode string) {
	var mu sync.Mutex
	var got []gitserve.Revocation
	s := newPServerMode(t, mode, func(s *pserver) *gitserve.PushProtection {
		p := protected(s)
		p.Policy = gitserve.RevokeIfPublic
		p.Revoke = func(ctx context.Context, r gitserve.Revocation) error {
			mu.Lock()
			got = append(got, r)
			mu.Unlock()
			_, err := s.m.RevokeLeaked(ctx, r.Secret.Reveal(), r.Actor, r.Reason)
			return err
		}
		return p
	})
	secret := s.leaked()
	tok, _ := s.m.Authenticate(context.Background(), secret)

	w := s.work("p/priv.git")
	s.commit(w, "private", map[string]string{"ci.yml": secret + "\n"})
	out, err := s.gitPush(w, "p/priv.git", "main")
	requireRefused(t, out, err, secret, "revoke the token at https://forge.example/tokens")
	if len(got) != 0 {
		t.Fatalf("a push to a private repository revoked: %v", got)
	}
	if _, err := s.m.Authenticate(context.Background(), secret); err != nil {
		t.Fatalf("token revoked by a push to a private repository: %v", err)
	}

	w = s.work("p/pub.git")
	c := s.commit(w, "public", map[string]string{"ci/deploy.yml": "a\n" + secret + "\n"})
	s.commit(w, "again", map[string]string{"ci/other.yml": secret + "\n"})
	out, err = s.gitPush(w, "p/pub.git", "main")
	requireRefused(t, out, err, secret, "The token has been revoked: this repository is public", "in commit "+c+", path ci/deploy.yml, line 2")
	if _, err := s.m.Authenticate(context.Background(), secret); !errors.Is(err, accesstoken.ErrRevoked) {
		t.Fatalf("after the push to a public repository: %v; want ErrRevoked", err)
	}
	if len(got) != 1 {
		t.Fatalf("%d revocations; want one for the one token found twice", len(got))
	}
	r := got[0]
	if r.Token.ID != tok.ID || r.Actor != gitserve.PushProtectionActor || len(r.Leaks) != 2 {
		t.Errorf("revocation: token %s, actor %q, %d leaks; want %s, %s, 2", r.Token.ID, r.Actor, len(r.Leaks), tok.ID, gitserve.PushProtectionActor)
	}
	if want := "push protection: pushed to p/pub by alice, found in commit " + c + ", path ci/deploy.yml, line 2 (and 1 more)"; r.Reason != want {
		t.Errorf("reason %q; want %q", r.Reason, want)
	}
	if r.Secret.Reveal() != secret {
		t.Error("the revocation does not carry the secret for RevokeLeaked")
	}
	printed := fmt.Sprintf("%v %+v %#v", r, r, r)
	requireNoPart(t, "a printed Revocation", printed, secret)
	s.mu.Lock()
	var revokedEv *accesstoken.Event
	for i := range s.events {
		if s.events[i].Kind == accesstoken.EventRevoked && s.events[i].TokenID == tok.ID {
			revokedEv = &s.events[i]
		}
	}
	s.mu.Unlock()
	if revokedEv == nil {
		t.Fatal("no revocation event")
	}
	if revokedEv.Actor != gitserve.PushProtectionActor || !strings.HasPrefix(revokedEv.Reason, "push protection: ") {
		t.Errorf("revocation event: actor %q, reason %q; want %q and the reason", revokedEv.Actor, revokedEv.Reason, gitserve.PushProtectionActor)
	}
	if rec, err := s.m.Get(context.Background(), "alice", tok.ID); err != nil || rec.RevokedBy != gitserve.PushProtectionActor || rec.RevocationReason != r.Reason {
		t.Errorf("stored revocation: by %q, reason %q (%v); want %q and the reason", rec.RevokedBy, rec.RevocationReason, err, gitserve.PushProtectionActor)
	}
	log := s.log.String()
	if !strings.Contains(log, "push protection: token revoked") || !strings.Contains(log, "reason=\"push protection: pushed to p/pub by alice") {
		t.Errorf("the log does not name push protection as what revoked the token:\n%s", log)
	}
	requireNoPart(t, "the server's log", log, secret)

	// Pushed again, the revoked token no longer blocks the push.
	if out, err := s.gitPush(w, "p/pub.git", "main"); err != nil {
		t.Fatalf("push of a revoked token refused: %v\n%s", err, out)
	}
}

// TestPushProtectionRemovingOldToken: a token committed before push
// protection was on does not block the push that removes it: the old
// version of the file, which git sends as the base of a delta or takes
// from the repository to complete a thin pack, is not new. Editing
// another line of the file keeps the token in the new version: that push
// is refused.
func TestPushProtectionRemovingOldToken(t *testing.T) {
	forModes(t, func(t *testing.T, mode string) {
		s := newPServerMode(t, mode, protected)
		secret := s.leaked()
		w := s.work("p/priv.git")
		var lines []string
		for i := range 60 {
			lines = append(lines, fmt.Sprintf("setting_%02d = a value that is long enough for git to make deltas", i))
		}
		withToken := append(append(append([]string(nil), lines[:30]...), "token = "+secret), lines[30:]...)
		s.commit(w, "before protection", map[string]string{"config.ini": strings.Join(withToken, "\n") + "\n"})
		runGit(t, w, "push", "-q", filepath.Join(s.root, "p/priv.git"), "main") // around the Handler

		edited := append([]string(nil), withToken...)
		edited[0] = "setting_00 = changed"
		s.commit(w, "edit another line", map[string]string{"config.ini": strings.Join(edited, "\n") + "\n"})
		out, err := s.gitPush(w, "p/priv.git", "main")
		requireRefused(t, out, err, secret, "path config.ini, line 31")
		runGit(t, w, "reset", "-q", "--hard", "HEAD~1")

		c := s.commit(w, "remove the token", map[string]string{"config.ini": strings.Join(lines, "\n") + "\n"})
		if out, err := s.gitPush(w, "p/priv.git", "main"); err != nil {
			t.Fatalf("the push that removes an old token was refused: %v\n%s", err, out)
		}
		if s.ref("p/priv.git", "main") != c {
			t.Fatal("main did not move")
		}
		if mode == "pack" && !strings.Contains(s.log.String(), "existing_skipped=1") {
			t.Errorf("the thin pack's base was not recognised as the repository's:\n%s", s.log.String())
		}
	})
}

// TestPushProtectionFailsClosed: when the scan cannot run or cannot
// finish, the push is refused, with a message that says so.
func TestPushProtectionFailsClosed(t *testing.T) {
	unknown := func() string { s, _ := accesstoken.DefaultFormat().Generate(); return s.Reveal() }
	t.Run("store down", func(t *testing.T) {
		s := newPServer(t, protected)
		w := s.work("p/priv.git")
		s.commit(w, "x", map[string]string{"x.txt": unknown() + "\n"})
		s.store.mu.Lock()
		s.store.down, s.store.except = true, s.m.Digest(s.push)
		s.store.mu.Unlock()
		before := s.ref("p/priv.git", "main")
		out, err := s.gitPush(w, "p/priv.git", "main")
		if err == nil || !strings.Contains(out, "push protection could not check this push") {
			t.Fatalf("push with the store down: %v; want refused, saying why\n%s", err, out)
		}
		if s.ref("p/priv.git", "main") != before {
			t.Fatal("main moved")
		}
	})
	t.Run("too many tokens to look up", func(t *testing.T) {
		s := newPServer(t, func(s *pserver) *gitserve.PushProtection {
			p := protected(s)
			p.MaxLookups = 2
			return p
		})
		w := s.work("p/priv.git")
		s.commit(w, "x", map[string]string{"x.txt": unknown() + "\n" + unknown() + "\n" + unknown() + "\n"})
		out, err := s.gitPush(w, "p/priv.git", "main")
		if err == nil || !strings.Contains(out, "push protection could not check this push") {
			t.Fatalf("push over MaxLookups: %v; want refused\n%s", err, out)
		}
	})
	t.Run("no Manager", func(t *testing.T) {
		s := newPServer(t, func(*pserver) *gitserve.PushProtection { return &gitserve.PushProtection{} })
		w := s.work("p/priv.git")
		s.commit(w, "x", map[string]string{"x.txt": "x\n"})
		before := s.ref("p/priv.git", "main")
		if out, err := s.gitPush(w, "p/priv.git", "main"); err == nil {
			t.Fatalf("push accepted without a Manager to check it\n%s", out)
		}
		if s.ref("p/priv.git", "main") != before {
			t.Fatal("main moved")
		}
	})
	t.Run("revocation fails", func(t *testing.T) {
		s := newPServer(t, func(s *pserver) *gitserve.PushProtection {
			p := protected(s)
			p.Policy = func(*httpauth.Access) gitserve.PushPolicy { return gitserve.BlockAndRevoke }
			p.Revoke = func(context.Context, gitserve.Revocation) error { return errors.New("store down") }
			return p
		})
		secret := s.leaked()
		w := s.work("p/priv.git")
		s.commit(w, "x", map[string]string{"x.txt": secret + "\n"})
		out, err := s.gitPush(w, "p/priv.git", "main")
		requireRefused(t, out, err, secret, "Then revoke the token at")
		if !strings.Contains(s.log.String(), "push protection: token not revoked") {
			t.Errorf("the failed revocation is not logged:\n%s", s.log.String())
		}
	})
}

// TestRepositoryHooksStillRun: the repository's own hooks run as before
// (pre-receive after the scan, with the same input, able to refuse;
// update and post-receive), with git's configuration as it was, without
// the pipes of push protection and without any credential.
func TestRepositoryHooksStillRun(t *testing.T) {
	s := newPServer(t, protected)
	repo := filepath.Join(s.root, "p/priv.git")
	out := t.TempDir()
	hook := func(dir, name, body string) {
		t.Helper()
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"+body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	hook(filepath.Join(repo, "hooks"), "pre-receive", `cat > `+out+`/pre-receive.in
env > `+out+`/pre-receive.env
ls /proc/$$/fd > `+out+`/pre-receive.fds
git config --get core.hooksPath > `+out+`/pre-receive.hookspath
if [ -e `+out+`/refuse ]; then echo "repository policy says no"; exit 1; fi
`)
	hook(filepath.Join(repo, "hooks"), "update", `echo "$1" >> `+out+"/update.args\n")
	hook(filepath.Join(repo, "hooks"), "post-receive", `cat > `+out+"/post-receive.in\n")

	w := s.work("p/priv.git")
	c := s.commit(w, "x", map[string]string{"x.txt": "x\n"})
	before := s.ref("p/priv.git", "main")
	if o, err := s.gitPush(w, "p/priv.git", "main"); err != nil {
		t.Fatalf("push: %v\n%s", err, o)
	}
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(out, name))
		if err != nil {
			t.Fatalf("hook output %s: %v", name, err)
		}
		return string(b)
	}
	want := before + " " + c + " refs/heads/main\n"
	if got := read("pre-receive.in"); got != want {
		t.Errorf("pre-receive read %q; want %q", got, want)
	}
	if got := read("post-receive.in"); got != want {
		t.Errorf("post-receive read %q; want %q", got, want)
	}
	if got := read("update.args"); got != "refs/heads/main\n" {
		t.Errorf("update hook got %q", got)
	}
	env := read("pre-receive.env")
	requireNoPart(t, "the hook's environment", env, s.push)
	for _, bad := range []string{"AUTHORIZATION", "gitserve-hooks", "GIT_CONFIG_PARAMETERS"} {
		if strings.Contains(env, bad) {
			t.Errorf("the repository's hook sees %q in its environment:\n%s", bad, env)
		}
	}
	if got := strings.Fields(read("pre-receive.fds")); contains(got, "3") || contains(got, "4") {
		t.Errorf("the repository's hook has descriptors %v; want neither 3 nor 4 (the pipes of push protection)", got)
	}
	if got := read("pre-receive.hookspath"); got != "" {
		t.Errorf("the repository's hook sees core.hooksPath %q", got)
	}

	// The repository's pre-receive can still refuse a push that push
	// protection accepts.
	writeFile(t, filepath.Join(out, "refuse"), "")
	s.commit(w, "y", map[string]string{"y.txt": "y\n"})
	o, err := s.gitPush(w, "p/priv.git", "main")
	if err == nil || !strings.Contains(o, "remote: repository policy says no") {
		t.Fatalf("push: %v; want refused by the repository's hook\n%s", err, o)
	}
	if s.ref("p/priv.git", "main") != c {
		t.Fatal("main moved")
	}

	// A repository whose configuration moves its hooks keeps them.
	elsewhere := filepath.Join(t.TempDir(), "hooks")
	hook(elsewhere, "post-receive", `cat > `+out+"/elsewhere.in\n")
	runGit(t, repo, "config", "core.hooksPath", elsewhere)
	os.Remove(filepath.Join(out, "refuse"))
	if o, err := s.gitPush(w, "p/priv.git", "main"); err != nil {
		t.Fatalf("push: %v\n%s", err, o)
	}
	if got := read("elsewhere.in"); !strings.HasSuffix(got, " refs/heads/main\n") {
		t.Errorf("the hook of core.hooksPath read %q", got)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestScanRepository finds a token committed before push protection was
// on, with its commit and path, and revokes it when asked.
func TestScanRepository(t *testing.T) {
	requireGit(t)
	m, err := accesstoken.New(memstore.New(), accesstoken.InsecureAllowAll())
	if err != nil {
		t.Fatal(err)
	}
	issued := 0
	issue := func() string {
		issued++ // descriptions are unique among a user's active tokens of a target
		iss, err := m.Issue(context.Background(), accesstoken.IssueRequest{Owner: "carol", Description: fmt.Sprintf("leaked %d", issued), Target: accesstoken.ProjectTarget("p"), Scopes: []accesstoken.Scope{accesstoken.ScopePull}})
		if err != nil {
			t.Fatal(err)
		}
		return iss.Secret.Reveal()
	}
	live, old := issue(), issue()
	oldTok, _ := m.Authenticate(context.Background(), old)
	if _, err := m.Revoke(context.Background(), "carol", oldTok.ID); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "repo")
	runGit(t, "", "init", "-q", "-b", "main", dir)
	commit := func(msg string, files map[string]string) string {
		for p, c := range files {
			writeFile(t, filepath.Join(dir, p), c)
			runGit(t, dir, "add", p)
		}
		runGit(t, dir, "commit", "-q", "--allow-empty", "-m", msg)
		return strings.TrimSpace(runGit(t, dir, "rev-parse", "HEAD"))
	}
	c1 := commit("one", map[string]string{"src/config.go": "package config\n\nconst token = \"" + live + "\"\n"})
	commit("two", map[string]string{"old.txt": old + "\n", "x.bin": "\x00" + live})
	runGit(t, dir, "rm", "-q", "src/config.go")
	commit("three: removed, still in history", nil)
	runGit(t, dir, "checkout", "-q", "-b", "side", "main~2")
	c4 := commit("side "+live, nil)

	leaks, err := gitserve.ScanRepository(context.Background(), dir, gitserve.ScanOptions{Manager: m})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, l := range leaks {
		got = append(got, l.String())
		requireNoPart(t, "a printed Leak", fmt.Sprintf("%v %+v %#v", l, l, l), live)
	}
	liveTok, _ := m.Authenticate(context.Background(), live)
	want := []string{ // oldest first
		fmt.Sprintf("live token %s (owner \"carol\") in commit %s, path src/config.go, line 3", liveTok.ID, c1),
		fmt.Sprintf("live token %s (owner \"carol\") in the message of commit %s, line 6", liveTok.ID, c4),
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("leaks:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// With revoked tokens reported too, and revocation of the live one.
	var revoked []gitserve.Revocation
	leaks, err = gitserve.ScanRepository(context.Background(), dir, gitserve.ScanOptions{
		Manager: m,
		Tokens:  accesstoken.ScanOptions{IncludeRevoked: true},
		Revoke: func(ctx context.Context, r gitserve.Revocation) error {
			revoked = append(revoked, r)
			_, err := m.RevokeLeaked(ctx, r.Secret.Reveal(), r.Actor, r.Reason)
			return err
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[accesstoken.FindingKind]int{}
	for _, l := range leaks {
		kinds[l.Kind]++
	}
	if kinds[accesstoken.FindingLive] != 2 || kinds[accesstoken.FindingRevoked] != 1 {
		t.Errorf("kinds found: %v; want 2 live, 1 revoked", kinds)
	}
	if len(revoked) != 1 || revoked[0].Actor != gitserve.RepositoryScanActor || !strings.HasPrefix(revoked[0].Reason, "repository scan: found in ") {
		t.Errorf("revocations: %+v", revoked)
	}
	if _, err := m.Authenticate(context.Background(), live); !errors.Is(err, accesstoken.ErrRevoked) {
		t.Errorf("after the scan with Revoke: %v; want ErrRevoked", err)
	}

	if _, err := gitserve.ScanRepository(context.Background(), filepath.Join(dir, "nope"), gitserve.ScanOptions{Manager: m}); err == nil {
		t.Error("scan of a missing directory: no error")
	}
	if _, err := gitserve.ScanRepository(context.Background(), dir, gitserve.ScanOptions{}); err == nil {
		t.Error("scan without a Manager: no error")
	}
	if _, err := gitserve.ScanRepository(context.Background(), t.TempDir(), gitserve.ScanOptions{Manager: m}); err == nil {
		t.Error("scan of a directory that is no repository: no error")
	}
}
