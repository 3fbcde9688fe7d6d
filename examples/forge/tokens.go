package main

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/forgekit/accesstoken"
)

// The forge's own rules for tokens, on top of the library's, shared by the
// pages and the API: a description is required, unique among the owner's
// active tokens of a target, and free of characters that make it read as
// something else; a user holds at most maxActive active tokens; lists are
// newest first and paginated.

// policy issues tokens under the forge's rules.
type policy struct {
	m  *accesstoken.Manager
	db *DB
	// maxLifetime is the library's maximum lifetime (-max-token-lifetime);
	// zero for none.
	maxLifetime time.Duration
	// maxActive is how many active tokens a user may hold
	// (-max-tokens-per-user); zero for no limit.
	maxActive int
	locks     keyedMutex
}

// Defaults of serve's flags.
const defaultMaxActive = 100

// fieldError is a mistake in a request to issue a token, as a sentence for
// the person who made it, and the field it is about ("description",
// "scopes", "expires"), so that a form can show it there.
type fieldError struct {
	Field string
	Msg   string
	// Conflict marks a refusal because of the tokens that exist (a
	// duplicate description, too many tokens): 409 rather than 400.
	Conflict bool
}

func (e *fieldError) Error() string { return e.Msg }

// checkDescription returns the description, trimmed, or why it is
// refused: it is required, at most accesstoken.MaxDescriptionLen
// characters, and made of letters, marks, numbers, punctuation, symbols
// and spaces only. Control characters, bidirectional overrides and
// isolates (U+202A–U+202E, U+2066–U+2069), zero-width characters
// (U+200B–U+200D, U+2060, U+FEFF) and every other invisible format
// character (Unicode category Cf), line and paragraph separators,
// private-use and unassigned code points are refused: they can make a
// description read as something else, or hide text, in a list of tokens.
func checkDescription(s string) (string, error) {
	if !utf8.ValidString(s) {
		return "", &fieldError{Field: "description", Msg: "The description is not valid UTF-8 text."}
	}
	s = strings.TrimFunc(s, unicode.IsSpace)
	if s == "" {
		return "", &fieldError{Field: "description", Msg: "Give the token a description: what is it for (say, “CI deploy”)?"}
	}
	if n := utf8.RuneCountInString(s); n > accesstoken.MaxDescriptionLen {
		return "", &fieldError{Field: "description", Msg: fmt.Sprintf("The description is %d characters long; the most is %d.", n, accesstoken.MaxDescriptionLen)}
	}
	for i, r := range []rune(s) {
		if allowedInDescription(r) {
			continue
		}
		what := "an invisible or text-direction character"
		if unicode.IsControl(r) {
			what = "a control character"
		}
		return "", &fieldError{Field: "description", Msg: fmt.Sprintf(
			"The description contains %s (U+%04X, character %d), which can make it read as something else. Remove it.", what, r, i+1)}
	}
	return s, nil
}

// allowedInDescription reports whether r may appear in a description.
func allowedInDescription(r rune) bool {
	return unicode.In(r, unicode.L, unicode.M, unicode.N, unicode.P, unicode.S, unicode.Zs)
}

// sameDescription reports whether two descriptions read the same: equal
// but for case and runs of spaces.
func sameDescription(a, b string) bool {
	return strings.EqualFold(strings.Join(strings.Fields(a), " "), strings.Join(strings.Fields(b), " "))
}

// issue issues a token for owner under the forge's rules. Errors are a
// *fieldError for a request the person can correct, or the library's
// (accesstoken.ErrForbidden, a temporary failure).
func (p *policy) issue(ctx context.Context, owner string, t accesstoken.Target, description string, scopes []accesstoken.Scope, expires time.Time) (*accesstoken.Issued, error) {
	desc, err := checkDescription(description)
	if err != nil {
		return nil, err
	}
	// One issue at a time per owner (across processes on PostgreSQL), so
	// that two requests at once cannot both pass the checks below.
	unlock, err := p.lockOwner(ctx, owner)
	if err != nil {
		return nil, err
	}
	defer unlock()
	active, err := p.m.ListForOwner(ctx, owner, accesstoken.ListOptions{})
	if err != nil {
		return nil, err
	}
	for _, tok := range active {
		if tok.Target == t && sameDescription(tok.Description, desc) {
			return nil, &fieldError{Field: "description", Conflict: true, Msg: fmt.Sprintf(
				"You already have an active token for %s named “%s”. Choose another description, or rotate that token.", targetLabel(t), tok.Description)}
		}
	}
	if p.maxActive > 0 && len(active) >= p.maxActive {
		return nil, &fieldError{Conflict: true, Msg: fmt.Sprintf(
			"You have %d active tokens, the most this forge allows. Revoke one you no longer use (“Your tokens” lists them all) before creating another.", len(active))}
	}
	iss, err := p.m.Issue(ctx, accesstoken.IssueRequest{
		Owner: owner, Description: desc, Target: t, Scopes: scopes, ExpiresAt: expires,
	})
	if err != nil {
		return nil, p.explain(err, scopes)
	}
	return iss, nil
}

// explain turns the library's errors about a request into sentences for
// the person who made it; other errors pass unchanged.
func (p *policy) explain(err error, scopes []accesstoken.Scope) error {
	valid := scopeList(p.m.Scopes(), "and")
	switch {
	case errors.Is(err, accesstoken.ErrNoScopes):
		return &fieldError{Field: "scopes", Msg: "Choose at least one scope: " + scopeList(p.m.Scopes(), "or") + "."}
	case errors.Is(err, accesstoken.ErrUnknownScope):
		unknown := ""
		for _, s := range scopes {
			if !slices.Contains(p.m.Scopes(), s) {
				unknown = string(s)
				break
			}
		}
		return &fieldError{Field: "scopes", Msg: fmt.Sprintf("There is no scope %q. The scopes are %s.", unknown, valid)}
	case errors.Is(err, accesstoken.ErrBadExpiry):
		if p.maxLifetime > 0 && strings.Contains(err.Error(), "maximum lifetime") {
			return &fieldError{Field: "expires", Msg: fmt.Sprintf("Tokens on this forge expire within %s; choose %s or earlier.",
				lifetimeText(p.maxLifetime), p.latestExpiry(time.Now()).Format(time.DateOnly))}
		}
		if strings.Contains(err.Error(), "9999") {
			return &fieldError{Field: "expires", Msg: "The expiry must be before the year 10000."}
		}
		return &fieldError{Field: "expires", Msg: "The expiry must be in the future."}
	case errors.Is(err, accesstoken.ErrBadDescription):
		return &fieldError{Field: "description", Msg: fmt.Sprintf("The description must be at most %d characters of printable text.", accesstoken.MaxDescriptionLen)}
	case errors.Is(err, accesstoken.ErrInvalidInput):
		return &fieldError{Msg: "The request is not valid."}
	}
	return err
}

// scopeList is the scopes as a sentence lists them, the last two joined
// by conj ("and", "or").
func scopeList(ss []accesstoken.Scope, conj string) string {
	names := make([]string, len(ss))
	for i, s := range ss {
		names[i] = string(s)
	}
	switch len(names) {
	case 0:
		return ""
	case 1:
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " " + conj + " " + names[len(names)-1]
}

// lifetimeText says a duration in days when it is whole days ("90 days"),
// in hours otherwise.
func lifetimeText(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return plural(int(d/(24*time.Hour)), "day", "days")
	}
	if d%time.Hour == 0 {
		return plural(int(d/time.Hour), "hour", "hours")
	}
	return d.String()
}

// latestExpiry is the latest expiry the maximum lifetime allows a token
// issued at now; the zero time without one.
func (p *policy) latestExpiry(now time.Time) time.Time {
	if p.maxLifetime <= 0 {
		return time.Time{}
	}
	return now.Add(p.maxLifetime).UTC().Truncate(time.Second)
}

// endOfDay is when a token that works through day (a date, UTC) stops:
// the last second of that day.
func endOfDay(day time.Time) time.Time {
	y, m, d := day.Date()
	return time.Date(y, m, d+1, 0, 0, 0, 0, time.UTC).Add(-time.Second)
}

// expiryThrough is the expiry of a token that works through day, capped
// at the latest expiry the maximum lifetime allows (so a token of the
// last allowed day stops at that time of day). ok is false when the
// day is after the last allowed one.
func (p *policy) expiryThrough(day, now time.Time) (time.Time, bool) {
	exp := endOfDay(day)
	if latest := p.latestExpiry(now); !latest.IsZero() && exp.After(latest) {
		if day.Format(time.DateOnly) > latest.Format(time.DateOnly) {
			return time.Time{}, false
		}
		exp = latest
	}
	return exp, true
}

// lockOwner serialises issuing for one owner: in this process, and, on
// PostgreSQL, across every process that shares the database.
func (p *policy) lockOwner(ctx context.Context, owner string) (func(), error) {
	unlock := p.locks.lock(owner)
	dbUnlock, err := p.db.lockOwner(ctx, owner)
	if err != nil {
		unlock()
		return nil, err
	}
	return func() { dbUnlock(); unlock() }, nil
}

// keyedMutex is one mutex per key, kept while in use.
type keyedMutex struct {
	mu   sync.Mutex
	keys map[string]*keyedEntry
}

type keyedEntry struct {
	mu   sync.Mutex
	refs int
}

func (k *keyedMutex) lock(key string) func() {
	k.mu.Lock()
	if k.keys == nil {
		k.keys = map[string]*keyedEntry{}
	}
	e := k.keys[key]
	if e == nil {
		e = &keyedEntry{}
		k.keys[key] = e
	}
	e.refs++
	k.mu.Unlock()
	e.mu.Lock()
	return func() {
		e.mu.Unlock()
		k.mu.Lock()
		if e.refs--; e.refs == 0 {
			delete(k.keys, key)
		}
		k.mu.Unlock()
	}
}

// Lists: newest first, in pages. The library's lists are oldest first
// and whole; the forge sorts and cuts them. A cursor names the first
// token of a page by its creation time and ID, so a page is the same
// whatever was created or revoked since.

const (
	defaultPageSize = 50
	maxPageSize     = 100
)

// cursor is a position in a newest-first list: the token created at At
// with ID (inclusive).
type cursor struct {
	At time.Time
	ID uuid.UUID
}

func cursorOf(t accesstoken.Token) cursor { return cursor{t.CreatedAt, t.ID} }

// String encodes the cursor for a URL or a JSON field: opaque to clients.
func (c cursor) String() string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(c.At.UnixMicro(), 10) + "." + c.ID.String()))
}

// errBadCursor is a cursor this forge did not make.
var errBadCursor = &fieldError{Field: "cursor", Msg: "The cursor is not one this forge gave out: start again without it."}

// parseCursor decodes a cursor; "" is the start of the list.
func parseCursor(s string) (cursor, bool, error) {
	if s == "" {
		return cursor{}, false, nil
	}
	if len(s) > 100 {
		return cursor{}, false, errBadCursor
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return cursor{}, false, errBadCursor
	}
	at, id, ok := strings.Cut(string(b), ".")
	micros, err := strconv.ParseInt(at, 10, 64)
	if !ok || err != nil {
		return cursor{}, false, errBadCursor
	}
	u, err := uuid.Parse(id)
	if err != nil || u.String() != id {
		return cursor{}, false, errBadCursor
	}
	return cursor{time.UnixMicro(micros).UTC(), u}, true, nil
}

// newerFirst orders tokens newest first: by creation time, then by ID.
func newerFirst(a, b accesstoken.Token) int {
	if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
		return c
	}
	return slices.Compare(b.ID[:], a.ID[:])
}

// atOrAfter reports whether t comes at or after c in a newest-first list.
func (c cursor) atOrAfter(t accesstoken.Token) bool {
	return newerFirst(accesstoken.Token{CreatedAt: c.At, ID: c.ID}, t) <= 0
}

// page is one page of a list.
type page struct {
	Tokens []accesstoken.Token
	// Next is the cursor of the next page; "" on the last one.
	Next string
}

// paginate sorts toks newest first and returns the page that starts at
// the cursor (the first page for ""), of at most limit tokens.
func paginate(toks []accesstoken.Token, cur string, limit int) (page, error) {
	c, ok, err := parseCursor(cur)
	if err != nil {
		return page{}, err
	}
	toks = slices.Clone(toks)
	slices.SortFunc(toks, newerFirst)
	if ok {
		i := slices.IndexFunc(toks, c.atOrAfter)
		if i < 0 {
			i = len(toks)
		}
		toks = toks[i:]
	}
	var p page
	if len(toks) > limit {
		p.Next = cursorOf(toks[limit]).String()
		toks = toks[:limit]
	}
	p.Tokens = toks
	return p, nil
}

// splitActive splits tokens into the active ones and the others
// (revoked or expired at now).
func splitActive(toks []accesstoken.Token, now time.Time) (active, inactive []accesstoken.Token) {
	for _, t := range toks {
		if t.Active(now) {
			active = append(active, t)
		} else {
			inactive = append(inactive, t)
		}
	}
	return active, inactive
}
