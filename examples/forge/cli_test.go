package main

import (
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/forgekit/accesstoken"
)

// TestDemo runs the forge as a newcomer does on an empty data directory,
// then the `git clone` and `git push` commands it prints, as printed. The
// demo repository is private, so they work only with their tokens: the
// same clone without the token, or with a wrong one, fails.
func TestDemo(t *testing.T) {
	t.Parallel()
	s := emptySite(t)
	srv := s.start("-demo")
	out := srv.printed()
	for _, want := range []string{"as demo, password ", "pull-only token for project demo: forge_",
		"git clone http://demo:forge_", "pull and push token for demo/hello: forge_", "git push http://demo:forge_"} {
		if !strings.Contains(out, want) {
			t.Fatalf("demo output lacks %q:\n%s", want, out)
		}
	}
	checkREADMEDemo(t, out)
	pullTok := regexp.MustCompile(`pull-only token for project demo: (\S+)`).FindStringSubmatch(out)[1]
	pushTok := regexp.MustCompile(`pull and push token for demo/hello: (\S+)`).FindStringSubmatch(out)[1]
	cloneCmd := regexp.MustCompile(`(?m)^ +(git clone \S+)$`).FindStringSubmatch(out)[1]
	pushCmds := regexp.MustCompile(`push with it, from the clone:\n((?: {4}\S.*\n)+)`).FindStringSubmatch(out)
	if !strings.Contains(cloneCmd, pullTok) || pushCmds == nil || !strings.Contains(pushCmds[1], pushTok) {
		t.Fatalf("the printed commands do not use the printed tokens:\n%s", out)
	}
	g := newGit(t)

	// Without its token, or with another, the printed clone fails: the
	// token is what makes it work.
	anonymous := strings.Replace(strings.TrimPrefix(cloneCmd, "git clone "), "demo:"+pullTok+"@", "", 1)
	g.mustNotClone(anonymous, "the printed clone without its token", "fatal")
	last := "x"
	if strings.HasSuffix(pullTok, last) {
		last = "y"
	}
	wrong := strings.Replace(strings.TrimPrefix(cloneCmd, "git clone "), pullTok, pullTok[:len(pullTok)-1]+last, 1)
	g.mustNotClone(wrong, "the printed clone with a wrong token", "Authentication failed")

	dir := t.TempDir()
	if out, err := g.shell(dir, cloneCmd); err != nil {
		t.Fatalf("the printed clone command failed: %v\n%s", err, out)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "hello", "README.md")); err != nil || !strings.HasPrefix(string(b), "# hello") {
		t.Errorf("README.md of the clone: %q, %v", b, err)
	}
	// The clone used the token: its last use shows, through the API and
	// the password printed.
	pw := regexp.MustCompile(`password (\S+)`).FindStringSubmatch(out)[1]
	asDemo := func(r *http.Request) { r.SetBasicAuth("demo", pw) }
	for deadline := time.Now().Add(30 * accesstoken.LastUsedDelay); ; time.Sleep(accesstoken.LastUsedDelay / 10) {
		code, body := srv.apiAuth("GET", "/api/projects/demo/tokens", asDemo, nil)
		var page apiList
		if code != 200 || json.Unmarshal(body, &page) != nil || len(page.Tokens) != 1 || page.Tokens[0].Description != "demo: pull-only project token" {
			t.Fatalf("listing the demo's project tokens: %d %s", code, body)
		}
		if page.Tokens[0].LastUsedAt != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the pull-only token is not shown as used after the clone: %s", body)
		}
	}

	// The pull-only token cannot push; the push commands, as printed, do.
	work := filepath.Join(dir, "hello")
	if out, err := g.run(work, "push", strings.TrimPrefix(cloneCmd, "git clone "), "HEAD:refs/heads/x"); err == nil {
		t.Errorf("push with the pull-only token succeeded\n%s", out)
	}
	script := strings.Join(strings.Fields(strings.ReplaceAll(pushCmds[1], "\n", " && ")), " ")
	script = strings.TrimSuffix(script, " &&")
	if out, err := g.shell(dir, script); err != nil {
		t.Fatalf("the printed push commands failed: %v\n%s", err, out)
	}
	head, _ := g.run(work, "rev-parse", "HEAD")
	if out, err := g.run("", "ls-remote", srv.tokenURL("demo", pushTok, "demo/hello"), "refs/heads/main"); err != nil || !strings.HasPrefix(out, strings.TrimSpace(head)) {
		t.Errorf("after the printed push, main is %q (%v); want %s", out, err, head)
	}
	srv.stop()

	// A second start sets nothing up again.
	srv = s.start("-demo")
	if out := srv.output(); strings.Contains(out, "Demo set up") || !strings.Contains(out, "remove the data directory") {
		t.Errorf("second start:\n%s", out)
	}
}

func TestDemoOff(t *testing.T) {
	t.Parallel()
	s := emptySite(t)
	srv := s.start("-demo=false")
	if strings.Contains(srv.output(), "Demo") {
		t.Errorf("-demo=false set up a demo:\n%s", srv.output())
	}
	// Neither the demo user nor the demo project exists.
	if out, code := s.cli("", "project add", "-owner", "demo", "x"); code == 0 || !strings.Contains(out, "demo") {
		t.Errorf("project add -owner demo with -demo=false: exit %d; want a failure naming the missing user demo\n%s", code, out)
	}
	if out, code := s.cli("", "repo add", "demo/hello"); code == 0 || !strings.Contains(out, "demo") {
		t.Errorf("repo add demo/hello with -demo=false: exit %d; want a failure naming the missing project demo\n%s", code, out)
	}
}

// TestCLI checks the set-up commands and their errors.
func TestCLI(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	s.addUser("alice")
	s.addUser("bob")
	s.must("", "project add", "-owner", "alice", "alpha")
	s.must("", "repo add", "alpha/one")
	s.must("", "repo add", "-private", "alpha/secret")
	s.must("", "project member", "alpha", "bob", "write")
	s.must("", "project member", "alpha", "bob", "read")
	s.must("", "project member", "alpha", "bob", "none")
	if _, err := os.Stat(filepath.Join(s.data, "repos", "alpha", "secret.git", "HEAD")); err != nil {
		t.Errorf("repo add did not create a bare repository: %v", err)
	}

	tests := []struct {
		name  string
		stdin string
		args  []string
		want  string
	}{
		{"duplicate user", "password1\n", []string{"user add", "alice"}, `user "alice" already exists`},
		{"short password", "short\n", []string{"user add", "carol"}, "password"},
		{"no password", "", []string{"user add", "carol"}, "first line of standard input"},
		{"invalid user name", "password1\n", []string{"user add", "Carol"}, "invalid user name"},
		{"dot-dot user name", "password1\n", []string{"user add", "a..b"}, "invalid user name"},
		{"unknown owner", "", []string{"project add", "-owner", "nobody", "beta"}, `user "nobody" not found`},
		{"no owner", "", []string{"project add", "beta"}, "-owner USER is required"},
		{"duplicate project", "", []string{"project add", "-owner", "alice", "alpha"}, `project "alpha" already exists`},
		{"invalid project name", "", []string{"project add", "-owner", "alice", "_beta"}, "invalid project name"},
		{".git project name", "", []string{"project add", "-owner", "alice", "beta.git"}, "must not end in .git"},
		{".git repository name", "", []string{"repo add", "alpha/x.git"}, "must not end in .git"},
		{"reserved project name", "", []string{"project add", "-owner", "alice", "api"}, "reserved"},
		{"dot-dot repository", "", []string{"repo add", "alpha/.."}, "invalid repository name"},
		{"slash in repository", "", []string{"repo add", "alpha/a/b"}, "invalid repository name"},
		{"repository without project", "", []string{"repo add", "one"}, "PROJECT/REPO"},
		{"repository of unknown project", "", []string{"repo add", "nope/one"}, `project "nope" not found`},
		{"duplicate repository", "", []string{"repo add", "alpha/one"}, "already exists"},
		{"member of unknown project", "", []string{"project member", "nope", "bob", "read"}, `project "nope" not found`},
		{"unknown member", "", []string{"project member", "alpha", "nobody", "read"}, `user "nobody" not found`},
		{"bad role", "", []string{"project member", "alpha", "bob", "owner"}, "want read, write, admin or none"},
		{"owner's role", "", []string{"project member", "alpha", "alice", "read"}, "always its admin"},
		{"unknown command", "", []string{"frobnicate"}, "unknown command"},
		{"missing argument", "", []string{"repo add"}, "want 1 argument"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, code := s.cli(tt.stdin, tt.args...)
			if code == 0 {
				t.Fatalf("exit status 0; want non-zero\n%s", out)
			}
			if !strings.Contains(out, tt.want) {
				t.Errorf("got %q; want it to contain %q", out, tt.want)
			}
		})
	}
}

// TestDataDirName: the database lands in the data directory whatever
// characters its name has (it is passed to SQLite as a URI).
func TestDataDirName(t *testing.T) {
	t.Parallel()
	s := emptySite(t)
	s.data = filepath.Join(s.data, "a b#c?d%41")
	s.create()
	s.addUser("alice")
	if _, err := os.Stat(filepath.Join(s.data, "forge.db")); err != nil {
		t.Errorf("database not in the data directory: %v", err)
	}
	s.must("", "project add", "-owner", "alice", "alpha") // the same database
}

// TestHelp: help is asked for in the usual ways and exits 0; a command
// group without a subcommand lists its subcommands.
func TestHelp(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	for _, args := range [][]string{{"help"}, {"-h"}, {"--help"}, {"-help"}} {
		out, code := s.cli("", args...)
		if code != 0 {
			t.Errorf("forge %v: exit %d; want 0\n%s", args, code, out)
		}
		for _, want := range []string{"serve [-addr HOST:PORT]", "user passwd NAME", "project delete PROJECT", "repo delete PROJECT/REPO", "token list", "token revoke [-reason TEXT] ID", "-data DIR"} {
			if !strings.Contains(out, want) {
				t.Errorf("forge %v lacks %q:\n%s", args, want, out)
			}
		}
	}
	groups := map[string][]string{
		"user":    {"user add NAME", "user passwd NAME", "user list"},
		"project": {"project add -owner USER NAME", "project list", "project member PROJECT USER ROLE", "project delete PROJECT"},
		"repo":    {"repo add [-private] PROJECT/REPO", "repo list [PROJECT]", "repo delete PROJECT/REPO"},
		"token":   {"token list", "token revoke [-reason TEXT] ID"},
	}
	for group, wants := range groups {
		for _, args := range [][]string{{group}, {group, "-h"}, {"help", group}} {
			out, code := s.cli("", args...)
			if code != 0 {
				t.Errorf("forge %v: exit %d; want 0\n%s", args, code, out)
			}
			for _, want := range wants {
				if !strings.Contains(out, want) {
					t.Errorf("forge %v lacks %q:\n%s", args, want, out)
				}
			}
		}
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"help", "repo", "add"}, "-private"},
		{[]string{"repo", "add", "-h"}, "-private"},
		{[]string{"serve", "-h"}, "-public-url URL"},
		{[]string{"help", "token", "list"}, "-expiring DURATION"},
	} {
		if out, code := s.cli("", tt.args...); code != 0 || !strings.Contains(out, tt.want) {
			t.Errorf("forge %v: exit %d; want 0 and %q\n%s", tt.args, code, tt.want, out)
		}
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"user", "frob"}, `"user" has add, passwd, list`},
		{[]string{"frob"}, `unknown command "frob"`},
		{[]string{"help", "frob"}, `unknown command "frob"`},
		{[]string{"repo", "add", "-frob", "alpha/x"}, "flag provided but not defined: -frob"},
		{[]string{"serve", "extra"}, "serve takes no arguments"},
	} {
		if out, code := s.cli("", tt.args...); code != 2 || !strings.Contains(out, tt.want) {
			t.Errorf("forge %v: exit %d; want 2 and %q\n%s", tt.args, code, tt.want, out)
		}
	}
}

// TestFlagsAfterArguments: flags may follow the arguments.
func TestFlagsAfterArguments(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	s.addUser("alice")
	s.must("", "project add", "alpha", "-owner", "alice")
	s.must("", "repo add", "alpha/x", "-private")
	s.must("", "repo add", "alpha/y")
	out, code := s.cli("", "repo list", "alpha", "-data", s.data)
	if code != 0 || !regexp.MustCompile(`alpha/x +private\n`).MatchString(out) || !regexp.MustCompile(`alpha/y +public\n`).MatchString(out) {
		t.Errorf("repo list after `repo add alpha/x -private`: exit %d\n%s", code, out)
	}
	// After "--", everything is an argument.
	if out, code := s.cli("", "repo add", "--", "-private"); code == 0 || !strings.Contains(out, "PROJECT/REPO") {
		t.Errorf("repo add -- -private: exit %d\n%s", code, out)
	}
}

// TestNoNewForge: only serve creates a forge; every other command on a
// mistyped -data is an error and creates nothing.
func TestNoNewForge(t *testing.T) {
	t.Parallel()
	s := emptySite(t)
	typo := filepath.Join(s.data, "typo")
	for _, args := range [][]string{{"user", "list"}, {"user", "add", "alice"}, {"project", "add", "-owner", "alice", "alpha"}, {"repo", "add", "alpha/x"}, {"token", "list"}} {
		cmd := exec.Command(forgeBin, append([]string{"-data", typo}, args...)...)
		cmd.Stdin = strings.NewReader("password1\n")
		out, err := cmd.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(string(out), "no forge data directory "+typo) {
			t.Errorf("forge -data %s %v: %v; want exit 1 saying there is no forge\n%s", typo, args, err, out)
		}
		if _, err := os.Stat(typo); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("forge -data %s %v created it (%v)", typo, args, err)
		}
	}
	// An existing directory that holds no forge gets none either.
	out, code := s.cli("password1\n", "user add", "alice")
	if code != 1 || !strings.Contains(out, "no forge in") {
		t.Errorf("user add in an empty directory: exit %d; want 1\n%s", code, out)
	}
	if entries, _ := os.ReadDir(s.data); len(entries) != 0 {
		t.Errorf("user add in an empty directory left %v", entries)
	}
	s.create()
	s.addUser("alice") // now it works
}

// TestUserCommands: user passwd and user list.
func TestUserCommands(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	s.addUser("alice")
	s.addUser("bob")
	s.must("", "project add", "-owner", "alice", "alpha")
	srv := s.start()
	b := srv.browser(t)
	b.login("alice")

	if out, code := s.cli("a new password\n", "user passwd", "alice"); code != 0 || !strings.Contains(out, "changed the password of alice") {
		t.Fatalf("user passwd: exit %d\n%s", code, out)
	}
	if code, body := srv.api("GET", "/api/projects/alpha/tokens", "alice", nil); code != 401 {
		t.Errorf("the old password after user passwd: %d %s; want 401", code, body)
	}
	if code, body := srv.apiAuth("GET", "/api/projects/alpha/tokens", func(r *http.Request) { r.SetBasicAuth("alice", "a new password") }, nil); code != 200 {
		t.Errorf("the new password: %d %s; want 200", code, body)
	}
	// The web session signed in with the old password has ended.
	if resp, _ := b.get("/-/tokens"); resp.Request.URL.Path != "/login" {
		t.Errorf("after user passwd, the old session still sees %s", resp.Request.URL.Path)
	}

	for _, tt := range []struct {
		stdin string
		args  []string
		want  string
	}{
		{"a new password\n", []string{"user passwd", "nobody"}, `user "nobody" not found`},
		{"short\n", []string{"user passwd", "bob"}, "password: use 8 to 72 bytes"},
		{"", []string{"user passwd", "bob"}, "first line of standard input"},
	} {
		if out, code := s.cli(tt.stdin, tt.args...); code != 1 || !strings.Contains(out, tt.want) {
			t.Errorf("forge %v: exit %d; want 1 and %q\n%s", tt.args, code, tt.want, out)
		}
	}

	out, code := s.cli("", "user list")
	if code != 0 || !regexp.MustCompile(`(?s)USER +CREATED\nalice +\d{4}-\d\d-\d\d .*\nbob `).MatchString(out) {
		t.Errorf("user list: exit %d\n%s", code, out)
	}
	out, code = s.cli("", "project list")
	if code != 0 || !regexp.MustCompile(`PROJECT +OWNER\nalpha +alice\n`).MatchString(out) {
		t.Errorf("project list: exit %d\n%s", code, out)
	}
	if out, code := s.cli("", "repo list"); code != 0 || out != "no repositories\n" {
		t.Errorf("repo list with none: exit %d\n%s", code, out)
	}
	if out, code := s.cli("", "repo list", "nope"); code != 1 || !strings.Contains(out, `project "nope" not found`) {
		t.Errorf("repo list nope: exit %d\n%s", code, out)
	}
}

// TestDeleteDropsTokens: deleting a repository or a project deletes its
// tokens, so one re-created with the same name inherits none.
func TestDeleteDropsTokens(t *testing.T) {
	t.Parallel()
	s, srv, g := lifeSite(t)
	repoTok := srv.issue("bob", "alpha/one", "repository:pull")
	projTok := srv.issue("alice", "alpha", "repository:pull")
	g.mustClone(srv.tokenURL("bob", repoTok.Token, "alpha/one"), "repository token before the deletion")

	out, code := s.cli("", "repo delete", "alpha/one")
	if code != 0 || !strings.Contains(out, "deleted repository alpha/one and 1 token") {
		t.Fatalf("repo delete: exit %d\n%s", code, out)
	}
	if _, err := os.Stat(filepath.Join(s.data, "repos", "alpha", "one.git")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("repo delete left the repository's directory (%v)", err)
	}
	if out, code := s.cli("", "repo delete", "alpha/one"); code != 1 || !strings.Contains(out, "not found") {
		t.Errorf("deleting it twice: exit %d\n%s", code, out)
	}
	s.must("", "repo add", "-private", "alpha/one")
	push := srv.issue("alice", "alpha/one", "repository:push")
	if out, err := g.run(g.workRepo(), "push", "-q", srv.tokenURL("alice", push.Token, "alpha/one"), "main"); err != nil {
		t.Fatalf("push to the new alpha/one: %v\n%s", err, out)
	}
	g.mustNotClone(srv.tokenURL("bob", repoTok.Token, "alpha/one"), "the old repository token on the new alpha/one", "Authentication failed")
	g.mustClone(srv.tokenURL("alice", projTok.Token, "alpha/one"), "the project token, its project kept")

	out, code = s.cli("", "project delete", "alpha")
	if code != 0 || !strings.Contains(out, "deleted project alpha, 2 repositories and") {
		t.Fatalf("project delete: exit %d\n%s", code, out)
	}
	if _, err := os.Stat(filepath.Join(s.data, "repos", "alpha")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("project delete left the project's directory (%v)", err)
	}
	s.must("", "project add", "-owner", "alice", "alpha")
	s.must("", "repo add", "-private", "alpha/one")
	push = srv.issue("alice", "alpha/one", "repository:push")
	if out, err := g.run(g.workRepo(), "push", "-q", srv.tokenURL("alice", push.Token, "alpha/one"), "main"); err != nil {
		t.Fatalf("push to the new alpha/one: %v\n%s", err, out)
	}
	g.mustNotClone(srv.tokenURL("alice", projTok.Token, "alpha/one"), "the old project token on the new project", "Authentication failed")
	if out, _ := s.cli("", "token list", "-all"); strings.Contains(out, projTok.ID) || strings.Contains(out, repoTok.ID) {
		t.Errorf("token list shows deleted tokens:\n%s", out)
	}
}

// TestTokenCommands: token list (newest first) and token revoke.
func TestTokenCommands(t *testing.T) {
	t.Parallel()
	s, srv, g := lifeSite(t)
	setup := srv.list("alice", "alpha", "")[0] // lifeSite's push token
	issue := func(user, target string, expires time.Duration) apiTok {
		t.Helper()
		body := map[string]any{"description": "for " + target, "scopes": []string{"repository:pull"}}
		if expires > 0 {
			body["expires_at"] = time.Now().Add(expires).UTC().Format(time.RFC3339)
		}
		code, b := srv.api("POST", apiTokensPath(target), user, body)
		var tok apiTok
		if code != 201 || json.Unmarshal(b, &tok) != nil {
			t.Fatalf("issuing: %d %s", code, b)
		}
		return tok
	}
	soon := issue("bob", "alpha/one", 48*time.Hour)
	proj := issue("alice", "alpha", 0)
	later := issue("alice", "alpha/two", 30*24*time.Hour)

	// want is in the order of the list: newest first.
	lists := []struct {
		args      []string
		want, not []apiTok
	}{
		{[]string{"token list"}, []apiTok{later, proj, soon, setup}, nil},
		{[]string{"token list", "-owner", "bob"}, []apiTok{soon}, []apiTok{setup, proj, later}},
		{[]string{"token list", "alpha/one"}, []apiTok{proj, soon, setup}, []apiTok{later}},
		{[]string{"token list", "alpha"}, []apiTok{later, proj, soon, setup}, nil},
		{[]string{"token list", "alpha", "-owner", "alice"}, []apiTok{later, proj, setup}, []apiTok{soon}},
		{[]string{"token list", "-expiring", "7d"}, []apiTok{soon}, []apiTok{setup, proj, later}},
		{[]string{"token list", "-expiring", "24h"}, nil, []apiTok{setup, soon, proj, later}},
	}
	for _, l := range lists {
		out, code := s.cli("", l.args...)
		if code != 0 {
			t.Errorf("forge %v: exit %d\n%s", l.args, code, out)
			continue
		}
		at := -1
		for _, tok := range l.want {
			i := strings.Index(out, tok.ID)
			if i < 0 {
				t.Errorf("forge %v lacks %s (%s):\n%s", l.args, tok.ID, tok.Description, out)
			} else if i < at {
				t.Errorf("forge %v lists %s (%s) before a newer token; want newest first:\n%s", l.args, tok.ID, tok.Description, out)
			}
			at = i
		}
		for _, tok := range l.not {
			if strings.Contains(out, tok.ID) {
				t.Errorf("forge %v shows %s (%s):\n%s", l.args, tok.ID, tok.Description, out)
			}
		}
	}
	out, _ := s.cli("", "token list", "-owner", "bob")
	if !regexp.MustCompile(`(?m)^ID +TARGET +OWNER +SCOPES +CREATED +LAST USED +EXPIRES +DESCRIPTION\n` + soon.ID + ` +alpha/one +bob +repository:pull +\d{4}-\d\d-\d\d \d\d:\d\d UTC +never +\d{4}-\d\d-\d\d \d\d:\d\d UTC +for alpha/one\n`).MatchString(out) {
		t.Errorf("token list -owner bob:\n%s", out)
	}

	u := srv.tokenURL("bob", soon.Token, "alpha/one")
	g.mustClone(u, "before token revoke")
	if out, code := s.cli("", "token revoke", soon.ID); code != 0 || !strings.Contains(out, "revoked token "+soon.ID+" (bob's, for alpha/one)") {
		t.Errorf("token revoke: exit %d\n%s", code, out)
	}
	g.mustNotClone(u, "after token revoke", "revoked")
	if out, code := s.cli("", "token revoke", soon.ID); code != 0 || !strings.Contains(out, "already revoked") {
		t.Errorf("token revoke twice: exit %d\n%s", code, out)
	}
	if out, _ := s.cli("", "token list", "-owner", "bob"); out != "no tokens\n" {
		t.Errorf("token list after the revocation: %q; want no tokens", out)
	}
	if out, _ := s.cli("", "token list", "-owner", "bob", "-all"); !regexp.MustCompile(soon.ID + `.* revoked +for alpha/one`).MatchString(out) {
		t.Errorf("token list -all after the revocation:\n%s", out)
	}

	for _, tt := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"token revoke", "nonsense"}, 2, `"nonsense" is not a token ID`},
		{[]string{"token revoke", "6c1f8b0e-0000-4000-8000-000000000000"}, 1, "no token has the ID"},
		{[]string{"token list", "-expiring", "7x"}, 2, "want a duration such as 7d"},
		{[]string{"token list", "-expiring", "-1d"}, 2, "want a duration such as 7d"},
		{[]string{"token list", "-expiring", "7d", "-all"}, 2, "active tokens only"},
		{[]string{"token list", "nope"}, 1, `project "nope" not found`},
		{[]string{"token list", "alpha/nope"}, 1, `repository "alpha/nope" not found`},
		{[]string{"token list", "-owner", "nobody"}, 1, `user "nobody" not found`},
		{[]string{"token list", "alpha", "beta"}, 2, "want at most 1 argument"},
	} {
		if out, code := s.cli("", tt.args...); code != tt.code || !strings.Contains(out, tt.want) {
			t.Errorf("forge %v: exit %d; want %d and %q\n%s", tt.args, code, tt.code, tt.want, out)
		}
	}
}

// checkREADMEDemo: the demo output the README shows is the forge's, line
// for line, but for the password, the tokens and the port; and its tokens
// are well-formed tokens of the forge's format.
func checkREADMEDemo(t *testing.T, out string) {
	t.Helper()
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	block := func(text, indent string) []string {
		var lines []string
		in := false
		for _, l := range strings.Split(text, "\n") {
			l = strings.TrimPrefix(l, indent)
			in = in || strings.HasPrefix(l, "Demo set up")
			if in {
				lines = append(lines, l)
				if strings.HasPrefix(l, "forge listening on ") {
					return lines
				}
			}
		}
		return nil
	}
	tokens := regexp.MustCompile(`forge_[0-9A-Za-z]+`)
	mask := func(lines []string) string {
		s := strings.Join(lines, "\n")
		s = regexp.MustCompile(`password \S+`).ReplaceAllString(s, "password PASSWORD")
		s = tokens.ReplaceAllString(s, "TOKEN")
		return regexp.MustCompile(`127\.0\.0\.1:\d+`).ReplaceAllString(s, "HOST")
	}
	shown, printed := block(string(b), "    "), block(out, "")
	if shown == nil || printed == nil {
		t.Fatalf("no demo output in README.md (%d lines) or from the forge (%d lines)", len(shown), len(printed))
	}
	if mask(shown) != mask(printed) {
		t.Errorf("README.md shows the demo output as\n%s\nThe forge prints\n%s", mask(shown), mask(printed))
	}
	f, err := accesstoken.NewFormat("forge")
	if err != nil {
		t.Fatal(err)
	}
	for _, tok := range tokens.FindAllString(strings.Join(shown, "\n"), -1) {
		if err := f.Check(tok); err != nil {
			t.Errorf("README.md's sample token %s: %v", tok, err)
		}
	}
}
