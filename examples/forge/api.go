package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/forgekit/accesstoken"
)

// The JSON API. It authenticates with the user's name and password as
// HTTP Basic, never with an access token: a leaked token cannot mint more.
//
//	POST   /api/projects/PROJECT/tokens              issue a project token
//	POST   /api/repos/PROJECT/REPO/tokens            issue a repository token
//	GET    …/tokens[?all=true]                       list (active only unless all=true)
//	DELETE …/tokens/ID                               revoke
//	POST   …/tokens/ID/rotate                        rotate

type api struct {
	db  *DB
	m   *accesstoken.Manager
	pw  *passwords
	log *slog.Logger
}

func (a *api) routes() http.Handler {
	mux := http.NewServeMux()
	for _, prefix := range []string{"/api/projects/{project}", "/api/repos/{project}/{repo}"} {
		mux.HandleFunc("POST "+prefix+"/tokens", a.auth(a.issue))
		mux.HandleFunc("GET "+prefix+"/tokens", a.auth(a.list))
		mux.HandleFunc("DELETE "+prefix+"/tokens/{id}", a.auth(a.revoke))
		mux.HandleFunc("POST "+prefix+"/tokens/{id}/rotate", a.auth(a.rotate))
	}
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such API endpoint")
	})
	return mux
}

// apiError is an error with the status and the message the client sees.
type apiError struct {
	status int
	msg    string
}

func (e *apiError) Error() string { return e.msg }

func fail(status int, format string, args ...any) error {
	return &apiError{status, fmt.Sprintf(format, args...)}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

type handlerFunc func(w http.ResponseWriter, r *http.Request, user string) error

// auth checks the Basic credentials and turns errors into replies.
func (a *api) auth(h handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		user, pass, ok := r.BasicAuth()
		if ok {
			good, err := a.pw.CheckRequest(r, user, pass)
			switch {
			case errors.Is(err, errTooManyFailures):
				w.Header().Set("Retry-After", strconv.Itoa(int(failureWindow.Seconds())))
				writeError(w, http.StatusTooManyRequests, err.Error())
				return
			case errors.Is(err, errClientLimit):
				w.Header().Set("Retry-After", strconv.Itoa(int(clientEvery.Seconds())))
				writeError(w, http.StatusTooManyRequests, err.Error())
				return
			case errors.Is(err, errBusy):
				w.Header().Set("Retry-After", "1")
				writeError(w, http.StatusServiceUnavailable, err.Error())
				return
			case err != nil:
				a.log.Error("API sign-in", "err", err)
				writeError(w, http.StatusServiceUnavailable, "temporarily unavailable")
				return
			}
			ok = good
		}
		if !ok {
			w.Header().Set("WWW-Authenticate", `Basic realm="forge API", charset="UTF-8"`)
			writeError(w, http.StatusUnauthorized, "sign in with your user name and password as HTTP Basic credentials (access tokens are not accepted here)")
			return
		}
		err := h(w, r, user)
		var ae *apiError
		switch {
		case err == nil:
		case errors.As(err, &ae):
			writeError(w, ae.status, ae.msg)
		case errors.Is(err, accesstoken.ErrInvalidInput):
			writeError(w, http.StatusBadRequest, err.Error())
		case errors.Is(err, accesstoken.ErrForbidden):
			writeError(w, http.StatusForbidden, "you may not manage the tokens of this "+targetKind(r))
		case errors.Is(err, accesstoken.ErrNotFound):
			writeError(w, http.StatusNotFound, "token not found")
		case errors.Is(err, accesstoken.ErrRevoked), errors.Is(err, accesstoken.ErrExpired):
			writeError(w, http.StatusConflict, err.Error())
		case accesstoken.Temporary(err):
			a.log.Error("API", "path", r.URL.Path, "err", err)
			writeError(w, http.StatusServiceUnavailable, "temporarily unavailable")
		default:
			a.log.Error("API", "path", r.URL.Path, "err", err)
			writeError(w, http.StatusInternalServerError, "internal error")
		}
	}
}

func targetKind(r *http.Request) string {
	if r.PathValue("repo") != "" {
		return "repository"
	}
	return "project"
}

// target returns the request's target after checking that user may see
// it: an unknown project or repository, or a private repository user may
// not read, is 404, so that private repositories cannot be probed.
func (a *api) target(r *http.Request, user string) (accesstoken.Target, error) {
	t, _, err := resolveTarget(r.Context(), a.db, r.PathValue("project"), r.PathValue("repo"), user)
	return t, err
}

// resolveTarget returns the target a request names and user's role in its
// project, or a 404 apiError if the project or the repository does not
// exist or user may not see the repository.
func resolveTarget(ctx context.Context, db *DB, project, repo, user string) (accesstoken.Target, Role, error) {
	if repo == "" {
		if _, err := db.Project(ctx, project); errors.Is(err, errNotFound) {
			return accesstoken.Target{}, RoleNone, fail(http.StatusNotFound, "project not found")
		} else if err != nil {
			return accesstoken.Target{}, RoleNone, err
		}
		role, err := db.Role(ctx, project, user)
		return accesstoken.ProjectTarget(project), role, err
	}
	rp, role, err := db.RepoAccess(ctx, project, repo, user)
	if errors.Is(err, errNotFound) {
		// Say which is missing, as for a project target.
		if _, perr := db.Project(ctx, project); errors.Is(perr, errNotFound) {
			return accesstoken.Target{}, RoleNone, fail(http.StatusNotFound, "project not found")
		} else if perr != nil {
			return accesstoken.Target{}, RoleNone, perr
		}
		return accesstoken.Target{}, RoleNone, fail(http.StatusNotFound, "repository not found")
	} else if err != nil {
		return accesstoken.Target{}, RoleNone, err
	}
	if !canSee(rp, role) {
		return accesstoken.Target{}, RoleNone, fail(http.StatusNotFound, "repository not found")
	}
	return accesstoken.RepositoryTarget(project, repo), role, nil
}

// Wire format.

type apiTarget struct {
	Project    string `json:"project"`
	Repository string `json:"repository,omitempty"`
}

type apiToken struct {
	ID          string              `json:"id"`
	Secret      string              `json:"token,omitempty"`
	Description string              `json:"description"`
	Scopes      []accesstoken.Scope `json:"scopes"`
	Owner       string              `json:"owner"`
	Target      apiTarget           `json:"target"`
	CreatedAt   time.Time           `json:"created_at"`
	ExpiresAt   *time.Time          `json:"expires_at"`
}

type apiListedToken struct {
	apiToken
	LastUsedAt *time.Time `json:"last_used_at"`
	RevokedAt  *time.Time `json:"revoked_at"`
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func toAPI(t accesstoken.Token) apiToken {
	return apiToken{
		ID:          t.ID.String(),
		Description: t.Description,
		Scopes:      t.Scopes.List(), // a JSON array of names, as before
		Owner:       t.Owner,
		Target:      apiTarget{Project: t.Target.Project, Repository: t.Target.Repository},
		CreatedAt:   t.CreatedAt,
		ExpiresAt:   optTime(t.ExpiresAt),
	}
}

type issueBody struct {
	Description string   `json:"description"`
	Scopes      []string `json:"scopes"`
	ExpiresAt   string   `json:"expires_at"`
}

func (a *api) issue(w http.ResponseWriter, r *http.Request, user string) error {
	target, err := a.target(r, user)
	if err != nil {
		return err
	}
	var body issueBody
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		return fail(http.StatusBadRequest, "bad JSON: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return fail(http.StatusBadRequest, "bad JSON: more than one value")
	}
	var expires time.Time
	if body.ExpiresAt != "" {
		if expires, err = time.Parse(time.RFC3339, body.ExpiresAt); err != nil {
			return fail(http.StatusBadRequest, "expires_at: want an RFC 3339 time such as 2030-01-02T15:04:05Z")
		}
	}
	scopes := make([]accesstoken.Scope, len(body.Scopes))
	for i, s := range body.Scopes {
		scopes[i] = accesstoken.Scope(s)
	}
	iss, err := a.m.Issue(r.Context(), accesstoken.IssueRequest{
		Owner: user, Description: body.Description, Target: target, Scopes: scopes, ExpiresAt: expires,
	})
	if err != nil {
		return err
	}
	out := toAPI(iss.Token)
	out.Secret = iss.Secret.Reveal()
	writeJSON(w, http.StatusCreated, out)
	return nil
}

func (a *api) list(w http.ResponseWriter, r *http.Request, user string) error {
	target, err := a.target(r, user)
	if err != nil {
		return err
	}
	toks, err := a.m.ListForTarget(r.Context(), user, target, accesstoken.ListOptions{
		IncludeInactive: r.URL.Query().Get("all") == "true",
	})
	if err != nil {
		return err
	}
	out := make([]apiListedToken, len(toks))
	for i, t := range toks {
		out[i] = apiListedToken{toAPI(t), optTime(t.LastUsedAt), optTime(t.RevokedAt)}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// tokenOf returns the token ID names if it belongs to the request's
// target: one of the target's own tokens or, for a repository, a project
// token that covers it. Otherwise, or if user may not see it, 404; 403
// when user may list it but not act on it (a write member and a project
// token of someone else).
func (a *api) tokenOf(r *http.Request, user string) (accesstoken.Token, error) {
	target, err := a.target(r, user)
	if err != nil {
		return accesstoken.Token{}, err
	}
	id, err := uuid.Parse(r.PathValue("id"))
	if err != nil {
		return accesstoken.Token{}, fail(http.StatusNotFound, "token not found")
	}
	tok, err := a.m.Get(r.Context(), user, id)
	if errors.Is(err, accesstoken.ErrNotFound) {
		toks, lerr := a.m.ListForTarget(r.Context(), user, target, accesstoken.ListOptions{IncludeInactive: true})
		if lerr == nil && slices.ContainsFunc(toks, func(t accesstoken.Token) bool { return t.ID == id }) {
			return accesstoken.Token{}, fail(http.StatusForbidden, "you may not manage this token")
		}
		return accesstoken.Token{}, fail(http.StatusNotFound, "token not found")
	} else if err != nil {
		return accesstoken.Token{}, err
	}
	if !covers(target, tok.Target) {
		return accesstoken.Token{}, fail(http.StatusNotFound, "token not found")
	}
	return tok, nil
}

// covers reports whether a token of target tt is listed under target t.
func covers(t, tt accesstoken.Target) bool {
	return tt == t || !t.IsProject() && tt == accesstoken.ProjectTarget(t.Project)
}

func (a *api) revoke(w http.ResponseWriter, r *http.Request, user string) error {
	tok, err := a.tokenOf(r, user)
	if err != nil {
		return err
	}
	if _, err := a.m.Revoke(r.Context(), user, tok.ID); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *api) rotate(w http.ResponseWriter, r *http.Request, user string) error {
	tok, err := a.tokenOf(r, user)
	if err != nil {
		return err
	}
	iss, err := a.m.Rotate(r.Context(), user, tok.ID)
	if errors.Is(err, accesstoken.ErrForbidden) {
		msg := strings.TrimPrefix(err.Error(), "accesstoken: ")
		return fail(http.StatusForbidden, "%s", msg)
	} else if err != nil {
		return err
	}
	out := toAPI(iss.Token)
	out.Secret = iss.Secret.Reveal()
	writeJSON(w, http.StatusCreated, out)
	return nil
}
