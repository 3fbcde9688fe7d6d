package accesstoken

import (
	"context"
	"log/slog"
	"time"

	"github.com/google/uuid"
)

// EventKind says what happened to a token.
type EventKind string

// The kinds of [Event].
const (
	EventIssued   EventKind = "issued"
	EventRevoked  EventKind = "revoked"
	EventRotated  EventKind = "rotated"
	EventDeleted  EventKind = "deleted"
	EventUsed     EventKind = "used"
	EventRejected EventKind = "rejected"
	// EventPurged is [Manager.DeleteInactive]'s: records of inactive
	// tokens deleted after their retention.
	EventPurged EventKind = "purged"
)

// Event is one entry of the audit trail passed to the function set with
// [WithEvents]. It never holds a secret or a digest.
type Event struct {
	// Kind says what happened.
	Kind EventKind
	// Time is when, by the Manager's clock.
	Time time.Time
	// TokenID is the token concerned; [uuid.Nil] when a rejected secret
	// matched no token, and for EventDeleted and EventPurged.
	TokenID uuid.UUID
	// ReplacedBy is the new token's ID, for EventRotated.
	ReplacedBy uuid.UUID
	// Owner is the token's owner, when known.
	Owner string
	// Actor is who issued, revoked or rotated the token: a user, or a
	// system actor ([SystemActor]).
	Actor string
	// Reason is why the token was revoked, for EventRevoked, when the
	// revoker said.
	Reason string
	// Target is the token's target, or the deleted target.
	Target Target
	// Resource is what a used or rejected token was presented for.
	Resource Resource
	// Scope is the scope it was presented for: for VerifyAny and
	// VerifyAll, the one that decided (granted, or refused).
	Scope Scope
	// Err is why a token was rejected.
	Err error
	// Count is how many tokens EventDeleted or EventPurged deleted.
	Count int
}

// SlogEvents returns an event function for [WithEvents] that logs every
// event to l: rejections at Warn, uses at Debug, the rest at Info.
func SlogEvents(l *slog.Logger) func(context.Context, Event) {
	return func(ctx context.Context, ev Event) {
		level := slog.LevelInfo
		switch ev.Kind {
		case EventUsed:
			level = slog.LevelDebug
		case EventRejected:
			level = slog.LevelWarn
		}
		if !l.Enabled(ctx, level) {
			return
		}
		attrs := []slog.Attr{slog.String("event", string(ev.Kind))}
		if ev.TokenID != uuid.Nil {
			attrs = append(attrs, slog.String("token_id", ev.TokenID.String()))
		}
		if ev.ReplacedBy != uuid.Nil {
			attrs = append(attrs, slog.String("replaced_by", ev.ReplacedBy.String()))
		}
		if ev.Owner != "" {
			attrs = append(attrs, slog.String("owner", ev.Owner))
		}
		if ev.Actor != "" {
			attrs = append(attrs, slog.String("actor", ev.Actor))
		}
		if ev.Target != (Target{}) {
			attrs = append(attrs, slog.String("target", ev.Target.String()))
		}
		if ev.Resource != (Resource{}) {
			attrs = append(attrs, slog.String("resource", ev.Resource.String()), slog.String("scope", string(ev.Scope)))
		}
		if ev.Err != nil {
			attrs = append(attrs, slog.String("reason", ev.Err.Error()))
		}
		if ev.Reason != "" {
			attrs = append(attrs, slog.String("revocation_reason", ev.Reason))
		}
		if ev.Kind == EventDeleted || ev.Kind == EventPurged {
			attrs = append(attrs, slog.Int("count", ev.Count))
		}
		l.LogAttrs(ctx, level, "access token "+string(ev.Kind), attrs...)
	}
}
