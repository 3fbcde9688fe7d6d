package accesstoken

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
)

// IssueRequest asks for a new token.
type IssueRequest struct {
	// Owner is the signed-in user issuing the token, whom it will act as.
	// The [Authorizer] must allow Owner to manage tokens of Target.
	Owner string
	// Description says what the token is for, and names it in lists. It
	// is required: 1 to [MaxDescriptionLen] characters, without control
	// or invisible format characters (bidirectional overrides such as
	// U+202E, zero-width characters, ...) and without white space at
	// either end ([ErrBadDescription]); and no other active token of the
	// same owner and target may have it ([ErrDuplicateDescription]), as
	// GitHub's and GitLab's token names.
	Description string
	// Target is the repository or project the token is for.
	Target Target
	// Scopes are what the token allows; at least one, each built in or
	// registered with [WithScopes]. Duplicates are dropped.
	Scopes []Scope
	// ExpiresAt is when the token stops working; it must be in the future.
	// Zero means never, unless [WithMaxLifetime] sets a limit.
	ExpiresAt time.Time
}

// Issue creates a token and returns it with its secret. The secret is not
// stored and cannot be shown again; only its digest is kept.
//
// Errors match [ErrInvalidInput] (and a specific error such as
// [ErrUnknownScope] or [ErrDuplicateDescription]) for a bad request,
// [ErrForbidden] when the owner may not manage tokens of the target,
// [ErrStoreFailure] or [ErrAuthorizerFailure] when the request could not
// be decided. Two concurrent Issues with the same owner, target and
// description cannot both succeed: the store checks and inserts in one
// step.
func (m *Manager) Issue(ctx context.Context, req IssueRequest) (*Issued, error) {
	now := m.clock()
	if err := checkOwner("owner", req.Owner); err != nil {
		return nil, err
	}
	if err := req.Target.Validate(); err != nil {
		return nil, err
	}
	if err := checkDescription(req.Description); err != nil {
		return nil, err
	}
	scopes, err := m.scopes.normalize(req.Scopes)
	if err != nil {
		return nil, err
	}
	expires, err := m.expiry(req.ExpiresAt, now)
	if err != nil {
		return nil, err
	}
	if err := m.mayManage(ctx, req.Owner, req.Target); err != nil {
		return nil, err
	}
	tok := Token{
		Owner:       req.Owner,
		Description: req.Description,
		Target:      req.Target,
		Scopes:      scopes,
		CreatedAt:   now,
		ExpiresAt:   expires,
	}
	iss, rec, err := m.mint(tok)
	if err != nil {
		return nil, err
	}
	if err := m.store.Insert(ctx, rec); err != nil {
		if errors.Is(err, ErrDuplicateDescription) {
			return nil, invalid(ErrDuplicateDescription, "choose another, or revoke the token that has it")
		}
		return nil, storeErr(err)
	}
	m.emit(ctx, Event{Kind: EventIssued, TokenID: iss.Token.ID, Owner: tok.Owner, Actor: req.Owner, Target: tok.Target})
	return iss, nil
}

// mint gives tok a new ID and secret and returns the record to store.
func (m *Manager) mint(tok Token) (*Issued, Record, error) {
	id, err := uuid.NewRandom()
	if err != nil {
		return nil, Record{}, fmt.Errorf("accesstoken: generating ID: %w", err)
	}
	secret, err := m.format.Generate()
	if err != nil {
		return nil, Record{}, err
	}
	tok.ID = id
	return &Issued{Token: tok, Secret: secret}, Record{Token: tok, Digest: m.Digest(secret.Reveal())}, nil
}

func checkDescription(s string) error { return checkText(ErrBadDescription, s, true) }

// checkReason checks a revocation reason, which may be empty unless
// required.
func checkReason(s string, required bool) error { return checkText(ErrBadReason, s, required) }

// checkText checks text that people read (a description, a revocation
// reason): not empty if required, at most MaxDescriptionLen characters,
// and nothing that can mislead a reader: no control characters, no
// invisible format characters (Unicode's Cf: bidirectional overrides and
// isolates such as U+202E, zero-width spaces and joiners, soft hyphens,
// tags, ...), no line or paragraph separators, no blank fillers, and no
// white space at either end. The error (kind, and ErrInvalidInput) names
// the character by its code point, never quotes the text.
func checkText(kind error, s string, required bool) error {
	switch {
	case s == "" && !required:
		return nil
	case strings.TrimSpace(s) == "":
		return invalid(kind, "empty")
	case !utf8.ValidString(s):
		return invalid(kind, "not valid UTF-8")
	case utf8.RuneCountInString(s) > MaxDescriptionLen:
		return invalid(kind, fmt.Sprintf("longer than %d characters", MaxDescriptionLen))
	case strings.TrimSpace(s) != s:
		return invalid(kind, "begins or ends with white space")
	}
	for _, r := range s {
		switch {
		case unicode.IsControl(r):
			return invalid(kind, fmt.Sprintf("control character U+%04X", r))
		case unicode.Is(unicode.Cf, r):
			return invalid(kind, fmt.Sprintf("invisible format character U+%04X (such as a bidirectional override or a zero-width character), which can make text read other than it is", r))
		case unicode.In(r, unicode.Zl, unicode.Zp), blankFiller(r):
			return invalid(kind, fmt.Sprintf("invisible character U+%04X", r))
		}
	}
	return nil
}

// blankFiller reports whether r is a character that shows as nothing, or
// as a blank, without being white space or a format character: Hangul
// fillers, the combining grapheme joiner, Khmer's inherent vowels, the
// blank Braille pattern.
func blankFiller(r rune) bool {
	switch r {
	case 0x034F, 0x115F, 0x1160, 0x17B4, 0x17B5, 0x2800, 0x3164, 0xFFA0:
		return true
	}
	return false
}

// lifetimeLimit is the latest expiry WithMaxLifetime allows a token issued
// at now, as stores keep times.
func (m *Manager) lifetimeLimit(now time.Time) time.Time {
	return now.Add(m.maxLifetime).Truncate(time.Microsecond)
}

// expiry applies the expiry rules to a requested expiry.
func (m *Manager) expiry(req, now time.Time) (time.Time, error) {
	if req.IsZero() {
		if m.maxLifetime > 0 {
			return m.lifetimeLimit(now), nil
		}
		return time.Time{}, nil
	}
	exp := req.UTC().Truncate(time.Microsecond)
	if exp.Year() > 9999 {
		// Stores keep microseconds since 1970 in 64 bits, and SQL and
		// JSON times end with the year 9999.
		return time.Time{}, invalid(ErrBadExpiry, "expiry after the year 9999")
	}
	if !exp.After(now) {
		return time.Time{}, invalid(ErrBadExpiry, "expiry is not in the future")
	}
	if m.maxLifetime > 0 && exp.Sub(now) > m.maxLifetime {
		return time.Time{}, invalid(ErrBadExpiry, fmt.Sprintf("expiry is more than the maximum lifetime (%v) away", m.maxLifetime))
	}
	return exp, nil
}

// mayManage asks the Authorizer whether actor may manage tokens of t.
func (m *Manager) mayManage(ctx context.Context, actor string, t Target) error {
	ok, err := m.authz.CanManage(ctx, actor, t)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrAuthorizerFailure, err)
	}
	if !ok {
		return ErrForbidden
	}
	return nil
}

// Get returns the token with the given ID if actor may see it: actor owns
// it or may manage tokens of its target. Otherwise, and if there is no such
// token, it returns [ErrNotFound], so that IDs cannot be probed.
func (m *Manager) Get(ctx context.Context, actor string, id uuid.UUID) (Token, error) {
	if err := checkOwner("actor", actor); err != nil {
		return Token{}, err
	}
	rec, err := m.byID(ctx, id)
	if err != nil {
		return Token{}, err
	}
	if rec.Owner != actor {
		if err := m.mayManage(ctx, actor, rec.Target); errors.Is(err, ErrForbidden) {
			return Token{}, ErrNotFound
		} else if err != nil {
			return Token{}, err
		}
	}
	return rec.Token, nil
}

func (m *Manager) byID(ctx context.Context, id uuid.UUID) (Record, error) {
	rec, err := m.store.ByID(ctx, id)
	if err != nil {
		return Record{}, storeErr(err, ErrNotFound)
	}
	return rec, nil
}

// Revoke revokes a token; the next [Manager.Verify] of it fails with
// [ErrRevoked]. The token's owner may always revoke it (even after losing
// access to its target, say because the secret leaked); anyone else needs
// to be allowed to manage tokens of its target. Revoking a revoked token
// succeeds and changes nothing. An unknown ID, or one actor may not see,
// is [ErrNotFound].
func (m *Manager) Revoke(ctx context.Context, actor string, id uuid.UUID) (Token, error) {
	return m.RevokeWithReason(ctx, actor, id, "")
}

// RevokeWithReason is [Manager.Revoke] that records why (the token's
// RevocationReason): empty, or text as a description must be
// ([ErrBadReason]).
func (m *Manager) RevokeWithReason(ctx context.Context, actor string, id uuid.UUID, reason string) (Token, error) {
	if err := checkReason(reason, false); err != nil {
		return Token{}, err
	}
	prior, err := m.Get(ctx, actor, id) // checks actor too
	if err != nil {
		return Token{}, err
	}
	return m.revoke(ctx, prior, Revocation{At: m.clock(), By: actor, Reason: reason})
}

// revoke revokes the token prior and emits the event if this call revoked
// it.
func (m *Manager) revoke(ctx context.Context, prior Token, rev Revocation) (Token, error) {
	rec, err := m.store.Revoke(ctx, prior.ID, rev)
	if err != nil {
		return Token{}, storeErr(err, ErrNotFound)
	}
	if !prior.Revoked() && rec.RevokedAt.Equal(rev.At) && rec.RevokedBy == rev.By { // this call revoked it
		m.emit(ctx, Event{Kind: EventRevoked, TokenID: rec.ID, Owner: rec.Owner, Actor: rev.By, Target: rec.Target, Reason: rev.Reason})
	}
	return rec.Token, nil
}

// RevokeSelf revokes the token whose secret is given, as the token's
// owner: what an API endpoint does for a client that revokes its own
// token, as GitLab's DELETE /personal_access_tokens/self. The token must
// be live ([Manager.Authenticate], whose errors it returns); no permission
// is asked, since the owner may always revoke their tokens. It returns the
// token, revoked.
func (m *Manager) RevokeSelf(ctx context.Context, secret string) (Token, error) {
	tok, err := m.Authenticate(ctx, secret)
	if err != nil {
		return Token{}, err
	}
	return m.revoke(ctx, tok, Revocation{At: m.clock(), By: tok.Owner})
}

// RevokeLeaked revokes the token whose secret is given, whoever owns it and
// whatever its state, because it was found where it must not be (a push,
// a log, a paste: see [Format.FindAll]). actor is the system actor that
// found it ([SystemActor], such as "system:push-protection"), never a
// user, and reason says where it was found: both are recorded (RevokedBy,
// RevocationReason) and in the [EventRevoked]. The caller needs no [Store]
// and no permission: holding the secret is proof enough that it leaked.
//
// A revoked token stays as it was (the first revocation stands) and no
// event is emitted. Errors match [ErrMalformed] for what is not a token of
// this Manager's format, [ErrUnknownToken] for a token it does not know,
// [ErrBadOwner] for an actor that is not a system actor, [ErrBadReason]
// for a missing or unreadable reason, and [ErrStoreFailure].
func (m *Manager) RevokeLeaked(ctx context.Context, secret, actor, reason string) (Token, error) {
	if err := checkSystemActor(actor); err != nil {
		return Token{}, err
	}
	if err := checkReason(reason, true); err != nil {
		return Token{}, err
	}
	if err := m.format.Check(secret); err != nil {
		return Token{}, err
	}
	d := m.Digest(secret)
	rec, err := m.store.ByDigest(ctx, d)
	switch {
	case errors.Is(err, ErrNotFound):
		return Token{}, ErrUnknownToken
	case err != nil:
		return Token{}, storeErr(err)
	case !digestsEqual(&rec.Digest, &d):
		return Token{}, fmt.Errorf("%w: store returned a record for another digest", ErrStoreFailure)
	}
	return m.revoke(ctx, rec.Token, Revocation{At: m.clock(), By: actor, Reason: reason})
}

// RevokeOwner revokes every active token of owner, at once, by a system
// actor ([SystemActor], such as "system:account-deactivation") for a
// reason: what a forge does when an account is compromised, suspended or
// deleted. Each revoked token records actor and reason and is an
// [EventRevoked]; tokens already revoked or expired stay as they are. It
// returns how many it revoked. The caller needs no [Store] and no
// permission: this is the forge's own decision. Errors match
// [ErrBadOwner] (for owner, or an actor that is not a system actor),
// [ErrBadReason] and [ErrStoreFailure].
func (m *Manager) RevokeOwner(ctx context.Context, owner, actor, reason string) (int, error) {
	if err := checkOwner("owner", owner); err != nil {
		return 0, err
	}
	if err := checkSystemActor(actor); err != nil {
		return 0, err
	}
	if err := checkReason(reason, true); err != nil {
		return 0, err
	}
	rev := Revocation{At: m.clock(), By: actor, Reason: reason}
	recs, err := m.store.RevokeOwner(ctx, owner, rev)
	if err != nil {
		return 0, storeErr(err)
	}
	for i := range recs {
		m.emit(ctx, Event{Kind: EventRevoked, TokenID: recs[i].ID, Owner: recs[i].Owner, Actor: actor, Target: recs[i].Target, Reason: reason})
	}
	return len(recs), nil
}

// Rotate replaces a token with a new one, as GitLab does: the new token has
// a new ID and secret and the same owner, description, target, scopes and
// expiry; the old one is revoked, its ReplacedBy set to the new ID, in the
// same transaction ([WithMaxLifetime], if set, caps the new expiry). Only
// the owner may rotate a token (the new secret acts
// as the owner, so nobody else may hold it), and only while still allowed
// to manage tokens of its target. A revoked or expired token cannot be
// rotated ([ErrRevoked], [ErrExpired]).
func (m *Manager) Rotate(ctx context.Context, actor string, id uuid.UUID) (*Issued, error) {
	return m.rotate(ctx, actor, id, nil)
}

// RotateWithExpiry is [Manager.Rotate] that gives the new token a new
// expiry, as GitLab's rotate takes expires_at: expiresAt follows the rules
// of [IssueRequest.ExpiresAt] (in the future, within [WithMaxLifetime];
// zero means never, or the maximum lifetime when there is one), and
// errors match [ErrBadExpiry] as Issue's do. Everything else is Rotate's.
func (m *Manager) RotateWithExpiry(ctx context.Context, actor string, id uuid.UUID, expiresAt time.Time) (*Issued, error) {
	return m.rotate(ctx, actor, id, &expiresAt)
}

func (m *Manager) rotate(ctx context.Context, actor string, id uuid.UUID, expiresAt *time.Time) (*Issued, error) {
	old, err := m.Get(ctx, actor, id) // ErrNotFound unless actor may see it
	if err != nil {
		return nil, err
	}
	if old.Owner != actor {
		return nil, fmt.Errorf("%w: only the owner may rotate a token", ErrForbidden)
	}
	now := m.clock()
	next := old
	if expiresAt != nil {
		if next.ExpiresAt, err = m.expiry(*expiresAt, now); err != nil {
			return nil, err
		}
	}
	if err := m.mayManage(ctx, actor, old.Target); err != nil {
		return nil, err
	}
	switch {
	case old.Revoked():
		return nil, ErrRevoked
	case old.Expired(now):
		return nil, ErrExpired
	}
	next.CreatedAt, next.LastUsedAt = now, time.Time{}
	if m.maxLifetime > 0 {
		// A lifetime policy set after the old token was issued applies to
		// its replacement, which is a new token.
		if limit := m.lifetimeLimit(now); next.ExpiresAt.IsZero() || next.ExpiresAt.After(limit) {
			next.ExpiresAt = limit
		}
	}
	iss, rec, err := m.mint(next)
	if err != nil {
		return nil, err
	}
	if err := m.store.Rotate(ctx, id, Revocation{At: now, By: actor}, rec); err != nil {
		return nil, storeErr(err, ErrRevoked, ErrNotFound)
	}
	m.emit(ctx, Event{Kind: EventRotated, TokenID: id, ReplacedBy: iss.Token.ID, Owner: old.Owner, Actor: actor, Target: old.Target})
	return iss, nil
}

// DeleteTarget deletes every token of a repository or project that the
// forge deleted (for a project, its repository tokens too), so that a new
// repository or project that reuses the identity does not inherit them. It
// returns how many it deleted. It checks no permission: the forge calls it
// from its own deletion code.
func (m *Manager) DeleteTarget(ctx context.Context, target Target) (int, error) {
	if err := target.Validate(); err != nil {
		return 0, err
	}
	n, err := m.store.DeleteTarget(ctx, target)
	if err != nil {
		return n, storeErr(err)
	}
	m.emit(ctx, Event{Kind: EventDeleted, Target: target, Count: n})
	return n, nil
}
