package accesstoken

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"slices"
	"sync"
	"time"
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
func (allowAll) CanManage(context.Context, string, Target) (bool, error)          { return true, nil }

// Defaults.
const (
	// DefaultLastUsedInterval is how often, at most, the last-used time of
	// a token is written: every 10 minutes, as Launchpad does.
	DefaultLastUsedInterval = 10 * time.Minute
	// MaxDescriptionLen is the longest description accepted, in
	// characters (runes).
	MaxDescriptionLen = 255
)

// Manager issues, verifies, lists, rotates and revokes tokens. Build one
// with [New]; it is safe for concurrent use.
type Manager struct {
	store       Store
	authz       Authorizer
	vauthz      VisibilityAuthorizer // authz, if it is one
	format      Format
	scopes      *scopeSet
	now         func() time.Time // set by WithClock; nil for the system clock
	pepper      []byte
	hmacPool    sync.Pool
	interval    time.Duration
	maxLifetime time.Duration
	events      func(context.Context, Event)
	lastUse     lastUse
}

// Option configures a [Manager].
type Option func(*Manager) error

// WithPrefix sets the token prefix (see [NewFormat]). The default is
// [DefaultPrefix]. Changing it invalidates every token issued before.
func WithPrefix(prefix string) Option {
	return func(m *Manager) error {
		f, err := NewFormat(prefix)
		m.format = f
		return err
	}
}

// WithScopes registers scopes beyond the built-in ones, such as
// "repository:admin" or "lfs:write". Names must satisfy [ValidScopeName].
func WithScopes(extra ...Scope) Option {
	return func(m *Manager) error {
		s, err := newScopeSet(extra)
		m.scopes = s
		return err
	}
}

// WithClock sets the function that tells the time. Tests use it to move
// time on.
//
// The default is the system clock. Issue, Revoke, Rotate and the lists read
// it directly. [Manager.Verify] reads it through a cache, because a clock
// read can cost a third of a verification on virtual machines: while
// tokens are being verified, a goroutine refreshes a shared reading every
// [ClockResolution], stopping after a period in which nobody read it (the
// first reading after that is the system clock's own). So Verify's expiry
// decisions and the last-used times it records may be up to about
// ClockResolution behind the system clock: more on a machine so loaded
// that the goroutine runs late, or for one period after the machine
// resumes from a suspend or pause. Code that runs a Manager inside a
// testing/synctest bubble, whose fake time the shared cache does not
// follow, should set WithClock(time.Now).
func WithClock(now func() time.Time) Option {
	return func(m *Manager) error {
		if now == nil {
			return errors.New("accesstoken: nil clock")
		}
		m.now = now
		return nil
	}
}

// WithPepper keys the stored digests with a server-side secret (HMAC-SHA256
// instead of SHA-256), so that a copy of the database alone does not allow
// checking guesses. Keep the pepper out of the database. It must be at
// least 32 bytes. Changing it invalidates every token issued before.
func WithPepper(pepper []byte) Option {
	return func(m *Manager) error {
		if len(pepper) < 32 {
			return errors.New("accesstoken: pepper shorter than 32 bytes")
		}
		m.pepper = bytes.Clone(pepper)
		return nil
	}
}

// WithLastUsedInterval sets how often, at most, a token's last-used time is
// written. The default is [DefaultLastUsedInterval]; a negative value
// turns recording off.
func WithLastUsedInterval(d time.Duration) Option {
	return func(m *Manager) error { m.interval = d; return nil }
}

// WithMaxLifetime sets a maximum lifetime policy, as GitLab administrators
// can: a token must expire at most d after it is issued, and a token issued
// without an expiry expires after d. The default is no limit.
func WithMaxLifetime(d time.Duration) Option {
	return func(m *Manager) error {
		if d <= 0 {
			return errors.New("accesstoken: maximum lifetime must be positive")
		}
		m.maxLifetime = d
		return nil
	}
}

// WithEvents sets a function called for every [Event]: issued, revoked,
// rotated, deleted, used and rejected tokens, for an audit log. It is
// called synchronously, so it should be quick. Events never contain a
// secret. See [SlogEvents] for a ready one.
func WithEvents(f func(context.Context, Event)) Option {
	return func(m *Manager) error { m.events = f; return nil }
}

// New returns a Manager over store. The forge's [Authorizer] is required:
// a token never authorizes on its own (use [InsecureAllowAll] in tests).
func New(store Store, authz Authorizer, opts ...Option) (*Manager, error) {
	if store == nil {
		return nil, errors.New("accesstoken: nil Store")
	}
	if authz == nil {
		return nil, errors.New("accesstoken: nil Authorizer: a token acts as its owner, so the forge must say what the owner may do (InsecureAllowAll is for tests)")
	}
	m := &Manager{
		store:    store,
		authz:    authz,
		format:   DefaultFormat,
		interval: DefaultLastUsedInterval,
	}
	m.lastUse.batch = make(chan struct{}, 1)
	m.scopes, _ = newScopeSet(nil)
	for _, o := range opts {
		if err := o(m); err != nil {
			return nil, err
		}
	}
	m.vauthz, _ = authz.(VisibilityAuthorizer)
	if m.pepper != nil {
		m.hmacPool.New = func() any { return hmac.New(sha256.New, m.pepper) }
	}
	return m, nil
}

// Format returns the token format the Manager issues and accepts.
func (m *Manager) Format() Format { return m.format }

// Scopes returns the scopes the Manager accepts, in canonical order.
func (m *Manager) Scopes() []Scope { return slices.Clone(m.scopes.order) }

// clock returns the current time in UTC, truncated to the microsecond as
// stores keep it: the system clock's own reading, or WithClock's. Verify
// uses the cached clock instead (verifyClock).
func (m *Manager) clock() time.Time {
	var t time.Time
	if m.now == nil {
		t = time.Now()
	} else {
		t = m.now()
	}
	// The same as t.UTC().Truncate(time.Microsecond) for any time after
	// year 1, at a fraction of the cost.
	return t.Add(-time.Duration(t.Nanosecond() % 1000)).UTC()
}

// verifyClock is the clock of Verify when its inlined common case does not
// apply: the cached clock, or WithClock's.
func (m *Manager) verifyClock() time.Time {
	if m.now == nil {
		return wallClock.now()
	}
	return m.clock()
}

// eventTime returns the time for an event: the clock's, with nanoseconds.
func (m *Manager) eventTime() time.Time {
	if m.now == nil {
		return time.Now()
	}
	return m.now()
}

// Digest returns the stored form of a token string. Use it only to look a
// token up in a store of your own; [Manager.Verify] does it for you.
func (m *Manager) Digest(secret string) Digest {
	if m.pepper == nil {
		return sha256.Sum256(unsafeBytes(secret))
	}
	h := m.hmacPool.Get().(hash.Hash)
	h.Reset()
	h.Write(unsafeBytes(secret))
	var d Digest
	h.Sum(d[:0])
	m.hmacPool.Put(h)
	return d
}

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
	if err != nil && found {
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
	m.touch(&rec.Token, m.verifyClock())
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
// notes in v whether owner may see res when the Authorizer says so.
func (m *Manager) canAccess(ctx context.Context, owner string, res Resource, scope Scope, v *visibility) (bool, error) {
	var ok bool
	var err error
	if m.vauthz != nil {
		var see bool
		ok, see, err = m.vauthz.CanAccessAndSee(ctx, owner, res, scope)
		if err == nil && *v != visible {
			*v = visibilityOf(see)
		}
	} else {
		ok, err = m.authz.CanAccess(ctx, owner, res, scope)
		if err == nil && scope == ScopePull && *v != visible {
			*v = visibilityOf(ok)
		}
	}
	if err != nil {
		return false, fmt.Errorf("%w: %w", ErrAuthorizerFailure, err)
	}
	return ok, nil
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
		if v == visibilityUnknown && !(errors.Is(err, ErrOwnerDenied) && scope == ScopePull) {
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
	*rec, err = m.store.ByDigest(ctx, d)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return false, ErrUnknownToken
		}
		return false, storeErr(err)
	}
	if !digestsEqual(&rec.Digest, &d) {
		// A store that returns a record for another digest is broken;
		// never let it authenticate.
		return false, fmt.Errorf("%w: store returned a record for another digest", ErrStoreFailure)
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
	var ok bool
	if m.vauthz != nil && v != nil {
		ok, err = m.canAccess(ctx, rec.Owner, res, scope, v)
	} else {
		ok, err = m.authz.CanAccess(ctx, rec.Owner, res, scope)
		if err != nil {
			err = fmt.Errorf("%w: %w", ErrAuthorizerFailure, err)
		}
	}
	if err != nil {
		return true, err
	}
	if !ok {
		return true, ErrOwnerDenied
	}
	if mode == modeUse {
		m.touch(&rec.Token, now)
	}
	return true, nil
}

// digestsEqual compares two digests in constant time: it reads every byte
// of both whatever they hold and branches only on the result. It is
// crypto/subtle.ConstantTimeCompare done a word at a time.
func digestsEqual(a, b *Digest) bool {
	var diff uint64
	for i := 0; i < len(a); i += 8 {
		diff |= binary.LittleEndian.Uint64(a[i:]) ^ binary.LittleEndian.Uint64(b[i:])
	}
	return subtle.ConstantTimeEq(int32(diff>>32|diff&0xffffffff), 0) == 1
}

// touch notes that tok was used at now, if it was not within the
// interval, and sets its LastUsedAt. The store is written a little later,
// by another goroutine (see lastUse): a verification never waits for it,
// and a failed write never fails a verification.
func (m *Manager) touch(tok *Token, now time.Time) {
	if m.interval < 0 || (!tok.LastUsedAt.IsZero() && now.Sub(tok.LastUsedAt) < m.interval) {
		return
	}
	m.note(tok.ID, now)
	tok.LastUsedAt = now
}
