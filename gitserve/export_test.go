package gitserve

// SetMaxPackInMemory sets the largest quarantine pack that push
// protection reads in-process (beyond it, git reads the push), and returns
// the function that restores it.
func SetMaxPackInMemory(n int64) (restore func()) {
	old := maxPackInMemory.Swap(n)
	return func() { maxPackInMemory.Store(old) }
}
