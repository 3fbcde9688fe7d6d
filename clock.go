package accesstoken

import (
	"sync/atomic"
	"time"
)

// ClockResolution is how often the cached clock that [Manager.Verify] reads
// by default is refreshed while tokens are being verified (see
// [WithClock]).
const ClockResolution = 10 * time.Millisecond

// wallClock is the clock of Verify for every Manager without WithClock:
// the time is the same for all of them.
var wallClock cachedClock

// The states of a cachedClock. Readers move it from clockStopped or
// clockIdle to clockUsed; its refresher moves it from clockUsed to
// clockIdle at each refresh and from clockIdle to clockStopped, when it
// exits. So a refresher runs exactly while the state is not clockStopped,
// and a reader that sees clockUsed knows the reading is at most one period
// old and will be refreshed.
const (
	clockStopped int32 = iota // no refresher; the reading may be old
	clockIdle                 // refresher running; not read since its last refresh
	clockUsed                 // refresher running; read since its last refresh
)

// cachedClock is a reading of the system clock that a goroutine refreshes
// every ClockResolution while it is being read.
type cachedClock struct {
	state   atomic.Int32
	reading atomic.Pointer[time.Time] // in UTC, truncated to the microsecond
}

// systemNow reads the system clock as the cache keeps it.
func systemNow() *time.Time {
	t := time.Now().UTC().Truncate(time.Microsecond)
	return &t
}

// offer stores t unless the reading is newer: a reader that was held up
// between reading the clock and storing must not put back an older
// reading over the refresher's. (The refresher itself always stores, so
// that a step of the system clock backwards is followed.)
func (c *cachedClock) offer(t *time.Time) {
	for {
		old := c.reading.Load()
		if old != nil && !t.After(*old) {
			return
		}
		if c.reading.CompareAndSwap(old, t) {
			return
		}
	}
}

// now returns the current time in UTC, truncated to the microsecond. The
// common case, state clockUsed, is also inlined in Manager.verify.
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
			t := systemNow()
			c.offer(t)
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
		c.reading.Store(systemNow())
		if c.state.CompareAndSwap(clockUsed, clockIdle) {
			continue
		}
		if c.state.CompareAndSwap(clockIdle, clockStopped) {
			return
		}
		// A reader moved it from clockIdle to clockUsed just now.
	}
}
