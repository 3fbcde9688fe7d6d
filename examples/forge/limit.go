package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// Password checks (the API's Basic credentials and the sign-in form) cost
// a bcrypt comparison each, tens of milliseconds of CPU by design, for
// known and unknown user names alike. Three limits keep guessing slow and
// the CPU for everyone else; each is decided before the comparison starts,
// so requests sent in parallel cannot get past it:
//
//   - per user name: maxFailures failed checks within failureWindow
//     (checks in flight count as failures until they succeed), then
//     refused until the window has passed, right password or not;
//   - per client address: at most clientConcurrent checks at once (and
//     clientQueue more waiting), and clientBurst failed checks in a row,
//     then one per clientEvery;
//   - overall: at most passwordSlots comparisons at once, and at most
//     passwordQueue more waiting for one; beyond that, 503 at once.
//
// Names that can never be a user's ("\xff", "a..b") are refused before any
// of this, without a comparison or a query.
//
// The limits are per process; a forge of many instances would keep the
// per-user counts in its database or in front of it. The price of the
// per-user limit: anyone can lock a user out of password sign-in for the
// window. Their tokens keep working.

const (
	maxFailures   = 10
	failureWindow = 10 * time.Minute

	clientConcurrent = 2
	clientQueue      = 8
	clientBurst      = 20
	clientEvery      = time.Second

	// maxTracked bounds the user names and client addresses held in
	// memory. A name is held while its failures are in the window, so
	// filling it takes maxTracked failed comparisons within
	// failureWindow (166 a second), more than the overall bound lets
	// through unless a bcrypt comparison takes under passwordSlots × 6 ms
	// (it takes tens of milliseconds). If it ever fills, new names and
	// clients are refused, never let through.
	maxTracked = 100_000
)

var (
	// passwordSlots is how many bcrypt comparisons run at once: half the
	// CPUs, so that git and the pages keep the other half under a flood.
	passwordSlots = max(1, runtime.NumCPU()/2)
	// passwordQueue is how many more may wait for a slot.
	passwordQueue = 8 * passwordSlots
)

var (
	// errTooManyFailures refuses a user after too many failed checks.
	errTooManyFailures = errors.New("too many failed sign-ins for this user: try again later")
	// errClientLimit refuses a client that checks passwords too often.
	errClientLimit = errors.New("too many password checks from your address: try again in a few seconds")
	// errBusy refuses a check when the forge is checking as many
	// passwords as it will.
	errBusy = errors.New("too many sign-ins at once: try again in a moment")
)

// passwords checks user names and passwords within the limits above.
type passwords struct {
	db      *DB
	proxies proxies // whose X-Forwarded-For names the client
	users   signInLimit
	clients clientLimit
	slots   chan struct{} // one per comparison running
	waiting chan struct{} // one per comparison running or waiting
	// compare is bcrypt.CompareHashAndPassword; tests wrap it to count
	// the comparisons.
	compare func(hash, password []byte) error
	// now is time.Now; tests stop it, so that no limit refills while a
	// slow machine runs them.
	now func() time.Time
}

func newPasswords(db *DB, trusted proxies) *passwords {
	go dummyHash() // ready before the first check, without delaying the start
	return &passwords{
		db:      db,
		proxies: trusted,
		slots:   make(chan struct{}, passwordSlots),
		waiting: make(chan struct{}, passwordSlots+passwordQueue),
		compare: bcrypt.CompareHashAndPassword,
		now:     time.Now,
	}
}

// dummyHash is compared against when the user does not exist, so that a
// check takes as long for unknown users as for known ones. It is made on
// first use, not at every start of the program.
var dummyHash = sync.OnceValue(func() []byte {
	h, _ := bcrypt.GenerateFromPassword([]byte("not a password of anyone"), bcrypt.DefaultCost)
	return h
})

// Check reports whether name is a user and password is theirs. client
// identifies where the request comes from (see clientOf). It returns
// errClientLimit, errTooManyFailures or errBusy without comparing when a
// limit is reached.
func (p *passwords) Check(ctx context.Context, client, name, password string) (bool, error) {
	if !validName(name) {
		return false, nil // no such user can exist: nothing to compare
	}
	clientDone, err := p.clients.start(ctx, client, p.now())
	if err != nil {
		return false, err
	}
	failed := false // a password was compared, and did not match
	defer func() { clientDone(failed) }()
	if !p.users.reserve(name, p.now()) {
		return false, errTooManyFailures
	}
	defer func() { p.users.done(name, failed, p.now()) }()

	select {
	case p.waiting <- struct{}{}:
	default:
		return false, errBusy
	}
	defer func() { <-p.waiting }()
	select {
	case p.slots <- struct{}{}:
	case <-ctx.Done():
		return false, errBusy // the client has gone and reads no answer
	}
	defer func() { <-p.slots }()

	hash, err := p.db.PasswordHash(ctx, name)
	switch {
	case errors.Is(err, errNotFound):
		_ = p.compare(dummyHash(), []byte(password))
		failed = true
		return false, nil
	case err != nil:
		return false, err
	}
	ok := p.compare([]byte(hash), []byte(password)) == nil
	failed = !ok
	return ok, nil
}

// CheckRequest is Check for the client that sent r.
func (p *passwords) CheckRequest(r *http.Request, name, password string) (bool, error) {
	return p.Check(r.Context(), p.proxies.clientOf(r), name, password)
}

// signInLimit counts, per user name, failed checks within failureWindow
// and checks in flight.
type signInLimit struct {
	mu    sync.Mutex
	users map[string]*attempts
}

type attempts struct {
	failures []time.Time // oldest first, within the window
	inFlight int
}

// reserve reports whether name may be checked now, and if so counts the
// check as in flight until done is called.
func (l *signInLimit) reserve(name string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	a := l.users[name]
	if a == nil {
		if l.users == nil {
			l.users = make(map[string]*attempts)
		}
		if len(l.users) >= maxTracked && !l.sweep(now) {
			return false
		}
		a = &attempts{}
		l.users[name] = a
	}
	a.prune(now)
	if len(a.failures)+a.inFlight >= maxFailures {
		return false
	}
	a.inFlight++
	return true
}

// done ends a check that reserve allowed, and counts it if it failed.
func (l *signInLimit) done(name string, failed bool, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	a := l.users[name]
	a.inFlight--
	if failed {
		a.failures = append(a.failures, now)
	}
	a.prune(now)
	if a.inFlight == 0 && len(a.failures) == 0 {
		delete(l.users, name)
	}
}

func (a *attempts) prune(now time.Time) {
	for len(a.failures) > 0 && now.Sub(a.failures[0]) >= failureWindow {
		a.failures = a.failures[1:]
	}
}

// sweep forgets the names with nothing left to count and reports whether
// there is room for a new one; l.mu is held.
func (l *signInLimit) sweep(now time.Time) bool {
	for name, a := range l.users {
		if a.prune(now); a.inFlight == 0 && len(a.failures) == 0 {
			delete(l.users, name)
		}
	}
	return len(l.users) < maxTracked
}

// clientLimit bounds the password checks of each client address: at most
// clientConcurrent run at once and clientQueue more wait for their turn;
// and the failed ones draw on a bucket of clientBurst, refilled with one
// every clientEvery. A check takes one from the bucket before it starts
// and gives it back unless it compared a password and failed, so that
// checks sent in parallel cannot overdraw it.
type clientLimit struct {
	mu      sync.Mutex
	clients map[string]*bucket
}

type bucket struct {
	tokens  float64
	at      time.Time     // when tokens was computed
	waiting int           // checks running or waiting for their turn
	turns   chan struct{} // one per check running
}

func (b *bucket) refill(now time.Time) {
	if now.After(b.at) {
		b.tokens = min(clientBurst, b.tokens+float64(now.Sub(b.at))/float64(clientEvery))
		b.at = now
	}
}

// start waits for client's turn to check a password, and returns the
// function that ends the check, or errClientLimit (or errBusy if ctx ends
// while it waits).
func (l *clientLimit) start(ctx context.Context, client string, now time.Time) (done func(failed bool), err error) {
	l.mu.Lock()
	b := l.clients[client]
	if b == nil {
		if l.clients == nil {
			l.clients = make(map[string]*bucket)
		}
		if len(l.clients) >= maxTracked && !l.sweep(now) {
			l.mu.Unlock()
			return nil, errClientLimit
		}
		b = &bucket{tokens: clientBurst, at: now, turns: make(chan struct{}, clientConcurrent)}
		l.clients[client] = b
	}
	b.refill(now)
	if b.tokens < 1 || b.waiting >= clientConcurrent+clientQueue {
		l.mu.Unlock()
		return nil, errClientLimit
	}
	b.tokens--
	b.waiting++
	l.mu.Unlock()

	end := func(failed bool) {
		l.mu.Lock()
		defer l.mu.Unlock()
		b.waiting--
		if !failed {
			b.tokens = min(clientBurst, b.tokens+1)
		}
	}
	select {
	case b.turns <- struct{}{}:
	case <-ctx.Done():
		end(false)
		return nil, errBusy // the client has gone and reads no answer
	}
	return func(failed bool) {
		<-b.turns
		end(failed)
	}, nil
}

// sweep forgets the clients with nothing running and a full bucket, and
// reports whether there is room for a new one; l.mu is held.
func (l *clientLimit) sweep(now time.Time) bool {
	for c, b := range l.clients {
		if b.refill(now); b.waiting == 0 && b.tokens >= clientBurst {
			delete(l.clients, c)
		}
	}
	return len(l.clients) < maxTracked
}

// proxies are the addresses of the reverse proxies whose X-Forwarded-For
// header the forge believes (-trusted-proxy).
type proxies []*net.IPNet

// parseProxies parses a comma-separated list of IP addresses and CIDR
// prefixes.
func parseProxies(s string) (proxies, error) {
	var ps proxies
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if !strings.Contains(f, "/") {
			ip := net.ParseIP(f)
			if ip == nil {
				return nil, fmt.Errorf("-trusted-proxy: %q is not an IP address or a CIDR prefix such as 10.0.0.0/8", f)
			}
			bits := 8 * len(ip.To16())
			if ip.To4() != nil {
				ip, bits = ip.To4(), 32
			}
			ps = append(ps, &net.IPNet{IP: ip, Mask: net.CIDRMask(bits, bits)})
			continue
		}
		_, n, err := net.ParseCIDR(f)
		if err != nil {
			return nil, fmt.Errorf("-trusted-proxy: %q is not an IP address or a CIDR prefix such as 10.0.0.0/8", f)
		}
		ps = append(ps, n)
	}
	return ps, nil
}

func (ps proxies) trusted(ip net.IP) bool {
	for _, n := range ps {
		if n.Contains(ip) {
			return true
		}
	}
	return false
}

// clientOf returns the key of the client a request comes from for the
// per-client limit: its IP address, or for a request through a trusted
// proxy the right-most address of X-Forwarded-For that is not a trusted
// proxy. IPv6 addresses count by their /64 prefix, which one host usually
// has whole.
func (ps proxies) clientOf(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip := net.ParseIP(host)
	if ip != nil && ps.trusted(ip) {
		hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
		for i := len(hops) - 1; i >= 0; i-- {
			hop := net.ParseIP(strings.TrimSpace(hops[i]))
			if hop == nil {
				break // not an address: believe nothing further left
			}
			ip = hop
			if !ps.trusted(hop) {
				break
			}
		}
	}
	switch {
	case ip == nil:
		return host
	case ip.To4() != nil:
		return ip.To4().String()
	}
	return ip.Mask(net.CIDRMask(64, 128)).String() + "/64"
}
