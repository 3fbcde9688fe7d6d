package accesstoken

import (
	"context"

	"github.com/google/uuid"
)

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
	var rec Record
	if err := m.byDigest(ctx, &d, &rec); err != nil {
		return Token{}, err
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
