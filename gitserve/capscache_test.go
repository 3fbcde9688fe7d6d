package gitserve_test

import (
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/forgekit/accesstoken/gitserve"
)

// TestV2AdvertisementCached: the protocol v2 capability advertisement is
// served without running git once git has made it, until the
// repository's configuration changes; v0 advertisements (which hold the
// refs) always run git.
func TestV2AdvertisementCached(t *testing.T) {
	dir := t.TempDir()
	calls := filepath.Join(dir, "calls")
	git := filepath.Join(dir, "git")
	real, err := exec.LookPath("git")
	if err != nil {
		t.Fatal(err)
	}
	script := "#!/bin/sh\necho \"$*\" >> " + calls + "\nexec " + real + " \"$@\"\n"
	if err := os.WriteFile(git, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	s := newServer(t, nil, func(h *gitserve.Handler) { h.Git = git })
	n := func() int {
		b, _ := os.ReadFile(calls)
		return strings.Count(string(b), "--advertise-refs")
	}
	get := func(protocol string) string {
		t.Helper()
		req, _ := http.NewRequest("GET", s.srv.URL+"/p/pub.git/info/refs?service=git-upload-pack", nil)
		if protocol != "" {
			req.Header.Set("Git-Protocol", protocol)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/x-git-upload-pack-advertisement" {
			t.Fatalf("GET info/refs: %d %s %q", resp.StatusCode, resp.Header.Get("Content-Type"), b)
		}
		return string(b)
	}
	first := get("version=2")
	if !strings.Contains(first, "version 2") || !strings.Contains(first, "ls-refs=unborn") || n() != 1 {
		t.Fatalf("first v2 advertisement (%d runs of git): %q", n(), first)
	}
	if again := get("version=2"); again != first || n() != 1 {
		t.Fatalf("second v2 advertisement: %d runs of git; want 1 (cached); body %q", n(), again)
	}
	runGit(t, filepath.Join(s.root, "p", "pub.git"), "config", "lsrefs.unborn", "ignore")
	changed := get("version=2")
	if n() != 2 || strings.Contains(changed, "ls-refs=unborn") || !strings.Contains(changed, "ls-refs") {
		t.Fatalf("after a configuration change: %d runs of git; want 2; body %q", n(), changed)
	}
	v0 := get("")
	if !strings.Contains(v0, "# service=git-upload-pack") || !strings.Contains(v0, "refs/heads/main") || n() != 3 {
		t.Fatalf("v0 advertisement: %d runs; body %q", n(), v0)
	}
	get("")
	if n() != 4 {
		t.Fatalf("a second v0 advertisement did not run git (%d runs)", n())
	}
	// And a clone over v2 through the cache works.
	if out, err := s.clone("p/pub.git", ""); err != nil {
		t.Fatalf("clone: %v\n%s", err, out)
	}
}
