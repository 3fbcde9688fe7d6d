package main

import (
	"os"
	"path/filepath"
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
		w := g.workRepo()
		if err := os.MkdirAll(filepath.Join(w, "ci"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(w, "ci", file), []byte("token: "+leaked.Token+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		for _, args := range [][]string{{"add", "ci"}, {"commit", "-q", "-m", "add CI config"}} {
			if out, err := g.run(w, args...); err != nil {
				t.Fatalf("git %v: %v\n%s", args, err, out)
			}
		}
		return g.run(w, "push", "-q", srv.tokenURL("alice", pusher.Token, repo), "HEAD:refs/heads/leak")
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

	// No ref moved: neither branch exists.
	for _, repo := range []string{"alpha/two", "alpha/pub"} {
		if out, err := g.run("", "ls-remote", srv.tokenURL("alice", pusher.Token, repo), "refs/heads/leak"); err != nil || strings.TrimSpace(out) != "" {
			t.Errorf("%s: refs/heads/leak after a refused push: %q, %v", repo, out, err)
		}
	}
}
