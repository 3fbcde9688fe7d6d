package gitserve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/forgekit/accesstoken"
	"github.com/forgekit/accesstoken/httpauth"
)

// PushProtection makes a [Handler] refuse a push whose new objects hold a
// live token of Manager (one that works: neither revoked nor expired),
// before any ref moves. Set it as [Handler].Protect. GitHub calls this
// push protection; this is it for a forge that serves git itself.
//
// # What is scanned
//
// Exactly what the push adds: the objects git received for it, which
// receive-pack keeps in its quarantine until the pre-receive hook accepts
// them (the bases of a thin pack's deltas, which git copies there from
// the repository, are left out: they are not new). In those objects: the
// content of every blob of at most MaxObjectSize bytes that is not binary
// by git's own rule (a NUL byte in its first 8000 bytes), and the
// messages (and headers) of commits and annotated tags; not file names
// (trees are not read) nor ref names. A token committed before
// protection was on, and pushed again on a new branch, is not new; nor is
// it in the old version of a file that a push changes, so the push that
// removes it goes through: find such tokens with [ScanRepository]. A new
// version of that file that still holds the token is new, and is refused.
//
// A token is found where it stands on its own, whole, on one line (see
// [accesstoken.Scanner]): a random string of the same shape fails the
// checksum, another prefix's token is not this Manager's, a revoked or
// expired token no longer matters, and none of these blocks a push.
//
// # What the pusher sees
//
// A refused push fails with git's "pre-receive hook declined"; before
// that, git prints (as "remote:" lines) which commit and path hold a
// token, and on which line, with the token's ID and owner, but never the
// token; and how to proceed: remove it from every commit of the push
// (git rebase -i, git filter-repo) and revoke it at TokensURL, or, when it
// was revoked on the spot, that it was. When the scan cannot run (git or
// the token store fails, the channel to the server is down, the push
// holds more distinct well-formed tokens than MaxLookups), the push is
// refused too, with a message that says so: push protection fails
// closed.
//
// # How it works
//
// For each push the Handler writes a pre-receive hook into a private
// temporary directory (mode 0700) and runs git receive-pack with
// core.hooksPath pointing at it. The hook sends the quarantine path and
// the ref updates to the server process over a pipe that receive-pack and
// the hook inherit (file descriptor 3), and reads the verdict from
// another (file descriptor 4): no socket, no file, no secret in the
// environment, and nothing another process can connect to. Anything but a
// complete "accept" (no descriptor, a closed pipe, a server gone) fails
// the hook, so the push. Before the hook, the Handler runs git rev-parse
// --git-path hooks to find the repository's own hooks (once per
// repository, while git's configuration is unchanged).
//
// The scan runs in the server process, which reads the quarantine itself
// (its pack and index, or its loose objects) and inflates each object
// once, in pack order, keeping a delta base until its last delta is
// applied: on a push of 1,000 commits this costs about a quarter of
// reading the same objects through git cat-file, which pays per object.
// Objects it cannot resolve itself (a delta on a base it could not keep in
// memory) are read by one git cat-file --batch; a pack it does not read
// (over 64 MiB, or in a format it does not know) is scanned with git
// rev-list and cat-file, which needs git 2.32 or later (rev-list
// --filter=object:type=blob). When a token is found, one git log finds
// the commits and paths that add it.
//
// The repository's own hooks keep working: the directory holds, for each
// hook git receive-pack runs (pre-receive, update, post-receive,
// post-update, push-to-checkout, reference-transaction, proc-receive)
// that the repository has (in its hooks directory, or where its
// core.hooksPath says), a script that runs it, with git's configuration
// as it was and without the pipes. The repository's pre-receive hook runs
// after the scan accepts the push, with the same input.
//
// Push protection needs a Unix system (the hook is a shell script) on
// which the temporary directory ($TMPDIR) allows executing files: a push
// is refused when the hook could not be executed. Only [Handler] offers
// it, not [CGI]. Its git processes do not take [Limiter] slots: the push
// holds one already.
//
// A PushProtection is safe for concurrent use; do not change its fields
// after the Handler's first request.
type PushProtection struct {
	// Manager is whose tokens to look for. It must be set; without it
	// every push is refused.
	Manager *accesstoken.Manager

	// Policy says, for a push, whether to block it only ([Block]) or to
	// block it and revoke the tokens found ([BlockAndRevoke]), which is
	// what a forge should do when the push was to a public repository,
	// where the token is as good as published: [RevokeIfPublic] does that.
	// The default, nil, blocks only.
	Policy func(acc *httpauth.Access) PushPolicy

	// Revoke revokes a live token found in a push that Policy says to
	// block and revoke. The forge wires it to its revocation of leaked
	// tokens by a system actor, with a reason: Manager.RevokeLeaked(ctx,
	// r.Secret.Reveal(), r.Actor, r.Reason). It is called once
	// per distinct token, before the push is refused; the refusal says
	// whether it succeeded. When it is nil, or fails, the push is still
	// refused, and the pusher is told to revoke the token.
	Revoke func(ctx context.Context, r Revocation) error

	// TokensURL is the page where users revoke and issue tokens, named in
	// the refusal. The default, "", names "the forge's access token page".
	TokensURL string

	// MaxObjectSize is the largest object scanned, in bytes. The default,
	// 0, is [DefaultMaxObjectSize].
	MaxObjectSize int64

	// MaxLookups bounds the distinct well-formed tokens of Manager's
	// format one push may hold; beyond it the push is refused, as one that
	// could not be checked. The default, 0, is
	// [accesstoken.DefaultMaxLookups].
	MaxLookups int

	// hooks caches, per repository directory, where its own hooks are,
	// while git's configuration files are unchanged.
	hooksMu sync.Mutex
	hooks   map[string]hooksPath
}

type hooksPath struct{ stamp, path string }

// PushPolicy is what push protection does with a push that adds a live
// token.
type PushPolicy int

const (
	// Block refuses the push; the token stays valid, and the pusher is
	// told to revoke it.
	Block PushPolicy = iota
	// BlockAndRevoke refuses the push and revokes the token, through
	// [PushProtection].Revoke.
	BlockAndRevoke
)

// RevokeIfPublic is a [PushProtection] Policy: [BlockAndRevoke] for a push
// to a public repository ([httpauth.Repo].Public), [Block] otherwise.
func RevokeIfPublic(acc *httpauth.Access) PushPolicy {
	if acc != nil && acc.Repo != nil && acc.Repo.Public {
		return BlockAndRevoke
	}
	return Block
}

// PushProtectionActor is the [Revocation] Actor of the revocations that
// push protection asks for, a system actor ([accesstoken.SystemActor]):
// an audit log shows it as who revoked.
const PushProtectionActor = accesstoken.SystemActorPrefix + "push-protection"

// Revocation asks the forge to revoke a leaked token, through
// [PushProtection].Revoke or [ScanOptions].Revoke.
type Revocation struct {
	// Token is the live token found (its ID, owner, target…).
	Token accesstoken.Token
	// Secret is the token itself, read from where it was found, for a
	// revocation that takes the secret as proof of the leak
	// (Manager.RevokeLeaked). It prints as "[REDACTED]" everywhere;
	// Reveal it only to pass it on.
	Secret accesstoken.Secret
	// Actor is who revokes: [PushProtectionActor] or
	// [RepositoryScanActor].
	Actor string
	// Reason says why, for the audit log: what found it and where, as
	// "push protection: pushed to demo/hello by alice, found in commit
	// 1a2b…, path ci.yml, line 3". It holds no part of the token.
	Reason string
	// Leaks are the places where the token was found.
	Leaks []Leak
}

// revocations returns one Revocation per distinct live token of found,
// with its leaks and a reason made by reason from the first.
// shorten returns s cut to at most n characters, the cut marked with
// "…": a revocation reason naming a long path must still fit what the
// Manager records (accesstoken.MaxDescriptionLen), or the revocation of a
// leaked token would be refused.
func shorten(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return strings.TrimRight(string(r[:n-1]), " ") + "…"
}

func revocations(found []objectFinding, all []Leak, actor string, reason func(Leak) string) []Revocation {
	var out []Revocation
	index := map[string]int{}
	for _, of := range found {
		if of.f.Kind != accesstoken.FindingLive {
			continue
		}
		id := of.f.Token.ID.String()
		i, ok := index[id]
		if !ok {
			i = len(out)
			index[id] = i
			out = append(out, Revocation{Token: of.f.Token, Actor: actor})
		}
		if out[i].Secret.Reveal() == "" {
			out[i].Secret = of.secret
		}
	}
	for _, l := range all {
		if i, ok := index[l.Token.ID.String()]; ok && l.Kind == accesstoken.FindingLive {
			out[i].Leaks = append(out[i].Leaks, l)
		}
	}
	for i := range out {
		if len(out[i].Leaks) > 0 {
			more := ""
			if n := len(out[i].Leaks) - 1; n > 0 {
				more = fmt.Sprintf(" (and %d more)", n)
			}
			out[i].Reason = shorten(reason(out[i].Leaks[0]), accesstoken.MaxDescriptionLen-utf8.RuneCountInString(more)) + more
		}
	}
	return out
}

// hookRequest is what the pre-receive hook sends: git's quarantine and
// the ref updates.
type hookRequest struct {
	quarantine, objects, alternates string
	updates                         []refUpdate
}

type refUpdate struct{ old, new, ref string }

// verdict is the answer to the hook: the lines it prints (as "remote:"
// lines for the pusher) and whether the push may go on.
type verdict struct {
	say    []string
	accept bool
}

// maxRefUpdates bounds the ref updates of one push that the hook may send.
const maxRefUpdates = 1_000_000

// check decides a push: it scans the objects the push adds, and refuses
// it when they hold a live token, or when the scan fails.
func (p *PushProtection) check(ctx context.Context, h *Handler, acc *httpauth.Access, dir string, req *hookRequest, log *slog.Logger) verdict {
	var tips []string
	for _, u := range req.updates {
		if strings.Trim(u.new, "0") != "" {
			tips = append(tips, u.new)
		}
	}
	if len(tips) == 0 {
		return verdict{accept: true} // only deletions
	}
	if req.quarantine == "" {
		return verdict{accept: true} // git received no object
	}
	env, err := quarantineEnv(h.baseEnv, dir, req)
	if err != nil {
		log.Error("push protection: push refused: bad request from the hook", "err", err)
		return p.cannotCheck()
	}
	maxSize := p.MaxObjectSize
	if maxSize <= 0 {
		maxSize = DefaultMaxObjectSize
	}
	o := &objectScan{git: h.git, env: env, dir: dir, maxSize: maxSize,
		scanner: newLockedScanner(p.Manager.NewScanner(accesstoken.ScanOptions{MaxLookups: p.MaxLookups}))}
	stdin := strings.Join(tips, "\n") + "\n"
	found, st, err := p.scan(ctx, o, h.baseEnv, req.quarantine, len(tips[0])/2, stdin, log)
	if err != nil {
		log.Error("push protection: push refused: the scan failed", "err", err)
		return p.cannotCheck()
	}
	log.Debug("push protection: push scanned", "objects", st.objects, "scanned", st.scanned, "bytes", st.bytes,
		"binary_skipped", st.binary, "large_skipped", st.large, "existing_skipped", st.existing)
	if len(found) == 0 {
		return verdict{accept: true}
	}
	hist, err := o.attribute(ctx, blobsOf(found), stdin, "--stdin", "--not", "--all")
	if err != nil {
		// The token is there: refuse, saying less about where.
		log.Error("push protection: could not find the commits that add the tokens", "err", err)
	}
	all := leaks(found, hist)

	policy := Block
	if p.Policy != nil {
		policy = p.Policy(acc)
	}
	revoked := map[string]bool{}
	if policy == BlockAndRevoke {
		reason := func(l Leak) string {
			return fmt.Sprintf("push protection: pushed to %s by %s, found %s", acc.Repo.Resource, acc.Owner, l.Where())
		}
		for _, r := range revocations(found, all, PushProtectionActor, reason) {
			if p.Revoke == nil {
				log.Error("push protection: token not revoked: the policy says to revoke, and PushProtection.Revoke is nil", "token_id", r.Token.ID.String())
				continue
			}
			if err := p.Revoke(ctx, r); err != nil {
				log.Error("push protection: token not revoked", "token_id", r.Token.ID.String(), "err", err)
				continue
			}
			revoked[r.Token.ID.String()] = true
			log.Warn("push protection: token revoked", "token_id", r.Token.ID.String(), "owner", r.Token.Owner, "reason", r.Reason)
		}
	}
	for _, l := range all {
		log.Warn("push protection: push refused: it adds a live token", "token_id", l.Token.ID.String(), "owner", l.Token.Owner,
			"object", l.Object, "type", l.ObjectType, "commit", l.Commit, "path", displayPath(l.Path), "line", l.Line)
	}
	return verdict{say: p.refusal(all, revoked)}
}

// scan scans the objects of the push in the quarantine q: in-process (see
// quarantineReader), with git cat-file for the objects it leaves, or, when
// it cannot read the quarantine, all with git (rev-list and cat-file).
// mainEnv is git's environment without the quarantine.
func (p *PushProtection) scan(ctx context.Context, o *objectScan, mainEnv []string, q string, hashLen int, stdin string, log *slog.Logger) ([]objectFinding, scanStats, error) {
	qr := &quarantineReader{dir: q, hashLen: hashLen, maxSize: o.maxSize, scanner: o.scanner,
		exists: func(ctx context.Context, oids []string) (map[string]bool, error) { return o.exists(ctx, mainEnv, oids) }}
	err := qr.scan(ctx)
	switch {
	case errors.Is(err, errNotReadable):
		log.Info("push protection: scanning with git", "reason", err)
		return o.scan(ctx, stdin, "--stdin", "--not", "--all")
	case err != nil:
		return nil, qr.st, err
	case len(qr.leftover) > 0:
		more, st, err := o.readObjects(ctx, qr.leftover)
		qr.st.add(st)
		return append(qr.found, more...), qr.st, err
	}
	return qr.found, qr.st, nil
}

// maxSaidLeaks bounds the leaks listed to the pusher.
const maxSaidLeaks = 10

// refusal is the message of a push refused for the leaks: where, and how
// to proceed. It never holds a token.
func (p *PushProtection) refusal(all []Leak, revoked map[string]bool) []string {
	page := "the forge's access token page"
	if p.TokensURL != "" {
		page = p.TokensURL
	}
	say := []string{"", "Push refused by push protection: it adds a live access token.", ""}
	for i, l := range all {
		if i == maxSaidLeaks {
			say = append(say, fmt.Sprintf("  ... and %d more", len(all)-i))
			break
		}
		say = append(say, "  "+l.Where(), fmt.Sprintf("    token %s, owned by %s", l.Token.ID, l.Token.Owner))
	}
	allRevoked, someRevoked := true, false
	for _, l := range all {
		allRevoked = allRevoked && revoked[l.Token.ID.String()]
		someRevoked = someRevoked || revoked[l.Token.ID.String()]
	}
	say = append(say, "",
		"The token is not shown here. To push, remove it from every commit of the",
		"push, not only the last one (git commit --amend for the last commit;",
		"git rebase -i for older ones; git filter-repo --replace-text for many),",
		"and read it from the environment or a secret store instead.")
	switch {
	case allRevoked:
		say = append(say, "", "The token has been revoked: this repository is public. Issue a new one",
			"at "+page+".")
	case someRevoked:
		say = append(say, "", "Some of these tokens have been revoked (this repository is public);",
			"revoke the others at "+page+": consider them leaked.")
	default:
		say = append(say, "", "Then revoke the token at "+page+" and issue a new one:",
			"it has left your machine, consider it leaked.")
	}
	return append(say, "")
}

// cannotCheck is the verdict on a push that could not be scanned.
func (p *PushProtection) cannotCheck() verdict {
	return verdict{say: []string{"",
		"Push refused: push protection could not check this push for access tokens.",
		"This is a problem of the server, not of your push: try again later.", ""}}
}

// quarantineEnv returns the environment in which git sees the objects of
// the push: the quarantine as the object directory, the repository's
// objects as an alternate, as git gives them to the pre-receive hook. The
// quarantine must be a directory of the repository's object directory
// named as git names quarantines. Without a quarantine (a push that sends
// no objects) it is the plain environment.
func quarantineEnv(base []string, dir string, req *hookRequest) ([]string, error) {
	env := append([]string(nil), base...)
	if req.quarantine == "" {
		if req.objects != "" {
			return nil, errors.New("an object directory without a quarantine")
		}
		return env, nil
	}
	q := req.quarantine
	if !filepath.IsAbs(q) || req.objects != q || req.alternates == "" ||
		!strings.HasPrefix(filepath.Base(q), "tmp_objdir-incoming-") {
		return nil, errors.New("not a quarantine of git receive-pack")
	}
	parent, err := os.Stat(filepath.Dir(filepath.Clean(q)))
	if err != nil {
		return nil, err
	}
	same := false
	for _, objects := range []string{filepath.Join(dir, "objects"), filepath.Join(dir, ".git", "objects")} {
		if fi, err := os.Stat(objects); err == nil && os.SameFile(fi, parent) {
			same = true
		}
	}
	if fi, err := os.Stat(q); !same || err != nil || !fi.IsDir() {
		return nil, errors.New("the quarantine is not in the repository's object directory")
	}
	return append(env,
		"GIT_QUARANTINE_PATH="+q,
		"GIT_OBJECT_DIRECTORY="+q,
		"GIT_ALTERNATE_OBJECT_DIRECTORIES="+req.alternates), nil
}
