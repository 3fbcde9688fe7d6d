package main

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// status is a commit status as the API returns it.
type status struct {
	State       string    `json:"state"`
	Context     string    `json:"context"`
	Description string    `json:"description"`
	TargetURL   string    `json:"target_url"`
	Creator     string    `json:"creator"`
	CreatedAt   time.Time `json:"created_at"`
}

func bearer(token string) func(*http.Request) {
	return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+token) }
}

func basicToken(token string) func(*http.Request) {
	return func(r *http.Request) { r.SetBasicAuth("ci", token) }
}

func basicPassword(user string) func(*http.Request) {
	return func(r *http.Request) { r.SetBasicAuth(user, password(user)) }
}

func anonymous(*http.Request) {}

// statusesPath is the statuses path of a commit of repo ("project/name").
func statusesPath(repo, sha string) string { return "/api/repos/" + repo + "/statuses/" + sha }

// head returns the commit the default branch of repo points at, read
// with the real git through the token.
func (g *gitClient) head(srv *server, user, token, repo string) string {
	g.t.Helper()
	out, err := g.run("", "ls-remote", srv.tokenURL(user, token, repo), "HEAD")
	sha, _, _ := strings.Cut(strings.TrimSpace(out), "\t")
	if err != nil || len(sha) != 40 {
		g.t.Fatalf("git ls-remote %s: %v\n%s", repo, err, out)
	}
	return sha
}

// TestCommitStatusesCIFlow: what a CI job does, with the real git and
// HTTP: clone with a project token that has pull and build status, read
// HEAD, post statuses with the token, read them back (newest first), by
// token, password and, for a public repository, anonymously; the
// repository page shows the latest status of each context.
func TestCommitStatusesCIFlow(t *testing.T) {
	t.Parallel()
	s, srv, g := lifeSite(t)
	ci := srv.issue("alice", "alpha", "repository:pull", "repository:build_status")

	// The CI job: clone, read HEAD.
	dir := filepath.Join(t.TempDir(), "work")
	if out, err := g.run("", "clone", "-q", srv.tokenURL("ci", ci.Token, "alpha/one"), dir); err != nil {
		t.Fatalf("clone with the CI token: %v\n%s", err, out)
	}
	out, err := g.run(dir, "rev-parse", "HEAD")
	sha := strings.TrimSpace(out)
	if err != nil || len(sha) != 40 {
		t.Fatalf("git rev-parse HEAD: %v %q", err, out)
	}

	post := func(auth func(*http.Request), body any) (int, []byte) {
		t.Helper()
		return srv.apiAuth("POST", statusesPath("alpha/one", sha), auth, body)
	}
	code, b := post(bearer(ci.Token), map[string]any{"state": "pending", "context": "ci/build", "description": "Build 42 started",
		"target_url": "https://ci.example.com/builds/42"})
	var st status
	if code != 201 || json.Unmarshal(b, &st) != nil {
		t.Fatalf("posting a status: %d %s", code, b)
	}
	if st.State != "pending" || st.Context != "ci/build" || st.Description != "Build 42 started" || st.TargetURL != "https://ci.example.com/builds/42" ||
		st.Creator != "alice" || st.CreatedAt.IsZero() || time.Since(st.CreatedAt) > time.Hour {
		t.Errorf("the status as stored: %s", b)
	}
	if strings.Contains(string(b), ci.Token) {
		t.Errorf("the reply holds the token: %s", b)
	}
	// Basic with the token as password works too; the context defaults
	// to "default"; an upper-case SHA is the same commit.
	if code, b := srv.apiAuth("POST", statusesPath("alpha/one", strings.ToUpper(sha)), basicToken(ci.Token), map[string]any{"state": "failure"}); code != 201 || !strings.Contains(string(b), `"context": "default"`) {
		t.Errorf("a status with Basic and no context: %d %s", code, b)
	}
	if code, b := post(bearer(ci.Token), map[string]any{"state": "success", "context": "ci/build", "description": "Build 42 passed",
		"target_url": "https://ci.example.com/builds/42"}); code != 201 {
		t.Fatalf("posting the success: %d %s", code, b)
	}

	// Read back: newest first, by token, by password; not anonymously,
	// since alpha/one is private (404, as for a missing repository).
	list := func(auth func(*http.Request), repo, sha string) (int, []status, []byte) {
		t.Helper()
		code, b := srv.apiAuth("GET", statusesPath(repo, sha), auth, nil)
		var sts []status
		if code == 200 && json.Unmarshal(b, &sts) != nil {
			t.Fatalf("GET %s: %s", repo, b)
		}
		return code, sts, b
	}
	for name, auth := range map[string]func(*http.Request){"token": bearer(ci.Token), "password": basicPassword("bob")} {
		code, sts, b := list(auth, "alpha/one", sha)
		if code != 200 || len(sts) != 3 || sts[0].State != "success" || sts[1].Context != "default" || sts[2].State != "pending" {
			t.Errorf("GET with a %s: %d %s; want the three statuses, newest first", name, code, b)
		}
	}
	if code, _, b := list(anonymous, "alpha/one", sha); code != 404 {
		t.Errorf("anonymous GET of a private repository's statuses: %d %s; want 404", code, b)
	}

	// A public repository: anonymous reads, and the CI's token (which
	// covers the project) posts.
	s.must("", "repo add", "alpha/pub")
	pusher := srv.issue("alice", "alpha/pub", "repository:push")
	if out, err := g.run(dir, "push", "-q", srv.tokenURL("alice", pusher.Token, "alpha/pub"), "HEAD:refs/heads/main"); err != nil {
		t.Fatalf("push to alpha/pub: %v\n%s", err, out)
	}
	if code, b := srv.apiAuth("POST", statusesPath("alpha/pub", sha), bearer(ci.Token), map[string]any{"state": "error", "context": "lint"}); code != 201 {
		t.Fatalf("a status of the public repository: %d %s", code, b)
	}
	if code, sts, b := list(anonymous, "alpha/pub", sha); code != 200 || len(sts) != 1 || sts[0].Context != "lint" {
		t.Errorf("anonymous GET of a public repository's statuses: %d %s", code, b)
	}
	// A repository deleted and made again with the same name, and the
	// same commit pushed, inherits no status.
	s.must("", "repo delete", "alpha/pub")
	s.must("", "repo add", "alpha/pub")
	pusher = srv.issue("alice", "alpha/pub", "repository:push")
	if out, err := g.run(dir, "push", "-q", srv.tokenURL("alice", pusher.Token, "alpha/pub"), "HEAD:refs/heads/main"); err != nil {
		t.Fatalf("push to the new alpha/pub: %v\n%s", err, out)
	}
	if code, sts, b := list(anonymous, "alpha/pub", sha); code != 200 || len(sts) != 0 {
		t.Errorf("the statuses of a new repository of a deleted one's name: %d %s; want none", code, b)
	}

	// The page shows the latest status of each context of the commit:
	// ci/build's success (not its pending), linking to the build, and
	// default's failure.
	w := srv.browser(t)
	w.login("bob")
	_, body := w.get("/alpha/one")
	commit := regexp.MustCompile(`(?s)<li id="commit-` + sha + `">.*?</li>`).FindString(body)
	for _, want := range []string{
		`<a class="status status-success" href="https://ci.example.com/builds/42" rel="nofollow noopener" title="Build 42 passed">ci/build: success</a>`,
		`<span class="status status-failure">default: failure</span>`,
	} {
		if !strings.Contains(commit, want) {
			t.Errorf("the repository page's commit lacks %s:\n%s", want, commit)
		}
	}
	if strings.Contains(commit, "pending") {
		t.Errorf("the page shows a status that a newer one of its context replaced:\n%s", commit)
	}
}

// TestCommitStatusCodes: every answer of the statuses routes. A token
// with repository:build_status (a repository or a project token) posts;
// a pull-only or push-only token is refused (403), as is a token of
// another repository of the project; a token of another project learns
// nothing of a private repository (404, the same as for one that does
// not exist); no token, a bad one, a password, a revoked or an expired
// one get 401; bad bodies 400; an unknown commit 422.
func TestCommitStatusCodes(t *testing.T) {
	t.Parallel()
	s, srv, g := permSite(t)
	owner := srv.issue("owner", "alpha/priv", "repository:pull", "repository:push", "repository:build_status")
	sha := g.head(srv, "owner", owner.Token, "alpha/priv")
	pubSHA := g.head(srv, "owner", owner.Token, "alpha/pub")
	build := srv.issue("writer", "alpha/priv", "repository:build_status")
	project := srv.issue("admin", "alpha", "repository:build_status")
	pullOnly := srv.issue("writer", "alpha/priv", "repository:pull")
	pushOnly := srv.issue("writer", "alpha/priv", "repository:push")
	pubToken := srv.issue("writer", "alpha/pub", "repository:build_status")
	outsider := srv.issue("outsider", "beta", "repository:pull", "repository:build_status")
	revoked := srv.issue("writer", "alpha/priv", "repository:build_status")
	if code, _ := srv.api("DELETE", "/api/user/tokens/"+revoked.ID, "writer", nil); code != 204 {
		t.Fatal("revoking")
	}
	// Expires once the requests below are done, even on a slow machine
	// (a wait at the end, not a bound on anything).
	expiresAt := time.Now().Add(10 * time.Second)
	code, b := srv.api("POST", "/api/repos/alpha/priv/tokens", "writer", map[string]any{"description": "short-lived", "scopes": []string{"repository:build_status"},
		"expires_at": expiresAt.UTC().Format(time.RFC3339Nano)})
	var expired apiTok
	if code != 201 || json.Unmarshal(b, &expired) != nil {
		t.Fatalf("issuing a short-lived token: %d %s", code, b)
	}
	ok := map[string]any{"state": "success", "context": "ci/test"}

	type req struct {
		name   string
		method string
		path   string
		auth   func(*http.Request)
		body   any
		code   int
		want   string // in the error
	}
	priv, pub, nope := statusesPath("alpha/priv", sha), statusesPath("alpha/pub", pubSHA), statusesPath("alpha/nope", sha)
	reqs := []req{
		{"repository token", "POST", priv, bearer(build.Token), ok, 201, ""},
		{"project token", "POST", priv, basicToken(project.Token), ok, 201, ""},
		{"owner's token with every scope", "POST", priv, bearer(owner.Token), ok, 201, ""},
		{"no credentials", "POST", priv, anonymous, ok, 401, "Send an access token"},
		{"a password", "POST", priv, basicPassword("owner"), ok, 401, "passwords are not accepted"},
		{"a mistyped token", "POST", priv, bearer(build.Token[:len(build.Token)-1] + "x"), ok, 401, "mistyped or truncated"},
		{"a revoked token", "POST", priv, bearer(revoked.Token), ok, 401, "revoked"},
		{"a bad Authorization header", "POST", priv, func(r *http.Request) { r.Header.Set("Authorization", "Digest x") }, ok, 401, "Authorization header"},
		{"pull-only", "POST", priv, bearer(pullOnly.Token), ok, 403, "repository:build_status"},
		{"push-only", "POST", priv, bearer(pushOnly.Token), ok, 403, "repository:build_status"},
		{"another repository's token, public repository", "POST", pub, bearer(build.Token), ok, 403, "not for this repository"},
		{"another project's token, private repository", "POST", priv, bearer(outsider.Token), ok, 404, "There is no such repository."},
		{"another project's token, missing repository", "POST", nope, bearer(outsider.Token), ok, 404, "There is no such repository."},
		{"missing repository", "POST", nope, bearer(owner.Token), ok, 404, "There is no such repository."},
		{"public repository", "POST", pub, bearer(pubToken.Token), ok, 201, ""},
		{"token in the URL", "POST", priv + "?access_token=" + build.Token, anonymous, ok, 400, "not accepted in URLs"},
		{"bad JSON", "POST", priv, bearer(build.Token), `{"state": `, 400, "not valid JSON"},
		{"empty body", "POST", priv, bearer(build.Token), ` `, 400, "empty"},
		{"unknown state", "POST", priv, bearer(build.Token), map[string]any{"state": "done"}, 400, "pending, success, failure or error"},
		{"no state", "POST", priv, bearer(build.Token), map[string]any{"context": "x"}, 400, "pending, success, failure or error"},
		{"state not a string", "POST", priv, bearer(build.Token), map[string]any{"state": 1}, 400, "state must be a string"},
		{"unknown field", "POST", priv, bearer(build.Token), map[string]any{"state": "success", "url": "x"}, 400, "Unknown field"},
		{"256-character description", "POST", priv, bearer(build.Token), map[string]any{"state": "success", "description": strings.Repeat("é", 256)}, 400, "the most is 255"},
		{"255-character description", "POST", priv, bearer(build.Token), map[string]any{"state": "success", "description": strings.Repeat("é", 255)}, 201, ""},
		{"override in the description", "POST", priv, bearer(build.Token), map[string]any{"state": "success", "description": "ok\u202Edab"}, 400, "U+202E"},
		{"javascript: URL", "POST", priv, bearer(build.Token), map[string]any{"state": "success", "target_url": "javascript:alert(1)"}, 400, "http or https"},
		{"ftp URL", "POST", priv, bearer(build.Token), map[string]any{"state": "success", "target_url": "ftp://ci.example.com/x"}, 400, "http or https"},
		{"relative URL", "POST", priv, bearer(build.Token), map[string]any{"state": "success", "target_url": "/builds/1"}, 400, "http or https"},
		{"URL with a password", "POST", priv, bearer(build.Token), map[string]any{"state": "success", "target_url": "https://u:p@ci.example.com/"}, 400, "user name or password"},
		{"not JSON", "POST", priv, func(r *http.Request) {
			r.Header.Set("Authorization", "Bearer "+build.Token)
			r.Header.Set("Content-Type", "text/plain")
		}, `{"state": "success"}`, 415, "application/json"},
		{"short SHA", "POST", statusesPath("alpha/priv", sha[:12]), bearer(build.Token), ok, 422, "40 hexadecimal digits"},
		{"not hex", "POST", statusesPath("alpha/priv", strings.Repeat("g", 40)), bearer(build.Token), ok, 422, "40 hexadecimal digits"},
		{"unknown commit", "POST", statusesPath("alpha/priv", strings.Repeat("a", 40)), bearer(build.Token), ok, 422, "is not in alpha/priv"},
		{"another repository's commit", "POST", statusesPath("alpha/priv", strings.Repeat("b", 40)), bearer(build.Token), ok, 422, "is not in alpha/priv"},

		{"GET anonymous, public", "GET", pub, anonymous, nil, 200, ""},
		{"GET anonymous, private", "GET", priv, anonymous, nil, 404, "There is no such repository."},
		{"GET anonymous, missing", "GET", nope, anonymous, nil, 404, "There is no such repository."},
		{"GET pull token", "GET", priv, bearer(pullOnly.Token), nil, 200, ""},
		{"GET build status token", "GET", priv, basicToken(build.Token), nil, 200, ""},
		{"GET push-only token", "GET", priv, bearer(pushOnly.Token), nil, 403, "repository:pull or repository:build_status"},
		{"GET another project's token", "GET", priv, bearer(outsider.Token), nil, 404, "There is no such repository."},
		{"GET revoked token", "GET", priv, bearer(revoked.Token), nil, 401, "revoked"},
		{"GET reader's password", "GET", priv, basicPassword("reader"), nil, 200, ""},
		{"GET outsider's password", "GET", priv, basicPassword("outsider"), nil, 404, "There is no such repository."},
		{"GET wrong password", "GET", priv, func(r *http.Request) { r.SetBasicAuth("reader", "not the password") }, nil, 401, "Sign in"},
		{"GET a query", "GET", pub + "?limit=5", anonymous, nil, 400, "no query parameters"},
		{"GET token in the URL", "GET", priv + "?access_token=" + pullOnly.Token, bearer(pullOnly.Token), nil, 400, "not accepted in URLs"},
		{"GET unknown commit", "GET", statusesPath("alpha/pub", strings.Repeat("a", 40)), anonymous, nil, 422, "is not in alpha/pub"},
	}
	for _, c := range reqs {
		code, b := srv.apiAuth(c.method, c.path, c.auth, c.body)
		var e apiErrorBody
		json.Unmarshal(b, &e)
		if code != c.code || (c.want != "" && !strings.Contains(e.Error, c.want)) {
			t.Errorf("%s: %d %s; want %d and %q", c.name, code, b, c.code, c.want)
		}
		if code >= 400 && (e.Error == "" || regexp.MustCompile(`accesstoken|httpauth|json:|strconv`).MatchString(e.Error) || !strings.HasSuffix(e.Error, ".")) {
			t.Errorf("%s: %q is not a sentence for a person", c.name, e.Error)
		}
		if strings.Contains(string(b), "forge_") {
			t.Errorf("%s: the reply holds a token: %s", c.name, b)
		}
	}
	// A private repository is not confirmed: a token of another project
	// gets the very same answer for it as for one that does not exist.
	for _, method := range []string{"POST", "GET"} {
		c1, b1 := srv.apiAuth(method, priv, bearer(outsider.Token), ok)
		c2, b2 := srv.apiAuth(method, nope, bearer(outsider.Token), ok)
		if c1 != c2 || string(b1) != string(b2) {
			t.Errorf("%s: a private repository: %d %s; a missing one: %d %s; want the same", method, c1, b1, c2, b2)
		}
	}
	// 401s ask for credentials.
	req401, _ := http.NewRequest("POST", srv.URL+priv, strings.NewReader(`{"state": "success"}`))
	req401.Header.Set("Content-Type", "application/json")
	if resp, err := http.DefaultClient.Do(req401); err != nil || resp.StatusCode != 401 || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic") {
		t.Errorf("no credentials: %v %v; want 401 with a Basic challenge", resp, err)
	} else {
		resp.Body.Close()
	}
	// The owner's permission, now: a writer demoted to reader keeps the
	// token but may not set statuses (403: a reader may see the
	// repository).
	s.must("", "project member", "alpha", "writer", "read")
	if code, b := srv.apiAuth("POST", priv, bearer(build.Token), ok); code != 403 || !strings.Contains(string(b), "owner may not set commit statuses") {
		t.Errorf("a demoted owner's token: %d %s; want 403", code, b)
	}
	// An expired token: 401, once its time has passed.
	time.Sleep(time.Until(expiresAt) + 10*time.Millisecond)
	if code, b := srv.apiAuth("POST", priv, bearer(expired.Token), ok); code != 401 || !strings.Contains(string(b), "expired") {
		t.Errorf("an expired token: %d %s; want 401", code, b)
	}
}

// TestTokenSelf: GET /api/token returns the token the request carries
// (any live token, whatever its scopes; no secret); DELETE /api/token
// revokes it (Manager.RevokeSelf), after which it gets 401 everywhere.
// Passwords are not tokens here.
func TestTokenSelf(t *testing.T) {
	t.Parallel()
	_, srv, g := lifeSite(t)
	tok := srv.issue("bob", "alpha/one", "repository:push") // no pull, no build status: scopes do not matter
	// A token that expires once the requests below are done, even on a
	// slow machine (waited for at the end).
	exp := time.Now().Add(10 * time.Second)
	code, b := srv.api("POST", "/api/repos/alpha/one/tokens", "bob", map[string]any{"description": "brief", "scopes": []string{"repository:pull"},
		"expires_at": exp.UTC().Format(time.RFC3339Nano)})
	var brief apiTok
	if code != 201 || json.Unmarshal(b, &brief) != nil {
		t.Fatalf("issuing: %d %s", code, b)
	}
	for name, auth := range map[string]func(*http.Request){"Bearer": bearer(tok.Token), "Basic": basicToken(tok.Token)} {
		code, b := srv.apiAuth("GET", "/api/token", auth, nil)
		var got apiTok
		if code != 200 || json.Unmarshal(b, &got) != nil || got.ID != tok.ID || got.Owner != "bob" || got.State != "active" ||
			got.Token != "" || strings.Contains(string(b), tok.Token) || got.Target != (apiTarget{"alpha", "one"}) {
			t.Errorf("GET /api/token (%s): %d %s", name, code, b)
		}
	}
	for name, auth := range map[string]func(*http.Request){
		"none":     anonymous,
		"password": basicPassword("bob"),
		"mistyped": bearer(tok.Token[:len(tok.Token)-1] + "x"),
	} {
		if code, b := srv.apiAuth("GET", "/api/token", auth, nil); code != 401 || !strings.Contains(string(b), `"error"`) {
			t.Errorf("GET /api/token with %s: %d %s; want 401", name, code, b)
		}
	}
	if code, b := srv.apiAuth("DELETE", "/api/token", bearer(tok.Token), nil); code != 204 {
		t.Fatalf("DELETE /api/token: %d %s", code, b)
	}
	for _, method := range []string{"GET", "DELETE"} {
		if code, b := srv.apiAuth(method, "/api/token", bearer(tok.Token), nil); code != 401 || !strings.Contains(string(b), "revoked") {
			t.Errorf("%s /api/token after revoking it: %d %s; want 401", method, code, b)
		}
	}
	g.mustNotClone(srv.tokenURL("bob", tok.Token, "alpha/one"), "a token revoked through DELETE /api/token", "fatal")
	l := find(srv.listAll("bob", "/api/user/tokens", "?state=all"), tok.ID)
	if l == nil || l.State != "revoked" || l.RevokedBy == nil || *l.RevokedBy != "bob" {
		t.Errorf("the token after DELETE /api/token: %+v; want revoked by its owner", l)
	}
	// The brief token, expired: 401.
	time.Sleep(time.Until(exp) + 10*time.Millisecond)
	if code, b := srv.apiAuth("GET", "/api/token", bearer(brief.Token), nil); code != 401 || !strings.Contains(string(b), "expired") {
		t.Errorf("GET /api/token with an expired token: %d %s; want 401", code, b)
	}
}
