package accesstoken_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/forgekit/accesstoken"
	"github.com/forgekit/accesstoken/memstore"
)

// forgePermissions stands for the forge's own permission model: here alice
// may do everything on project "demo", and nobody may do anything else.
var forgePermissions = accesstoken.AuthorizerFuncs{
	Access: func(_ context.Context, user string, res accesstoken.Resource, _ accesstoken.Scope) (bool, error) {
		return user == "alice" && res.Project == "demo", nil
	},
	Manage: func(_ context.Context, user string, t accesstoken.Target) (bool, error) {
		return user == "alice" && t.Project == "demo", nil
	},
}

func ExampleManager_Issue() {
	ctx := context.Background()
	m, _ := accesstoken.New(memstore.New(), forgePermissions)

	iss, err := m.Issue(ctx, accesstoken.IssueRequest{
		Owner:       "alice",
		Description: "CI clone",
		Target:      accesstoken.ProjectTarget("demo"),
		Scopes:      []accesstoken.Scope{accesstoken.ScopePull},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(iss.Token.Owner, iss.Token.Target, iss.Token.Scopes)
	fmt.Println("printed secret:", iss.Secret)
	fmt.Println("length of the secret to show once:", len(iss.Secret.Reveal()))

	// bob may not manage tokens of project demo.
	_, err = m.Issue(ctx, accesstoken.IssueRequest{
		Owner: "bob", Description: "bob's clone", Target: accesstoken.ProjectTarget("demo"),
		Scopes: []accesstoken.Scope{accesstoken.ScopePull},
	})
	fmt.Println(err)
	// Output:
	// alice demo/* repository:pull
	// printed secret: [REDACTED]
	// length of the secret to show once: 53
	// accesstoken: not permitted to manage these tokens
}

func ExampleManager_Verify() {
	ctx := context.Background()
	m, _ := accesstoken.New(memstore.New(), forgePermissions)
	iss, _ := m.Issue(ctx, accesstoken.IssueRequest{
		Owner:       "alice",
		Description: "CI clone",
		Target:      accesstoken.ProjectTarget("demo"),
		Scopes:      []accesstoken.Scope{accesstoken.ScopePull},
	})
	secret := iss.Secret.Reveal() // what git sends as the password

	hello := accesstoken.Resource{Project: "demo", Repository: "hello"}
	tok, err := m.Verify(ctx, secret, hello, accesstoken.ScopePull)
	fmt.Println(tok.Owner, err)

	_, err = m.Verify(ctx, secret, hello, accesstoken.ScopePush)
	fmt.Println(errors.Is(err, accesstoken.ErrMissingScope))

	other := accesstoken.Resource{Project: "other", Repository: "hello"}
	_, err = m.Verify(ctx, secret, other, accesstoken.ScopePull)
	fmt.Println(errors.Is(err, accesstoken.ErrWrongTarget))

	_, err = m.Verify(ctx, "gat_not-a-token", hello, accesstoken.ScopePull)
	fmt.Println(err)
	// Output:
	// alice <nil>
	// true
	// true
	// accesstoken: malformed token: wrong length
}

func ExampleManager_Revoke() {
	ctx := context.Background()
	m, _ := accesstoken.New(memstore.New(), forgePermissions)
	iss, _ := m.Issue(ctx, accesstoken.IssueRequest{
		Owner:       "alice",
		Description: "deploy",
		Target:      accesstoken.RepositoryTarget("demo", "hello"),
		Scopes:      []accesstoken.Scope{accesstoken.ScopePush},
	})
	hello := accesstoken.Resource{Project: "demo", Repository: "hello"}

	tok, _ := m.Revoke(ctx, "alice", iss.Token.ID)
	fmt.Println("revoked by", tok.RevokedBy)

	_, err := m.Verify(ctx, iss.Secret.Reveal(), hello, accesstoken.ScopePush)
	fmt.Println(err)
	// Output:
	// revoked by alice
	// accesstoken: token revoked
}

func ExampleManager_Rotate() {
	ctx := context.Background()
	m, _ := accesstoken.New(memstore.New(), forgePermissions, accesstoken.WithMaxLifetime(90*24*time.Hour))
	old, _ := m.Issue(ctx, accesstoken.IssueRequest{
		Owner:       "alice",
		Description: "CI push",
		Target:      accesstoken.RepositoryTarget("demo", "hello"),
		Scopes:      []accesstoken.Scope{accesstoken.ScopePull, accesstoken.ScopePush},
		ExpiresAt:   time.Now().Add(7 * 24 * time.Hour),
	})

	// The owner rotates it: same description, target and scopes, a new
	// secret; the old one is revoked at once.
	next, err := m.Rotate(ctx, "alice", old.Token.ID)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(next.Token.Description, next.Token.Scopes, next.Token.ExpiresAt.Equal(old.Token.ExpiresAt))
	hello := accesstoken.Resource{Project: "demo", Repository: "hello"}
	_, err = m.Verify(ctx, old.Secret.Reveal(), hello, accesstoken.ScopePush)
	fmt.Println("old:", err)
	gone, _ := m.Get(ctx, "alice", old.Token.ID)
	fmt.Println("replaced by the new one:", gone.ReplacedBy == next.Token.ID)

	// As GitLab's rotate takes expires_at: a new expiry, within the
	// maximum lifetime.
	again, err := m.RotateWithExpiry(ctx, "alice", next.Token.ID, time.Now().Add(30*24*time.Hour))
	fmt.Println(err, again.Token.ExpiresAt.After(next.Token.ExpiresAt))
	_, err = m.RotateWithExpiry(ctx, "alice", again.Token.ID, time.Now().Add(365*24*time.Hour))
	fmt.Println(errors.Is(err, accesstoken.ErrBadExpiry))
	// Output:
	// CI push repository:pull repository:push true
	// old: accesstoken: token revoked
	// replaced by the new one: true
	// <nil> true
	// true
}

func ExampleManager_PageForOwner() {
	ctx := context.Background()
	m, _ := accesstoken.New(memstore.New(), forgePermissions)
	for i := range 5 {
		_, err := m.Issue(ctx, accesstoken.IssueRequest{
			Owner:       "alice",
			Description: fmt.Sprintf("runner %d", i),
			Target:      accesstoken.ProjectTarget("demo"),
			Scopes:      []accesstoken.Scope{accesstoken.ScopePull},
			ExpiresAt:   time.Now().Add(time.Duration(i+1) * 48 * time.Hour),
		})
		if err != nil {
			fmt.Println(err)
			return
		}
	}

	// A settings page, two tokens at a time: the cursor of the next page
	// goes in its link (?cursor=...), and comes back as ListOptions.Cursor.
	opts := accesstoken.ListOptions{Limit: 2}
	seen := map[string]bool{}
	for {
		page, err := m.PageForOwner(ctx, "alice", opts)
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println("a page of", len(page.Tokens))
		for _, tok := range page.Tokens {
			seen[tok.Description] = true
		}
		if page.Next == "" {
			break
		}
		opts.Cursor = page.Next
	}
	fmt.Println(len(seen), "tokens, each once")

	// "Your tokens expire within a week": active ones expiring before then.
	soon, _ := m.ListForOwner(ctx, "alice", accesstoken.ListOptions{ExpiringBefore: time.Now().Add(7 * 24 * time.Hour)})
	fmt.Println(len(soon), "expire within a week")

	// An operator's page of every token, filtered by owner.
	all, _ := m.PageAll(ctx, accesstoken.TokenFilter{Owner: "alice"}, accesstoken.ListOptions{State: accesstoken.StateAll, Limit: 100})
	fmt.Println(len(all.Tokens), "tokens of alice in all")
	// Output:
	// a page of 2
	// a page of 2
	// a page of 1
	// 5 tokens, each once
	// 3 expire within a week
	// 5 tokens of alice in all
}

func ExampleWithEvents() {
	ctx := context.Background()
	// The audit log: every issue, revocation, rotation, deletion, use and
	// rejection, as structured records without secrets. (The time and
	// the random token IDs are left out here so that the output is the
	// same every time.)
	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		Level: slog.LevelDebug,
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey || a.Key == "token_id" {
				return slog.Attr{}
			}
			return a
		},
	}))
	m, _ := accesstoken.New(memstore.New(), forgePermissions, accesstoken.WithEvents(accesstoken.SlogEvents(logger)))
	iss, _ := m.Issue(ctx, accesstoken.IssueRequest{
		Owner:       "alice",
		Description: "CI clone",
		Target:      accesstoken.ProjectTarget("demo"),
		Scopes:      []accesstoken.Scope{accesstoken.ScopePull},
	})
	hello := accesstoken.Resource{Project: "demo", Repository: "hello"}
	_, _ = m.Verify(ctx, iss.Secret.Reveal(), hello, accesstoken.ScopePush)
	_, _ = m.RevokeLeaked(ctx, iss.Secret.Reveal(), "system:push-protection", "found in a push to demo/hello")
	// Output:
	// level=INFO msg="access token issued" event=issued owner=alice actor=alice target=demo/*
	// level=WARN msg="access token rejected" event=rejected owner=alice target=demo/* resource=demo/hello scope=repository:push reason="accesstoken: token lacks the required scope"
	// level=INFO msg="access token revoked" event=revoked owner=alice actor=system:push-protection target=demo/* revocation_reason="found in a push to demo/hello"
}

func ExampleFormat_FindAll() {
	ctx := context.Background()
	m, _ := accesstoken.New(memstore.New(), forgePermissions)
	iss, _ := m.Issue(ctx, accesstoken.IssueRequest{
		Owner:       "alice",
		Description: "deploy",
		Target:      accesstoken.ProjectTarget("demo"),
		Scopes:      []accesstoken.Scope{accesstoken.ScopePush},
	})

	// A push, a log or a paste that holds the token, and things that look
	// like one: a mistyped copy fails the checksum, and a token inside a
	// longer word does not stand on its own.
	secret := iss.Secret.Reveal()
	typo := byte('x')
	if secret[20] == typo { // one character in 62: the typo must change it
		typo = 'y'
	}
	mistyped := secret[:20] + string(typo) + secret[21:]
	pushed := "deploy:\n  env:\n    TOKEN: " + secret + "\n    OLD: " + mistyped + "\n    X: a" + secret + "\n"
	found := m.Format().FindAll(pushed)
	fmt.Println(len(found), "found:", found[0] == secret)

	// What a scanner does with it: revoke it, as a system actor.
	for _, leaked := range found {
		tok, err := m.RevokeLeaked(ctx, leaked, "system:push-protection", "found in a push to demo/site")
		fmt.Println(tok.Description, tok.RevokedBy, err)
	}
	// Output:
	// 1 found: true
	// deploy system:push-protection <nil>
}

// forgeAuthorizer is an Authorizer: the forge's own roles, looked up on
// every verification, so that a token never does more than its owner may
// do now.
type forgeAuthorizer struct {
	roles  map[string]map[string]string // user → project → "reader", "developer" or "maintainer"
	public map[accesstoken.Resource]bool
}

// CanAccess: readers pull, developers also push and report build
// statuses; anyone pulls a public repository.
func (f forgeAuthorizer) CanAccess(ctx context.Context, user string, res accesstoken.Resource, scope accesstoken.Scope) (bool, error) {
	access, _, err := f.CanAccessAndSee(ctx, user, res, scope)
	return access, err
}

// CanAccessAndSee answers CanAccess and, in the same lookup, whether the
// user may see res at all: so every verification asks the forge once.
func (f forgeAuthorizer) CanAccessAndSee(_ context.Context, user string, res accesstoken.Resource, scope accesstoken.Scope) (access, see bool, err error) {
	role := f.roles[user][res.Project]
	see = role != "" || f.public[res]
	switch scope {
	case accesstoken.ScopePull:
		return see, see, nil
	case accesstoken.ScopePush, accesstoken.ScopeBuildStatus:
		return role == "developer" || role == "maintainer", see, nil
	}
	return false, see, nil // scopes the forge does not know allow nothing
}

// CanManage: maintainers issue tokens for their projects and repositories.
func (f forgeAuthorizer) CanManage(_ context.Context, user string, t accesstoken.Target) (bool, error) {
	return f.roles[user][t.Project] == "maintainer", nil
}

func ExampleAuthorizer() {
	ctx := context.Background()
	authz := forgeAuthorizer{roles: map[string]map[string]string{
		"alice": {"demo": "maintainer"},
		"bob":   {"demo": "reader"},
	}}
	m, _ := accesstoken.New(memstore.New(), authz)
	iss, _ := m.Issue(ctx, accesstoken.IssueRequest{
		Owner:       "alice",
		Description: "release",
		Target:      accesstoken.ProjectTarget("demo"),
		Scopes:      []accesstoken.Scope{accesstoken.ScopePull, accesstoken.ScopePush},
	})
	hello := accesstoken.Resource{Project: "demo", Repository: "hello"}
	_, err := m.Verify(ctx, iss.Secret.Reveal(), hello, accesstoken.ScopePush)
	fmt.Println("maintainer pushes:", err)

	// alice is demoted: her token loses the push at once, and the refusal
	// may say why (she may still see the repository).
	authz.roles["alice"]["demo"] = "reader"
	_, err = m.Verify(ctx, iss.Secret.Reveal(), hello, accesstoken.ScopePush)
	var rej *accesstoken.RejectedError
	fmt.Println(errors.Is(err, accesstoken.ErrOwnerDenied), errors.As(err, &rej) && rej.Visible)

	// bob may not issue tokens for demo.
	_, err = m.Issue(ctx, accesstoken.IssueRequest{Owner: "bob", Description: "mine", Target: accesstoken.ProjectTarget("demo"), Scopes: []accesstoken.Scope{accesstoken.ScopePull}})
	fmt.Println(err)
	// Output:
	// maintainer pushes: <nil>
	// true true
	// accesstoken: not permitted to manage these tokens
}
