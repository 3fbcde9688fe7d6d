package accesstoken

import (
	"fmt"
	"time"

	"github.com/google/uuid"
)

// Token is the stored description of an access token. It never holds the
// secret: that is returned once, by [Manager.Issue] or [Manager.Rotate], as
// a [Secret].
type Token struct {
	// ID identifies the token in lists, URLs and audit logs. It is not
	// secret and cannot be used to authenticate.
	ID uuid.UUID
	// Owner is the user the token acts as. It is the user who issued it.
	Owner string
	// Description is the owner's note saying what the token is for.
	Description string
	// Target is the repository or project the token is for.
	Target Target
	// Scopes are the operations the token allows, in canonical order.
	Scopes ScopeSet
	// CreatedAt is when the token was issued.
	CreatedAt time.Time
	// ExpiresAt is when the token stops working; zero means never.
	ExpiresAt time.Time
	// LastUsedAt is when the token last authenticated a request, recorded
	// at most once per [WithLastUsedInterval]; zero means never.
	LastUsedAt time.Time
	// RevokedAt is when the token was revoked; zero means it was not.
	RevokedAt time.Time
	// RevokedBy is who revoked the token: a user, or a system actor
	// ([SystemActor]), such as a scanner that found the token leaked.
	RevokedBy string
	// RevocationReason says why the token was revoked, when the revoker
	// said; empty otherwise.
	RevocationReason string
	// ReplacedBy is the ID of the token that replaced this one when it
	// was rotated; [uuid.Nil] otherwise.
	ReplacedBy uuid.UUID
}

// Revoked reports whether the token was revoked.
func (t Token) Revoked() bool { return !t.RevokedAt.IsZero() }

// Expired reports whether the token's expiry has passed at now.
func (t Token) Expired(now time.Time) bool {
	return !t.ExpiresAt.IsZero() && !now.Before(t.ExpiresAt)
}

// Active reports whether the token is neither revoked nor expired at now.
func (t Token) Active(now time.Time) bool { return !t.Revoked() && !t.Expired(now) }

// String describes the token for logs. There is no secret in a Token.
func (t Token) String() string {
	return fmt.Sprintf("token %s (owner %q, target %s, scopes [%s])", t.ID, t.Owner, t.Target, t.Scopes)
}
