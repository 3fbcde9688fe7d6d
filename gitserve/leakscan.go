package gitserve

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/forgekit/accesstoken"
)

// DefaultMaxObjectSize is the largest git object that push protection and
// [ScanRepository] read, unless told otherwise: 1 MiB. Larger blobs are
// not scanned (git does not even list them to the scan), nor are larger
// commits and tags.
const DefaultMaxObjectSize = 1 << 20

// binaryPeek is how much of a blob git looks at to call it binary, and
// the rule it applies (buffer_is_binary in git's xdiff-interface.c): a NUL
// byte in the first 8000 bytes. Binary blobs are not scanned.
const binaryPeek = 8000

// maxLeakAttributions bounds how many (commit, path) places are reported
// for one blob.
const maxLeakAttributions = 100

// Leak is a token found in the objects of a git repository, by push
// protection or [ScanRepository]. It never holds the token or any part of
// it: it says where the token is, and whose it is.
type Leak struct {
	// Kind is what was found: [accesstoken.FindingLive] for push
	// protection; for ScanRepository, the kinds its options ask for.
	Kind accesstoken.FindingKind
	// Token is the stored token for a live, revoked or expired token (its
	// ID, owner, target…), the zero Token otherwise.
	Token accesstoken.Token
	// Prefix is the token's prefix, without the underscore.
	Prefix string
	// Object is the ID of the object that holds the token, and
	// ObjectType its type: "blob" (a file's content), "commit" or "tag"
	// (a message, or a header).
	Object, ObjectType string
	// Commit is, for a blob, a commit that adds it (at Path); for a
	// commit, the commit itself. It is empty for a tag, and for a blob no
	// commit adds (one a tag points at).
	Commit string
	// Path is the blob's path in Commit, as git stores it (any bytes but
	// NUL); empty for other objects.
	Path string
	// Line and Column are where the token starts in the object's
	// content, counting from 1 (columns in bytes).
	Line, Column int
}

// String describes the leak for a person or a log, without the token:
// "live token 5d0e… (owner alice) in commit 1a2b…, path ci/deploy.yml,
// line 3". A path is quoted when it holds unusual characters, and any
// part of it shaped like a token is replaced by "[REDACTED]".
func (l Leak) String() string {
	var who string
	switch l.Kind {
	case accesstoken.FindingLive, accesstoken.FindingRevoked, accesstoken.FindingExpired:
		who = fmt.Sprintf("%s token %s (owner %q)", l.Kind, l.Token.ID, l.Token.Owner)
	case accesstoken.FindingOtherPrefix:
		who = fmt.Sprintf("token with prefix %q", l.Prefix)
	default:
		who = l.Kind.String() + " token"
	}
	return who + " " + l.Where()
}

// Where says where the leak is, as String does, without the token's
// description: "in commit 1a2b…, path ci/deploy.yml, line 3".
func (l Leak) Where() string {
	line := fmt.Sprintf("line %d", l.Line)
	switch {
	case l.ObjectType == "commit":
		return fmt.Sprintf("in the message of commit %s, %s", l.Commit, line)
	case l.ObjectType == "tag":
		return fmt.Sprintf("in the message of tag object %s, %s", l.Object, line)
	case l.Commit != "":
		return fmt.Sprintf("in commit %s, path %s, %s", l.Commit, displayPath(l.Path), line)
	}
	return fmt.Sprintf("in blob %s (in no commit of the scan), %s", l.Object, line)
}

// tokenShape matches what could be a token of any prefix, glued to other
// characters or not: what displayPath and redact hide.
var tokenShape = regexp.MustCompile(`[a-z][a-z0-9]{0,15}_[0-9A-Za-z]{49}`)

// redact replaces whatever is shaped like a token in s.
func redact(s string) string { return tokenShape.ReplaceAllLiteralString(s, "[REDACTED]") }

// displayPath returns a path for a message or a log: quoted unless it is
// printable ASCII without quotes, with token-shaped parts redacted, at
// most 200 bytes.
func displayPath(p string) string {
	p = redact(p)
	plain := p != ""
	for i := 0; i < len(p) && plain; i++ {
		c := p[i]
		plain = c > ' ' && c < 0x7f && c != '"' && c != '\\'
	}
	if !plain {
		p = strconv.QuoteToASCII(p)
	}
	if len(p) > 200 {
		p = p[:197] + "..."
	}
	return p
}

// objectScan reads git objects and scans them for tokens.
type objectScan struct {
	git     string
	env     []string
	dir     string
	maxSize int64
	scanner *lockedScanner
}

// lockedScanner is an accesstoken.Scanner that goroutines share.
type lockedScanner struct {
	mu sync.Mutex
	s  *accesstoken.Scanner
}

func newLockedScanner(s *accesstoken.Scanner) *lockedScanner { return &lockedScanner{s: s} }

func (l *lockedScanner) Scan(ctx context.Context, content []byte) ([]accesstoken.Finding, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.s.Scan(ctx, content)
}

// objectFinding is a token found in one object. secret is set for live
// tokens only, for a revocation.
type objectFinding struct {
	oid, typ string
	f        accesstoken.Finding
	secret   accesstoken.Secret
}

// scanStats says what a scan read and skipped.
type scanStats struct {
	objects, scanned, binary, large int
	existing                        int // thin-pack bases the repository has
	bytes                           int64
}

func (s *scanStats) add(t scanStats) {
	s.existing += t.existing
	s.objects += t.objects
	s.scanned += t.scanned
	s.binary += t.binary
	s.large += t.large
	s.bytes += t.bytes
}

// command returns git with args in o's directory and environment, in a
// process group of its own that ctx's end kills.
func (o *objectScan) command(ctx context.Context, stderr io.Writer, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, o.git, args...)
	cmd.Dir = o.dir
	cmd.Env = o.env
	cmd.Stderr = stderr
	setProcessGroup(cmd)
	cmd.WaitDelay = 10 * time.Second
	return cmd
}

// scan scans the commits, annotated tags and blobs of at most maxSize bytes
// that `git rev-list --objects revs` lists (with stdin as rev-list's
// standard input, for --stdin): trees are not read. Three git processes
// do it, whatever the number of objects: rev-list for the commits,
// rev-list for the other objects but trees, and cat-file --batch reading
// what they list (reading trees cost a third of cat-file's time).
func (o *objectScan) scan(ctx context.Context, stdin string, revs ...string) ([]objectFinding, scanStats, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var stderrs [2]stderrTail
	lists := []*exec.Cmd{
		o.command(ctx, &stderrs[0], append([]string{"rev-list"}, revs...)...),
		o.command(ctx, &stderrs[1], append([]string{"rev-list", "--objects", "--no-object-names",
			"--filter=combine:object:type=blob+blob:limit=" + strconv.FormatInt(o.maxSize+1, 10)}, revs...)...),
	}
	var listOut []io.Reader
	for _, l := range lists {
		l.Stdin = strings.NewReader(stdin)
		r, err := l.StdoutPipe()
		if err != nil {
			return nil, scanStats{}, fmt.Errorf("gitserve: leak scan: %w", err)
		}
		listOut = append(listOut, r)
	}
	var started []*exec.Cmd
	for _, l := range lists {
		if err := l.Start(); err != nil {
			cancel()
			for _, s := range started {
				_ = s.Wait()
			}
			return nil, scanStats{}, fmt.Errorf("gitserve: leak scan: starting git rev-list: %w", err)
		}
		started = append(started, l)
	}
	// cat-file gets the commits, then the other objects (the second
	// rev-list lists the commits it was given again), once each.
	found, st, err := o.catFile(ctx, func(w *bufio.Writer) error {
		seen := map[string]bool{}
		for i, r := range listOut {
			sc := bufio.NewScanner(r)
			for sc.Scan() {
				oid := sc.Text()
				if i == 0 {
					seen[oid] = true
				} else if seen[oid] {
					continue
				}
				if _, err := w.WriteString(oid + "\n"); err != nil {
					return err
				}
			}
			if err := sc.Err(); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		cancel()
	}
	for _, r := range listOut {
		_, _ = io.Copy(io.Discard, r)
	}
	var werr [2]error
	for i, l := range lists {
		werr[i] = l.Wait()
	}
	if err == nil && (werr[0] != nil || werr[1] != nil) {
		err = fmt.Errorf("gitserve: leak scan: git rev-list: %w: %s %s", errors.Join(werr[0], werr[1]), &stderrs[0], &stderrs[1])
	}
	return found, st, err
}

// readObjects scans the objects oids with git cat-file.
func (o *objectScan) readObjects(ctx context.Context, oids []string) ([]objectFinding, scanStats, error) {
	return o.catFile(ctx, func(w *bufio.Writer) error {
		for _, oid := range oids {
			if _, err := w.WriteString(oid + "\n"); err != nil {
				return err
			}
		}
		return nil
	})
}

// catFile runs git cat-file --batch on the objects that feed writes, one
// ID a line, and scans them.
func (o *objectScan) catFile(ctx context.Context, feed func(*bufio.Writer) error) ([]objectFinding, scanStats, error) {
	var st scanStats
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stderr := &stderrTail{}
	cat := o.command(ctx, stderr, "cat-file", "--batch", "--buffer")
	catIn, err := cat.StdinPipe()
	if err != nil {
		return nil, st, fmt.Errorf("gitserve: leak scan: %w", err)
	}
	// cat-file's output comes through a pipe read with blocking reads,
	// as large as the system allows: reading megabytes in the runtime's
	// poller, a few KiB at a time, cost a fifth of git's own work.
	out, outW, err := os.Pipe()
	if err != nil {
		return nil, st, fmt.Errorf("gitserve: leak scan: %w", err)
	}
	growPipe(out)
	out.Fd() // blocking mode
	cat.Stdout = outW
	err = cat.Start()
	outW.Close()
	if err != nil {
		out.Close()
		return nil, st, fmt.Errorf("gitserve: leak scan: starting git cat-file: %w", err)
	}
	fed := make(chan error, 1)
	go func() {
		w := bufio.NewWriterSize(catIn, 64<<10)
		err := feed(w)
		if err == nil {
			err = w.Flush()
		}
		catIn.Close()
		fed <- err
	}()
	found, rerr := o.read(ctx, bufio.NewReaderSize(out, 1<<20), &st)
	if rerr != nil {
		cancel() // stop git, and do not wait for it to finish
	}
	_, _ = io.Copy(io.Discard, out)
	out.Close()
	ferr := <-fed
	cerr := cat.Wait()
	switch {
	case rerr != nil:
		return found, st, rerr
	case cerr != nil:
		return found, st, fmt.Errorf("gitserve: leak scan: git cat-file: %w: %s", cerr, stderr)
	case ferr != nil:
		return found, st, fmt.Errorf("gitserve: leak scan: listing objects: %w", ferr)
	}
	return found, st, nil
}

// exists reports which of oids the repository has, asking git cat-file
// --batch-check in the environment env (without the quarantine).
func (o *objectScan) exists(ctx context.Context, env []string, oids []string) (map[string]bool, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stderr := &stderrTail{}
	cmd := o.command(ctx, stderr, "cat-file", "--batch-check=%(objectname)", "--buffer")
	cmd.Env = env
	cmd.Stdin = strings.NewReader(strings.Join(oids, "\n") + "\n")
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("gitserve: leak scan: git cat-file --batch-check: %w: %s", err, stderr)
	}
	have := map[string]bool{}
	for _, line := range strings.Split(string(out), "\n") {
		if isObjectID(line) {
			have[line] = true
		}
	}
	return have, nil
}

var errBatchOutput = errors.New("gitserve: leak scan: unexpected output of git cat-file --batch")

// read reads the output of git cat-file --batch and scans each object.
// On an error it returns what it found before it.
func (o *objectScan) read(ctx context.Context, r *bufio.Reader, st *scanStats) ([]objectFinding, error) {
	var found []objectFinding
	buf := make([]byte, 0, 64<<10)
	for {
		hdr, err := r.ReadSlice('\n')
		if err == io.EOF && len(hdr) == 0 {
			return found, nil
		}
		if err != nil {
			return found, fmt.Errorf("%w: %w", errBatchOutput, err)
		}
		fields := bytes.Fields(hdr)
		if len(fields) == 2 && string(fields[1]) == "missing" {
			return found, fmt.Errorf("gitserve: leak scan: object %.64s listed but missing", fields[0])
		}
		if len(fields) != 3 {
			return found, errBatchOutput
		}
		oid, typ := string(fields[0]), string(fields[1])
		size, err := strconv.ParseInt(string(fields[2]), 10, 64)
		if err != nil || size < 0 {
			return found, errBatchOutput
		}
		switch {
		case typ == "tree": // trees are not read
			if _, err := r.Discard(int(size)); err != nil {
				return found, fmt.Errorf("%w: %w", errBatchOutput, err)
			}
		case size > o.maxSize:
			st.objects++
			st.large++
			if _, err := r.Discard(int(size)); err != nil {
				return found, fmt.Errorf("%w: %w", errBatchOutput, err)
			}
		default:
			if int64(cap(buf)) < size {
				buf = make([]byte, size)
			}
			content := buf[:size]
			if _, err := io.ReadFull(r, content); err != nil {
				return found, fmt.Errorf("%w: %w", errBatchOutput, err)
			}
			if err := scanObject(ctx, o.scanner, st, &found, oid, typ, content); err != nil {
				return found, err
			}
		}
		if c, err := r.ReadByte(); err != nil || c != '\n' {
			return found, errBatchOutput
		}
	}
}

// scanObject scans the content of the object oid of type typ (not larger
// than the size limit) into found, unless it is a binary blob.
func scanObject(ctx context.Context, sc *lockedScanner, st *scanStats, found *[]objectFinding, oid, typ string, content []byte) error {
	st.objects++
	if typ == "blob" && bytes.IndexByte(content[:min(len(content), binaryPeek)], 0) >= 0 {
		st.binary++
		return nil
	}
	st.scanned++
	st.bytes += int64(len(content))
	fs, err := sc.Scan(ctx, content)
	for _, f := range fs {
		of := objectFinding{oid: oid, typ: typ, f: f}
		if f.Kind == accesstoken.FindingLive {
			of.secret = f.Secret(content)
		}
		*found = append(*found, of)
	}
	return err
}

// place is where a commit adds a blob.
type place struct{ commit, path string }

// history is what git log said of the commits scanned: where they add the
// blobs that hold tokens, and their order (0 for the newest).
type history struct {
	places map[string][]place
	order  map[string]int
}

// attribute finds, for each blob of blobs, the commits among revs that add
// it and its path there, and the order of the commits, with one git log
// over their diffs (renames off, merges against each parent). It runs
// only when a scan found tokens.
func (o *objectScan) attribute(ctx context.Context, blobs map[string]bool, stdin string, revs ...string) (*history, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stderr := &stderrTail{}
	args := append([]string{"log", "-z", "--raw", "--no-abbrev", "--no-renames", "-m", "--root",
		"--no-show-signature", "--no-color", "--format=commit %H"}, revs...)
	cmd := o.command(ctx, stderr, args...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("gitserve: leak scan: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("gitserve: leak scan: starting git log: %w", err)
	}
	hist, perr := parseLogRaw(bufio.NewReaderSize(out, 64<<10), blobs)
	if perr != nil {
		cancel()
	}
	_, _ = io.Copy(io.Discard, out)
	if err := cmd.Wait(); err != nil && perr == nil {
		perr = fmt.Errorf("gitserve: leak scan: git log: %w: %s", err, stderr)
	}
	return hist, perr
}

// parseLogRaw reads the output of git log -z --raw --format="commit %H"
// and returns where the commits add the blobs, and their order.
func parseLogRaw(r *bufio.Reader, blobs map[string]bool) (*history, error) {
	h := &history{places: map[string][]place{}, order: map[string]int{}}
	places := h.places
	seen := map[place]bool{}
	var commit string
	for {
		tok, err := r.ReadString(0)
		if err == io.EOF && tok == "" {
			return h, nil
		}
		if err != nil {
			return h, fmt.Errorf("gitserve: leak scan: reading git log: %w", err)
		}
		t := strings.TrimLeft(strings.TrimSuffix(tok, "\x00"), "\n")
		switch {
		case strings.HasPrefix(t, "commit "):
			commit = t[len("commit "):]
			if _, ok := h.order[commit]; !ok {
				h.order[commit] = len(h.order)
			}
		case strings.HasPrefix(t, ":"):
			// ":oldmode newmode oldid newid status", then the path.
			path, err := r.ReadString(0)
			if err != nil {
				return h, fmt.Errorf("gitserve: leak scan: reading git log: %w", err)
			}
			path = strings.TrimSuffix(path, "\x00")
			f := strings.Fields(t[1:])
			if len(f) == 5 && f[4] != "D" && blobs[f[3]] && len(places[f[3]]) < maxLeakAttributions {
				p := place{commit, path}
				if !seen[p] {
					seen[p] = true
					places[f[3]] = append(places[f[3]], p)
				}
			}
		default:
			return h, errors.New("gitserve: leak scan: unexpected output of git log")
		}
	}
}

// leaks turns findings into leaks, with the places of blobs, oldest
// commit first (then by path and line; leaks in no commit last). hist may
// be nil.
func leaks(found []objectFinding, hist *history) []Leak {
	var out []Leak
	for _, of := range found {
		l := Leak{Kind: of.f.Kind, Token: of.f.Token, Prefix: of.f.Prefix, Object: of.oid, ObjectType: of.typ, Line: of.f.Line, Column: of.f.Column}
		switch of.typ {
		case "commit":
			l.Commit = of.oid
		case "blob":
			if hist != nil && len(hist.places[of.oid]) > 0 {
				for _, p := range hist.places[of.oid] {
					l.Commit, l.Path = p.commit, p.path
					out = append(out, l)
				}
				continue
			}
		}
		out = append(out, l)
	}
	age := func(l Leak) int {
		if hist == nil || l.Commit == "" {
			return -1
		}
		if i, ok := hist.order[l.Commit]; ok {
			return i
		}
		return -1
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := age(out[i]), age(out[j])
		if a != b {
			return a > b
		}
		if out[i].Path != out[j].Path {
			return out[i].Path < out[j].Path
		}
		return out[i].Line < out[j].Line
	})
	return out
}

// blobsOf returns the blobs among found.
func blobsOf(found []objectFinding) map[string]bool {
	blobs := map[string]bool{}
	for _, of := range found {
		if of.typ == "blob" {
			blobs[of.oid] = true
		}
	}
	return blobs
}

// stderrTail keeps the end of a git process's standard error (at most
// 1 KiB), for an error message, with token-shaped parts redacted when
// printed.
type stderrTail struct {
	mu  sync.Mutex
	buf []byte
}

func (s *stderrTail) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.buf = append(s.buf, p...)
	if len(s.buf) > 1024 {
		s.buf = s.buf[len(s.buf)-1024:]
	}
	return len(p), nil
}

func (s *stderrTail) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strconv.Quote(redact(strings.TrimSpace(string(s.buf))))
}

// ScanOptions configures [ScanRepository].
type ScanOptions struct {
	// Manager is whose tokens to look for. It must be set.
	Manager *accesstoken.Manager

	// Tokens says which kinds of token to report besides live ones, and
	// how many distinct tokens to look up at most (see
	// [accesstoken.ScanOptions]; its MaxLookups bounds the whole scan).
	Tokens accesstoken.ScanOptions

	// MaxObjectSize is the largest object scanned, in bytes. The default,
	// 0, is [DefaultMaxObjectSize].
	MaxObjectSize int64

	// Git is the git binary to run. The default, "", is "git" found in
	// PATH.
	Git string

	// Env holds extra "KEY=value" variables for git, beyond those of the
	// server's environment that [Handler] passes on too (PATH, HOME,
	// TMPDIR, the locale, git's own settings of the installation).
	Env []string

	// Revoke, if set, is called once for each live token found, after the
	// scan, with where it was found, to revoke it (see [Revocation]; its
	// Actor is [RepositoryScanActor]). Its errors are joined into
	// ScanRepository's error; the leaks are returned all the same. The
	// default, nil, revokes nothing.
	Revoke func(ctx context.Context, r Revocation) error
}

// RepositoryScanActor is the [Revocation] Actor of the revocations that
// [ScanRepository] asks for, a system actor ([accesstoken.SystemActor]).
const RepositoryScanActor = accesstoken.SystemActorPrefix + "repository-scan"

// ScanRepository finds the tokens of opts.Manager in every object
// reachable from the refs of the git repository at dir (a bare
// repository, or a work tree's top directory): the content of every blob
// of at most MaxObjectSize bytes that is not binary by git's rule (a NUL
// byte in its first 8000 bytes), and the message and headers of every
// commit and annotated tag (not file names: trees are not read). It finds tokens
// committed before push protection was turned on: a forge's "scan"
// command is a loop over its repositories around it.
//
// Each leak says which object holds the token, and for a blob each commit
// that adds it and its path there (at most 100 per blob); never the token.
// The cost is three git processes reading every reachable object once
// (two rev-lists and cat-file --batch), one store lookup per distinct
// well-formed token, and, only when a blob holds a token, one git log over
// the history to attribute it.
//
// The leaks come oldest commit first. An error means the scan is incomplete (git failed, the
// store failed, [accesstoken.ErrScanLimit], ctx ended); the leaks found
// before it are returned with it.
func ScanRepository(ctx context.Context, dir string, opts ScanOptions) ([]Leak, error) {
	if opts.Manager == nil {
		return nil, errors.New("gitserve: ScanRepository: no Manager")
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("gitserve: ScanRepository: %w", err)
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("gitserve: ScanRepository: %q is not a directory", dir)
	}
	git := opts.Git
	if git == "" {
		git = "git"
	}
	git, err = exec.LookPath(git)
	if err != nil {
		return nil, fmt.Errorf("gitserve: git binary: %w", err)
	}
	maxSize := opts.MaxObjectSize
	if maxSize <= 0 {
		maxSize = DefaultMaxObjectSize
	}
	// The ceiling keeps git from finding a repository above dir when dir
	// is none.
	env := append(inheritedEnvOf(os.LookupEnv), opts.Env...)
	env = append(env, "GIT_CEILING_DIRECTORIES="+filepath.Dir(dir))
	o := &objectScan{git: git, env: env, dir: dir, maxSize: maxSize,
		scanner: newLockedScanner(opts.Manager.NewScanner(opts.Tokens))}
	found, _, err := o.scan(ctx, "", "--all")
	var hist *history
	if len(found) > 0 && err == nil {
		hist, err = o.attribute(ctx, blobsOf(found), "", "--all")
	}
	out := leaks(found, hist)
	if opts.Revoke != nil {
		for _, r := range revocations(found, out, RepositoryScanActor, func(l Leak) string { return "repository scan: found " + l.Where() }) {
			if rerr := opts.Revoke(ctx, r); rerr != nil {
				err = errors.Join(err, fmt.Errorf("gitserve: revoking token %s: %w", r.Token.ID, rerr))
			}
		}
	}
	return out, err
}

// inheritedEnvOf returns the variables of inheritedEnv that lookup finds.
func inheritedEnvOf(lookup func(string) (string, bool)) []string {
	var env []string
	for _, k := range inheritedEnv {
		if v, ok := lookup(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}
