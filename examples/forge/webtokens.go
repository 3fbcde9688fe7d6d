package main

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/forgekit/accesstoken"
)

// The tokens pages: a project's or a repository's ("/alpha/-/tokens",
// "/alpha/one/-/tokens"), for those who may manage its tokens, and the
// signed-in user's own ("/-/tokens"). Each lists the active tokens and,
// in a section of their own, the revoked and expired ones, a page at a
// time as the library reads them (newest first, as GitHub and GitLab list
// tokens: accesstoken.NewestFirst), and each token has a
// page of its own. Creating, rotating and revoking redirect back to the
// list (Post/Redirect/Get), which then shows what happened once, with
// the new secret after creating or rotating.

const inactivePageSize = 20

// tokenScope is what a tokens page is about.
type tokenScope struct {
	Mine   bool // the signed-in user's own tokens
	Target accesstoken.Target
	Role   Role // the user's role in the target's project
	Path   string
}

// Label names the page's tokens in a sentence.
func (sc *tokenScope) Label() string {
	if sc.Mine {
		return "your tokens"
	}
	return targetLabel(sc.Target)
}

// tokenScopeOf resolves the page's target, which only those who may
// manage its tokens see; others get 404 (a private repository) or a
// sign-in prompt. "Your tokens" needs a signed-in user.
func (s *web) tokenScopeOf(r *request) (*tokenScope, error) {
	if r.PathValue("project") == "" {
		if r.User == "" {
			return nil, &httpError{http.StatusUnauthorized, "Sign in to see your access tokens."}
		}
		return &tokenScope{Mine: true, Path: "/-/tokens"}, nil
	}
	t, role, err := resolveTarget(r.Context(), s.db, r.PathValue("project"), r.PathValue("repo"), r.User)
	var ae *apiError
	if errors.As(err, &ae) {
		return nil, errPageNotFound
	} else if err != nil {
		return nil, err
	}
	if r.User == "" {
		return nil, &httpError{http.StatusUnauthorized, "Sign in to manage access tokens."}
	}
	if !mayManage(t, role) {
		return nil, &httpError{http.StatusForbidden, "You may not manage the access tokens of " + targetLabel(t) + "."}
	}
	return &tokenScope{Target: t, Role: role, Path: tokensPath(t)}, nil
}

func targetLabel(t accesstoken.Target) string {
	if t.IsProject() {
		return "project " + t.Project
	}
	return t.Project + "/" + t.Repository
}

// actorLabel is who did something to a token, as the pages say it: a
// user's name, or, for the forge itself (a system actor, named with
// accesstoken.SystemActor), what it was: "push protection", "repository
// scan".
func actorLabel(actor string) string {
	if name, ok := strings.CutPrefix(actor, accesstoken.SystemActorPrefix); ok && accesstoken.IsSystemActor(actor) {
		return strings.ReplaceAll(name, "-", " ")
	}
	return actor
}

// reasonText is a revocation reason as the pages show it, beside who
// revoked: without the name of the system actor that revoked when the
// reason starts with it ("push protection: pushed to …").
func reasonText(actor, reason string) string {
	if accesstoken.IsSystemActor(actor) {
		if rest, ok := strings.CutPrefix(reason, actorLabel(actor)+": "); ok && rest != "" {
			r, n := utf8.DecodeRuneInString(rest)
			return string(unicode.ToUpper(r)) + rest[n:]
		}
	}
	return reason
}

func tokensPath(t accesstoken.Target) string {
	if t.IsProject() {
		return "/" + t.Project + "/-/tokens"
	}
	return "/" + t.Project + "/" + t.Repository + "/-/tokens"
}

// tokenPage returns a page of the tokens of the page: the user's own, or the
// target's (for a repository, with the project tokens that cover it).
func (s *web) tokenPage(r *request, sc *tokenScope, opts accesstoken.ListOptions) (accesstoken.Page, error) {
	if sc.Mine {
		return s.m.PageForOwner(r.Context(), r.User, opts)
	}
	return s.m.PageForTarget(r.Context(), r.User, sc.Target, opts)
}

// tokenView is a token as a row of a list shows it.
type tokenView struct {
	accesstoken.Token
	ProjectWide bool // a project token on a repository's page
	CanRevoke   bool
	CanRotate   bool
	CanOpen     bool   // its page (…/tokens/ID) shows it to the user
	Base        string // the token's URL: …/tokens/ID
	State       string // active, revoked or expired
	ExpiresIn   string // "in 3 days"
	Soon        bool   // 7 days or fewer left
	Mine        bool   // listed on "Your tokens"
	ListPath    string // the list's page
}

// RevokedByText is who revoked the token, as the pages say it (see
// actorLabel).
func (v tokenView) RevokedByText() string { return actorLabel(v.RevokedBy) }

// ReasonText is why the token was revoked, as the pages say it (see
// reasonText).
func (v tokenView) ReasonText() string { return reasonText(v.RevokedBy, v.RevocationReason) }

// HasSuccessor reports whether the token was rotated: revoked and
// replaced by another.
func (v tokenView) HasSuccessor() bool { return v.ReplacedBy != uuid.Nil }

// Name is the token's description, or "untitled" for tokens made before
// descriptions were required.
func (v tokenView) Name() string {
	if v.Description == "" {
		return "untitled"
	}
	return v.Description
}

func (s *web) view(r *request, sc *tokenScope, t accesstoken.Token, now time.Time) tokenView {
	v := tokenView{Token: t, State: tokenState(t, now), Base: sc.Path + "/" + t.ID.String(), Mine: sc.Mine, ListPath: sc.Path}
	if sc.Mine {
		v.CanRevoke = true
		v.CanRotate = true // the library refuses it if the owner lost the right
	} else {
		v.ProjectWide = t.Target.IsProject() && !sc.Target.IsProject()
		v.CanRevoke = t.Owner == r.User || mayManage(t.Target, sc.Role)
		v.CanRotate = t.Owner == r.User && mayManage(t.Target, sc.Role)
	}
	// The token's own page, and its successor's, are for its owner and
	// those who may manage its target.
	v.CanOpen = sc.Mine || t.Owner == r.User || mayManage(t.Target, sc.Role)
	if v.State != "active" {
		v.CanRevoke, v.CanRotate = false, false
	}
	if !t.ExpiresAt.IsZero() && v.State == "active" {
		left := t.ExpiresAt.Sub(now)
		days := int(left / (24 * time.Hour)) // whole days left, as shown
		switch {
		case left < time.Hour:
			v.ExpiresIn = "expires in less than an hour"
		case left < 24*time.Hour:
			v.ExpiresIn = "expires in " + plural(int(left/time.Hour), "hour", "hours")
		default:
			v.ExpiresIn = "expires in " + plural(days, "day", "days")
		}
		v.Soon = days <= 7
	}
	return v
}

// notice is what happened, shown once at the top of a list.
type notice struct {
	Kind     string // created, rotated, revoked
	Token    tokenView
	Secret   string
	CloneURL string
	// Projectwide marks a project token: the message says it applies to
	// every repository of the project.
	ProjectWide bool
}

// expiryPreset is one choice of the form's expiry.
type expiryPreset struct {
	Value, Label, Through string
	Note                  string // in brackets after the label
	Checked, Disabled     bool
}

// expiryField is a form's expiry choices, as the "expiryField" template
// shows them: the presets, the date typed, the dates allowed, and the
// error.
type expiryField struct {
	Presets                               []expiryPreset
	Date, Today, LastDay, Lifetime, Error string
}

// expiryField returns the expiry choices of a form, chosen (and date)
// checked, lead before the presets (rotating offers "keep").
func (s *web) expiryField(chosen, date, errMsg string, now time.Time, lead ...expiryPreset) expiryField {
	f := expiryField{Presets: s.presets(chosen, now, lead...), Date: date, Today: now.UTC().Format(time.DateOnly), Error: errMsg}
	if latest := s.pol.latestExpiry(now); !latest.IsZero() {
		f.LastDay = latest.Format(time.DateOnly)
		f.Lifetime = lifetimeText(s.pol.maxLifetime)
	}
	return f
}

// keepPreset is the choice to rotate tok keeping its expiry (capped, as
// the library does, at the maximum lifetime from now).
func (s *web) keepPreset(tok accesstoken.Token, now time.Time) expiryPreset {
	exp := tok.ExpiresAt
	if latest := s.pol.latestExpiry(now); !latest.IsZero() && (exp.IsZero() || exp.After(latest)) {
		exp = latest
	}
	note := "never expires"
	if !exp.IsZero() {
		note = "until " + exp.UTC().Format("2006-01-02 15:04 UTC")
	}
	return expiryPreset{Value: "keep", Label: "Unchanged", Note: note}
}

// tokenForm is what the create form holds: what was typed, and errors.
type tokenForm struct {
	Description string
	Scopes      map[accesstoken.Scope]bool
	Expiry      string // 7, 30, 60, 90, custom, none
	Date        string // the custom date
	Errors      map[string]string
	Error       string // not about one field
}

var presetDays = []int{7, 30, 60, 90}

const defaultPreset = "30"

// presets returns the expiry choices for a form, after lead, the chosen
// one checked.
// Those the maximum lifetime does not allow are left out ("none" is shown
// disabled, saying why).
func (s *web) presets(chosen string, now time.Time, lead ...expiryPreset) []expiryPreset {
	out := slices.Clone(lead)
	latest := s.pol.latestExpiry(now)
	for _, d := range presetDays {
		day := now.UTC().AddDate(0, 0, d)
		exp, ok := s.pol.expiryThrough(day, now)
		if !ok {
			continue
		}
		out = append(out, expiryPreset{Value: strconv.Itoa(d), Label: strconv.Itoa(d) + " days",
			Through: exp.Format(time.DateOnly)})
	}
	out = append(out, expiryPreset{Value: "custom", Label: "On a date"})
	none := expiryPreset{Value: "none", Label: "Never"}
	if !latest.IsZero() {
		none.Disabled = true
		none.Through = "not allowed here: tokens expire within " + lifetimeText(s.pol.maxLifetime)
	}
	out = append(out, none)
	found := false
	for i := range out {
		if out[i].Value == chosen && !out[i].Disabled {
			out[i].Checked, found = true, true
		}
	}
	if !found {
		// The default, or the longest preset allowed, or a date.
		best := -1
		for i, p := range out {
			if p.Value == defaultPreset {
				best = i
				break
			}
			if _, err := strconv.Atoi(p.Value); err == nil {
				best = i
			}
		}
		if best < 0 {
			best = len(out) - 2 // custom
		}
		out[best].Checked = true
	}
	return out
}

// tokens shows a tokens page.
func (s *web) tokens(w http.ResponseWriter, r *request) error {
	sc, err := s.tokenScopeOf(r)
	if err != nil {
		if sc == nil && r.PathValue("project") == "" && r.User == "" {
			http.Redirect(w, r.Request, "/login?next=/-/tokens", http.StatusSeeOther)
			return nil
		}
		return err
	}
	return s.showTokens(w, r, sc, http.StatusOK, nil, nil)
}

// showTokens renders a tokens page: the flashes waiting for it (or
// direct, the notices of this response), the create form (with what was
// typed and its errors, or empty), and the lists.
func (s *web) showTokens(w http.ResponseWriter, r *request, sc *tokenScope, status int, direct []flash, form *tokenForm) error {
	now := time.Now()
	q := r.URL.Query()
	limit := defaultPageSize
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > maxPageSize {
			return &httpError{http.StatusBadRequest, fmt.Sprintf("The page size (limit) must be a whole number from 1 to %d.", maxPageSize)}
		}
		limit = n
	}
	badPage := &httpError{http.StatusBadRequest, "This page of tokens does not exist: go back to the first page."}
	active, err := s.tokenPage(r, sc, accesstoken.ListOptions{State: accesstoken.StateActive, Order: listOrder, Limit: limit, Cursor: q.Get("cursor")})
	if errors.Is(err, accesstoken.ErrBadListOptions) {
		return badPage
	} else if err != nil {
		return err
	}
	inactive, err := s.tokenPage(r, sc, accesstoken.ListOptions{State: accesstoken.StateInactive, Order: listOrder, Limit: min(limit, inactivePageSize), Cursor: q.Get("inactive_cursor")})
	if errors.Is(err, accesstoken.ErrBadListOptions) {
		return badPage
	} else if err != nil {
		return err
	}
	views := func(ts []accesstoken.Token) []tokenView {
		out := make([]tokenView, len(ts))
		for i, t := range ts {
			out[i] = s.view(r, sc, t, now)
		}
		return out
	}
	title := "Your access tokens"
	if !sc.Mine {
		title = "Access tokens · " + targetLabel(sc.Target)
	}
	d := r.data(title)
	d["Scope"], d["Path"] = sc, sc.Path
	d["Active"], d["Inactive"] = views(active.Tokens), views(inactive.Tokens)
	// A count only where the whole list is on the page: the library
	// reads a page, never the whole list.
	if q.Get("cursor") == "" && active.Next == "" {
		d["ActiveCount"] = len(active.Tokens)
	}
	if q.Get("inactive_cursor") == "" && inactive.Next == "" {
		d["InactiveCount"] = len(inactive.Tokens)
	}
	d["HasInactive"] = len(inactive.Tokens) > 0 || q.Get("inactive_cursor") != ""
	if active.Next != "" {
		d["ActiveNext"] = pageLink(sc.Path, q, "cursor", active.Next, "#active")
	}
	if inactive.Next != "" {
		d["InactiveNext"] = pageLink(sc.Path, q, "inactive_cursor", inactive.Next, "#inactive")
	}
	if q.Get("cursor") != "" {
		d["ActiveFirst"] = pageLink(sc.Path, q, "cursor", "", "#active")
	}
	if q.Get("inactive_cursor") != "" {
		d["InactiveFirst"] = pageLink(sc.Path, q, "inactive_cursor", "", "#inactive")
	}
	if !sc.Mine {
		if form == nil {
			form = &tokenForm{Expiry: defaultPreset}
		}
		d["Form"] = form
		d["Scopes"] = s.m.Scopes()
		d["Expiry"] = s.expiryField(form.Expiry, form.Date, form.Errors["expires"], now)
		d["MaxActive"] = s.pol.maxActive
		d["Back"] = strings.TrimSuffix(sc.Path, "/-/tokens")
		d["CanActivity"] = sc.Role >= RoleAdmin
		d["Project"] = sc.Target.Project
	}
	// The flashes last: once taken they are gone, so nothing may fail
	// after this but writing the page.
	flashes := direct
	if flashes == nil {
		flashes = s.takeFlashes(w, r, sc.Path)
	}
	var notices []notice
	for _, f := range flashes {
		tok, err := s.m.Get(r.Context(), r.User, f.TokenID)
		if err != nil && f.Secret == "" {
			continue // a revoked token no longer visible: nothing to say
		} else if err != nil {
			// Never lose a secret: show it even if the token cannot be
			// read back.
			tok = accesstoken.Token{ID: f.TokenID}
		}
		n := notice{Kind: f.Kind, Token: s.view(r, sc, tok, now), Secret: f.Secret, ProjectWide: tok.Target.IsProject()}
		if f.Secret != "" && !tok.Target.IsProject() && tok.Target.Repository != "" {
			n.CloneURL = s.cloneURL(&Repo{Project: tok.Target.Project, Name: tok.Target.Repository})
		}
		notices = append(notices, n)
	}
	d["Notices"] = notices
	return s.render(w, status, "tokens.html", d)
}

// pageLink is the URL of a page of a list: the query with key set to
// cursor (or removed, for the first page), and the fragment.
func pageLink(path string, q url.Values, key, cursor, fragment string) string {
	v := url.Values{}
	for k, vs := range q {
		if k == "cursor" || k == "inactive_cursor" || k == "limit" {
			v[k] = vs
		}
	}
	if cursor == "" {
		v.Del(key)
	} else {
		v.Set(key, cursor)
	}
	if len(v) == 0 {
		return path + fragment
	}
	return path + "?" + v.Encode() + fragment
}

// createToken issues a token from the form, then redirects to the list,
// which shows its secret once. A form with an error is shown again, with
// what was typed.
func (s *web) createToken(w http.ResponseWriter, r *request) error {
	sc, err := s.tokenScopeOf(r)
	if err != nil {
		return err
	}
	form := &tokenForm{
		Description: r.PostFormValue("description"),
		Scopes:      map[accesstoken.Scope]bool{},
		Expiry:      r.PostFormValue("expiry"),
		Date:        strings.TrimSpace(r.PostFormValue("expires")),
		Errors:      map[string]string{},
	}
	var scopes []accesstoken.Scope
	for _, sc := range r.PostForm["scope"] {
		scopes = append(scopes, accesstoken.Scope(sc))
		form.Scopes[accesstoken.Scope(sc)] = true
	}
	if form.Expiry == "" {
		// Not from the form, which always sends a choice.
		form.Expiry = defaultPreset
		if form.Date != "" {
			form.Expiry = "custom"
		}
	}
	refuse := func(status int, field, msg string) error {
		if field == "" {
			form.Error = msg
		} else {
			form.Errors[field] = msg
		}
		return s.showTokens(w, r, sc, status, []flash{}, form)
	}
	if form.Expiry == "keep" { // offered when rotating only
		return refuse(http.StatusBadRequest, "expires", "Choose when the token expires.")
	}
	expires, err := s.formExpiry(form.Expiry, form.Date, time.Now())
	if err != nil {
		return refuse(http.StatusBadRequest, "expires", err.Error())
	}
	iss, err := s.pol.issue(r.Context(), r.User, sc.Target, form.Description, scopes, expires)
	var fe *fieldError
	switch {
	case errors.As(err, &fe):
		status := http.StatusBadRequest
		if fe.Conflict {
			status = http.StatusConflict
		}
		if fe.Secret {
			form.Description = "" // never shown again
		}
		return refuse(status, fe.Field, fe.Msg)
	case errors.Is(err, accesstoken.ErrForbidden):
		return &httpError{http.StatusForbidden, "You may not manage the access tokens of " + targetLabel(sc.Target) + "."}
	case err != nil:
		return err
	}
	return s.redirectWithFlash(w, r, sc, flash{Kind: flashCreated, TokenID: iss.Token.ID, Secret: iss.Secret.Reveal()})
}

// formExpiry is the expiry a form's choice asks for: choice is a number
// of days, "custom" (through date, a day), "none", or "keep" where the
// form offers it (the zero time, as for "none": the caller tells them
// apart). Tokens work through the end of their last day, UTC. The error
// is a sentence for the form's expiry field.
func (s *web) formExpiry(choice, date string, now time.Time) (time.Time, error) {
	switch choice {
	case "keep":
		return time.Time{}, nil
	case "none":
		if s.pol.maxLifetime > 0 {
			return time.Time{}, expiryFieldError("Tokens on this forge expire within " + lifetimeText(s.pol.maxLifetime) + ": choose when this one does.")
		}
		return time.Time{}, nil
	case "custom":
		day, err := time.Parse(time.DateOnly, date)
		if err != nil {
			return time.Time{}, expiryFieldError("Choose the day the token expires, as a date such as " + now.UTC().AddDate(0, 1, 0).Format(time.DateOnly) + ".")
		}
		if day.Format(time.DateOnly) < now.UTC().Format(time.DateOnly) {
			return time.Time{}, expiryFieldError("The expiry date must be today or later.")
		}
		exp, ok := s.pol.expiryThrough(day, now)
		if !ok {
			return time.Time{}, expiryFieldError(fmt.Sprintf("Tokens on this forge expire within %s: choose %s or earlier.",
				lifetimeText(s.pol.maxLifetime), s.pol.latestExpiry(now).Format(time.DateOnly)))
		}
		return exp, nil
	}
	n, err := strconv.Atoi(choice)
	if err != nil || n < 1 || n > 366 {
		return time.Time{}, expiryFieldError("Choose when the token expires.")
	}
	exp, ok := s.pol.expiryThrough(now.UTC().AddDate(0, 0, n), now)
	if !ok {
		return time.Time{}, expiryFieldError(fmt.Sprintf("Tokens on this forge expire within %s: choose a shorter time.", lifetimeText(s.pol.maxLifetime)))
	}
	return exp, nil
}

func expiryFieldError(msg string) error { return &fieldError{Field: "expires", Msg: msg} }

// redirectWithFlash redirects to the list with a flash for it. If the
// flash cannot be stored, the list is shown in this response instead, so
// that a new secret is never lost.
func (s *web) redirectWithFlash(w http.ResponseWriter, r *request, sc *tokenScope, f flash) error {
	if err := s.setFlash(w, r, sc.Path, f); err != nil {
		s.log.Error("storing a flash; showing it at once", "err", err)
		status := http.StatusOK
		if f.Secret != "" {
			status = http.StatusCreated
		}
		return s.showTokens(w, r, sc, status, []flash{f}, nil)
	}
	http.Redirect(w, r.Request, sc.Path, http.StatusSeeOther)
	return nil
}

// tokenOfPage returns the token the URL names, if the page lists it and
// the user may open it: one of the user's own on "Your tokens"; on a
// target's, one of the target's (or, for a repository, a project token
// that covers it) that the user owns or may manage, or, read-only, a
// project token of someone else that the repository's list shows.
func (s *web) tokenOfPage(r *request) (*tokenScope, accesstoken.Token, error) {
	sc, err := s.tokenScopeOf(r)
	if err != nil {
		return nil, accesstoken.Token{}, err
	}
	id, err := uuid.Parse(r.PathValue("id"))
	if err != nil {
		return nil, accesstoken.Token{}, errPageNotFound
	}
	tok, err := s.m.Get(r.Context(), r.User, id)
	switch {
	case errors.Is(err, accesstoken.ErrNotFound) && !sc.Mine:
		var ok bool
		tok, ok, err = listedProjectToken(r.Context(), s.m, sc.Target, id)
		if err == nil && !ok {
			return nil, accesstoken.Token{}, errPageNotFound
		}
	case errors.Is(err, accesstoken.ErrNotFound):
		return nil, accesstoken.Token{}, errPageNotFound
	}
	if err != nil {
		return nil, accesstoken.Token{}, err
	}
	if sc.Mine && tok.Owner != r.User || !sc.Mine && !covers(sc.Target, tok.Target) {
		return nil, accesstoken.Token{}, errPageNotFound
	}
	return sc, tok, nil
}

// showToken shows one token on a page of its own: everything the lists
// say of it, who revoked it and why, the token that replaced it, and
// what the user may do with it. Rotated tokens link to their successor
// here, and the activity page to the tokens it names.
func (s *web) showToken(w http.ResponseWriter, r *request) error {
	sc, tok, err := s.tokenOfPage(r)
	if err != nil {
		return err
	}
	v := s.view(r, sc, tok, time.Now())
	d := r.data("“" + v.Name() + "”")
	d["Token"], d["Back"], d["Scope"] = v, sc.Path, sc
	return s.render(w, http.StatusOK, "token.html", d)
}

// confirmAction asks before revoking or rotating a token, naming it and
// saying what stops working.
func (s *web) confirmAction(w http.ResponseWriter, r *request) error {
	sc, tok, err := s.tokenOfPage(r)
	if err != nil {
		return err
	}
	return s.showConfirm(w, r, sc, tok, http.StatusOK, &actionForm{Expiry: "keep"})
}

// actionForm is what the confirmation's form holds: what was typed, and
// errors.
type actionForm struct {
	Reason       string
	Expiry, Date string // rotating: the expiry chosen ("keep" by default)
	Errors       map[string]string
}

// showConfirm renders the confirmation of the request's action on tok,
// with the form as typed and its errors.
func (s *web) showConfirm(w http.ResponseWriter, r *request, sc *tokenScope, tok accesstoken.Token, status int, form *actionForm) error {
	action := actionOf(r)
	v := s.view(r, sc, tok, time.Now())
	if v.State != "active" {
		return &httpError{http.StatusConflict, "“" + v.Name() + "” was revoked or has expired already: there is nothing to " + action + "."}
	}
	if action == "revoke" && !v.CanRevoke || action == "rotate" && !v.CanRotate {
		return s.actionRefused(action, tok)
	}
	verb := "Revoke"
	if action == "rotate" {
		verb = "Rotate"
	}
	d := r.data(verb + " “" + v.Name() + "”")
	d["Action"], d["Verb"], d["Token"], d["Back"], d["Form"] = action, verb, v, sc.Path, form
	if action == "rotate" {
		now := time.Now()
		d["Expiry"] = s.expiryField(form.Expiry, form.Date, form.Errors["expires"], now, s.keepPreset(tok, now))
	}
	if tok.Target.IsProject() {
		repos, err := s.db.Repos(r.Context(), tok.Target.Project)
		if err != nil {
			return err
		}
		d["RepoCount"] = len(repos)
		if !sc.Mine && !sc.Target.IsProject() {
			d["FromRepo"] = targetLabel(sc.Target)
		}
	}
	return s.render(w, status, "confirm.html", d)
}

func actionOf(r *request) string {
	if strings.HasSuffix(r.URL.Path, "/rotate") {
		return "rotate"
	}
	return "revoke"
}

func (s *web) actionRefused(action string, tok accesstoken.Token) error {
	if action == "rotate" {
		return &httpError{http.StatusForbidden, "Only the token's owner may rotate it, and only while allowed to manage the tokens of " + targetLabel(tok.Target) + "."}
	}
	return &httpError{http.StatusForbidden, "You may not revoke this token: it is " + tok.Owner + "'s, for " + targetLabel(tok.Target) + "."}
}

// doAction revokes or rotates a token, then redirects to the list, which
// says what happened (with the new secret after a rotation).
func (s *web) doAction(w http.ResponseWriter, r *request) error {
	sc, tok, err := s.tokenOfPage(r)
	if err != nil {
		return err
	}
	action := actionOf(r)
	if action == "revoke" {
		if !sc.Mine && !(tok.Owner == r.User || mayManage(tok.Target, sc.Role)) {
			return s.actionRefused(action, tok)
		}
		form := &actionForm{Reason: r.PostFormValue("reason"), Errors: map[string]string{}}
		reason, err := checkReason(form.Reason)
		if err == nil {
			err = refuseLiveTokens(r.Context(), s.m, "reason", "The reason", reason)
		}
		if err == nil {
			_, err = s.m.RevokeWithReason(r.Context(), r.User, tok.ID, reason)
			if errors.Is(err, accesstoken.ErrBadReason) {
				err = reasonError(reason)
			}
		}
		var fe *fieldError
		switch {
		case errors.As(err, &fe):
			form.Errors[fe.Field] = fe.Msg
			if fe.Secret {
				form.Reason = "" // never shown again
			}
			return s.showConfirm(w, r, sc, tok, http.StatusBadRequest, form)
		case errors.Is(err, accesstoken.ErrNotFound):
			return errPageNotFound
		case err != nil:
			return err
		}
		return s.redirectWithFlash(w, r, sc, flash{Kind: flashRevoked, TokenID: tok.ID})
	}
	form := &actionForm{Expiry: r.PostFormValue("expiry"), Date: strings.TrimSpace(r.PostFormValue("expires")), Errors: map[string]string{}}
	if form.Expiry == "" {
		form.Expiry = "keep"
		if form.Date != "" {
			form.Expiry = "custom"
		}
	}
	expires, err := s.formExpiry(form.Expiry, form.Date, time.Now())
	var iss *accesstoken.Issued
	if err == nil {
		if form.Expiry == "keep" {
			iss, err = s.m.Rotate(r.Context(), r.User, tok.ID)
		} else {
			iss, err = s.m.RotateWithExpiry(r.Context(), r.User, tok.ID, expires)
		}
		if errors.Is(err, accesstoken.ErrBadExpiry) {
			err = s.pol.expiryError(err)
		}
	}
	var fe *fieldError
	switch {
	case errors.As(err, &fe):
		form.Errors[fe.Field] = fe.Msg
		return s.showConfirm(w, r, sc, tok, http.StatusBadRequest, form)
	case errors.Is(err, accesstoken.ErrNotFound):
		return errPageNotFound
	case errors.Is(err, accesstoken.ErrForbidden):
		return s.actionRefused(action, tok)
	case errors.Is(err, accesstoken.ErrRevoked), errors.Is(err, accesstoken.ErrExpired):
		return &httpError{http.StatusConflict, "This token was revoked or has expired, so it cannot be rotated: create a new one."}
	case err != nil:
		return err
	}
	return s.redirectWithFlash(w, r, sc, flash{Kind: flashRotated, TokenID: iss.Token.ID, Secret: iss.Secret.Reveal()})
}
