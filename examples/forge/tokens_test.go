package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/forgekit/accesstoken"
	"github.com/forgekit/accesstoken/memstore"
)

var secretRE = regexp.MustCompile(`<code id="secret">(forge_\w+)</code>`)

// noRedirects returns a copy of b's client that does not follow
// redirects, to see a response as the server sent it.
func (b *browser) noRedirects() *browser {
	c := *b.c
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &browser{t: b.t, srv: b.srv, c: &c}
}

// replay sends a request again, as a browser's reload does.
func (b *browser) replay(req *http.Request, form url.Values) (*http.Response, string) {
	b.t.Helper()
	var body *strings.Reader
	if req.Method == "POST" {
		body = strings.NewReader(form.Encode())
	} else {
		body = strings.NewReader("")
	}
	again, _ := http.NewRequest(req.Method, req.URL.String(), body)
	if req.Method == "POST" {
		again.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	return b.do(again)
}

// TestCreatePostRedirectGet: creating a token on the page redirects to
// the list, which shows the secret once; reloading it creates no second
// token and shows no secret. The secret is in the database only sealed
// with a key that only the browser's cookie holds, and only until the
// page shows it, for that session only.
func TestCreatePostRedirectGet(t *testing.T) {
	t.Parallel()
	s, srv, _ := lifeSite(t)
	b := srv.browser(t)
	b.login("alice")
	form := url.Values{"csrf": {b.csrf("/alpha/-/tokens")}, "description": {"reload me"}, "scope": {"repository:pull"}, "expiry": {"30"}}
	resp, body := b.post("/alpha/-/tokens", form)
	secret := secretRE.FindStringSubmatch(body)
	if secret == nil || resp.StatusCode != 200 {
		t.Fatalf("creating: %d, no secret\n%s", resp.StatusCode, body)
	}
	if resp.Request.Method != "GET" || resp.Request.URL.Path != "/alpha/-/tokens" {
		t.Errorf("after creating, the browser shows %s %s; want GET /alpha/-/tokens", resp.Request.Method, resp.Request.URL.Path)
	}
	// Reload: the browser sends again the request that made the page.
	resp, body = b.replay(resp.Request, form)
	if strings.Contains(body, secret[1]) {
		t.Errorf("the secret is shown again after a reload")
	}
	n := 0
	for _, tok := range srv.list("alice", "alpha", "") {
		if tok.Description == "reload me" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("after a reload, %d tokens named “reload me”; want 1 (status %d)", n, resp.StatusCode)
	}

	// The redirect, as sent: the flash cookie, and the database without
	// the secret.
	nr := b.noRedirects()
	form.Set("description", "sealed")
	resp, body = nr.post("/alpha/-/tokens", form)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/alpha/-/tokens" || strings.Contains(body, "forge_") {
		t.Fatalf("creating: %d to %q; want 303 to the list, without the secret\n%s", resp.StatusCode, resp.Header.Get("Location"), body)
	}
	var flash *http.Cookie
	for _, c := range resp.Cookies() {
		if strings.HasPrefix(c.Name, "forge_flash_") {
			flash = c
		}
	}
	if flash == nil || !flash.HttpOnly || flash.Path != "/alpha/-/tokens" || flash.MaxAge <= 0 || flash.MaxAge > 600 || strings.HasPrefix(flash.Value, "forge_") {
		t.Fatalf("flash cookie %v: want HttpOnly, for the list only, for at most 10 minutes, without the secret", flash)
	}
	// Another session, of the same user, with the same cookie sees
	// nothing (and leaves the flash to its own session).
	other := srv.browser(t)
	other.login("alice")
	other.c.Jar.SetCookies(mustURL(srv.URL+"/alpha/-/tokens"), []*http.Cookie{{Name: flash.Name, Value: flash.Value, Path: "/alpha/-/tokens"}})
	if _, body := other.get("/alpha/-/tokens"); strings.Contains(body, `id="secret"`) {
		t.Errorf("another session's page shows the secret")
	}
	if _, body := other.get("/-/tokens"); strings.Contains(body, `id="secret"`) {
		t.Errorf("another session's page shows the secret")
	}
	_, body = b.get("/alpha/-/tokens")
	sealed := secretRE.FindStringSubmatch(body)
	if sealed == nil {
		t.Fatalf("the list after the redirect shows no secret\n%s", body)
	}
	if _, body := b.get("/alpha/-/tokens"); strings.Contains(body, sealed[1]) {
		t.Errorf("the secret is shown twice")
	}
	// No secret in the database files (the SQLite file and its log).
	files, _ := filepath.Glob(filepath.Join(s.data, "forge.db*"))
	if len(files) == 0 {
		t.Fatal("no database files")
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, sec := range []string{secret[1], sealed[1]} {
			if bytes.Contains(data, []byte(sec)) || bytes.Contains(data, []byte(sec[6:30])) {
				t.Errorf("%s holds a secret", filepath.Base(f))
			}
		}
	}
	if strings.Contains(srv.output(), sealed[1]) || strings.Contains(srv.output(), secret[1]) {
		t.Errorf("the log holds a secret")
	}
}

// TestConfirmations: revoking and rotating on the pages ask first, naming
// the token, and for a project token saying it stops working for every
// repository of the project; then the list says what happened.
func TestConfirmations(t *testing.T) {
	t.Parallel()
	_, srv, g := lifeSite(t)
	proj := srv.issue("alice", "alpha", "repository:pull")
	b := srv.browser(t)
	b.login("alice")
	resp, body := b.get("/alpha/one/-/tokens/" + proj.ID + "/revoke")
	if resp.StatusCode != 200 || !strings.Contains(body, "Revoke “"+proj.Description+"”?") ||
		!strings.Contains(body, "every repository of project alpha (2 now), not only alpha/one") {
		t.Fatalf("confirmation: %d\n%s", resp.StatusCode, body)
	}
	g.mustClone(srv.tokenURL("alice", proj.Token, "alpha/two"), "before confirming")
	// The list links to the confirmation; the revocation is a POST.
	if _, body := b.get("/alpha/one/-/tokens"); !strings.Contains(body, `href="/alpha/one/-/tokens/`+proj.ID+`/revoke"`) {
		t.Errorf("the list does not link to the confirmation")
	}
	csrf := csrfRE.FindStringSubmatch(body)[1]
	resp, body = b.post("/alpha/one/-/tokens/"+proj.ID+"/revoke", url.Values{"csrf": {csrf}})
	if resp.StatusCode != 200 || resp.Request.URL.Path != "/alpha/one/-/tokens" ||
		!strings.Contains(body, "Revoked “"+proj.Description+"”, a project token: it no longer works for any repository of project alpha.") {
		t.Errorf("after revoking: %d at %s\n%s", resp.StatusCode, resp.Request.URL.Path, body)
	}
	g.mustNotClone(srv.tokenURL("alice", proj.Token, "alpha/two"), "the other repository after revoking", "revoked")
	if resp, _ := b.get("/alpha/one/-/tokens/" + proj.ID + "/revoke"); resp.StatusCode != 409 {
		t.Errorf("asking to revoke a revoked token: %d; want 409", resp.StatusCode)
	}

	repo := srv.issue("bob", "alpha/one", "repository:pull")
	bob := srv.browser(t)
	bob.login("bob")
	resp, body = bob.get("/-/tokens/" + repo.ID + "/rotate")
	if resp.StatusCode != 200 || !strings.Contains(body, "Rotate “"+repo.Description+"”?") || !strings.Contains(body, "The current secret stops working at once") {
		t.Fatalf("rotate confirmation: %d\n%s", resp.StatusCode, body)
	}
	resp, body = bob.post("/-/tokens/"+repo.ID+"/rotate", url.Values{"csrf": {csrfRE.FindStringSubmatch(body)[1]}})
	rotated := secretRE.FindStringSubmatch(body)
	if resp.StatusCode != 200 || rotated == nil || !strings.Contains(body, "New secret for “"+repo.Description+"”") {
		t.Fatalf("after rotating: %d\n%s", resp.StatusCode, body)
	}
	// The old token is in the inactive section, revoked by bob, with a
	// link to its successor, whose page shows it.
	l := find(srv.listAll("bob", "/api/user/tokens", "?all=true"), repo.ID)
	if l == nil || l.ReplacedBy == nil || l.RevokedBy == nil || *l.RevokedBy != "bob" || l.State != "revoked" {
		t.Fatalf("the rotated token: %+v", l)
	}
	_, body = bob.get("/-/tokens")
	if !strings.Contains(body, `href="/-/tokens/`+*l.ReplacedBy+`"`) || !regexp.MustCompile(`Revoked [0-9: -]+UTC by <span class="revoked-by">bob</span>`).MatchString(body) {
		t.Errorf("your tokens lack the successor link or who revoked:\n%s", body)
	}
	resp, body = bob.get("/-/tokens/" + *l.ReplacedBy)
	if resp.StatusCode != 200 || !strings.Contains(body, `<span class="badge state-active">active</span>`) || !strings.Contains(body, "“"+repo.Description+"”") ||
		!strings.Contains(body, *l.ReplacedBy) {
		t.Errorf("following the successor link: %d\n%s", resp.StatusCode, body)
	}
	// The old token's own page: revoked by bob, and its successor.
	resp, body = bob.get("/-/tokens/" + repo.ID)
	if resp.StatusCode != 200 || !strings.Contains(body, `<span class="badge state-revoked">revoked</span>`) ||
		!regexp.MustCompile(`id="revoked">[0-9: -]+UTC by bob<`).MatchString(body) || !strings.Contains(body, `class="successor" href="/-/tokens/`+*l.ReplacedBy+`"`) {
		t.Errorf("the rotated token's page: %d\n%s", resp.StatusCode, body)
	}
	// Another user's token is not found on "Your tokens".
	if resp, _ := b.get("/-/tokens/" + *l.ReplacedBy + "/revoke"); resp.StatusCode != 404 {
		t.Errorf("alice asking to revoke bob's token on her tokens page: %d; want 404", resp.StatusCode)
	}
}

// TestDescriptions: a description is required, unique among the owner's
// active tokens of a target (ignoring case and spaces), at most 255
// characters, and free of characters that make it read as something else,
// through the API and the pages.
func TestDescriptions(t *testing.T) {
	t.Parallel()
	_, srv, _ := lifeSite(t)
	post := func(user, target, desc string) (int, apiErrorBody) {
		t.Helper()
		code, b := srv.api("POST", apiTokensPath(target), user, map[string]any{"description": desc, "scopes": []string{"repository:pull"}})
		var e apiErrorBody
		json.Unmarshal(b, &e)
		return code, e
	}
	for name, desc := range map[string]string{
		"right-to-left override": "deploy\u202Egpj.exe",
		"left-to-right isolate":  "a\u2066b",
		"zero-width space":       "de\u200Bploy",
		"zero-width joiner":      "x\u200Dy",
		"byte order mark":        "\uFEFFdeploy",
		"soft hyphen":            "de\u00ADploy",
		"tag character":          "ci\U000E0041",
		"line separator":         "a\u2028b",
		"control character":      "a\x07b",
		"private use":            "a\uE000b",
		"unassigned":             "a\u0378b", // the forge's rule
		"Hangul filler":          "a\u3164b", // the library's rule
		"combining joiner":       "a\u034Fb",
		"empty":                  "",
		"spaces only":            "   ",
		"256 characters":         strings.Repeat("é", 256),
	} {
		code, e := post("bob", "alpha/one", desc)
		if code != 400 || e.Field != "description" || e.Error == "" {
			t.Errorf("%s: %d %+v; want 400 about the description", name, code, e)
		}
		b := srv.browser(t)
		b.login("bob")
		resp, body := b.post("/alpha/one/-/tokens", url.Values{"csrf": {b.csrf("/alpha/one/-/tokens")}, "description": {desc}, "scope": {"repository:pull"}})
		if resp.StatusCode != 400 || !strings.Contains(body, `id="description-error"`) {
			t.Errorf("%s on the page: %d; want 400 with the error at the description", name, resp.StatusCode)
		}
	}
	if code, e := post("bob", "alpha/one", "x\u202Ey"); !strings.Contains(e.Error, "U+202E") {
		t.Errorf("the refusal does not say which character: %d %q", code, e.Error)
	}
	// Letters of any script, emoji, punctuation: fine; spaces around are
	// trimmed.
	for _, desc := range []string{"CI déploiement", "Сборка", "构建 🚀", "laptop (home) – 2027"} {
		if code, e := post("bob", "alpha/one", "  "+desc+" "); code != 201 {
			t.Errorf("%q: %d %+v; want 201", desc, code, e)
		}
	}
	// Unique per owner and target, among active tokens.
	if code, e := post("bob", "alpha/one", "CI"); code != 201 {
		t.Fatalf("CI: %d %+v", code, e)
	}
	for _, dup := range []string{"CI", "ci", "  Ci  "} {
		if code, e := post("bob", "alpha/one", dup); code != 409 || e.Field != "description" || !strings.Contains(e.Error, "already have an active token") {
			t.Errorf("duplicate %q: %d %+v; want 409", dup, code, e)
		}
	}
	if code, _ := post("bob", "alpha/two", "CI"); code != 201 {
		t.Errorf("the same description for another repository: %d; want 201", code)
	}
	if code, _ := post("alice", "alpha/one", "CI"); code != 201 {
		t.Errorf("the same description by another user: %d; want 201", code)
	}
	var ci string
	for _, tok := range srv.list("bob", "alpha/one", "") {
		if tok.Description == "CI" && tok.Owner == "bob" {
			ci = tok.ID
		}
	}
	if code, _ := srv.api("DELETE", "/api/repos/alpha/one/tokens/"+ci, "bob", nil); code != 204 {
		t.Fatal("revoking CI")
	}
	if code, _ := post("bob", "alpha/one", "CI"); code != 201 {
		t.Errorf("the description of a revoked token: %d; want 201", code)
	}
	// Requests at once (through the pages: no password check holds them
	// up) cannot pass the rule together: of 10 with one description, one
	// makes a token.
	w := srv.browser(t)
	w.login("bob")
	csrf := w.csrf("/alpha/two/-/tokens")
	parallel(10, func(int) {
		w.post("/alpha/two/-/tokens", url.Values{"csrf": {csrf}, "description": {"parallel"}, "scope": {"repository:pull"}})
	})
	if n := countTokens(srv.list("bob", "alpha/two", ""), "parallel"); n != 1 {
		t.Errorf("10 requests at once with one description made %d tokens; want 1", n)
	}
}

// TestMaxLifetime: with -max-token-lifetime, the API and the page refuse
// longer expiries, give tokens without one that lifetime, and say so.
func TestMaxLifetime(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	s.addUser("alice")
	s.must("", "project add", "-owner", "alice", "alpha")
	s.must("", "repo add", "-private", "alpha/one")
	srv := s.start("-max-token-lifetime", "30d")

	code, b := srv.api("GET", "/api/token-policy", "", nil)
	var pol apiPolicy
	if code != 200 || json.Unmarshal(b, &pol) != nil || pol.MaxLifetimeSeconds == nil || *pol.MaxLifetimeSeconds != 30*86400 ||
		pol.MaxLifetimeDays == nil || *pol.MaxLifetimeDays != 30 || pol.MaxActiveTokensPerUser == nil || *pol.MaxActiveTokensPerUser != 100 {
		t.Errorf("token policy: %d %s", code, b)
	}
	before := time.Now()
	tok := srv.issue("alice", "alpha/one", "repository:pull")
	if tok.ExpiresAt == nil || tok.ExpiresAt.Before(before.Add(30*24*time.Hour-time.Minute)) || tok.ExpiresAt.After(time.Now().Add(30*24*time.Hour)) {
		t.Errorf("a token asked for without an expiry expires at %v; want 30 days from now", tok.ExpiresAt)
	}
	code, b = srv.api("POST", "/api/repos/alpha/one/tokens", "alice", map[string]any{"description": "long", "scopes": []string{"repository:pull"},
		"expires_at": time.Now().Add(31 * 24 * time.Hour).UTC().Format(time.RFC3339)})
	var e apiErrorBody
	if json.Unmarshal(b, &e); code != 400 || e.Field != "expires_at" || !strings.Contains(e.Error, "30 days") {
		t.Errorf("an expiry past the lifetime: %d %s", code, b)
	}

	w := srv.browser(t)
	w.login("alice")
	_, body := w.get("/alpha/one/-/tokens")
	last := time.Now().UTC().AddDate(0, 0, 30).Format(time.DateOnly)
	for _, want := range []string{`id="expiry-7"`, `id="expiry-30" checked`, `max="` + last + `"`, "tokens expire within 30 days at most", `value="none" id="expiry-none" disabled`} {
		if !strings.Contains(body, want) {
			t.Errorf("the form lacks %s", want)
		}
	}
	if strings.Contains(body, `id="expiry-60"`) || strings.Contains(body, `id="expiry-90"`) {
		t.Errorf("the form offers presets past the lifetime")
	}
	csrf := w.csrf("/alpha/one/-/tokens")
	for name, f := range map[string]url.Values{
		"90 days":  {"expiry": {"90"}},
		"never":    {"expiry": {"none"}},
		"past max": {"expiry": {"custom"}, "expires": {time.Now().UTC().AddDate(0, 0, 32).Format(time.DateOnly)}},
	} {
		f.Set("csrf", csrf)
		f.Set("description", name)
		f.Set("scope", "repository:pull")
		resp, body := w.post("/alpha/one/-/tokens", f)
		if resp.StatusCode != 400 || !strings.Contains(body, `id="expires-error"`) || !strings.Contains(body, "30 days") {
			t.Errorf("%s: %d; want 400 saying tokens expire within 30 days", name, resp.StatusCode)
		}
	}
	// The last day allowed: the token stops at the end of the lifetime.
	resp, body := w.post("/alpha/one/-/tokens", url.Values{"csrf": {csrf}, "description": {"last day"}, "scope": {"repository:pull"}, "expiry": {"custom"}, "expires": {last}})
	if resp.StatusCode != 200 || secretRE.FindStringSubmatch(body) == nil || !strings.Contains(body, last+" ") {
		t.Errorf("the last day allowed: %d\n%s", resp.StatusCode, body)
	}
	// Rotating: a new expiry past the lifetime is refused; "unchanged"
	// for a token of the last day keeps it.
	code, b = srv.api("POST", "/api/repos/alpha/one/tokens/"+tok.ID+"/rotate", "alice", map[string]any{
		"expires_at": time.Now().Add(31 * 24 * time.Hour).UTC().Format(time.RFC3339)})
	if json.Unmarshal(b, &e); code != 400 || e.Field != "expires_at" || !strings.Contains(e.Error, "30 days") {
		t.Errorf("rotating to an expiry past the lifetime: %d %s", code, b)
	}
	_, body = w.get("/alpha/one/-/tokens/" + tok.ID + "/rotate")
	if !strings.Contains(body, `value="keep" id="expiry-keep" checked`) || strings.Contains(body, `id="expiry-90"`) ||
		!strings.Contains(body, `value="none" id="expiry-none" disabled`) {
		t.Errorf("the rotate confirmation offers what the lifetime does not allow:\n%s", body)
	}
	resp, body = w.post("/alpha/one/-/tokens/"+tok.ID+"/rotate", url.Values{"csrf": {csrf}, "expiry": {"90"}})
	if resp.StatusCode != 400 || !strings.Contains(body, `id="expires-error"`) || !strings.Contains(body, "30 days") {
		t.Errorf("rotating for 90 days on the page: %d", resp.StatusCode)
	}
	// A bad flag is a usage error.
	if out, code := s.cli("", "serve", "-max-token-lifetime", "soon"); code != 2 || !strings.Contains(out, "-max-token-lifetime") {
		t.Errorf("serve -max-token-lifetime soon: exit %d\n%s", code, out)
	}
}

// TestTokenCap: a user holds at most -max-tokens-per-user active tokens;
// then issuing is refused with a clear error until one is revoked.
// Rotating is allowed at the cap.
func TestTokenCap(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	s.addUser("alice")
	s.must("", "project add", "-owner", "alice", "alpha")
	s.must("", "repo add", "-private", "alpha/one")
	srv := s.start("-max-tokens-per-user", "3")
	var toks []apiTok
	for range 3 {
		toks = append(toks, srv.issue("alice", "alpha/one", "repository:pull"))
	}
	code, b := srv.api("POST", "/api/projects/alpha/tokens", "alice", map[string]any{"description": "fourth", "scopes": []string{"repository:pull"}})
	var e apiErrorBody
	if json.Unmarshal(b, &e); code != 409 || !strings.Contains(e.Error, "3 active tokens, the most this forge allows") {
		t.Errorf("a fourth token: %d %s; want 409 saying why", code, b)
	}
	w := srv.browser(t)
	w.login("alice")
	resp, body := w.post("/alpha/-/tokens", url.Values{"csrf": {w.csrf("/alpha/-/tokens")}, "description": {"fourth"}, "scope": {"repository:pull"}})
	if resp.StatusCode != 409 || !strings.Contains(body, "the most this forge allows") || !strings.Contains(body, `value="fourth"`) {
		t.Errorf("a fourth token on the page: %d", resp.StatusCode)
	}
	if code, b := srv.api("POST", "/api/repos/alpha/one/tokens/"+toks[0].ID+"/rotate", "alice", nil); code != 201 {
		t.Errorf("rotating at the cap: %d %s", code, b)
	}
	if code, _ := srv.api("DELETE", "/api/repos/alpha/one/tokens/"+toks[1].ID, "alice", nil); code != 204 {
		t.Fatal("revoking")
	}
	srv.issue("alice", "alpha", "repository:pull")
	// Requests at once cannot pass the cap together.
	if code, _ := srv.api("DELETE", "/api/repos/alpha/one/tokens/"+toks[2].ID, "alice", nil); code != 204 {
		t.Fatal("revoking")
	}
	csrf := w.csrf("/alpha/-/tokens")
	parallel(10, func(i int) {
		w.post("/alpha/-/tokens", url.Values{"csrf": {csrf}, "description": {fmt.Sprintf("race %d", i)}, "scope": {"repository:pull"}})
	})
	if n := len(srv.listAll("alice", "/api/user/tokens", "")); n != 3 {
		t.Errorf("10 requests at once with room for 1 left %d active tokens; want the cap, 3", n)
	}
}

// TestPagination: lists come in pages, newest first (issue 13), as the
// library reads them, through the API (?limit=&cursor=, next_cursor,
// ?state=, ?expiring_before=) and on the pages; a cursor the library did
// not make (one of the forge's own of before), or made for a list oldest
// first (as the forge listed before), is refused with a sentence that says
// to start again.
func TestPagination(t *testing.T) {
	t.Parallel()
	_, srv, _ := lifeSite(t)
	var toks []apiTok
	var ids []string // oldest first
	for range 5 {
		tok := srv.issue("bob", "alpha/one", "repository:pull")
		toks, ids = append(toks, tok), append(ids, tok.ID)
	}
	newest := slices.Clone(ids)
	slices.Reverse(newest)
	var got []string
	cursor, pages := "", 0
	for {
		q := "/api/repos/alpha/one/tokens?limit=2"
		if cursor != "" {
			q += "&cursor=" + url.QueryEscape(cursor)
		}
		code, b := srv.api("GET", q, "bob", nil)
		var l apiList
		if code != 200 || json.Unmarshal(b, &l) != nil || len(l.Tokens) > 2 {
			t.Fatalf("%s: %d %s", q, code, b)
		}
		pages++
		for _, tok := range l.Tokens {
			if tok.Owner == "bob" {
				got = append(got, tok.ID)
			}
		}
		if l.NextCursor == nil {
			break
		}
		cursor = *l.NextCursor
	}
	// lifeSite's project token of alice is listed too, last: 6 in 3 pages.
	if strings.Join(got, " ") != strings.Join(newest, " ") || pages != 3 {
		t.Errorf("pages of 2: %v in %d pages; want %v (newest first) in 3", got, pages, newest)
	}
	// The caller's own tokens, everywhere.
	var mine []string
	for _, tok := range srv.listAll("bob", "/api/user/tokens", "") {
		mine = append(mine, tok.ID)
	}
	if strings.Join(mine, " ") != strings.Join(newest, " ") {
		t.Errorf("GET /api/user/tokens: %v; want bob's 5, newest first: %v", mine, newest)
	}
	// The forge's cursor of before (base64 of "micros.uuid"), and the
	// library's cursor of the first page of 2 oldest first, which the
	// forge gave out when it listed oldest first: refused, not read as a
	// place in the list newest first.
	oldCursor := base64.RawURLEncoding.EncodeToString([]byte(fmt.Sprintf("%d.%s", time.Now().UnixMicro(), ids[2])))
	oldestFirst := oldestFirstCursor(t, toks, 2)
	for _, q := range []string{"?limit=0", "?limit=101", "?limit=x", "?cursor=nonsense", "?cursor=" + strings.Repeat("A", 200),
		"?cursor=" + oldCursor, "?limit=2&cursor=" + oldestFirst, "?all=yes", "?state=revoked", "?all=true&state=active", "?expiring_before=tomorrow"} {
		code, b := srv.api("GET", "/api/repos/alpha/one/tokens"+q, "bob", nil)
		var e apiErrorBody
		if json.Unmarshal(b, &e); code != 400 || e.Error == "" || strings.Contains(e.Error, "strconv") || strings.Contains(e.Error, "accesstoken") {
			t.Errorf("%s: %d %s; want 400 with a sentence", q, code, b)
		}
		if strings.Contains(q, "cursor=") && (e.Field != "cursor" || !strings.Contains(e.Error, "start again")) {
			t.Errorf("%s: %+v; want the cursor refused, saying to start again", q, e)
		}
	}
	// Filters: state and expiring_before.
	if code, b := srv.api("DELETE", "/api/user/tokens/"+ids[0], "bob", nil); code != 204 {
		t.Fatalf("revoking: %d %s", code, b)
	}
	soon := time.Now().Add(48 * time.Hour).UTC()
	code, b := srv.api("POST", "/api/repos/alpha/one/tokens", "bob", map[string]any{"description": "soon", "scopes": []string{"repository:pull"},
		"expires_at": soon.Format(time.RFC3339)})
	var expiring apiTok
	if code != 201 || json.Unmarshal(b, &expiring) != nil {
		t.Fatalf("issuing: %d %s", code, b)
	}
	for q, want := range map[string][]string{
		"?state=inactive": {ids[0]},
		"?state=all":      append([]string{expiring.ID}, newest...),
		"?state=active&expiring_before=" + url.QueryEscape(soon.Add(time.Hour).Format(time.RFC3339)): {expiring.ID},
		"?expiring_before=" + url.QueryEscape(soon.Add(-time.Hour).Format(time.RFC3339)):             nil,
	} {
		var got []string
		for _, tok := range srv.listAll("bob", "/api/user/tokens", q) {
			got = append(got, tok.ID)
		}
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("GET /api/user/tokens%s: %v; want %v", q, got, want)
		}
	}

	// The page: ?limit=2, newest first, "Older tokens", and back to the
	// first page.
	w := srv.browser(t)
	w.login("bob")
	rowRE := regexp.MustCompile(`<tr id="token-([0-9a-f-]+)"`)
	nextRE := regexp.MustCompile(`href="([^"]+)" id="active-next"`)
	var seen []string
	for path := "/alpha/one/-/tokens?limit=2"; path != ""; {
		resp, body := w.get(strings.ReplaceAll(path, "&amp;", "&"))
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d", path, resp.StatusCode)
		}
		section := body[strings.Index(body, `id="active"`):]
		if i := strings.Index(section, `id="inactive"`); i > 0 {
			section = section[:i]
		}
		for _, m := range rowRE.FindAllStringSubmatch(section, -1) {
			seen = append(seen, m[1])
		}
		path = ""
		if m := nextRE.FindStringSubmatch(section); m != nil {
			path = m[1]
			if !strings.Contains(section, `id="active-first"`) && len(seen) > 2 {
				t.Errorf("a page after the first has no link back to it")
			}
		}
	}
	var bobs []string
	for _, id := range seen {
		if slices.Contains(ids[1:], id) || id == expiring.ID {
			bobs = append(bobs, id)
		}
	}
	if want := append([]string{expiring.ID}, newest[:4]...); strings.Join(bobs, " ") != strings.Join(want, " ") {
		t.Errorf("the pages show %v; want %v (newest first)", bobs, want)
	}
	for _, c := range []string{oldCursor, oldestFirst} {
		if resp, body := w.get("/alpha/one/-/tokens?limit=2&cursor=" + c); resp.StatusCode != 400 || !strings.Contains(body, "go back to the first page") {
			t.Errorf("a page of an old cursor %s: %d", c, resp.StatusCode)
		}
	}
}

// oldestFirstCursor returns the cursor that the library gives for the
// first page of limit of toks, listed oldest first: what this forge gave
// out for that page when it listed oldest first.
func oldestFirstCursor(t *testing.T, toks []apiTok, limit int) string {
	t.Helper()
	store := memstore.New()
	for i, tok := range toks {
		rec := accesstoken.Record{Token: accesstoken.Token{
			ID: uuid.MustParse(tok.ID), Owner: tok.Owner, Description: tok.Description,
			Target:    accesstoken.RepositoryTarget(tok.Target.Project, tok.Target.Repository),
			Scopes:    accesstoken.NewScopeSet(accesstoken.ScopePull),
			CreatedAt: tok.CreatedAt.UTC(),
		}}
		rec.Digest[0] = byte(i + 1)
		if err := store.Insert(t.Context(), rec); err != nil {
			t.Fatal(err)
		}
	}
	m, err := accesstoken.New(store, accesstoken.InsecureAllowAll())
	if err != nil {
		t.Fatal(err)
	}
	p, err := m.PageAll(t.Context(), accesstoken.TokenFilter{}, accesstoken.ListOptions{Limit: limit, State: accesstoken.StateAll})
	if err != nil || p.Next == "" {
		t.Fatalf("a page of %d oldest first: %d tokens, next %q, %v", limit, len(p.Tokens), p.Next, err)
	}
	return p.Next
}

// TestAPIAnswers: 405 with Allow, 415, nosniff everywhere, errors as
// sentences, one token, the caller's own tokens.
func TestAPIAnswers(t *testing.T) {
	t.Parallel()
	_, srv, _ := lifeSite(t)
	tok := srv.issue("bob", "alpha/one", "repository:pull")
	proj := srv.issue("alice", "alpha", "repository:pull")
	send := func(method, path, ctype, body string, auth bool) (*http.Response, apiErrorBody) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		if auth {
			req.SetBasicAuth("bob", password("bob"))
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var e apiErrorBody
		json.NewDecoder(resp.Body).Decode(&e)
		if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s %s: no X-Content-Type-Options: nosniff", method, path)
		}
		return resp, e
	}
	for _, c := range []struct {
		method, path, allow string
	}{
		{"PUT", "/api/repos/alpha/one/tokens", "GET, HEAD, POST"},
		{"PATCH", "/api/projects/alpha/tokens/" + proj.ID, "DELETE, GET, HEAD"},
		{"GET", "/api/projects/alpha/tokens/" + proj.ID + "/rotate", "POST"},
		{"POST", "/api/user/tokens", "GET, HEAD"},
		{"DELETE", "/api/openapi.json", "GET, HEAD"},
	} {
		for _, auth := range []bool{true, false} {
			resp, e := send(c.method, c.path, "", "", auth)
			if resp.StatusCode != 405 || resp.Header.Get("Allow") != c.allow || !strings.Contains(e.Error, "is not allowed here") {
				t.Errorf("%s %s: %d, Allow %q, %q; want 405, Allow %q", c.method, c.path, resp.StatusCode, resp.Header.Get("Allow"), e.Error, c.allow)
			}
		}
	}
	body := `{"description": "typed", "scopes": ["repository:pull"]}`
	for _, ct := range []string{"", "text/plain", "application/x-www-form-urlencoded", "application/jsonx"} {
		if resp, e := send("POST", "/api/repos/alpha/one/tokens", ct, body, true); resp.StatusCode != 415 || !strings.Contains(e.Error, "application/json") {
			t.Errorf("Content-Type %q: %d %q; want 415", ct, resp.StatusCode, e.Error)
		}
	}
	if resp, _ := send("POST", "/api/repos/alpha/one/tokens", "application/json; charset=utf-8", body, true); resp.StatusCode != 201 {
		t.Errorf("application/json; charset=utf-8: %d; want 201", resp.StatusCode)
	}
	for _, c := range []struct{ method, path string }{{"GET", "/api/nope"}, {"GET", "/api/projects/alpha/tokens"}} {
		resp, e := send(c.method, c.path, "", "", false)
		if (resp.StatusCode != 404 && resp.StatusCode != 401) || e.Error == "" || !strings.HasSuffix(e.Error, ".") {
			t.Errorf("%s %s: %d %q", c.method, c.path, resp.StatusCode, e.Error)
		}
	}
	// Messages are sentences: no Go, no package prefixes.
	for name, b := range map[string]string{
		"no scopes":         `{"description": "x", "scopes": []}`,
		"scopes not a list": `{"description": "x", "scopes": "repository:pull"}`,
		"number":            `{"description": 5, "scopes": ["repository:pull"]}`,
		"array body":        `[]`,
		"empty body":        ``,
		"unknown scope":     `{"description": "x", "scopes": ["repository:admin"]}`,
	} {
		resp, e := send("POST", "/api/repos/alpha/one/tokens", "application/json", b, true)
		if resp.StatusCode != 400 || e.Error == "" || regexp.MustCompile(`accesstoken|json:|Go struct|issueBody|\[\]string`).MatchString(e.Error) ||
			!regexp.MustCompile(`^[A-Za-z].*\.$`).MatchString(e.Error) {
			t.Errorf("%s: %d %q; want 400 and a sentence", name, resp.StatusCode, e.Error)
		}
	}
	if _, e := send("POST", "/api/repos/alpha/one/tokens", "application/json", `{"description": "x", "scopes": ["repository:admin"]}`, true); !strings.Contains(e.Error, "repository:pull, repository:push and repository:build_status") {
		t.Errorf("an unknown scope does not list the valid ones: %q", e.Error)
	}

	// One token: under its target, under a repository its project token
	// covers, and among the caller's own.
	for _, c := range []struct {
		user, path string
		code       int
	}{
		{"bob", "/api/repos/alpha/one/tokens/" + tok.ID, 200},
		{"bob", "/api/repos/alpha/two/tokens/" + tok.ID, 404},
		{"bob", "/api/repos/alpha/one/tokens/" + proj.ID, 200}, // listed there, so shown
		{"bob", "/api/projects/alpha/tokens/" + proj.ID, 403},  // bob is no admin
		{"alice", "/api/projects/alpha/tokens/" + proj.ID, 200},
		{"bob", "/api/user/tokens/" + tok.ID, 200},
		{"bob", "/api/user/tokens/" + proj.ID, 404},
		{"bob", "/api/user/tokens/not-an-id", 404},
	} {
		code, b := srv.api("GET", c.path, c.user, nil)
		if code != c.code {
			t.Errorf("%s GET %s: %d %s; want %d", c.user, c.path, code, b, c.code)
		}
		var one apiTok
		if code == 200 && (json.Unmarshal(b, &one) != nil || one.State != "active" || one.Token != "") {
			t.Errorf("GET %s: %s", c.path, b)
		}
	}
	// The caller's own: revoke and rotate, even without access any more.
	if code, b := srv.api("POST", "/api/user/tokens/"+tok.ID+"/rotate", "bob", nil); code != 201 {
		t.Errorf("rotating one's own token: %d %s", code, b)
	}
	if code, _ := srv.api("DELETE", "/api/user/tokens/"+proj.ID, "bob", nil); code != 404 {
		t.Errorf("bob revoking alice's token through his own: %d; want 404", code)
	}
}

// TestOpenAPI: /api/openapi.json describes exactly the API's routes and
// methods, and the answers match its schemas.
func TestOpenAPI(t *testing.T) {
	t.Parallel()
	_, srv, _ := lifeSite(t)
	code, b := srv.api("GET", "/api/openapi.json", "", nil)
	var doc map[string]any
	if code != 200 || json.Unmarshal(b, &doc) != nil {
		t.Fatalf("GET /api/openapi.json: %d", code)
	}
	if v, _ := doc["openapi"].(string); !strings.HasPrefix(v, "3.") {
		t.Errorf("openapi %q; want 3.x", v)
	}
	paths := doc["paths"].(map[string]any)
	documented := map[string]bool{}
	for p, item := range paths {
		for m := range item.(map[string]any) {
			if m != "parameters" {
				documented[strings.ToUpper(m)+" "+p] = true
			}
		}
	}
	// The route table the server is built from, and the document, list
	// the same routes.
	routes := map[string]bool{}
	for _, rt := range (&api{}).routeTable() {
		routes[rt.method+" "+rt.path] = true
	}
	for r := range routes {
		if !documented[r] {
			t.Errorf("route %s is not in openapi.json", r)
		}
	}
	for r := range documented {
		if !routes[r] {
			t.Errorf("openapi.json has %s, which the server does not", r)
		}
	}

	// The running server: every documented method of every path answers
	// (neither 404 nor 405), and every other method is 405.
	tok := srv.issue("bob", "alpha/one", "repository:pull")
	concrete := strings.NewReplacer("{project}", "alpha", "{repo}", "one", "{id}", tok.ID, "{sha}", strings.Repeat("0", 40))
	for p := range paths {
		for _, m := range []string{"GET", "POST", "PUT", "PATCH", "DELETE"} {
			body := any(nil)
			if m == "POST" {
				body = map[string]any{"description": "openapi " + p, "scopes": []string{"repository:pull"}}
			}
			code, b := srv.api(m, concrete.Replace(p), "bob", body)
			switch {
			case documented[m+" "+p] && (code == 405 || code == 404 && strings.Contains(string(b), "no such API endpoint")):
				t.Errorf("%s %s (documented): %d %s", m, p, code, b)
			case !documented[m+" "+p] && code != 405:
				t.Errorf("%s %s (not documented): %d; want 405", m, p, code)
			}
		}
	}

	// Answers match the schemas.
	schemas := doc["components"].(map[string]any)["schemas"].(map[string]any)
	check := func(what, schema string, body []byte) {
		t.Helper()
		var v any
		if err := json.Unmarshal(body, &v); err != nil {
			t.Errorf("%s: %v", what, err)
			return
		}
		if err := validate(schemas, map[string]any{"$ref": "#/components/schemas/" + schema}, v, ""); err != nil {
			t.Errorf("%s does not match %s: %v\n%s", what, schema, err, body)
		}
	}
	code, b = srv.api("POST", "/api/repos/alpha/one/tokens", "bob", map[string]any{"description": "schema", "scopes": []string{"repository:pull"}, "expires_at": "2099-01-01T00:00:00Z"})
	check("issue", "IssuedToken", b)
	_, b = srv.api("GET", "/api/repos/alpha/one/tokens?all=true", "bob", nil)
	check("list", "TokenList", b)
	_, b = srv.api("GET", "/api/user/tokens?limit=1", "bob", nil)
	check("own list", "TokenList", b)
	_, b = srv.api("GET", "/api/user/tokens/"+tok.ID, "bob", nil)
	check("one token", "ListedToken", b)
	_, b = srv.api("GET", "/api/token-policy", "", nil)
	check("token policy", "TokenPolicy", b)
	_, b = srv.api("POST", "/api/repos/alpha/one/tokens", "bob", map[string]any{"description": "x", "scopes": []string{}})
	check("error", "Error", b)
	ci := srv.issue("bob", "alpha/one", "repository:pull", "repository:build_status")
	_, b = srv.apiAuth("GET", "/api/token", bearer(ci.Token), nil)
	check("the token itself", "ListedToken", b)
	sha := newGit(t).head(srv, "bob", ci.Token, "alpha/one")
	_, b = srv.apiAuth("POST", statusesPath("alpha/one", sha), bearer(ci.Token), map[string]any{"state": "success", "target_url": "https://ci.example.com/1"})
	check("a status", "Status", b)
	_, b = srv.apiAuth("GET", statusesPath("alpha/one", sha), bearer(ci.Token), nil)
	check("statuses", "StatusList", b)
	_, b = srv.apiAuth("POST", statusesPath("alpha/one", sha), bearer(ci.Token), map[string]any{"state": "done"})
	check("a refused status", "Error", b)
	if code != 201 {
		t.Errorf("issue: %d", code)
	}
	// A response missing a required field fails the check.
	if err := validate(schemas, map[string]any{"$ref": "#/components/schemas/TokenList"}, map[string]any{"tokens": []any{}}, ""); err == nil {
		t.Errorf("the schema check accepts a list without next_cursor")
	}
}

// validate checks v against the parts of JSON Schema openapi.json uses:
// $ref, type (one or a list, "null" included), properties, required,
// items, enum.
func validate(schemas map[string]any, s map[string]any, v any, at string) error {
	if ref, ok := s["$ref"].(string); ok {
		return validate(schemas, schemas[strings.TrimPrefix(ref, "#/components/schemas/")].(map[string]any), v, at)
	}
	if t, ok := s["type"]; ok {
		var types []string
		switch t := t.(type) {
		case string:
			types = []string{t}
		case []any:
			for _, x := range t {
				types = append(types, x.(string))
			}
		}
		ok := false
		for _, ty := range types {
			switch x := v.(type) {
			case nil:
				ok = ok || ty == "null"
			case string:
				ok = ok || ty == "string"
			case bool:
				ok = ok || ty == "boolean"
			case float64:
				ok = ok || ty == "number" || ty == "integer" && x == float64(int64(x))
			case []any:
				ok = ok || ty == "array"
			case map[string]any:
				ok = ok || ty == "object"
			}
		}
		if !ok {
			return errors.New(at + ": " + jsonString(v) + " is not " + strings.Join(types, " or "))
		}
	}
	if enum, ok := s["enum"].([]any); ok {
		found := false
		for _, e := range enum {
			found = found || e == v
		}
		if !found {
			return errors.New(at + ": " + jsonString(v) + " is not one of the enum")
		}
	}
	switch x := v.(type) {
	case map[string]any:
		for _, r := range asList(s["required"]) {
			if _, ok := x[r.(string)]; !ok {
				return errors.New(at + ": no " + r.(string))
			}
		}
		props, _ := s["properties"].(map[string]any)
		for k, pv := range x {
			if ps, ok := props[k].(map[string]any); ok {
				if err := validate(schemas, ps, pv, at+"."+k); err != nil {
					return err
				}
			}
		}
	case []any:
		if items, ok := s["items"].(map[string]any); ok {
			for i, it := range x {
				if err := validate(schemas, items, it, at+"["+string(rune('0'+i%10))+"]"); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func asList(v any) []any { l, _ := v.([]any); return l }

func jsonString(v any) string { b, _ := json.Marshal(v); return string(b) }

// TestActivity: a project's admins see its token activity: tokens
// issued, rotated and revoked (on the pages, the API and the command
// line) and uses refused, newest first and in pages; refusals of one
// kind are counted on one line; others do not see it; deleting the
// project deletes its activity.
func TestActivity(t *testing.T) {
	t.Parallel()
	s, srv, g := lifeSite(t)
	s.addUser("carol")
	s.must("", "project add", "-owner", "carol", "gamma")
	s.must("", "repo add", "-private", "gamma/x")
	tok := srv.issue("bob", "alpha/one", "repository:pull")
	rot := srv.issue("alice", "alpha", "repository:pull")
	if code, _ := srv.api("POST", "/api/projects/alpha/tokens/"+rot.ID+"/rotate", "alice", nil); code != 201 {
		t.Fatal("rotating")
	}
	if out, code := s.cli("", "token revoke", tok.ID); code != 0 {
		t.Fatalf("token revoke: %s", out)
	}
	other := srv.issue("carol", "gamma", "repository:pull") // for another project
	u := srv.tokenURL("bob", tok.Token, "alpha/one")
	for range 3 {
		g.mustNotClone(u, "revoked token", "revoked")
	}
	g.mustNotClone(srv.tokenURL("carol", other.Token, "alpha/one"), "gamma's token on alpha", "fatal")

	admin := srv.browser(t)
	admin.login("alice")
	var body string
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(200 * time.Millisecond) {
		_, body = admin.get("/alpha/-/activity")
		if strings.Count(body, "Use refused") >= 2 || time.Now().After(deadline) {
			break
		}
	}
	for _, want := range []string{
		"Issued", "Rotated", "Replaced by a new token", "Revoked", "(command line)",
		"To pull from alpha/one: the token was revoked.",
		"a token for another project", "To pull from alpha/one: the token is not for this repository.",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the activity lacks %q", want)
		}
	}
	if !regexp.MustCompile(`[3-9] times, the last at`).MatchString(body) {
		t.Errorf("the refusals of three clones with a revoked token are not counted on one line")
	}
	if strings.Contains(body, "carol") {
		t.Errorf("alpha's activity names the owner of another project's token")
	}
	rows := regexp.MustCompile(`<tr class="ev-(\w+)">\s*<td data-label="When" class="when">([^<]+)</td>`).FindAllStringSubmatch(body, -1)
	if len(rows) < 7 {
		t.Fatalf("%d rows of activity; want at least 7", len(rows))
	}
	for i := 1; i < len(rows); i++ {
		if rows[i][2] > rows[i-1][2] {
			t.Errorf("row %d (%s) is newer than row %d (%s): want newest first", i, rows[i][2], i-1, rows[i-1][2])
		}
	}
	// Pages.
	nextRE := regexp.MustCompile(`href="([^"]+)" id="activity-next"`)
	var kinds []string
	for path := "/alpha/-/activity?limit=2"; path != ""; {
		_, b := admin.get(strings.ReplaceAll(path, "&amp;", "&"))
		page := regexp.MustCompile(`<tr class="ev-(\w+)">`).FindAllStringSubmatch(b, -1)
		if len(page) > 2 {
			t.Fatalf("a page of 2 has %d rows", len(page))
		}
		for _, m := range page {
			kinds = append(kinds, m[1])
		}
		path = ""
		if m := nextRE.FindStringSubmatch(b); m != nil {
			path = m[1]
		}
	}
	if len(kinds) != len(rows) {
		t.Errorf("the pages of 2 show %d rows; the first page of 50, %d", len(kinds), len(rows))
	}
	// Who may see it.
	for user, code := range map[string]int{"bob": 403, "carol": 403} {
		b := srv.browser(t)
		b.login(user)
		if resp, _ := b.get("/alpha/-/activity"); resp.StatusCode != code {
			t.Errorf("%s: %d; want %d", user, resp.StatusCode, code)
		}
	}
	if resp, _ := srv.browser(t).get("/alpha/-/activity"); resp.StatusCode != 401 {
		t.Errorf("anonymous: %d; want 401", resp.StatusCode)
	}
	if resp, _ := admin.get("/alpha/-/activity?cursor=nonsense"); resp.StatusCode != 400 {
		t.Errorf("a bad cursor: %d; want 400", resp.StatusCode)
	}
	// Deleting a project deletes its activity: a new one of the name
	// starts with none.
	s.must("", "project delete", "gamma")
	s.must("", "project add", "-owner", "carol", "gamma")
	c := srv.browser(t)
	c.login("carol")
	if _, b := c.get("/gamma/-/activity"); !strings.Contains(b, `id="no-activity"`) {
		t.Errorf("a new project inherits the activity of a deleted one")
	}
}
