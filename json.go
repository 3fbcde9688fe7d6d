package accesstoken

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// tokenJSON is the JSON form of a Token. See [Token.MarshalJSON].
type tokenJSON struct {
	ID               uuid.UUID  `json:"id"`
	Owner            string     `json:"owner"`
	Description      string     `json:"description"`
	Target           targetJSON `json:"target"`
	Scopes           ScopeSet   `json:"scopes"`
	CreatedAt        *jsonTime  `json:"created_at,omitempty"`
	ExpiresAt        *jsonTime  `json:"expires_at,omitempty"`
	LastUsedAt       *jsonTime  `json:"last_used_at,omitempty"`
	RevokedAt        *jsonTime  `json:"revoked_at,omitempty"`
	RevokedBy        string     `json:"revoked_by,omitempty"`
	RevocationReason string     `json:"revocation_reason,omitempty"`
	ReplacedBy       *uuid.UUID `json:"replaced_by,omitempty"`
	Token            string     `json:"token,omitempty"` // Issued.RevealJSON only
}

type targetJSON struct {
	Project    string `json:"project"`
	Repository string `json:"repository,omitempty"`
}

// jsonTime is a time in RFC 3339, in UTC, with as many fractional digits
// as it has (microseconds at most, as stores keep times).
type jsonTime time.Time

func (t jsonTime) MarshalJSON() ([]byte, error) {
	return []byte(`"` + time.Time(t).UTC().Format(time.RFC3339Nano) + `"`), nil
}

func (t *jsonTime) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return err
	}
	*t = jsonTime(v.UTC())
	return nil
}

func timeOrNil(t time.Time) *jsonTime {
	if t.IsZero() {
		return nil
	}
	j := jsonTime(t)
	return &j
}

func (t *jsonTime) time() time.Time {
	if t == nil {
		return time.Time{}
	}
	return time.Time(*t)
}

func (t Token) toJSON() tokenJSON {
	j := tokenJSON{
		ID: t.ID, Owner: t.Owner, Description: t.Description,
		Target: targetJSON{Project: t.Target.Project, Repository: t.Target.Repository},
		Scopes: t.Scopes, CreatedAt: timeOrNil(t.CreatedAt), ExpiresAt: timeOrNil(t.ExpiresAt),
		LastUsedAt: timeOrNil(t.LastUsedAt), RevokedAt: timeOrNil(t.RevokedAt),
		RevokedBy: t.RevokedBy, RevocationReason: t.RevocationReason,
	}
	if t.ReplacedBy != uuid.Nil {
		j.ReplacedBy = &t.ReplacedBy
	}
	return j
}

// MarshalJSON encodes the token in its documented JSON form, which a forge
// may return from its API as it is:
//
//	{
//	  "id": "0b5a6a8e-8c4e-4a51-9f3c-6f1c2d3e4f50",
//	  "owner": "alice",
//	  "description": "CI clone",
//	  "target": {"project": "demo", "repository": "hello"},
//	  "scopes": ["repository:pull", "repository:push"],
//	  "created_at": "2026-01-02T03:04:05.123456Z",
//	  "expires_at": "2026-04-02T03:04:05.123456Z",
//	  "last_used_at": "2026-01-03T10:00:00Z",
//	  "revoked_at": "2026-02-01T09:30:00Z",
//	  "revoked_by": "system:push-protection",
//	  "revocation_reason": "found in a push to demo/hello",
//	  "replaced_by": "5c7d0e1f-2a3b-4c5d-8e9f-0a1b2c3d4e5f"
//	}
//
// Keys are snake_case. target has no "repository" for a project token (and
// an empty "project" for a repository outside any project); scopes are in
// the token's order. Times are RFC 3339 in UTC, with the fraction of a
// second they have (microseconds at most), and are left out when zero
// (never expires, never used, not revoked): never "0001-01-01". revoked_by,
// revocation_reason and replaced_by are left out when empty. There is no
// secret in a Token, so none in its JSON: see [Issued.RevealJSON]. A
// [Record] encodes as its Token: the digest is left out too.
func (t Token) MarshalJSON() ([]byte, error) { return json.Marshal(t.toJSON()) }

// UnmarshalJSON decodes the JSON form of [Token.MarshalJSON], for a forge's
// API clients. A missing time is the zero time. It rejects a "token" key:
// a Token never holds a secret.
func (t *Token) UnmarshalJSON(b []byte) error {
	var j tokenJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	if j.Token != "" {
		return fmt.Errorf("accesstoken: a Token holds no secret: decode an issued token's \"token\" elsewhere")
	}
	*t = Token{
		ID: j.ID, Owner: j.Owner, Description: j.Description,
		Target: Target{Project: j.Target.Project, Repository: j.Target.Repository},
		Scopes: j.Scopes, CreatedAt: j.CreatedAt.time(), ExpiresAt: j.ExpiresAt.time(),
		LastUsedAt: j.LastUsedAt.time(), RevokedAt: j.RevokedAt.time(),
		RevokedBy: j.RevokedBy, RevocationReason: j.RevocationReason,
	}
	if j.ReplacedBy != nil {
		t.ReplacedBy = *j.ReplacedBy
	}
	return nil
}
