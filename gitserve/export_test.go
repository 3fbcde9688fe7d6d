package gitserve

import "time"

// SetMaxPackInMemory sets the largest quarantine pack that push
// protection reads in-process (beyond it, git reads the push), and returns
// the function that restores it.
func SetMaxPackInMemory(n int64) (restore func()) {
	old := maxPackInMemory.Swap(n)
	return func() { maxPackInMemory.Store(old) }
}

// PackCacheFollowing returns how many requests to h are waiting for an
// identical one in flight (0 before h has served anything).
func PackCacheFollowing(h *Handler) int {
	h.once.Do(h.init)
	if h.packs == nil {
		return 0
	}
	h.packs.mu.Lock()
	defer h.packs.mu.Unlock()
	return h.packs.following
}

// SetPackCacheFollowWait sets how long a request to h waits for an
// identical one in flight.
func SetPackCacheFollowWait(h *Handler, d time.Duration) {
	h.once.Do(h.init)
	if h.packs != nil {
		h.packs.followWait = d
	}
}
