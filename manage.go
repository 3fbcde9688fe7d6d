package accesstoken

import (
	"context"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
)

// IssueRequest asks for a new token.
type IssueRequest struct {
	// Owner is the signed-in user issuing the token, whom it will act as.
	// The [Authorizer] must allow Owner to manage tokens of Target.
	Owner string
	// Description says what the token is for; at most
	// [MaxDescriptionLen] characters of printable UTF-8. It may be empty.
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
// [ErrUnknownScope]) for a bad request, [ErrForbidden] when the owner may
// not manage tokens of the target, [ErrStoreFailure] or
// [ErrAuthorizerFailure] when the request could not be decided.
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

func checkDescription(s string) error {
	switch {
	case utf8.RuneCountInString(s) > MaxDescriptionLen:
		return invalid(ErrBadDescription, fmt.Sprintf("longer than %d characters", MaxDescriptionLen))
	case !printable(s):
		return invalid(ErrBadDescription, "not printable UTF-8")
	}
	return nil
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

// ListOptions refines a listing.
type ListOptions struct {
	// IncludeInactive also lists revoked and expired tokens. By default
	// only active ones are listed, as on Launchpad's token pages.
	IncludeInactive bool
}

// ListForTarget lists the tokens of target, oldest first, if actor may
// manage them. For a repository target it also lists the project tokens that
// cover the repository (each with its own Target), as Launchpad's
// repository page does. It never returns secrets; there are none to return.
func (m *Manager) ListForTarget(ctx context.Context, actor string, target Target, opts ListOptions) ([]Token, error) {
	if err := target.Validate(); err != nil {
		return nil, err
	}
	if err := m.mayManage(ctx, actor, target); err != nil {
		return nil, err
	}
	q := Query{Target: &target, Covering: !target.IsProject()}
	return m.list(ctx, q, opts)
}

// ListForOwner lists the tokens owned by owner, oldest first, for the
// owner's own settings page. The caller checks that the signed-in user is
// owner (or an administrator).
func (m *Manager) ListForOwner(ctx context.Context, owner string, opts ListOptions) ([]Token, error) {
	if err := checkOwner("owner", owner); err != nil {
		return nil, err
	}
	return m.list(ctx, Query{Owner: owner}, opts)
}

func (m *Manager) list(ctx context.Context, q Query, opts ListOptions) ([]Token, error) {
	if !opts.IncludeInactive {
		q.Active = m.clock()
	}
	recs, err := m.store.List(ctx, q)
	if err != nil {
		return nil, storeErr(err)
	}
	out := make([]Token, len(recs))
	for i := range recs {
		out[i] = recs[i].Token
	}
	return out, nil
}

// Revoke revokes a token; the next [Manager.Verify] of it fails with
// [ErrRevoked]. The token's owner may always revoke it (even after losing
// access to its target, say because the secret leaked); anyone else needs
// to be allowed to manage tokens of its target. Revoking a revoked token
// succeeds and changes nothing. An unknown ID, or one actor may not see,
// is [ErrNotFound].
func (m *Manager) Revoke(ctx context.Context, actor string, id uuid.UUID) (Token, error) {
	prior, err := m.Get(ctx, actor, id) // checks actor too

	if err != nil {
		return Token{}, err
	}
	now := m.clock()
	rec, err := m.store.Revoke(ctx, id, now, actor)
	if err != nil {
		return Token{}, storeErr(err, ErrNotFound)
	}
	if !prior.Revoked() && rec.RevokedAt.Equal(now) && rec.RevokedBy == actor { // this call revoked it
		m.emit(ctx, Event{Kind: EventRevoked, TokenID: rec.ID, Owner: rec.Owner, Actor: actor, Target: rec.Target})
	}
	return rec.Token, nil
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
	old, err := m.Get(ctx, actor, id) // ErrNotFound unless actor may see it
	if err != nil {
		return nil, err
	}
	if old.Owner != actor {
		return nil, fmt.Errorf("%w: only the owner may rotate a token", ErrForbidden)
	}
	if err := m.mayManage(ctx, actor, old.Target); err != nil {
		return nil, err
	}
	now := m.clock()
	switch {
	case old.Revoked():
		return nil, ErrRevoked
	case old.Expired(now):
		return nil, ErrExpired
	}
	next := old
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
	if err := m.store.Rotate(ctx, id, now, actor, rec); err != nil {
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
