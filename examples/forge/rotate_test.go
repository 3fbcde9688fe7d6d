package main

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestRotateWithExpiry: rotating may give the new token a new expiry
// (Manager.RotateWithExpiry): through the API's optional expires_at, and
// on the confirmation page, which offers the presets, a date and never,
// and keeps the expiry unless told otherwise.
func TestRotateWithExpiry(t *testing.T) {
	t.Parallel()
	_, srv, _ := lifeSite(t)
	rotate := func(path string, body any) (int, apiTok, apiErrorBody) {
		t.Helper()
		code, b := srv.api("POST", path, "bob", body)
		var tok apiTok
		var e apiErrorBody
		json.Unmarshal(b, &tok)
		json.Unmarshal(b, &e)
		return code, tok, e
	}
	old := srv.issue("bob", "alpha/one", "repository:pull")
	// No body: the same expiry (none).
	code, next, _ := rotate("/api/repos/alpha/one/tokens/"+old.ID+"/rotate", nil)
	if code != 201 || next.ExpiresAt != nil || next.Token == "" {
		t.Fatalf("rotating without a body: %d %+v; want 201 and no expiry", code, next)
	}
	// A new expiry.
	exp := time.Now().Add(72 * time.Hour).UTC().Truncate(time.Second)
	code, next2, _ := rotate("/api/user/tokens/"+next.ID+"/rotate", map[string]any{"expires_at": exp.Format(time.RFC3339)})
	if code != 201 || next2.ExpiresAt == nil || !next2.ExpiresAt.Equal(exp) {
		t.Fatalf("rotating with expires_at: %d %+v; want 201 expiring at %v", code, next2, exp)
	}
	// null is as no expires_at: the same expiry.
	code, next3, _ := rotate("/api/user/tokens/"+next2.ID+"/rotate", map[string]any{"expires_at": nil})
	if code != 201 || next3.ExpiresAt == nil || !next3.ExpiresAt.Equal(exp) {
		t.Fatalf("rotating with expires_at null: %d %+v; want the same expiry, %v", code, next3, exp)
	}
	for name, body := range map[string]any{
		"in the past":   map[string]any{"expires_at": time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)},
		"not a time":    map[string]any{"expires_at": "tomorrow"},
		"not a string":  map[string]any{"expires_at": 5},
		"unknown field": map[string]any{"expires": "2030-01-01T00:00:00Z"},
		"year 10000":    map[string]any{"expires_at": "9999-12-31T23:59:59-01:00"},
	} {
		code, _, e := rotate("/api/user/tokens/"+next3.ID+"/rotate", body)
		if code != 400 || e.Error == "" || strings.Contains(e.Error, "accesstoken") || strings.Contains(e.Error, "json:") {
			t.Errorf("%s: %d %+v; want 400 with a sentence", name, code, e)
		}
		if name != "unknown field" && e.Field != "expires_at" {
			t.Errorf("%s: field %q; want expires_at", name, e.Field)
		}
	}
	if l := find(srv.list("bob", "alpha/one", ""), next3.ID); l == nil {
		t.Fatalf("a refused rotation rotated the token")
	}

	// The page: "Unchanged" is offered and chosen; 7 days, a date and
	// never work.
	b := srv.browser(t)
	b.login("bob")
	confirm := "/-/tokens/" + next3.ID + "/rotate"
	resp, body := b.get(confirm)
	if resp.StatusCode != 200 || !strings.Contains(body, `value="keep" id="expiry-keep" checked`) ||
		!strings.Contains(body, "Unchanged <span class=\"muted\">(until "+exp.Format("2006-01-02 15:04")+" UTC)</span>") ||
		!strings.Contains(body, `id="expiry-7"`) || !strings.Contains(body, `id="expiry-none"`) {
		t.Fatalf("the rotate confirmation does not offer the expiries: %d\n%s", resp.StatusCode, body)
	}
	csrf := csrfRE.FindStringSubmatch(body)[1]
	resp, body = b.post(confirm, url.Values{"csrf": {csrf}, "expiry": {"custom"}, "expires": {"yesterday"}})
	if resp.StatusCode != 400 || !strings.Contains(body, `id="expires-error"`) || !strings.Contains(body, `value="custom" id="expiry-custom" checked`) {
		t.Errorf("a bad date: %d; want 400 with the error at the expiry, the choice kept\n%s", resp.StatusCode, body)
	}
	mine := func(desc string) apiTok {
		t.Helper()
		for _, tok := range srv.listAll("bob", "/api/user/tokens", "") {
			if tok.Description == desc {
				return tok
			}
		}
		t.Fatalf("no active token %q", desc)
		return apiTok{}
	}
	rotatePage := func(id string, form url.Values) apiTok {
		t.Helper()
		form.Set("csrf", csrf)
		resp, body := b.post("/-/tokens/"+id+"/rotate", form)
		if resp.StatusCode != 200 || !strings.Contains(body, `id="secret"`) {
			t.Fatalf("rotating on the page with %v: %d\n%s", form, resp.StatusCode, body)
		}
		return mine(old.Description)
	}
	week := rotatePage(next3.ID, url.Values{"expiry": {"7"}})
	day := time.Now().UTC().AddDate(0, 0, 7).Format(time.DateOnly)
	if week.ExpiresAt == nil || week.ExpiresAt.Format(time.DateOnly) != day || week.ExpiresAt.Format("15:04:05") != "23:59:59" {
		t.Errorf("rotated for 7 days: expires %v; want the end of %s", week.ExpiresAt, day)
	}
	date := time.Now().UTC().AddDate(0, 2, 0).Format(time.DateOnly)
	dated := rotatePage(week.ID, url.Values{"expiry": {"custom"}, "expires": {date}})
	if dated.ExpiresAt == nil || dated.ExpiresAt.Format(time.DateOnly) != date {
		t.Errorf("rotated to a date: expires %v; want %s", dated.ExpiresAt, date)
	}
	kept := rotatePage(dated.ID, url.Values{}) // no choice: unchanged
	if kept.ExpiresAt == nil || !kept.ExpiresAt.Equal(*dated.ExpiresAt) {
		t.Errorf("rotated unchanged: expires %v; want %v", kept.ExpiresAt, dated.ExpiresAt)
	}
	never := rotatePage(kept.ID, url.Values{"expiry": {"none"}})
	if never.ExpiresAt != nil {
		t.Errorf("rotated to never: expires %v", never.ExpiresAt)
	}
}
