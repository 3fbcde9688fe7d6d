package main

import (
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/forgekit/accesstoken"
)

// The token activity of projects: the library's events
// (accesstoken.WithEvents) kept in the forge's database, for the
// project's activity page. Issued, rotated and revoked tokens are written
// at once, within the request that made them. Rejected uses happen on
// git's path, possibly many at a time (a client retrying with a revoked
// token, someone guessing): they are counted in memory and written about
// once a second, and the rejections of one kind (the same token, or
// unknown token, repository, scope and reason) within a minute make one
// row with a count. Uses and deletions are not kept.

// Event kinds as stored.
const (
	evIssued   = "issued"
	evRotated  = "rotated"
	evRevoked  = "revoked"
	evRejected = "rejected"
)

const (
	rejectWindow    = time.Minute
	rejectFlushEach = time.Second
	maxRejectKeys   = 10000
)

// eventLog records events in the database.
type eventLog struct {
	db  *DB
	log *slog.Logger

	mu      sync.Mutex
	pending map[rejectKey]*rejectAgg
	dropped int
	wake    chan struct{}
	stop    chan struct{}
	done    chan struct{}
}

type rejectKey struct {
	project, tokenID, resource, scope, reason string
}

type rejectAgg struct {
	ev      storedEvent
	rowID   string // "" until the row is written
	n       int64  // rejections not written yet
	last    time.Time
	expires time.Time // the window: after it, a new row
}

// storedEvent is a row of forge_token_events.
type storedEvent struct {
	ID                        string
	Project                   string
	At, LastAt                time.Time
	Count                     int64
	Kind                      string
	TokenID, ReplacedBy       string
	Owner, Actor              string
	TargetProject, TargetRepo string
	Resource, Scope           string
	// Reason is why: for a rejection, a code (rejectReason); for a
	// revocation, the revoker's reason, as text (maybe empty).
	Reason string
}

func newEventLog(db *DB, log *slog.Logger) *eventLog {
	return &eventLog{db: db, log: log, pending: map[rejectKey]*rejectAgg{}}
}

// start starts the writer of rejections; close stops it after writing
// what is pending.
func (l *eventLog) start() {
	l.wake, l.stop, l.done = make(chan struct{}, 1), make(chan struct{}), make(chan struct{})
	go func() {
		defer close(l.done)
		t := time.NewTicker(rejectFlushEach)
		defer t.Stop()
		for {
			select {
			case <-t.C:
			case <-l.wake:
			case <-l.stop:
				l.flush(context.Background())
				return
			}
			l.flush(context.Background())
		}
	}()
}

func (l *eventLog) close() {
	if l.stop != nil {
		close(l.stop)
		<-l.done
	}
}

// record is the function for accesstoken.WithEvents.
func (l *eventLog) record(ctx context.Context, ev accesstoken.Event) {
	se := storedEvent{
		At: ev.Time.UTC(), LastAt: ev.Time.UTC(), Count: 1,
		Owner: ev.Owner, Actor: ev.Actor,
		TargetProject: ev.Target.Project, TargetRepo: ev.Target.Repository,
		Resource: ev.Resource.Repository, Scope: string(ev.Scope),
	}
	if ev.TokenID != uuid.Nil {
		se.TokenID = ev.TokenID.String()
	}
	if ev.ReplacedBy != uuid.Nil {
		se.ReplacedBy = ev.ReplacedBy.String()
	}
	switch ev.Kind {
	case accesstoken.EventIssued:
		se.Kind = evIssued
	case accesstoken.EventRotated:
		se.Kind = evRotated
	case accesstoken.EventRevoked:
		se.Kind, se.Reason = evRevoked, ev.Reason // why, if the revoker said
	case accesstoken.EventRejected:
		se.Kind, se.Reason = evRejected, rejectReason(ev.Err)
		// A rejection belongs to the project whose repository it was
		// for; a token checked without a repository, to its own.
		se.Project = ev.Resource.Project
		if se.Project == "" {
			se.Project = ev.Target.Project
		}
		if se.Project == "" || !validName(se.Project) {
			return
		}
		l.reject(se)
		return
	default:
		return // uses and deletions are not kept
	}
	se.Project = ev.Target.Project
	if se.Project == "" {
		return
	}
	se.ID = newEventID()
	// Written within the request, so that the activity page shows it at
	// once; a cancelled request still gets its event written.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := l.db.AddEvent(wctx, se); err != nil {
		l.log.Error("recording a token event", "event", se.Kind, "token_id", se.TokenID, "err", err)
	}
}

// reject counts a rejection, to be written by the writer.
func (l *eventLog) reject(se storedEvent) {
	k := rejectKey{se.Project, se.TokenID, se.Resource, se.Scope, se.Reason}
	l.mu.Lock()
	defer l.mu.Unlock()
	a := l.pending[k]
	if a == nil {
		if len(l.pending) >= maxRejectKeys {
			l.dropped++
			return
		}
		a = &rejectAgg{ev: se, expires: se.At.Add(rejectWindow)}
		l.pending[k] = a
	}
	a.n++
	a.last = se.At
}

// flush writes the counted rejections: a new row for a kind not written
// within its window, a larger count for one that was.
func (l *eventLog) flush(ctx context.Context) {
	l.mu.Lock()
	type work struct {
		k rejectKey
		a rejectAgg
	}
	var todo []work
	now := time.Now()
	for k, a := range l.pending {
		if a.n > 0 {
			todo = append(todo, work{k, *a})
			a.n = 0
		}
		if a.n == 0 && now.After(a.expires) {
			delete(l.pending, k)
		}
	}
	dropped := l.dropped
	l.dropped = 0
	l.mu.Unlock()
	if dropped > 0 {
		l.log.Warn("token rejections not recorded: too many kinds at once", "count", dropped)
	}
	for _, w := range todo {
		var err error
		if w.a.rowID == "" {
			se := w.a.ev
			se.ID, se.Count, se.LastAt = newEventID(), w.a.n, w.a.last
			if err = l.db.AddEvent(ctx, se); err == nil {
				l.mu.Lock()
				if a := l.pending[w.k]; a != nil && a.rowID == "" {
					a.rowID = se.ID
				}
				l.mu.Unlock()
			}
		} else {
			err = l.db.CountEvent(ctx, w.a.rowID, w.a.n, w.a.last)
		}
		if err != nil {
			l.log.Error("recording token rejections", "count", w.a.n, "err", err)
		}
	}
}

// rejectReason names why a token was refused.
func rejectReason(err error) string {
	switch {
	case errors.Is(err, accesstoken.ErrMalformed):
		return "malformed"
	case errors.Is(err, accesstoken.ErrUnknownToken):
		return "unknown"
	case errors.Is(err, accesstoken.ErrRevoked):
		return "revoked"
	case errors.Is(err, accesstoken.ErrExpired):
		return "expired"
	case errors.Is(err, accesstoken.ErrWrongTarget):
		return "wrong_target"
	case errors.Is(err, accesstoken.ErrMissingScope):
		return "missing_scope"
	case errors.Is(err, accesstoken.ErrOwnerDenied):
		return "owner_denied"
	case accesstoken.Temporary(err):
		return "unavailable"
	}
	return "other"
}

// newEventID is a random ID; rows are ordered by time, then ID.
func newEventID() string { return strings.ToLower(rand.Text()) }

// AddEvent stores an event.
func (d *DB) AddEvent(ctx context.Context, e storedEvent) error {
	_, err := d.exec(ctx, `INSERT INTO forge_token_events (id, project, at, last_at, count, kind, token_id, replaced_by,
		owner, actor, target_project, target_repo, resource, scope, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		e.ID, e.Project, e.At.UnixMicro(), e.LastAt.UnixMicro(), e.Count, e.Kind, e.TokenID, e.ReplacedBy,
		e.Owner, e.Actor, e.TargetProject, e.TargetRepo, e.Resource, e.Scope, e.Reason)
	return err
}

// CountEvent adds n rejections, the last at last, to a row.
func (d *DB) CountEvent(ctx context.Context, id string, n int64, last time.Time) error {
	_, err := d.exec(ctx, `UPDATE forge_token_events SET count = count + ?, last_at = ? WHERE id = ?`, n, last.UnixMicro(), id)
	return err
}

// eventCursor is a position in a project's activity, newest first: the
// event at At with ID (inclusive).
type eventCursor struct {
	At int64
	ID string
}

// Events returns up to limit events of project, newest first, starting at
// the cursor (nil for the newest), and the cursor of the next page.
func (d *DB) Events(ctx context.Context, project string, from *eventCursor, limit int) ([]storedEvent, *eventCursor, error) {
	if !validName(project) {
		return nil, nil, nil
	}
	q := `SELECT id, project, at, last_at, count, kind, token_id, replaced_by, owner, actor,
		target_project, target_repo, resource, scope, reason FROM forge_token_events WHERE project = ?`
	args := []any{project}
	if from != nil {
		q += ` AND (at < ? OR (at = ? AND id <= ?))`
		args = append(args, from.At, from.At, from.ID)
	}
	q += ` ORDER BY at DESC, id DESC LIMIT ?`
	args = append(args, limit+1)
	rows, err := d.sql.QueryContext(ctx, d.q(q), args...)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	var out []storedEvent
	for rows.Next() {
		var e storedEvent
		var at, last int64
		if err := rows.Scan(&e.ID, &e.Project, &at, &last, &e.Count, &e.Kind, &e.TokenID, &e.ReplacedBy, &e.Owner, &e.Actor,
			&e.TargetProject, &e.TargetRepo, &e.Resource, &e.Scope, &e.Reason); err != nil {
			return nil, nil, err
		}
		e.At, e.LastAt = time.UnixMicro(at).UTC(), time.UnixMicro(last).UTC()
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, err
	}
	var next *eventCursor
	if len(out) > limit {
		next = &eventCursor{out[limit].At.UnixMicro(), out[limit].ID}
		out = out[:limit]
	}
	return out, next, nil
}
