package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/forgekit/accesstoken"
)

// Retention: as Launchpad and GitLab do, the forge keeps the records of
// revoked and expired tokens a while (their lists, who revoked them and
// why, the links between rotated tokens), then lets them go; the token
// activity goes after the same time. serve's -token-retention sets it
// (90 days by default; 0 keeps everything).

const defaultRetention = "90d"

// retentionEvery is how often the forge deletes what is past retention:
// at start, then daily.
const retentionEvery = 24 * time.Hour

// runRetention deletes, at once and then every retentionEvery until ctx
// ends, the records of tokens revoked or expired more than age ago
// (Manager.DeleteInactive) and the token activity older than age. Every
// forge process sharing a database does it; the deletions are the same.
func runRetention(ctx context.Context, m *accesstoken.Manager, db *DB, age time.Duration, log *slog.Logger) {
	t := time.NewTicker(retentionEvery)
	defer t.Stop()
	for {
		purge(ctx, m, db, age, log)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// purge deletes once what is past retention.
func purge(ctx context.Context, m *accesstoken.Manager, db *DB, age time.Duration, log *slog.Logger) {
	toks, err := m.DeleteInactive(ctx, age)
	if err != nil && ctx.Err() == nil {
		log.Error("retention: deleting the records of old revoked and expired tokens", "err", err)
	}
	evs, err := db.DeleteEventsBefore(ctx, time.Now().Add(-age))
	if err != nil && ctx.Err() == nil {
		log.Error("retention: deleting old token activity", "err", err)
	}
	if ctx.Err() == nil {
		log.Info("retention: deleted what is older than "+lifetimeText(age), "token_records", toks, "activity_rows", evs)
	}
}

// DeleteEventsBefore deletes the token activity whose last event was
// before t, and returns how many rows it deleted.
func (d *DB) DeleteEventsBefore(ctx context.Context, t time.Time) (int64, error) {
	res, err := d.exec(ctx, `DELETE FROM forge_token_events WHERE last_at < ?`, t.UnixMicro())
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
