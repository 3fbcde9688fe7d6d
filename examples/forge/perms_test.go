package main

import (
	"context"
	"testing"

	"github.com/forgekit/accesstoken"
)

// TestPermsVisibility: the forge's Authorizer answers the Manager's two
// questions, may the user do this and may they see the repository at
// all, in one call (accesstoken.VisibilityAuthorizer), by the forge's
// rules, for every role on a public and a private repository.
func TestPermsVisibility(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, _, err := openDB(ctx, t.TempDir(), "", true)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, u := range []string{"owner", "reader", "writer", "outsider"} {
		if err := db.AddUser(ctx, u, "password "+u); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.AddProject(ctx, "alpha", "owner"); err != nil {
		t.Fatal(err)
	}
	for u, r := range map[string]Role{"reader": RoleRead, "writer": RoleWrite} {
		if err := db.SetMember(ctx, "alpha", u, r); err != nil {
			t.Fatal(err)
		}
	}
	for name, private := range map[string]bool{"pub": false, "priv": true} {
		if err := db.AddRepo(ctx, "alpha", name, private); err != nil {
			t.Fatal(err)
		}
	}
	var authz accesstoken.Authorizer = perms{db}
	va, ok := authz.(accesstoken.VisibilityAuthorizer)
	if !ok {
		t.Fatal("perms is not an accesstoken.VisibilityAuthorizer: the Manager asks it twice for some refusals")
	}
	type answer struct{ access, see bool }
	for _, c := range []struct {
		user, repo string
		scope      accesstoken.Scope
		want       answer
	}{
		{"outsider", "pub", accesstoken.ScopePull, answer{true, true}},
		{"outsider", "pub", accesstoken.ScopeBuildStatus, answer{false, true}},
		{"outsider", "priv", accesstoken.ScopePull, answer{false, false}},
		{"outsider", "priv", accesstoken.ScopeBuildStatus, answer{false, false}},
		{"reader", "priv", accesstoken.ScopePull, answer{true, true}},
		{"reader", "priv", accesstoken.ScopeBuildStatus, answer{false, true}},
		{"reader", "priv", accesstoken.ScopePush, answer{false, true}},
		{"writer", "priv", accesstoken.ScopeBuildStatus, answer{true, true}},
		{"writer", "priv", accesstoken.ScopePush, answer{true, true}},
		{"owner", "priv", accesstoken.ScopeBuildStatus, answer{true, true}},
		{"owner", "nope", accesstoken.ScopePull, answer{false, false}},
	} {
		res := accesstoken.Resource{Project: "alpha", Repository: c.repo}
		access, see, err := va.CanAccessAndSee(ctx, c.user, res, c.scope)
		if err != nil || (answer{access, see}) != c.want {
			t.Errorf("%s, %s on alpha/%s: access %v, see %v, %v; want %+v", c.user, c.scope, c.repo, access, see, err, c.want)
		}
		if one, err := authz.CanAccess(ctx, c.user, res, c.scope); err != nil || one != c.want.access {
			t.Errorf("%s, %s on alpha/%s: CanAccess %v, %v; want %v", c.user, c.scope, c.repo, one, err, c.want.access)
		}
	}
	if access, see, err := va.CanAccessAndSee(ctx, "owner", accesstoken.ProjectResource("alpha"), accesstoken.ScopePull); access || see || err != nil {
		t.Errorf("a whole project: %v %v %v; want nothing", access, see, err)
	}
}
