package httpauth_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/forgekit/accesstoken"
	"github.com/forgekit/accesstoken/gitreq"
	"github.com/forgekit/accesstoken/gitserve"
	"github.com/forgekit/accesstoken/httpauth"
)

// serveBackend calls the Backend directly with a forged Access: what the
// Backend does on its own, without the middleware's checks.
func serveBackend(t *testing.T, b http.Handler, acc *httpauth.Access, target string, body []byte) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest("POST", target, bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/x-git-receive-pack-request")
	if acc != nil {
		r = r.WithContext(httpauth.NewContext(r.Context(), acc))
	}
	w := httptest.NewRecorder()
	b.ServeHTTP(w, r)
	return w
}

func TestBackend(t *testing.T) {
	f := newForge(t)
	b := &gitserve.CGI{Root: f.root, Logger: f.logger()}
	pb := newPushBodies(f)
	one, two := f.repos[accesstoken.Resource{Project: "alpha", Repository: "one"}], f.repos[accesstoken.Resource{Project: "alpha", Repository: "two"}]
	alice := accesstoken.Token{Owner: "alice"}
	op := func(scope accesstoken.Scope) gitreq.Operation {
		return gitreq.Operation{Route: gitreq.RouteReceivePack, Path: "git-receive-pack", Scope: scope}
	}

	t.Run("http.receivepack=false unless authorised as a push", func(t *testing.T) {
		// Even if a bug let a receive-pack request through classified as
		// a pull, git http-backend itself refuses it.
		before := f.snapshot()
		w := serveBackend(t, b, &httpauth.Access{Repo: one, Operation: op(accesstoken.ScopePull), Token: alice, Owner: "alice"},
			"/alpha/one.git/git-receive-pack", pb.body("refs/heads/lock1"))
		if w.Code != http.StatusForbidden {
			t.Fatalf("status %d; want 403 from git http-backend\n%s", w.Code, w.Body)
		}
		w = serveBackend(t, b, &httpauth.Access{Repo: one, Operation: op(accesstoken.ScopePush)},
			"/alpha/one.git/git-receive-pack", pb.body("refs/heads/lock2"))
		if w.Code != http.StatusForbidden {
			t.Fatalf("anonymous push: status %d; want 403\n%s", w.Code, w.Body)
		}
		if f.snapshot() != before {
			t.Fatal("a repository was written to")
		}
	})

	t.Run("directory from the resolved identity, not the URL", func(t *testing.T) {
		w := serveBackend(t, b, &httpauth.Access{Repo: two, Operation: op(accesstoken.ScopePush), Token: alice, Owner: "alice"},
			"/alpha/one.git/git-receive-pack", pb.body("refs/heads/identity"))
		if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "unpack ok") {
			t.Fatalf("status %d\n%s", w.Code, w.Body)
		}
		if !strings.Contains(f.refs("alpha/two.git"), "refs/heads/identity ") || strings.Contains(f.refs("alpha/one.git"), "refs/heads/identity") {
			t.Fatal("the push did not land in the resolved repository (alpha/two) alone")
		}
	})

	t.Run("without the middleware", func(t *testing.T) {
		if w := serveBackend(t, b, nil, "/alpha/one.git/git-receive-pack", pb.body("refs/heads/x")); w.Code != 500 {
			t.Fatalf("status %d; want 500", w.Code)
		}
		bad := &httpauth.Repo{Resource: one.Resource, Dir: "../one.git"}
		if w := serveBackend(t, b, &httpauth.Access{Repo: bad, Operation: op(accesstoken.ScopePush), Token: alice, Owner: "alice"}, "/x/git-receive-pack", pb.body("refs/heads/x")); w.Code != 500 {
			t.Fatalf("unsafe Dir: status %d; want 500", w.Code)
		}
	})

	t.Run("routes git http-backend does not serve", func(t *testing.T) {
		for _, o := range []gitreq.Operation{
			{Route: gitreq.RouteLFSBatch, Path: "info/lfs/objects/batch", Scope: accesstoken.ScopePull},
			{Route: gitreq.RouteUploadArchive, Path: "git-upload-archive", Scope: accesstoken.ScopePull},
			{Route: gitreq.RouteDumb, Path: "HEAD", Scope: accesstoken.ScopePull},
			{Route: gitreq.RouteInfoRefs, Path: "info/refs", Scope: accesstoken.ScopePull},
		} {
			if w := serveBackend(t, b, &httpauth.Access{Repo: one, Operation: o, Token: alice, Owner: "alice"}, "/x", nil); w.Code != 404 {
				t.Errorf("%s: status %d; want 404", o.Route, w.Code)
			}
		}
	})

	t.Run("bad configuration", func(t *testing.T) {
		acc := &httpauth.Access{Repo: one, Operation: gitreq.Operation{Route: gitreq.RouteInfoRefs, Path: "info/refs", Service: "git-upload-pack", Scope: accesstoken.ScopePull}}
		for name, c := range map[string]*gitserve.CGI{
			"missing root": {Root: filepath.Join(f.root, "missing"), Logger: f.logger()},
			"no root":      {Logger: f.logger()},
			"missing git":  {Root: f.root, Git: filepath.Join(f.root, "no-git"), Logger: f.logger()},
		} {
			if w := serveBackend(t, c, acc, "/x", nil); w.Code != 500 {
				t.Errorf("%s: status %d; want 500", name, w.Code)
			}
		}
	})
}
