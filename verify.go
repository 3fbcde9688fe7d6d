package accesstoken

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Verify authenticates a request: secret is the token the client sent, res
// the repository it accesses (as the forge resolved it from the URL), or
// the project, for a route about a project as a whole ([ProjectResource]:
// only a project token of that project covers it), and scope what
// the operation needs ([ScopePull] for a fetch, [ScopePush] for a push).
// It returns the token, whose Owner the request then acts as, or an error
// that says why not, matching one of [ErrMalformed], [ErrUnknownToken],
// [ErrRevoked], [ErrExpired], [ErrWrongTarget], [ErrMissingScope],
// [ErrOwnerDenied], [ErrStoreFailure] or [ErrAuthorizerFailure]. Only a
// nil error means yes. When the token was found but refused, the error is
// a [*RejectedError] holding it and saying what the caller may reveal
// about res ([RejectedError.Visible]).
//
// The secret is checked for form (and checksum) first, so a malformed one
// never reaches the store. Then its digest is looked up and compared in
// constant time, the token's state, target and scopes are checked, and
// last the forge's [Authorizer] is asked whether the owner may, now, do
// what the scope allows on res: once, or, when it refuses an operation
// other than a pull and the Authorizer is not a [VisibilityAuthorizer],
// a second time, whether the owner may pull res. On success the last-used
// time is recorded, at most once per interval: the returned Token has it,
// and the store gets it within about [LastUsedDelay], written by another
// goroutine (Verify never waits for that write, and a failure to write is
// ignored; call [Manager.Flush] at shutdown).
//
// The Token is returned by value, a copy that is the caller's. A
// successful verification that does not record last use allocates nothing
// (over memstore, not even in the store).
func (m *Manager) Verify(ctx context.Context, secret string, res Resource, scope Scope) (Token, error) {
	var rec Record
	var v visibility
	found, err := m.verify(ctx, secret, res, scope, &rec, modeUse, &v)
	switch {
	case err == nil && m.events == nil:
		return rec.Token, nil // result's answer, without copying the token twice
	case err != nil && found:
		return m.refused(ctx, &rec, res, scope, err, v)
	}
	return m.result(ctx, found, &rec, res, scope, err, true)
}

// VerifyAny is [Manager.Verify] for an operation that any one of several
// scopes allows: the token must hold one of scopes that its owner may, now,
// use on res. The Authorizer is asked about the scopes the token holds, in
// the order given, until it allows one, which VerifyAny returns with the
// token. The error is Verify's; with no scopes at all it matches
// [ErrNoScopes] and [ErrInvalidInput].
func (m *Manager) VerifyAny(ctx context.Context, secret string, res Resource, scopes ...Scope) (Token, Scope, error) {
	return m.verifyNeed(ctx, secret, res, scopes, false)
}

// VerifyAll is [Manager.Verify] for an operation that needs every one of
// several scopes: the token must hold them all, and the Authorizer is
// asked about each, in the order given, until it refuses one. The error is
// Verify's; with no scopes at all it matches [ErrNoScopes] and
// [ErrInvalidInput].
func (m *Manager) VerifyAll(ctx context.Context, secret string, res Resource, scopes ...Scope) (Token, error) {
	tok, _, err := m.verifyNeed(ctx, secret, res, scopes, true)
	return tok, err
}

// Authenticate tells whether secret is a live token of this Manager and
// returns it: it checks the form and checksum, looks the digest up,
// compares it in constant time, and refuses a revoked or expired token,
// with the errors [Manager.Verify] returns for these ([ErrMalformed],
// [ErrUnknownToken], [ErrRevoked], [ErrExpired], [ErrStoreFailure]). It
// names no resource and asks no [Authorizer], so it says who the token
// is, not what it may do: use it for endpoints about the token itself
// (look it up, revoke it: [Manager.RevokeSelf]), or to check credentials
// before doing work for a request that Verify then decides (package
// httpauth reads a Git LFS batch request's body only after it). It records
// no use; a refusal is an [EventRejected].
func (m *Manager) Authenticate(ctx context.Context, secret string) (Token, error) {
	var rec Record
	found, err := m.verify(ctx, secret, Resource{}, "", &rec, modeAuthenticate, nil)
	return m.result(ctx, found, &rec, Resource{}, "", err, false)
}

// Recheck checks again, for a request in flight, what [Manager.Verify]
// accepted at its start: the same checks, with the same errors, so that a
// token revoked or expired since, or whose owner has lost the access,
// stops a request that is still sending its body. It records no use and
// emits no event when the token still passes (the request's use was
// recorded by Verify); a refusal is an [EventRejected]. It asks the
// Authorizer nothing about what a refusal may reveal (the request was let
// in: the resource's existence is no secret to it), so
// [RejectedError.Visible] is not set. Package httpauth calls it while
// request bodies arrive and when they are complete.
func (m *Manager) Recheck(ctx context.Context, secret string, res Resource, scope Scope) error {
	var rec Record
	found, err := m.verify(ctx, secret, res, scope, &rec, modeRecheck, nil)
	_, err = m.result(ctx, found, &rec, res, scope, err, false)
	return err
}

// RejectedError is the error [Manager.Verify] (and VerifyAny, VerifyAll,
// Authenticate, Recheck) returns when it found the token but refuses it:
// revoked, expired, wrong target, missing scope, owner denied, or the
// permission check failed. Token says whose it is; Visible says what the
// caller may reveal. It matches its cause with [errors.Is]; get it with
// [errors.As].
type RejectedError struct {
	// Token is the refused token.
	Token Token
	// Err is the cause, matching one of the sentinel errors.
	Err error
	// Visible reports whether the caller may confirm to the client that
	// the resource exists and say why the token was refused there (HTTP
	// 403), rather than answer as for a resource that does not exist
	// (404), so that a token cannot probe for resources it may not see.
	// It is decided by Verify, VerifyAny and VerifyAll, once, with the
	// forge's Authorizer: true for a repository token of that very
	// repository refused for its scopes (its holder was given a token for
	// it), and for a token whose target covers the resource, refused for
	// its scopes or its owner's permission, when the owner may see
	// (pull) the resource. It is false for every other refusal: a token
	// that does not cover the resource learns nothing about it, and a
	// revoked or expired token, or a failed permission check, is
	// answered without the resource (401, 503). A public resource may
	// always be confirmed; the caller knows which are, Verify does not.
	Visible bool
}

// Error returns the cause's message; it never contains a secret.
func (e *RejectedError) Error() string { return e.Err.Error() }

// Unwrap returns the cause.
func (e *RejectedError) Unwrap() error { return e.Err }

// visibility is what a refusal may reveal about its resource, as far as
// verify learnt it: unknown, or whether the token's owner may see it.
type visibility uint8

const (
	visibilityUnknown visibility = iota
	hidden
	visible
)

func visibilityOf(see bool) visibility {
	if see {
		return visible
	}
	return hidden
}

// refused is result for the refusal of a token that Verify, VerifyAny or
// VerifyAll found: it decides what the refusal may reveal
// (RejectedError.Visible), asking the Authorizer whether the owner may
// pull res when that is needed and v does not say.
func (m *Manager) refused(ctx context.Context, rec *Record, res Resource, scope Scope, err error, v visibility) (Token, error) {
	rej := &RejectedError{Token: rec.Token, Err: err}
	switch {
	case errors.Is(err, ErrMissingScope) && !rec.Target.IsProject():
		// A repository token for res itself: its holder was given a
		// token for res, so naming it tells them nothing.
		rej.Visible = true
	case errors.Is(err, ErrMissingScope), errors.Is(err, ErrOwnerDenied):
		// The token covers res, but a project token covers repositories
		// its owner may not see: confirm res only to an owner who may.
		if v == visibilityUnknown {
			ok, aerr := m.authz.CanAccess(ctx, rec.Owner, res, ScopePull)
			v = visibilityOf(aerr == nil && ok) // a failed check counts as no
		}
		rej.Visible = v == visible
	}
	return m.result(ctx, true, rec, res, scope, rej, true)
}

// result turns what verify found into a call's result: the token, or the
// error (a *RejectedError when the token was found), and the event: a
// rejection always, a use only when used is set.
func (m *Manager) result(ctx context.Context, found bool, rec *Record, res Resource, scope Scope, err error, used bool) (Token, error) {
	if err != nil && found {
		if _, ok := err.(*RejectedError); !ok {
			err = &RejectedError{Token: rec.Token, Err: err}
		}
	}
	if m.events != nil && (err != nil || used) {
		ev := Event{Resource: res, Scope: scope}
		if found {
			ev.TokenID, ev.Owner, ev.Target = rec.ID, rec.Owner, rec.Target
		}
		if err != nil {
			ev.Kind, ev.Err = EventRejected, err
		} else {
			ev.Kind = EventUsed
		}
		m.emit(ctx, ev)
	}
	if err != nil {
		return Token{}, err
	}
	return rec.Token, nil
}

// verifyMode says which call verify works for.
type verifyMode uint8

const (
	modeUse          verifyMode = iota // Verify: every check, and a use
	modeRecheck                        // Recheck: every check, no use
	modeAuthenticate                   // Authenticate: liveness only, no use
)

// verify does the work of Verify, Recheck and Authenticate, reading the
// token into rec (the caller's variable: filling it in place saves
// copying some 250 bytes twice). It reports whether it found the token,
// for the error and the event, and notes in v (if not nil) what the
// Authorizer said about the owner's seeing res.
func (m *Manager) verify(ctx context.Context, secret string, res Resource, scope Scope, rec *Record, mode verifyMode, v *visibility) (found bool, err error) {
	if err := m.format.Check(secret); err != nil {
		return false, err
	}
	d := m.Digest(secret)
	if err := m.byDigest(ctx, &d, rec); err != nil {
		return false, err
	}
	// The clock: the cached one (see cachedClock) unless WithClock set
	// one, with its common case inlined. Calling a function for it here
	// measured 3.3x the SHA-256 floor in BenchmarkVerify instead of 2.5x,
	// far more than a call should cost, but again and again.
	var now time.Time
	if m.now == nil && wallClock.state.Load() == clockUsed {
		now = *wallClock.reading.Load()
	} else {
		now = m.verifyClock()
	}
	switch {
	case rec.Revoked():
		return true, ErrRevoked
	case rec.Expired(now):
		return true, ErrExpired
	case mode == modeAuthenticate:
		return true, nil
	case !rec.Target.Covers(res):
		return true, ErrWrongTarget
	case !rec.Scopes.Has(scope):
		return true, ErrMissingScope
	}
	ok, err := m.canAccess(ctx, rec.Owner, res, scope, v)
	if err != nil {
		return true, err
	}
	if !ok {
		return true, ErrOwnerDenied
	}
	if mode == modeUse {
		m.lastUse.touch(&rec.Token, now)
	}
	return true, nil
}

// verifyNeed does VerifyAny (all false) and VerifyAll. The event names the
// scope that decided: the one allowed, or the one refused.
func (m *Manager) verifyNeed(ctx context.Context, secret string, res Resource, scopes []Scope, all bool) (Token, Scope, error) {
	switch len(scopes) {
	case 0:
		return Token{}, "", invalid(ErrNoScopes, "no scopes to verify")
	case 1:
		tok, err := m.Verify(ctx, secret, res, scopes[0])
		if err != nil {
			return Token{}, "", err
		}
		return tok, scopes[0], nil
	}
	var rec Record
	var v visibility
	scope := scopes[0]
	found, err := m.verify(ctx, secret, res, "", &rec, modeAuthenticate, &v)
	if err == nil {
		scope, err = m.decideNeed(ctx, &rec.Token, res, scopes, all, &v)
	}
	if err != nil {
		if !found {
			_, err = m.result(ctx, false, &rec, res, scope, err, true)
			return Token{}, "", err
		}
		tok, err := m.refused(ctx, &rec, res, scope, err, v)
		return tok, "", err
	}
	m.lastUse.touch(&rec.Token, m.verifyClock())
	tok, err := m.result(ctx, found, &rec, res, scope, nil, true)
	return tok, scope, err
}

// decideNeed checks a live token's target and scopes against a need of
// several scopes, and asks the Authorizer. It returns the scope that
// decided.
func (m *Manager) decideNeed(ctx context.Context, tok *Token, res Resource, scopes []Scope, all bool, v *visibility) (Scope, error) {
	if !tok.Target.Covers(res) {
		return scopes[0], ErrWrongTarget
	}
	held := 0
	for _, sc := range scopes {
		if tok.Scopes.Has(sc) {
			held++
		} else if all {
			return sc, ErrMissingScope
		}
	}
	if held == 0 {
		return scopes[0], ErrMissingScope
	}
	var refused Scope
	for _, sc := range scopes {
		if !tok.Scopes.Has(sc) {
			continue
		}
		ok, err := m.canAccess(ctx, tok.Owner, res, sc, v)
		switch {
		case err != nil:
			return sc, err
		case ok && !all:
			return sc, nil
		case !ok && all:
			return sc, ErrOwnerDenied
		case !ok && refused == "":
			refused = sc
		}
	}
	if all {
		return scopes[0], nil
	}
	return refused, ErrOwnerDenied
}

// canAccess asks the Authorizer whether owner may use scope on res, and
// notes in v (when not nil) whether owner may see res when the Authorizer
// says so: a VisibilityAuthorizer always, a plain one for a pull.
func (m *Manager) canAccess(ctx context.Context, owner string, res Resource, scope Scope, v *visibility) (bool, error) {
	var ok bool
	var err error
	if m.vauthz != nil && v != nil {
		var see bool
		ok, see, err = m.vauthz.CanAccessAndSee(ctx, owner, res, scope)
		if err == nil && *v != visible {
			*v = visibilityOf(see)
		}
	} else {
		ok, err = m.authz.CanAccess(ctx, owner, res, scope)
		if err == nil && v != nil && scope == ScopePull && *v != visible {
			*v = visibilityOf(ok)
		}
	}
	if err != nil {
		return false, fmt.Errorf("%w: %w", ErrAuthorizerFailure, err)
	}
	return ok, nil
}
