package accesstoken

import (
	"sync"
	"testing"
	"time"
)

// TestSystemClock checks the derived clock against time.Now: it tells the
// same time (to the microsecond it keeps, with a millisecond of slack for
// a busy machine), in UTC, and never runs backwards.
func TestSystemClock(t *testing.T) {
	var c systemClock
	prev := time.Time{}
	for i := range 2000 {
		before := time.Now().Add(-time.Millisecond)
		got := c.now()
		after := time.Now().Add(time.Millisecond)
		if got.Before(before) || got.After(after) {
			t.Fatalf("reading %d: got %v; want between %v and %v", i, got, before, after)
		}
		if got.Location() != time.UTC || got.Nanosecond()%1000 != 0 {
			t.Fatalf("reading %d: got %v; want UTC, whole microseconds", i, got)
		}
		if got.Before(prev) {
			t.Fatalf("reading %d: clock ran backwards from %v to %v", i, prev, got)
		}
		prev = got
	}
}

// TestSystemClockResyncs checks when the clock reads the wall clock again:
// not while its reading is younger than the resync period, and as soon as
// it is older or looks like it lies in the future (the monotonic clock went
// backwards, as across some restores). So a step of the wall clock is seen
// within the period.
func TestSystemClockResyncs(t *testing.T) {
	var c systemClock
	c.now()
	first := c.base.Load()
	c.now()
	if c.base.Load() != first {
		t.Fatal("read the wall clock again within the resync period")
	}
	for _, age := range []time.Duration{resync, time.Hour, -time.Hour} {
		// A reading taken age ago whose wall time is an hour off, as if
		// the wall clock had been stepped since.
		t0 := time.Now().Add(-age)
		old := &clockReading{t: t0, unixNano: t0.Add(time.Hour).UnixNano()}
		c.base.Store(old)
		got := c.now()
		if c.base.Load() == old {
			t.Fatalf("reading %v old: kept it; want a new one", age)
		}
		if d := time.Since(got); d < -time.Minute || d > time.Minute {
			t.Fatalf("reading %v old and an hour off: got %v, %v from now; want the wall clock's time", age, got, d)
		}
	}
}

// TestSystemClockConcurrent reads the clock from many goroutines while it
// resyncs, for the race detector.
func TestSystemClockConcurrent(t *testing.T) {
	var c systemClock
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 1000 {
				t0 := time.Now().Add(-2 * resync)
				c.base.Store(&clockReading{t: t0, unixNano: t0.UnixNano()})
				c.now()
			}
		})
	}
	wg.Wait()
}
