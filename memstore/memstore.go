// Package memstore is an in-memory [accesstoken.Store]: for tests, for
// single-process forges, and as the reference implementation of the Store
// contract. It has no dependencies beyond the core package and is safe for
// concurrent use.
//
// Its tokens are lost when the process exits; use package sqlstore to keep
// them.
//
// # Memory
//
// Tokens are kept in one slice of fixed-size, pointer-free slots, indexed
// by a flat open-addressing table of digests and by maps whose keys and
// values hold no pointers either; owner, project and repository names and
// scope sets are interned. So a large store costs the garbage collector
// almost nothing to scan, and takes about 300 bytes of heap per token
// (the root package's BenchmarkVerify reports it at 1,000,000 tokens, as
// heap-B/token, and TestMemstoreHeapPerToken fails above 512). Interned
// names are kept for the life of the Store.
//
// A lookup by digest neither allocates nor copies more than the Record it
// returns.
//
// # Lists
//
// Every owner's tokens, every project's tokens and all tokens are kept in
// the order lists return them (by creation time, then ID), sorted when a
// list first needs them after tokens arrived out of order (tokens issued
// through a Manager arrive in order). A page ([accesstoken.Query] After and
// Limit) starts with a binary search and reads no more than it returns,
// but for the tokens its filters leave out: forwards from there oldest
// first, backwards newest first ([accesstoken.NewestFirst]).
package memstore

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"hash/maphash"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/forgekit/accesstoken"
	"github.com/google/uuid"
)

// Store is an in-memory [accesstoken.Store]. The zero value is not usable;
// call [New].
type Store struct {
	mu      sync.RWMutex
	slots   []slot
	desc    []string          // descriptions, by slot
	reasons map[uint32]string // revocation reasons, by slot (few tokens have one)
	free    []uint32          // slots of deleted tokens, for reuse

	byDigest  digestIndex
	byID      map[uuid.UUID]uint32
	byOwner   map[uint32]*order // owner name → its tokens
	byProject map[uint32]*order // project name → its tokens
	all       order             // every token

	// byDesc finds the tokens of an owner and target with a description
	// (not empty), for its uniqueness: the hash of the four → the first
	// slot plus one, the others chained through slot.nextDesc.
	byDesc   map[uint64]uint32
	descSeed maphash.Seed

	names     []string // interned names; index 0 is ""
	nameIndex map[string]uint32
	scopeSets []accesstoken.ScopeSet // interned scope sets
	scopeKeys map[accesstoken.ScopeSet]uint32
}

// order is a list of slots in the order lists return them: by creation
// time, then ID. It is sorted lazily: sorted is false after a slot was
// added out of order, until a list sorts it.
type order struct {
	slots  []uint32
	sorted bool
}

// New returns an empty Store.
func New() *Store {
	return &Store{
		reasons:   map[uint32]string{},
		byID:      map[uuid.UUID]uint32{},
		byOwner:   map[uint32]*order{},
		byProject: map[uint32]*order{},
		all:       order{sorted: true},
		byDesc:    map[uint64]uint32{},
		descSeed:  maphash.MakeSeed(),
		names:     []string{""},
		nameIndex: map[string]uint32{"": 0},
		scopeKeys: map[accesstoken.ScopeSet]uint32{},
	}
}

var _ accesstoken.Store = (*Store)(nil)

// lookupDigest returns the slot holding d; s.mu must be held.
func (s *Store) lookupDigest(d *accesstoken.Digest) (uint32, bool) {
	return s.byDigest.lookup(d, s.slots)
}

// zeroTime is the zero time.Time in Unix microseconds: a value no real
// time stored by the Manager has, unlike 0, which is the Unix epoch.
var zeroTime = time.Time{}.UnixMicro()

func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(us int64) time.Time {
	if us == zeroTime {
		return time.Time{}
	}
	return time.UnixMicro(us).UTC()
}

// activeAt reports whether the token in e is active at the time at, in
// Unix microseconds.
func (e *slot) activeAt(at int64) bool {
	return e.revoked == zeroTime && (e.expires == zeroTime || e.expires > at)
}

// intern returns the index of name; s.mu must be held for writing.
func (s *Store) intern(name string) uint32 {
	if i, ok := s.nameIndex[name]; ok {
		return i
	}
	i := uint32(len(s.names))
	name = strings.Clone(name)
	s.names = append(s.names, name)
	s.nameIndex[name] = i
	return i
}

// lookupName returns the index of name if it was interned.
func (s *Store) lookupName(name string) (uint32, bool) {
	i, ok := s.nameIndex[name]
	return i, ok
}

// internScopes returns the index of the scope set; s.mu must be held for
// writing. A ScopeSet is immutable, so one copy serves every token.
func (s *Store) internScopes(sc accesstoken.ScopeSet) uint32 {
	if i, ok := s.scopeKeys[sc]; ok {
		return i
	}
	sc = accesstoken.ParseScopeSet(strings.Clone(sc.String()))
	i := uint32(len(s.scopeSets))
	s.scopeSets = append(s.scopeSets, sc)
	s.scopeKeys[sc] = i
	return i
}

// record copies slot i into r; s.mu must be held. It fills r field by
// field, so that a lookup neither allocates nor copies a Record twice.
func (s *Store) record(i uint32, r *accesstoken.Record) {
	e := &s.slots[i]
	r.ID, r.Digest, r.ReplacedBy = e.id, e.digest, e.replacedBy
	r.Owner, r.Description, r.RevokedBy = s.names[e.owner], s.desc[i], s.names[e.revokedBy]
	r.Target.Project, r.Target.Repository = s.names[e.project], s.names[e.repo]
	r.Scopes = s.scopeSets[e.scopes]
	r.CreatedAt, r.ExpiresAt = fromMicros(e.created), fromMicros(e.expires)
	r.LastUsedAt, r.RevokedAt = fromMicros(e.lastUsed.Load()), fromMicros(e.revoked)
	r.RevocationReason = ""
	if e.revoked != zeroTime && len(s.reasons) > 0 {
		r.RevocationReason = s.reasons[i]
	}
}

// descKey is the byDesc key of an owner, project, repository and
// description.
func (s *Store) descKey(owner, project, repo uint32, desc string) uint64 {
	var h maphash.Hash
	h.SetSeed(s.descSeed)
	var b [12]byte
	b[0], b[1], b[2], b[3] = byte(owner), byte(owner>>8), byte(owner>>16), byte(owner>>24)
	b[4], b[5], b[6], b[7] = byte(project), byte(project>>8), byte(project>>16), byte(project>>24)
	b[8], b[9], b[10], b[11] = byte(repo), byte(repo>>8), byte(repo>>16), byte(repo>>24)
	h.Write(b[:])
	h.WriteString(desc)
	return h.Sum64()
}

// descTaken reports whether another token of rec's owner and target with
// rec's description is active at rec's creation; s.mu must be held.
func (s *Store) descTaken(rec *accesstoken.Record) bool {
	owner, ok1 := s.lookupName(rec.Owner)
	project, ok2 := s.lookupName(rec.Target.Project)
	repo, ok3 := s.lookupName(rec.Target.Repository)
	if !ok1 || !ok2 || !ok3 {
		return false // a name never seen: no token has it
	}
	at := micros(rec.CreatedAt)
	for i := s.byDesc[s.descKey(owner, project, repo, rec.Description)]; i != 0; i = s.slots[i-1].nextDesc {
		e := &s.slots[i-1]
		if e.owner == owner && e.project == project && e.repo == repo && e.activeAt(at) && s.desc[i-1] == rec.Description {
			return true
		}
	}
	return false
}

// Insert implements [accesstoken.Store]. The description check and the
// insertion happen under one lock.
func (s *Store) Insert(ctx context.Context, rec accesstoken.Record) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if rec.Description != "" && rec.Active(rec.CreatedAt) && s.descTaken(&rec) {
		return accesstoken.ErrDuplicateDescription
	}
	return s.insertLocked(&rec)
}

func (s *Store) insertLocked(rec *accesstoken.Record) error {
	if _, dup := s.byID[rec.ID]; dup {
		return accesstoken.ErrDuplicate
	}
	if _, dup := s.lookupDigest(&rec.Digest); dup {
		return accesstoken.ErrDuplicate
	}
	var i uint32
	if n := len(s.free); n > 0 {
		i, s.free = s.free[n-1], s.free[:n-1]
	} else {
		i = uint32(len(s.slots))
		s.slots = append(s.slots, slot{})
		s.desc = append(s.desc, "")
	}
	e := &s.slots[i]
	e.id, e.digest, e.replacedBy = rec.ID, rec.Digest, rec.ReplacedBy
	e.owner, e.project, e.repo = s.intern(rec.Owner), s.intern(rec.Target.Project), s.intern(rec.Target.Repository)
	e.revokedBy, e.scopes = s.intern(rec.RevokedBy), s.internScopes(rec.Scopes)
	e.created, e.expires, e.revoked = micros(rec.CreatedAt), micros(rec.ExpiresAt), micros(rec.RevokedAt)
	e.lastUsed.Store(micros(rec.LastUsedAt))
	s.desc[i] = strings.Clone(rec.Description)
	if rec.RevocationReason != "" {
		s.reasons[i] = strings.Clone(rec.RevocationReason)
	}
	if rec.Description != "" {
		k := s.descKey(e.owner, e.project, e.repo, rec.Description)
		e.nextDesc, s.byDesc[k] = s.byDesc[k], i+1
	}
	s.byDigest.add(&e.digest, i)
	s.byID[e.id] = i
	s.add(s.ordered(s.byOwner, e.owner), i)
	s.add(s.ordered(s.byProject, e.project), i)
	s.add(&s.all, i)
	return nil
}

// ordered returns the order of key in m, made if need be.
func (s *Store) ordered(m map[uint32]*order, key uint32) *order {
	o := m[key]
	if o == nil {
		o = &order{sorted: true}
		m[key] = o
	}
	return o
}

// before reports whether slot i comes before slot j in lists.
func (s *Store) before(i, j uint32) bool {
	a, b := &s.slots[i], &s.slots[j]
	if a.created != b.created {
		return a.created < b.created
	}
	return bytes.Compare(a.id[:], b.id[:]) < 0
}

// add appends slot i to o, noting whether o is still sorted.
func (s *Store) add(o *order, i uint32) {
	if n := len(o.slots); n > 0 && s.before(i, o.slots[n-1]) {
		o.sorted = false
	}
	o.slots = append(o.slots, i)
}

// ByDigest implements [accesstoken.Store].
func (s *Store) ByDigest(ctx context.Context, d accesstoken.Digest) (rec accesstoken.Record, err error) {
	if err := ctx.Err(); err != nil {
		return rec, err
	}
	s.mu.RLock()
	i, ok := s.lookupDigest(&d)
	if ok {
		s.record(i, &rec)
	}
	s.mu.RUnlock() // not deferred: this is the hot path of every verification
	if !ok {
		return rec, accesstoken.ErrNotFound
	}
	return rec, nil
}

// ByID implements [accesstoken.Store].
func (s *Store) ByID(ctx context.Context, id uuid.UUID) (rec accesstoken.Record, err error) {
	if err := ctx.Err(); err != nil {
		return rec, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	i, ok := s.byID[id]
	if !ok {
		return rec, accesstoken.ErrNotFound
	}
	s.record(i, &rec)
	return rec, nil
}

// List implements [accesstoken.Store]: it walks the order of the owner's
// tokens, the project's or all tokens, from q.After (found by binary
// search), forwards or, newest first, backwards, until it has q.Limit
// records. An unknown q.Order is an error.
func (s *Store) List(ctx context.Context, q accesstoken.Query) ([]accesstoken.Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if q.Order != accesstoken.OldestFirst && q.Order != accesstoken.NewestFirst {
		return nil, fmt.Errorf("memstore: list: unknown order %v", q.Order)
	}
	out := []accesstoken.Record{}
	if q.Owner == "" && q.Target == nil && !q.All {
		return out, nil
	}
	s.mu.RLock()
	defer func() { s.mu.RUnlock() }()
	for {
		o, match, ok := s.candidates(&q)
		if !ok {
			return out, nil
		}
		if !o.sorted {
			// Sort under the write lock, then start again: the order may
			// have changed in between.
			s.mu.RUnlock()
			s.mu.Lock()
			s.sort(o)
			s.mu.Unlock()
			s.mu.RLock()
			continue
		}
		// The slots to walk, from where the page starts: oldest first, those
		// after q.After, forwards; newest first, those before it, backwards.
		slots := o.slots
		if !q.After.IsZero() {
			after, id := micros(q.After.CreatedAt), q.After.ID
			k := sort.Search(len(slots), func(k int) bool {
				e := &s.slots[slots[k]]
				c := cmp.Compare(e.created, after)
				if c == 0 {
					c = bytes.Compare(e.id[:], id[:])
				}
				if q.Order == accesstoken.NewestFirst {
					return c >= 0
				}
				return c > 0
			})
			if q.Order == accesstoken.NewestFirst {
				slots = slots[:k]
			} else {
				slots = slots[k:]
			}
		}
		newest, last := q.Order == accesstoken.NewestFirst, len(slots)-1
		active, inactive, expiring := micros(q.Active), micros(q.Inactive), micros(q.ExpiringBefore)
		for k := range slots {
			i := slots[k]
			if newest {
				i = slots[last-k]
			}
			e := &s.slots[i]
			switch {
			case !match(e):
			case !q.Active.IsZero() && !e.activeAt(active):
			case !q.Inactive.IsZero() && e.activeAt(inactive):
			case !q.ExpiringBefore.IsZero() && (e.expires == zeroTime || e.expires >= expiring):
			default:
				out = append(out, accesstoken.Record{})
				s.record(i, &out[len(out)-1])
				if q.Limit > 0 && len(out) == q.Limit {
					return out, nil
				}
			}
		}
		return out, nil
	}
}

// candidates returns the order to walk for q, and the test a slot of it
// must pass; ok is false when nothing can match. s.mu must be held.
func (s *Store) candidates(q *accesstoken.Query) (o *order, match func(*slot) bool, ok bool) {
	match = func(*slot) bool { return true }
	owner := ^uint32(0)
	if q.Owner != "" {
		if owner, ok = s.lookupName(q.Owner); !ok {
			return nil, nil, false
		}
		o = s.byOwner[owner]
		match = func(e *slot) bool { return e.owner == owner }
	}
	if q.Target != nil {
		project, ok := s.lookupName(q.Target.Project)
		if !ok {
			return nil, nil, false
		}
		repo, ok := s.lookupName(q.Target.Repository)
		if !ok {
			repo = ^uint32(0) // matches no token's repository
		}
		covering := q.Covering && q.Target.Repository != "" && q.Target.Project != ""
		if o == nil {
			o = s.byProject[project]
		}
		byOwner := q.Owner != ""
		match = func(e *slot) bool {
			return e.project == project && (e.repo == repo || covering && e.repo == 0) && (!byOwner || e.owner == owner)
		}
	}
	if q.Owner == "" && q.Target == nil {
		o = &s.all
	}
	return o, match, o != nil
}

// sort sorts o; s.mu must be held for writing.
func (s *Store) sort(o *order) {
	if !o.sorted {
		slices.SortFunc(o.slots, func(i, j uint32) int {
			if s.before(i, j) {
				return -1
			}
			if s.before(j, i) {
				return 1
			}
			return 0
		})
		o.sorted = true
	}
}

// revokeLocked revokes slot i unless it is revoked; s.mu must be held for
// writing.
func (s *Store) revokeLocked(i uint32, rev accesstoken.Revocation) {
	if e := &s.slots[i]; e.revoked == zeroTime {
		e.revoked, e.revokedBy = micros(rev.At), s.intern(rev.By)
		if rev.Reason != "" {
			s.reasons[i] = strings.Clone(rev.Reason)
		}
	}
}

// Revoke implements [accesstoken.Store].
func (s *Store) Revoke(ctx context.Context, id uuid.UUID, rev accesstoken.Revocation) (rec accesstoken.Record, err error) {
	if err := ctx.Err(); err != nil {
		return rec, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	i, ok := s.byID[id]
	if !ok {
		return rec, accesstoken.ErrNotFound
	}
	s.revokeLocked(i, rev)
	s.record(i, &rec)
	return rec, nil
}

// RevokeOwner implements [accesstoken.Store], under one lock.
func (s *Store) RevokeOwner(ctx context.Context, owner string, rev accesstoken.Revocation) ([]accesstoken.Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []accesstoken.Record{}
	oi, ok := s.lookupName(owner)
	o := s.byOwner[oi]
	if !ok || o == nil {
		return out, nil
	}
	s.sort(o)
	at := micros(rev.At)
	for _, i := range o.slots {
		if s.slots[i].activeAt(at) {
			s.revokeLocked(i, rev)
			out = append(out, accesstoken.Record{})
			s.record(i, &out[len(out)-1])
		}
	}
	return out, nil
}

// Rotate implements [accesstoken.Store].
func (s *Store) Rotate(ctx context.Context, oldID uuid.UUID, rev accesstoken.Revocation, next accesstoken.Record) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	i, ok := s.byID[oldID]
	if !ok {
		return accesstoken.ErrNotFound
	}
	if s.slots[i].revoked != zeroTime {
		return accesstoken.ErrRevoked
	}
	if err := s.insertLocked(&next); err != nil {
		return err
	}
	s.revokeLocked(i, rev)
	s.slots[i].replacedBy = next.ID
	return nil
}

// TouchLastUsed implements [accesstoken.Store]. It takes only the read lock
// and a compare-and-swap, so it never waits on other touches.
func (s *Store) TouchLastUsed(ctx context.Context, id uuid.UUID, at time.Time, interval time.Duration) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	i, ok := s.byID[id]
	if !ok {
		return false, nil
	}
	e := &s.slots[i]
	now := micros(at)
	// Times are whole microseconds, so "at least interval older" is at
	// least interval rounded up to a whole microsecond.
	minGap := int64((interval + time.Microsecond - 1) / time.Microsecond)
	for {
		last := e.lastUsed.Load()
		if last != zeroTime && now-last < minGap {
			return false, nil
		}
		if e.lastUsed.CompareAndSwap(last, now) {
			return true, nil
		}
	}
}

// DeleteTarget implements [accesstoken.Store].
func (s *Store) DeleteTarget(ctx context.Context, t accesstoken.Target) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	project, ok := s.lookupName(t.Project)
	if !ok {
		return 0, nil
	}
	repo, ok := s.lookupName(t.Repository)
	if !ok {
		return 0, nil
	}
	o := s.byProject[project]
	if o == nil {
		return 0, nil
	}
	doomed := map[uint32]bool{}
	for _, i := range o.slots {
		if t.IsProject() || s.slots[i].repo == repo {
			doomed[i] = true
		}
	}
	s.deleteLocked(doomed)
	return len(doomed), nil
}

// DeleteInactive implements [accesstoken.Store]: one pass over every
// token, under one lock.
func (s *Store) DeleteInactive(ctx context.Context, before time.Time) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cut := micros(before)
	doomed := map[uint32]bool{}
	for _, i := range s.all.slots {
		e := &s.slots[i]
		if e.revoked != zeroTime && e.revoked < cut || e.expires != zeroTime && e.expires < cut {
			doomed[i] = true
		}
	}
	s.deleteLocked(doomed)
	return len(doomed), nil
}

// deleteLocked deletes the slots in doomed from the store and every index;
// s.mu must be held for writing.
func (s *Store) deleteLocked(doomed map[uint32]bool) {
	if len(doomed) == 0 {
		return
	}
	owners, projects := map[uint32]bool{}, map[uint32]bool{}
	for i := range doomed {
		e := &s.slots[i]
		owners[e.owner], projects[e.project] = true, true
		if d := s.desc[i]; d != "" {
			s.unlinkDesc(s.descKey(e.owner, e.project, e.repo, d), i)
		}
		s.byDigest.remove(&e.digest, i)
		delete(s.byID, e.id)
	}
	gone := func(i uint32) bool { return doomed[i] }
	for _, idx := range []struct {
		m    map[uint32]*order
		keys map[uint32]bool
	}{{s.byOwner, owners}, {s.byProject, projects}} {
		for k := range idx.keys {
			o := idx.m[k]
			if o.slots = slices.DeleteFunc(o.slots, gone); len(o.slots) == 0 {
				delete(idx.m, k)
			}
		}
	}
	s.all.slots = slices.DeleteFunc(s.all.slots, gone)
	for i := range doomed {
		s.slots[i] = slot{}
		s.desc[i] = ""
		delete(s.reasons, i)
		s.free = append(s.free, i)
	}
}

// unlinkDesc removes slot i from the byDesc chain of key k.
func (s *Store) unlinkDesc(k uint64, i uint32) {
	prev := uint32(0)
	for j := s.byDesc[k]; j != 0; prev, j = j, s.slots[j-1].nextDesc {
		if j-1 != i {
			continue
		}
		next := s.slots[i].nextDesc
		switch {
		case prev != 0:
			s.slots[prev-1].nextDesc = next
		case next != 0:
			s.byDesc[k] = next
		default:
			delete(s.byDesc, k)
		}
		return
	}
}

// Len returns the number of tokens held, revoked and expired ones included.
func (s *Store) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.byID)
}
