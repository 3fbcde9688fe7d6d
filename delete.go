package accesstoken

import (
	"context"
	"time"
)

// DeleteTarget deletes every token of a repository or project that the
// forge deleted (for a project, its repository tokens too), so that a new
// repository or project that reuses the identity does not inherit them. It
// returns how many it deleted. It checks no permission: the forge calls it
// from its own deletion code.
func (m *Manager) DeleteTarget(ctx context.Context, target Target) (int, error) {
	if err := target.Validate(); err != nil {
		return 0, err
	}
	n, err := m.store.DeleteTarget(ctx, target)
	if err != nil {
		return n, storeErr(err)
	}
	m.emit(ctx, Event{Kind: EventDeleted, Target: target, Count: n})
	return n, nil
}

// DeleteInactive deletes the records of tokens revoked or expired more
// than olderThan ago, and returns how many it deleted: Launchpad and
// GitLab keep such records for a while (for the audit trail and the "last
// used" of old tokens), then let them go. A forge runs it daily, say with
// 30 or 90 days. Active tokens are never deleted. olderThan must not be
// negative ([ErrInvalidInput]). It checks no permission; a deletion is an
// [EventPurged] with the count.
func (m *Manager) DeleteInactive(ctx context.Context, olderThan time.Duration) (int, error) {
	if olderThan < 0 {
		return 0, invalid(ErrInvalidInput, "negative age")
	}
	n, err := m.store.DeleteInactive(ctx, m.clock().Add(-olderThan))
	if err != nil {
		return n, storeErr(err)
	}
	m.emit(ctx, Event{Kind: EventPurged, Count: n})
	return n, nil
}
