package main

import (
	"context"
	"errors"

	"github.com/forgekit/accesstoken"
)

// The forge's permission rules, in one place:
//
//   - the project's owner is an admin;
//   - read: pull the project's private repositories;
//   - write: also push; issue repository tokens;
//   - admin: also manage members and issue project tokens;
//   - anyone, anonymous too, may pull a public repository.
//
// perms is the accesstoken.Authorizer built from these rules. The Manager
// asks it on every verification, so a token stops working the moment its
// owner loses the permission the operation needs.
type perms struct{ db *DB }

var _ accesstoken.VisibilityAuthorizer = perms{}

// CanAccess implements accesstoken.Authorizer.
func (p perms) CanAccess(ctx context.Context, user string, res accesstoken.Resource, scope accesstoken.Scope) (bool, error) {
	access, _, err := p.CanAccessAndSee(ctx, user, res, scope)
	return access, err
}

// CanAccessAndSee implements accesstoken.VisibilityAuthorizer: whether
// user may do scope on the repository, and whether they may see it at
// all, from the one query that reads the repository and user's role. The
// Manager asks it instead of CanAccess, so that a refused token costs one
// query too, and its refusal names a repository (403) only to one who
// may see it (otherwise 404, as for one that does not exist).
func (p perms) CanAccessAndSee(ctx context.Context, user string, res accesstoken.Resource, scope accesstoken.Scope) (access, see bool, err error) {
	if res.IsProject() {
		return false, false, nil // the forge has no operation on a whole project
	}
	repo, role, err := p.db.RepoAccess(ctx, res.Project, res.Repository, user)
	if errors.Is(err, errNotFound) {
		return false, false, nil
	} else if err != nil {
		return false, false, err
	}
	return mayAccess(repo, role, scope), canSee(repo, role), nil
}

func mayAccess(repo *Repo, role Role, scope accesstoken.Scope) bool {
	switch scope {
	case accesstoken.ScopePull:
		return !repo.Private || role >= RoleRead
	case accesstoken.ScopePush, accesstoken.ScopeBuildStatus:
		return role >= RoleWrite
	}
	return false
}

// CanManage implements accesstoken.Authorizer: repository tokens may be
// issued by write and admin members, project tokens by admins.
func (p perms) CanManage(ctx context.Context, user string, t accesstoken.Target) (bool, error) {
	var role Role
	var err error
	if t.IsProject() {
		role, err = p.db.Role(ctx, t.Project, user) // RoleNone for a missing project
	} else {
		_, role, err = p.db.RepoAccess(ctx, t.Project, t.Repository, user)
	}
	if errors.Is(err, errNotFound) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	return mayManage(t, role), nil
}

func mayManage(t accesstoken.Target, role Role) bool {
	if t.IsProject() {
		return role >= RoleAdmin
	}
	return role >= RoleWrite
}

// canSee reports whether user may see the repository at all (pull from
// it): a private one is hidden (404) from non-members.
func canSee(repo *Repo, role Role) bool { return mayAccess(repo, role, accesstoken.ScopePull) }
