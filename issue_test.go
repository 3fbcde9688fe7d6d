package accesstoken_test

import (
	"strings"
	"testing"
	"time"

	"github.com/forgekit/accesstoken"
	"github.com/stretchr/testify/require"
)

func TestIssueBadInput(t *testing.T) {
	e := newEnv(t)
	good := accesstoken.IssueRequest{Description: "manager 1", Owner: "alice", Target: accesstoken.ProjectTarget("demo"), Scopes: []accesstoken.Scope{accesstoken.ScopePull}}
	tests := []struct {
		name string
		edit func(*accesstoken.IssueRequest)
		want error
	}{
		{"empty owner", func(r *accesstoken.IssueRequest) { r.Owner = "" }, accesstoken.ErrBadOwner},
		{"owner with NUL", func(r *accesstoken.IssueRequest) { r.Owner = "al\x00ice" }, accesstoken.ErrBadOwner},
		{"huge owner", func(r *accesstoken.IssueRequest) { r.Owner = strings.Repeat("a", 1<<20) }, accesstoken.ErrBadOwner},
		{"no scopes", func(r *accesstoken.IssueRequest) { r.Scopes = nil }, accesstoken.ErrNoScopes},
		{"unknown scope", func(r *accesstoken.IssueRequest) { r.Scopes = []accesstoken.Scope{"repository:admin"} }, accesstoken.ErrUnknownScope},
		{"misspelt scope", func(r *accesstoken.IssueRequest) { r.Scopes = []accesstoken.Scope{"repository:Pull"} }, accesstoken.ErrUnknownScope},
		{"huge scope", func(r *accesstoken.IssueRequest) {
			r.Scopes = []accesstoken.Scope{accesstoken.Scope(strings.Repeat("x", 1<<20))}
		}, accesstoken.ErrUnknownScope},
		{"expiry now", func(r *accesstoken.IssueRequest) { r.ExpiresAt = e.clock.Now() }, accesstoken.ErrBadExpiry},
		{"expiry in the past", func(r *accesstoken.IssueRequest) { r.ExpiresAt = e.clock.Now().Add(-time.Hour) }, accesstoken.ErrBadExpiry},
		{"description too long", func(r *accesstoken.IssueRequest) { r.Description = strings.Repeat("é", 256) }, accesstoken.ErrBadDescription},
		{"description with control", func(r *accesstoken.IssueRequest) { r.Description = "a\nb" }, accesstoken.ErrBadDescription},
		{"description invalid UTF-8", func(r *accesstoken.IssueRequest) { r.Description = "\xff" }, accesstoken.ErrBadDescription},
		{"no description", func(r *accesstoken.IssueRequest) { r.Description = "" }, accesstoken.ErrBadDescription},
		{"blank description", func(r *accesstoken.IssueRequest) { r.Description = " \u00a0 " }, accesstoken.ErrBadDescription},
		{"description with a space at the end", func(r *accesstoken.IssueRequest) { r.Description = "CI " }, accesstoken.ErrBadDescription},
		{"description with a space at the start", func(r *accesstoken.IssueRequest) { r.Description = " CI" }, accesstoken.ErrBadDescription},
		{"description with a right-to-left override", func(r *accesstoken.IssueRequest) { r.Description = "deploy \u202egnp.exe" }, accesstoken.ErrBadDescription},
		{"description with a left-to-right isolate", func(r *accesstoken.IssueRequest) { r.Description = "a\u2066b\u2069" }, accesstoken.ErrBadDescription},
		{"description with a right-to-left mark", func(r *accesstoken.IssueRequest) { r.Description = "a\u200fb" }, accesstoken.ErrBadDescription},
		{"description with a zero-width space", func(r *accesstoken.IssueRequest) { r.Description = "C\u200bI" }, accesstoken.ErrBadDescription},
		{"description with a zero-width joiner", func(r *accesstoken.IssueRequest) { r.Description = "C\u200dI" }, accesstoken.ErrBadDescription},
		{"description with a byte order mark", func(r *accesstoken.IssueRequest) { r.Description = "\ufeffCI" }, accesstoken.ErrBadDescription},
		{"description with a soft hyphen", func(r *accesstoken.IssueRequest) { r.Description = "C\u00adI" }, accesstoken.ErrBadDescription},
		{"description with a tag character", func(r *accesstoken.IssueRequest) { r.Description = "CI\U000E0041" }, accesstoken.ErrBadDescription},
		{"description with a Hangul filler", func(r *accesstoken.IssueRequest) { r.Description = "C\u3164I" }, accesstoken.ErrBadDescription},
		{"description with a line separator", func(r *accesstoken.IssueRequest) { r.Description = "C\u2028I" }, accesstoken.ErrBadDescription},
		{"description with DEL", func(r *accesstoken.IssueRequest) { r.Description = "C\x7fI" }, accesstoken.ErrBadDescription},
		{"owner named like a system actor", func(r *accesstoken.IssueRequest) { r.Owner = "system:ci" }, accesstoken.ErrBadOwner},
		{"owner named like a system actor, other case", func(r *accesstoken.IssueRequest) { r.Owner = "SYSTEM:ci" }, accesstoken.ErrBadOwner},
		{"empty target", func(r *accesstoken.IssueRequest) { r.Target = accesstoken.Target{} }, accesstoken.ErrBadTarget},
		{"huge project", func(r *accesstoken.IssueRequest) { r.Target = accesstoken.ProjectTarget(strings.Repeat("p", 256)) }, accesstoken.ErrBadTarget},
		{"project invalid UTF-8", func(r *accesstoken.IssueRequest) { r.Target = accesstoken.ProjectTarget("\xfe") }, accesstoken.ErrBadTarget},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := good
			tt.edit(&req)
			iss, err := e.m.Issue(ctx, req)
			require.Nil(t, iss)
			require.ErrorIs(t, err, tt.want)
			require.ErrorIs(t, err, accesstoken.ErrInvalidInput)
			require.Less(t, len(err.Error()), 200, "error message should be bounded")
			if req.Description != "" && req.Description != good.Description {
				require.NotContains(t, err.Error(), req.Description, "the error quotes the text")
			}
		})
	}
	require.Equal(t, 0, e.store.Len(), "a rejected request stored a token")
	// Exactly 255 characters, and scopes deduplicated into canonical order.
	req := good
	req.Description = strings.Repeat("é", 255)
	req.Scopes = []accesstoken.Scope{accesstoken.ScopePush, accesstoken.ScopePull, accesstoken.ScopePush}
	iss, err := e.m.Issue(ctx, req)
	require.NoError(t, err)
	require.Equal(t, []accesstoken.Scope{accesstoken.ScopePull, accesstoken.ScopePush}, iss.Token.Scopes.List())
}

func TestMaxLifetime(t *testing.T) {
	e := newEnv(t, accesstoken.WithMaxLifetime(30*24*time.Hour))
	iss := issue(t, e.m, accesstoken.ProjectTarget("demo"), accesstoken.ScopePull)
	require.Equal(t, e.clock.Now().Add(30*24*time.Hour), iss.Token.ExpiresAt, "a token without expiry gets the maximum")
	_, err := e.m.Issue(ctx, accesstoken.IssueRequest{
		Description: "manager 3",
		Owner:       "alice", Target: accesstoken.ProjectTarget("demo"), Scopes: []accesstoken.Scope{accesstoken.ScopePull},
		ExpiresAt: e.clock.Now().Add(31 * 24 * time.Hour),
	})
	require.ErrorIs(t, err, accesstoken.ErrBadExpiry)
}

func TestOnlyManagersIssue(t *testing.T) {
	e := newEnv(t)
	for _, target := range []accesstoken.Target{accesstoken.ProjectTarget("demo"), accesstoken.RepositoryTarget("demo", "hello"), accesstoken.ProjectTarget("nope")} {
		_, err := e.m.Issue(ctx, accesstoken.IssueRequest{Description: "manager 4", Owner: "bob", Target: target, Scopes: []accesstoken.Scope{accesstoken.ScopePull}})
		require.ErrorIs(t, err, accesstoken.ErrForbidden, "bob issuing for %v", target)
	}
	_, err := e.m.ListForTarget(ctx, "bob", accesstoken.ProjectTarget("demo"), accesstoken.ListOptions{})
	require.ErrorIs(t, err, accesstoken.ErrForbidden)
	require.Equal(t, 0, e.store.Len())
}

func TestFarFutureExpiry(t *testing.T) {
	e := newEnv(t)
	for _, exp := range []time.Time{time.Date(300000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)} {
		_, err := e.m.Issue(ctx, accesstoken.IssueRequest{Description: "review 1", Owner: "alice", Target: accesstoken.ProjectTarget("demo"),
			Scopes: []accesstoken.Scope{accesstoken.ScopePull}, ExpiresAt: exp})
		require.ErrorIs(t, err, accesstoken.ErrBadExpiry, "expiry %v", exp)
	}
	exp := time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC)
	iss, err := e.m.Issue(ctx, accesstoken.IssueRequest{Description: "review 2", Owner: "alice", Target: accesstoken.ProjectTarget("demo"),
		Scopes: []accesstoken.Scope{accesstoken.ScopePull}, ExpiresAt: exp})
	require.NoError(t, err)
	tok, err := e.m.Get(ctx, "alice", iss.Token.ID)
	require.NoError(t, err)
	require.True(t, tok.ExpiresAt.Equal(exp), "stored %v; want %v", tok.ExpiresAt, exp)
}
