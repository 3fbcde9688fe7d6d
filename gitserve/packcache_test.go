package gitserve_test

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/forgekit/accesstoken/gitserve"
)

// countingGit returns a git that records its runs in a file, and a
// function that counts the runs whose arguments hold substr. Runs wait
// while holdGit holds them.
func countingGit(t *testing.T) (string, func(substr string) int) {
	t.Helper()
	dir := t.TempDir()
	calls := filepath.Join(dir, "calls")
	real, err := exec.LookPath("git")
	if err != nil {
		t.Fatal(err)
	}
	git := filepath.Join(dir, "git")
	// While the file "hold" exists beside it, a run waits for it to go
	// (holdGit).
	script := "#!/bin/sh\necho \"$*\" >> " + calls + "\nwhile [ -e " + filepath.Join(dir, "hold") + " ]; do sleep 0.01; done\nexec " + real + " \"$@\"\n"
	if err := os.WriteFile(git, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return git, func(substr string) int {
		b, _ := os.ReadFile(calls)
		n := 0
		for _, line := range strings.Split(string(b), "\n") {
			if strings.Contains(line, substr) {
				n++
			}
		}
		return n
	}
}

// holdGit makes the runs of countingGit's git wait, from now until the
// returned function is called.
func holdGit(t *testing.T, git string) (release func()) {
	t.Helper()
	hold := filepath.Join(filepath.Dir(git), "hold")
	if err := os.WriteFile(hold, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	return func() { os.Remove(hold) }
}

// fetchBody is a protocol v0 request for everything of commit, as git
// clone sends it.
func fetchBody(commit string) []byte {
	want := "want " + commit + " multi_ack_detailed no-done side-band-64k thin-pack ofs-delta agent=git/test\n"
	return []byte(pktLineT(want) + "0000" + pktLineT("done\n"))
}

func pktLineT(s string) string { return strings.ToLower(strings.TrimSpace(hex4(len(s)+4))) + s }

func hex4(n int) string {
	const digits = "0123456789abcdef"
	return string([]byte{digits[n>>12&15], digits[n>>8&15], digits[n>>4&15], digits[n&15]})
}

// postUploadPack sends body to the repository's git-upload-pack.
func postUploadPack(t *testing.T, s *server, repo string, body []byte) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest("POST", s.srv.URL+"/"+repo+"/git-upload-pack", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/x-git-upload-pack-request")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// TestPackCache: a second clone of an unchanged repository runs no git
// upload-pack; identical requests at once run it once; a push changes the
// answer; and a request for a commit that a force-push made unreachable
// is not answered from the cache.
func TestPackCache(t *testing.T) {
	git, runs := countingGit(t)
	var handler *gitserve.Handler
	s := newServer(t, nil, func(h *gitserve.Handler) { h.Git, handler = git, h })
	uploads := func() int { return runs("upload-pack --stateless-rpc ") - runs("--advertise-refs") }

	if out, err := s.clone("p/pub.git", ""); err != nil {
		t.Fatalf("clone: %v\n%s", err, out)
	}
	first := uploads()
	if first == 0 {
		t.Fatal("the first clone ran no upload-pack")
	}
	if out, err := s.clone("p/pub.git", ""); err != nil {
		t.Fatalf("second clone: %v\n%s", err, out)
	}
	if got := uploads(); got != first {
		t.Fatalf("the second clone ran upload-pack %d more times; want 0 (cached)", got-first)
	}

	// Ten identical requests at once: one upload-pack. git is held until
	// the first has started it and the nine others wait for its answer,
	// so they do overlap (without the wait for one in flight, each would
	// start its own, and the nine would never be waiting).
	repo := filepath.Join(s.root, "p", "pub.git")
	head := strings.TrimSpace(runGit(t, repo, "rev-parse", "main"))
	body := fetchBody(head)
	before := uploads()
	// (The wait for one in flight is bounded, 10 s; a slow machine must
	// not reach that bound while the requests arrive.)
	gitserve.SetPackCacheFollowWait(handler, 10*time.Minute)
	release := holdGit(t, git)
	var wg sync.WaitGroup
	results := make([][]byte, 10)
	for i := range results {
		wg.Go(func() {
			code, b := postUploadPack(t, s, "p/pub.git", body)
			if code != 200 {
				t.Errorf("request %d: status %d", i, code)
			}
			results[i] = b
		})
	}
	waitFor(t, "one upload-pack started and nine requests waiting for it", func() bool {
		return uploads()-before == 1 && gitserve.PackCacheFollowing(handler) == 9
	})
	release()
	wg.Wait()
	if got := uploads() - before; got != 1 {
		t.Errorf("10 identical requests at once ran upload-pack %d times; want 1", got)
	}
	for i := range results {
		if !bytes.Equal(results[i], results[0]) || !bytes.Contains(results[0], []byte("PACK")) {
			t.Fatalf("request %d got another answer, or no pack", i)
		}
	}

	// A push: the refs change, and a clone sees the new commit.
	work := filepath.Join(t.TempDir(), "w")
	runGit(t, "", "clone", "-q", repo, work)
	runGit(t, work, "commit", "-q", "--allow-empty", "-m", "second")
	runGit(t, work, "push", "-q", "origin", "main")
	second := strings.TrimSpace(runGit(t, work, "rev-parse", "HEAD"))
	dst := filepath.Join(t.TempDir(), "c")
	cmd := exec.Command("git", "clone", "-q", "http://"+s.addr()+"/p/pub.git", dst)
	cmd.Env = gitEnv(t.TempDir())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("clone after the push: %v\n%s", err, out)
	}
	if got := strings.TrimSpace(runGit(t, dst, "rev-parse", "HEAD")); got != second {
		t.Fatalf("clone after the push has %s; want the pushed %s", got, second)
	}

	// A force-push makes the pushed commit unreachable; a request for it
	// (the same body as one answered before) is not answered with a pack.
	code, b := postUploadPack(t, s, "p/pub.git", fetchBody(second))
	if code != 200 || !bytes.Contains(b, []byte("PACK")) {
		t.Fatalf("request for the pushed commit: %d", code)
	}
	runGit(t, work, "reset", "-q", "--hard", "HEAD~1")
	runGit(t, work, "push", "-q", "-f", "origin", "main")
	runGit(t, repo, "reflog", "expire", "--expire=now", "--all")
	runGit(t, repo, "gc", "-q", "--prune=now")
	code, b = postUploadPack(t, s, "p/pub.git", fetchBody(second))
	if bytes.Contains(b, []byte("PACK")) {
		t.Fatalf("a commit made unreachable was served (status %d): the cache answered for refs that changed", code)
	}
}

// TestPackCacheOff: with PackCache < 0, every request runs git.
func TestPackCacheOff(t *testing.T) {
	git, runs := countingGit(t)
	s := newServer(t, nil, func(h *gitserve.Handler) { h.Git = git; h.PackCache = -1 })
	for range 2 {
		if out, err := s.clone("p/pub.git", ""); err != nil {
			t.Fatalf("clone: %v\n%s", err, out)
		}
	}
	uploads := runs("upload-pack --stateless-rpc ") - runs("--advertise-refs")
	if uploads < 2 || uploads%2 != 0 {
		t.Fatalf("%d upload-pack runs for two clones; want each clone to run its own", uploads)
	}
}
