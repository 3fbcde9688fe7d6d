package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/forgekit/accesstoken"
	"github.com/forgekit/accesstoken/gitserve"
	"github.com/forgekit/accesstoken/httpauth"
)

// gitHandler serves http://HOST/PROJECT/REPO.git/… with gitserve's
// Handler (git upload-pack and receive-pack run directly) behind the token
// middleware, and a Limiter (the serve command's -git-… flags) in front of both. The
// resolver is the forge's URL layout: exactly two names, the second ending
// in ".git", looked up in the database. The one Repo it returns feeds both the token check and the
// backend, which serves Repo.Dir and never looks at the URL.
// gitOptions are the serve command's settings of git over HTTP.
type gitOptions struct {
	limits    gitserve.Limits
	protect   bool   // push protection
	tokensURL string // the page where users revoke tokens, named when a push is refused
	packCache int64  // bytes of the pack cache; 0 turns it off
}

func gitHandler(m *accesstoken.Manager, db *DB, reposDir string, log *slog.Logger, o gitOptions) (http.Handler, error) {
	limiter, err := gitserve.NewLimiter(o.limits)
	if err != nil {
		return nil, err
	}
	backend := &gitserve.Handler{Root: reposDir, Logger: log, Limiter: limiter, PackCache: o.packCache}
	if o.packCache <= 0 {
		backend.PackCache = -1 // off
	}
	if o.protect {
		// A push that adds a live token is refused before any ref moves;
		// to a public repository, where the token is as good as
		// published, the token is revoked too, by the system actor
		// "system:push-protection", with where it was found as the reason.
		backend.Protect = &gitserve.PushProtection{
			Manager: m,
			Policy:  gitserve.RevokeIfPublic,
			Revoke: func(ctx context.Context, r gitserve.Revocation) error {
				_, err := m.RevokeLeaked(ctx, r.Secret.Reveal(), r.Actor, fitReason(r.Reason))
				return err
			},
			TokensURL: o.tokensURL,
		}
	}
	resolve := httpauth.ResolverFunc(func(r *http.Request, repoPath string) (*httpauth.Repo, error) {
		project, name, ok := splitRepoPath(repoPath)
		if !ok {
			return nil, httpauth.ErrRepoNotFound
		}
		repo, err := db.Repo(r.Context(), project, name)
		if errors.Is(err, errNotFound) {
			return nil, httpauth.ErrRepoNotFound
		} else if err != nil {
			return nil, err
		}
		return &httpauth.Repo{
			Resource: accesstoken.Resource{Project: project, Repository: name},
			Dir:      repo.Dir(),
			Public:   !repo.Private,
		}, nil
	})
	onError := func(w http.ResponseWriter, r *http.Request, err error) {
		if httpauth.StatusCode(err) >= 500 {
			log.Error("git request failed", "path", r.URL.Path, "err", err)
		}
		httpauth.DefaultErrorFunc(w, r, err)
	}
	auth, err := httpauth.Middleware(m, resolve, httpauth.WithRealm("forge"), httpauth.WithErrorFunc(onError))
	if err != nil {
		return nil, err
	}
	return limiter.Middleware(auth(backend)), nil
}

// fitReason shortens a reason gitserve gives for revoking a leaked token
// to the most the library records (accesstoken.MaxDescriptionLen
// characters), ending it with "…": with a long path, "push protection:
// pushed to …, found in commit …, path …, line …" is longer, and the
// library would refuse it (ErrBadReason) and leave the leaked token live.
// The log has the whole of it.
func fitReason(reason string) string {
	if utf8.RuneCountInString(reason) <= accesstoken.MaxDescriptionLen {
		return reason
	}
	r := []rune(reason)
	return strings.TrimRightFunc(string(r[:accesstoken.MaxDescriptionLen-1]), unicode.IsSpace) + "…"
}

// isGitPath reports whether a request path is for the git handler: any
// path with a ".git" segment end. The middleware rejects the unsafe ones.
func isGitPath(p string) bool {
	return strings.Contains(p, ".git/") || strings.HasSuffix(p, ".git")
}

// repoPageOf returns the page of the repository whose clone URL path is
// p ("/PROJECT/REPO.git"), or "" if p is not one.
func repoPageOf(p string) string {
	rest, ok := strings.CutPrefix(p, "/")
	project, name, valid := splitRepoPath(rest)
	if !ok || !valid {
		return ""
	}
	return "/" + project + "/" + name
}

// splitRepoPath splits the forge's repository path, "PROJECT/REPO.git",
// into valid project and repository names.
func splitRepoPath(p string) (project, name string, ok bool) {
	project, rest, ok := strings.Cut(p, "/")
	name, dotGit := strings.CutSuffix(rest, ".git")
	if !ok || !dotGit || checkName("project", project) != nil || checkName("repository", name) != nil {
		return "", "", false
	}
	return project, name, true
}

// gitEnv is the environment of the forge's own git commands: the
// forge's, with a fixed identity, and neither the system's git
// configuration nor prompts.
func gitEnv() []string {
	return append(os.Environ(),
		"GIT_AUTHOR_NAME=Forge", "GIT_AUTHOR_EMAIL=forge@example.invalid",
		"GIT_COMMITTER_NAME=Forge", "GIT_COMMITTER_EMAIL=forge@example.invalid",
		"GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0")
}

// runGit runs git with a clean, fixed identity.
func runGit(dir string, stdin []byte, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = gitEnv()
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("git %s: %w: %s", args[0], err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(string(out)), nil
}

// createRepo records a repository and creates its empty bare repository
// under reposDir, with the default branch main.
func createRepo(ctx context.Context, db *DB, reposDir, project, name string, private bool) (*Repo, error) {
	if err := db.AddRepo(ctx, project, name, private); err != nil {
		return nil, err
	}
	repo := &Repo{Project: project, Name: name, Private: private}
	dir := filepath.Join(reposDir, filepath.FromSlash(repo.Dir()))
	if _, err := os.Stat(dir); err == nil {
		// Left over from a repository deleted outside the forge: keep it.
		return repo, nil
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o750); err != nil {
		_ = db.DeleteRepo(ctx, project, name)
		return nil, err
	}
	if _, err := runGit("", nil, "init", "--quiet", "--bare", "--initial-branch=main", dir); err != nil {
		_ = db.DeleteRepo(ctx, project, name)
		return nil, err
	}
	return repo, nil
}

// addFirstCommit commits one README to the empty bare repository dir,
// with git's plumbing (no work tree needed).
func addFirstCommit(dir, readme string) error {
	blob, err := runGit(dir, []byte(readme), "hash-object", "-w", "--stdin")
	if err != nil {
		return err
	}
	tree, err := runGit(dir, []byte("100644 blob "+blob+"\tREADME.md\n"), "mktree")
	if err != nil {
		return err
	}
	commit, err := runGit(dir, nil, "commit-tree", tree, "-m", "Initial commit")
	if err != nil {
		return err
	}
	_, err = runGit(dir, nil, "update-ref", "refs/heads/main", commit)
	return err
}
