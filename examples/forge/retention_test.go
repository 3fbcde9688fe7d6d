package main

import (
	"strings"
	"testing"
	"time"
)

// waitOutput waits until the server has printed want, for as long as a
// loaded machine may take.
func (srv *server) waitOutput(want string) {
	srv.t.Helper()
	for deadline := time.Now().Add(2 * time.Minute); !strings.Contains(srv.output(), want); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			srv.t.Fatalf("the forge did not print %q:\n%s", want, srv.output())
		}
	}
}

// TestRetention: serve deletes, at start and then daily, the records of
// tokens revoked or expired longer ago than -token-retention
// (Manager.DeleteInactive) and the token activity as old; active tokens
// and what is more recent stay. 0 keeps everything.
func TestRetention(t *testing.T) {
	t.Parallel()
	s, srv, _ := lifeSite(t)
	old := srv.issue("bob", "alpha/one", "repository:pull")
	active := srv.issue("bob", "alpha/one", "repository:pull")
	if code, b := srv.api("DELETE", "/api/user/tokens/"+old.ID, "bob", map[string]any{"reason": "old"}); code != 204 {
		t.Fatalf("revoking: %d %s", code, b)
	}
	revokedAt := time.Now()
	srv.waitOutput("retention: deleted") // at start, with the default: nothing is that old
	srv.stop()

	all := func(srv *server) map[string]bool {
		ids := map[string]bool{}
		for _, tok := range srv.listAll("bob", "/api/user/tokens", "?state=all") {
			ids[tok.ID] = true
		}
		return ids
	}
	// A retention of an hour keeps the revocation of a moment ago, and
	// the activity.
	srv = s.start("-token-retention", "1h")
	srv.waitOutput("retention: deleted")
	if ids := all(srv); !ids[old.ID] || !ids[active.ID] {
		t.Errorf("with a retention of 1h, the tokens are %v; want both", ids)
	}
	admin := srv.browser(t)
	admin.login("alice")
	if _, body := admin.get("/alpha/-/activity"); !strings.Contains(body, "Revoked") {
		t.Errorf("with a retention of 1h, the activity lost the revocation")
	}
	srv.stop()

	// 0 keeps everything, and says nothing.
	time.Sleep(time.Until(revokedAt.Add(1100 * time.Millisecond)))
	srv = s.start("-token-retention", "0")
	if ids := all(srv); !ids[old.ID] {
		t.Errorf("with no retention, the revoked token is gone")
	}
	if strings.Contains(srv.output(), "retention:") {
		t.Errorf("with no retention, the forge deleted something:\n%s", srv.output())
	}
	srv.stop()

	// A second: the revoked token's record goes, the active one stays,
	// and so does the activity of before.
	srv = s.start("-token-retention", "1s")
	srv.waitOutput("retention: deleted")
	if !strings.Contains(srv.output(), "token_records=1") {
		t.Errorf("the log does not say one token record was deleted:\n%s", srv.output())
	}
	if ids := all(srv); ids[old.ID] || !ids[active.ID] {
		t.Errorf("with a retention of 1s, the tokens are %v; want the active one only", ids)
	}
	admin = srv.browser(t)
	admin.login("alice")
	if _, body := admin.get("/alpha/-/activity"); !strings.Contains(body, `id="no-activity"`) {
		t.Errorf("with a retention of 1s, the activity of before is still shown:\n%s", body)
	}
	for _, bad := range []string{"soon", "-1d", "1x"} {
		if out, code := s.cli("", "serve", "-token-retention", bad); code != 2 || !strings.Contains(out, "-token-retention") {
			t.Errorf("serve -token-retention %s: exit %d\n%s", bad, code, out)
		}
	}
}
