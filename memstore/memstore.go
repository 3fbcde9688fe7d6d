// Package memstore is an in-memory [accesstoken.Store]: for tests, for
// single-process forges that rebuild their tokens at start, and as the
// reference implementation of the Store contract. It has no dependencies
// beyond the core package and is safe for concurrent use.
//
// Its tokens are lost when the process exits; use package sqlstore to keep
// them. It holds about 400 bytes per token (measured at 1,000,000 tokens;
// see the README).
package memstore

import (
	"bytes"
	"context"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unique"

	"github.com/forgekit/accesstoken"
	"github.com/google/uuid"
)

// Store is an in-memory [accesstoken.Store]. The zero value is not usable;
// call [New].
type Store struct {
	mu        sync.RWMutex
	byDigest  map[accesstoken.Digest]*entry
	byID      map[uuid.UUID]*entry
	byOwner   map[string][]*entry
	byProject map[string][]*entry
	scopeSets map[string][]accesstoken.Scope
}

// entry is a compact record: times as Unix microseconds (zeroTime for the
// zero time), strings interned, scope lists shared between tokens and never
// modified. Fields other than lastUsed change only under Store.mu held for
// writing.
type entry struct {
	id                                      uuid.UUID
	digest                                  accesstoken.Digest
	owner, description, project, repository string
	revokedBy                               string
	scopes                                  []accesstoken.Scope
	created, expires, revoked               int64
	lastUsed                                atomic.Int64
	replacedBy                              uuid.UUID
}

// New returns an empty Store.
func New() *Store {
	return &Store{
		byDigest:  map[accesstoken.Digest]*entry{},
		byID:      map[uuid.UUID]*entry{},
		byOwner:   map[string][]*entry{},
		byProject: map[string][]*entry{},
		scopeSets: map[string][]accesstoken.Scope{},
	}
}

var _ accesstoken.Store = (*Store)(nil)

// zeroTime is the zero [time.Time] in Unix microseconds. It stands for "no
// time" in an entry; 0 cannot, since it is the Unix epoch, a time like any
// other.
var zeroTime = time.Time{}.UnixMicro()

func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(us int64) time.Time {
	if us == zeroTime {
		return time.Time{}
	}
	return time.UnixMicro(us).UTC()
}

func intern(s string) string { return unique.Make(s).Value() }

// record copies e into a new Record owned by the caller.
func (e *entry) record() *accesstoken.Record {
	return &accesstoken.Record{
		Token: accesstoken.Token{
			ID:          e.id,
			Owner:       e.owner,
			Description: e.description,
			Target:      accesstoken.Target{Project: e.project, Repository: e.repository},
			Scopes:      slices.Clone(e.scopes),
			CreatedAt:   fromMicros(e.created),
			ExpiresAt:   fromMicros(e.expires),
			LastUsedAt:  fromMicros(e.lastUsed.Load()),
			RevokedAt:   fromMicros(e.revoked),
			RevokedBy:   e.revokedBy,
			ReplacedBy:  e.replacedBy,
		},
		Digest: e.digest,
	}
}

// newEntry converts rec; s.mu must be held for writing.
func (s *Store) newEntry(rec *accesstoken.Record) *entry {
	e := &entry{
		id:          rec.ID,
		digest:      rec.Digest,
		owner:       intern(rec.Owner),
		description: rec.Description,
		project:     intern(rec.Target.Project),
		repository:  intern(rec.Target.Repository),
		revokedBy:   rec.RevokedBy,
		scopes:      s.internScopes(rec.Scopes),
		created:     micros(rec.CreatedAt),
		expires:     micros(rec.ExpiresAt),
		revoked:     micros(rec.RevokedAt),
		replacedBy:  rec.ReplacedBy,
	}
	e.lastUsed.Store(micros(rec.LastUsedAt))
	return e
}

// internScopes returns the shared copy of sc. The key gives each scope's
// length before it, so that no two lists have the same key (with a mere
// separator, ["a b"] and ["a", "b"] would).
func (s *Store) internScopes(sc []accesstoken.Scope) []accesstoken.Scope {
	var b strings.Builder
	for _, x := range sc {
		b.WriteString(strconv.Itoa(len(x)))
		b.WriteByte(':')
		b.WriteString(string(x))
	}
	key := b.String()
	if shared, ok := s.scopeSets[key]; ok {
		return shared
	}
	shared := slices.Clip(slices.Clone(sc))
	s.scopeSets[key] = shared
	return shared
}

// Insert implements [accesstoken.Store].
func (s *Store) Insert(ctx context.Context, rec *accesstoken.Record) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.insertLocked(rec)
}

func (s *Store) insertLocked(rec *accesstoken.Record) error {
	if _, dup := s.byID[rec.ID]; dup {
		return accesstoken.ErrDuplicate
	}
	if _, dup := s.byDigest[rec.Digest]; dup {
		return accesstoken.ErrDuplicate
	}
	e := s.newEntry(rec)
	s.byDigest[e.digest] = e
	s.byID[e.id] = e
	s.byOwner[e.owner] = append(s.byOwner[e.owner], e)
	s.byProject[e.project] = append(s.byProject[e.project], e)
	return nil
}

// ByDigest implements [accesstoken.Store].
func (s *Store) ByDigest(ctx context.Context, d accesstoken.Digest) (*accesstoken.Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	e, ok := s.byDigest[d]
	if !ok {
		return nil, accesstoken.ErrNotFound
	}
	return e.record(), nil
}

// ByID implements [accesstoken.Store].
func (s *Store) ByID(ctx context.Context, id uuid.UUID) (*accesstoken.Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	e, ok := s.byID[id]
	if !ok {
		return nil, accesstoken.ErrNotFound
	}
	return e.record(), nil
}

// List implements [accesstoken.Store].
func (s *Store) List(ctx context.Context, q accesstoken.Query) ([]*accesstoken.Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	var candidates []*entry
	match := func(*entry) bool { return true }
	switch {
	case q.Target != nil:
		t := *q.Target
		candidates = s.byProject[t.Project]
		match = func(e *entry) bool {
			if e.repository == t.Repository {
				return true
			}
			return q.Covering && e.repository == "" && t.Project != ""
		}
	case q.Owner != "":
		candidates = s.byOwner[q.Owner]
	}
	active := micros(q.Active)
	out := []*accesstoken.Record{}
	for _, e := range candidates {
		if !match(e) {
			continue
		}
		if active != zeroTime && (e.revoked != zeroTime || (e.expires != zeroTime && e.expires <= active)) {
			continue
		}
		out = append(out, e.record())
	}
	slices.SortFunc(out, func(a, b *accesstoken.Record) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return bytes.Compare(a.ID[:], b.ID[:])
	})
	return out, nil
}

// Revoke implements [accesstoken.Store].
func (s *Store) Revoke(ctx context.Context, id uuid.UUID, at time.Time, by string) (*accesstoken.Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.byID[id]
	if !ok {
		return nil, accesstoken.ErrNotFound
	}
	if e.revoked == zeroTime {
		e.revoked, e.revokedBy = micros(at), by
	}
	return e.record(), nil
}

// Rotate implements [accesstoken.Store].
func (s *Store) Rotate(ctx context.Context, oldID uuid.UUID, at time.Time, by string, next *accesstoken.Record) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.byID[oldID]
	if !ok {
		return accesstoken.ErrNotFound
	}
	if e.revoked != zeroTime {
		return accesstoken.ErrRevoked
	}
	if err := s.insertLocked(next); err != nil {
		return err
	}
	e.revoked, e.revokedBy, e.replacedBy = micros(at), by, next.ID
	return nil
}

// TouchLastUsed implements [accesstoken.Store]. It takes only the read lock
// and a compare-and-swap, so it never waits on other touches.
func (s *Store) TouchLastUsed(ctx context.Context, id uuid.UUID, at time.Time, interval time.Duration) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	s.mu.RLock()
	e, ok := s.byID[id]
	s.mu.RUnlock()
	if !ok {
		return false, nil
	}
	now := micros(at)
	// Times are whole microseconds, so "at least interval older" is at
	// least interval rounded up to a whole microsecond.
	minGap := (interval + time.Microsecond - 1) / time.Microsecond
	for {
		last := e.lastUsed.Load()
		if last != zeroTime && now-last < int64(minGap) {
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
	doomed := func(e *entry) bool { return t.IsProject() || e.repository == t.Repository }
	n := 0
	keep := s.byProject[t.Project][:0]
	for _, e := range s.byProject[t.Project] {
		if !doomed(e) {
			keep = append(keep, e)
			continue
		}
		n++
		delete(s.byDigest, e.digest)
		delete(s.byID, e.id)
		s.byOwner[e.owner] = slices.DeleteFunc(s.byOwner[e.owner], func(x *entry) bool { return x == e })
		if len(s.byOwner[e.owner]) == 0 {
			delete(s.byOwner, e.owner)
		}
	}
	clear(s.byProject[t.Project][len(keep):])
	if len(keep) == 0 {
		delete(s.byProject, t.Project)
	} else {
		s.byProject[t.Project] = keep
	}
	return n, nil
}

// Len returns the number of tokens held, revoked and expired ones included.
func (s *Store) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.byID)
}
