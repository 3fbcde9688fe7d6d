package gitserve

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"

	"github.com/forgekit/accesstoken/httpauth"
)

// The hook channel between a push's pre-receive hook and the server.
//
// The Handler starts git receive-pack with two pipes as its file
// descriptors 3 and 4, which git passes on to the hooks it runs. The
// pre-receive hook (preReceiveScript) writes its request on 3:
//
//	gitserve-pre-receive 1
//	quarantine $GIT_QUARANTINE_PATH
//	objects $GIT_OBJECT_DIRECTORY
//	alternates $GIT_ALTERNATE_OBJECT_DIRECTORIES
//	OLD NEW REF        (one line per ref update, as git gave them)
//	end
//
// and reads the verdict on 4: lines "say TEXT", which it prints on its
// standard error (git sends them to the pusher as "remote:" lines), and
// a last line "accept" if the push may go on. It fails, and so does the
// push, unless the verdict ends with "accept": when descriptor 3 or 4 is
// not open, when the server closes them without answering, when it
// answers anything else. The server answers one request per push.

// hookProtocol is the first line of a request.
const hookProtocol = "gitserve-pre-receive 1"

// receiveHooks are the hooks git receive-pack may run, which the hook
// directory of a push runs from the repository's own when it has them.
var receiveHooks = []string{"pre-receive", "update", "proc-receive", "post-receive", "post-update", "push-to-checkout", "reference-transaction"}

// preReceiveScript is the pre-receive hook of a protected push. %s is
// replaced by what runs the repository's own pre-receive hook after the
// scan accepted the push (or nothing).
const preReceiveScript = `#!/bin/sh
# Push protection of gitserve.Handler, for one push: asks the server that
# runs this push, on file descriptors 3 and 4, whether the objects of the
# push hold a live access token. Anything but an answer ending with
# "accept" refuses the push.
refs=
while IFS= read -r line; do
	refs="$refs$line
"
done
{
	printf 'gitserve-pre-receive 1\n'
	printf 'quarantine %%s\n' "$GIT_QUARANTINE_PATH"
	printf 'objects %%s\n' "$GIT_OBJECT_DIRECTORY"
	printf 'alternates %%s\n' "$GIT_ALTERNATE_OBJECT_DIRECTORIES"
	printf '%%s' "$refs"
	printf 'end\n'
} >&3 || exit 1
exec 3>&-
verdict=refuse
while IFS= read -r line; do
	case $line in
	'say '*) printf '%%s\n' "${line#say }" >&2; verdict=refuse ;;
	accept) verdict=accept ;;
	*) verdict=refuse ;;
	esac
done <&4
exec 4<&-
[ "$verdict" = accept ] || exit 1
%s`

// forwardScript runs one of the repository's hooks: %s is replaced by the
// restoration of git's configuration, then the hook's quoted path.
const forwardScript = `#!/bin/sh
# Runs the repository's own hook, without the pipes of push protection.
exec 3>&- 4<&-
%sexec %s "$@"
`

// hookExecutable is isExecutable, replaced by tests to play a noexec
// temporary directory.
var hookExecutable = isExecutable

// shellQuote quotes s for sh.
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// lastEnv returns the value of k in env, as exec would pass it (the last
// one).
func lastEnv(env []string, k string) (string, bool) {
	for i := len(env) - 1; i >= 0; i-- {
		if v, ok := strings.CutPrefix(env[i], k+"="); ok {
			return v, true
		}
	}
	return "", false
}

// writeHookDir writes the hook directory of a push to the repository at
// dir, whose own hooks are in origHooks, into a new private temporary
// directory, and returns it. env is receive-pack's environment, without
// the core.hooksPath of the push: the repository's hooks run with its
// GIT_CONFIG_PARAMETERS.
func writeHookDir(origHooks string, env []string) (string, error) {
	restore := "unset GIT_CONFIG_PARAMETERS\n"
	if v, ok := lastEnv(env, "GIT_CONFIG_PARAMETERS"); ok {
		restore = "GIT_CONFIG_PARAMETERS=" + shellQuote(v) + "\nexport GIT_CONFIG_PARAMETERS\n"
	}
	tmp, err := os.MkdirTemp("", "gitserve-hooks-")
	if err != nil {
		return "", err
	}
	fail := func(err error) (string, error) {
		os.RemoveAll(tmp)
		return "", err
	}
	for _, name := range receiveHooks {
		orig := filepath.Join(origHooks, name)
		has := isExecutable(orig)
		var script string
		switch {
		case name == "pre-receive" && has:
			script = fmt.Sprintf(preReceiveScript, restore+"printf '%s' \"$refs\" | "+shellQuote(orig)+"\n")
		case name == "pre-receive":
			script = fmt.Sprintf(preReceiveScript, "")
		case has:
			script = fmt.Sprintf(forwardScript, restore, shellQuote(orig))
		default:
			continue
		}
		path := filepath.Join(tmp, name)
		if err := os.WriteFile(path, []byte(script), 0o700); err != nil {
			return fail(err)
		}
		if !hookExecutable(path) {
			// git would ignore the hook and accept the push unscanned.
			return fail(fmt.Errorf("gitserve: push protection: the hook %s cannot be executed (is the temporary directory mounted noexec? set TMPDIR)", path))
		}
	}
	return tmp, nil
}

// repoHooksDir returns the directory of the repository's own hooks, where
// git would look for them: its core.hooksPath, or its hooks directory. It
// asks git once per repository, and again when git's configuration files
// change (the files the v2 advertisement cache watches).
func (p *PushProtection) repoHooksDir(ctx context.Context, h *Handler, dir string, env []string) (string, error) {
	stamp := h.caps.stamp(dir)
	p.hooksMu.Lock()
	c, ok := p.hooks[dir]
	p.hooksMu.Unlock()
	if ok && c.stamp == stamp {
		return c.path, nil
	}
	path, err := gitHooksDir(ctx, h.git, dir, env)
	if err != nil {
		return "", err
	}
	p.hooksMu.Lock()
	if p.hooks == nil || len(p.hooks) >= maxCapsEntries {
		p.hooks = map[string]hooksPath{}
	}
	p.hooks[dir] = hooksPath{stamp, path}
	p.hooksMu.Unlock()
	return path, nil
}

// gitHooksDir asks git rev-parse --git-path hooks.
func gitHooksDir(ctx context.Context, git, dir string, env []string) (string, error) {
	cmd := exec.CommandContext(ctx, git, "rev-parse", "--git-path", "hooks")
	cmd.Dir, cmd.Env = dir, env
	stderr := &stderrTail{}
	cmd.Stderr = stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("gitserve: push protection: git rev-parse --git-path hooks: %w: %s", err, stderr)
	}
	p := strings.TrimSuffix(string(out), "\n")
	if p == "" || strings.ContainsAny(p, "\n\x00") {
		return "", errors.New("gitserve: push protection: git rev-parse --git-path hooks: unexpected output")
	}
	if !filepath.IsAbs(p) {
		p = filepath.Join(dir, p)
	}
	return p, nil
}

// protectPush returns the preparation of git receive-pack for a push that
// p protects: the hook directory, the pipes, and the goroutine that
// answers the hook. Its finish function, called after git has exited,
// stops that goroutine and removes the directory.
func (h *Handler) protectPush(p *PushProtection, acc *httpauth.Access, dir string, log *slog.Logger) func(context.Context, *exec.Cmd) (func(), error) {
	return func(ctx context.Context, cmd *exec.Cmd) (func(), error) {
		if p.Manager == nil {
			return nil, errors.New("gitserve: push protection: no Manager")
		}
		if !hooksSupported {
			return nil, errors.New("gitserve: push protection is not supported on this system")
		}
		orig, err := p.repoHooksDir(ctx, h, dir, cmd.Env)
		if err != nil {
			return nil, err
		}
		hooks, err := writeHookDir(orig, cmd.Env)
		if err != nil {
			return nil, err
		}
		reqR, reqW, err := os.Pipe()
		if err != nil {
			os.RemoveAll(hooks)
			return nil, err
		}
		respR, respW, err := os.Pipe()
		if err != nil {
			reqR.Close()
			reqW.Close()
			os.RemoveAll(hooks)
			return nil, err
		}
		cmd.ExtraFiles = []*os.File{reqW, respR} // descriptors 3 and 4
		cmd.Args = append([]string{cmd.Args[0], "-c", "core.hooksPath=" + hooks}, cmd.Args[1:]...)

		hctx, cancel := context.WithCancel(ctx)
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer respW.Close()
			p.answer(hctx, h, acc, dir, reqR, respW, log)
		}()
		return func() {
			cancel()
			reqR.Close() // unblocks a read of a request that never came
			reqW.Close()
			respR.Close()
			wg.Wait()
			os.RemoveAll(hooks)
		}, nil
	}
}

// answer reads the hook's request on r, decides the push and writes the
// verdict on w. When no request comes (git ran no hook: a push with
// nothing to update), it writes nothing.
func (p *PushProtection) answer(ctx context.Context, h *Handler, acc *httpauth.Access, dir string, r io.Reader, w io.Writer, log *slog.Logger) {
	req, err := readHookRequest(r)
	if err != nil {
		if !errors.Is(err, errNoRequest) {
			log.Error("push protection: push refused: bad request from the hook", "err", err)
			writeVerdict(w, p.cannotCheck())
		}
		return
	}
	writeVerdict(w, p.check(ctx, h, acc, dir, req, log))
}

var errNoRequest = errors.New("gitserve: push protection: no request from the hook")

// readHookRequest reads one request of the pre-receive hook.
func readHookRequest(r io.Reader) (*hookRequest, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), 64<<10)
	next := func() (string, bool) {
		if !sc.Scan() {
			return "", false
		}
		return sc.Text(), true
	}
	line, ok := next()
	if !ok {
		if sc.Err() != nil && !errors.Is(sc.Err(), os.ErrClosed) {
			return nil, sc.Err()
		}
		return nil, errNoRequest
	}
	if line != hookProtocol {
		return nil, errors.New("not a request of the pre-receive hook")
	}
	req := &hookRequest{}
	for _, f := range []struct {
		key string
		v   *string
	}{{"quarantine", &req.quarantine}, {"objects", &req.objects}, {"alternates", &req.alternates}} {
		line, ok := next()
		v, found := strings.CutPrefix(line, f.key+" ")
		if !ok || !found {
			return nil, fmt.Errorf("request without %s", f.key)
		}
		*f.v = v
	}
	for {
		line, ok := next()
		switch {
		case !ok:
			return nil, errors.New("request cut short")
		case line == "end":
			return req, nil
		case line == "":
			continue // no ref update at all
		case len(req.updates) >= maxRefUpdates:
			return nil, errors.New("too many ref updates")
		}
		f := strings.Split(line, " ")
		if len(f) != 3 || !isObjectID(f[0]) || !isObjectID(f[1]) || f[2] == "" {
			return nil, errors.New("malformed ref update")
		}
		req.updates = append(req.updates, refUpdate{f[0], f[1], f[2]})
	}
}

// isObjectID reports whether s is a full object ID: 40 (SHA-1) or 64
// (SHA-256) lower-case hexadecimal digits.
func isObjectID(s string) bool {
	if len(s) != 40 && len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// writeVerdict writes v for the hook: each line to say, with control
// characters replaced, then "accept" if v accepts.
func writeVerdict(w io.Writer, v verdict) {
	var b strings.Builder
	for _, s := range v.say {
		b.WriteString("say ")
		for _, r := range s {
			if r < ' ' || r == 0x7f || (r >= 0x80 && r < 0xa0) {
				r = '?'
			}
			b.WriteRune(r)
		}
		b.WriteByte('\n')
	}
	if v.accept {
		b.WriteString("accept\n")
	}
	_, _ = io.WriteString(w, b.String())
}
