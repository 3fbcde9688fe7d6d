package main

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
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
// openapi.json describes it, and is served at /api/openapi.json.
//
//	POST   /api/projects/PROJECT/tokens              issue a project token
//	POST   /api/repos/PROJECT/REPO/tokens            issue a repository token
//	GET    …/tokens[?all=true][&limit=N][&cursor=C]  list, newest first (active only unless all=true)
//	GET    …/tokens/ID                               one token
//	DELETE …/tokens/ID                               revoke
//	POST   …/tokens/ID/rotate                        rotate
//	GET    /api/user/tokens…                         the caller's own tokens, and the same per-token calls
//	GET    /api/token-policy                         scopes and limits (no sign-in)
//	GET    /api/openapi.json                         this API's description (no sign-in)

//go:embed openapi.json
var openAPIDoc []byte

type api struct {
	db  *DB
	m   *accesstoken.Manager
	pw  *passwords
	pol *policy
	log *slog.Logger
}

// apiRoute is one endpoint: a method and a ServeMux path pattern.
type apiRoute struct {
	method, path string
	h            http.HandlerFunc
}

func (a *api) routeTable() []apiRoute {
	rs := []apiRoute{
		{"GET", "/api/openapi.json", a.openAPI},
		{"GET", "/api/token-policy", a.tokenPolicy},
	}
	for _, prefix := range []string{"/api/projects/{project}", "/api/repos/{project}/{repo}"} {
		rs = append(rs,
			apiRoute{"POST", prefix + "/tokens", a.auth(a.issue)},
			apiRoute{"GET", prefix + "/tokens", a.auth(a.list)},
			apiRoute{"GET", prefix + "/tokens/{id}", a.auth(a.get)},
			apiRoute{"DELETE", prefix + "/tokens/{id}", a.auth(a.revoke)},
			apiRoute{"POST", prefix + "/tokens/{id}/rotate", a.auth(a.rotate)},
		)
	}
	return append(rs,
		apiRoute{"GET", "/api/user/tokens", a.auth(a.listMine)},
		apiRoute{"GET", "/api/user/tokens/{id}", a.auth(a.getMine)},
		apiRoute{"DELETE", "/api/user/tokens/{id}", a.auth(a.revokeMine)},
		apiRoute{"POST", "/api/user/tokens/{id}/rotate", a.auth(a.rotateMine)},
	)
}

// routes returns the API's handler: every route of routeTable, 405 with
// Allow for a path that exists with another method, 404 for the rest,
// and X-Content-Type-Options: nosniff on every response.
func (a *api) routes() http.Handler {
	mux := http.NewServeMux()
	allow := map[string][]string{}
	var paths []string
	for _, rt := range a.routeTable() {
		mux.HandleFunc(rt.method+" "+rt.path, rt.h)
		if _, ok := allow[rt.path]; !ok {
			paths = append(paths, rt.path)
		}
		allow[rt.path] = append(allow[rt.path], rt.method)
		if rt.method == "GET" {
			allow[rt.path] = append(allow[rt.path], "HEAD")
		}
	}
	for _, p := range paths {
		methods := allow[p]
		slices.Sort(methods)
		mux.HandleFunc(p, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", strings.Join(methods, ", "))
			writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("%s is not allowed here; use %s.", r.Method, orList(methods)))
		})
	}
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "There is no such API endpoint. /api/openapi.json describes the API.")
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		mux.ServeHTTP(w, r)
	})
}

// orList is "A", "A or B", "A, B or C".
func orList(xs []string) string {
	if len(xs) <= 1 {
		return strings.Join(xs, "")
	}
	return strings.Join(xs[:len(xs)-1], ", ") + " or " + xs[len(xs)-1]
}

// apiError is an error with the status and the message the client sees.
type apiError struct {
	status int
	msg    string
	field  string
}

func (e *apiError) Error() string { return e.msg }

func fail(status int, format string, args ...any) error {
	return &apiError{status: status, msg: fmt.Sprintf(format, args...)}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// apiErrorBody is every error's body: a sentence for a person, and the
// request field it is about, if one.
type apiErrorBody struct {
	Error string `json:"error"`
	Field string `json:"field,omitempty"`
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, apiErrorBody{Error: msg})
}

func (a *api) openAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "max-age=3600")
	w.Write(openAPIDoc)
}

// apiPolicy is the reply of GET /api/token-policy.
type apiPolicy struct {
	Scopes                 []accesstoken.Scope `json:"scopes"`
	MaxLifetimeSeconds     *int64              `json:"max_lifetime_seconds"`
	MaxLifetimeDays        *float64            `json:"max_lifetime_days"`
	MaxActiveTokensPerUser *int                `json:"max_active_tokens_per_user"`
	DescriptionMaxLength   int                 `json:"description_max_length"`
}

func (a *api) tokenPolicy(w http.ResponseWriter, r *http.Request) {
	p := apiPolicy{Scopes: a.m.Scopes(), DescriptionMaxLength: accesstoken.MaxDescriptionLen}
	if d := a.pol.maxLifetime; d > 0 {
		secs := int64(d / time.Second)
		days := float64(d) / float64(24*time.Hour)
		p.MaxLifetimeSeconds, p.MaxLifetimeDays = &secs, &days
	}
	if a.pol.maxActive > 0 {
		p.MaxActiveTokensPerUser = &a.pol.maxActive
	}
	writeJSON(w, http.StatusOK, p)
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
				writeError(w, http.StatusTooManyRequests, "Too many failed sign-ins for this user. Try again in a few minutes.")
				return
			case errors.Is(err, errClientLimit):
				w.Header().Set("Retry-After", strconv.Itoa(int(clientEvery.Seconds())))
				writeError(w, http.StatusTooManyRequests, "Too many password checks from your address. Try again in a few seconds.")
				return
			case errors.Is(err, errBusy):
				w.Header().Set("Retry-After", "1")
				writeError(w, http.StatusServiceUnavailable, "Too many sign-ins at once. Try again in a moment.")
				return
			case err != nil:
				a.log.Error("API sign-in", "err", err)
				writeError(w, http.StatusServiceUnavailable, "The forge cannot check passwords right now. Try again in a moment.")
				return
			}
			ok = good
		}
		if !ok {
			w.Header().Set("WWW-Authenticate", `Basic realm="forge API", charset="UTF-8"`)
			writeError(w, http.StatusUnauthorized, "Sign in with your user name and password as HTTP Basic credentials. Access tokens are not accepted here.")
			return
		}
		err := h(w, r, user)
		var ae *apiError
		var fe *fieldError
		switch {
		case err == nil:
		case errors.As(err, &ae):
			writeJSON(w, ae.status, apiErrorBody{Error: ae.msg, Field: ae.field})
		case errors.As(err, &fe):
			status := http.StatusBadRequest
			if fe.Conflict {
				status = http.StatusConflict
			}
			field := fe.Field
			if field == "expires" {
				field = "expires_at"
			}
			writeJSON(w, status, apiErrorBody{Error: fe.Msg, Field: field})
		case errors.Is(err, accesstoken.ErrForbidden):
			writeError(w, http.StatusForbidden, "You may not manage the tokens of this "+targetKind(r)+".")
		case errors.Is(err, accesstoken.ErrNotFound):
			writeError(w, http.StatusNotFound, "There is no such token.")
		case errors.Is(err, accesstoken.ErrRevoked), errors.Is(err, accesstoken.ErrExpired):
			writeError(w, http.StatusConflict, "This token was revoked or has expired, so it cannot be rotated. Create a new one.")
		case errors.Is(err, accesstoken.ErrInvalidInput):
			writeError(w, http.StatusBadRequest, "The request is not valid.")
		case accesstoken.Temporary(err):
			a.log.Error("API", "path", r.URL.Path, "err", err)
			writeError(w, http.StatusServiceUnavailable, "The forge cannot answer right now. Try again in a moment.")
		default:
			a.log.Error("API", "path", r.URL.Path, "err", err)
			writeError(w, http.StatusInternalServerError, "Something went wrong on our side. Try again later.")
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
			return accesstoken.Target{}, RoleNone, fail(http.StatusNotFound, "There is no such project.")
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
			return accesstoken.Target{}, RoleNone, fail(http.StatusNotFound, "There is no such project.")
		} else if perr != nil {
			return accesstoken.Target{}, RoleNone, perr
		}
		return accesstoken.Target{}, RoleNone, fail(http.StatusNotFound, "There is no such repository.")
	} else if err != nil {
		return accesstoken.Target{}, RoleNone, err
	}
	if !canSee(rp, role) {
		return accesstoken.Target{}, RoleNone, fail(http.StatusNotFound, "There is no such repository.")
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

// apiListedToken is a token as lists and GET …/tokens/ID show it.
type apiListedToken struct {
	apiToken
	State      string     `json:"state"` // active, revoked or expired
	LastUsedAt *time.Time `json:"last_used_at"`
	RevokedAt  *time.Time `json:"revoked_at"`
	RevokedBy  *string    `json:"revoked_by"`
	ReplacedBy *string    `json:"replaced_by"` // the token that replaced a rotated one
}

// apiTokenList is a page of a list.
type apiTokenList struct {
	Tokens     []apiListedToken `json:"tokens"`
	NextCursor *string          `json:"next_cursor"`
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func optString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
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

func toListed(t accesstoken.Token, now time.Time) apiListedToken {
	out := apiListedToken{apiToken: toAPI(t), State: tokenState(t, now),
		LastUsedAt: optTime(t.LastUsedAt), RevokedAt: optTime(t.RevokedAt), RevokedBy: optString(t.RevokedBy)}
	if t.ReplacedBy != uuid.Nil {
		out.ReplacedBy = optString(t.ReplacedBy.String())
	}
	return out
}

type issueBody struct {
	Description string   `json:"description"`
	Scopes      []string `json:"scopes"`
	ExpiresAt   string   `json:"expires_at"`
}

// needJSON refuses (415) a request body that is not sent as
// application/json.
func needJSON(r *http.Request) error {
	ct := r.Header.Get("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	if ct == "" || err != nil || mt != "application/json" {
		return &apiError{status: http.StatusUnsupportedMediaType,
			msg: "Send the body as JSON, with the header Content-Type: application/json."}
	}
	return nil
}

// decodeIssue reads the body of a POST …/tokens, with errors a person
// can act on.
func decodeIssue(w http.ResponseWriter, r *http.Request) (issueBody, error) {
	var body issueBody
	const example = `{"description": "CI", "scopes": ["repository:pull"], "expires_at": "2030-01-02T15:04:05Z"}`
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	err := dec.Decode(&body)
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var tooBig *http.MaxBytesError
	switch {
	case err == nil:
	case errors.Is(err, io.EOF):
		return body, fail(http.StatusBadRequest, "The body is empty. Send a JSON object such as %s.", example)
	case errors.As(err, &tooBig):
		return body, fail(http.StatusRequestEntityTooLarge, "The body is larger than 64 KiB.")
	case errors.As(err, &syn), errors.Is(err, io.ErrUnexpectedEOF):
		return body, fail(http.StatusBadRequest, "The body is not valid JSON. Send an object such as %s.", example)
	case errors.As(err, &typ):
		msg := "The body must be a JSON object such as " + example + "."
		switch typ.Field {
		case "description":
			msg = "description must be a string."
		case "scopes", "scopes.0", "scopes.1", "scopes.2":
			msg = `scopes must be a list of scope names, such as ["repository:pull", "repository:push"].`
		case "expires_at":
			msg = "expires_at must be a string: an RFC 3339 time such as 2030-01-02T15:04:05Z."
		default:
			if strings.HasPrefix(typ.Field, "scopes") {
				msg = `scopes must be a list of scope names, such as ["repository:pull", "repository:push"].`
			}
		}
		e := &apiError{status: http.StatusBadRequest, msg: msg}
		if f, _, _ := strings.Cut(typ.Field, "."); f != "" {
			e.field = f
		}
		return body, e
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.TrimPrefix(err.Error(), "json: unknown field ")
		return body, fail(http.StatusBadRequest, "Unknown field %s. The fields are description, scopes and expires_at.", name)
	default:
		return body, fail(http.StatusBadRequest, "The body is not a JSON object such as %s.", example)
	}
	if _, err := dec.Token(); err != io.EOF {
		return body, fail(http.StatusBadRequest, "The body must hold one JSON object, and nothing after it.")
	}
	return body, nil
}

func (a *api) issue(w http.ResponseWriter, r *http.Request, user string) error {
	target, err := a.target(r, user)
	if err != nil {
		return err
	}
	if err := needJSON(r); err != nil {
		return err
	}
	body, err := decodeIssue(w, r)
	if err != nil {
		return err
	}
	var expires time.Time
	if body.ExpiresAt != "" {
		if expires, err = time.Parse(time.RFC3339, body.ExpiresAt); err != nil {
			return &apiError{status: http.StatusBadRequest, field: "expires_at",
				msg: "expires_at must be an RFC 3339 time, such as 2030-01-02T15:04:05Z."}
		}
	}
	scopes := make([]accesstoken.Scope, len(body.Scopes))
	for i, s := range body.Scopes {
		scopes[i] = accesstoken.Scope(s)
	}
	iss, err := a.pol.issue(r.Context(), user, target, body.Description, scopes, expires)
	if err != nil {
		return err
	}
	out := toAPI(iss.Token)
	out.Secret = iss.Secret.Reveal()
	writeJSON(w, http.StatusCreated, out)
	return nil
}

// listQuery reads ?all=, ?limit= and ?cursor=.
func listQuery(r *http.Request) (all bool, limit int, cursor string, err error) {
	q := r.URL.Query()
	switch q.Get("all") {
	case "", "false":
	case "true":
		all = true
	default:
		return false, 0, "", &apiError{status: http.StatusBadRequest, field: "all", msg: "all must be true or false."}
	}
	limit = defaultPageSize
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxPageSize {
			return false, 0, "", &apiError{status: http.StatusBadRequest, field: "limit",
				msg: fmt.Sprintf("limit must be a whole number from 1 to %d.", maxPageSize)}
		}
		limit = n
	}
	return all, limit, q.Get("cursor"), nil
}

// writeList writes one page of toks.
func writeList(w http.ResponseWriter, toks []accesstoken.Token, cursor string, limit int) error {
	p, err := paginate(toks, cursor, limit)
	if err != nil {
		return err
	}
	now := time.Now()
	out := apiTokenList{Tokens: make([]apiListedToken, len(p.Tokens)), NextCursor: optString(p.Next)}
	for i, t := range p.Tokens {
		out.Tokens[i] = toListed(t, now)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (a *api) list(w http.ResponseWriter, r *http.Request, user string) error {
	all, limit, cursor, err := listQuery(r)
	if err != nil {
		return err
	}
	target, err := a.target(r, user)
	if err != nil {
		return err
	}
	toks, err := a.m.ListForTarget(r.Context(), user, target, accesstoken.ListOptions{IncludeInactive: all})
	if err != nil {
		return err
	}
	return writeList(w, toks, cursor, limit)
}

func (a *api) listMine(w http.ResponseWriter, r *http.Request, user string) error {
	all, limit, cursor, err := listQuery(r)
	if err != nil {
		return err
	}
	toks, err := a.m.ListForOwner(r.Context(), user, accesstoken.ListOptions{IncludeInactive: all})
	if err != nil {
		return err
	}
	return writeList(w, toks, cursor, limit)
}

var errNoToken = fail(http.StatusNotFound, "There is no such token.")

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
		return accesstoken.Token{}, errNoToken
	}
	tok, err := a.m.Get(r.Context(), user, id)
	if errors.Is(err, accesstoken.ErrNotFound) {
		toks, lerr := a.m.ListForTarget(r.Context(), user, target, accesstoken.ListOptions{IncludeInactive: true})
		if lerr == nil && slices.ContainsFunc(toks, func(t accesstoken.Token) bool { return t.ID == id }) {
			return accesstoken.Token{}, fail(http.StatusForbidden, "You may see this token but not manage it: it is a project token of someone else.")
		}
		return accesstoken.Token{}, errNoToken
	} else if err != nil {
		return accesstoken.Token{}, err
	}
	if !covers(target, tok.Target) {
		return accesstoken.Token{}, errNoToken
	}
	return tok, nil
}

// myToken returns the caller's own token that ID names, or 404.
func (a *api) myToken(r *http.Request, user string) (accesstoken.Token, error) {
	id, err := uuid.Parse(r.PathValue("id"))
	if err != nil {
		return accesstoken.Token{}, errNoToken
	}
	tok, err := a.m.Get(r.Context(), user, id)
	if errors.Is(err, accesstoken.ErrNotFound) || err == nil && tok.Owner != user {
		return accesstoken.Token{}, errNoToken
	}
	return tok, err
}

// covers reports whether a token of target tt is listed under target t.
func covers(t, tt accesstoken.Target) bool {
	return tt == t || !t.IsProject() && tt == accesstoken.ProjectTarget(t.Project)
}

func (a *api) get(w http.ResponseWriter, r *http.Request, user string) error {
	tok, err := a.getVisible(r, user)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toListed(tok, time.Now()))
	return nil
}

// getVisible returns a token listed under the request's target: what
// tokenOf returns, and also a project token of someone else that a
// write member sees listed under a repository.
func (a *api) getVisible(r *http.Request, user string) (accesstoken.Token, error) {
	target, err := a.target(r, user)
	if err != nil {
		return accesstoken.Token{}, err
	}
	id, err := uuid.Parse(r.PathValue("id"))
	if err != nil {
		return accesstoken.Token{}, errNoToken
	}
	toks, err := a.m.ListForTarget(r.Context(), user, target, accesstoken.ListOptions{IncludeInactive: true})
	if err != nil {
		return accesstoken.Token{}, err
	}
	for _, t := range toks {
		if t.ID == id {
			return t, nil
		}
	}
	return accesstoken.Token{}, errNoToken
}

func (a *api) getMine(w http.ResponseWriter, r *http.Request, user string) error {
	tok, err := a.myToken(r, user)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toListed(tok, time.Now()))
	return nil
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

// revokeMine revokes one of the caller's tokens: its owner may always,
// even after losing access to its target.
func (a *api) revokeMine(w http.ResponseWriter, r *http.Request, user string) error {
	tok, err := a.myToken(r, user)
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
	return a.rotateToken(w, r, user, tok)
}

func (a *api) rotateMine(w http.ResponseWriter, r *http.Request, user string) error {
	tok, err := a.myToken(r, user)
	if err != nil {
		return err
	}
	return a.rotateToken(w, r, user, tok)
}

func (a *api) rotateToken(w http.ResponseWriter, r *http.Request, user string, tok accesstoken.Token) error {
	iss, err := a.m.Rotate(r.Context(), user, tok.ID)
	if errors.Is(err, accesstoken.ErrForbidden) {
		return fail(http.StatusForbidden, "Only the token's owner may rotate it, and only while allowed to manage the tokens of %s.", targetLabel(tok.Target))
	} else if err != nil {
		return err
	}
	out := toAPI(iss.Token)
	out.Secret = iss.Secret.Reveal()
	writeJSON(w, http.StatusCreated, out)
	return nil
}
