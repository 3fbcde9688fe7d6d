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
	// needs scope on the repository res: for [ScopePull], may the user
	// read the repository; for [ScopePush], write to it; and so on.
	CanAccess(ctx context.Context, user string, res Resource, scope Scope) (bool, error)

	// CanManage reports whether user may issue tokens for target and list
	// and revoke other users' tokens of it. Launchpad allows this to those
	// who may edit the repository or project.
	CanManage(ctx context.Context, user string, target Target) (bool, error)
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
	if m.pepper != nil {
		m.hmacPool.New = func() any { return hmac.New(sha256.New, m.pepper) }
	}
	return m, nil
}

// Authorizer returns the forge's Authorizer the Manager consults, for
// callers that must ask it more (package httpauth asks whether a refused
// token's owner may see the repository at all, to answer 403 or 404).
func (m *Manager) Authorizer() Authorizer { return m.authz }

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
// the repository it accesses (as the forge resolved it from the URL) and
// scope what the operation needs ([ScopePull] for a fetch, [ScopePush] for
// a push). It returns the token, whose Owner the request then acts as, or
// an error that says why not, matching one of [ErrMalformed],
// [ErrUnknownToken], [ErrRevoked], [ErrExpired], [ErrWrongTarget],
// [ErrMissingScope], [ErrOwnerDenied], [ErrStoreFailure] or
// [ErrAuthorizerFailure]. Only a nil error means yes. When the token was
// found but refused, the error is a [*RejectedError] holding it.
//
// The secret is checked for form (and checksum) first, so a malformed one
// never reaches the store. Then its digest is looked up and compared in
// constant time, the token's state, target and scopes are checked, and
// last the forge's [Authorizer] is asked whether the owner may, now, do
// what the scope allows on res. On success the last-used time is
// recorded, at most once per interval: the returned Token has it, and the
// store gets it within about [LastUsedDelay], written by another goroutine
// (Verify never waits for that write, and a failure to write is ignored;
// call [Manager.Flush] at shutdown).
//
// The Token is returned by value, a copy that is the caller's. A
// successful verification that does not record last use allocates nothing
// (over memstore, not even in the store).
func (m *Manager) Verify(ctx context.Context, secret string, res Resource, scope Scope) (Token, error) {
	var rec Record
	found, err := m.verify(ctx, secret, res, scope, &rec, modeUse)
	return m.result(ctx, found, &rec, res, scope, err, true)
}

// Authenticate tells whether secret is a live token of this Manager and
// returns it: it checks the form and checksum, looks the digest up,
// compares it in constant time, and refuses a revoked or expired token,
// with the errors [Manager.Verify] returns for these ([ErrMalformed],
// [ErrUnknownToken], [ErrRevoked], [ErrExpired], [ErrStoreFailure]). It
// names no resource and asks no [Authorizer], so it says who the token
// is, not what it may do: use it for endpoints about the token itself
// (look it up, revoke it), or to check credentials before doing work for
// a request that Verify then decides (package httpauth reads a Git LFS
// batch request's body only after it). It records no use; a refusal is
// an [EventRejected].
func (m *Manager) Authenticate(ctx context.Context, secret string) (Token, error) {
	var rec Record
	found, err := m.verify(ctx, secret, Resource{}, "", &rec, modeAuthenticate)
	return m.result(ctx, found, &rec, Resource{}, "", err, false)
}

// Recheck checks again, for a request in flight, what [Manager.Verify]
// accepted at its start: the same checks, with the same errors, so that a
// token revoked or expired since, or whose owner has lost the access,
// stops a request that is still sending its body. It records no use and
// emits no event when the token still passes (the request's use was
// recorded by Verify); a refusal is an [EventRejected]. Package httpauth
// calls it while request bodies arrive and when they are complete.
func (m *Manager) Recheck(ctx context.Context, secret string, res Resource, scope Scope) error {
	var rec Record
	found, err := m.verify(ctx, secret, res, scope, &rec, modeRecheck)
	_, err = m.result(ctx, found, &rec, res, scope, err, false)
	return err
}

// result turns what verify found into a call's result: the token, or the
// error (a *RejectedError when the token was found), and the event: a
// rejection always, a use only when used is set.
func (m *Manager) result(ctx context.Context, found bool, rec *Record, res Resource, scope Scope, err error, used bool) (Token, error) {
	if err != nil && found {
		err = &RejectedError{Token: rec.Token, Err: err}
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
// for the error and the event.
func (m *Manager) verify(ctx context.Context, secret string, res Resource, scope Scope, rec *Record, mode verifyMode) (found bool, err error) {
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
	ok, err := m.authz.CanAccess(ctx, rec.Owner, res, scope)
	if err != nil {
		return true, fmt.Errorf("%w: %w", ErrAuthorizerFailure, err)
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
