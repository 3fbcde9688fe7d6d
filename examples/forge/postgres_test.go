package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// postgresSite returns a site on a new, empty PostgreSQL database,
// dropped at the end, with no forge yet (see site.create). The server's URL comes from ACCESSTOKEN_TEST_POSTGRES
// (scripts/test.sh starts one); without it the test skips, except under
// CI=true, where it fails.
func postgresSite(t *testing.T) *site {
	base := os.Getenv("ACCESSTOKEN_TEST_POSTGRES")
	if base == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("ACCESSTOKEN_TEST_POSTGRES is not set (CI=true): run the tests through scripts/test.sh")
		}
		t.Skip("ACCESSTOKEN_TEST_POSTGRES is not set; run scripts/test.sh --with-postgres go test ./examples/forge/")
	}
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	name := "forge_test_" + strings.ToLower(rand.Text()[:12])
	if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := admin.ExecContext(context.Background(), "DROP DATABASE "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("dropping %s: %v", name, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	s := emptySite(t)
	s.db = u.String()
	return s
}

// TestPostgres runs the forge on PostgreSQL, as two processes on one
// database and one data directory: a token issued through one works
// through the other, and a revocation through either is effective on
// both at once.
func TestPostgres(t *testing.T) {
	t.Parallel()
	s := postgresSite(t)
	// Two servers create the tables of the empty database at once.
	a, b := s.launch(), s.launch()
	a.waitListening()
	b.waitListening()
	for _, u := range []string{"alice", "bob"} {
		s.addUser(u)
	}
	s.must("", "project add", "-owner", "alice", "alpha")
	s.must("", "project member", "alpha", "bob", "write")
	s.must("", "repo add", "-private", "alpha/one")
	g := newGit(t)

	tok := a.issue("bob", "alpha/one", "repository:pull", "repository:push")
	if out, err := g.run(g.workRepo(), "push", "-q", b.tokenURL("bob", tok.Token, "alpha/one"), "main"); err != nil {
		t.Fatalf("push through B with a token issued through A: %v\n%s", err, out)
	}
	g.mustClone(a.tokenURL("bob", tok.Token, "alpha/one"), "clone through A")
	b.waitUsed("bob", "alpha/one", tok.ID) // B's list shows a use recorded through A

	if code, body := b.api("DELETE", "/api/repos/alpha/one/tokens/"+tok.ID, "bob", nil); code != 204 {
		t.Fatalf("revoke through B: %d %s", code, body)
	}
	g.mustNotClone(a.tokenURL("bob", tok.Token, "alpha/one"), "A, after the revocation through B", "revoked")
	g.mustNotClone(b.tokenURL("bob", tok.Token, "alpha/one"), "B, after the revocation through B", "revoked")

	// Demotion through the command line is seen by both at once.
	tok = a.issue("bob", "alpha/one", "repository:pull")
	g.mustClone(b.tokenURL("bob", tok.Token, "alpha/one"), "new token through B")
	s.must("", "project member", "alpha", "bob", "none")
	g.mustNotClone(a.tokenURL("bob", tok.Token, "alpha/one"), "A, bob removed", "not found")
	g.mustNotClone(b.tokenURL("bob", tok.Token, "alpha/one"), "B, bob removed", "not found")

	// Restart: tokens and revocations are kept.
	s.must("", "project member", "alpha", "bob", "write")
	a.stop()
	a = s.start()
	g.mustClone(a.tokenURL("bob", tok.Token, "alpha/one"), "A restarted")
}

// TestPostgresBadBytes: on PostgreSQL, which refuses invalid UTF-8 and
// NUL in a query, such names are refused before any query.
func TestPostgresBadBytes(t *testing.T) {
	t.Parallel()
	s := postgresSite(t)
	s.create()
	badBytes(t, s)
}

// TestPostgresNoNewForge: a command other than serve on a database that
// holds no forge says so, and creates nothing in it.
func TestPostgresNoNewForge(t *testing.T) {
	t.Parallel()
	s := postgresSite(t)
	out, code := s.cli("password1\n", "user add", "alice")
	if code != 1 || !strings.Contains(out, "the database holds no forge") {
		t.Errorf("user add on an empty database: exit %d; want 1\n%s", code, out)
	}
	db, err := sql.Open("pgx", s.db)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(`SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'public'`).Scan(&n); err != nil || n != 0 {
		t.Errorf("tables after user add on an empty database: %d (%v); want none", n, err)
	}
}

// TestPostgresTokenPages: on PostgreSQL, with two forge processes on one
// database, a token created through one is shown once through the other
// (the flash is in the database), requests to both at once cannot pass
// the description rule or the cap together, and the activity of both is
// in one place.
func TestPostgresTokenPages(t *testing.T) {
	t.Parallel()
	s := postgresSite(t)
	s.create()
	s.addUser("alice")
	s.must("", "project add", "-owner", "alice", "alpha")
	s.must("", "repo add", "-private", "alpha/one")
	a, b := s.start("-max-tokens-per-user", "4"), s.start("-max-tokens-per-user", "4")

	// Created through A; the list after the redirect is served by B.
	ba := a.browser(t)
	ba.login("alice")
	resp, _ := ba.noRedirects().post("/alpha/-/tokens", url.Values{"csrf": {ba.csrf("/alpha/-/tokens")},
		"description": {"across"}, "scope": {"repository:pull"}, "expiry": {"7"}})
	if resp.StatusCode != 303 {
		t.Fatalf("creating through A: %d", resp.StatusCode)
	}
	bb := &browser{t: t, srv: b, c: ba.c} // the same cookies: both are 127.0.0.1
	_, body := bb.get("/alpha/-/tokens")
	secret := secretRE.FindStringSubmatch(body)
	if secret == nil {
		t.Fatalf("B does not show the secret of the token created through A\n%s", body)
	}
	if _, body := bb.get("/alpha/-/tokens"); strings.Contains(body, secret[1]) {
		t.Errorf("the secret is shown twice")
	}
	g := newGit(t)
	g.mustClone(b.tokenURL("alice", secret[1], "alpha/one"), "the token from the page")

	// One description, ten requests at once through both (the pages:
	// no password check holds them up): one token.
	csrf := ba.csrf("/alpha/one/-/tokens")
	at := func(i int) *browser {
		if i%2 == 1 {
			return bb
		}
		return ba
	}
	parallel(10, func(i int) {
		at(i).post("/alpha/one/-/tokens", url.Values{"csrf": {csrf}, "description": {"once"}, "scope": {"repository:pull"}})
	})
	if n := countTokens(a.list("alice", "alpha/one", ""), "once"); n != 1 {
		t.Errorf("10 requests at once through two processes with one description made %d tokens; want 1", n)
	}
	// Two tokens left under the cap of 4; ten requests: two tokens.
	parallel(10, func(i int) {
		at(i).post("/alpha/-/tokens", url.Values{"csrf": {csrf}, "description": {fmt.Sprintf("cap %d", i)}, "scope": {"repository:pull"}})
	})
	if n := len(a.listAll("alice", "/api/user/tokens", "")); n != 4 {
		t.Errorf("10 requests at once with room for 2 left alice with %d active tokens; want the cap, 4", n)
	}

	// Activity: issued through A and B, revoked through B, a refused use.
	if code, _ := b.api("DELETE", "/api/projects/alpha/tokens/"+b.list("alice", "alpha", "")[0].ID, "alice", nil); code != 204 {
		t.Fatal("revoking through B")
	}
	tok := a.issue("alice", "alpha/one", "repository:pull")
	if code, _ := b.api("DELETE", "/api/repos/alpha/one/tokens/"+tok.ID, "alice", nil); code != 204 {
		t.Fatal("revoking through B")
	}
	var act string
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(200 * time.Millisecond) {
		g.clone(a.tokenURL("alice", tok.Token, "alpha/one"))
		_, act = ba.get("/alpha/-/activity")
		if strings.Contains(act, "Use refused") || time.Now().After(deadline) {
			break
		}
	}
	if strings.Count(act, `<tr class="ev-issued">`) < 4 || !strings.Contains(act, `<tr class="ev-revoked">`) || !strings.Contains(act, "Use refused") {
		t.Errorf("the activity on PostgreSQL:\n%s", act)
	}
}

// parallel runs f(0), …, f(n-1) at once and waits for them.
func parallel(n int, f func(i int)) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			f(i)
		}()
	}
	close(start)
	wg.Wait()
}

// countTokens counts the tokens of a description.
func countTokens(toks []apiTok, desc string) int {
	n := 0
	for _, t := range toks {
		if t.Description == desc {
			n++
		}
	}
	return n
}

// TestPostgresStatuses: commit statuses on PostgreSQL, posted through one
// process and read through the other, and the repository page's latest
// status of each context; a token revokes itself through one and is
// refused by the other.
func TestPostgresStatuses(t *testing.T) {
	t.Parallel()
	s := postgresSite(t)
	a, b := s.launch(), s.launch()
	a.waitListening()
	b.waitListening()
	s.addUser("alice")
	s.must("", "project add", "-owner", "alice", "alpha")
	s.must("", "repo add", "-private", "alpha/one")
	g := newGit(t)
	tok := a.issue("alice", "alpha", "repository:pull", "repository:push", "repository:build_status")
	if out, err := g.run(g.workRepo(), "push", "-q", a.tokenURL("alice", tok.Token, "alpha/one"), "main"); err != nil {
		t.Fatalf("push: %v\n%s", err, out)
	}
	sha := g.head(a, "alice", tok.Token, "alpha/one")
	for _, st := range []map[string]any{
		{"state": "pending", "context": "ci/build"},
		{"state": "success", "context": "ci/build", "target_url": "https://ci.example.com/1"},
		{"state": "error", "context": "ci/deploy"},
	} {
		if code, body := a.apiAuth("POST", statusesPath("alpha/one", sha), bearer(tok.Token), st); code != 201 {
			t.Fatalf("posting through A: %d %s", code, body)
		}
	}
	code, body := b.apiAuth("GET", statusesPath("alpha/one", sha), bearer(tok.Token), nil)
	if code != 200 || strings.Count(string(body), `"state"`) != 3 || strings.Index(string(body), "ci/deploy") > strings.Index(string(body), "success") {
		t.Errorf("reading through B: %d %s; want the 3 statuses, newest first", code, body)
	}
	w := b.browser(t)
	w.login("alice")
	_, page := w.get("/alpha/one")
	for _, want := range []string{`href="https://ci.example.com/1" rel="nofollow noopener">ci/build: success</a>`, `<span class="status status-error">ci/deploy: error</span>`} {
		if !strings.Contains(page, want) {
			t.Errorf("the repository page through B lacks %s", want)
		}
	}
	if strings.Contains(page, "ci/build: pending") {
		t.Errorf("the repository page shows a replaced status")
	}
	if code, body := a.apiAuth("DELETE", "/api/token", bearer(tok.Token), nil); code != 204 {
		t.Fatalf("DELETE /api/token through A: %d %s", code, body)
	}
	if code, body := b.apiAuth("GET", "/api/token", bearer(tok.Token), nil); code != 401 {
		t.Errorf("GET /api/token through B after the revocation: %d %s; want 401", code, body)
	}
}
