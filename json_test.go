package accesstoken_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/forgekit/accesstoken"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

// TestTokenJSON: the documented JSON form, both ways; zero times and empty
// fields left out; no secret, and no digest for a Record.
func TestTokenJSON(t *testing.T) {
	full := accesstoken.Token{
		ID:               uuid.MustParse("0b5a6a8e-8c4e-4a51-9f3c-6f1c2d3e4f50"),
		Owner:            "alice",
		Description:      "CI clone ✓",
		Target:           accesstoken.RepositoryTarget("demo", "hello"),
		Scopes:           accesstoken.NewScopeSet(accesstoken.ScopePull, accesstoken.ScopePush),
		CreatedAt:        time.Date(2026, 1, 2, 3, 4, 5, 123456000, time.UTC),
		ExpiresAt:        time.Date(2026, 4, 2, 3, 4, 5, 123456000, time.FixedZone("UTC+2", 7200)),
		LastUsedAt:       time.Date(2026, 1, 3, 10, 0, 0, 0, time.UTC),
		RevokedAt:        time.Date(2026, 2, 1, 9, 30, 0, 0, time.UTC),
		RevokedBy:        "system:push-protection",
		RevocationReason: "found in a push to demo/hello",
		ReplacedBy:       uuid.MustParse("5c7d0e1f-2a3b-4c5d-8e9f-0a1b2c3d4e5f"),
	}
	b, err := json.Marshal(full)
	require.NoError(t, err)
	require.JSONEq(t, `{
		"id": "0b5a6a8e-8c4e-4a51-9f3c-6f1c2d3e4f50",
		"owner": "alice",
		"description": "CI clone ✓",
		"target": {"project": "demo", "repository": "hello"},
		"scopes": ["repository:pull", "repository:push"],
		"created_at": "2026-01-02T03:04:05.123456Z",
		"expires_at": "2026-04-02T01:04:05.123456Z",
		"last_used_at": "2026-01-03T10:00:00Z",
		"revoked_at": "2026-02-01T09:30:00Z",
		"revoked_by": "system:push-protection",
		"revocation_reason": "found in a push to demo/hello",
		"replaced_by": "5c7d0e1f-2a3b-4c5d-8e9f-0a1b2c3d4e5f"
	}`, string(b))
	var back accesstoken.Token
	require.NoError(t, json.Unmarshal(b, &back))
	require.True(t, back.ExpiresAt.Equal(full.ExpiresAt))
	back.ExpiresAt = full.ExpiresAt
	require.Equal(t, full, back)

	fresh := accesstoken.Token{ID: full.ID, Owner: "bob", Description: "d", Target: accesstoken.ProjectTarget("demo"),
		Scopes: accesstoken.NewScopeSet(accesstoken.ScopePull), CreatedAt: full.CreatedAt}
	b, err = json.Marshal(fresh)
	require.NoError(t, err)
	require.JSONEq(t, `{"id": "0b5a6a8e-8c4e-4a51-9f3c-6f1c2d3e4f50", "owner": "bob", "description": "d",
		"target": {"project": "demo"}, "scopes": ["repository:pull"], "created_at": "2026-01-02T03:04:05.123456Z"}`, string(b))
	require.NotContains(t, string(b), "0001-01-01")
	back = accesstoken.Token{}
	require.NoError(t, json.Unmarshal(b, &back))
	require.Equal(t, fresh, back)

	// In a struct of the forge's own, and as a Record (no digest).
	rec := accesstoken.Record{Token: fresh, Digest: accesstoken.Digest{1, 2, 3}}
	b, err = json.Marshal(struct {
		Tokens []accesstoken.Token `json:"tokens"`
		Record accesstoken.Record  `json:"record"`
	}{[]accesstoken.Token{fresh}, rec})
	require.NoError(t, err)
	require.NotContains(t, string(b), "igest")
	require.Equal(t, 2, strings.Count(string(b), `"owner":"bob"`))

	require.Error(t, json.Unmarshal([]byte(`{"id":"0b5a6a8e-8c4e-4a51-9f3c-6f1c2d3e4f50","token":"gat_x"}`), &back), "a Token holds no secret")
	require.Error(t, json.Unmarshal([]byte(`{"created_at":"yesterday"}`), &back))
}

// TestIssuedJSON: an issued token's secret is written only by RevealJSON.
func TestIssuedJSON(t *testing.T) {
	e := newEnv(t)
	iss := issue(t, e.m, accesstoken.ProjectTarget("demo"), accesstoken.ScopePull)
	secret := iss.Secret.Reveal()
	for _, v := range []any{iss, *iss, map[string]any{"issued": iss}} {
		b, err := json.Marshal(v)
		require.NoError(t, err)
		require.NotContains(t, string(b), secret)
		require.NotContains(t, string(b), "REDACTED", "the secret is left out, not written redacted")
	}
	b, err := iss.RevealJSON()
	require.NoError(t, err)
	var got map[string]any
	require.NoError(t, json.Unmarshal(b, &got))
	require.Equal(t, secret, got["token"])
	require.Equal(t, iss.Token.ID.String(), got["id"])
	plain, err := json.Marshal(iss)
	require.NoError(t, err)
	var want map[string]any
	require.NoError(t, json.Unmarshal(plain, &want))
	want["token"] = secret
	require.Equal(t, want, got, "RevealJSON is the token's JSON form and the secret")
}
