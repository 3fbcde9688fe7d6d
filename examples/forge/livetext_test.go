package main

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestLiveTokensInText: a text that people read and that holds a live
// token of the forge is refused, with a sentence at its field and never
// the token: a token's description (the API and the page), a revocation
// reason (the API, the page, the command line), and a commit status's
// context, description and target URL. A revoked token is no longer a
// secret, and passes.
func TestLiveTokensInText(t *testing.T) {
	t.Parallel()
	s, srv, g := lifeSite(t)
	live := srv.issue("bob", "alpha/one", "repository:pull", "repository:build_status")
	dead := srv.issue("bob", "alpha/one", "repository:pull")
	if code, _ := srv.api("DELETE", "/api/user/tokens/"+dead.ID, "bob", nil); code != 204 {
		t.Fatal("revoking")
	}
	victim := srv.issue("bob", "alpha/one", "repository:pull")
	refused := func(what string, code int, b []byte, field string) {
		t.Helper()
		var e apiErrorBody
		json.Unmarshal(b, &e)
		if code != 400 || e.Field != field || !strings.Contains(e.Error, "contains an access token") {
			t.Errorf("%s: %d %s; want 400 at %s saying it holds a token", what, code, b, field)
		}
		if strings.Contains(string(b), live.Token) || strings.Contains(string(b), live.Token[6:30]) {
			t.Errorf("%s: the reply shows the token", what)
		}
	}

	// Descriptions.
	for _, desc := range []string{live.Token, "CI " + live.Token, "token=" + live.Token + ";"} {
		code, b := srv.api("POST", "/api/repos/alpha/one/tokens", "bob", map[string]any{"description": desc, "scopes": []string{"repository:pull"}})
		refused("a description holding a live token", code, b, "description")
	}
	if code, b := srv.api("POST", "/api/repos/alpha/one/tokens", "bob", map[string]any{"description": "old " + dead.Token, "scopes": []string{"repository:pull"}}); code != 201 {
		t.Errorf("a description holding a revoked token: %d %s; want 201", code, b)
	}
	w := srv.browser(t)
	w.login("bob")
	resp, body := w.post("/alpha/one/-/tokens", url.Values{"csrf": {w.csrf("/alpha/one/-/tokens")}, "description": {live.Token}, "scope": {"repository:pull"}})
	if resp.StatusCode != 400 || !strings.Contains(body, `id="description-error"`) || !strings.Contains(body, "contains an access token") {
		t.Errorf("the page, a description holding a live token: %d", resp.StatusCode)
	}
	if strings.Contains(body, live.Token) {
		t.Errorf("the page shows the token again, in the form")
	}

	// Reasons.
	code, b := srv.api("DELETE", "/api/user/tokens/"+victim.ID, "bob", map[string]any{"reason": "replaced by " + live.Token})
	refused("a reason holding a live token", code, b, "reason")
	confirm := "/-/tokens/" + victim.ID + "/revoke"
	resp, body = w.post(confirm, url.Values{"csrf": {w.csrf(confirm)}, "reason": {live.Token}})
	if resp.StatusCode != 400 || !strings.Contains(body, `id="reason-error"`) || !strings.Contains(body, "contains an access token") || strings.Contains(body, live.Token) {
		t.Errorf("the page, a reason holding a live token: %d; want 400 with the error, and the field empty", resp.StatusCode)
	}
	if out, code := s.cli("", "token revoke", "-reason", live.Token, victim.ID); code != 2 || !strings.Contains(out, "contains an access token") || strings.Contains(out, live.Token) {
		t.Errorf("token revoke -reason with a live token: exit %d\n%s", code, out)
	}
	if l := find(srv.list("bob", "alpha/one", ""), victim.ID); l == nil {
		t.Errorf("a refused reason revoked the token")
	}

	// Commit statuses.
	sha := g.head(srv, "bob", live.Token, "alpha/one")
	for field, body := range map[string]map[string]any{
		"context":     {"state": "success", "context": live.Token},
		"description": {"state": "success", "description": "use " + live.Token},
		"target_url":  {"state": "success", "target_url": "https://ci.example.com/?token=" + live.Token},
	} {
		code, b := srv.apiAuth("POST", statusesPath("alpha/one", sha), bearer(live.Token), body)
		refused("a status's "+field+" holding a live token", code, b, field)
	}
	code, b = srv.apiAuth("GET", statusesPath("alpha/one", sha), func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+live.Token) }, nil)
	if code != 200 || strings.TrimSpace(string(b)) != "[]" {
		t.Errorf("the refused statuses were stored: %d %s", code, b)
	}
}
