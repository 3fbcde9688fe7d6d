package main

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// browser is a minimal HTTP client with cookies, for the page rules the
// chromium test does not go through.
type browser struct {
	t   *testing.T
	srv *server
	c   *http.Client
}

func (srv *server) browser(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, srv: srv, c: &http.Client{Jar: jar}}
}

func (b *browser) do(req *http.Request) (*http.Response, string) {
	b.t.Helper()
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

func (b *browser) get(path string) (*http.Response, string) {
	b.t.Helper()
	req, _ := http.NewRequest("GET", b.srv.URL+path, nil)
	return b.do(req)
}

func (b *browser) post(path string, form url.Values) (*http.Response, string) {
	b.t.Helper()
	req, _ := http.NewRequest("POST", b.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf returns the CSRF token of the forms on a page.
func (b *browser) csrf(path string) string {
	b.t.Helper()
	_, body := b.get(path)
	m := csrfRE.FindStringSubmatch(body)
	if m == nil {
		b.t.Fatalf("no CSRF token on %s", path)
	}
	return m[1]
}

func (b *browser) login(user string) {
	b.t.Helper()
	resp, body := b.post("/login", url.Values{"csrf": {b.csrf("/login")}, "username": {user}, "password": {password(user)}})
	if resp.StatusCode != 200 || !strings.Contains(body, `Signed in as </span><strong>`+user+"</strong>") {
		b.t.Fatalf("signing in as %s: %d\n%s", user, resp.StatusCode, body)
	}
}

func TestWebPages(t *testing.T) {
	t.Parallel()
	s, srv, _ := permSite(t)

	// Sign-in: the form's CSRF cookie, wrong passwords, the session cookie.
	anon := srv.browser(t)
	resp, body := anon.get("/login")
	for _, c := range resp.Cookies() {
		if c.Name == loginCookie && (!c.HttpOnly || c.SameSite != http.SameSiteStrictMode) {
			t.Errorf("sign-in CSRF cookie %v: want HttpOnly, SameSite=Strict", c)
		}
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("Content-Security-Policy %q", csp)
	}
	if regexp.MustCompile(`(src|rel="stylesheet" href)="(https?:)?//`).MatchString(body) {
		t.Errorf("the page loads something from another site:\n%s", body)
	}
	token := csrfRE.FindStringSubmatch(body)[1]
	if resp, _ := anon.post("/login", url.Values{"csrf": {token}, "username": {"writer"}, "password": {"wrong password"}}); resp.StatusCode != 401 {
		t.Errorf("wrong password: %d; want 401", resp.StatusCode)
	}
	fresh := srv.browser(t) // no sign-in CSRF cookie
	if resp, _ := fresh.post("/login", url.Values{"csrf": {"forged"}, "username": {"writer"}, "password": {password("writer")}}); resp.StatusCode != 403 {
		t.Errorf("sign-in without the form's cookie: %d; want 403", resp.StatusCode)
	}
	req, _ := http.NewRequest("POST", srv.URL+"/login", strings.NewReader(url.Values{"csrf": {anon.csrf("/login")}, "username": {"writer"}, "password": {password("writer")}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := (&http.Transport{}).RoundTrip(req) // no redirect, see the cookie
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var session *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == sessionCookie {
			session = c
		}
	}
	// (The request had no sign-in cookie: 403, no session.)
	if session != nil {
		t.Errorf("a session without the sign-in CSRF cookie")
	}

	users := map[string]*browser{}
	for _, u := range []string{"owner", "admin", "writer", "reader", "outsider"} {
		users[u] = srv.browser(t)
		users[u].login(u)
	}
	for _, c := range users["writer"].c.Jar.Cookies(mustURL(srv.URL)) {
		if c.Name == sessionCookie && len(c.Value) < 20 {
			t.Errorf("session cookie %q is short", c.Value)
		}
	}
	users["anonymous"] = anon

	// Who sees which page, and the "Manage access tokens" link.
	type row struct {
		user, path string
		code       int
		manage     bool
	}
	for _, r := range []row{
		{"anonymous", "/alpha", 200, false},
		{"anonymous", "/alpha/pub", 200, false},
		{"anonymous", "/alpha/priv", 404, false},
		{"anonymous", "/alpha/-/tokens", 401, false},
		{"outsider", "/alpha/priv", 404, false},
		{"outsider", "/alpha/pub", 200, false},
		{"outsider", "/alpha/priv/-/tokens", 404, false},
		{"outsider", "/alpha/pub/-/tokens", 403, false},
		{"reader", "/alpha", 200, false},
		{"reader", "/alpha/priv", 200, false},
		{"reader", "/alpha/priv/-/tokens", 403, false},
		{"writer", "/alpha", 200, false},
		{"writer", "/alpha/priv", 200, true},
		{"writer", "/alpha/-/tokens", 403, false},
		{"writer", "/alpha/priv/-/tokens", 200, false},
		{"admin", "/alpha", 200, true},
		{"owner", "/alpha", 200, true},
		{"owner", "/alpha/-/tokens", 200, false},
		{"owner", "/nope", 404, false},
		{"owner", "/alpha/nope", 404, false},
	} {
		resp, body := users[r.user].get(r.path)
		if resp.StatusCode != r.code {
			t.Errorf("%s GET %s: %d; want %d", r.user, r.path, resp.StatusCode, r.code)
		}
		if got := strings.Contains(body, "Manage access tokens"); got != r.manage {
			t.Errorf("%s GET %s: manage link %v; want %v", r.user, r.path, got, r.manage)
		}
	}
	// Signing in from the 401 page comes back to it.
	if _, body := anon.get("/alpha/-/tokens"); !strings.Contains(body, `href="/login?next=%2falpha%2f-%2ftokens"`) {
		t.Errorf("the sign-in link of the 401 page does not come back:\n%s", body)
	}

	// The project page lists the private repository to members only.
	if _, body := users["outsider"].get("/alpha"); strings.Contains(body, "priv") {
		t.Errorf("an outsider sees the private repository on the project page")
	}
	if _, body := users["reader"].get("/alpha"); !strings.Contains(body, "/alpha/priv") {
		t.Errorf("a reader does not see the private repository on the project page")
	}

	// Forms need the session's CSRF token, and a same-site request.
	w := users["writer"]
	tok := w.csrf("/alpha/priv/-/tokens")
	form := url.Values{"csrf": {tok}, "description": {"web"}, "scope": {"repository:pull"}}
	if resp, _ := w.post("/alpha/priv/-/tokens", url.Values{"description": {"web"}, "scope": {"repository:pull"}}); resp.StatusCode != 403 {
		t.Errorf("form without CSRF token: %d; want 403", resp.StatusCode)
	}
	if resp, _ := users["reader"].post("/alpha/priv/-/tokens", form); resp.StatusCode != 403 {
		t.Errorf("form with another session's CSRF token: %d; want 403", resp.StatusCode)
	}
	req, _ = http.NewRequest("POST", srv.URL+"/alpha/priv/-/tokens", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	if resp, _ := w.do(req); resp.StatusCode != 403 {
		t.Errorf("cross-site form post: %d; want 403", resp.StatusCode)
	}

	// Form errors are shown on the page, with what was typed.
	for name, f := range map[string]url.Values{
		"no scope":       {"csrf": {tok}, "description": {"x"}, "expiry": {"30"}},
		"past expiry":    {"csrf": {tok}, "description": {"x"}, "scope": {"repository:pull"}, "expiry": {"custom"}, "expires": {"2020-01-01"}},
		"bad date":       {"csrf": {tok}, "description": {"x"}, "scope": {"repository:pull"}, "expiry": {"custom"}, "expires": {"soon"}},
		"unknown scope":  {"csrf": {tok}, "description": {"x"}, "scope": {"repository:admin"}},
		"no description": {"csrf": {tok}, "scope": {"repository:pull"}},
	} {
		resp, body := w.post("/alpha/priv/-/tokens", f)
		if resp.StatusCode != 400 || !strings.Contains(body, `class="alert error"`) || !strings.Contains(body, `class="field-error"`) {
			t.Errorf("%s: %d; want 400 with the error on the page", name, resp.StatusCode)
		}
		if d := f.Get("description"); d != "" && !strings.Contains(body, `id="description" maxlength="255" required value="`+d+`"`) {
			t.Errorf("%s: the description typed is not kept", name)
		}
	}
	// A token made on the page for a date works through that date, and
	// the page shows that date (it showed the next day's midnight).
	resp, body = w.post("/alpha/priv/-/tokens", url.Values{"csrf": {tok}, "description": {"web"},
		"scope": {"repository:pull", "repository:push"}, "expiry": {"custom"}, "expires": {"2099-12-31"}})
	secret := regexp.MustCompile(`<code id="secret">(forge_\w+)</code>`).FindStringSubmatch(body)
	if resp.StatusCode != 200 || resp.Request.Method != "GET" || secret == nil || resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("creating a token: %d after %s %s, Cache-Control %q\n%s", resp.StatusCode, resp.Request.Method, resp.Request.URL, resp.Header.Get("Cache-Control"), body)
	}
	if !strings.Contains(body, "2099-12-31 23:59 UTC") || strings.Contains(body, "2100-01-01") {
		t.Errorf("a token expiring on 2099-12-31 should show that date, 2099-12-31 23:59 UTC")
	}
	g := newGit(t)
	g.mustClone(srv.tokenURL("writer", secret[1], "alpha/priv"), "token made on the page")

	// Revoking: only tokens of this page, by those allowed.
	proj := srv.issue("owner", "alpha", "repository:pull")
	_, body = w.get("/alpha/priv/-/tokens")
	if !strings.Contains(body, proj.ID) || strings.Contains(body, "/"+proj.ID+"/revoke") {
		t.Errorf("a write member should see the owner's project token without a revoke button")
	}
	if resp, _ := w.post("/alpha/priv/-/tokens/"+proj.ID+"/revoke", url.Values{"csrf": {tok}}); resp.StatusCode != 403 {
		t.Errorf("write member revoking the owner's project token: %d; want 403", resp.StatusCode)
	}
	if resp, _ := w.get("/alpha/priv/-/tokens/" + proj.ID + "/revoke"); resp.StatusCode != 403 {
		t.Errorf("write member asking to revoke the owner's project token: %d; want 403", resp.StatusCode)
	}
	if resp, _ := w.post("/alpha/pub/-/tokens/"+proj.ID+"/revoke", url.Values{"csrf": {tok}}); resp.StatusCode != 403 {
		t.Errorf("write member revoking the owner's project token through another repository: %d; want 403", resp.StatusCode)
	}
	g.mustClone(srv.tokenURL("owner", proj.Token, "alpha/priv"), "project token still valid")

	// Admins manage members on the project page; the change applies at once.
	if _, body := users["admin"].get("/alpha"); !strings.Contains(body, `id="member-form"`) {
		t.Errorf("no members form for an admin")
	}
	if _, body := users["writer"].get("/alpha"); strings.Contains(body, `id="member-form"`) {
		t.Errorf("a members form for a write member")
	}
	admin := users["admin"]
	setMember := func(b *browser, user, role string) int {
		resp, _ := b.post("/alpha/-/members", url.Values{"csrf": {b.csrf("/alpha")}, "user": {user}, "role": {role}})
		return resp.StatusCode
	}
	if code := setMember(admin, "outsider", "read"); code != 200 {
		t.Fatalf("admin adding a member: %d", code)
	}
	if resp, _ := users["outsider"].get("/alpha/priv"); resp.StatusCode != 200 {
		t.Errorf("new read member: %d; want 200", resp.StatusCode)
	}
	if code := setMember(users["writer"], "outsider", "admin"); code != 403 {
		t.Errorf("write member changing a role: %d; want 403", code)
	}
	if code := setMember(admin, "owner", "read"); code != 400 {
		t.Errorf("demoting the owner: %d; want 400", code)
	}
	if code := setMember(admin, "nobody", "read"); code != 400 {
		t.Errorf("adding an unknown user: %d; want 400", code)
	}
	if code := setMember(admin, "outsider", "none"); code != 200 {
		t.Errorf("removing a member: %d", code)
	}
	if resp, _ := users["outsider"].get("/alpha/priv"); resp.StatusCode != 404 {
		t.Errorf("removed member: %d; want 404", resp.StatusCode)
	}

	// The owner rotates a token on "Your tokens": a new secret, shown once;
	// the old one stops working.
	o := users["owner"]
	resp, body = o.post("/-/tokens/"+proj.ID+"/rotate", url.Values{"csrf": {o.csrf("/-/tokens")}})
	rotated := regexp.MustCompile(`<code id="secret">(forge_\w+)</code>`).FindStringSubmatch(body)
	if resp.StatusCode != 200 || rotated == nil || rotated[1] == proj.Token {
		t.Fatalf("rotating on your tokens page: %d\n%s", resp.StatusCode, body)
	}
	g.mustNotClone(srv.tokenURL("owner", proj.Token, "alpha/priv"), "rotated-away secret", "revoked")
	g.mustClone(srv.tokenURL("owner", rotated[1], "alpha/priv"), "rotated secret")
	if resp, _ := o.post("/-/tokens/"+proj.ID+"/rotate", url.Values{"csrf": {o.csrf("/-/tokens")}}); resp.StatusCode != 409 {
		t.Errorf("rotating twice: %d; want 409", resp.StatusCode)
	}

	// "Your tokens" lists a user's own tokens, and lets them revoke
	// them even after losing access to the target.
	s.must("", "project member", "alpha", "writer", "none")
	_, body = w.get("/-/tokens")
	if !strings.Contains(body, "alpha/priv") || strings.Contains(body, proj.ID) {
		t.Errorf("your tokens page: want writer's alpha/priv token and not the owner's project token\n%s", body)
	}
	id := regexp.MustCompile(`href="/-/tokens/([0-9a-f-]+)/revoke"`).FindStringSubmatch(body)
	if id == nil {
		t.Fatal("no revoke button on the your tokens page")
	}
	// Rotating needs the right to manage the target's tokens.
	if resp, _ := w.post("/-/tokens/"+id[1]+"/rotate", url.Values{"csrf": {tok}}); resp.StatusCode != 403 {
		t.Errorf("rotating after losing access: %d; want 403", resp.StatusCode)
	}
	if resp, _ := users["owner"].post("/-/tokens/"+id[1]+"/revoke", url.Values{"csrf": {users["owner"].csrf("/-/tokens")}}); resp.StatusCode != 404 {
		t.Errorf("revoking another user's token on your tokens page: %d; want 404", resp.StatusCode)
	}
	if resp, body := w.post("/-/tokens/"+id[1]+"/revoke", url.Values{"csrf": {tok}}); resp.StatusCode != 200 || strings.Contains(body, "/-/tokens/"+id[1]+"/revoke") || !strings.Contains(body, `id="notice"`) {
		t.Errorf("revoking on your tokens page after losing access: %d", resp.StatusCode)
	}
	g.mustNotClone(srv.tokenURL("writer", secret[1], "alpha/priv"), "token revoked on your tokens page", "revoked")

	// Sign out ends the session.
	if resp, _ := w.post("/logout", url.Values{"csrf": {tok}}); resp.StatusCode != 200 {
		t.Errorf("sign out: %d", resp.StatusCode)
	}
	if resp, _ := w.get("/-/tokens"); resp.Request.URL.Path != "/login" {
		t.Errorf("after signing out, your tokens page: %d at %s; want the sign-in page", resp.StatusCode, resp.Request.URL.Path)
	}
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}
