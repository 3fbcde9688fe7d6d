package main

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// permSite is a forge with project alpha owned by "owner", with members
// "admin" (admin), "writer" (write) and "reader" (read), a public
// repository alpha/pub and a private one alpha/priv, each with a commit;
// and project beta of "outsider" with the private repository beta/other.
func permSite(t *testing.T) (*site, *server, *gitClient) {
	s := newSite(t)
	for _, u := range []string{"owner", "admin", "writer", "reader", "outsider"} {
		s.addUser(u)
	}
	s.must("", "project add", "-owner", "owner", "alpha")
	s.must("", "project add", "-owner", "outsider", "beta")
	s.must("", "project member", "alpha", "admin", "admin")
	s.must("", "project member", "alpha", "writer", "write")
	s.must("", "project member", "alpha", "reader", "read")
	s.must("", "repo add", "alpha/pub")
	s.must("", "repo add", "-private", "alpha/priv")
	s.must("", "repo add", "-private", "beta/other")
	srv := s.start()
	g := newGit(t)
	work := g.workRepo()
	for _, p := range []struct{ user, repo string }{{"owner", "alpha/pub"}, {"owner", "alpha/priv"}, {"outsider", "beta/other"}} {
		tok := srv.issue(p.user, p.repo, "repository:push")
		if out, err := g.run(work, "push", "-q", srv.tokenURL(p.user, tok.Token, p.repo), "main"); err != nil {
			t.Fatalf("initial push to %s: %v\n%s", p.repo, err, out)
		}
	}
	return s, srv, g
}

// TestIssuePermissions: who may issue tokens for what, through the API.
// Repository tokens by write and admin members (the owner is an admin),
// project tokens by admins; private repositories are 404 to outsiders.
func TestIssuePermissions(t *testing.T) {
	t.Parallel()
	_, srv, _ := permSite(t)
	want := map[string]map[string]int{
		//            project alpha   public repo      private repo
		"owner":    {"alpha": 201, "alpha/pub": 201, "alpha/priv": 201},
		"admin":    {"alpha": 201, "alpha/pub": 201, "alpha/priv": 201},
		"writer":   {"alpha": 403, "alpha/pub": 201, "alpha/priv": 201},
		"reader":   {"alpha": 403, "alpha/pub": 403, "alpha/priv": 403},
		"outsider": {"alpha": 403, "alpha/pub": 403, "alpha/priv": 404},
	}
	for user, row := range want {
		for target, code := range row {
			body := map[string]any{"description": "permissions", "scopes": []string{"repository:pull"}}
			got, b := srv.api("POST", apiTokensPath(target), user, body)
			if got != code {
				t.Errorf("%s issuing a token for %s: got %d %s; want %d", user, target, got, b, code)
			}
			// Listing follows the same rule.
			lcode := code
			if lcode == 201 {
				lcode = 200
			}
			if got, b := srv.api("GET", apiTokensPath(target), user, nil); got != lcode {
				t.Errorf("%s listing the tokens of %s: got %d %s; want %d", user, target, got, b, lcode)
			}
		}
	}
	for _, target := range []string{"nope", "alpha/nope", "nope/pub"} {
		if got, b := srv.api("POST", apiTokensPath(target), "owner", map[string]any{"description": "unknown", "scopes": []string{"repository:pull"}}); got != 404 {
			t.Errorf("issuing for unknown %s: got %d %s; want 404", target, got, b)
		}
	}
}

// TestGitPermissions: every git access rule, with the real git client.
func TestGitPermissions(t *testing.T) {
	t.Parallel()
	s, srv, g := permSite(t)
	pp := []string{"repository:pull", "repository:push"}
	tokens := map[string]apiTok{
		"owner project": srv.issue("owner", "alpha", pp...),
		"admin project": srv.issue("admin", "alpha", pp...),
		"writer priv":   srv.issue("writer", "alpha/priv", pp...),
		"writer pub":    srv.issue("writer", "alpha/pub", pp...),
		"writer pull":   srv.issue("writer", "alpha/priv", "repository:pull"),
		"writer push":   srv.issue("writer", "alpha/priv", "repository:push"),
		"outsider beta": srv.issue("outsider", "beta", pp...),
	}
	// A reader cannot issue tokens; one issued while they could write
	// is what a read member's token looks like.
	s.must("", "project member", "alpha", "reader", "write")
	tokens["reader (was w)"] = srv.issue("reader", "alpha/priv", pp...)
	s.must("", "project member", "alpha", "reader", "read")

	type row struct {
		cred       string // key of tokens, "anonymous" or "password"
		repo       string
		pull, push bool
	}
	rows := []row{
		// Public repositories: anyone may pull, nobody pushes anonymously.
		{"anonymous", "alpha/pub", true, false},
		{"anonymous", "alpha/priv", false, false},
		// The owner is an admin; a project token covers every repository
		// of its project and nothing else.
		{"owner project", "alpha/pub", true, true},
		{"owner project", "alpha/priv", true, true},
		{"owner project", "beta/other", false, false},
		{"admin project", "alpha/priv", true, true},
		// write: pull and push; a repository token covers one repository.
		{"writer priv", "alpha/priv", true, true},
		// (git sends the URL's credentials only after a 401: a public
		// repository's clone is anonymous whatever the URL holds.)
		{"writer priv", "alpha/pub", true, false},
		{"writer pub", "alpha/pub", true, true},
		{"writer pub", "alpha/priv", false, false},
		// Scopes are exact: a pull token cannot push, a push token cannot pull.
		{"writer pull", "alpha/priv", true, false},
		{"writer push", "alpha/priv", false, true},
		// read: pull private repositories, no push, whatever the token's scopes.
		{"reader (was w)", "alpha/priv", true, false},
		// Outsiders: their tokens get nothing of project alpha.
		{"outsider beta", "alpha/priv", false, false},
		{"outsider beta", "alpha/pub", true, false},
		{"outsider beta", "beta/other", true, true},
		// Passwords do not work for git.
		{"password", "alpha/priv", false, false},
		{"password", "alpha/pub", true, false},
	}
	work := g.workRepo()
	for i, r := range rows {
		name := fmt.Sprintf("%s on %s", r.cred, r.repo)
		var u string
		switch r.cred {
		case "anonymous":
			u = srv.tokenURL("", "", r.repo)
		case "password":
			u = srv.tokenURL("writer", password("writer"), r.repo)
		default:
			tok := tokens[r.cred]
			u = srv.tokenURL(tok.Owner, tok.Token, r.repo)
		}
		out, err := g.clone(u)
		if (err == nil) != r.pull {
			t.Errorf("%s: clone err = %v; want success %v\n%s", name, err, r.pull, out)
		}
		branch := fmt.Sprintf("refs/heads/row%d", i)
		out, err = g.run(work, "push", "-q", u, "main:"+branch)
		if (err == nil) != r.push {
			t.Errorf("%s: push err = %v; want success %v\n%s", name, err, r.push, out)
		}
		if strings.Contains(out, "forge_") {
			t.Errorf("%s: git output shows a token:\n%s", name, out)
		}
	}

	for name, tok := range tokens {
		if strings.Contains(srv.output(), tok.Token) {
			t.Errorf("the forge's log shows the token %q", name)
		}
	}

	// Bearer, through http.extraHeader, follows the same rules.
	tok := tokens["writer pull"]
	bearer := "http.extraHeader=Authorization: Bearer " + tok.Token
	if out, err := g.clone(srv.tokenURL("", "", "alpha/priv"), "-c", bearer); err != nil {
		t.Errorf("Bearer clone: %v\n%s", err, out)
	}
	if out, err := g.run(work, "-c", bearer, "push", "-q", srv.tokenURL("", "", "alpha/priv"), "main:refs/heads/bearer"); err == nil {
		t.Errorf("Bearer push with a pull-only token succeeded\n%s", out)
	}
	if out, err := g.clone(srv.tokenURL("", "", "beta/other"), "-c", bearer); err == nil {
		t.Errorf("Bearer clone of another project's repository succeeded\n%s", out)
	}
	// A Bearer token is sent at once, so it is checked even on a public
	// repository: one for another repository is refused, not ignored.
	if out, err := g.clone(srv.tokenURL("", "", "alpha/pub"), "-c", bearer); err == nil || !strings.Contains(out, "not valid for this repository") {
		t.Errorf("Bearer clone of a public repository with a token for another: err = %v\n%s", err, out)
	}
}

// TestAPIRefusesTokens: the API takes passwords only, so a leaked token
// cannot mint more.
func TestAPIRefusesTokens(t *testing.T) {
	t.Parallel()
	_, srv, _ := permSite(t)
	tok := srv.issue("owner", "alpha", "repository:pull", "repository:push")
	for name, auth := range map[string]func(*http.Request){
		"none":           func(*http.Request) {},
		"wrong password": func(r *http.Request) { r.SetBasicAuth("owner", "wrong-password") },
		"unknown user":   func(r *http.Request) { r.SetBasicAuth("nobody", password("nobody")) },
		"token as password": func(r *http.Request) {
			r.SetBasicAuth("owner", tok.Token)
		},
		"token as user": func(r *http.Request) { r.SetBasicAuth(tok.Token, "") },
		"Bearer token":  func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok.Token) },
	} {
		code, body := srv.apiAuth("POST", "/api/projects/alpha/tokens", auth, map[string]any{"scopes": []string{"repository:pull"}})
		if code != 401 || !strings.Contains(string(body), `"error"`) {
			t.Errorf("%s: got %d %s; want 401 with an error", name, code, body)
		}
	}
}

// TestSignInLimit: after 10 wrong passwords for a user, the API and the
// sign-in page refuse that user for a while, even with the right one;
// other users are not affected.
func TestSignInLimit(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	s.addUser("alice")
	s.addUser("bob")
	s.must("", "project add", "-owner", "alice", "alpha")
	srv := s.start()
	wrong := func(r *http.Request) { r.SetBasicAuth("alice", "not her password") }
	for i := 0; i < 10; i++ {
		if code, _ := srv.apiAuth("GET", "/api/projects/alpha/tokens", wrong, nil); code != 401 {
			t.Fatalf("wrong password %d: %d; want 401", i+1, code)
		}
	}
	if code, b := srv.api("GET", "/api/projects/alpha/tokens", "alice", nil); code != 429 {
		t.Errorf("right password after 10 wrong ones: %d %s; want 429", code, b)
	}
	b := srv.browser(t)
	resp, _ := b.post("/login", url.Values{"csrf": {b.csrf("/login")}, "username": {"alice"}, "password": {password("alice")}})
	if resp.StatusCode != 429 {
		t.Errorf("sign-in page after 10 wrong passwords: %d; want 429", resp.StatusCode)
	}
	if code, _ := srv.api("GET", "/api/projects/alpha/tokens", "bob", nil); code != 403 {
		t.Errorf("another user: %d; want 403 (signed in, not an admin)", code)
	}
}
