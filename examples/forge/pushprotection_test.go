package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestPushProtection: the forge refuses a push that adds a live token of
// its own, before any ref moves. To a private repository the token stays
// valid; to a public one it is revoked too, by push protection. The
// pusher is told where the token is, never the token.
func TestPushProtection(t *testing.T) {
	t.Parallel()
	s, srv, g := lifeSite(t)
	s.must("", "repo add", "alpha/pub")
	pusher := srv.issue("alice", "alpha", "repository:pull", "repository:push")
	leaked := srv.issue("bob", "alpha/one", "repository:pull")

	push := func(repo, file string) (string, error) {
		t.Helper()
		return pushFile(t, g, srv.tokenURL("alice", pusher.Token, repo), filepath.Join("ci", file), "token: "+leaked.Token+"\n")
	}
	refused := func(out string, err error, repo string) {
		t.Helper()
		if err == nil {
			t.Fatalf("push of a live token to %s accepted", repo)
		}
		if strings.Contains(out, leaked.Token) || strings.Contains(out, leaked.Token[:20]) {
			t.Errorf("the refusal shows the token:\n%s", out)
		}
		for _, want := range []string{"ci/private.yml", "ci/public.yml"} {
			if strings.Contains(out, want) {
				return
			}
		}
		t.Errorf("the refusal does not name the file:\n%s", out)
	}

	out, err := push("alpha/two", "private.yml")
	refused(out, err, "alpha/two")
	if strings.Contains(out, "has been revoked") {
		t.Errorf("a push to a private repository says the token was revoked:\n%s", out)
	}
	g.mustClone(srv.tokenURL("bob", leaked.Token, "alpha/one"), "the leaked token after a refused push to a private repository")

	out, err = push("alpha/pub", "public.yml")
	refused(out, err, "alpha/pub")
	if !strings.Contains(out, "revoked") {
		t.Errorf("a push to a public repository does not say the token was revoked:\n%s", out)
	}
	g.mustNotClone(srv.tokenURL("bob", leaked.Token, "alpha/one"), "the token leaked to a public repository", "revoked")
	if !strings.Contains(srv.output(), "system:push-protection") {
		t.Errorf("the audit log does not name push protection as who revoked the token:\n%s", srv.output())
	}

	// The token's owner sees it revoked by push protection, and why, on
	// "Your tokens", its page and through the API; the project's admins
	// in its activity.
	bob := srv.browser(t)
	bob.login("bob")
	_, body := bob.get("/-/tokens")
	row := regexp.MustCompile(`(?s)<tr id="token-` + leaked.ID + `".*?</tr>`).FindString(body)
	if !strings.Contains(row, `by <span class="revoked-by">push protection</span>`) ||
		!regexp.MustCompile(`<span class="reason">Pushed to alpha/pub by alice, found in commit [0-9a-f]{40}, path ci/public.yml, line 1</span>`).MatchString(row) {
		t.Errorf("bob's revoked token on “Your tokens” does not say push protection revoked it, and why:\n%s", row)
	}
	if _, body := bob.get("/-/tokens/" + leaked.ID); !strings.Contains(body, "by push protection</dd>") {
		t.Errorf("the token's page does not say push protection revoked it")
	}
	l := find(srv.listAll("bob", "/api/user/tokens", "?state=all"), leaked.ID)
	code, b := srv.api("GET", "/api/user/tokens/"+leaked.ID, "bob", nil)
	if l == nil || l.RevokedBy == nil || *l.RevokedBy != "system:push-protection" || code != 200 ||
		!strings.Contains(string(b), `"revocation_reason": "push protection: pushed to alpha/pub by alice, found in commit `) {
		t.Errorf("the API's revoked token: %+v\n%s", l, b)
	}
	admin := srv.browser(t)
	admin.login("alice")
	_, body = admin.get("/alpha/-/activity")
	row = regexp.MustCompile(`(?s)<tr class="ev-revoked">.*?</tr>`).FindString(body)
	if !strings.Contains(row, "push protection") || !strings.Contains(row, "path ci/public.yml") {
		t.Errorf("the activity's revocation does not say push protection, and where:\n%s", row)
	}

	// A reason longer than the library records (a long path) still
	// revokes the token, with the reason shortened.
	long := srv.issue("bob", "alpha/one", "repository:pull")
	path := filepath.Join(strings.Repeat("d", 60), strings.Repeat("e", 60), strings.Repeat("f", 60), strings.Repeat("g", 50)+".yml")
	if out, err := pushFile(t, g, srv.tokenURL("alice", pusher.Token, "alpha/pub"), path, "token: "+long.Token+"\n"); err == nil || !strings.Contains(out, "revoked") {
		t.Errorf("a push of a token at a long path to a public repository: %v\n%s", err, out)
	}
	g.mustNotClone(srv.tokenURL("bob", long.Token, "alpha/one"), "a token leaked at a long path", "revoked")
	if l := find(srv.listAll("bob", "/api/user/tokens", "?state=all"), long.ID); l == nil || l.State != "revoked" {
		t.Errorf("the token leaked at a long path: %+v; want revoked", l)
	}

	// No ref moved: neither branch exists.
	for _, repo := range []string{"alpha/two", "alpha/pub"} {
		if out, err := g.run("", "ls-remote", srv.tokenURL("alice", pusher.Token, repo), "refs/heads/leak"); err != nil || strings.TrimSpace(out) != "" {
			t.Errorf("%s: refs/heads/leak after a refused push: %q, %v", repo, out, err)
		}
	}
}

// pushFile commits a file at path (a relative path) holding content, in a
// new work tree, and pushes it to u's refs/heads/leak; it returns git's
// output.
func pushFile(t *testing.T, g *gitClient, u, path, content string) (string, error) {
	t.Helper()
	w := g.workRepo()
	if err := os.MkdirAll(filepath.Join(w, filepath.Dir(path)), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(w, path), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"add", "."}, {"commit", "-q", "-m", "add CI config"}} {
		if out, err := g.run(w, args...); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	return g.run(w, "push", "-q", u, "HEAD:refs/heads/leak")
}
