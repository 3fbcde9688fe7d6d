package main

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// lifeSite is a forge with user alice owning project alpha and its
// private repository alpha/one (with a commit), and bob, a write member.
func lifeSite(t *testing.T) (*site, *server, *gitClient) {
	s := newSite(t)
	s.addUser("alice")
	s.addUser("bob")
	s.must("", "project add", "-owner", "alice", "alpha")
	s.must("", "project member", "alpha", "bob", "write")
	s.must("", "repo add", "-private", "alpha/one")
	s.must("", "repo add", "-private", "alpha/two")
	srv := s.start()
	g := newGit(t)
	tok := srv.issue("alice", "alpha", "repository:push")
	for _, repo := range []string{"alpha/one", "alpha/two"} {
		if out, err := g.run(g.workRepo(), "push", "-q", srv.tokenURL("alice", tok.Token, repo), "main"); err != nil {
			t.Fatalf("initial push: %v\n%s", err, out)
		}
	}
	return s, srv, g
}

func (g *gitClient) mustClone(u, what string) {
	g.t.Helper()
	if out, err := g.clone(u); err != nil {
		g.t.Fatalf("%s: clone failed: %v\n%s", what, err, out)
	}
}

func (g *gitClient) mustNotClone(u, what, want string) {
	g.t.Helper()
	out, err := g.clone(u)
	if err == nil {
		g.t.Fatalf("%s: clone succeeded; want failure", what)
	}
	if !strings.Contains(out, want) {
		g.t.Errorf("%s: git said %q; want it to mention %q", what, out, want)
	}
}

func find(toks []apiTok, id string) *apiTok {
	for i := range toks {
		if toks[i].ID == id {
			return &toks[i]
		}
	}
	return nil
}

func TestIssueResponseAndValidation(t *testing.T) {
	t.Parallel()
	_, srv, _ := lifeSite(t)
	exp := time.Now().Add(48 * time.Hour).UTC().Truncate(time.Second)
	code, body := srv.api("POST", "/api/repos/alpha/one/tokens", "bob", map[string]any{
		"description": "CI", "scopes": []string{"repository:pull", "repository:push"}, "expires_at": exp.Format(time.RFC3339)})
	if code != 201 {
		t.Fatalf("issue: %d %s", code, body)
	}
	var raw map[string]any
	if err := json.Unmarshal(body, &raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"id", "token", "description", "scopes", "owner", "target", "created_at", "expires_at"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("issue response lacks %q: %s", k, body)
		}
	}
	var tok apiTok
	json.Unmarshal(body, &tok)
	if tok.Owner != "bob" || tok.Description != "CI" || tok.Target != (apiTarget{"alpha", "one"}) ||
		!strings.HasPrefix(tok.Token, "forge_") || tok.ExpiresAt == nil || !tok.ExpiresAt.Equal(exp) {
		t.Errorf("issue response: %s", body)
	}
	// A project token has no "repository" in its target, and a token
	// that never expires no expires_at (the library's JSON form: never
	// null, never 0001-01-01).
	code, body = srv.api("POST", "/api/projects/alpha/tokens", "alice", map[string]any{"description": "project", "scopes": []string{"repository:pull"}})
	if code != 201 || !strings.Contains(string(body), `"target": {`+"\n"+`    "project": "alpha"`+"\n  }") ||
		strings.Contains(string(body), `"expires_at"`) || strings.Contains(string(body), "null") || strings.Contains(string(body), "0001-") {
		t.Errorf("project token: %d %s", code, body)
	}

	// Lists never show a secret.
	code, body = srv.api("GET", "/api/repos/alpha/one/tokens", "bob", nil)
	if code != 200 || strings.Contains(string(body), "forge_") || strings.Contains(string(body), `"token"`) {
		t.Errorf("list shows a secret: %d %s", code, body)
	}

	long := strings.Repeat("x", 256)
	for name, body := range map[string]any{
		"bad JSON":          `{"scopes": [`,
		"two values":        `{"description": "v", "scopes": ["repository:pull"]} {}`,
		"unknown field":     map[string]any{"description": "v", "scopes": []string{"repository:pull"}, "scope": "x"},
		"scopes not a list": map[string]any{"description": "v", "scopes": "repository:pull"},
		"unknown scope":     map[string]any{"description": "v", "scopes": []string{"repository:admin"}},
		"no scopes":         map[string]any{"description": "v", "scopes": []string{}},
		"missing scopes":    map[string]any{"description": "v"},
		"expiry in past":    map[string]any{"description": "v", "scopes": []string{"repository:pull"}, "expires_at": time.Now().Add(-time.Hour).Format(time.RFC3339)},
		"expiry not a time": map[string]any{"description": "v", "scopes": []string{"repository:pull"}, "expires_at": "tomorrow"},
		"long description":  map[string]any{"scopes": []string{"repository:pull"}, "description": long},
		"no description":    map[string]any{"scopes": []string{"repository:pull"}},
		"blank description": map[string]any{"scopes": []string{"repository:pull"}, "description": " \t "},
	} {
		code, b := srv.api("POST", "/api/repos/alpha/one/tokens", "bob", body)
		var e struct{ Error string }
		if code != 400 || json.Unmarshal(b, &e) != nil || e.Error == "" {
			t.Errorf("%s: got %d %s; want 400 {\"error\": …}", name, code, b)
		}
		if strings.Contains(e.Error, "accesstoken") || strings.Contains(e.Error, "json:") || strings.Contains(e.Error, "Go ") || strings.Contains(e.Error, "issueBody") {
			t.Errorf("%s: %q is not written for a person", name, e.Error)
		}
	}
	// 255 characters (not bytes) are fine.
	if code, b := srv.api("POST", "/api/repos/alpha/one/tokens", "bob", map[string]any{"scopes": []string{"repository:pull"}, "description": strings.Repeat("é", 255)}); code != 201 {
		t.Errorf("255-character description: %d %s", code, b)
	}
}

func TestRevokeRotateExpire(t *testing.T) {
	t.Parallel()
	_, srv, g := lifeSite(t)
	one := func(tok apiTok) string { return srv.tokenURL("x", tok.Token, "alpha/one") }

	// Revocation.
	tok := srv.issue("bob", "alpha/one", "repository:pull")
	g.mustClone(one(tok), "fresh token")
	if code, b := srv.api("DELETE", "/api/repos/alpha/one/tokens/"+tok.ID, "bob", nil); code != 204 {
		t.Fatalf("revoke: %d %s", code, b)
	}
	g.mustNotClone(one(tok), "revoked token", "revoked")
	if find(srv.list("bob", "alpha/one", ""), tok.ID) != nil {
		t.Errorf("a revoked token is listed as active")
	}
	if l := find(srv.list("bob", "alpha/one", "?all=true"), tok.ID); l == nil || l.RevokedAt == nil {
		t.Errorf("?all=true: revoked token %+v; want it with revoked_at", l)
	}
	if code, _ := srv.api("DELETE", "/api/repos/alpha/one/tokens/"+tok.ID, "bob", nil); code != 204 {
		t.Errorf("revoking twice: %d; want 204", code)
	}

	// Revoking through another target, or an unknown ID, is 404; a
	// write member may list the project tokens that cover the repository
	// but not revoke those of others.
	other := srv.issue("bob", "alpha/two", "repository:pull")
	if code, _ := srv.api("DELETE", "/api/repos/alpha/one/tokens/"+other.ID, "bob", nil); code != 404 {
		t.Errorf("revoking alpha/two's token through alpha/one: %d; want 404", code)
	}
	if code, _ := srv.api("DELETE", "/api/repos/alpha/one/tokens/6c1f8b0e-0000-4000-8000-000000000000", "bob", nil); code != 404 {
		t.Errorf("revoking an unknown token: %d; want 404", code)
	}
	proj := srv.issue("alice", "alpha", "repository:pull")
	if l := find(srv.list("bob", "alpha/one", ""), proj.ID); l == nil || l.Target != (apiTarget{Project: "alpha"}) {
		t.Errorf("the repository's list lacks the project token that covers it: %+v", l)
	}
	if code, b := srv.api("DELETE", "/api/repos/alpha/one/tokens/"+proj.ID, "bob", nil); code != 403 {
		t.Errorf("bob revoking alice's project token: %d %s; want 403", code, b)
	}
	if code, b := srv.api("POST", "/api/repos/alpha/one/tokens/"+proj.ID+"/rotate", "bob", nil); code != 403 {
		t.Errorf("bob rotating alice's project token: %d %s; want 403", code, b)
	}
	g.mustClone(one(proj), "project token")

	// Rotation: a new secret; the old one stops working.
	code, body := srv.api("POST", "/api/projects/alpha/tokens/"+proj.ID+"/rotate", "alice", nil)
	if code != 201 {
		t.Fatalf("rotate: %d %s", code, body)
	}
	var rot apiTok
	json.Unmarshal(body, &rot)
	if rot.Token == "" || rot.Token == proj.Token || rot.ID == proj.ID || rot.Target != proj.Target {
		t.Fatalf("rotated token: %s", body)
	}
	g.mustNotClone(one(proj), "token after rotation", "revoked")
	g.mustClone(one(rot), "rotated token")
	if code, _ := srv.api("POST", "/api/projects/alpha/tokens/"+proj.ID+"/rotate", "alice", nil); code != 409 {
		t.Errorf("rotating a rotated token: %d; want 409", code)
	}

	// Expiry: a token expiring in a few seconds clones before its expiry
	// and not after. If the machine is so slow that the clone before the
	// expiry did not finish before it, that try proves nothing: try again
	// with twice the margin.
	var short apiTok
	var exp time.Time
	for margin := 3 * time.Second; ; margin *= 2 {
		exp = time.Now().Add(margin).Truncate(time.Second).Add(time.Second)
		code, body = srv.api("POST", "/api/repos/alpha/one/tokens", "bob", map[string]any{
			"description": "short-lived " + margin.String(), "scopes": []string{"repository:pull"}, "expires_at": exp.Format(time.RFC3339)})
		if code != 201 && time.Now().Before(exp) {
			t.Fatalf("issue: %d %s", code, body)
		}
		json.Unmarshal(body, &short)
		out, err := g.clone(one(short))
		if code != 201 {
			err = fmt.Errorf("issue: %d %s", code, body)
		}
		if err == nil {
			break
		}
		if !time.Now().After(exp) || margin > 2*time.Minute {
			t.Fatalf("token before its expiry: clone failed: %v\n%s", err, out)
		}
		t.Logf("the clone took longer than the token's %v lifetime; trying again with more", margin)
	}
	// The forge decides expiry on a clock that may lag the system's by a
	// few milliseconds (accesstoken.ClockResolution); wait well past it.
	time.Sleep(time.Until(exp) + time.Second)
	g.mustNotClone(one(short), "expired token", "expired")
	if find(srv.list("bob", "alpha/one", ""), short.ID) != nil {
		t.Errorf("an expired token is listed as active")
	}
}

// TestLastUsed: a token's last use shows in the list once it is used.
func TestLastUsed(t *testing.T) {
	t.Parallel()
	_, srv, g := lifeSite(t)
	tok := srv.issue("bob", "alpha/one", "repository:pull")
	if l := find(srv.list("bob", "alpha/one", ""), tok.ID); l == nil || l.LastUsedAt != nil {
		t.Fatalf("unused token: %+v; want last_used_at null", l)
	}
	before := time.Now().Add(-time.Second)
	g.mustClone(srv.tokenURL("bob", tok.Token, "alpha/one"), "token")
	l := srv.waitUsed("bob", "alpha/one", tok.ID)
	if l.LastUsedAt.Before(before) || l.LastUsedAt.After(time.Now()) {
		t.Errorf("used token: %+v; want last_used_at set to about now", l)
	}
}

// TestDemotion: a token works only while its owner has the permission
// the operation needs; demoting or removing the owner takes effect on
// the next request, and the owner may still revoke their token.
func TestDemotion(t *testing.T) {
	t.Parallel()
	s, srv, g := lifeSite(t)
	s.addUser("carol")
	s.must("", "project member", "alpha", "carol", "admin")
	tok := srv.issue("carol", "alpha", "repository:pull", "repository:push")
	u := srv.tokenURL("carol", tok.Token, "alpha/one")
	work := g.workRepo()
	push := func(branch string) error {
		out, err := g.run(work, "push", "-q", u, "main:refs/heads/"+branch)
		if err != nil {
			return fmt.Errorf("%w: %s", err, out)
		}
		return nil
	}
	if err := push("as-admin"); err != nil {
		t.Fatalf("push as admin: %v", err)
	}
	s.must("", "project member", "alpha", "carol", "write")
	if err := push("as-writer"); err != nil {
		t.Errorf("push as write member: %v", err)
	}
	// No longer an admin: may not manage project tokens.
	if code, _ := srv.api("GET", "/api/projects/alpha/tokens", "carol", nil); code != 403 {
		t.Errorf("demoted admin listing project tokens: %d; want 403", code)
	}
	s.must("", "project member", "alpha", "carol", "read")
	// A read member still sees the repository, so is told why (403).
	if err := push("as-reader"); err == nil || !strings.Contains(err.Error(), "may not push") {
		t.Errorf("push after demotion to read: %v; want a refusal saying the owner may not push", err)
	}
	g.mustClone(u, "read member")
	s.must("", "project member", "alpha", "carol", "none")
	g.mustNotClone(u, "removed member", "not found")
	s.must("", "project member", "alpha", "carol", "admin")
	g.mustClone(u, "member again")
	s.must("", "project member", "alpha", "carol", "none")
	// The owner of a token may always revoke it.
	if code, b := srv.api("DELETE", "/api/projects/alpha/tokens/"+tok.ID, "carol", nil); code != 204 {
		t.Errorf("removed member revoking their own token: %d %s; want 204", code, b)
	}
	s.must("", "project member", "alpha", "carol", "admin")
	g.mustNotClone(u, "revoked, member again", "revoked")
}

// TestRestart: tokens and revocations survive a restart.
func TestRestart(t *testing.T) {
	t.Parallel()
	s, srv, g := lifeSite(t)
	keep := srv.issue("bob", "alpha/one", "repository:pull")
	gone := srv.issue("bob", "alpha/one", "repository:pull")
	if code, _ := srv.api("DELETE", "/api/repos/alpha/one/tokens/"+gone.ID, "bob", nil); code != 204 {
		t.Fatal("revoke failed")
	}
	g.mustClone(srv.tokenURL("bob", keep.Token, "alpha/one"), "before the restart")
	srv.stop()

	srv = s.start()
	g.mustClone(srv.tokenURL("bob", keep.Token, "alpha/one"), "kept token after the restart")
	g.mustNotClone(srv.tokenURL("bob", gone.Token, "alpha/one"), "revoked token after the restart", "revoked")
	l := find(srv.list("bob", "alpha/one", ""), keep.ID)
	if l == nil || l.LastUsedAt == nil {
		t.Errorf("after the restart: %+v; want the token with its last use", l)
	}
}

// TestGracefulShutdown: SIGTERM during a push lets the push finish, and
// the forge exits cleanly; nothing is lost.
func TestGracefulShutdown(t *testing.T) {
	t.Parallel()
	s, srv, g := lifeSite(t)
	tok := srv.issue("bob", "alpha/one", "repository:pull", "repository:push")
	// A slow pre-receive hook, which says when it starts.
	started := filepath.Join(t.TempDir(), "started")
	hook := filepath.Join(s.data, "repos", "alpha", "one.git", "hooks", "pre-receive")
	script := "#!/bin/sh\ncat >/dev/null\ntouch '" + started + "'\nsleep 2\n"
	if err := os.WriteFile(hook, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	work := g.workRepo()
	u := srv.tokenURL("bob", tok.Token, "alpha/one")
	type result struct {
		out string
		err error
	}
	done := make(chan result, 1)
	go func() {
		out, err := g.run(work, "push", "-q", u, "main:refs/heads/during-shutdown")
		done <- result{out, err}
	}()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if _, err := os.Stat(started); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the push did not reach the hook")
		}
		time.Sleep(20 * time.Millisecond)
	}
	srv.stop() // SIGTERM, and waits for a clean exit
	r := <-done
	if r.err != nil {
		t.Fatalf("push in flight during SIGTERM failed: %v\n%s", r.err, r.out)
	}
	if !strings.Contains(srv.output(), "shutting down") {
		t.Errorf("no shutdown message:\n%s", srv.output())
	}

	srv = s.start()
	out, err := g.run("", "ls-remote", srv.tokenURL("bob", tok.Token, "alpha/one"))
	if err != nil || !strings.Contains(out, "refs/heads/during-shutdown") {
		t.Errorf("after the restart, ls-remote: %v\n%s", err, out)
	}
}

// TestLargePush pushes more than git's http.postBuffer (1 MiB), which git
// sends chunked, and clones it back.
func TestLargePush(t *testing.T) {
	t.Parallel()
	_, srv, g := lifeSite(t)
	tok := srv.issue("bob", "alpha/one", "repository:pull", "repository:push")
	u := srv.tokenURL("bob", tok.Token, "alpha/one")
	work := g.workRepo()
	data := make([]byte, 4<<20)
	rand.Read(data) // incompressible
	if err := os.WriteFile(filepath.Join(work, "big.bin"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"add", "big.bin"}, {"commit", "-q", "-m", "big"}, {"push", "-q", u, "main:refs/heads/big"}} {
		if out, err := g.run(work, args...); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	dst := filepath.Join(t.TempDir(), "clone")
	if out, err := g.run("", "clone", "-q", "-b", "big", u, dst); err != nil {
		t.Fatalf("clone: %v\n%s", err, out)
	}
	if got, err := os.ReadFile(filepath.Join(dst, "big.bin")); err != nil || !bytes.Equal(got, data) {
		t.Errorf("the big file did not come back intact (%v)", err)
	}
}
