package main

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/forgekit/accesstoken"
)

// The token activity page of a project, for its admins: tokens issued,
// rotated and revoked, and uses refused, for the project and its
// repositories, newest first, in pages.

const activityPageSize = 50

// activityRow is an event as the page shows it.
type activityRow struct {
	storedEvent
	What       string // "Issued", "Rotated", …
	Token      string // the token's description, or what is known of it
	TokenLink  string // where the token is listed, if it still exists
	For        string // the token's target
	Who        string // who did it; for a refusal, the token's owner
	Detail     string
	Successor  string
	Repeated   bool
	Refused    bool
	LastAtText string
}

func (s *web) activity(w http.ResponseWriter, r *request) error {
	p, role, err := s.projectRole(r)
	if err != nil {
		return err
	}
	if r.User == "" {
		return &httpError{http.StatusUnauthorized, "Sign in to see the token activity of project " + p.Name + "."}
	}
	if role < RoleAdmin {
		return &httpError{http.StatusForbidden, "Only the admins of project " + p.Name + " see its token activity."}
	}
	var from *eventCursor
	if c := r.URL.Query().Get("cursor"); c != "" {
		var ok bool
		if from, ok = parseEventCursor(c); !ok {
			return &httpError{http.StatusBadRequest, "This page of the activity does not exist: go back to the first page."}
		}
	}
	limit := activityPageSize
	if l := r.URL.Query().Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > maxPageSize {
			return &httpError{http.StatusBadRequest, "The page size (limit) must be a whole number from 1 to 100."}
		}
		limit = n
	}
	evs, next, err := s.db.Events(r.Context(), p.Name, from, limit)
	if err != nil {
		return err
	}
	// The tokens the events are about, each read once.
	toks := map[string]*accesstoken.Token{}
	lookup := func(id string) *accesstoken.Token {
		if id == "" {
			return nil
		}
		if t, ok := toks[id]; ok {
			return t
		}
		var tp *accesstoken.Token
		if u, err := uuid.Parse(id); err == nil {
			if t, err := s.m.Get(r.Context(), r.User, u); err == nil && t.Target.Project == p.Name {
				tp = &t
			}
		}
		toks[id] = tp
		return tp
	}
	rows := make([]activityRow, len(evs))
	for i, e := range evs {
		row := activityRow{storedEvent: e, Who: actorLabel(e.Actor)}
		ours := e.TargetProject == p.Name
		if ours {
			row.For = targetLabel(accesstoken.Target{Project: e.TargetProject, Repository: e.TargetRepo})
		}
		tok := lookup(e.TokenID)
		switch {
		case tok != nil:
			row.Token = tok.Description
			if row.Token == "" {
				row.Token = "untitled"
			}
			row.TokenLink = tokensPath(tok.Target) + "/" + tok.ID.String()
		case e.TokenID != "" && ours:
			row.Token = "a deleted token"
		case e.TokenID != "":
			row.Token = "a token for another project"
		case e.Reason == "malformed":
			row.Token = "not a token of this forge"
		default:
			row.Token = "a token that does not exist"
		}
		switch e.Kind {
		case evIssued:
			row.What = "Issued"
		case evRevoked:
			row.What = "Revoked"
			row.Detail = reasonText(e.Actor, e.Reason)
		case evRotated:
			row.What = "Rotated"
			if succ := lookup(e.ReplacedBy); succ != nil {
				row.Successor = tokensPath(succ.Target) + "/" + succ.ID.String()
			}
		case evRejected:
			row.What, row.Refused = "Use refused", true
			row.Who = ""
			if ours {
				row.Who = e.Owner // the token's owner: whose token was refused
			}
			row.Detail = refusalText(e)
			if e.Count > 1 {
				row.Repeated = true
				row.LastAtText = e.LastAt.Format("2006-01-02 15:04:05 UTC")
			}
		}
		rows[i] = row
	}
	d := r.data("Token activity · " + p.Name)
	d["Project"], d["Rows"] = p, rows
	if next != nil {
		d["Next"] = "/" + p.Name + "/-/activity?" + pageQuery(r.URL.Query(), next.String())
	}
	if from != nil {
		d["First"] = "/" + p.Name + "/-/activity?" + pageQuery(r.URL.Query(), "")
	}
	return s.render(w, http.StatusOK, "activity.html", d)
}

func pageQuery(q url.Values, cursor string) string {
	v := url.Values{}
	if l := q.Get("limit"); l != "" {
		v.Set("limit", l)
	}
	if cursor != "" {
		v.Set("cursor", cursor)
	}
	return v.Encode()
}

// refusalText says why a use was refused, and what for.
func refusalText(e storedEvent) string {
	why := map[string]string{
		"malformed":     "not a token of this forge (mistyped or truncated?)",
		"unknown":       "no such token",
		"revoked":       "the token was revoked",
		"expired":       "the token has expired",
		"wrong_target":  "the token is not for this repository",
		"missing_scope": "the token lacks the " + e.Scope + " scope",
		"owner_denied":  "the token's owner may not do this",
		"unavailable":   "could not be checked (the forge was unavailable)",
	}[e.Reason]
	if why == "" {
		why = "refused"
	}
	what := "pull from"
	switch accesstoken.Scope(e.Scope) {
	case accesstoken.ScopePush:
		what = "push to"
	case accesstoken.ScopeBuildStatus:
		what = "set build status on"
	}
	if e.Resource == "" {
		return why
	}
	return "To " + what + " " + e.Project + "/" + e.Resource + ": " + why + "."
}

// String encodes the cursor for a URL.
func (c eventCursor) String() string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(c.At, 10) + "." + c.ID))
}

func parseEventCursor(s string) (*eventCursor, bool) {
	if len(s) > 100 {
		return nil, false
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, false
	}
	at, id, ok := strings.Cut(string(b), ".")
	n, err := strconv.ParseInt(at, 10, 64)
	if !ok || err != nil || !validFlashID(id) {
		return nil, false
	}
	return &eventCursor{n, id}, true
}

// activityTime formats an event's time to the second.
func activityTime(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") }
