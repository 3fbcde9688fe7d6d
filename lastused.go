package accesstoken

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"
)

// LastUsedDelay is how long, at most, a use that is due to be recorded
// waits in memory before the Manager writes it to the [Store]: a token's
// last-used time reaches the store about a second after the verification
// that set it (or at [Manager.Flush]).
const LastUsedDelay = time.Second

// lastUsedWriteTimeout bounds one background last-used write, so that a
// store that hangs holds up nothing but its own writer, and not for ever.
const lastUsedWriteTimeout = 30 * time.Second

// lastUse records last uses off the verification path. Verify notes that a
// token was used (a map insert, once per token per interval); a goroutine
// writes the noted uses to the store a little later, one conditional
// [Store.TouchLastUsed] each, waiting for the store as long as it takes.
// So a verification never waits for a write (on SQLite a write needs the
// database's one write lock, which under load takes longer than anyone
// should hold a request for), and a write is never given up because a
// request had to be answered: the conditional write makes sure that
// exactly one lands per token and interval, across every instance that
// shares the store.
//
// The goroutine runs only while there is something to write: it starts
// with the first use noted and exits when a round finds nothing new.
type lastUse struct {
	mu      sync.Mutex
	pending map[uuid.UUID]time.Time // noted, not yet being written
	writing map[uuid.UUID]time.Time // the batch being written now
	running bool                    // a writer goroutine is on its way

	batch chan struct{} // holds a token while a batch is written: one at a time
}

// note records that the token id was used at, for writing soon. It never
// blocks on the store, only on a mutex held for map operations.
func (m *Manager) note(id uuid.UUID, at time.Time) {
	q := &m.lastUse
	q.mu.Lock()
	if _, ok := q.pending[id]; !ok {
		if _, ok := q.writing[id]; !ok {
			if q.pending == nil {
				q.pending = make(map[uuid.UUID]time.Time)
			}
			q.pending[id] = at
			if !q.running {
				q.running = true
				go m.writeLastUseLoop()
			}
		}
	}
	q.mu.Unlock()
}

// writeLastUseLoop writes what was noted every LastUsedDelay, until a round
// leaves nothing pending.
func (m *Manager) writeLastUseLoop() {
	q := &m.lastUse
	t := time.NewTimer(LastUsedDelay)
	defer t.Stop()
	for {
		<-t.C
		_ = m.writeLastUse(context.Background())
		q.mu.Lock()
		if len(q.pending) == 0 {
			q.running = false
			q.mu.Unlock()
			return
		}
		q.mu.Unlock()
		t.Reset(LastUsedDelay)
	}
}

// writeLastUse writes the pending uses, one store call each, and returns
// the errors of those that failed, joined. A failed write is dropped: the
// stored record still says the token is due, so its next verification
// notes it again.
func (m *Manager) writeLastUse(ctx context.Context) error {
	q := &m.lastUse
	select {
	case q.batch <- struct{}{}:
	case <-ctx.Done():
		return storeErr(ctx.Err())
	}
	defer func() { <-q.batch }()
	q.mu.Lock()
	batch := q.pending // read-only from here: note reads it as q.writing
	q.pending, q.writing = nil, batch
	q.mu.Unlock()
	ids := make([]uuid.UUID, 0, len(batch))
	for id := range batch {
		ids = append(ids, id)
	}
	var errs []error
	done := 0
	for _, id := range ids {
		if ctx.Err() != nil {
			break
		}
		wctx, cancel := context.WithTimeout(ctx, lastUsedWriteTimeout)
		_, err := m.store.TouchLastUsed(wctx, id, batch[id], m.interval)
		cancel()
		done++
		if err != nil {
			errs = append(errs, fmt.Errorf("%w: last use of token %s: %w", ErrStoreFailure, id, err))
		}
	}
	q.mu.Lock()
	q.writing = nil
	if err := ctx.Err(); err != nil {
		// Put back what is left, for the next round.
		for _, id := range ids[done:] {
			if _, ok := q.pending[id]; !ok {
				if q.pending == nil {
					q.pending = make(map[uuid.UUID]time.Time, len(ids)-done)
				}
				q.pending[id] = batch[id]
			}
		}
		errs = append(errs, storeErr(err))
		if len(q.pending) > 0 && !q.running {
			q.running = true
			go m.writeLastUseLoop()
		}
	}
	q.mu.Unlock()
	return errors.Join(errs...)
}

// Flush writes to the store, now, the last uses that verifications noted
// and that are waiting (see [LastUsedDelay]), and waits until any write in
// progress is done. Call it when the forge shuts down, after its HTTP
// server has stopped, so that no recorded use is lost; it is safe to call
// at any time and from any goroutine, and the Manager stays usable.
//
// It returns nil when everything was written, or the errors of the writes
// that failed (matching [ErrStoreFailure]); when ctx ends first, what is
// left stays queued and the error matches ctx's error too.
func (m *Manager) Flush(ctx context.Context) error {
	return m.writeLastUse(ctx)
}
