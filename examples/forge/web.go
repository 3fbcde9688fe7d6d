package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"embed"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"mime"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/forgekit/accesstoken"
)

// The web pages: server-rendered html/template, one stylesheet and one
// small script served from the binary, no external resources.

//go:embed templates/*.html static/*
var assets embed.FS

var templates = template.Must(template.New("").Funcs(template.FuncMap{
	"when": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format("2006-01-02 15:04 UTC")
	},
	"scopeLabel":   scopeLabel,
	"activityTime": activityTime,
	"targetLabel": func(t accesstoken.Target) string {
		if t.IsProject() {
			return t.Project + " (project)"
		}
		return t.Project + "/" + t.Repository
	},
}).ParseFS(assets, "templates/*.html"))

// scopeLabel is how a scope reads on the pages.
func scopeLabel(s accesstoken.Scope) string {
	switch s {
	case accesstoken.ScopePull:
		return "Pull"
	case accesstoken.ScopePush:
		return "Push"
	case accesstoken.ScopeBuildStatus:
		return "Build status"
	}
	return string(s)
}

const (
	sessionCookie = "forge_session"
	loginCookie   = "forge_login" // CSRF token of the sign-in form
)

type web struct {
	db  *DB
	m   *accesstoken.Manager
	pw  *passwords
	pol *policy
	log *slog.Logger
	// base is the forge's URL as clients reach it (-public-url, or the
	// listening address), with no trailing slash: clone URLs start
	// with it. It never comes from the request's Host header, which is
	// the client's to choose.
	base string
	// secure marks the cookies Secure: the forge is reached over HTTPS
	// (through a proxy that terminates TLS).
	secure bool
	// reposDir holds the bare repositories, whose recent commits the
	// repository pages show.
	reposDir string
}

func (s *web) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.page(s.home))
	mux.HandleFunc("GET /login", s.page(s.loginForm))
	mux.HandleFunc("POST /login", s.page(s.login))
	mux.HandleFunc("POST /logout", s.page(s.logout))
	mux.HandleFunc("GET /{project}", s.page(s.project))
	mux.HandleFunc("GET /{project}/{repo}", s.page(s.repo))
	mux.HandleFunc("POST /{project}/-/members", s.page(s.setMember))
	mux.HandleFunc("GET /{project}/-/activity", s.page(s.activity))
	// The tokens pages: a target's ("/alpha/-/tokens", "/alpha/one/-/tokens")
	// and the signed-in user's own ("/-/tokens"). GET …/ID shows a token
	// on a page of its own; GET …/ID/revoke and …/ID/rotate ask first,
	// and the form they show posts to the same URL.
	for _, prefix := range []string{"/-/tokens", "/{project}/-/tokens", "/{project}/{repo}/-/tokens"} {
		mux.HandleFunc("GET "+prefix, s.page(s.tokens))
		if prefix != "/-/tokens" {
			mux.HandleFunc("POST "+prefix, s.page(s.createToken))
		}
		mux.HandleFunc("GET "+prefix+"/{id}", s.page(s.showToken))
		for _, action := range []string{"revoke", "rotate"} {
			mux.HandleFunc("GET "+prefix+"/{id}/"+action, s.page(s.confirmAction))
			mux.HandleFunc("POST "+prefix+"/{id}/"+action, s.page(s.doAction))
		}
	}
	// The stylesheet and script, outside the mux: "/static/x" would
	// otherwise clash with "/{project}/{repo}" ("static" is a reserved
	// project name).
	sub, _ := fs.Sub(assets, "static")
	static := http.StripPrefix("/static/", http.FileServerFS(sub))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/static/") && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
			w.Header().Set("Cache-Control", "max-age=3600")
			static.ServeHTTP(w, r)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// request is what every page handler gets: the signed-in user ("" for
// none) and the session's CSRF token.
type request struct {
	*http.Request
	User, CSRF string
	// SessionKey identifies the session in the database ("" for none).
	SessionKey string
}

type pageFunc func(w http.ResponseWriter, r *request) error

// httpError is an error page with a status.
type httpError struct {
	status int
	msg    string
}

func (e *httpError) Error() string { return e.msg }

var errPageNotFound = &httpError{http.StatusNotFound, "Not found."}

// page looks up the session, checks the CSRF token of POST requests, sets
// the security headers and renders errors.
func (s *web) page(h pageFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		hdr := w.Header()
		hdr.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		hdr.Set("X-Content-Type-Options", "nosniff")
		hdr.Set("Referrer-Policy", "same-origin")
		hdr.Set("Cache-Control", "no-store")
		req := &request{Request: r}
		if c, err := r.Cookie(sessionCookie); err == nil {
			user, csrf, err := s.db.Session(r.Context(), c.Value)
			if err != nil {
				s.renderError(w, req, err)
				return
			}
			req.User, req.CSRF = user, csrf
			if user != "" {
				req.SessionKey = sessionKey(c.Value)
			}
		}
		if r.Method == http.MethodPost {
			if err := readForm(w, r); err != nil {
				s.renderError(w, req, err)
				return
			}
		} else {
			// No other method has a body to read, and FormValue would
			// read a multipart one whatever the method.
			r.Body = http.NoBody
		}
		if r.Method == http.MethodPost && r.URL.Path != "/login" {
			if req.User == "" || !sameToken(r.PostFormValue("csrf"), req.CSRF) {
				s.renderError(w, req, &httpError{http.StatusForbidden, "Your session has expired or the form is stale. Go back, reload the page and try again."})
				return
			}
		}
		if err := h(w, req); err != nil {
			s.renderError(w, req, err)
		}
	}
}

// maxFormBytes bounds the body of a web form: the largest of the forge's
// forms, a token's, holds a description and a date.
const maxFormBytes = 64 << 10

// readForm reads the body of a form post, which must be a web form
// (application/x-www-form-urlencoded: the forge's forms send nothing
// else) of at most maxFormBytes, before anything looks at its fields. The
// default of net/http would read a urlencoded body of up to 10 MB into
// memory, and keep a multipart body's files in memory up to 32 MB and on
// disk beyond that.
func readForm(w http.ResponseWriter, r *http.Request) error {
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct != "application/x-www-form-urlencoded" {
		return &httpError{http.StatusUnsupportedMediaType, "This address takes the forge's own forms only."}
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return &httpError{http.StatusRequestEntityTooLarge, "The form is too large."}
		}
		return &httpError{http.StatusBadRequest, "The form could not be read."}
	}
	return nil
}

func sameToken(a, b string) bool {
	return a != "" && b != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

func (s *web) render(w http.ResponseWriter, status int, name string, data map[string]any) error {
	var buf bytes.Buffer
	if err := templates.ExecuteTemplate(&buf, name, data); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, err := buf.WriteTo(w)
	return err
}

func (s *web) renderError(w http.ResponseWriter, r *request, err error) {
	var he *httpError
	if !errors.As(err, &he) {
		s.log.Error("web", "path", r.URL.Path, "err", err)
		he = &httpError{http.StatusInternalServerError, "Something went wrong on our side. Try again later."}
		if accesstoken.Temporary(err) {
			he.status = http.StatusServiceUnavailable
		}
	}
	_ = s.render(w, he.status, "error.html", map[string]any{"User": r.User, "CSRF": r.CSRF,
		"Title": http.StatusText(he.status), "Message": he.msg, "Next": r.URL.Path})
}

// data returns the template data every page needs.
func (r *request) data(title string) map[string]any {
	return map[string]any{"User": r.User, "CSRF": r.CSRF, "Title": title}
}

func randomToken() string { return rand.Text() }

// Sign in and out.

func (s *web) loginForm(w http.ResponseWriter, r *request) error {
	if r.User != "" {
		http.Redirect(w, r.Request, "/", http.StatusSeeOther)
		return nil
	}
	return s.showLogin(w, r, http.StatusOK, "")
}

func (s *web) showLogin(w http.ResponseWriter, r *request, status int, msg string) error {
	token := randomToken()
	http.SetCookie(w, &http.Cookie{Name: loginCookie, Value: token, Path: "/login", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: s.secure, MaxAge: 3600})
	d := r.data("Sign in")
	d["LoginCSRF"], d["Error"], d["Next"] = token, msg, safeNext(r.FormValue("next"))
	return s.render(w, status, "login.html", d)
}

// safeNext keeps the redirect after signing in on this site: next if it
// is the path of one of the forge's pages, "/" otherwise. Only such
// paths pass (names of the forge's alphabet between single slashes), so
// nothing a browser might read as another site ("//host", "/\\host",
// "/\t/host", whose tab browsers drop) gets through.
func safeNext(next string) string {
	if isPagePath(next) {
		return next
	}
	return "/"
}

// isPagePath reports whether p is the path of one of the forge's pages:
// "/", "/-/tokens", "/PROJECT", "/PROJECT/REPO", and their "/-/tokens".
func isPagePath(p string) bool {
	rest, ok := strings.CutPrefix(p, "/")
	switch {
	case !ok:
		return false
	case rest == "" || rest == "-/tokens":
		return true
	}
	rest = strings.TrimSuffix(rest, "/-/tokens")
	segs := strings.Split(rest, "/")
	return len(segs) <= 2 && validName(segs...)
}

func (s *web) login(w http.ResponseWriter, r *request) error {
	c, err := r.Cookie(loginCookie)
	if err != nil || !sameToken(r.PostFormValue("csrf"), c.Value) {
		return s.showLogin(w, r, http.StatusForbidden, "The sign-in form expired. Please try again.")
	}
	user := r.PostFormValue("username")
	ok, err := s.pw.CheckRequest(r.Request, user, r.PostFormValue("password"))
	switch {
	case errors.Is(err, errTooManyFailures):
		w.Header().Set("Retry-After", strconv.Itoa(int(failureWindow.Seconds())))
		return s.showLogin(w, r, http.StatusTooManyRequests, "Too many failed sign-ins for this user. Try again in a few minutes.")
	case errors.Is(err, errClientLimit):
		w.Header().Set("Retry-After", strconv.Itoa(int(clientEvery.Seconds())))
		return s.showLogin(w, r, http.StatusTooManyRequests, "Too many sign-in attempts from your address. Try again in a few seconds.")
	case errors.Is(err, errBusy):
		w.Header().Set("Retry-After", "1")
		return s.showLogin(w, r, http.StatusServiceUnavailable, "Too many sign-ins at once. Try again in a moment.")
	case err != nil:
		return err
	}
	if !ok {
		return s.showLogin(w, r, http.StatusUnauthorized, "Wrong user name or password.")
	}
	cookie := randomToken()
	if err := s.db.NewSession(r.Context(), cookie, user, randomToken()); err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: cookie, Path: "/", HttpOnly: true,
		SameSite: http.SameSiteLaxMode, Secure: s.secure, MaxAge: int(sessionLifetime.Seconds())})
	http.SetCookie(w, &http.Cookie{Name: loginCookie, Path: "/login", MaxAge: -1, HttpOnly: true, Secure: s.secure})
	http.Redirect(w, r.Request, safeNext(r.PostFormValue("next")), http.StatusSeeOther)
	return nil
}

func (s *web) logout(w http.ResponseWriter, r *request) error {
	if c, err := r.Cookie(sessionCookie); err == nil {
		if err := s.db.DeleteSession(r.Context(), c.Value); err != nil {
			return err
		}
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: s.secure})
	http.Redirect(w, r.Request, "/", http.StatusSeeOther)
	return nil
}

// Projects and repositories.

type repoRow struct {
	Repo
	CloneURL string
}

// cloneURL is the URL git clones repo from.
func (s *web) cloneURL(repo *Repo) string { return s.base + "/" + repo.Dir() }

func (s *web) home(w http.ResponseWriter, r *request) error {
	projects, err := s.db.Projects(r.Context())
	if err != nil {
		return err
	}
	d := r.data("Projects")
	d["Projects"] = projects
	return s.render(w, http.StatusOK, "home.html", d)
}

// visibleRepos lists the repositories of project that r.User may see.
func (s *web) visibleRepos(ctx context.Context, r *request, project string, role Role) ([]repoRow, error) {
	repos, err := s.db.Repos(ctx, project)
	if err != nil {
		return nil, err
	}
	var rows []repoRow
	for _, rp := range repos {
		if canSee(&rp, role) {
			rows = append(rows, repoRow{rp, s.cloneURL(&rp)})
		}
	}
	return rows, nil
}

// projectRole loads the project named in the URL and the signed-in user's
// role in it; an unknown project is errPageNotFound.
func (s *web) projectRole(r *request) (*Project, Role, error) {
	p, err := s.db.Project(r.Context(), r.PathValue("project"))
	if errors.Is(err, errNotFound) {
		return nil, 0, errPageNotFound
	} else if err != nil {
		return nil, 0, err
	}
	role, err := s.db.Role(r.Context(), p.Name, r.User)
	if err != nil {
		return nil, 0, err
	}
	return p, role, nil
}

func (s *web) project(w http.ResponseWriter, r *request) error {
	p, role, err := s.projectRole(r)
	if err != nil {
		return err
	}
	repos, err := s.visibleRepos(r.Context(), r, p.Name, role)
	if err != nil {
		return err
	}
	d := r.data(p.Name)
	d["Project"], d["Repos"], d["Role"] = p, repos, role.String()
	d["CanManage"] = mayManage(accesstoken.ProjectTarget(p.Name), role)
	if role >= RoleAdmin {
		if d["Members"], err = s.db.Members(r.Context(), p.Name); err != nil {
			return err
		}
		d["Roles"] = []string{"read", "write", "admin"}
	}
	return s.render(w, http.StatusOK, "project.html", d)
}

// setMember adds, changes or removes (role "none") a member: admins only.
// The change applies to the member's tokens on their next use.
func (s *web) setMember(w http.ResponseWriter, r *request) error {
	p, role, err := s.projectRole(r)
	if err != nil {
		return err
	}
	if role < RoleAdmin {
		return &httpError{http.StatusForbidden, "Only the project's admins may manage its members."}
	}
	newRole, err := parseRole(r.PostFormValue("role"))
	if err == nil {
		err = s.db.SetMember(r.Context(), p.Name, strings.TrimSpace(r.PostFormValue("user")), newRole)
	}
	if errors.Is(err, errInvalid) || errors.Is(err, errNotFound) {
		return &httpError{http.StatusBadRequest, "Could not change the member: " + err.Error() + "."}
	} else if err != nil {
		return err
	}
	http.Redirect(w, r.Request, "/"+p.Name, http.StatusSeeOther)
	return nil
}

func (s *web) repo(w http.ResponseWriter, r *request) error {
	project, name := r.PathValue("project"), r.PathValue("repo")
	rp, role, err := s.db.RepoAccess(r.Context(), project, name, r.User)
	if errors.Is(err, errNotFound) {
		return errPageNotFound
	} else if err != nil {
		return err
	}
	if !canSee(rp, role) {
		return errPageNotFound
	}
	d := r.data(project + "/" + name)
	d["Repo"], d["CloneURL"] = rp, s.cloneURL(rp)
	d["CanManage"] = mayManage(accesstoken.RepositoryTarget(project, name), role)
	commits, err := recentCommits(filepath.Join(s.reposDir, filepath.FromSlash(rp.Dir())), recentCommitsShown)
	if err != nil {
		return err
	}
	shas := make([]string, len(commits))
	for i, c := range commits {
		shas[i] = c.SHA
	}
	statuses, err := s.db.LatestStatuses(r.Context(), project, name, shas)
	if err != nil {
		return err
	}
	for i := range commits {
		commits[i].Statuses = statuses[commits[i].SHA]
	}
	d["Commits"] = commits
	return s.render(w, http.StatusOK, "repo.html", d)
}

const recentCommitsShown = 10

// commit is a commit as the repository page shows it.
type commit struct {
	SHA, Author, Subject string
	When                 time.Time
	Statuses             []commitStatus // the latest of each context
}

// Short is the commit's abbreviated ID.
func (c commit) Short() string { return c.SHA[:10] }

// recentCommits returns the n most recent commits of the default branch
// (HEAD) of the bare repository dir, none if it has no commit yet.
func recentCommits(dir string, n int) ([]commit, error) {
	if _, err := runGit(dir, nil, "rev-parse", "--verify", "--quiet", "HEAD^{commit}"); err != nil {
		return nil, nil // an empty repository (its HEAD names no commit yet)
	}
	// Fields end with NUL: the author and the subject are the pusher's
	// to choose, and hold anything but NUL.
	out, err := runGit(dir, nil, "log", "-n", strconv.Itoa(n), "--no-show-signature", "--format=%H%x00%an%x00%at%x00%s%x00", "HEAD", "--")
	if err != nil {
		return nil, err
	}
	fields := strings.Split(out, "\x00")
	var cs []commit
	for i := 0; i+3 < len(fields); i += 4 {
		secs, _ := strconv.ParseInt(fields[i+2], 10, 64)
		cs = append(cs, commit{SHA: strings.TrimSpace(fields[i]), Author: fields[i+1], When: time.Unix(secs, 0).UTC(), Subject: fields[i+3]})
	}
	return cs, nil
}
