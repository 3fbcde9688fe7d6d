package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/forgekit/accesstoken"
)

// The forge's own rules for tokens, on top of the library's, shared by the
// pages and the API: a description's stricter rules (below), at most
// maxActive active tokens per user, expiries through the end of a day,
// and lists a page at a time.

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
	// Secret marks a field that held a live token: a form shows it
	// again empty.
	Secret bool
}

func (e *fieldError) Error() string { return e.Msg }

// The description rule is the library's (Manager.Issue: required, at
// most accesstoken.MaxDescriptionLen characters, no control or invisible
// format characters, line separators or blank fillers, unique among the
// owner's active tokens of the target) and two of the forge's own, which
// are stricter:
//
//   - only letters, marks, numbers, punctuation, symbols and spaces:
//     private-use and unassigned code points are refused too (the
//     library lets them through), since they show as nothing or as a
//     box that can stand for anything;
//   - unique ignoring case and runs of spaces ("CI" and " ci " are the
//     same name to a person; the library compares exactly).
//
// Spaces around a description are trimmed first, as forms and people
// add them by accident.

// checkDescription returns the description, trimmed, or why the forge's
// own character rule refuses it; what the library refuses (an empty or
// over-long description, control and invisible characters) is left to
// Issue, and explained by textProblem.
func checkDescription(s string) (string, error) {
	return checkForgeText("description", "The description", s)
}

// checkReason does for a revocation reason (optional) what
// checkDescription does for a description; the library checks the rest
// (RevokeWithReason, accesstoken.ErrBadReason), explained by
// reasonError.
func checkReason(s string) (string, error) { return checkForgeText("reason", "The reason", s) }

// refuseLiveTokens refuses a text that people will read (a description, a
// reason, a commit status) when it holds a live token of this forge
// (Manager.Scan): a common mistake is to paste the token where its name
// goes. The text is not stored, so the token has not leaked, and is not
// revoked. field and noun name the text; a failed scan fails closed.
func refuseLiveTokens(ctx context.Context, m *accesstoken.Manager, field, noun, text string) error {
	found, err := m.Scan(ctx, []byte(text), accesstoken.ScanOptions{})
	if err != nil {
		return err
	}
	if len(found) > 0 {
		return &fieldError{Field: field, Secret: true, Msg: noun + " contains an access token, which anyone who reads it could use. " +
			"Write what the token is for instead (say, “CI deploy”); if someone else may have seen the token, revoke it."}
	}
	return nil
}

// reasonError explains the library's refusal of a revocation reason.
func reasonError(reason string) error {
	return &fieldError{Field: "reason", Msg: textProblem("The reason", reason)}
}

// checkForgeText trims s and refuses what the forge's rule refuses and
// the library's does not: private-use and unassigned code points. field
// and noun name the text ("description", "The description").
func checkForgeText(field, noun, s string) (string, error) {
	s = strings.TrimFunc(s, unicode.IsSpace)
	if !utf8.ValidString(s) {
		return s, nil // the library refuses it
	}
	for i, r := range []rune(s) {
		if unicode.In(r, unicode.Co, unicode.Cn) {
			return "", &fieldError{Field: field, Msg: fmt.Sprintf(
				"%s contains a private-use or unassigned character (U+%04X, character %d), which can show as anything. Remove it.", noun, r, i+1)}
		}
	}
	return s, nil
}

// textProblem says, for a person, what is wrong with a text the library
// refused (a description, a revocation reason): noun names it ("The
// description"). It finds the problem itself, by the forge's rule, which
// refuses everything the library does but blank fillers; the library's
// error text is never shown.
func textProblem(noun, s string) string {
	if !utf8.ValidString(s) {
		return noun + " is not valid UTF-8 text."
	}
	if strings.TrimSpace(s) == "" {
		return noun + " is empty."
	}
	if n := utf8.RuneCountInString(s); n > accesstoken.MaxDescriptionLen {
		return fmt.Sprintf("%s is %d characters long; the most is %d.", noun, n, accesstoken.MaxDescriptionLen)
	}
	for i, r := range []rune(s) {
		if allowedInText(r) {
			continue
		}
		what := "an invisible or text-direction character"
		if unicode.IsControl(r) {
			what = "a control character"
		}
		return fmt.Sprintf("%s contains %s (U+%04X, character %d), which can make it read as something else. Remove it.", noun, what, r, i+1)
	}
	return noun + " contains an invisible character, which can make it read as something else. Remove it."
}

// allowedInText reports whether r may appear in a description or a
// reason by the forge's rule: letters, marks, numbers, punctuation,
// symbols and spaces.
func allowedInText(r rune) bool {
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
	if err := refuseLiveTokens(ctx, p.m, "description", "The description", desc); err != nil {
		return nil, err
	}
	// One issue at a time per owner (across processes on PostgreSQL), so
	// that two requests at once cannot both pass the cap, nor the
	// description rule where it is stricter than the library's (which
	// the store checks atomically, exactly).
	unlock, err := p.lockOwner(ctx, owner)
	if err != nil {
		return nil, err
	}
	defer unlock()
	// The owner's active tokens of the target, for the description.
	var taken string
	err = allPages(accesstoken.ListOptions{}, func(o accesstoken.ListOptions) (accesstoken.Page, error) {
		return p.m.PageAll(ctx, accesstoken.TokenFilter{Owner: owner, Target: &t}, o)
	}, func(toks []accesstoken.Token) error {
		for _, tok := range toks {
			if taken == "" && sameDescription(tok.Description, desc) {
				taken = tok.Description
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if taken != "" {
		return nil, duplicateDescription(t, taken)
	}
	if p.maxActive > 0 {
		// A page as large as the cap says whether the owner is at it.
		n, err := p.countActive(ctx, owner, p.maxActive)
		if err != nil {
			return nil, err
		}
		if n >= p.maxActive {
			return nil, &fieldError{Conflict: true, Msg: fmt.Sprintf(
				"You have %d active tokens, the most this forge allows. Revoke one you no longer use (“Your tokens” lists them all) before creating another.", n)}
		}
	}
	iss, err := p.m.Issue(ctx, accesstoken.IssueRequest{
		Owner: owner, Description: desc, Target: t, Scopes: scopes, ExpiresAt: expires,
	})
	if err != nil {
		return nil, p.explain(err, scopes, t, desc)
	}
	return iss, nil
}

// countActive counts owner's active tokens, up to atMost.
func (p *policy) countActive(ctx context.Context, owner string, atMost int) (int, error) {
	n := 0
	opts := accesstoken.ListOptions{}
	for n < atMost {
		opts.Limit = min(atMost-n, accesstoken.MaxPageSize)
		pg, err := p.m.PageForOwner(ctx, owner, opts)
		if err != nil {
			return 0, err
		}
		n += len(pg.Tokens)
		if pg.Next == "" {
			break
		}
		opts.Cursor = pg.Next
	}
	return n, nil
}

func duplicateDescription(t accesstoken.Target, taken string) error {
	return &fieldError{Field: "description", Conflict: true, Msg: fmt.Sprintf(
		"You already have an active token for %s named “%s”. Choose another description, or rotate that token.", targetLabel(t), taken)}
}

// explain turns the library's errors about a request into sentences for
// the person who made it; other errors pass unchanged. desc is the
// description asked for, t the target.
func (p *policy) explain(err error, scopes []accesstoken.Scope, t accesstoken.Target, desc string) error {
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
		return p.expiryError(err)
	case errors.Is(err, accesstoken.ErrDuplicateDescription):
		// The store's exact check: the forge's, under the owner's lock,
		// comes first, so only a writer outside it gets here.
		return duplicateDescription(t, desc)
	case errors.Is(err, accesstoken.ErrBadDescription):
		if strings.TrimSpace(desc) == "" {
			return &fieldError{Field: "description", Msg: "Give the token a description: what is it for (say, “CI deploy”)?"}
		}
		return &fieldError{Field: "description", Msg: textProblem("The description", desc)}
	case errors.Is(err, accesstoken.ErrInvalidInput):
		return &fieldError{Msg: "The request is not valid."}
	}
	return err
}

// expiryError explains the library's refusal of an expiry
// (accesstoken.ErrBadExpiry).
func (p *policy) expiryError(err error) error {
	if p.maxLifetime > 0 && strings.Contains(err.Error(), "maximum lifetime") {
		return &fieldError{Field: "expires", Msg: fmt.Sprintf("Tokens on this forge expire within %s; choose %s or earlier.",
			lifetimeText(p.maxLifetime), p.latestExpiry(time.Now()).Format(time.DateOnly))}
	}
	if strings.Contains(err.Error(), "9999") {
		return &fieldError{Field: "expires", Msg: "The expiry must be before the year 10000."}
	}
	return &fieldError{Field: "expires", Msg: "The expiry must be in the future."}
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

// Lists come a page at a time from the library (Manager.PageForTarget,
// PageForOwner, PageAll): newest first (listOrder), each page one range
// of an index read backwards, whatever the number of tokens. Their
// cursors are the library's, opaque; one the library did not make, or
// made for a list oldest first (as this forge listed before), gets a 400
// that says to start again.

const (
	defaultPageSize = 50
	maxPageSize     = 100
)

// listOrder is the order of every list of tokens the forge shows: the
// pages, the API and forge token list. Newest first, as GitHub and
// GitLab list tokens (issue 13).
const listOrder = accesstoken.NewestFirst

// errBadCursor is a cursor the library refused: not one it gave out, or
// one of a format of before.
var errBadCursor = &fieldError{Field: "cursor", Msg: "The cursor is not one this forge gave out: start again without it."}

// pageError turns the library's refusal of a cursor into errBadCursor;
// other errors pass unchanged.
func pageError(err error) error {
	if errors.Is(err, accesstoken.ErrBadListOptions) {
		return errBadCursor
	}
	return err
}

// allPages calls next with each page of a listing, from the first, until
// the last or an error: for the forge's own checks and the command line,
// which need every token a listing selects.
func allPages(opts accesstoken.ListOptions, page func(accesstoken.ListOptions) (accesstoken.Page, error), each func([]accesstoken.Token) error) error {
	opts.Limit = accesstoken.MaxPageSize
	for {
		p, err := page(opts)
		if err != nil {
			return err
		}
		if err := each(p.Tokens); err != nil {
			return err
		}
		if p.Next == "" {
			return nil
		}
		opts.Cursor = p.Next
	}
}
