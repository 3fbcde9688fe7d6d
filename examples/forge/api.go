package main

import (
	"bytes"
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

// The JSON API. Its token routes authenticate with the user's name and
// password as HTTP Basic, never with an access token: a leaked token
// cannot mint more. Commit statuses and the token itself take access
// tokens (statuses.go). openapi.json describes it, and is served at
// /api/openapi.json.
//
//	POST   /api/projects/PROJECT/tokens              issue a project token
//	POST   /api/repos/PROJECT/REPO/tokens            issue a repository token
//	GET    …/tokens[?state=…][&expiring_before=…][&limit=N][&cursor=C]  a page of the list, newest first (active only by default)
//	GET    …/tokens/ID                               one token
//	DELETE …/tokens/ID                               revoke
//	POST   …/tokens/ID/rotate                        rotate
//	GET    /api/user/tokens…                         the caller's own tokens, and the same per-token calls
//	GET    /api/token-policy                         scopes and limits (no sign-in)
//	POST   /api/repos/PROJECT/REPO/statuses/SHA      a commit status (a token with repository:build_status)
//	GET    /api/repos/PROJECT/REPO/statuses/SHA      a commit's statuses (anyone who may pull)
//	GET    /api/token, DELETE /api/token             the token the request carries (any live token)
//	GET    /api/openapi.json                         this API's description (no sign-in)

//go:embed openapi.json
var openAPIDoc []byte

type api struct {
	db       *DB
	m        *accesstoken.Manager
	pw       *passwords
	pol      *policy
	log      *slog.Logger
	reposDir string // the bare repositories, for commit statuses

	byToken  http.Handler // GET …/statuses/SHA with a token (statusRoutes builds it)
	buildErr error        // the first error building a route's middleware
}

// tokenMW returns a route middleware that httpauth built, or, when building
// it failed, one that answers 500, keeping the error in a.buildErr: the
// forge does not start with one (see routes).
func (a *api) tokenMW(mw func(http.Handler) http.Handler, err error) func(http.Handler) http.Handler {
	if err != nil {
		if a.buildErr == nil {
			a.buildErr = err
		}
		return func(http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				writeError(w, http.StatusInternalServerError, "This endpoint is not set up.")
			})
		}
	}
	return mw
}

// apiRoute is one endpoint: a method and a ServeMux path pattern.
type apiRoute struct {
	method, path string
	h            http.Handler
}

func (a *api) routeTable() []apiRoute {
	rs := []apiRoute{
		{"GET", "/api/openapi.json", http.HandlerFunc(a.openAPI)},
		{"GET", "/api/token-policy", http.HandlerFunc(a.tokenPolicy)},
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
	rs = append(rs,
		apiRoute{"GET", "/api/user/tokens", a.auth(a.listMine)},
		apiRoute{"GET", "/api/user/tokens/{id}", a.auth(a.getMine)},
		apiRoute{"DELETE", "/api/user/tokens/{id}", a.auth(a.revokeMine)},
		apiRoute{"POST", "/api/user/tokens/{id}/rotate", a.auth(a.rotateMine)},
	)
	return append(rs, a.statusRoutes()...)
}

// routes returns the API's handler: every route of routeTable, 405 with
// Allow for a path that exists with another method, 404 for the rest,
// and X-Content-Type-Options: nosniff on every response.
func (a *api) routes() (http.Handler, error) {
	mux := http.NewServeMux()
	allow := map[string][]string{}
	var paths []string
	for _, rt := range a.routeTable() {
		mux.Handle(rt.method+" "+rt.path, rt.h)
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
	if a.buildErr != nil {
		return nil, a.buildErr
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		mux.ServeHTTP(w, r)
	}), nil
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
		if !ok {
			a.askPassword(w)
			return
		}
		if !a.checkPassword(w, r, user, pass) {
			return
		}
		a.writeErr(w, r, h(w, r, user))
	}
}

// askPassword answers 401: the request needs the user's password.
func (a *api) askPassword(w http.ResponseWriter) {
	w.Header().Set("WWW-Authenticate", `Basic realm="forge API", charset="UTF-8"`)
	writeError(w, http.StatusUnauthorized, "Sign in with your user name and password as HTTP Basic credentials. Access tokens are not accepted here.")
}

// checkPassword checks user's password, within the limits on password
// checks, and reports whether it is right; when not, it has answered.
func (a *api) checkPassword(w http.ResponseWriter, r *http.Request, user, pass string) bool {
	good, err := a.pw.CheckRequest(r, user, pass)
	switch {
	case errors.Is(err, errTooManyFailures):
		w.Header().Set("Retry-After", strconv.Itoa(int(failureWindow.Seconds())))
		writeError(w, http.StatusTooManyRequests, "Too many failed sign-ins for this user. Try again in a few minutes.")
	case errors.Is(err, errClientLimit):
		w.Header().Set("Retry-After", strconv.Itoa(int(clientEvery.Seconds())))
		writeError(w, http.StatusTooManyRequests, "Too many password checks from your address. Try again in a few seconds.")
	case errors.Is(err, errBusy):
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusServiceUnavailable, "Too many sign-ins at once. Try again in a moment.")
	case err != nil:
		a.log.Error("API sign-in", "err", err)
		writeError(w, http.StatusServiceUnavailable, "The forge cannot check passwords right now. Try again in a moment.")
	case !good:
		a.askPassword(w)
	default:
		return true
	}
	return false
}

// writeErr answers a handler's error, if any: an apiError or a fieldError
// as it says, the library's errors as sentences, 503 for a temporary
// failure, 500 for the rest (logged).
func (a *api) writeErr(w http.ResponseWriter, r *http.Request, err error) {
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
		w.Header().Set("Retry-After", "5")
		writeError(w, http.StatusServiceUnavailable, "The forge cannot answer right now. Try again in a moment.")
	default:
		a.log.Error("API", "path", r.URL.Path, "err", err)
		writeError(w, http.StatusInternalServerError, "Something went wrong on our side. Try again later.")
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

// Wire format: a token is the library's JSON form (Token.MarshalJSON:
// snake_case keys, RFC 3339 times in UTC, left out when zero or empty),
// with its state in lists; an issued or rotated token is its
// Issued.RevealJSON, with the secret as "token".

type apiTarget struct {
	Project    string `json:"project"`
	Repository string `json:"repository,omitempty"`
}

// listedToken is a token as lists and GET …/tokens/ID show it: the
// library's JSON form and "state", one of active, revoked and expired.
type listedToken struct {
	tok   accesstoken.Token
	state string
}

func (l listedToken) MarshalJSON() ([]byte, error) {
	b, err := l.tok.MarshalJSON()
	if err != nil {
		return nil, err
	}
	st, _ := json.Marshal(l.state)
	// b is an object: add the key before its closing brace.
	out := append(b[:len(b)-1:len(b)-1], `,"state":`...)
	return append(append(out, st...), '}'), nil
}

func toListed(t accesstoken.Token, now time.Time) listedToken {
	return listedToken{tok: t, state: tokenState(t, now)}
}

// apiTokenList is a page of a list.
type apiTokenList struct {
	Tokens     []listedToken `json:"tokens"`
	NextCursor *string       `json:"next_cursor"`
}

func optString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// writeIssued writes a new token with its secret (201).
func writeIssued(w http.ResponseWriter, iss *accesstoken.Issued) error {
	b, err := iss.RevealJSON()
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, json.RawMessage(b))
	return nil
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
		switch {
		case typ.Field == "description":
			msg = "description must be a string."
		case typ.Field == "scopes", strings.HasPrefix(typ.Field, "scopes."):
			msg = `scopes must be a list of scope names, such as ["repository:pull", "repository:push"].`
		case typ.Field == "expires_at":
			msg = "expires_at must be a string: an RFC 3339 time such as 2030-01-02T15:04:05Z."
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
	return writeIssued(w, iss)
}

// listQuery reads the options of a list, newest first: ?state= (active,
// the default; inactive; all), ?all=true (state=all, as before state
// existed), ?expiring_before= (an RFC 3339 time), ?limit= and ?cursor=.
func listQuery(r *http.Request) (accesstoken.ListOptions, error) {
	q := r.URL.Query()
	o := accesstoken.ListOptions{Order: listOrder}
	switch q.Get("all") {
	case "", "false":
	case "true":
		o.State = accesstoken.StateAll
	default:
		return o, &apiError{status: http.StatusBadRequest, field: "all", msg: "all must be true or false."}
	}
	if s := q.Get("state"); s != "" {
		st, ok := map[string]accesstoken.State{"active": accesstoken.StateActive, "inactive": accesstoken.StateInactive, "all": accesstoken.StateAll}[s]
		if !ok {
			return o, &apiError{status: http.StatusBadRequest, field: "state", msg: "state must be active, inactive or all."}
		}
		if q.Get("all") == "true" && st != accesstoken.StateAll {
			return o, &apiError{status: http.StatusBadRequest, field: "state", msg: "all=true and state=" + s + " ask for different tokens: use state alone."}
		}
		o.State = st
	}
	if s := q.Get("expiring_before"); s != "" {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil || t.Year() > 9999 {
			return o, &apiError{status: http.StatusBadRequest, field: "expiring_before",
				msg: "expiring_before must be an RFC 3339 time, such as 2030-01-02T15:04:05Z."}
		}
		o.ExpiringBefore = t
	}
	o.Limit = defaultPageSize
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxPageSize {
			return o, &apiError{status: http.StatusBadRequest, field: "limit",
				msg: fmt.Sprintf("limit must be a whole number from 1 to %d.", maxPageSize)}
		}
		o.Limit = n
	}
	o.Cursor = q.Get("cursor")
	return o, nil
}

// writeList writes one page of a list.
func writeList(w http.ResponseWriter, p accesstoken.Page, err error) error {
	if err != nil {
		return pageError(err)
	}
	now := time.Now()
	out := apiTokenList{Tokens: make([]listedToken, len(p.Tokens)), NextCursor: optString(p.Next)}
	for i, t := range p.Tokens {
		out.Tokens[i] = toListed(t, now)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (a *api) list(w http.ResponseWriter, r *http.Request, user string) error {
	opts, err := listQuery(r)
	if err != nil {
		return err
	}
	target, err := a.target(r, user)
	if err != nil {
		return err
	}
	p, err := a.m.PageForTarget(r.Context(), user, target, opts)
	return writeList(w, p, err)
}

func (a *api) listMine(w http.ResponseWriter, r *http.Request, user string) error {
	opts, err := listQuery(r)
	if err != nil {
		return err
	}
	p, err := a.m.PageForOwner(r.Context(), user, opts)
	return writeList(w, p, err)
}

var errNoToken = fail(http.StatusNotFound, "There is no such token.")

// tokenOf returns the token ID names if it belongs to the request's
// target (one of the target's own tokens or, for a repository, a project
// token that covers it) and user may act on it: its owner, or one who
// may manage its target. Otherwise 404; 403 when user sees it listed but
// may not act on it (a write member and a project token of someone
// else).
func (a *api) tokenOf(r *http.Request, user string) (accesstoken.Token, error) {
	target, role, err := resolveTarget(r.Context(), a.db, r.PathValue("project"), r.PathValue("repo"), user)
	if err != nil {
		return accesstoken.Token{}, err
	}
	id, err := uuid.Parse(r.PathValue("id"))
	if err != nil {
		return accesstoken.Token{}, errNoToken
	}
	tok, err := a.m.Get(r.Context(), user, id)
	switch {
	case errors.Is(err, accesstoken.ErrNotFound):
		if mayManage(target, role) {
			if _, ok, err := listedProjectToken(r.Context(), a.m, target, id); err != nil {
				return accesstoken.Token{}, err
			} else if ok {
				return accesstoken.Token{}, fail(http.StatusForbidden, "You may see this token but not manage it: it is a project token of someone else.")
			}
		}
		return accesstoken.Token{}, errNoToken
	case err != nil:
		return accesstoken.Token{}, err
	case !covers(target, tok.Target):
		return accesstoken.Token{}, errNoToken
	}
	return tok, nil
}

// listedProjectToken finds the token id among the project tokens that
// the list of target, a repository, shows to those who may manage its
// tokens: what Manager.Get does not return to a write member who does
// not own it. One page of the project's tokens at a time (PageAll, by
// the forge for a user it checked may see them).
func listedProjectToken(ctx context.Context, m *accesstoken.Manager, target accesstoken.Target, id uuid.UUID) (accesstoken.Token, bool, error) {
	if target.IsProject() {
		return accesstoken.Token{}, false, nil
	}
	project := accesstoken.ProjectTarget(target.Project)
	var found *accesstoken.Token
	errFound := errors.New("found")
	err := allPages(accesstoken.ListOptions{State: accesstoken.StateAll}, func(o accesstoken.ListOptions) (accesstoken.Page, error) {
		return m.PageAll(ctx, accesstoken.TokenFilter{Target: &project}, o)
	}, func(toks []accesstoken.Token) error {
		for i := range toks {
			if toks[i].ID == id {
				found = &toks[i]
				return errFound
			}
		}
		return nil
	})
	if found != nil {
		return *found, true, nil
	}
	return accesstoken.Token{}, false, err
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

// get shows a token listed under the request's target, to those who may
// manage the target's tokens (403 for others): one of its own, or, for a
// repository, a project token that covers it.
func (a *api) get(w http.ResponseWriter, r *http.Request, user string) error {
	target, role, err := resolveTarget(r.Context(), a.db, r.PathValue("project"), r.PathValue("repo"), user)
	if err != nil {
		return err
	}
	if !mayManage(target, role) {
		return accesstoken.ErrForbidden
	}
	id, err := uuid.Parse(r.PathValue("id"))
	if err != nil {
		return errNoToken
	}
	tok, err := a.m.Get(r.Context(), user, id)
	if errors.Is(err, accesstoken.ErrNotFound) {
		var ok bool
		if tok, ok, err = listedProjectToken(r.Context(), a.m, target, id); err == nil && !ok {
			err = errNoToken
		}
	}
	if err != nil {
		return err
	}
	if !covers(target, tok.Target) {
		return errNoToken
	}
	writeJSON(w, http.StatusOK, toListed(tok, time.Now()))
	return nil
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
	return a.revokeToken(w, r, user, tok)
}

// revokeMine revokes one of the caller's tokens: its owner may always,
// even after losing access to its target.
func (a *api) revokeMine(w http.ResponseWriter, r *http.Request, user string) error {
	tok, err := a.myToken(r, user)
	if err != nil {
		return err
	}
	return a.revokeToken(w, r, user, tok)
}

// revokeToken revokes tok, with the reason the body gives, if any.
func (a *api) revokeToken(w http.ResponseWriter, r *http.Request, user string, tok accesstoken.Token) error {
	reason, err := a.readReason(w, r)
	if err != nil {
		return err
	}
	if _, err := a.m.RevokeWithReason(r.Context(), user, tok.ID, reason); errors.Is(err, accesstoken.ErrBadReason) {
		return reasonError(reason)
	} else if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// readBody reads a small optional JSON body (at most 64 KiB): nil for an
// empty one, which needs no Content-Type.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<10))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return nil, fail(http.StatusRequestEntityTooLarge, "The body is larger than 64 KiB.")
	case err != nil:
		return nil, fail(http.StatusBadRequest, "The body could not be read.")
	case len(bytes.TrimSpace(b)) == 0:
		return nil, nil
	}
	return b, needJSON(r)
}

// decodeOptional decodes an optional body into v (a pointer to a struct
// of string fields), with sentences for a person; example is a body to
// show.
func decodeOptional(b []byte, v any, example string) error {
	return decodeJSON(b, v, "The body is empty, or "+example+".", "The body must be empty, or a JSON object such as "+example+".")
}

// decodeJSON decodes one JSON object into v (a pointer to a struct of
// string fields) and nothing after it, answering a bad body with a
// sentence for a person: the field of the wrong type, or the unknown
// field followed by fields (what the body may hold), or invalid.
func decodeJSON(b []byte, v any, fields, invalid string) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	var typ *json.UnmarshalTypeError
	switch {
	case err == nil:
		if _, err := dec.Token(); err != io.EOF {
			return fail(http.StatusBadRequest, "The body must hold one JSON object, and nothing after it.")
		}
		return nil
	case errors.As(err, &typ) && typ.Field != "":
		return &apiError{status: http.StatusBadRequest, field: typ.Field, msg: typ.Field + " must be a string."}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return fail(http.StatusBadRequest, "Unknown field %s. %s", strings.TrimPrefix(err.Error(), "json: unknown field "), fields)
	}
	return fail(http.StatusBadRequest, "%s", invalid)
}

// readReason reads the optional body of a revocation, {"reason": "…"}:
// without one, the token is revoked without a reason.
func (a *api) readReason(w http.ResponseWriter, r *http.Request) (string, error) {
	b, err := readBody(w, r)
	if err != nil || b == nil {
		return "", err
	}
	var body struct {
		Reason string `json:"reason"`
	}
	if err := decodeOptional(b, &body, `{"reason": "no longer used"}`); err != nil {
		return "", err
	}
	reason, err := checkReason(body.Reason)
	if err == nil {
		err = refuseLiveTokens(r.Context(), a.m, "reason", "The reason", reason)
	}
	return reason, err
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

// rotateToken rotates tok: with the same expiry, or with the one the
// optional body gives ({"expires_at": "…"}, as GitLab's rotate takes).
func (a *api) rotateToken(w http.ResponseWriter, r *http.Request, user string, tok accesstoken.Token) error {
	b, err := readBody(w, r)
	if err != nil {
		return err
	}
	var body struct {
		ExpiresAt *string `json:"expires_at"`
	}
	if b != nil {
		if err := decodeOptional(b, &body, `{"expires_at": "2030-01-02T15:04:05Z"}`); err != nil {
			return err
		}
	}
	var iss *accesstoken.Issued
	if body.ExpiresAt == nil {
		iss, err = a.m.Rotate(r.Context(), user, tok.ID)
	} else {
		exp, perr := time.Parse(time.RFC3339, *body.ExpiresAt)
		if perr != nil {
			return &apiError{status: http.StatusBadRequest, field: "expires_at",
				msg: "expires_at must be an RFC 3339 time, such as 2030-01-02T15:04:05Z."}
		}
		iss, err = a.m.RotateWithExpiry(r.Context(), user, tok.ID, exp)
	}
	if errors.Is(err, accesstoken.ErrBadExpiry) {
		return a.pol.expiryError(err)
	} else if errors.Is(err, accesstoken.ErrForbidden) {
		return fail(http.StatusForbidden, "Only the token's owner may rotate it, and only while allowed to manage the tokens of %s.", targetLabel(tok.Target))
	} else if err != nil {
		return err
	}
	return writeIssued(w, iss)
}
