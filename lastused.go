package accesstoken

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
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

// lastUseWriter records last uses off the verification path. Verify notes that a
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
type lastUseWriter struct {
	store    Store
	interval time.Duration // WithLastUsedInterval's; negative: record nothing

	mu      sync.Mutex
	pending map[uuid.UUID]time.Time // noted, not yet being written
	writing map[uuid.UUID]time.Time // the batch being written now
	running bool                    // a writer goroutine is on its way

	batch chan struct{} // holds a token while a batch is written: one at a time

	// recent holds, in a slot chosen by a token's ID, the last use noted
	// for a token: until its write lands, the stored record still says
	// the token is due, and every verification of it would take the
	// mutex to find it noted already; with recent, it is an atomic load
	// and a comparison. A slot holds one token at a time (another token
	// in the same slot just takes the mutex), and a write that did not
	// land (it failed, or the store had a use within the interval
	// already, from another instance or an earlier note) empties its
	// token's slot, so that the next verification that finds the stored
	// record due notes it again.
	recent [recentSlots]atomic.Pointer[notedUse]
}

// recentSlots is the number of slots of lastUseWriter.recent (8 bytes
// each, 32 KiB a Manager). Tokens noted within one LastUsedDelay beyond
// about that many share slots, and those that do take the mutex.
const recentSlots = 4096

// notedUse is a use noted for writing.
type notedUse struct {
	id uuid.UUID
	at time.Time
}

func newLastUseWriter(store Store, interval time.Duration) *lastUseWriter {
	return &lastUseWriter{store: store, interval: interval, batch: make(chan struct{}, 1)}
}

// slot returns the slot of recent for the token id: the low bits of its
// last bytes, which are random in version 4 and version 7 UUIDs alike
// (byte 8 begins with the variant's fixed bits).
func (q *lastUseWriter) slot(id uuid.UUID) *atomic.Pointer[notedUse] {
	return &q.recent[binary.BigEndian.Uint64(id[8:])%recentSlots]
}

// touch notes that tok was used at now, if it was not within the
// interval, and sets its LastUsedAt. The store is written a little later,
// by another goroutine: a verification never waits for it, and a failed
// write never fails a verification.
func (q *lastUseWriter) touch(tok *Token, now time.Time) {
	// now.Before(last.Add(interval)) is now.Sub(last) < interval, without
	// Sub's check for an overflow, which cost a verification 3 %.
	if q.interval < 0 || (!tok.LastUsedAt.IsZero() && now.Before(tok.LastUsedAt.Add(q.interval))) {
		return
	}
	if n := q.slot(tok.ID).Load(); n == nil || n.id != tok.ID || !now.Before(n.at.Add(q.interval)) {
		q.note(tok.ID, now)
	}
	tok.LastUsedAt = now
}

// note records that the token id was used at, for writing soon. It never
// blocks on the store, only on a mutex held for map operations.
func (q *lastUseWriter) note(id uuid.UUID, at time.Time) {
	q.mu.Lock()
	if _, ok := q.pending[id]; !ok {
		if _, ok := q.writing[id]; !ok {
			if q.pending == nil {
				q.pending = make(map[uuid.UUID]time.Time)
			}
			q.pending[id] = at
			q.slot(id).Store(&notedUse{id: id, at: at})
			if !q.running {
				q.running = true
				go q.loop()
			}
		}
	}
	q.mu.Unlock()
}

// forget empties the slot of recent of the token id, if it holds it.
func (q *lastUseWriter) forget(id uuid.UUID) {
	s := q.slot(id)
	if n := s.Load(); n != nil && n.id == id {
		s.CompareAndSwap(n, nil)
	}
}

// loop writes what was noted every LastUsedDelay, until a round leaves
// nothing pending.
func (q *lastUseWriter) loop() {
	t := time.NewTimer(LastUsedDelay)
	defer t.Stop()
	for {
		<-t.C
		_ = q.write(context.Background())
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

// write writes the pending uses, one store call each, and returns the
// errors of those that failed, joined. A failed write is dropped: the
// stored record still says the token is due, so its next verification
// notes it again. Manager.Flush calls it.
func (q *lastUseWriter) write(ctx context.Context) error {
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
		wrote, err := q.store.TouchLastUsed(wctx, id, batch[id], q.interval)
		cancel()
		done++
		if err != nil || !wrote {
			q.forget(id)
		}
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
			go q.loop()
		}
	}
	q.mu.Unlock()
	return errors.Join(errs...)
}
