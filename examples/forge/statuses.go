package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/forgekit/accesstoken"
	"github.com/forgekit/accesstoken/httpauth"
)

// Commit statuses: what CI reports about a commit ("ci/build: success"),
// what Launchpad's repository:build_status scope is for. A CI job posts
// them with an access token, never a password:
//
//	POST /api/repos/PROJECT/REPO/statuses/SHA   a token with repository:build_status
//	GET  /api/repos/PROJECT/REPO/statuses/SHA   anyone who may pull the repository
//
// and the repository's page shows the latest status of each context of
// its recent commits.

// Commit status states.
var statusStates = []string{"pending", "success", "failure", "error"}

const (
	maxContextLen        = 100
	maxTargetURLLen      = 2048
	maxStatusesPerCommit = 1000 // per commit (GitHub's limit is 1,000 per commit and context)
	statusesShown        = 100  // the newest, in GET …/statuses/SHA
	defaultContext       = "default"
)

// commitStatus is a status as stored and as the API returns it.
type commitStatus struct {
	ID          string    `json:"-"`
	State       string    `json:"state"`
	Context     string    `json:"context"`
	Description string    `json:"description,omitempty"`
	TargetURL   string    `json:"target_url,omitempty"`
	Creator     string    `json:"creator"`
	CreatedAt   time.Time `json:"created_at"`
}

// errTooManyStatuses reports a commit with maxStatusesPerCommit
// statuses already.
var errTooManyStatuses = errors.New("too many statuses for this commit")

// AddStatus stores a status of the commit sha of project/repo, unless the
// commit has maxStatusesPerCommit already (errTooManyStatuses). The count
// and the insert are one step for every post to the commit, so that posts
// sent at once cannot all pass the count: a lock per commit in this
// process and, on PostgreSQL, an advisory lock in the transaction that
// does both, for the other processes sharing the database.
func (d *DB) AddStatus(ctx context.Context, project, repo, sha string, st commitStatus) error {
	key := project + "/" + repo + "@" + sha
	defer d.statusLocks.lock(key)()
	// On SQLite the forge is one process, whose lock is enough: a
	// transaction that reads and then writes could fail to become a
	// writer when another connection writes meanwhile.
	var q interface {
		ExecContext(context.Context, string, ...any) (sql.Result, error)
		QueryRowContext(context.Context, string, ...any) *sql.Row
	} = d.sql
	commit := func() error { return nil }
	if d.postgres {
		tx, err := d.sql.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(7413, hashtext($1))`, key); err != nil {
			return err
		}
		q, commit = tx, tx.Commit
	}
	var n int
	if err := q.QueryRowContext(ctx, d.q(`SELECT COUNT(*) FROM forge_commit_statuses WHERE project = ? AND repo = ? AND sha = ?`),
		project, repo, sha).Scan(&n); err != nil {
		return err
	}
	if n >= maxStatusesPerCommit {
		return errTooManyStatuses
	}
	if _, err := q.ExecContext(ctx, d.q(`INSERT INTO forge_commit_statuses (id, project, repo, sha, state, context, description, target_url, creator, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		st.ID, project, repo, sha, st.State, st.Context, st.Description, st.TargetURL, st.Creator, st.CreatedAt.UnixMicro()); err != nil {
		return err
	}
	return commit()
}

// Statuses returns up to limit statuses of the commit sha, newest first.
func (d *DB) Statuses(ctx context.Context, project, repo, sha string, limit int) ([]commitStatus, error) {
	rows, err := d.sql.QueryContext(ctx, d.q(`SELECT id, state, context, description, target_url, creator, created_at
		FROM forge_commit_statuses WHERE project = ? AND repo = ? AND sha = ?
		ORDER BY created_at DESC, id DESC LIMIT ?`), project, repo, sha, limit)
	if err != nil {
		return nil, err
	}
	return scanStatuses(rows)
}

// LatestStatuses returns, for each of the commits shas, the latest
// status of each context, by context.
func (d *DB) LatestStatuses(ctx context.Context, project, repo string, shas []string) (map[string][]commitStatus, error) {
	out := map[string][]commitStatus{}
	if len(shas) == 0 {
		return out, nil
	}
	args := []any{project, repo}
	marks := make([]string, len(shas))
	for i, s := range shas {
		marks[i] = "?"
		args = append(args, s)
	}
	rows, err := d.sql.QueryContext(ctx, d.q(`SELECT sha, id, state, context, description, target_url, creator, created_at FROM (
		SELECT *, ROW_NUMBER() OVER (PARTITION BY sha, context ORDER BY created_at DESC, id DESC) AS n
		FROM forge_commit_statuses WHERE project = ? AND repo = ? AND sha IN (`+strings.Join(marks, ", ")+`)) latest
		WHERE n = 1 ORDER BY sha, context`), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var sha string
		var st commitStatus
		var at int64
		if err := rows.Scan(&sha, &st.ID, &st.State, &st.Context, &st.Description, &st.TargetURL, &st.Creator, &at); err != nil {
			return nil, err
		}
		st.CreatedAt = time.UnixMicro(at).UTC()
		out[sha] = append(out[sha], st)
	}
	return out, rows.Err()
}

func scanStatuses(rows *sql.Rows) ([]commitStatus, error) {
	defer rows.Close()
	out := []commitStatus{}
	for rows.Next() {
		var st commitStatus
		var at int64
		if err := rows.Scan(&st.ID, &st.State, &st.Context, &st.Description, &st.TargetURL, &st.Creator, &at); err != nil {
			return nil, err
		}
		st.CreatedAt = time.UnixMicro(at).UTC()
		out = append(out, st)
	}
	return out, rows.Err()
}

// The API's routes.

// statusRoutes are the routes of commit statuses and of the token
// itself, which take access tokens (through the library's route
// middleware) rather than passwords.
func (a *api) statusRoutes() []apiRoute {
	const statuses = "/api/repos/{project}/{repo}/statuses/{sha}"
	post := a.tokenMW(httpauth.Require(a.m, httpauth.RepositoryRoute("project", "repo", a.lookupRepo), accesstoken.ScopeBuildStatus,
		a.tokenOptions("set commit statuses on", "the repository:build_status scope", true)...))
	self := a.tokenMW(httpauth.RequireToken(a.m, a.tokenOptions("", "", false)...))
	a.byToken = a.tokenMW(httpauth.RequireAny(a.m, httpauth.RepositoryRoute("project", "repo", a.lookupRepo),
		[]accesstoken.Scope{accesstoken.ScopePull, accesstoken.ScopeBuildStatus},
		a.tokenOptions("read", "the repository:pull or repository:build_status scope", false)...))(
		a.handle(func(w http.ResponseWriter, r *http.Request) error {
			acc, _ := httpauth.FromContext(r.Context())
			return a.writeStatuses(w, r, acc.Repo.Resource.Project, acc.Repo.Resource.Repository)
		}))
	return []apiRoute{
		{"POST", statuses, post(a.handle(a.postStatus))},
		{"GET", statuses, http.HandlerFunc(a.getStatuses)},
		{"GET", "/api/token", self(a.handle(a.getSelf))},
		{"DELETE", "/api/token", keepSecret(self(a.handle(a.revokeSelf)))},
	}
}

// handle turns a handler's error into the reply.
func (a *api) handle(h func(w http.ResponseWriter, r *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { a.writeErr(w, r, h(w, r)) })
}

// lookupRepo says, for the route middleware, whether a repository exists
// and is public.
func (a *api) lookupRepo(ctx context.Context, res accesstoken.Resource) (bool, error) {
	repo, err := a.db.Repo(ctx, res.Project, res.Repository)
	if errors.Is(err, errNotFound) {
		return false, httpauth.ErrRepoNotFound
	} else if err != nil {
		return false, err
	}
	return !repo.Private, nil
}

// tokenOptions are the route middleware's options: its realm, and its
// refusals as the API's JSON errors, in sentences. what is the operation,
// for a refusal by the owner's permission ("set commit statuses on");
// need says what the token needs ("the repository:build_status scope");
// noPasswords says that a password is not accepted.
func (a *api) tokenOptions(what, need string, noPasswords bool) []httpauth.Option {
	return []httpauth.Option{httpauth.WithRealm("forge API"), httpauth.WithErrorFunc(func(w http.ResponseWriter, r *http.Request, err error) {
		status := httpauth.StatusCode(err)
		if status >= 500 {
			a.log.Error("API token check", "path", r.URL.Path, "err", err)
		}
		writeError(w, status, refusalSentence(status, err, what, need, noPasswords))
	})}
}

// refusalSentence says why the route middleware refused a request.
func refusalSentence(status int, err error, what, need string, noPasswords bool) string {
	send := "Send an access token in the Authorization header: as a Bearer token, or as the password of HTTP Basic."
	if noPasswords {
		send += " Account passwords are not accepted here."
	}
	switch status {
	case http.StatusBadRequest:
		if errors.Is(err, httpauth.ErrTokenInURL) {
			return "Access tokens are not accepted in URLs, which end up in logs. " + send
		}
		return "The path is not valid."
	case http.StatusUnauthorized:
		switch {
		case errors.Is(err, accesstoken.ErrRevoked):
			return "This access token was revoked."
		case errors.Is(err, accesstoken.ErrExpired):
			return "This access token has expired."
		case errors.Is(err, accesstoken.ErrUnknownToken):
			return "This access token does not exist (any more). " + send
		case errors.Is(err, accesstoken.ErrMalformed):
			if noPasswords {
				return "Account passwords are not accepted here: send an access token with " + need + ". If this was a token, it is mistyped or truncated."
			}
			return "This is not an access token of this forge (mistyped or truncated?)."
		case errors.Is(err, httpauth.ErrBadCredentials):
			return "The Authorization header is not one this API reads. " + send
		}
		return send
	case http.StatusForbidden:
		switch {
		case errors.Is(err, accesstoken.ErrMissingScope) && need != "":
			return "This access token does not have " + need + "."
		case errors.Is(err, accesstoken.ErrWrongTarget):
			return "This access token is not for this repository."
		case errors.Is(err, accesstoken.ErrOwnerDenied) && what != "":
			return "The token's owner may not " + what + " this repository."
		}
		return "This access token may not do this."
	case http.StatusNotFound:
		return "There is no such repository."
	case http.StatusServiceUnavailable:
		return "The forge cannot check access tokens right now. Try again in a moment."
	}
	return "Something went wrong on our side. Try again later."
}

// statusBody is the body of POST …/statuses/SHA.
type statusBody struct {
	State       string `json:"state"`
	Context     string `json:"context"`
	Description string `json:"description"`
	TargetURL   string `json:"target_url"`
}

const statusExample = `{"state": "success", "context": "ci/build", "description": "Build 42 passed", "target_url": "https://ci.example.com/builds/42"}`

// postStatus stores a status that a token with repository:build_status
// sends (the middleware checked it).
func (a *api) postStatus(w http.ResponseWriter, r *http.Request) error {
	acc, ok := httpauth.FromContext(r.Context())
	if !ok {
		return errors.New("no access in the request's context")
	}
	if err := needJSON(r); err != nil {
		return err
	}
	b, err := readBody(w, r)
	if err != nil {
		return err
	}
	if b == nil {
		return fail(http.StatusBadRequest, "The body is empty. Send a JSON object such as %s.", statusExample)
	}
	var body statusBody
	if err := decodeStatus(b, &body); err != nil {
		return err
	}
	st, err := checkStatus(body)
	if err != nil {
		return err
	}
	for _, f := range []struct{ field, noun, text string }{
		{"context", "The context", st.Context}, {"description", "The description", st.Description}, {"target_url", "The target URL", st.TargetURL},
	} {
		if err := refuseLiveTokens(r.Context(), a.m, f.field, f.noun, f.text); err != nil {
			return err
		}
	}
	res := acc.Repo.Resource
	sha, err := a.commitOf(r.Context(), res.Project, res.Repository, r.PathValue("sha"))
	if err != nil {
		return err
	}
	st.ID, st.Creator, st.CreatedAt = newEventID(), acc.Owner, time.Now().UTC().Truncate(time.Microsecond)
	if err := a.db.AddStatus(r.Context(), res.Project, res.Repository, sha, st); errors.Is(err, errTooManyStatuses) {
		return fail(http.StatusUnprocessableEntity, "This commit has %d statuses, the most this forge keeps for one commit.", maxStatusesPerCommit)
	} else if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, st)
	return nil
}

// decodeStatus decodes a status's body, with sentences for a person.
func decodeStatus(b []byte, body *statusBody) error {
	return decodeJSON(b, body, "The fields are state, context, description and target_url.",
		"The body is not valid JSON. Send an object such as "+statusExample+".")
}

// checkStatus checks a status's fields: a known state; a context (by
// default "default") and a description that read as they are, as the
// forge's descriptions must; a target URL that is http or https.
func checkStatus(b statusBody) (commitStatus, error) {
	st := commitStatus{State: b.State}
	if !contains(statusStates, b.State) {
		return st, &apiError{status: http.StatusBadRequest, field: "state", msg: "state must be pending, success, failure or error."}
	}
	var err error
	if st.Context, err = statusText("context", b.Context, maxContextLen); err != nil {
		return st, err
	}
	if st.Context == "" {
		st.Context = defaultContext
	}
	if st.Description, err = statusText("description", b.Description, accesstoken.MaxDescriptionLen); err != nil {
		return st, err
	}
	if st.TargetURL, err = checkTargetURL(b.TargetURL); err != nil {
		return st, err
	}
	return st, nil
}

// statusText trims a text field of a status and checks it reads as it
// is: at most max characters of letters, marks, numbers, punctuation,
// symbols and spaces (as the forge's descriptions).
func statusText(field, s string, max int) (string, error) {
	s = strings.TrimSpace(s)
	bad := func(msg string) error { return &apiError{status: http.StatusBadRequest, field: field, msg: msg} }
	if !utf8.ValidString(s) {
		return "", bad(field + " is not valid UTF-8 text.")
	}
	if n := utf8.RuneCountInString(s); n > max {
		return "", bad(fmt.Sprintf("%s is %d characters long; the most is %d.", field, n, max))
	}
	for i, r := range []rune(s) {
		if !allowedInText(r) {
			return "", bad(fmt.Sprintf("%s contains a control, invisible or text-direction character (U+%04X, character %d), which can make it read as something else. Remove it.", field, r, i+1))
		}
	}
	return s, nil
}

// checkTargetURL checks a status's link: empty, or an absolute http or
// https URL without a user name or password, at most 2,048 bytes.
func checkTargetURL(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", nil
	}
	bad := &apiError{status: http.StatusBadRequest, field: "target_url",
		msg: "target_url must be an http or https URL, such as https://ci.example.com/builds/42."}
	if len(s) > maxTargetURLLen {
		bad.msg = fmt.Sprintf("target_url is %d bytes long; the most is %d.", len(s), maxTargetURLLen)
		return "", bad
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Opaque != "" {
		return "", bad
	}
	if u.User != nil {
		bad.msg = "target_url must not hold a user name or password: everyone who sees the status sees its link."
		return "", bad
	}
	return u.String(), nil
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if x == y {
			return true
		}
	}
	return false
}

// commitOf returns the commit sha names (40 hexadecimal digits, in lower
// case) if the repository has it, or a 422 that says why not.
func (a *api) commitOf(ctx context.Context, project, repo, sha string) (string, error) {
	sha = strings.ToLower(sha)
	if len(sha) != 40 || strings.Trim(sha, "0123456789abcdef") != "" {
		return "", fail(http.StatusUnprocessableEntity, "%q is not a commit ID: give the full one, 40 hexadecimal digits (git rev-parse HEAD prints it).", truncate(sha, 64))
	}
	dir := filepath.Join(a.reposDir, filepath.FromSlash((&Repo{Project: project, Name: repo}).Dir()))
	ok, err := hasCommit(ctx, dir, sha)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", fail(http.StatusUnprocessableEntity, "Commit %s is not in %s/%s: push it first.", sha, project, repo)
	}
	return sha, nil
}

// hasCommit reports whether the repository at dir has the commit sha.
func hasCommit(ctx context.Context, dir, sha string) (bool, error) {
	cmd := exec.CommandContext(ctx, "git", "rev-parse", "--verify", "--quiet", "--end-of-options", sha+"^{commit}")
	cmd.Dir = dir
	cmd.Env = append(gitEnv(), "GIT_DIR="+dir)
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return true, nil
	case errors.As(err, &ee) && ee.ExitCode() == 1:
		return false, nil // --verify --quiet: no such commit
	}
	return false, fmt.Errorf("git rev-parse in %s: %w", dir, err)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// getStatuses lists a commit's statuses, newest first, for anyone who may
// pull the repository: anonymously for a public one, with a token that
// has repository:pull or repository:build_status, or with a password.
func (a *api) getStatuses(w http.ResponseWriter, r *http.Request) {
	cred, found, err := httpauth.AuthorizationHeader().Credentials(r.Header)
	switch {
	case err != nil || found && (cred.Form != httpauth.FormBasicPassword || a.looksLikeToken(cred.Secret)):
		// A token, or a header only the middleware should answer.
		a.byToken.ServeHTTP(w, r)
	case found: // a user's password
		if r.URL.RawQuery != "" {
			writeError(w, http.StatusBadRequest, "This endpoint takes no query parameters.")
			return
		}
		if !a.checkPassword(w, r, cred.User, cred.Secret) {
			return
		}
		a.writeErr(w, r, a.listStatuses(w, r, cred.User))
	default: // anonymous
		if r.URL.RawQuery != "" {
			writeError(w, http.StatusBadRequest, "This endpoint takes no query parameters.")
			return
		}
		a.writeErr(w, r, a.listStatuses(w, r, ""))
	}
}

// looksLikeToken reports whether a Basic password is meant as a token:
// it has the forge's prefix (a mistyped token is then refused as one).
func (a *api) looksLikeToken(s string) bool {
	return strings.HasPrefix(s, a.m.Format().Prefix()+"_")
}

// listStatuses lists a commit's statuses for user ("" for anonymous):
// 404 for a repository that does not exist or that user may not see.
func (a *api) listStatuses(w http.ResponseWriter, r *http.Request, user string) error {
	project, name := r.PathValue("project"), r.PathValue("repo")
	repo, role, err := a.db.RepoAccess(r.Context(), project, name, user)
	if errors.Is(err, errNotFound) || err == nil && !canSee(repo, role) {
		return fail(http.StatusNotFound, "There is no such repository.")
	} else if err != nil {
		return err
	}
	return a.writeStatuses(w, r, project, name)
}

func (a *api) writeStatuses(w http.ResponseWriter, r *http.Request, project, repo string) error {
	sha, err := a.commitOf(r.Context(), project, repo, r.PathValue("sha"))
	if err != nil {
		return err
	}
	sts, err := a.db.Statuses(r.Context(), project, repo, sha, statusesShown)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, sts)
	return nil
}

// The token itself: GET /api/token says which token the request carries,
// DELETE /api/token revokes it (as GitLab's personal_access_tokens/self).
// Any live token will do, whatever its scopes.

func (a *api) getSelf(w http.ResponseWriter, r *http.Request) error {
	tok, ok := httpauth.TokenFrom(r.Context())
	if !ok {
		return errors.New("no token in the request's context")
	}
	writeJSON(w, http.StatusOK, toListed(tok, time.Now()))
	return nil
}

// secretKey is the context key of the request's token, which keepSecret
// keeps for revokeSelf: the route middleware removes the credentials
// from the request it passes on.
type secretKey struct{}

// keepSecret keeps the token a request carries in its context, read with
// the library's own parser, for the handler behind the route middleware.
// The context lives as long as the request.
func keepSecret(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c, ok, err := httpauth.AuthorizationHeader().Credentials(r.Header); err == nil && ok {
			r = r.WithContext(context.WithValue(r.Context(), secretKey{}, c.Secret))
		}
		next.ServeHTTP(w, r)
	})
}

// revokeSelf revokes the request's token, as its owner
// (Manager.RevokeSelf).
func (a *api) revokeSelf(w http.ResponseWriter, r *http.Request) error {
	secret, _ := r.Context().Value(secretKey{}).(string)
	_, err := a.m.RevokeSelf(r.Context(), secret)
	switch {
	case errors.Is(err, accesstoken.ErrRevoked), errors.Is(err, accesstoken.ErrExpired),
		errors.Is(err, accesstoken.ErrUnknownToken), errors.Is(err, accesstoken.ErrMalformed):
		// Revoked, expired or deleted since the middleware looked.
		w.Header().Set("WWW-Authenticate", `Basic realm="forge API", charset="UTF-8"`)
		return fail(http.StatusUnauthorized, "%s", refusalSentence(http.StatusUnauthorized, err, "", "", false))
	case err != nil:
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
