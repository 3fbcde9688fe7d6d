package accesstoken

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"slices"
	"sync"
	"time"
)

// Manager issues, verifies, lists, rotates and revokes tokens. Build one
// with [New]; it is safe for concurrent use.
type Manager struct {
	config   // set by the options
	store    Store
	authz    Authorizer
	vauthz   VisibilityAuthorizer // authz, if it is one
	hmacPool sync.Pool            // of HMAC-SHA256 with the pepper, if WithPepper set one
	lastUse  *lastUseWriter
}

// New returns a Manager over store, configured by opts ([Option]). The
// forge's [Authorizer] is required: a token never authorizes on its own
// (use [InsecureAllowAll] in tests). It returns an error for a nil store
// or Authorizer, and for an option with an invalid value.
func New(store Store, authz Authorizer, opts ...Option) (*Manager, error) {
	if store == nil {
		return nil, errors.New("accesstoken: nil Store")
	}
	if authz == nil {
		return nil, errors.New("accesstoken: nil Authorizer: a token acts as its owner, so the forge must say what the owner may do (InsecureAllowAll is for tests)")
	}
	c, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	m := &Manager{config: c, store: store, authz: authz, lastUse: newLastUseWriter(store, c.interval)}
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

// byDigest reads into rec the record of the token whose digest is d. It
// returns ErrUnknownToken when the store has none, and an error matching
// ErrStoreFailure when the store fails or returns a record for another
// digest: a broken store must never authenticate. The caller's rec is
// filled in place, which saves copying a record on Verify's path.
func (m *Manager) byDigest(ctx context.Context, d *Digest, rec *Record) error {
	var err error
	if *rec, err = m.store.ByDigest(ctx, *d); err != nil {
		if errors.Is(err, ErrNotFound) {
			return ErrUnknownToken
		}
		return storeErr(err)
	}
	if !digestsEqual(&rec.Digest, d) {
		return fmt.Errorf("%w: store returned a record for another digest", ErrStoreFailure)
	}
	return nil
}

// emit passes ev, stamped with the time, to the function set with
// WithEvents, if any.
func (m *Manager) emit(ctx context.Context, ev Event) {
	if m.events != nil {
		ev.Time = m.eventTime()
		m.events(ctx, ev)
	}
}

// mayManage asks the Authorizer whether actor may manage tokens of t.
func (m *Manager) mayManage(ctx context.Context, actor string, t Target) error {
	ok, err := m.authz.CanManage(ctx, actor, t)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrAuthorizerFailure, err)
	}
	if !ok {
		return ErrForbidden
	}
	return nil
}

// Flush writes to the store, now, the last uses that verifications noted
// and that are waiting (see [LastUsedDelay]), and waits until any write in
// progress is done. Call it when the forge shuts down, after its HTTP
// server has stopped, so that no recorded use is lost; it is safe to call
// at any time and from any goroutine, and the Manager stays usable.
//
// It returns nil when everything was written, or the errors of the writes
// that failed (matching [ErrStoreFailure]); when ctx ends first, what is
// left stays queued and the error matches ctx's error too.
func (m *Manager) Flush(ctx context.Context) error {
	return m.lastUse.write(ctx)
}
