package accesstoken_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/forgekit/accesstoken"
	"github.com/forgekit/accesstoken/internal/clocktest"
	"github.com/forgekit/accesstoken/memstore"
	"github.com/stretchr/testify/require"
)

// newClock returns the fake clock of the tests, standing at a fixed time.
func newClock() *clocktest.Clock {
	return clocktest.New(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
}

// perms is a mutable forge permission model: access[user][project] is the
// set of scopes the user has on every repository of the project, and
// managers[user][project] whether the user may manage its tokens.
type perms struct {
	mu      sync.Mutex
	access  map[string]map[string][]accesstoken.Scope
	manager map[string]map[string]bool
	err     error
}

func newPerms() *perms {
	p := &perms{access: map[string]map[string][]accesstoken.Scope{}, manager: map[string]map[string]bool{}}
	all := []accesstoken.Scope{accesstoken.ScopePull, accesstoken.ScopePush, accesstoken.ScopeBuildStatus}
	p.set("alice", "demo", true, all...)
	p.set("alice", "other", true, all...)
	p.set("bob", "demo", false, accesstoken.ScopePull)
	return p
}

func (p *perms) set(user, project string, manage bool, scopes ...accesstoken.Scope) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.access[user] == nil {
		p.access[user], p.manager[user] = map[string][]accesstoken.Scope{}, map[string]bool{}
	}
	p.access[user][project], p.manager[user][project] = scopes, manage
}

func (p *perms) fail(err error) { p.mu.Lock(); p.err = err; p.mu.Unlock() }

func (p *perms) CanAccess(_ context.Context, user string, res accesstoken.Resource, scope accesstoken.Scope) (bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err != nil {
		return false, p.err
	}
	for _, s := range p.access[user][res.Project] {
		if s == scope {
			return true, nil
		}
	}
	return false, nil
}

func (p *perms) CanManage(_ context.Context, user string, t accesstoken.Target) (bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err != nil {
		return false, p.err
	}
	return p.manager[user][t.Project], nil
}

type env struct {
	m     *accesstoken.Manager
	store *memstore.Store
	clock *clocktest.Clock
	perms *perms
	ev    *events
}

type events struct {
	mu  sync.Mutex
	all []accesstoken.Event
}

func (e *events) record(_ context.Context, ev accesstoken.Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.all = append(e.all, ev)
}

func (e *events) kinds() []accesstoken.EventKind {
	e.mu.Lock()
	defer e.mu.Unlock()
	var k []accesstoken.EventKind
	for _, ev := range e.all {
		k = append(k, ev.Kind)
	}
	return k
}

func newEnv(t testing.TB, opts ...accesstoken.Option) *env {
	t.Helper()
	e := &env{store: memstore.New(), clock: newClock(), perms: newPerms(), ev: &events{}}
	opts = append([]accesstoken.Option{accesstoken.WithClock(e.clock.Now), accesstoken.WithEvents(e.ev.record)}, opts...)
	m, err := accesstoken.New(e.store, e.perms, opts...)
	require.NoError(t, err)
	e.m = m
	return e
}

func newManager(t testing.TB) *accesstoken.Manager { return newEnv(t).m }

// issue issues a token of alice's, with a description of its own:
// descriptions are unique among an owner's active tokens of a target.
func issue(t testing.TB, m *accesstoken.Manager, target accesstoken.Target, scopes ...accesstoken.Scope) *accesstoken.Issued {
	t.Helper()
	return issueDesc(t, m, fmt.Sprintf("test %d", issued.Add(1)), target, scopes...)
}

var issued atomic.Int64

// issueDesc issues a token of alice's with the given description.
func issueDesc(t testing.TB, m *accesstoken.Manager, desc string, target accesstoken.Target, scopes ...accesstoken.Scope) *accesstoken.Issued {
	t.Helper()
	iss, err := m.Issue(context.Background(), accesstoken.IssueRequest{Owner: "alice", Description: desc, Target: target, Scopes: scopes})
	require.NoError(t, err)
	return iss
}

var (
	ctx   = context.Background()
	hello = accesstoken.Resource{Project: "demo", Repository: "hello"}
	world = accesstoken.Resource{Project: "demo", Repository: "world"}
	elsew = accesstoken.Resource{Project: "other", Repository: "hello"}
)
