// Package clocktest is the fake clock of the tests of this repository's
// modules: the root package's, storetest's (which store authors run),
// httpauth's and sqlstore/drivertest's. Its time stands still until a test
// moves it on, so expiry and last-used intervals are tested without
// sleeping. It uses the standard library alone, as storetest must.
package clocktest

import (
	"sync"
	"time"
)

// Clock is a fake clock. Its Now method is what
// [github.com/forgekit/accesstoken.WithClock] takes. It is safe for
// concurrent use; the zero Clock reads the zero time.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// New returns a Clock that reads start until it is moved.
func New(start time.Time) *Clock { return &Clock{now: start} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock on by d (back, if d is negative).
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Set sets the clock's time to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}
