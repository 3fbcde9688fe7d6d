//go:build unix

package gitserve

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/forgekit/accesstoken"
	"github.com/forgekit/accesstoken/memstore"
)

const (
	zeros = "0000000000000000000000000000000000000000"
	oidA  = "1111111111111111111111111111111111111111"
)

// runHook runs the pre-receive hook of dir with refs on its standard
// input. pipes says whether it gets descriptors 3 and 4; serve, if set,
// gets the server's ends (it must close them). It returns the hook's
// exit code and standard error.
func runHook(t *testing.T, dir string, env []string, refs string, pipes bool, serve func(req io.Reader, resp io.WriteCloser)) (int, string) {
	t.Helper()
	cmd := exec.Command(filepath.Join(dir, "pre-receive"))
	cmd.Stdin = strings.NewReader(refs)
	cmd.Env = env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	var reqR, reqW, respR, respW *os.File
	if pipes {
		var err error
		if reqR, reqW, err = os.Pipe(); err != nil {
			t.Fatal(err)
		}
		if respR, respW, err = os.Pipe(); err != nil {
			t.Fatal(err)
		}
		cmd.ExtraFiles = []*os.File{reqW, respR}
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	if pipes {
		reqW.Close()
		respR.Close()
		go func() {
			defer close(done)
			serve(reqR, respW)
			reqR.Close()
		}()
	} else {
		close(done)
	}
	err := cmd.Wait()
	<-done
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, stderr.String()
}

// TestHookChannelFailsClosed: the pre-receive hook lets a push go on only
// when the server answered the request it sent with a verdict ending in
// "accept"; without the descriptors, with a server gone, with no answer or
// another one, it refuses.
func TestHookChannelFailsClosed(t *testing.T) {
	if _, err := exec.LookPath("sh"); err != nil {
		t.Fatal("no sh")
	}
	hooks, err := writeHookDir(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(hooks) })
	if fi, err := os.Stat(hooks); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("hook directory %v, %v; want private (0700)", fi.Mode(), err)
	}
	env := []string{"PATH=" + os.Getenv("PATH"), "GIT_QUARANTINE_PATH=/repo/objects/tmp_objdir-incoming-x",
		"GIT_OBJECT_DIRECTORY=/repo/objects/tmp_objdir-incoming-x", "GIT_ALTERNATE_OBJECT_DIRECTORIES=/repo/objects"}
	refs := zeros + " " + oidA + " refs/heads/main\n" + oidA + " " + zeros + " refs/heads/old\n"
	answer := func(verdict string) func(io.Reader, io.WriteCloser) {
		return func(r io.Reader, w io.WriteCloser) {
			defer w.Close()
			req, err := readHookRequest(r)
			if err != nil {
				t.Errorf("request: %v", err)
				return
			}
			if req.quarantine != "/repo/objects/tmp_objdir-incoming-x" || req.objects != req.quarantine || req.alternates != "/repo/objects" ||
				len(req.updates) != 2 || req.updates[0] != (refUpdate{zeros, oidA, "refs/heads/main"}) || req.updates[1] != (refUpdate{oidA, zeros, "refs/heads/old"}) {
				t.Errorf("request: %+v", req)
			}
			_, _ = io.WriteString(w, verdict)
		}
	}
	tests := []struct {
		name       string
		pipes      bool
		serve      func(io.Reader, io.WriteCloser)
		wantOK     bool
		wantStderr string
	}{
		{"accept", true, answer("say all good\naccept\n"), true, "all good\n"},
		{"refuse", true, answer("say no\nsay   token in x\n"), false, "no\n  token in x\n"},
		{"accept then more", true, answer("accept\nsay late\n"), false, "late\n"},
		{"accept then garbage", true, answer("accept\nACCEPT\n"), false, ""},
		{"accept without newline", true, answer("say x\naccept"), false, "x\n"},
		{"empty answer", true, answer(""), false, ""},
		{"server closes at once", true, func(r io.Reader, w io.WriteCloser) { w.Close() }, false, ""},
		{"server gone before the request", true, func(r io.Reader, w io.WriteCloser) {
			r.(*os.File).Close()
			w.Close()
		}, false, ""},
		{"no descriptors", false, nil, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stderr := runHook(t, hooks, env, refs, tt.pipes, tt.serve)
			if (code == 0) != tt.wantOK {
				t.Fatalf("exit code %d; want success %v (stderr %q)", code, tt.wantOK, stderr)
			}
			if tt.wantStderr != "" && stderr != tt.wantStderr {
				t.Errorf("stderr %q; want %q", stderr, tt.wantStderr)
			}
		})
	}
}

// TestHookDirRunsRepositoryHooks: the repository's pre-receive runs after
// an accept, with the same input and its own exit code; its other hooks
// are forwarded with their arguments; none of them has the pipes, and git's
// configuration is restored.
func TestHookDirRunsRepositoryHooks(t *testing.T) {
	orig, out := t.TempDir(), t.TempDir()
	write := func(name, body string, mode os.FileMode) {
		if err := os.WriteFile(filepath.Join(orig, name), []byte("#!/bin/sh\n"+body), mode); err != nil {
			t.Fatal(err)
		}
	}
	write("pre-receive", `cat > `+out+`/in; echo "$GIT_CONFIG_PARAMETERS" > `+out+`/params; ls /proc/$$/fd > `+out+`/fds; exit 3`, 0o755)
	write("update", `echo "$@|${GIT_CONFIG_PARAMETERS-unset}" > `+out+`/update`, 0o755)
	write("post-receive", `exit 0`, 0o644) // not executable: git would not run it
	hooks, err := writeHookDir(orig, []string{"GIT_CONFIG_PARAMETERS='user.name'='x y'"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(hooks) })
	names, _ := os.ReadDir(hooks)
	var got []string
	for _, n := range names {
		got = append(got, n.Name())
	}
	if strings.Join(got, " ") != "pre-receive update" {
		t.Errorf("hook directory holds %v; want pre-receive and update", got)
	}

	env := []string{"PATH=" + os.Getenv("PATH"), "GIT_CONFIG_PARAMETERS='user.name'='x y' 'core.hooksPath'='" + hooks + "'"}
	refs := zeros + " " + oidA + " refs/heads/main\n"
	code, _ := runHook(t, hooks, env, refs, true, func(r io.Reader, w io.WriteCloser) {
		_, _ = readHookRequest(r)
		_, _ = io.WriteString(w, "accept\n")
		w.Close()
	})
	if code != 3 {
		t.Errorf("exit code %d; want the repository hook's 3", code)
	}
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	if got := read("in"); got != refs {
		t.Errorf("the repository's pre-receive read %q; want %q", got, refs)
	}
	if got := read("params"); got != "'user.name'='x y'\n" {
		t.Errorf("the repository's pre-receive has GIT_CONFIG_PARAMETERS %q", got)
	}
	if fds := strings.Fields(read("fds")); contains(fds, "3") || contains(fds, "4") {
		t.Errorf("the repository's pre-receive has descriptors %v", fds)
	}

	cmd := exec.Command(filepath.Join(hooks, "update"), "refs/heads/main", zeros, oidA)
	cmd.Env = env
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("update: %v\n%s", err, out)
	}
	if got := read("update"); got != "refs/heads/main "+zeros+" "+oidA+"|'user.name'='x y'\n" {
		t.Errorf("update hook: %q", got)
	}

	// Without configuration of its own, the repository's hooks get none.
	hooks2, err := writeHookDir(orig, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(hooks2) })
	cmd = exec.Command(filepath.Join(hooks2, "update"), "a", "b", "c")
	cmd.Env = env
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("update: %v\n%s", err, out)
	}
	if got := read("update"); got != "a b c|unset\n" {
		t.Errorf("update hook: %q", got)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestHookDirNotExecutable: when the hook cannot be executed (a
// temporary directory mounted noexec), git would skip it and take the
// push unscanned: the push is refused instead, and nothing is left behind.
func TestHookDirNotExecutable(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	hookExecutable = func(string) bool { return false }
	t.Cleanup(func() { hookExecutable = isExecutable })
	if dir, err := writeHookDir(t.TempDir(), nil); err == nil || !strings.Contains(err.Error(), "cannot be executed") {
		t.Fatalf("writeHookDir = %q, %v; want an error", dir, err)
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("left behind: %v", left)
	}

	// isExecutable applies access(2), as git does.
	f := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(f, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if isExecutable(f) || isExecutable(filepath.Dir(f)) || isExecutable(f+"x") {
		t.Error("isExecutable of a file without x bits, a directory or nothing")
	}
	if err := os.Chmod(f, 0o700); err != nil {
		t.Fatal(err)
	}
	if !isExecutable(f) {
		t.Error("isExecutable of an executable file")
	}
}

func TestReadHookRequest(t *testing.T) {
	head := hookProtocol + "\nquarantine /q\nobjects /q\nalternates /a\n"
	tests := []struct {
		name, in string
		ok       bool
	}{
		{"good", head + zeros + " " + oidA + " refs/heads/main\nend\n", true},
		{"no refs", head + "\nend\n", true},
		{"sha256", head + strings.Repeat("0", 64) + " " + strings.Repeat("a", 64) + " refs/heads/x\nend\n", true},
		{"nothing", "", false},
		{"other protocol", "gitserve-pre-receive 2\n", false},
		{"cut short", head + zeros + " " + oidA + " refs/heads/main\n", false},
		{"missing field", hookProtocol + "\nquarantine /q\nalternates /a\nend\n", false},
		{"bad id", head + "xyz " + oidA + " refs/heads/main\nend\n", false},
		{"upper-case id", head + strings.ToUpper(strings.Repeat("a", 40)) + " " + oidA + " r\nend\n", false},
		{"no ref", head + zeros + " " + oidA + " \nend\n", false},
		{"extra field", head + zeros + " " + oidA + " a b\nend\n", false},
		{"line too long", head + strings.Repeat("x", 70<<10) + "\nend\n", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := readHookRequest(strings.NewReader(tt.in))
			if (err == nil) != tt.ok {
				t.Fatalf("err = %v; want ok %v", err, tt.ok)
			}
		})
	}
}

func TestQuarantineEnv(t *testing.T) {
	repo := t.TempDir()
	q := filepath.Join(repo, "objects", "tmp_objdir-incoming-abc")
	if err := os.MkdirAll(q, 0o755); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(t.TempDir(), "objects", "tmp_objdir-incoming-abc")
	if err := os.MkdirAll(other, 0o755); err != nil {
		t.Fatal(err)
	}
	odd := filepath.Join(repo, "objects", "pack")
	_ = os.MkdirAll(odd, 0o755)
	tests := []struct {
		name string
		req  hookRequest
		ok   bool
	}{
		{"quarantine", hookRequest{quarantine: q, objects: q, alternates: filepath.Join(repo, "objects")}, true},
		{"with ./", hookRequest{quarantine: repo + "/./objects/tmp_objdir-incoming-abc", objects: repo + "/./objects/tmp_objdir-incoming-abc", alternates: "x"}, true},
		{"none", hookRequest{}, true},
		{"objects without quarantine", hookRequest{objects: q}, false},
		{"another repository's", hookRequest{quarantine: other, objects: other, alternates: "x"}, false},
		{"not a quarantine", hookRequest{quarantine: odd, objects: odd, alternates: "x"}, false},
		{"relative", hookRequest{quarantine: "objects/tmp_objdir-incoming-abc", objects: "objects/tmp_objdir-incoming-abc", alternates: "x"}, false},
		{"objects elsewhere", hookRequest{quarantine: q, objects: other, alternates: "x"}, false},
		{"no alternates", hookRequest{quarantine: q, objects: q}, false},
		{"missing", hookRequest{quarantine: q + "x", objects: q + "x", alternates: "x"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, err := quarantineEnv([]string{"PATH=/bin"}, repo, &tt.req)
			if (err == nil) != tt.ok {
				t.Fatalf("err = %v; want ok %v", err, tt.ok)
			}
			if err == nil && tt.req.quarantine != "" && !contains(env, "GIT_OBJECT_DIRECTORY="+tt.req.quarantine) {
				t.Errorf("env %v", env)
			}
		})
	}
}

func TestDisplayPath(t *testing.T) {
	tok := "gat_" + strings.Repeat("a", 49)
	for in, want := range map[string]string{
		"ci/deploy.yml":              "ci/deploy.yml",
		"a b.txt":                    `"a b.txt"`,
		"x\ny":                       `"x\ny"`,
		"\x1b[31mred":                `"\x1b[31mred"`,
		"é.txt":                      `"\u00e9.txt"`,
		"keys/" + tok:                "keys/[REDACTED]",
		"keys/x" + tok + "y":         "keys/[REDACTED]y",
		"":                           `""`,
		strings.Repeat("a/", 150):    strings.Repeat("a/", 98) + "a...",
		"say accept\naccept\n":       `"say accept\naccept\n"`,
		`quote".txt`:                 `"quote\".txt"`,
		"acme_" + tok[4:] + "/x.txt": "[REDACTED]/x.txt",
	} {
		if got := displayPath(in); got != want {
			t.Errorf("displayPath(%q) = %q; want %q", in, got, want)
		}
	}
}

// FuzzReadHookRequest: the hook's requests never panic the parser, and
// what it accepts is well formed.
func FuzzReadHookRequest(f *testing.F) {
	f.Add(hookProtocol + "\nquarantine /q\nobjects /q\nalternates /a\n" + zeros + " " + oidA + " refs/heads/main\nend\n")
	f.Add(hookProtocol + "\nquarantine \nobjects \nalternates \n\nend\n")
	f.Add("")
	f.Fuzz(func(t *testing.T, in string) {
		req, err := readHookRequest(strings.NewReader(in))
		if err != nil {
			return
		}
		for _, u := range req.updates {
			if !isObjectID(u.old) || !isObjectID(u.new) || u.ref == "" || strings.ContainsAny(u.ref, " \n") {
				t.Fatalf("accepted %+v", u)
			}
		}
	})
}

// FuzzParseLogRaw: any output of git log never panics the parser, and
// places are only given for the blobs asked about.
func FuzzParseLogRaw(f *testing.F) {
	f.Add([]byte("commit " + oidA + "\x00\n:000000 100644 " + zeros + " " + oidA + " A\x00a.txt\x00commit " + zeros + "\x00"))
	f.Add([]byte(":100644 100644 " + oidA + " " + oidA + " M\x00"))
	f.Add([]byte("garbage"))
	f.Fuzz(func(t *testing.T, in []byte) {
		hist, _ := parseLogRaw(bufio.NewReader(bytes.NewReader(in)), map[string]bool{oidA: true})
		for blob, ps := range hist.places {
			if blob != oidA || len(ps) > maxLeakAttributions {
				t.Fatalf("places %v", hist.places)
			}
		}
	})
}

// FuzzBatchOutput: any output of git cat-file --batch never panics the
// reader, and findings are within objects it read.
func FuzzBatchOutput(f *testing.F) {
	m, err := accesstoken.New(memstore.New(), accesstoken.InsecureAllowAll())
	if err != nil {
		f.Fatal(err)
	}
	tok, _ := accesstoken.DefaultFormat().Generate()
	f.Add([]byte(oidA + " blob 5\nhello\n" + oidA + " commit 53\n" + tok.Reveal() + "\n"))
	f.Add([]byte(oidA + " missing\n"))
	f.Add([]byte(oidA + " blob 99999999999999999999\n"))
	f.Add([]byte(oidA + " blob -1\n"))
	f.Add([]byte(oidA + " tree 3\n\x00\x00\x00\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		o := &objectScan{maxSize: 1 << 10, scanner: newLockedScanner(m.NewScanner(accesstoken.ScanOptions{IncludeUnknown: true}))}
		var st scanStats
		found, _ := o.read(context.Background(), bufio.NewReader(bytes.NewReader(in)), &st)
		for _, of := range found {
			if of.f.Offset+of.f.Length > 1<<10 || of.secret.Reveal() != "" {
				t.Fatalf("finding %+v", of.f)
			}
		}
	})
}

// TestRevocationReasonFits: a reason naming a long path is cut to what
// the Manager records, so that revoking the leaked token is not refused.
func TestRevocationReasonFits(t *testing.T) {
	long := strings.Repeat("very/long/directory/", 30) + "ci.yml"
	leaks := []Leak{{Kind: accesstoken.FindingLive, Path: long}, {Kind: accesstoken.FindingLive, Path: "b"}}
	found := []objectFinding{{f: accesstoken.Finding{Kind: accesstoken.FindingLive}}}
	out := revocations(found, leaks, PushProtectionActor, func(l Leak) string { return "push protection: found in " + l.Path })
	if len(out) != 1 {
		t.Fatalf("%d revocations; want 1", len(out))
	}
	if n := utf8.RuneCountInString(out[0].Reason); n > accesstoken.MaxDescriptionLen || !strings.HasSuffix(out[0].Reason, "… (and 1 more)") {
		t.Fatalf("reason of %d characters: %q", n, out[0].Reason)
	}
}
