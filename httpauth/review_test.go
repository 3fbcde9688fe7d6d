package httpauth_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/forgekit/accesstoken"
	"github.com/forgekit/accesstoken/httpauth"
	"github.com/forgekit/accesstoken/memstore"
)

// TestReviewUnderscoreHeaders: net/http/cgi maps '-' and '_' in header
// names alike (both become '_' in HTTP_*), so a header spelt with an
// underscore reaches git http-backend under the CGI name of the header
// the Backend validates or strips. git (2.34 and later) copies
// HTTP_GIT_PROTOCOL to GIT_PROTOCOL when the latter is unset, so
// "Git_Protocol" bypassed the Git-Protocol check.
func TestReviewUnderscoreHeaders(t *testing.T) {
	forBackends(t, func(t *testing.T, f *forge) {
		srv := f.server()
		addr := srv.Listener.Addr().String()
		tok := f.issue("alice", accesstoken.RepositoryTarget("alpha", "one"), accesstoken.ScopePull, accesstoken.ScopePush)
		envFile := f.envHook("alpha/one.git")
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
	})
}

// TestReviewMissingScopeLeak: a project token covers every repository of
// its project, including private ones its owner may not see. Refused for
// a missing scope, it must not answer 403 where a missing repository gets
// 404, or its holder can list the project's hidden repositories.
func TestReviewMissingScopeLeak(t *testing.T) {
	// alice manages project demo and may read demo/hello, not demo/secret.
	authz := accesstoken.AuthorizerFuncs{
		Access: func(_ context.Context, user string, res accesstoken.Resource, scope accesstoken.Scope) (bool, error) {
			return user == "alice" && res == accesstoken.Resource{Project: "demo", Repository: "hello"}, nil
		},
		Manage: func(_ context.Context, user string, t accesstoken.Target) (bool, error) {
			return user == "alice" && t.Project == "demo", nil
		},
	}
	m, err := accesstoken.New(memstore.New(), authz)
	if err != nil {
		t.Fatal(err)
	}
	issue := func(target accesstoken.Target) string {
		iss, err := m.Issue(context.Background(), accesstoken.IssueRequest{Description: nextDescription(), Owner: "alice", Target: target, Scopes: []accesstoken.Scope{accesstoken.ScopePull}})
		if err != nil {
			t.Fatal(err)
		}
		return iss.Secret.Reveal()
	}
	projTok, repoTok := issue(accesstoken.ProjectTarget("demo")), issue(accesstoken.RepositoryTarget("demo", "hello"))
	repos := map[string]*httpauth.Repo{
		"demo/hello.git":  {Resource: accesstoken.Resource{Project: "demo", Repository: "hello"}, Dir: "demo/hello.git"},
		"demo/secret.git": {Resource: accesstoken.Resource{Project: "demo", Repository: "secret"}, Dir: "demo/secret.git"},
	}
	res := httpauth.ResolverFunc(func(_ *http.Request, p string) (*httpauth.Repo, error) {
		if r := repos[p]; r != nil {
			return r, nil
		}
		return nil, httpauth.ErrRepoNotFound
	})
	h := httpauth.Middleware(m, res)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) }))
	for _, tc := range []struct {
		name, path, tok string
		want            int
	}{
		{"project token, push, missing repository", "/demo/nope.git/info/refs?service=git-receive-pack", projTok, 404},
		{"project token, push, hidden repository (same answer)", "/demo/secret.git/info/refs?service=git-receive-pack", projTok, 404},
		{"project token, pull, hidden repository", "/demo/secret.git/info/refs?service=git-upload-pack", projTok, 404},
		{"project token, push, readable repository", "/demo/hello.git/info/refs?service=git-receive-pack", projTok, 403},
		{"repository token, push, its repository", "/demo/hello.git/info/refs?service=git-receive-pack", repoTok, 403},
		{"control: project token, pull, readable repository", "/demo/hello.git/info/refs?service=git-upload-pack", projTok, 418},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", tc.path, nil)
			r.Header.Set("Authorization", "Bearer "+tc.tok)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tc.want {
				t.Fatalf("status %d; want %d\n%s", w.Code, tc.want, w.Body)
			}
			if w.Code == 404 && w.Body.String() != "repository not found\n" {
				t.Errorf("404 body %q differs from a missing repository's", w.Body)
			}
		})
	}
}
