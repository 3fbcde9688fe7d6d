package httpauth_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/forgekit/accesstoken"
)

// TestReviewUnderscoreHeaders: net/http/cgi maps '-' and '_' in header
// names alike (both become '_' in HTTP_*), so a header spelt with an
// underscore reaches git http-backend under the CGI name of the header
// the Backend validates or strips. git (2.34 and later) copies
// HTTP_GIT_PROTOCOL to GIT_PROTOCOL when the latter is unset, so
// "Git_Protocol" bypassed the Git-Protocol check.
func TestReviewUnderscoreHeaders(t *testing.T) {
	f := newForge(t)
	srv := f.server()
	addr := srv.Listener.Addr().String()
	tok := f.issue("alice", accesstoken.RepositoryTarget("alpha", "one"), accesstoken.ScopePull, accesstoken.ScopePush)
	envFile := filepath.Join(t.TempDir(), "hook-env")
	hook := filepath.Join(f.root, "alpha/one.git/hooks/pre-receive")
	writeFile(t, hook, "#!/bin/sh\nenv > '"+envFile+"'\ncat >/dev/null\nexit 0\n")
	if err := os.Chmod(hook, 0o755); err != nil {
		t.Fatal(err)
	}
	pb := newPushBodies(f)
	resp := rawRequest(t, addr, "POST", "/alpha/one.git/git-receive-pack", []string{
		basicAuth("x", tok),
		"Content-Type: application/x-git-receive-pack-request",
		"Git_Protocol: version=0:not allowed by gitProtocolOK",
		"Proxy_Authorization: Basic c2VjcmV0",
	}, pb.body("refs/heads/underscore"), false)
	if resp.status != 200 || !strings.Contains(resp.body, "unpack ok") {
		t.Fatalf("push: status %d\n%s", resp.status, resp.body)
	}
	env, err := os.ReadFile(envFile)
	if err != nil {
		t.Fatalf("the hook did not run: %v", err)
	}
	for _, bad := range []string{"not allowed by gitProtocolOK", "HTTP_GIT_PROTOCOL", "HTTP_PROXY_AUTHORIZATION", "c2VjcmV0"} {
		if strings.Contains(string(env), bad) {
			t.Errorf("the pre-receive hook's environment contains %q", bad)
		}
	}

	// And on info/refs: an unvalidated GIT_PROTOCOL reaches upload-pack.
	resp = rawRequest(t, addr, "GET", "/alpha/one.git/info/refs?service=git-upload-pack", []string{
		basicAuth("x", tok), "Git_Protocol: version=2:x y",
	}, nil, false)
	if resp.status != 200 {
		t.Fatalf("info/refs: status %d\n%s", resp.status, resp.body)
	}
	if strings.Contains(resp.body, "version 2") {
		t.Errorf("Git_Protocol with a value gitProtocolOK refuses switched git to protocol v2:\n%q", resp.body)
	}
}
