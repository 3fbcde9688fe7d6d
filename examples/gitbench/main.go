// Command gitbench measures git over HTTP through the example forge (token
// checked, gitserve's Handler) against bare `git http-backend` (Go's
// net/http/cgi, no authentication at all) on the same repositories, side by
// side in one run: each figure is the median of pairs that alternate which
// server goes first, and the ratio is taken pair by pair, so that a machine
// whose speed drifts moves both alike.
//
//	go build -o /tmp/forge ./examples/forge
//	go run ./examples/gitbench -forge /tmp/forge [-pairs 9] [-only clone-1000]
//
// The repositories and the clients' clones live in a work directory in
// memory (/dev/shm) when there is one with 1 GiB free (a run took 103 MB
// at its peak): a client's git flushes the pack it received to disk
// (fsync) before a clone ends, work that is the same on both sides and
// that no server can change, and on a shared virtual disk it is the
// largest and least steady part of a small clone. -work /tmp puts it
// back in.
//
// Scenarios:
//
//	clone-1000   clone of a repository of 1,000 commits (about 0.5 MB packed)
//	noop-fetch   fetch into an up-to-date clone of it
//	clone-30mb   clone of a repository of one commit holding 30 MB that does not compress
//	push-1000    push of 1,000 new commits to an empty repository
//	push-protect the same push through the forge with push protection (on
//	             by default) against the forge without it (the "peer"
//	             column): what protection costs
//	serve-clone  the server's part of a clone of the 1,000-commit
//	             repository: the three requests of a protocol v2 clone
//	             (capabilities, ls-refs, fetch) sent by a Go client that
//	             reads the answers and does nothing with them, so the
//	             client's own work (index-pack, checkout) is left out
//	gitkit-1000  clone-1000 through gitkit (github.com/sosedoff/gitkit,
//	             which spawns git upload-pack for each request itself, no
//	             CGI; no token) against git http-backend: the peer the
//	             forge's clone target comes from, measured in the same run.
//	             gitkit serves protocol v0 only (it does not pass the
//	             Git-Protocol header on to git): a clone is two requests
//	             to it, three (protocol v2) to the others
//	vs-gitkit    clone-1000 through the forge against the same clone
//	             through gitkit
//	clones-64    64 clones of the 1,000-commit repository at once: the wall
//	             time of all of them, and how many failed
//	held-40      40 anonymous fetch requests that send their headers and no
//	             body, held open: git processes and forge memory (no peer)
//
// The forge compared with git http-backend runs with -push-protection=false
// (git http-backend scans nothing; push-protect measures the protection),
// and with -git-max-per-client 64 for clones-64 (its default,
// 32, would refuse half of them from one address with 503). Requests to the
// forge carry the token only after git's first request gets 401, as with
// any forge; the bare server's repositories are open to all.
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/forgekit/accesstoken/internal/proctest"
	"github.com/sosedoff/gitkit"
)

var (
	forgeBin   = flag.String("forge", "", "the example forge's binary (go build ./examples/forge)")
	pairs      = flag.Int("pairs", 9, "pairs of runs per scenario")
	only       = flag.String("only", "", "comma-separated scenarios to run (default: all)")
	keep       = flag.Bool("keep", false, "keep the work directory")
	workIn     = flag.String("work", defaultWork(), "the directory to make the work directory in")
	forgeFlags = flag.String("forge-flags", "", "more flags for the forge compared with git http-backend, such as -git-pack-cache 256")
	hold       = flag.Bool("hold", false, "set up, print the two servers' clone URLs of the 1,000-commit repository, and wait (for timing by hand) until interrupted")
)

func main() {
	flag.Parse()
	// gitkit logs every request through the log package; its lines
	// would bury the table.
	log.SetOutput(io.Discard)
	fatal := func(v any) { fmt.Fprintln(os.Stderr, "gitbench:", v); os.Exit(1) }
	if *forgeBin == "" {
		fatal("-forge is required (go build -o /tmp/forge ./examples/forge)")
	}
	work, err := os.MkdirTemp(*workIn, "gitbench")
	if err != nil {
		fatal(err)
	}
	b := &bench{out: os.Stdout, work: work, home: filepath.Join(work, "home"), data: filepath.Join(work, "data")}
	// Interrupted (Ctrl-C ends -hold) or terminated: stop the forges it
	// started, which would otherwise outlive it, and remove the work
	// directory.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		s := <-sig
		b.stopForges()
		if !*keep {
			os.RemoveAll(work)
		}
		fatal(fmt.Sprintf("stopped by %v", s))
	}()
	err = os.MkdirAll(b.home, 0o755)
	if err == nil {
		err = b.run()
	}
	if !*keep {
		os.RemoveAll(work)
	}
	if err != nil {
		fatal(err)
	}
}

// workSpace is the free space defaultWork asks of /dev/shm: a run took
// 103 MB at its peak (df sampled every 0.3 s: the 30 MB repository and
// its clone, 64 clones at once), and a container's /dev/shm is often
// 64 MB.
const workSpace = 1 << 30

// defaultWork returns /dev/shm if it is a directory with workSpace free,
// and the system's temporary directory otherwise.
func defaultWork() string {
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() && freeSpace("/dev/shm") >= workSpace {
		return "/dev/shm"
	}
	return os.TempDir()
}

type bench struct {
	out              io.Writer // the table
	work, home, data string
	forge            *exec.Cmd
	forgeURL         string
	protURL          string // a second forge on the same data, with push protection
	token            string
	peerURL          string
	gitkitURL        string // gitkit: git spawned per request, no CGI, no token

	mu     sync.Mutex
	forges []*exec.Cmd // started and not stopped
}

func (b *bench) want(s string) bool {
	return *only == "" || slices.Contains(strings.Split(*only, ","), s)
}

func (b *bench) run() error {
	gitVersion, _ := exec.Command("git", "version").Output()
	fmt.Fprintf(b.out, "gitbench: %s, %d pairs per scenario, work directory in %s\n", strings.TrimSpace(string(gitVersion)), *pairs, *workIn)
	// serve sets the forge up; the commands below work on it meanwhile.
	// The forge compared with bare git http-backend runs without push
	// protection, which git http-backend does not do; push-protect
	// compares a second forge on the same data with it on.
	var err error
	if b.forge, b.forgeURL, err = b.startForge(append([]string{"-git-max-per-client", "64", "-push-protection=false"}, strings.Fields(*forgeFlags)...)...); err != nil {
		return err
	}
	defer b.stopForge(b.forge)
	for _, args := range [][]string{
		{"user", "add", "alice"},
		{"project", "add", "-owner", "alice", "bench"},
		{"repo", "add", "-private", "bench/history"},
		{"repo", "add", "-private", "bench/big"},
		{"repo", "add", "bench/public"},
	} {
		if err := b.cli("a password for alice\n", args...); err != nil {
			return err
		}
	}
	for i := range *pairs + 1 {
		for _, side := range []string{"forge", "peer", "prot", "plain"} {
			if err := b.cli("", "repo", "add", "-private", fmt.Sprintf("bench/push-%s-%d", side, i)); err != nil {
				return err
			}
		}
	}
	repos := filepath.Join(b.data, "repos")
	if err := b.fastImport(filepath.Join(repos, "bench", "history.git"), history(1000)); err != nil {
		return err
	}
	if err := b.fastImport(filepath.Join(repos, "bench", "public.git"), history(10)); err != nil {
		return err
	}
	big := make([]byte, 30<<20)
	_, _ = rand.Read(big)
	if err := b.fastImport(filepath.Join(repos, "bench", "big.git"), oneFile(big)); err != nil {
		return err
	}

	gitPath, err := exec.LookPath("git")
	if err != nil {
		return err
	}
	peer := httptest.NewServer(&cgi.Handler{
		Path: gitPath, Args: []string{"http-backend"}, Dir: repos,
		Env: []string{"GIT_PROJECT_ROOT=" + repos, "GIT_HTTP_EXPORT_ALL=1", "HOME=" + b.home,
			"GIT_CONFIG_COUNT=1", "GIT_CONFIG_KEY_0=http.receivepack", "GIT_CONFIG_VALUE_0=true"},
	})
	defer peer.Close()
	b.peerURL = peer.URL
	gk, err := gitkitServer(repos, b.env())
	if err != nil {
		return err
	}
	defer gk.Close()
	b.gitkitURL = gk.URL
	if err := b.issueToken(); err != nil {
		return err
	}
	prot, protURL, err := b.startForge("-git-max-per-client", "64")
	if err != nil {
		return err
	}
	defer b.stopForge(prot)
	b.protURL = protURL

	if *hold {
		fmt.Fprintf(b.out, "forge: %s\npeer:  %s\n", b.forgeRepo("history"), b.peerRepo("history"))
		select {}
	}
	// A clone to push from and to fetch into.
	src := filepath.Join(b.work, "src")
	if err := b.git("", "clone", "-q", b.forgeRepo("history"), src); err != nil {
		return err
	}
	pushSrc := filepath.Join(b.work, "push-src")
	if err := b.git("", "init", "-q", "--bare", pushSrc); err != nil {
		return err
	}
	if err := b.fastImport(pushSrc, history(1000)); err != nil {
		return err
	}

	type scenario struct {
		name  string
		forge func(i int) error
		peer  func(i int) error
	}
	clone := func(u string) func(int) error {
		return func(int) error {
			dst := filepath.Join(b.work, "clone")
			defer os.RemoveAll(dst)
			return b.git("", "clone", "-q", u, dst)
		}
	}
	fetch := func(remote string) func(int) error {
		return func(int) error { return b.git(src, "fetch", "-q", remote) }
	}
	push := func(side string, u func(string) string) func(int) error {
		return func(i int) error {
			return b.git(pushSrc, "push", "-q", u(fmt.Sprintf("push-%s-%d", side, i)), "main")
		}
	}
	head, err := exec.Command("git", "--git-dir", filepath.Join(repos, "bench", "history.git"), "rev-parse", "main").Output()
	if err != nil {
		return err
	}
	serve := func(base string, auth bool) func(int) error {
		return func(int) error { return b.serveClone(base, auth, strings.TrimSpace(string(head))) }
	}
	scenarios := []scenario{
		{"clone-1000", clone(b.forgeRepo("history")), clone(b.peerRepo("history"))},
		{"serve-clone", serve(b.forgeURL+"/bench/history.git", true), serve(b.peerURL+"/bench/history.git", false)},
		// Here "forge" is gitkit against git http-backend: the peer the
		// 0.80x target comes from, measured in the same run.
		{"gitkit-1000", clone(b.gitkitRepo("history")), clone(b.peerRepo("history"))},
		// And the forge (token checked) against gitkit directly.
		{"vs-gitkit", clone(b.forgeRepo("history")), clone(b.gitkitRepo("history"))},
		{"noop-fetch", fetch(b.forgeRepo("history")), fetch(b.peerRepo("history"))},
		{"clone-30mb", clone(b.forgeRepo("big")), clone(b.peerRepo("big"))},
		{"push-1000", push("forge", b.forgeRepo), push("peer", b.peerRepo)},
		// Here "forge" is the forge with push protection, "peer" the same
		// forge without.
		{"push-protect", push("prot", b.protRepo), push("plain", b.forgeRepo)},
	}
	fmt.Fprintf(b.out, "%-12s %12s %12s %10s %22s\n", "scenario", "forge (ms)", "peer (ms)", "ratio", "ratio min..max")
	for _, s := range scenarios {
		if !b.want(s.name) {
			continue
		}
		// One run of each, not counted: caches, and the forge's 401 first.
		if err := s.forge(*pairs); err != nil {
			return fmt.Errorf("%s (forge, warm-up): %w", s.name, err)
		}
		if err := s.peer(*pairs); err != nil {
			return fmt.Errorf("%s (peer, warm-up): %w", s.name, err)
		}
		var fs, ps, rs []float64
		for i := range *pairs {
			var d [2]time.Duration
			for k := range 2 {
				side := (i + k) % 2 // alternate which goes first
				f := s.forge
				if side == 1 {
					f = s.peer
				}
				t0 := time.Now()
				if err := f(i); err != nil {
					return fmt.Errorf("%s (%s): %w", s.name, []string{"forge", "peer"}[side], err)
				}
				d[side] = time.Since(t0)
			}
			fs, ps = append(fs, ms(d[0])), append(ps, ms(d[1]))
			rs = append(rs, ms(d[0])/ms(d[1]))
		}
		fmt.Fprintf(b.out, "%-12s %12.1f %12.1f %9.2fx %11.2f..%.2f\n", s.name, median(fs), median(ps), median(rs), slices.Min(rs), slices.Max(rs))
	}
	if b.want("clones-64") {
		if err := b.concurrent(64); err != nil {
			return err
		}
	}
	if b.want("held-40") {
		if err := b.held(40); err != nil {
			return err
		}
	}
	return nil
}

// concurrent times n clones at once through each server, in alternating
// pairs.
func (b *bench) concurrent(n int) error {
	burst := func(u string) (time.Duration, int) {
		var wg sync.WaitGroup
		var mu sync.Mutex
		failed := 0
		t0 := time.Now()
		for i := range n {
			wg.Go(func() {
				dst := filepath.Join(b.work, fmt.Sprintf("burst-%d", i))
				defer os.RemoveAll(dst)
				if err := b.git("", "clone", "-q", u, dst); err != nil {
					mu.Lock()
					failed++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		return time.Since(t0), failed
	}
	runs := max(*pairs/3, 3)
	var fs, ps, rs []float64
	fails := [2]int{}
	for i := range runs {
		var d [2]time.Duration
		for k := range 2 {
			side := (i + k) % 2
			u := b.forgeRepo("history")
			if side == 1 {
				u = b.peerRepo("history")
			}
			var f int
			d[side], f = burst(u)
			fails[side] += f
		}
		fs, ps = append(fs, ms(d[0])), append(ps, ms(d[1]))
		rs = append(rs, ms(d[0])/ms(d[1]))
	}
	fmt.Fprintf(b.out, "%-12s %12.1f %12.1f %9.2fx %11.2f..%.2f   failed clones: forge %d, peer %d (of %d each)\n",
		fmt.Sprintf("clones-%d", n), median(fs), median(ps), median(rs), slices.Min(rs), slices.Max(rs), fails[0], fails[1], n*runs)
	return nil
}

// held opens n anonymous fetch requests to the forge that announce a body
// of a megabyte and send nothing, and reports the forge's git processes
// and memory while they are held.
func (b *bench) held(n int) error {
	pid := b.forge.Process.Pid
	before := rss(pid)
	host := strings.TrimPrefix(b.forgeURL, "http://")
	var conns []net.Conn
	for range n {
		c, err := net.Dial("tcp", host)
		if err != nil {
			return err
		}
		defer c.Close()
		fmt.Fprintf(c, "POST /bench/public.git/git-upload-pack HTTP/1.1\r\nHost: %s\r\nContent-Type: application/x-git-upload-pack-request\r\nContent-Length: 1000000\r\n\r\n", host)
		conns = append(conns, c)
	}
	// The forge has read them all once an anonymous request sent after
	// them is answered.
	resp, err := http.Get(b.forgeURL + "/bench/public.git/info/refs?service=git-upload-pack")
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	time.Sleep(time.Second) // let the forge settle before measuring
	after := rss(pid)
	procs := proctest.Git(pid)
	fmt.Fprintf(b.out, "%-12s %d connections held: %d git processes; forge resident memory %.1f MB before, %.1f MB while held (%+.1f MB)\n",
		fmt.Sprintf("held-%d", n), len(conns), len(procs), float64(before)/1e6, float64(after)/1e6, float64(after-before)/1e6)
	return nil
}

// serveClone sends the requests of a protocol v2 clone of commit to the
// repository at base, with the token when auth is set, and reads the
// answers whole.
func (b *bench) serveClone(base string, auth bool, commit string) error {
	pkt := func(s string) string { return fmt.Sprintf("%04x%s", len(s)+4, s) }
	agent := pkt("agent=git/2.39.5\n")
	reqs := []struct{ method, path, body string }{
		{"GET", "/info/refs?service=git-upload-pack", ""},
		{"POST", "/git-upload-pack", pkt("command=ls-refs\n") + agent + "0001" + pkt("peel\n") + pkt("symrefs\n") + pkt("unborn\n") + pkt("ref-prefix HEAD\n") + pkt("ref-prefix refs/heads/\n") + pkt("ref-prefix refs/tags/\n") + "0000"},
		{"POST", "/git-upload-pack", pkt("command=fetch\n") + agent + "0001" + pkt("thin-pack\n") + pkt("no-progress\n") + pkt("ofs-delta\n") + pkt("want "+commit+"\n") + pkt("done\n") + "0000"},
	}
	for _, q := range reqs {
		req, err := http.NewRequest(q.method, base+q.path, strings.NewReader(q.body))
		if err != nil {
			return err
		}
		req.Header.Set("Git-Protocol", "version=2")
		if q.method == "POST" {
			req.Header.Set("Content-Type", "application/x-git-upload-pack-request")
		}
		if auth {
			req.SetBasicAuth("alice", b.token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		n, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || n == 0 {
			return fmt.Errorf("%s %s: %d, %d bytes", q.method, q.path, resp.StatusCode, n)
		}
	}
	return nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func median(x []float64) float64 {
	s := slices.Clone(x)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func (b *bench) env() []string {
	return []string{"HOME=" + b.home, "PATH=" + os.Getenv("PATH"), "GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0",
		"GIT_AUTHOR_NAME=B", "GIT_AUTHOR_EMAIL=b@example.invalid", "GIT_COMMITTER_NAME=B", "GIT_COMMITTER_EMAIL=b@example.invalid"}
}

func (b *bench) git(dir string, args ...string) error {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = b.env()
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("git %s: %w\n%s", args[0], err, out)
	}
	return nil
}

func (b *bench) cli(stdin string, args ...string) error {
	cmd := exec.Command(*forgeBin, append([]string{"-data", b.data}, args...)...)
	cmd.Env = b.env()
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("forge %v: %w\n%s", args, err, out)
	}
	return nil
}

func (b *bench) fastImport(dir, stream string) error {
	cmd := exec.Command("git", "--git-dir", dir, "fast-import", "--quiet")
	cmd.Env = b.env()
	cmd.Stdin = strings.NewReader(stream)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("fast-import: %w\n%s", err, out)
	}
	return b.git("", "--git-dir", dir, "gc", "-q")
}

// history is a fast-import stream of n commits on main, each changing one
// of 50 files.
func history(n int) string {
	var s strings.Builder
	for i := 1; i <= n; i++ {
		content := fmt.Sprintf("line %d\n%s", i, strings.Repeat(fmt.Sprintf("commit %d filler text\n", i), 20))
		msg := fmt.Sprintf("commit %d", i)
		fmt.Fprintf(&s, "commit refs/heads/main\nmark :%d\ncommitter B <b@example.invalid> %d +0000\ndata %d\n%s\n", i, 1700000000+i, len(msg), msg)
		if i > 1 {
			fmt.Fprintf(&s, "from :%d\n", i-1)
		}
		fmt.Fprintf(&s, "M 644 inline file%d.txt\ndata %d\n%s\n", i%50, len(content), content)
	}
	return s.String()
}

// oneFile is a fast-import stream of one commit holding data.
func oneFile(data []byte) string {
	var s strings.Builder
	msg := "one big file"
	fmt.Fprintf(&s, "commit refs/heads/main\ncommitter B <b@example.invalid> 1700000000 +0000\ndata %d\n%s\n", len(msg), msg)
	fmt.Fprintf(&s, "M 644 inline big.bin\ndata %d\n", len(data))
	s.Write(data)
	s.WriteString("\n")
	return s.String()
}

func (b *bench) forgeRepo(name string) string {
	return "http://alice:" + b.token + "@" + strings.TrimPrefix(b.forgeURL, "http://") + "/bench/" + name + ".git"
}

func (b *bench) protRepo(name string) string {
	return "http://alice:" + b.token + "@" + strings.TrimPrefix(b.protURL, "http://") + "/bench/" + name + ".git"
}

func (b *bench) peerRepo(name string) string { return b.peerURL + "/bench/" + name + ".git" }

func (b *bench) gitkitRepo(name string) string { return b.gitkitURL + "/bench/" + name + ".git" }

// gitkitServer serves the repositories under root with gitkit as its README
// shows, authentication off: every repository is open to all, as with the
// bare git http-backend. gitkit runs git in its own process's
// environment: gitbench's is set to the one every other git of the
// benchmark gets (HOME, no system configuration) first.
func gitkitServer(root string, env []string) (*httptest.Server, error) {
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		if err := os.Setenv(k, v); err != nil {
			return nil, err
		}
	}
	g := gitkit.New(gitkit.Config{Dir: root})
	if err := g.Setup(); err != nil {
		return nil, err
	}
	return httptest.NewServer(g), nil
}

// startForge starts `forge serve` on the bench's data with the extra
// flags, and returns it and its URL once it listens.
func (b *bench) startForge(extra ...string) (*exec.Cmd, string, error) {
	args := append([]string{"-data", b.data, "serve", "-addr", "127.0.0.1:0", "-demo=false"}, extra...)
	cmd := exec.Command(*forgeBin, args...)
	cmd.Env = b.env()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, "", err
	}
	cmd.Stderr = io.Discard
	b.mu.Lock()
	if err := cmd.Start(); err != nil {
		b.mu.Unlock()
		return nil, "", err
	}
	b.forges = append(b.forges, cmd)
	b.mu.Unlock()
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if u, ok := strings.CutPrefix(sc.Text(), "forge listening on "); ok {
			go io.Copy(io.Discard, stdout)
			return cmd, strings.TrimSuffix(u, "/"), nil
		}
	}
	b.stopForge(cmd) // reaps it
	return nil, "", errors.New("the forge exited before it listened")
}

// stopForge stops a forge that startForge started.
func (b *bench) stopForge(cmd *exec.Cmd) {
	b.mu.Lock()
	i := slices.Index(b.forges, cmd)
	if i >= 0 {
		b.forges = slices.Delete(b.forges, i, i+1)
	}
	b.mu.Unlock()
	if i >= 0 {
		stop(cmd)
	}
}

// stopForges stops every forge still running.
func (b *bench) stopForges() {
	b.mu.Lock()
	forges := b.forges
	b.forges = nil
	b.mu.Unlock()
	for _, cmd := range forges {
		stop(cmd)
	}
}

// stop interrupts cmd and waits for it, killing it after a minute.
func stop(cmd *exec.Cmd) {
	_ = cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(time.Minute):
		cmd.Process.Kill()
	}
}

func (b *bench) issueToken() error {
	body, _ := json.Marshal(map[string]any{"description": "gitbench", "scopes": []string{"repository:pull", "repository:push"}})
	req, _ := http.NewRequestWithContext(context.Background(), "POST", b.forgeURL+"/api/projects/bench/tokens", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.SetBasicAuth("alice", "a password for alice")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var tok struct {
		Token string `json:"token"`
	}
	rb, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated || json.Unmarshal(rb, &tok) != nil || tok.Token == "" {
		return fmt.Errorf("issuing the token: %d %s", resp.StatusCode, rb)
	}
	b.token = tok.Token
	return nil
}

// rss returns the resident memory of process pid, in bytes (Linux).
func rss(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb * 1024
		}
	}
	return 0
}
