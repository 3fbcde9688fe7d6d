package main

import (
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// TestRevocationReasons: a revocation may say why, on the pages, through
// the API and on the command line; the reason is shown with the revoked
// token (its list, its page), in the API (revocation_reason) and in the
// project's activity. A reason the library refuses (misleading
// characters, too long) or the forge's stricter rule refuses gets a
// sentence at its field.
func TestRevocationReasons(t *testing.T) {
	t.Parallel()
	s, srv, _ := lifeSite(t)
	page := srv.issue("bob", "alpha/one", "repository:pull")
	viaAPI := srv.issue("bob", "alpha/one", "repository:pull")
	viaCLI := srv.issue("bob", "alpha/one", "repository:pull")
	none := srv.issue("bob", "alpha/one", "repository:pull")

	// The page: the confirmation has the field; a bad reason is shown
	// again with the error, and revokes nothing.
	b := srv.browser(t)
	b.login("bob")
	confirm := "/alpha/one/-/tokens/" + page.ID + "/revoke"
	resp, body := b.get(confirm)
	if resp.StatusCode != 200 || !strings.Contains(body, `name="reason"`) {
		t.Fatalf("the revoke confirmation has no reason field: %d\n%s", resp.StatusCode, body)
	}
	csrf := csrfRE.FindStringSubmatch(body)[1]
	for name, reason := range map[string]string{
		"right-to-left override": "leak\u202Eed",
		"private use":            "a\uE000b",
		"256 characters":         strings.Repeat("é", 256),
	} {
		resp, body := b.post(confirm, url.Values{"csrf": {csrf}, "reason": {reason}})
		if resp.StatusCode != 400 || !strings.Contains(body, `id="reason-error"`) || !strings.Contains(body, "The reason") {
			t.Errorf("%s: %d; want 400 with the error at the reason\n%s", name, resp.StatusCode, body)
		}
	}
	if l := find(srv.list("bob", "alpha/one", ""), page.ID); l == nil {
		t.Fatalf("a refused reason revoked the token")
	}
	resp, body = b.post(confirm, url.Values{"csrf": {csrf}, "reason": {"  moved to the new CI  "}})
	if resp.StatusCode != 200 || !strings.Contains(body, `id="notice"`) {
		t.Fatalf("revoking with a reason: %d\n%s", resp.StatusCode, body)
	}

	// The API: DELETE with {"reason"}, or no body.
	for name, c := range map[string]struct {
		ctype, body string
		code        int
		field       string
	}{
		"not JSON":       {"text/plain", `{"reason": "x"}`, 415, ""},
		"unknown field":  {"application/json", `{"why": "x"}`, 400, ""},
		"not a string":   {"application/json", `{"reason": 5}`, 400, "reason"},
		"bad JSON":       {"application/json", `{"reason": `, 400, ""},
		"zero-width":     {"application/json", `{"reason": "a\u200bb"}`, 400, "reason"},
		"two objects":    {"application/json", `{"reason": "a"} {}`, 400, ""},
		"control char":   {"application/json", `{"reason": "a\u0007b"}`, 400, "reason"},
		"line separator": {"application/json", `{"reason": "a\u2028b"}`, 400, "reason"},
	} {
		code, b := srv.apiAuth("DELETE", "/api/repos/alpha/one/tokens/"+viaAPI.ID, func(r *http.Request) {
			r.SetBasicAuth("bob", password("bob"))
			r.Header.Set("Content-Type", c.ctype)
		}, c.body)
		var e apiErrorBody
		if json.Unmarshal(b, &e); code != c.code || e.Error == "" || e.Field != c.field || strings.Contains(e.Error, "accesstoken") || strings.Contains(e.Error, "json:") {
			t.Errorf("%s: %d %s; want %d (field %q) with a sentence", name, code, b, c.code, c.field)
		}
	}
	if code, b := srv.api("DELETE", "/api/user/tokens/"+viaAPI.ID, "bob", map[string]any{"reason": "leaked in a CI log"}); code != 204 {
		t.Fatalf("DELETE with a reason: %d %s", code, b)
	}
	if code, b := srv.api("DELETE", "/api/repos/alpha/one/tokens/"+none.ID, "bob", nil); code != 204 {
		t.Fatalf("DELETE without a body: %d %s", code, b)
	}

	// The command line: -reason.
	if out, code := s.cli("", "token revoke", "-reason", "a\u202Eb", viaCLI.ID); code != 2 || !strings.Contains(out, "U+202E") {
		t.Errorf("token revoke -reason with an override: exit %d\n%s", code, out)
	}
	if out, code := s.cli("", "token revoke", viaCLI.ID, "-reason", "owner left the team"); code != 0 {
		t.Fatalf("token revoke -reason: exit %d\n%s", code, out)
	}

	want := map[string]string{page.ID: "moved to the new CI", viaAPI.ID: "leaked in a CI log", viaCLI.ID: "owner left the team", none.ID: ""}
	// The API shows them.
	var raw struct {
		Tokens []map[string]any `json:"tokens"`
	}
	code, body2 := srv.api("GET", "/api/repos/alpha/one/tokens?state=inactive", "bob", nil)
	if code != 200 || json.Unmarshal(body2, &raw) != nil {
		t.Fatalf("listing: %d %s", code, body2)
	}
	for _, tok := range raw.Tokens {
		id, _ := tok["id"].(string)
		w, ok := want[id]
		if !ok {
			continue
		}
		got, has := tok["revocation_reason"].(string)
		if got != w || (w == "" && has) {
			t.Errorf("token %s: revocation_reason %q (present %v); want %q", id, got, has, w)
		}
		delete(want, id)
	}
	if len(want) > 0 {
		t.Errorf("not listed as inactive: %v", want)
	}

	// The pages show them: the inactive list, the token's page.
	_, body = b.get("/alpha/one/-/tokens")
	for _, reason := range []string{"moved to the new CI", "leaked in a CI log", "owner left the team"} {
		if !strings.Contains(body, `<span class="reason">`+reason+`</span>`) {
			t.Errorf("the inactive tokens lack the reason %q", reason)
		}
	}
	if !regexp.MustCompile(`Revoked [0-9: -]+UTC by <span class="revoked-by">\(command line\)</span>`).MatchString(body) {
		t.Errorf("the inactive tokens do not say the command line revoked one")
	}
	if _, body := b.get("/-/tokens/" + page.ID); !strings.Contains(body, `<dd id="reason">moved to the new CI</dd>`) {
		t.Errorf("the token's page lacks its reason\n%s", body)
	}

	// The activity shows them (written within the request).
	admin := srv.browser(t)
	admin.login("alice")
	_, body = admin.get("/alpha/-/activity")
	for _, reason := range []string{"moved to the new CI", "leaked in a CI log", "owner left the team"} {
		if !strings.Contains(body, reason) {
			t.Errorf("the activity lacks the reason %q", reason)
		}
	}
}
