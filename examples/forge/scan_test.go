package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestScan: forge scan finds the live tokens in every reachable object of
// the repositories (pushed while push protection was off), revokes those
// found in public repositories by "repository scan", with where as the
// reason, leaves those in private ones live, and prints where each is
// (repository, commit, path, line, token ID), never the token. The
// owner's "Your tokens" and the project's activity show the revocation.
func TestScan(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	for _, u := range []string{"alice", "bob"} {
		s.addUser(u)
	}
	s.must("", "project add", "-owner", "alice", "alpha")
	s.must("", "project member", "alpha", "bob", "write")
	s.must("", "repo add", "alpha/pub")
	s.must("", "repo add", "-private", "alpha/priv")
	srv := s.start("-push-protection=false")
	g := newGit(t)
	pusher := srv.issue("alice", "alpha", "repository:pull", "repository:push")
	public := srv.issue("bob", "alpha/priv", "repository:pull")
	private := srv.issue("bob", "alpha/priv", "repository:pull")
	dead := srv.issue("bob", "alpha/priv", "repository:pull")
	if code, _ := srv.api("DELETE", "/api/user/tokens/"+dead.ID, "bob", nil); code != 204 {
		t.Fatal("revoking")
	}

	// Push protection is off: the tokens go in.
	w := g.workRepo()
	if err := os.MkdirAll(filepath.Join(w, "ci"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(w, "ci", "deploy.yml"), []byte("# deploy\ntoken: "+public.Token+"\nold: "+dead.Token+"\n"), 0o644)
	for _, args := range [][]string{{"add", "."}, {"commit", "-q", "-m", "deploy config"}} {
		if out, err := g.run(w, args...); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	var pubCommit string
	if out, err := g.run(w, "rev-parse", "HEAD"); err == nil {
		pubCommit = strings.TrimSpace(out)
	}
	if out, err := g.run(w, "push", "-q", srv.tokenURL("alice", pusher.Token, "alpha/pub"), "main"); err != nil {
		t.Fatalf("push to alpha/pub without push protection: %v\n%s", err, out)
	}
	w2 := g.workRepo()
	if out, err := g.run(w2, "commit", "-q", "--allow-empty", "-m", "CI: use "+private.Token); err != nil {
		t.Fatalf("commit: %v\n%s", err, out)
	}
	if out, err := g.run(w2, "push", "-q", srv.tokenURL("alice", pusher.Token, "alpha/priv"), "main"); err != nil {
		t.Fatalf("push to alpha/priv: %v\n%s", err, out)
	}

	out, code := s.cli("", "scan")
	if code != 0 {
		t.Fatalf("forge scan: exit %d\n%s", code, out)
	}
	for _, tok := range []apiTok{public, private, dead, pusher} {
		if strings.Contains(out, tok.Token) || strings.Contains(out, tok.Token[:20]) {
			t.Errorf("forge scan shows a token:\n%s", out)
		}
	}
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^REPOSITORY +COMMIT +PATH +LINE +TOKEN ID +OWNER +ACTION$`),
		regexp.MustCompile(`(?m)^alpha/pub +` + pubCommit + ` +ci/deploy.yml +2 +` + public.ID + ` +bob +revoked$`),
		regexp.MustCompile(`(?m)^alpha/priv +[0-9a-f]{40} +\(commit message\) +\d+ +` + private.ID + ` +bob +left live: private repository$`),
		regexp.MustCompile(`(?m)^scanned 2 repositories: 2 live tokens found, 1 revoked \(found in public repositories\), 1 left live`),
	} {
		if !want.MatchString(out) {
			t.Errorf("forge scan's output does not match %s:\n%s", want, out)
		}
	}
	if strings.Contains(out, dead.ID) {
		t.Errorf("forge scan lists a token revoked before:\n%s", out)
	}
	g.mustNotClone(srv.tokenURL("bob", public.Token, "alpha/priv"), "a token found in a public repository", "revoked")
	g.mustClone(srv.tokenURL("bob", private.Token, "alpha/priv"), "a token found in a private repository")

	// The owner sees who revoked it and why; the admins, in the activity.
	bob := srv.browser(t)
	bob.login("bob")
	_, body := bob.get("/-/tokens")
	row := regexp.MustCompile(`(?s)<tr id="token-` + public.ID + `".*?</tr>`).FindString(body)
	if !strings.Contains(row, `by <span class="revoked-by">repository scan</span>`) ||
		!strings.Contains(row, `<span class="reason">Found in commit `+pubCommit+`, path ci/deploy.yml, line 2</span>`) {
		t.Errorf("the token revoked by the scan, on “Your tokens”:\n%s", row)
	}
	admin := srv.browser(t)
	admin.login("alice")
	_, body = admin.get("/alpha/-/activity")
	if row := regexp.MustCompile(`(?s)<tr class="ev-revoked">.*?</tr>`).FindString(body); !strings.Contains(row, "repository scan") || !strings.Contains(row, "path ci/deploy.yml") {
		t.Errorf("the activity's first revocation does not say the scan revoked it, and where:\n%s", row)
	}

	// Again: nothing live left in the public repository.
	if out, code := s.cli("", "scan", "alpha/pub"); code != 0 || !strings.Contains(out, "scanned 1 repository: no live token") {
		t.Errorf("forge scan alpha/pub again: exit %d\n%s", code, out)
	}
	if out, code := s.cli("", "scan", "alpha"); code != 0 || !strings.Contains(out, "scanned 2 repositories") || !strings.Contains(out, private.ID) {
		t.Errorf("forge scan alpha: exit %d\n%s", code, out)
	}
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"scan", "nope"}, 1, `project "nope" not found`},
		{[]string{"scan", "alpha/nope"}, 1, `repository "alpha/nope" not found`},
		{[]string{"scan", "alpha", "beta"}, 2, "want at most 1 argument"},
		{[]string{"help", "scan"}, 0, "Usage: forge [-data DIR] [-db URL] scan [PROJECT[/REPO]]"},
		{[]string{"-h"}, 0, "scan [PROJECT[/REPO]]"},
	} {
		if out, code := s.cli("", c.args...); code != c.code || !strings.Contains(out, c.want) {
			t.Errorf("forge %v: exit %d; want %d and %q\n%s", c.args, code, c.code, c.want, out)
		}
	}
}
