package httpauth_test

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/forgekit/accesstoken"
)

// TestGitFetchVariants: a shallow clone, a partial clone, and a fetch
// whose negotiation is large enough for git to gzip its request, with
// protocol v0 and v2, through each backend.
func TestGitFetchVariants(t *testing.T) {
	forBackends(t, func(t *testing.T, f *forge) {
		srv := f.server()
		tok := f.issue("alice", accesstoken.ProjectTarget("alpha"), pullScope, pushScope)
		u := basicURL(srv, "x", tok, "alpha/one.git")
		for _, v := range []string{"0", "2"} {
			c := []string{"-c", "protocol.version=" + v}
			t.Run("v"+v, func(t *testing.T) {
				shallow := filepath.Join(t.TempDir(), "shallow")
				if out, err := f.git("", append(c, "clone", "-q", "--depth", "1", u, shallow)...); err != nil {
					t.Fatalf("shallow clone: %v\n%s", err, out)
				}
				if got := strings.TrimSpace(f.mustGit(shallow, "rev-parse", "--is-shallow-repository")); got != "true" {
					t.Errorf("shallow clone is not shallow: %q", got)
				}

				partial := filepath.Join(t.TempDir(), "partial")
				out, err := f.git("", append(c, "clone", "-q", "--filter=blob:none", u, partial)...)
				if err != nil {
					t.Fatalf("partial clone: %v\n%s", err, out)
				}
				promisor, _ := f.git(partial, "config", "remote.origin.promisor")
				if f.backend == "direct" && strings.TrimSpace(promisor) != "true" {
					t.Errorf("partial clone not partial (the server ignored the filter): %q\n%s", promisor, out)
				}
				if got := strings.TrimSpace(f.mustGit(partial, "show", "HEAD:README")); got != "hello" {
					t.Errorf("partial clone: README = %q; want its blob fetched on demand", got)
				}

				// A clone with 60 commits of its own, fetching a new
				// commit of the server: its haves make a request over
				// 1 KiB, which git sends gzipped.
				full := filepath.Join(t.TempDir(), "full")
				f.mustGit("", append(c, "clone", "-q", u, full)...)
				for i := range 60 {
					f.mustGit(full, "commit", "-q", "--allow-empty", "-m", fmt.Sprintf("local %d", i))
				}
				w := f.workRepo("new on the server " + v)
				if out, err := f.git(w, append(c, "push", "-q", "-f", u, "HEAD:refs/heads/new"+v)...); err != nil {
					t.Fatalf("push: %v\n%s", err, out)
				}
				f.seenMu.Lock()
				f.seenEncoding = nil
				f.seenMu.Unlock()
				if out, err := f.git(full, append(c, "fetch", "-q", "origin", "refs/heads/new"+v)...); err != nil {
					t.Fatalf("fetch with many haves: %v\n%s", err, out)
				}
				f.seenMu.Lock()
				enc := slices.Clone(f.seenEncoding)
				f.seenMu.Unlock()
				if !slices.Contains(enc, "gzip") {
					t.Errorf("the fetch sent no gzipped request (encodings seen: %v)", enc)
				}
			})
		}
	})
}
