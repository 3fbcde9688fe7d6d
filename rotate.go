package accesstoken

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
)

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
