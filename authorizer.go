package accesstoken

import (
	"context"
	"errors"
)

// Authorizer is the forge's own permission model, which every [Manager]
// consults. Tokens authenticate; they do not authorize: a token acts as its
// owner and never grants more than the owner may do at the moment of the
// request. If the owner loses access to a repository, so do their tokens.
//
// Implementations must be safe for concurrent use. An error means the
// question could not be answered (the forge's database is down); the
// Manager then fails closed with [ErrAuthorizerFailure].
type Authorizer interface {
	// CanAccess reports whether user may, now, perform an operation that
	// needs scope on res: for [ScopePull], may the user read the
	// repository; for [ScopePush], write to it; and so on. res names a
	// repository or, for a route about a project as a whole, the project
	// ([Resource.IsProject]): the question is then about the project
	// (may the user read it, for ScopePull).
	CanAccess(ctx context.Context, user string, res Resource, scope Scope) (bool, error)

	// CanManage reports whether user may issue tokens for target and list
	// and revoke other users' tokens of it. Launchpad allows this to those
	// who may edit the repository or project.
	CanManage(ctx context.Context, user string, target Target) (bool, error)
}

// VisibilityAuthorizer is an [Authorizer] that also answers, in the same
// call, whether the user may see the resource at all. [Manager.Verify]
// asks CanAccessAndSee instead of CanAccess when the Authorizer has it, so
// that every verification asks the forge once, whatever its outcome.
// Without it, a refusal by the owner's permission of an operation other
// than a pull asks CanAccess a second time, for [ScopePull], to decide
// what the refusal may reveal ([RejectedError.Visible]).
type VisibilityAuthorizer interface {
	Authorizer
	// CanAccessAndSee returns CanAccess's answer for user, res and scope
	// (access), and whether user may, now, see res at all (see): read
	// it, what [ScopePull] needs. For ScopePull the two are the same.
	CanAccessAndSee(ctx context.Context, user string, res Resource, scope Scope) (access, see bool, err error)
}

// AuthorizerFuncs adapts two functions to an [Authorizer].
type AuthorizerFuncs struct {
	Access func(ctx context.Context, user string, res Resource, scope Scope) (bool, error)
	Manage func(ctx context.Context, user string, target Target) (bool, error)
}

// CanAccess calls f.Access; if it is nil, it returns an error (the
// Manager then fails closed).
func (f AuthorizerFuncs) CanAccess(ctx context.Context, user string, res Resource, scope Scope) (bool, error) {
	if f.Access == nil {
		return false, errors.New("accesstoken: AuthorizerFuncs.Access is nil")
	}
	return f.Access(ctx, user, res, scope)
}

// CanManage calls f.Manage; if it is nil, it returns an error.
func (f AuthorizerFuncs) CanManage(ctx context.Context, user string, target Target) (bool, error) {
	if f.Manage == nil {
		return false, errors.New("accesstoken: AuthorizerFuncs.Manage is nil")
	}
	return f.Manage(ctx, user, target)
}

// InsecureAllowAll returns an [Authorizer] that allows every user
// everything. It is for tests and examples only: with it a token's power no
// longer follows its owner's.
func InsecureAllowAll() Authorizer { return allowAll{} }

type allowAll struct{}

func (allowAll) CanAccess(context.Context, string, Resource, Scope) (bool, error) { return true, nil }

func (allowAll) CanManage(context.Context, string, Target) (bool, error) { return true, nil }
