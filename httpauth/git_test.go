package httpauth_test

import (
	"crypto/rand"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/forgekit/accesstoken"
	"github.com/forgekit/accesstoken/httpauth"
)

// These tests drive the real git client against an httptest server with the
// middleware in front of git http-backend.

func basicURL(srv *httptest.Server, user, pass, path string) string {
	return "http://" + user + ":" + pass + "@" + srv.Listener.Addr().String() + "/" + path
}

func plainURL(srv *httptest.Server, path string) string {
	return srv.URL + "/" + path
}

// clone clones u and reports the error with git's output.
func (f *forge) clone(u string, extra ...string) (string, error) {
	dst := filepath.Join(f.t.TempDir(), "clone")
	args := append(extra, "clone", "-q", u, dst)
	return f.git("", args...)
}

func TestGitScopesAndTargets(t *testing.T) {
	forBackends(t, func(t *testing.T, f *forge) {
		srv := f.server()
		pull, push := accesstoken.ScopePull, accesstoken.ScopePush
		targets := []accesstoken.Target{
			accesstoken.ProjectTarget("alpha"),
			accesstoken.RepositoryTarget("alpha", "one"),
		}
		scopeSets := [][]accesstoken.Scope{{pull}, {push}, {pull, push}}
		repos := []accesstoken.Resource{
			{Project: "alpha", Repository: "one"},
			{Project: "alpha", Repository: "two"},
			{Project: "beta", Repository: "three"},
		}
		work := f.workRepo("scopes")
		n := 0
		for _, target := range targets {
			for _, scopes := range scopeSets {
				tok := f.issue("alice", target, scopes...)
				for _, res := range repos {
					covers := target.Covers(res)
					canPull := covers && slices.Contains(scopes, pull)
					canPush := covers && slices.Contains(scopes, push)
					path := res.Project + "/" + res.Repository + ".git"
					dir := path
					name := fmt.Sprintf("%s %v on %s", target, scopes, res)
					u := basicURL(srv, "x-token", tok, path)

					out, err := f.clone(u)
					if (err == nil) != canPull {
						t.Errorf("%s: clone: err = %v; want success %v\n%s", name, err, canPull, out)
					}
					if err != nil && strings.Contains(out, tok) {
						t.Errorf("%s: git output contains the token", name)
					}

					n++
					branch := fmt.Sprintf("refs/heads/t%d", n)
					out, err = f.git(work, "push", "-q", u, "HEAD:"+branch)
					if (err == nil) != canPush {
						t.Errorf("%s: push: err = %v; want success %v\n%s", name, err, canPush, out)
					}
					if got := strings.Contains(f.refs(dir), branch+" "); got != canPush {
						t.Errorf("%s: branch created = %v; want %v", name, got, canPush)
					}
					// The denial is the one the issue asks for: 403 where the
					// token covers the repository but lacks the scope, 404 (the
					// repositories are private) where it does not cover it.
					if err != nil {
						want := "403"
						if !covers {
							want = "not found"
						}
						if !strings.Contains(out, want) {
							t.Errorf("%s: push denied with %q; want %q in it", name, out, want)
						}
					}
				}
			}
		}
	})
}

func TestGitProtocolVersions(t *testing.T) {
	forBackends(t, func(t *testing.T, f *forge) {
		srv := f.server()
		tok := f.issue("alice", accesstoken.RepositoryTarget("alpha", "one"), accesstoken.ScopePull, accesstoken.ScopePush)
		pullOnly := f.issue("alice", accesstoken.RepositoryTarget("alpha", "one"), accesstoken.ScopePull)
		u := basicURL(srv, "x", tok, "alpha/one.git")
		for _, v := range []string{"0", "1", "2"} {
			t.Run("v"+v, func(t *testing.T) {
				f.seenMu.Lock()
				f.seenProtocol = nil
				f.seenMu.Unlock()
				c := []string{"-c", "protocol.version=" + v}
				dst := filepath.Join(t.TempDir(), "c")
				if out, err := f.git("", append(c, "clone", "-q", u, dst)...); err != nil {
					t.Fatalf("clone: %v\n%s", err, out)
				}
				w := f.workRepo("v" + v)
				if out, err := f.git(w, append(c, "push", "-q", u, "HEAD:refs/heads/proto"+v)...); err != nil {
					t.Fatalf("push: %v\n%s", err, out)
				}
				if out, err := f.git(dst, append(c, "fetch", "-q", "origin", "refs/heads/proto"+v)...); err != nil {
					t.Fatalf("fetch: %v\n%s", err, out)
				}
				// The Git-Protocol header changes nothing: a pull-only token
				// still cannot push.
				if out, err := f.git(w, append(c, "push", "-q", basicURL(srv, "x", pullOnly, "alpha/one.git"), "HEAD:refs/heads/no"+v)...); err == nil {
					t.Fatalf("push with a pull-only token succeeded\n%s", out)
				}
				f.seenMu.Lock()
				seen := strings.Join(f.seenProtocol, ",")
				f.seenMu.Unlock()
				if want := "version=2"; (v == "2") != strings.Contains(seen, want) {
					t.Errorf("Git-Protocol headers seen: %q (protocol.version=%s)", seen, v)
				}
			})
		}
	})
}

func TestGitCredentialForms(t *testing.T) {
	forBackends(t, func(t *testing.T, f *forge) {
		srv := f.server()
		tok := f.issue("alice", accesstoken.RepositoryTarget("alpha", "one"), accesstoken.ScopePull, accesstoken.ScopePush)
		pullOnly := f.issue("alice", accesstoken.RepositoryTarget("alpha", "one"), accesstoken.ScopePull)
		addr := srv.Listener.Addr().String()
		for _, tc := range []struct {
			name  string
			url   string
			extra []string
			push  bool
		}{
			{"basic, any user name", basicURL(srv, "anything", tok, "alpha/one.git"), nil, true},
			{"basic, owner as user name", basicURL(srv, "alice", tok, "alpha/one.git"), nil, true},
			{"token as user name, empty password", "http://" + tok + ":@" + addr + "/alpha/one.git", nil, true},
			{"bearer", plainURL(srv, "alpha/one.git"), []string{"-c", "http.extraHeader=Authorization: Bearer " + tok}, true},
			// Bearer goes through the same check as Basic: a pull-only token
			// cannot push (Gitea GHSA-cc8w-r4qh-3v65).
			{"bearer, pull-only", plainURL(srv, "alpha/one.git"), []string{"-c", "http.extraHeader=Authorization: Bearer " + pullOnly}, false},
			{"basic, pull-only", basicURL(srv, "x", pullOnly, "alpha/one.git"), nil, false},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if out, err := f.clone(tc.url, tc.extra...); err != nil {
					t.Fatalf("clone: %v\n%s", err, out)
				}
				w := f.workRepo(tc.name)
				ref := "refs/heads/" + strings.NewReplacer(" ", "-", ",", "").Replace(tc.name)
				out, err := f.git(w, append(tc.extra, "push", "-q", tc.url, "HEAD:"+ref)...)
				if (err == nil) != tc.push {
					t.Fatalf("push: err = %v; want success %v\n%s", err, tc.push, out)
				}
				if got := strings.Contains(f.refs("alpha/one.git"), ref+" "); got != tc.push {
					t.Errorf("ref created = %v; want %v", got, tc.push)
				}
			})
		}
	})
}

func TestGitOwnerUsername(t *testing.T) {
	forBackends(t, func(t *testing.T, f *forge) {
		srv := f.server(httpauth.WithOwnerUsername())
		tok := f.issue("alice", accesstoken.ProjectTarget("alpha"), accesstoken.ScopePull)
		addr := srv.Listener.Addr().String()
		path := "~alice/alpha/+git/one" // Launchpad-like layout
		if out, err := f.clone(basicURL(srv, "alice", tok, path)); err != nil {
			t.Fatalf("clone as the owner: %v\n%s", err, out)
		}
		if out, err := f.clone(basicURL(srv, "bob", tok, path)); err == nil || !strings.Contains(out, "Authentication failed") {
			t.Fatalf("clone with another user name: err = %v\n%s", err, out)
		}
		if out, err := f.clone("http://" + tok + ":@" + addr + "/" + path); err == nil {
			t.Fatalf("clone with the token as user name succeeded\n%s", out)
		}
		if out, err := f.clone(plainURL(srv, path), "-c", "http.extraHeader=Authorization: Bearer "+tok); err != nil {
			t.Fatalf("clone with Bearer: %v\n%s", err, out)
		}
	})
}

func TestGitLayouts(t *testing.T) {
	forBackends(t, func(t *testing.T, f *forge) {
		srv := f.server()
		tok := f.issue("alice", accesstoken.RepositoryTarget("alpha", "two"), accesstoken.ScopePull)
		for _, path := range []string{"alpha/two.git", "alpha/two", "~anyone/alpha/+git/two", "id/alpha-two"} {
			if out, err := f.clone(basicURL(srv, "x", tok, path)); err != nil {
				t.Errorf("clone %s: %v\n%s", path, err, out)
			}
		}
		// The same token on the sibling through every layout.
		for _, path := range []string{"alpha/one.git", "~anyone/alpha/+git/one", "id/alpha-one"} {
			if out, err := f.clone(basicURL(srv, "x", tok, path)); err == nil {
				t.Errorf("clone %s with a token for alpha/two succeeded", path)
			} else if !strings.Contains(out, "not found") {
				t.Errorf("clone %s: want not found\n%s", path, out)
			}
		}
	})
}

func TestGitAnonymous(t *testing.T) {
	forBackends(t, func(t *testing.T, f *forge) {
		srv := f.server()
		if out, err := f.clone(plainURL(srv, "alpha/public.git")); err != nil {
			t.Fatalf("anonymous clone of a public repository: %v\n%s", err, out)
		}
		before := f.snapshot()
		w := f.workRepo("anon")
		// git gets 401 with a challenge, has no credentials and cannot prompt.
		for _, path := range []string{"alpha/public.git", "alpha/one.git", "nope/nope.git"} {
			out, err := f.git(w, "push", "-q", plainURL(srv, path), "HEAD:refs/heads/anon")
			if err == nil || !strings.Contains(out, "could not read Username") {
				t.Errorf("anonymous push to %s: err = %v\n%s", path, err, out)
			}
		}
		for _, path := range []string{"alpha/one.git", "nope/nope.git"} {
			out, err := f.clone(plainURL(srv, path))
			if err == nil || !strings.Contains(out, "could not read Username") {
				t.Errorf("anonymous clone of %s: err = %v\n%s", path, err, out)
			}
		}
		if f.snapshot() != before {
			t.Error("anonymous requests changed a repository")
		}
		// A bad token on a public repository is refused, not downgraded to
		// anonymous. (Credentials in the URL are sent only after a 401, which
		// an anonymous pull of a public repository never gets; a header is
		// sent at once.)
		out, err := f.clone(plainURL(srv, "alpha/public.git"), "-c", "http.extraHeader=Authorization: Bearer gat_nonsense")
		if err == nil {
			t.Errorf("clone of a public repository with a bad token: err = %v\n%s", err, out)
		}
	})
}

func TestGitRevokedBetweenFetches(t *testing.T) {
	forBackends(t, func(t *testing.T, f *forge) {
		srv := f.server()
		iss, err := f.m.Issue(t.Context(), accesstoken.IssueRequest{
			Description: nextDescription(),
			Owner:       "alice", Target: accesstoken.ProjectTarget("alpha"), Scopes: []accesstoken.Scope{accesstoken.ScopePull},
		})
		if err != nil {
			t.Fatal(err)
		}
		u := basicURL(srv, "x", iss.Secret.Reveal(), "alpha/one.git")
		dst := filepath.Join(t.TempDir(), "c")
		f.mustGit("", "clone", "-q", u, dst)
		f.mustGit(dst, "fetch", "-q")
		if _, err := f.m.Revoke(t.Context(), "alice", iss.Token.ID); err != nil {
			t.Fatal(err)
		}
		out, err := f.git(dst, "fetch")
		if err == nil || !strings.Contains(out, "Authentication failed") {
			t.Fatalf("fetch after revocation: err = %v\n%s", err, out)
		}
		if strings.Contains(out, iss.Secret.Reveal()) {
			t.Error("git output shows the token")
		}
	})
}

func TestGitExpired(t *testing.T) {
	forBackends(t, func(t *testing.T, f *forge) {
		srv := f.server()
		tok := f.issueExp("alice", accesstoken.ProjectTarget("alpha"), f.clock.Now().Add(time.Hour), accesstoken.ScopePull)
		dst := filepath.Join(t.TempDir(), "c")
		f.mustGit("", "clone", "-q", basicURL(srv, "x", tok, "alpha/one.git"), dst)
		f.clock.Advance(time.Hour)
		out, err := f.git(dst, "fetch")
		if err == nil || !strings.Contains(out, "Authentication failed") {
			t.Fatalf("fetch after expiry: err = %v\n%s", err, out)
		}
	})
}

func TestGitOwnerLosesPermission(t *testing.T) {
	forBackends(t, func(t *testing.T, f *forge) {
		srv := f.server()
		tok := f.issue("alice", accesstoken.ProjectTarget("alpha"), accesstoken.ScopePull, accesstoken.ScopePush)
		u := basicURL(srv, "x", tok, "alpha/one.git")
		dst := filepath.Join(t.TempDir(), "c")
		f.mustGit("", "clone", "-q", u, dst)
		w := f.workRepo("perm")
		f.mustGit(w, "push", "-q", u, "HEAD:refs/heads/p1")

		// Down to read access: fetch works, push does not.
		f.setPerm("alice", "alpha", read)
		f.mustGit(dst, "fetch", "-q")
		if out, err := f.git(w, "push", "-q", u, "HEAD:refs/heads/p2"); err == nil {
			t.Fatalf("push after losing write access succeeded\n%s", out)
		}
		// No access: nothing works, and the private repository is not
		// confirmed to exist.
		f.setPerm("alice", "alpha", none)
		out, err := f.git(dst, "fetch")
		if err == nil || !strings.Contains(out, "not found") {
			t.Fatalf("fetch after losing access: err = %v\n%s", err, out)
		}
		if strings.Contains(f.refs("alpha/one.git"), "refs/heads/p2") {
			t.Error("p2 was pushed")
		}
		// bob has read access to alpha; his token cannot push there.
		bobTok := f.issueBob(t)
		if out, err := f.git(w, "push", "-q", basicURL(srv, "bob", bobTok, "alpha/one.git"), "HEAD:refs/heads/bob"); err == nil {
			t.Fatalf("bob pushed with read access only\n%s", out)
		}
	})
}

// issueBob issues bob a push token for alpha/one: bob may not manage tokens
// of alpha, so he is given write access for the issue and then loses it.
func (f *forge) issueBob(t *testing.T) string {
	f.setPerm("bob", "alpha", write)
	tok := f.issue("bob", accesstoken.RepositoryTarget("alpha", "one"), accesstoken.ScopePull, accesstoken.ScopePush)
	f.setPerm("bob", "alpha", read)
	return tok
}

func TestGitLargePush(t *testing.T) {
	forBackends(t, func(t *testing.T, f *forge) {
		srv := f.server()
		tok := f.issue("alice", accesstoken.RepositoryTarget("alpha", "one"), accesstoken.ScopePull, accesstoken.ScopePush)
		w := f.workRepo("large")
		data := make([]byte, 5<<20)
		if _, err := rand.Read(data); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(w, "random.bin"), data, 0o644); err != nil {
			t.Fatal(err)
		}
		f.mustGit(w, "add", "random.bin")
		f.mustGit(w, "commit", "-q", "-m", "5 MB of random data")
		u := basicURL(srv, "x", tok, "alpha/one.git")
		// GIT_CURL_VERBOSE would show "Transfer-Encoding: chunked": the pack is
		// over http.postBuffer (1 MiB), so git streams it chunked.
		out, err := f.git(w, "-c", "http.postBuffer=1048576", "push", u, "HEAD:refs/heads/large")
		if err != nil {
			t.Fatalf("5 MB push: %v\n%s\n%s", err, out, f.stderr.String())
		}
		head := strings.TrimSpace(f.mustGit(w, "rev-parse", "HEAD"))
		if !strings.Contains(f.refs("alpha/one.git"), "refs/heads/large "+head) {
			t.Fatalf("refs after push:\n%s", f.refs("alpha/one.git"))
		}
		dst := filepath.Join(t.TempDir(), "c")
		f.mustGit("", "clone", "-q", "-b", "large", u, dst)
		got, err := os.ReadFile(filepath.Join(dst, "random.bin"))
		if err != nil || len(got) != len(data) || string(got) != string(data) {
			t.Fatalf("cloned file differs (err %v, %d bytes)", err, len(got))
		}
	})
}

func TestGitHookDoesNotSeeToken(t *testing.T) {
	forBackends(t, func(t *testing.T, f *forge) {
		srv := f.server()
		tok := f.issue("alice", accesstoken.RepositoryTarget("alpha", "one"), accesstoken.ScopePush)
		envFile := f.envHook("alpha/one.git")
		w := f.workRepo("hook")
		for _, tc := range []struct {
			name  string
			url   string
			extra []string
		}{
			{"basic", basicURL(srv, "x", tok, "alpha/one.git"), []string{"-c", "http.extraHeader=Cookie: session=hunter2"}},
			{"bearer", plainURL(srv, "alpha/one.git"), []string{"-c", "http.extraHeader=Authorization: Bearer " + tok, "-c", "http.extraHeader=Cookie: session=hunter2"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				os.Remove(envFile)
				if out, err := f.git(w, append(tc.extra, "push", "-q", tc.url, "HEAD:refs/heads/hook-"+tc.name)...); err != nil {
					t.Fatalf("push: %v\n%s", err, out)
				}
				env, err := os.ReadFile(envFile)
				if err != nil {
					t.Fatalf("the hook did not run: %v", err)
				}
				s := string(env)
				for _, bad := range []string{tok, "HTTP_AUTHORIZATION", "HTTP_COOKIE", "hunter2", "Basic ", "Bearer "} {
					if strings.Contains(s, bad) {
						t.Errorf("the pre-receive hook's environment contains %q", strings.ReplaceAll(bad, tok, "<token>"))
					}
				}
				if !strings.Contains(s, "REMOTE_USER=alice\n") {
					t.Errorf("REMOTE_USER=alice missing from the hook's environment:\n%s", s)
				}
			})
		}
		f.seenMu.Lock()
		defer f.seenMu.Unlock()
		if len(f.seenAuth) > 0 {
			t.Errorf("the next handler saw credentials: %d headers", len(f.seenAuth))
		}
	})
}

func TestGitStoreFailure(t *testing.T) {
	forBackends(t, func(t *testing.T, f *forge) {
		m, err := accesstoken.New(failingStore{f.store}, f)
		if err != nil {
			t.Fatal(err)
		}
		tok := f.issue("alice", accesstoken.ProjectTarget("alpha"), accesstoken.ScopePull)
		f.m = m
		srv := f.server()
		out, err := f.clone(basicURL(srv, "x", tok, "alpha/one.git"))
		if err == nil || !strings.Contains(out, "503") {
			t.Fatalf("clone with the store down: err = %v\n%s", err, out)
		}
	})
}

// TestUnderscoreHeaders: net/http/cgi maps '-' and '_' in header
// names alike (both become '_' in HTTP_*), so a header spelt with an
// underscore reaches git http-backend under the CGI name of the header
// the Backend validates or strips. git (2.34 and later) copies
// HTTP_GIT_PROTOCOL to GIT_PROTOCOL when the latter is unset, so
// "Git_Protocol" bypassed the Git-Protocol check.
func TestUnderscoreHeaders(t *testing.T) {
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
