package main

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// rawRequest sends a request line and headers exactly as given (no
// client-side cleaning of the path) and returns the status.
func (srv *server) rawRequest(t *testing.T, method, target string, hdr map[string]string) int {
	t.Helper()
	c, err := net.Dial("tcp", srv.host)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var b strings.Builder
	b.WriteString(method + " " + target + " HTTP/1.1\r\nHost: " + srv.host + "\r\nConnection: close\r\nContent-Length: 0\r\n")
	for k, v := range hdr {
		b.WriteString(k + ": " + v + "\r\n")
	}
	b.WriteString("\r\n")
	if _, err := c.Write([]byte(b.String())); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestGitRequestTricks sends the requests of SECURITY.md to the
// forge's git URLs: the forge's routing must put every one of them in
// front of the middleware, which refuses them.
func TestGitRequestTricks(t *testing.T) {
	t.Parallel()
	_, srv, _ := permSite(t)
	pull := srv.issue("writer", "alpha/priv", "repository:pull").Token
	basic := map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte("x:"+pull))}
	bearer := map[string]string{"Authorization": "Bearer " + pull}
	tests := []struct {
		name, method, target string
		hdr                  map[string]string
		want                 int
	}{
		{"pull", "GET", "/alpha/priv.git/info/refs?service=git-upload-pack", basic, 200},
		{"pull, Bearer", "GET", "/alpha/priv.git/info/refs?service=git-upload-pack", bearer, 200},
		{"anonymous, private", "GET", "/alpha/priv.git/info/refs?service=git-upload-pack", nil, 401},
		{"anonymous push, public", "GET", "/alpha/pub.git/info/refs?service=git-receive-pack", nil, 401},
		{"push with a pull token", "GET", "/alpha/priv.git/info/refs?service=git-receive-pack", basic, 403},
		{"push route, pull query (Gogs)", "POST", "/alpha/priv.git/git-receive-pack?service=git-upload-pack", basic, 403},
		{"push route, pull query, anonymous", "POST", "/alpha/pub.git/git-receive-pack?service=git-upload-pack", nil, 401},
		{"token in query", "GET", "/alpha/pub.git/info/refs?service=git-upload-pack&access_token=" + pull, nil, 400},
		{"bare token in query", "GET", "/alpha/pub.git/info/refs?service=git-upload-pack&x=" + pull, nil, 400},
		{"dot-dot to another repository", "GET", "/alpha/pub.git/../priv.git/info/refs?service=git-upload-pack", nil, 400},
		{"encoded dot-dot", "GET", "/alpha/%2e%2e/alpha/priv.git/info/refs?service=git-upload-pack", nil, 400},
		{"encoded slash", "GET", "/alpha%2fpriv.git/info/refs?service=git-upload-pack", nil, 400},
		{"double slash", "GET", "/alpha//priv.git/info/refs?service=git-upload-pack", nil, 400},
		{"escape the root", "GET", "/../alpha/priv.git/info/refs?service=git-upload-pack", nil, 400},
		{"unknown repository", "GET", "/alpha/nope.git/info/refs?service=git-upload-pack", basic, 404},
		{"other project's private repository", "GET", "/beta/other.git/info/refs?service=git-upload-pack", basic, 404},
		{"not a git route", "GET", "/alpha/pub.git/config", nil, 404},
		{"clone URL in a browser", "GET", "/alpha/pub.git", nil, 302},
		{"not a clone URL", "GET", "//evil.example.git", nil, 400},
		{"not a clone URL either", "GET", "/alpha/x/pub.git", nil, 404},
		{"three segments", "GET", "/alpha/x/pub.git/info/refs?service=git-upload-pack", nil, 401},
	}
	for _, tt := range tests {
		if got := srv.rawRequest(t, tt.method, tt.target, tt.hdr); got != tt.want {
			t.Errorf("%s: %s %s: got %d; want %d", tt.name, tt.method, tt.target, got, tt.want)
		}
	}
	if strings.Contains(srv.output(), pull) {
		t.Errorf("the forge's log shows a token")
	}
}

func TestRepoPageOf(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/alpha/pub.git", "/alpha/pub"},
		{"/alpha/pub", ""},
		{"//evil.example.git", ""},
		{"//evil.example/x.git", ""},
		{"/alpha/../x.git", ""},
		{"/alpha/x/y.git", ""},
		{"/alpha/.git", ""},
		{"alpha/pub.git", ""},
		{"/api/pub.git", ""},
	}
	for _, tt := range tests {
		if got := repoPageOf(tt.in); got != tt.want {
			t.Errorf("repoPageOf(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
}

// clientFrom returns an HTTP client whose connections come from the
// loopback address ip (Linux routes all of 127.0.0.0/8 to the loopback
// interface), so that the forge sees a client of that address.
func clientFrom(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
}

// basicGet sends GET path with Basic credentials from client c and
// returns the response with its body read.
func (srv *server) basicGet(c *http.Client, path, user, pass string) (*http.Response, error) {
	req, err := http.NewRequest("GET", srv.URL+path, nil)
	if err != nil {
		return nil, err
	}
	req.SetBasicAuth(user, pass)
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp, nil
}

// TestSignInLimitParallel: 199 wrong passwords and the right one for one
// user, sent at once from 200 addresses (so that only the per-user limit
// applies to each): no more than the limit are checked; the others are
// refused (429), or told to come back (503) when the forge is checking
// as many passwords as it will.
func TestSignInLimitParallel(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	s.addUser("alice")
	s.must("", "project add", "-owner", "alice", "alpha")
	srv := s.start()
	const n = 200
	codes := make(chan int, n)
	for i := range n {
		pass := "not her password"
		if i == n/2 {
			pass = password("alice")
		}
		go func() {
			c := clientFrom(fmt.Sprintf("127.0.%d.%d", 1+i/200, 2+i%200))
			defer c.CloseIdleConnections()
			resp, err := srv.basicGet(c, "/api/projects/alpha/tokens", "alice", pass)
			if err != nil {
				t.Error(err)
				codes <- 0
				return
			}
			codes <- resp.StatusCode
		}()
	}
	count := map[int]int{}
	for range n {
		count[<-codes]++
	}
	if checked := count[200] + count[401]; checked > maxFailures || count[429]+count[503] != n-checked {
		t.Errorf("statuses %v: %d passwords checked; want at most %d, the others 429 or 503", count, checked, maxFailures)
	}
}

// TestPasswordFlood: one client sends Basic requests with random user
// names, many at once. Beyond the client's allowance it gets 429 at once,
// without a password check: at most clientBurst failed checks plus one
// per clientEvery that passed. Another client is not affected.
func TestPasswordFlood(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	s.addUser("alice")
	s.must("", "project add", "-owner", "alice", "alpha")
	srv := s.start()
	const n = 60
	start := time.Now()
	type result struct {
		code       int
		retryAfter string
	}
	results := make(chan result, n)
	for i := range n {
		go func() {
			resp, err := srv.basicGet(http.DefaultClient, "/api/projects/alpha/tokens", fmt.Sprintf("guess%d", i), "a password")
			if err != nil {
				t.Error(err)
				results <- result{}
				return
			}
			results <- result{resp.StatusCode, resp.Header.Get("Retry-After")}
		}()
	}
	count := map[int]int{}
	for range n {
		r := <-results
		count[r.code]++
		if r.code == 429 && r.retryAfter == "" {
			t.Errorf("429 without Retry-After")
		}
	}
	bound := clientBurst + 1 + int(time.Since(start)/clientEvery)
	if checked := count[401]; checked > bound || count[429] != n-checked {
		t.Errorf("statuses %v from one client: %d passwords checked; want at most %d, the others 429", count, checked, bound)
	}
	// Another client signs in as usual.
	c := clientFrom("127.0.0.2")
	defer c.CloseIdleConnections()
	if resp, err := srv.basicGet(c, "/api/projects/alpha/tokens", "alice", password("alice")); err != nil || resp.StatusCode != 200 {
		t.Errorf("alice from another address during the flood: %v, %v; want 200", resp, err)
	}
}

// TestSafeNext: after signing in, only the forge's own pages.
func TestSafeNext(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/", "/"},
		{"/alpha", "/alpha"},
		{"/alpha/priv", "/alpha/priv"},
		{"/alpha/-/tokens", "/alpha/-/tokens"},
		{"/alpha/priv/-/tokens", "/alpha/priv/-/tokens"},
		{"/-/tokens", "/-/tokens"},
		{"/\t/evil.example/x", "/"},
		{"/\t\t/evil.example", "/"},
		{"/\n/evil.example", "/"},
		{"//evil.example", "/"},
		{"/\\evil.example", "/"},
		{"\\\\evil.example", "/"},
		{"https://evil.example/", "/"},
		{"javascript:alert(1)", "/"},
		{"/%2f/evil.example", "/"},
		{"/alpha/priv/x", "/"},
		{"/alpha/../x", "/"},
		{"/Alpha", "/"},
		{"/alpha\x00", "/"},
		{"/\xff", "/"},
		{"/alpha?x=//evil.example", "/"},
		{"", "/"},
	}
	for _, tt := range tests {
		if got := safeNext(tt.in); got != tt.want {
			t.Errorf("safeNext(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
}

// TestOpenRedirect: the sign-in form's next=/%09/evil.example/x (which
// browsers follow to //evil.example/x) redirects home instead.
func TestOpenRedirect(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	s.addUser("alice")
	s.must("", "project add", "-owner", "alice", "alpha")
	srv := s.start()
	for next, want := range map[string]string{"/\t/evil.example/x": "/", "//evil.example": "/", "/alpha": "/alpha"} {
		b := srv.browser(t)
		b.c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		form := url.Values{"csrf": {b.csrf("/login?next=" + url.QueryEscape(next))}, "username": {"alice"}, "password": {password("alice")}, "next": {next}}
		resp, _ := b.post("/login", form)
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != want {
			t.Errorf("sign-in with next=%q: %d to %q; want 303 to %q", next, resp.StatusCode, resp.Header.Get("Location"), want)
		}
		// The sign-in form does not carry it either.
		if _, body := b.get("/login?next=" + url.QueryEscape(next)); strings.Contains(body, "evil.example") {
			t.Errorf("the sign-in form carries next=%q", next)
		}
	}
}

// getWithHost fetches path with the Host header the client chose.
func (srv *server) getWithHost(t *testing.T, path, host string) string {
	t.Helper()
	req, _ := http.NewRequest("GET", srv.URL+path, nil)
	req.Host = host
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// signInCookies signs in as user without a cookie jar (which would drop
// Secure cookies over http) and returns the cookies of the sign-in form
// and of the session.
func (srv *server) signInCookies(t *testing.T, user string) (form, session *http.Cookie) {
	t.Helper()
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	req, _ := http.NewRequest("GET", srv.URL+"/login", nil)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, c := range resp.Cookies() {
		if c.Name == loginCookie {
			form = c
		}
	}
	m := csrfRE.FindStringSubmatch(string(body))
	if form == nil || m == nil {
		t.Fatalf("sign-in form: %d, cookies %v", resp.StatusCode, resp.Cookies())
	}
	req, _ = http.NewRequest("POST", srv.URL+"/login", strings.NewReader(url.Values{"csrf": {m[1]}, "username": {user}, "password": {password(user)}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(&http.Cookie{Name: form.Name, Value: form.Value})
	resp, err = tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for _, c := range resp.Cookies() {
		if c.Name == sessionCookie {
			session = c
		}
	}
	if session == nil {
		t.Fatalf("signing in: %d, no session cookie", resp.StatusCode)
	}
	return form, session
}

// TestPublicURL: clone URLs come from -public-url, or the listening
// address, never from the Host header; -public-url https://… makes the
// cookies Secure.
func TestPublicURL(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	s.addUser("alice")
	s.must("", "project add", "-owner", "alice", "alpha")
	s.must("", "repo add", "alpha/pub")

	srv := s.start()
	for _, path := range []string{"/alpha/pub", "/alpha"} {
		body := srv.getWithHost(t, path, "evil.example")
		if strings.Contains(body, "evil.example") || !strings.Contains(body, srv.URL+"/alpha/pub.git") {
			t.Errorf("GET %s with Host: evil.example shows another clone URL than %s/alpha/pub.git:\n%s", path, srv.URL, body)
		}
	}
	if form, session := srv.signInCookies(t, "alice"); form.Secure || session.Secure {
		t.Errorf("over plain http without -public-url, cookies are Secure (the browser would not send them back)")
	}

	pub := s.start("-public-url", "https://git.example.com/")
	if !strings.Contains(pub.output(), "public URL https://git.example.com/") {
		t.Errorf("no public URL in the output:\n%s", pub.output())
	}
	body := pub.getWithHost(t, "/alpha/pub", "evil.example")
	if strings.Contains(body, "evil.example") || !strings.Contains(body, "https://git.example.com/alpha/pub.git") {
		t.Errorf("with -public-url, the repository page:\n%s", body)
	}
	if form, session := pub.signInCookies(t, "alice"); !form.Secure || !session.Secure || !session.HttpOnly {
		t.Errorf("with an https -public-url: sign-in cookie %v, session cookie %v; want both Secure", form, session)
	}

	for _, bad := range []string{"git.example.com", "ftp://git.example.com", "https://git.example.com/forge", "https://", "https://u:p@git.example.com", "https://git.example.com/?x=1"} {
		out, code := s.cli("", "serve", "-addr", "127.0.0.1:0", "-demo=false", "-public-url", bad)
		if code != 2 || !strings.Contains(out, "-public-url") {
			t.Errorf("serve -public-url %q: exit %d; want 2 and a message\n%s", bad, code, out)
		}
	}
	if out, code := s.cli("", "serve", "-addr", "127.0.0.1:0", "-trusted-proxy", "10.0.0.0/33"); code != 2 || !strings.Contains(out, "-trusted-proxy") {
		t.Errorf("serve -trusted-proxy 10.0.0.0/33: exit %d; want 2 and a message\n%s", code, out)
	}
}

// badBytes checks that names PostgreSQL would refuse in a query (invalid
// UTF-8, NUL) are refused before any: 404 or 400 (401 for a user name),
// never 5xx, nothing logged as an error.
func badBytes(t *testing.T, s *site) {
	s.addUser("alice")
	s.must("", "project add", "-owner", "alice", "alpha")
	s.must("", "repo add", "alpha/pub")
	srv := s.start()
	basic := func(user string) map[string]string {
		return map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password("alice")))}
	}
	alice := basic("alice")
	sha := strings.Repeat("a", 40)
	tests := []struct {
		method, target string
		hdr            map[string]string
		want           int
	}{
		{"GET", "/%ff", nil, 404},
		{"GET", "/%00", nil, 404},
		{"GET", "/alpha/%00x", nil, 404},
		{"GET", "/alpha/%ff", nil, 404},
		{"GET", "/%ff/x", nil, 404},
		{"GET", "/%ff/-/tokens", nil, 404},
		{"GET", "/alpha/%ff/-/tokens", nil, 404},
		{"GET", "/api/projects/%ff/tokens", alice, 404},
		{"GET", "/api/repos/alpha/%00x/tokens", alice, 404},
		{"GET", "/api/repos/%ff/x/tokens", alice, 404},
		{"POST", "/api/projects/%ff/tokens", alice, 404},
		{"GET", "/api/projects/alpha/tokens", basic("\xff"), 401},
		{"GET", "/api/projects/alpha/tokens", basic("alice\x00"), 401},
		{"GET", "/api/repos/%ff/x/statuses/" + sha, nil, 404},
		{"GET", "/api/repos/alpha/%00x/statuses/" + sha, alice, 404},
		{"GET", "/api/repos/alpha/pub/statuses/%ff", nil, 422},
		{"GET", "/api/repos/alpha/pub/statuses/" + sha, basic("\xff"), 401},
		{"GET", "/api/repos/%ff/x/statuses/" + sha, map[string]string{"Authorization": "Bearer forge_x"}, 400}, // the route middleware: an unsafe path
		{"POST", "/api/repos/%ff/x/statuses/" + sha, map[string]string{"Authorization": "Bearer forge_x"}, 400},
		{"GET", "/api/token", map[string]string{"Authorization": "Bearer \xff"}, 401},
		{"GET", "/%ff/x.git/info/refs?service=git-upload-pack", nil, 400},
		{"GET", "/alpha/%00.git/info/refs?service=git-upload-pack", nil, 400},
	}
	for _, tt := range tests {
		if got := srv.rawRequest(t, tt.method, tt.target, tt.hdr); got != tt.want {
			t.Errorf("%s %s: got %d; want %d", tt.method, tt.target, got, tt.want)
		}
	}
	// The forms: a user name of such bytes at sign-in, and as a member.
	b := srv.browser(t)
	if resp, _ := b.post("/login", url.Values{"csrf": {b.csrf("/login")}, "username": {"\xff"}, "password": {"password"}}); resp.StatusCode != 401 {
		t.Errorf("signing in as \\xff: %d; want 401", resp.StatusCode)
	}
	b.login("alice")
	for _, user := range []string{"\xff", "a\x00"} {
		if resp, _ := b.post("/alpha/-/members", url.Values{"csrf": {b.csrf("/alpha")}, "user": {user}, "role": {"read"}}); resp.StatusCode != 400 {
			t.Errorf("adding member %q: %d; want 400", user, resp.StatusCode)
		}
	}
	if strings.Contains(srv.output(), "level=ERROR") {
		t.Errorf("errors logged:\n%s", srv.output())
	}
}

func TestBadBytes(t *testing.T) {
	t.Parallel()
	badBytes(t, newSite(t))
}

// TestFormBodies: the web forms take a urlencoded body of at most
// maxFormBytes, read before any field is looked at, from anyone: a
// multipart body (whose files net/http would keep in memory up to 32 MB
// and on disk beyond) gets 415, a larger body 413, and a body that is no
// valid form 400, on the sign-in form (no session needed) and behind a
// session; a form within bounds still works; a page's GET reads no body.
func TestFormBodies(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	s.addUser("alice")
	srv := s.start()
	_, session := srv.signInCookies(t, "alice")
	big := "csrf=x&description=" + strings.Repeat("a", 64<<10)
	multipart := "--b\r\nContent-Disposition: form-data; name=\"f\"; filename=\"f\"\r\n\r\n" + strings.Repeat("a", 1<<20) + "\r\n--b--\r\n"
	post := func(method, path, ct, body string, withSession bool) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		if withSession {
			req.AddCookie(&http.Cookie{Name: session.Name, Value: session.Value})
		}
		resp, err := (&http.Transport{}).RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, tc := range []struct {
		name, path, ct, body string
		session              bool
		want                 int
		says                 string
	}{
		{"multipart sign-in", "/login", "multipart/form-data; boundary=b", multipart, false, 415, "forms only"},
		{"no content type", "/login", "", "csrf=x", false, 415, "forms only"},
		{"JSON", "/logout", "application/json", `{"csrf":"x"}`, true, 415, "forms only"},
		{"large sign-in", "/login", "application/x-www-form-urlencoded", big, false, 413, "too large"},
		{"large, with a session", "/logout", "application/x-www-form-urlencoded", big, true, 413, "too large"},
		{"bad escape", "/login", "application/x-www-form-urlencoded", "csrf=%zz", false, 400, "could not be read"},
		// Within bounds, the form is read and judged as before: a wrong
		// CSRF token.
		{"stale form", "/logout", "application/x-www-form-urlencoded; charset=utf-8", "csrf=x", true, 403, "form is stale"},
	} {
		code, body := post("POST", tc.path, tc.ct, tc.body, tc.session)
		if code != tc.want || !strings.Contains(body, tc.says) {
			t.Errorf("%s: %d, want %d saying %q", tc.name, code, tc.want, tc.says)
		}
	}
	// The sign-in page reads ?next= with FormValue, which parses a
	// multipart body whatever the method: the page must not read one.
	// The multipart body names a next, which the page would show if it
	// read the body.
	withNext := "--b\r\nContent-Disposition: form-data; name=\"next\"\r\n\r\n/frombody\r\n--b\r\n" +
		"Content-Disposition: form-data; name=\"f\"; filename=\"f\"\r\n\r\n" + strings.Repeat("a", 1<<20) + "\r\n--b--\r\n"
	code, body := post("GET", "/login", "multipart/form-data; boundary=b", withNext, false)
	if code != http.StatusOK || strings.Contains(body, "frombody") {
		t.Errorf("GET /login with a multipart body: %d, the body's next read: %v", code, strings.Contains(body, "frombody"))
	}
}
