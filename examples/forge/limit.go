package main

import (
	"sync"
	"time"
)

// signInLimit slows password guessing: after maxFailures failed sign-ins
// (web or API) for one user name within failureWindow, further attempts
// for that name are refused until the window has passed, right password
// or not. It is per process; a forge of many instances would keep the
// counts in its database or in front of it. (The price: anyone can lock a
// user out of password sign-in for the window. Their tokens keep working.)
type signInLimit struct {
	mu   sync.Mutex
	fail map[string][]time.Time
}

const (
	maxFailures   = 10
	failureWindow = 10 * time.Minute
)

// allow reports whether user may try to sign in now.
func (l *signInLimit) allow(user string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.recent(user, time.Now())) < maxFailures
}

// failed records a failed sign-in for user.
func (l *signInLimit) failed(user string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.fail == nil {
		l.fail = make(map[string][]time.Time)
	}
	now := time.Now()
	l.fail[user] = append(l.recent(user, now), now)
	if len(l.fail) > 100_000 { // bound the memory a flood of names can take
		clear(l.fail)
	}
}

// recent returns the failures of user within the window; l.mu is held.
func (l *signInLimit) recent(user string, now time.Time) []time.Time {
	ts := l.fail[user]
	for len(ts) > 0 && now.Sub(ts[0]) > failureWindow {
		ts = ts[1:]
	}
	if len(ts) == 0 {
		delete(l.fail, user)
		return nil
	}
	l.fail[user] = ts
	return ts
}
