package accesstoken

import (
	"sync/atomic"
	"time"
)

// ClockResolution is how often the Manager's default clock refreshes its
// cached reading while tokens are being verified (see [WithClock]).
const ClockResolution = 10 * time.Millisecond

// wallClock is the default clock of every Manager: the time is the same
// for all of them.
var wallClock cachedClock

// The states of a cachedClock. Readers move it from clockStopped or
// clockIdle to clockUsed; its refresher moves it from clockUsed to
// clockIdle at each refresh and from clockIdle to clockStopped, when it
// exits. So a refresher runs exactly while the state is not clockStopped,
// and a reader that sees clockUsed knows the reading is at most one period
// old and will be refreshed.
const (
	clockStopped int32 = iota // no refresher; micros may be old
	clockIdle                 // refresher running; not read since its last refresh
	clockUsed                 // refresher running; read since its last refresh
)

// cachedClock is a reading of the system clock that a goroutine refreshes
// every ClockResolution while it is being read.
type cachedClock struct {
	state   atomic.Int32
	reading atomic.Pointer[time.Time] // in UTC, truncated to the microsecond
}

// read stores a new reading of the system clock and returns it.
func (c *cachedClock) read() *time.Time {
	t := time.Now().UTC().Truncate(time.Microsecond)
	c.reading.Store(&t)
	return &t
}

// now returns the current time in UTC, truncated to the microsecond. The
// common case, state clockUsed, is inlined in Manager.clock.
func (c *cachedClock) now() time.Time {
	for {
		switch c.state.Load() {
		case clockUsed:
			return *c.reading.Load()
		case clockIdle:
			if c.state.CompareAndSwap(clockIdle, clockUsed) {
				return *c.reading.Load()
			}
		default: // clockStopped: read the clock, and start refreshing
			t := c.read()
			if c.state.CompareAndSwap(clockStopped, clockUsed) {
				go c.refresh()
			}
			return *t
		}
	}
}

// refresh updates the reading every ClockResolution until a period passes
// in which nobody read it.
func (c *cachedClock) refresh() {
	for {
		time.Sleep(ClockResolution)
		c.read()
		if c.state.CompareAndSwap(clockUsed, clockIdle) {
			continue
		}
		if c.state.CompareAndSwap(clockIdle, clockStopped) {
			return
		}
		// A reader moved it from clockIdle to clockUsed just now.
	}
}
