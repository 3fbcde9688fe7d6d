package accesstoken

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"
)

// DefaultLastUsedInterval is how often, at most, the last-used time of a
// token is written unless [WithLastUsedInterval] says otherwise: every 10
// minutes, as Launchpad does.
const DefaultLastUsedInterval = 10 * time.Minute

// Option configures a [Manager]: pass options to [New], which applies them
// in order. An option given an invalid value (a bad prefix, a pepper too
// short, a nil clock) makes New return an error naming it; none is
// ignored or corrected silently, and a nil Option is an error too. This is
// the convention of every package of this module that takes options.
type Option func(*config) error

// config is what the options set: the settings of a Manager.
type config struct {
	format      Format
	scopes      *scopeSet
	now         func() time.Time // set by WithClock; nil for the system clock
	pepper      []byte
	interval    time.Duration
	maxLifetime time.Duration
	events      func(context.Context, Event)
}

// newConfig applies opts to the defaults.
func newConfig(opts []Option) (config, error) {
	c := config{format: DefaultFormat(), interval: DefaultLastUsedInterval}
	c.scopes, _ = newScopeSet(nil)
	for i, o := range opts {
		if o == nil {
			return config{}, fmt.Errorf("accesstoken: option %d is nil", i)
		}
		if err := o(&c); err != nil {
			return config{}, err
		}
	}
	return c, nil
}

// WithPrefix sets the token prefix (see [NewFormat]). The default is
// [DefaultPrefix]. Changing it invalidates every token issued before.
func WithPrefix(prefix string) Option {
	return func(c *config) error {
		f, err := NewFormat(prefix)
		c.format = f
		return err
	}
}

// WithScopes registers scopes beyond the built-in ones, such as
// "repository:admin" or "lfs:write". Names must satisfy [ValidScopeName].
func WithScopes(extra ...Scope) Option {
	return func(c *config) error {
		s, err := newScopeSet(extra)
		c.scopes = s
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
	return func(c *config) error {
		if now == nil {
			return errors.New("accesstoken: nil clock")
		}
		c.now = now
		return nil
	}
}

// WithPepper keys the stored digests with a server-side secret (HMAC-SHA256
// instead of SHA-256), so that a copy of the database alone does not allow
// checking guesses. Keep the pepper out of the database. It must be at
// least 32 bytes. Changing it invalidates every token issued before.
func WithPepper(pepper []byte) Option {
	return func(c *config) error {
		if len(pepper) < 32 {
			return errors.New("accesstoken: pepper shorter than 32 bytes")
		}
		c.pepper = bytes.Clone(pepper)
		return nil
	}
}

// WithLastUsedInterval sets how often, at most, a token's last-used time is
// written. The default is [DefaultLastUsedInterval]; zero writes it at
// every use, and a negative value turns recording off.
func WithLastUsedInterval(d time.Duration) Option {
	return func(c *config) error { c.interval = d; return nil }
}

// WithMaxLifetime sets a maximum lifetime policy, as GitLab administrators
// can: a token must expire at most d after it is issued, and a token issued
// without an expiry expires after d. The default is no limit.
func WithMaxLifetime(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return errors.New("accesstoken: maximum lifetime must be positive")
		}
		c.maxLifetime = d
		return nil
	}
}

// WithEvents sets a function called for every [Event]: issued, revoked,
// rotated, deleted, used and rejected tokens, for an audit log. It is
// called synchronously, so it should be quick. Events never contain a
// secret. See [SlogEvents] for a ready one. The default, and nil, is no
// events.
func WithEvents(f func(context.Context, Event)) Option {
	return func(c *config) error { c.events = f; return nil }
}
