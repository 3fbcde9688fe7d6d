package gitserve_test

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/forgekit/accesstoken"
	"github.com/forgekit/accesstoken/gitserve"
	"github.com/forgekit/accesstoken/httpauth"
	"github.com/forgekit/accesstoken/memstore"
)

// BenchmarkPushProtection pushes 1,000 commits without tokens (each
// rewriting one text file of about 4 KB, over 50 files) with the real git
// client to an empty repository, through the token middleware and a
// Handler with push protection and one without, in alternation. It
// reports the medians of the ratios of their wall times
// ("x-unprotected") and of their CPU times, the client's and the
// server's git processes and the server's own ("x-unprotected-cpu":
// unlike wall time, it does not grow when other processes compete for
// the machine), the median times, and ns/op of the protected push. The
// cost of push protection is a ratio minus one. Run it with
//
//	go test -run='^$' -bench=PushProtection -benchtime=5x ./gitserve/
func BenchmarkPushProtection(b *testing.B) {
	if _, err := exec.LookPath("git"); err != nil {
		b.Skip("git not found")
	}
	src := commits1000(b)
	root := b.TempDir()
	m, err := accesstoken.New(memstore.New(), accesstoken.InsecureAllowAll())
	if err != nil {
		b.Fatal(err)
	}
	iss, err := m.Issue(b.Context(), accesstoken.IssueRequest{Owner: "alice", Description: "benchmark", Target: accesstoken.ProjectTarget("p"),
		Scopes: []accesstoken.Scope{accesstoken.ScopePull, accesstoken.ScopePush}})
	if err != nil {
		b.Fatal(err)
	}
	anyRepo := httpauth.ResolverFunc(func(_ *http.Request, p string) (*httpauth.Repo, error) {
		name, ok := strings.CutSuffix(strings.TrimPrefix(p, "p/"), ".git")
		if !ok || strings.Contains(name, "/") {
			return nil, httpauth.ErrRepoNotFound
		}
		return &httpauth.Repo{Resource: accesstoken.Resource{Project: "p", Repository: name}, Dir: p}, nil
	})
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	servers := map[bool]*httptest.Server{}
	for _, protect := range []bool{false, true} {
		h := &gitserve.Handler{Root: root, Logger: quiet}
		if protect {
			h.Protect = &gitserve.PushProtection{Manager: m}
		}
		auth, err := httpauth.Middleware(m, anyRepo)
		if err != nil {
			b.Fatal(err)
		}
		servers[protect] = httptest.NewServer(auth(h))
		b.Cleanup(servers[protect].Close)
	}
	n := 0
	push := func(protect bool) (time.Duration, int64) {
		n++
		name := fmt.Sprintf("r%d", n)
		tbGit(b, "", "init", "-q", "--bare", filepath.Join(root, "p", name+".git"))
		u := "http://alice:" + iss.Secret.Reveal() + "@" + servers[protect].Listener.Addr().String() + "/p/" + name + ".git"
		cmd := exec.Command("git", "push", "-q", u, "main")
		cmd.Dir, cmd.Env = src, gitEnv(b.TempDir())
		c0, t0 := cpuTime(), time.Now()
		out, err := cmd.CombinedOutput()
		d, c := time.Since(t0), cpuTime()-c0
		if err != nil {
			b.Fatalf("push (protected %v): %v\n%s", protect, err, out)
		}
		return d, c
	}
	push(true) // warm up: caches, the first connection
	push(false)
	b.ResetTimer()
	for b.Loop() {
		push(true)
	}
	b.StopTimer()
	var ratios, cpuRatios, plain, protected, plainCPU, protectedCPU []float64
	for range 9 {
		u, uc := push(false)
		p, pc := push(true)
		ratios = append(ratios, float64(p)/float64(u))
		cpuRatios = append(cpuRatios, float64(pc)/float64(uc))
		plain = append(plain, float64(u)/1e6)
		protected = append(protected, float64(p)/1e6)
		plainCPU = append(plainCPU, float64(uc)/1e6)
		protectedCPU = append(protectedCPU, float64(pc)/1e6)
	}
	median := func(v []float64) float64 { slices.Sort(v); return v[len(v)/2] }
	b.ReportMetric(median(ratios), "x-unprotected")
	b.ReportMetric(median(cpuRatios), "x-unprotected-cpu")
	b.ReportMetric(median(plain), "ms-unprotected")
	b.ReportMetric(median(protected), "ms-protected")
	b.ReportMetric(median(plainCPU), "cpu-ms-unprotected")
	b.ReportMetric(median(protectedCPU), "cpu-ms-protected")
}

// commits1000 returns a work tree with 1,000 commits on main, made with
// git fast-import.
func commits1000(tb testing.TB) string {
	tb.Helper()
	dir := filepath.Join(tb.TempDir(), "src")
	tbGit(tb, "", "init", "-q", "-b", "main", dir)
	var in bytes.Buffer
	line := strings.Repeat("some text of a source file, without any token in it; ", 2) + "\n"
	for i := range 1000 {
		var content strings.Builder
		for j := range 35 {
			fmt.Fprintf(&content, "%d.%d %s", i, j, line)
		}
		fmt.Fprintf(&in, "commit refs/heads/main\ncommitter t <t@example.invalid> %d +0000\ndata <<EOF\ncommit %d\nEOF\n", 1700000000+i, i)
		fmt.Fprintf(&in, "M 100644 inline src/file%02d.txt\ndata %d\n%s\n", i%50, content.Len(), content.String())
	}
	cmd := exec.Command("git", "fast-import", "--quiet")
	cmd.Dir, cmd.Env, cmd.Stdin = dir, gitEnv(tb.TempDir()), &in
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("git fast-import: %v\n%s", err, out)
	}
	tbGit(tb, dir, "reset", "-q", "--hard", "main")
	return dir
}

// tbGit runs git in dir, for benchmarks.
func tbGit(tb testing.TB, dir string, args ...string) {
	tb.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir, cmd.Env = dir, gitEnv(tb.TempDir())
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("git %v: %v\n%s", args, err, out)
	}
}
