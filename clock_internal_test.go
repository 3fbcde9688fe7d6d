package accesstoken

import (
	"sync"
	"testing"
	"time"
)

// The bounds below are generous: they check that the clock tells the
// right time and refreshes, not how punctually a goroutine runs on a busy
// machine.

// waitFor polls cond until it holds, failing the test after 10 seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(ClockResolution / 2)
	}
}

// TestCachedClock checks readings against time.Now: never ahead, not far
// behind, in UTC and whole microseconds.
func TestCachedClock(t *testing.T) {
	var c cachedClock
	for i := range 3000 {
		before := time.Now().Truncate(time.Microsecond)
		got := c.now()
		after := time.Now()
		if got.After(after) || got.Before(before.Add(-time.Second)) {
			t.Fatalf("reading %d: got %v; want at most %v and not long before %v", i, got, after, before)
		}
		if got.Location() != time.UTC || got.Nanosecond()%1000 != 0 {
			t.Fatalf("reading %d: got %v; want UTC, whole microseconds", i, got)
		}
		if i%1000 == 999 {
			time.Sleep(3 * ClockResolution)
		}
	}
}

// TestCachedClockRefreshes checks that a clock read without pause moves
// on: its goroutine refreshes it.
func TestCachedClockRefreshes(t *testing.T) {
	var c cachedClock
	first := c.now()
	waitFor(t, "the reading moves on", func() bool { return c.now().After(first) })
	if c.state.Load() == clockStopped {
		t.Fatal("stopped refreshing while in use")
	}
}

// TestCachedClockStops checks that the refreshing goroutine stops when the
// clock is not read, and that the first reading after that is the system
// clock's own, not the last cached one.
func TestCachedClockStops(t *testing.T) {
	var c cachedClock
	for range 3 {
		c.now()
		if c.state.Load() != clockUsed {
			t.Fatal("a reading did not mark the clock used")
		}
		waitFor(t, "the refresher stops", func() bool { return c.state.Load() == clockStopped })
		before := time.Now().Truncate(time.Microsecond)
		if got := c.now(); got.Before(before) {
			t.Fatalf("first reading after a pause: got %v, older than %v", got, before)
		}
	}
	waitFor(t, "the refresher stops", func() bool { return c.state.Load() == clockStopped })
}

// TestCachedClockConcurrent reads the clock from many goroutines, with
// pauses that let the refresher stop and start again, for the race
// detector; then checks that it is still refreshed when read.
func TestCachedClockConcurrent(t *testing.T) {
	var c cachedClock
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 300 {
				c.now()
				if (i+g)%60 == 0 {
					time.Sleep(time.Duration(g+1) * ClockResolution / 2)
				}
			}
		})
	}
	wg.Wait()
	first := c.now()
	waitFor(t, "the reading moves on", func() bool { return c.now().After(first) })
	waitFor(t, "the refresher stops", func() bool { return c.state.Load() == clockStopped })
}

// TestCachedClockOffer checks that a reader cannot put back a reading
// older than the cache's, which a refresher may have stored while the
// reader was held up.
func TestCachedClockOffer(t *testing.T) {
	var c cachedClock
	t1 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	t0, t2 := t1.Add(-time.Second), t1.Add(time.Second)
	c.offer(&t1)
	c.offer(&t0)
	if got := *c.reading.Load(); !got.Equal(t1) {
		t.Fatalf("after offering an older reading: got %v; want %v", got, t1)
	}
	c.offer(&t2)
	if got := *c.reading.Load(); !got.Equal(t2) {
		t.Fatalf("after offering a newer reading: got %v; want %v", got, t2)
	}
}
