package accesstoken

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

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

// Issued is the result of [Manager.Issue] and [Manager.Rotate]: the stored
// token and its secret, which is not stored and cannot be recovered.
type Issued struct {
	Token  Token
	Secret Secret
}

// MarshalJSON encodes an issued token as its Token ([Token.MarshalJSON]),
// without the secret: an Issued put in a JSON reply by accident shows no
// secret. Write the secret where the caller asks for it with
// [Issued.RevealJSON].
func (iss Issued) MarshalJSON() ([]byte, error) { return iss.Token.MarshalJSON() }

// RevealJSON encodes an issued token as its Token ([Token.MarshalJSON])
// with the secret as "token", as GitLab's and GitHub's APIs return a new
// token: the one JSON form that holds the secret, for the one reply that
// shows it, after [Manager.Issue] or [Manager.Rotate].
func (iss Issued) RevealJSON() ([]byte, error) {
	j := iss.Token.toJSON()
	j.Token = iss.Secret.Reveal()
	return json.Marshal(j)
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
