package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// These tests call the password checks in process, on a real SQLite
// database and with the real bcrypt, with the comparison wrapped to count
// the comparisons and to hold them until every request has been decided:
// what must be bounded is how many get that far, whatever the timing.

// testPasswords returns the password checks of a new forge with the
// given users (password: password(name)).
func testPasswords(t *testing.T, users ...string) *passwords {
	t.Helper()
	ctx := context.Background()
	db, _, err := openDB(ctx, t.TempDir(), "", true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	for _, u := range users {
		if err := db.AddUser(ctx, u, password(u)); err != nil {
			t.Fatal(err)
		}
	}
	p := newPasswords(db, nil)
	// Stopped time: a limit that refills with time must not refill while
	// a slow machine runs the test (under the race detector a bcrypt
	// comparison can take longer than a refill).
	stopped := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p.now = func() time.Time { return stopped }
	return p
}

// heldCompare makes p's comparisons count themselves and wait for
// release; it returns how many started and the most at once.
type heldCompare struct {
	started, running, most atomic.Int32
	release                chan struct{}
}

func holdCompares(p *passwords) *heldCompare {
	h := &heldCompare{release: make(chan struct{})}
	compare := p.compare
	p.compare = func(hash, pw []byte) error {
		h.started.Add(1)
		n := h.running.Add(1)
		for m := h.most.Load(); n > m && !h.most.CompareAndSwap(m, n); m = h.most.Load() {
		}
		<-h.release
		defer h.running.Add(-1)
		return compare(hash, pw)
	}
	return h
}

// memoCompares makes p compare each pair of hash and password with bcrypt
// once and remember the answer. The tests that count checks against the
// limits make a hundred checks of the same few pairs; under the race
// detector each real comparison takes most of a second, which would be the
// test's whole time, and what they check is how many checks the limits
// let through, not bcrypt.
func memoCompares(p *passwords) {
	compare := p.compare
	var mu sync.Mutex
	seen := map[string]error{}
	p.compare = func(hash, pw []byte) error {
		key := string(hash) + "\x00" + string(pw)
		mu.Lock()
		err, ok := seen[key]
		mu.Unlock()
		if ok {
			return err
		}
		err = compare(hash, pw)
		mu.Lock()
		seen[key] = err
		mu.Unlock()
		return err
	}
}

type checkResult struct {
	ok  bool
	err error
}

// waitUntil polls cond until it holds; it is a condition, not a time.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Minute); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("waited 5 minutes for %s", what)
		}
	}
}

// TestSignInLimitReservesFirst: 199 wrong passwords and the right one,
// for one user, from 200 clients at once. No more than maxFailures are
// ever compared; the others are refused before comparing.
func TestSignInLimitReservesFirst(t *testing.T) {
	t.Parallel()
	p := testPasswords(t, "alice")
	// Room for everyone in the overall bound: only the per-user limit is
	// under test.
	p.slots, p.waiting = make(chan struct{}, 1000), make(chan struct{}, 1000)
	h := holdCompares(p)
	const n = 200
	results := make(chan checkResult, n)
	for i := range n {
		pw := "not her password"
		if i == n/2 {
			pw = password("alice")
		}
		go func() {
			ok, err := p.Check(context.Background(), fmt.Sprintf("client-%d", i), "alice", pw)
			results <- checkResult{ok, err}
		}()
	}
	var got []checkResult
	// Wait until every request is either comparing or answered.
	waitUntil(t, "every request to be decided", func() bool {
		for {
			select {
			case r := <-results:
				got = append(got, r)
				continue
			default:
			}
			return int(h.started.Load())+len(got) >= n
		}
	})
	if started := h.started.Load(); started > maxFailures {
		t.Errorf("%d passwords compared at once for one user; want at most %d", started, maxFailures)
	}
	close(h.release)
	for len(got) < n {
		got = append(got, <-results)
	}
	refused, failed := 0, 0
	for _, r := range got {
		switch {
		case errors.Is(r.err, errTooManyFailures):
			refused++
		case r.err != nil:
			t.Errorf("Check: %v", r.err)
		case !r.ok:
			failed++
		}
	}
	if compared := n - refused; compared != int(h.started.Load()) || compared > maxFailures {
		t.Errorf("%d checked, %d refused; want at most %d checked and the rest refused", compared, refused, maxFailures)
	}
	// Once maxFailures have failed, even the right password is refused.
	if failed == maxFailures {
		if ok, err := p.Check(context.Background(), "client-x", "alice", password("alice")); ok || !errors.Is(err, errTooManyFailures) {
			t.Errorf("right password after %d failures: %v, %v; want errTooManyFailures", failed, ok, err)
		}
	}
}

// TestPasswordChecksBounded: a flood of checks from many clients with
// random user names. At most passwordSlots bcrypt comparisons run at
// once, at most passwordQueue more wait, and the others are answered at
// once with errBusy.
func TestPasswordChecksBounded(t *testing.T) {
	t.Parallel()
	p := testPasswords(t, "alice")
	h := holdCompares(p)
	n := passwordSlots + passwordQueue + 25
	results := make(chan checkResult, n)
	for i := range n {
		go func() {
			ok, err := p.Check(context.Background(), fmt.Sprintf("client-%d", i), fmt.Sprintf("user%d", i), "guess")
			results <- checkResult{ok, err}
		}()
	}
	var busy int
	var got []checkResult
	waitUntil(t, "the bound to fill", func() bool {
		for {
			select {
			case r := <-results:
				got = append(got, r)
				if errors.Is(r.err, errBusy) {
					busy++
				}
				continue
			default:
			}
			// Done when the bound is exceeded (the test fails below) or
			// full with everyone else refused.
			return int(h.running.Load()) > passwordSlots ||
				int(h.running.Load()) == passwordSlots && busy == n-passwordSlots-passwordQueue
		}
	})
	if most := h.most.Load(); int(most) > passwordSlots {
		t.Errorf("%d comparisons at once; want at most %d", most, passwordSlots)
	}
	if busy != n-passwordSlots-passwordQueue || len(got) != busy {
		t.Errorf("%d answered (%d busy) while %d were compared; want the %d beyond the bound of %d busy", len(got), busy, h.running.Load(), n-passwordSlots-passwordQueue, passwordSlots+passwordQueue)
	}
	// A legitimate user still gets in once the flood has drained.
	close(h.release)
	for len(got) < n {
		r := <-results
		got = append(got, r)
		if r.err != nil && !errors.Is(r.err, errBusy) || r.ok {
			t.Errorf("a flooded check: %v, %v; want false or errBusy", r.ok, r.err)
		}
	}
	if ok, err := p.Check(context.Background(), "client-alice", "alice", password("alice")); !ok || err != nil {
		t.Errorf("alice after the flood: %v, %v; want true", ok, err)
	}
	if most := h.most.Load(); int(most) > passwordSlots {
		t.Errorf("%d comparisons at once; want at most %d", most, passwordSlots)
	}
}

// TestClientLimit: one client's checks at once are bounded, and so are
// its failed ones in a row; another client is not affected, and right
// passwords do not use the client's allowance up.
func TestClientLimit(t *testing.T) {
	t.Parallel()
	p := testPasswords(t, "alice")
	p.slots, p.waiting = make(chan struct{}, 1000), make(chan struct{}, 1000)
	memoCompares(p)
	h := holdCompares(p)
	n := clientConcurrent + clientQueue + 15
	results := make(chan checkResult, n)
	for i := range n {
		go func() {
			ok, err := p.Check(context.Background(), "flooder", fmt.Sprintf("user%d", i), "guess")
			results <- checkResult{ok, err}
		}()
	}
	limited := 0
	waitUntil(t, "the client's bound to fill", func() bool {
		for {
			select {
			case r := <-results:
				if errors.Is(r.err, errClientLimit) {
					limited++
				}
				continue
			default:
			}
			return int(h.running.Load()) > clientConcurrent ||
				int(h.running.Load()) == clientConcurrent && limited == n-clientConcurrent-clientQueue
		}
	})
	if most := h.most.Load(); int(most) > clientConcurrent {
		t.Errorf("%d comparisons at once for one client; want at most %d", most, clientConcurrent)
	}
	close(h.release)
	for range n - limited {
		<-results
	}
	// Those failed; failing goes on until the burst is used up, and at
	// most as many more as the bucket refilled meanwhile. (On a machine
	// so slow that a comparison takes longer than the refill, the checks
	// never outrun it: the bound is what is checked, for a while.)
	failed := clientConcurrent + clientQueue
	for i := 0; i < 2*clientBurst; i++ {
		_, err := p.Check(context.Background(), "flooder", fmt.Sprintf("someone%d", i), "guess")
		if errors.Is(err, errClientLimit) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		failed++
		if bound := clientBurst + 1; failed > bound {
			t.Fatalf("%d failed checks from one client, the clock stopped, and not refused; want at most %d", failed, bound)
		}
	}
	// Another client, and the right password, still get through.
	if ok, err := p.Check(context.Background(), "another", "alice", password("alice")); !ok || err != nil {
		t.Errorf("another client: %v, %v; want true", ok, err)
	}
	for range 2 * clientBurst {
		if ok, err := p.Check(context.Background(), "legit", "alice", password("alice")); !ok || err != nil {
			t.Fatalf("right passwords in a row from one client: %v, %v; want true", ok, err)
		}
	}
}

func TestClientOf(t *testing.T) {
	trusted, err := parseProxies("10.0.0.0/8, 192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, remote, xff, want string
	}{
		{"direct", "203.0.113.5:1234", "", "203.0.113.5"},
		{"direct, forwarded header ignored", "203.0.113.5:1234", "198.51.100.1", "203.0.113.5"},
		{"through a trusted proxy", "10.1.2.3:1234", "198.51.100.1", "198.51.100.1"},
		{"spoofed left part ignored", "10.1.2.3:1234", "1.1.1.1, 198.51.100.1", "198.51.100.1"},
		{"two trusted proxies", "192.0.2.1:1234", "198.51.100.1, 10.9.9.9", "198.51.100.1"},
		{"garbage in the header", "10.1.2.3:1234", "nonsense", "10.1.2.3"},
		{"IPv6 by /64", "[2001:db8:1:2:3:4:5:6]:1234", "", "2001:db8:1:2::/64"},
	}
	for _, tt := range tests {
		r, _ := http.NewRequest("GET", "/", nil)
		r.RemoteAddr = tt.remote
		if tt.xff != "" {
			r.Header.Set("X-Forwarded-For", tt.xff)
		}
		if got := trusted.clientOf(r); got != tt.want {
			t.Errorf("%s: got %q; want %q", tt.name, got, tt.want)
		}
	}
	for _, bad := range []string{"10.0.0.0/33", "nonsense", "10.0.0"} {
		if _, err := parseProxies(bad); err == nil {
			t.Errorf("parseProxies(%q): no error", bad)
		}
	}
}
