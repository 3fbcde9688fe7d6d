package memstore

import (
	"encoding/binary"
	"math/bits"

	"github.com/forgekit/accesstoken"
)

// digestIndex maps digests to slots: an open-addressing hash table with
// linear probing, flat in one slice that holds no pointers.
//
// A lookup is the hot path of every verification, and with a million tokens
// neither the table nor the slots are in the CPU's caches: what it costs is
// how many cache lines it touches. Here that is one line of the table (the
// home entry and its neighbours, which linear probing keeps together) and
// then the slot, whose whole digest decides. Go's map takes a few more
// dependent loads (directory, table, control word, key).
//
// The key is the digest's first 8 bytes, uniformly random when the digest
// is a SHA-256; the top bits of the key times an odd constant (Fibonacci
// hashing) choose the home entry, so that keys that are not random (test
// data, say) spread as well. Entries whose keys are
// equal (about one pair in 10^10 at a million tokens) simply both stay in
// the table, and the lookup compares whole digests. Deletion shifts the
// entries that follow back (no tombstones), so the table never degrades.
type digestIndex struct {
	entries []digestEntry // length a power of two, at most half full
	shift   uint          // 64 - log2(len(entries))
	n       int
}

// home returns the entry where a key's probe starts.
func (x *digestIndex) home(key uint64) uint64 { return (key * 0x9e3779b97f4a7c15) >> x.shift }

// digestEntry is one slot of the table; slot is the store slot plus one, so
// that the zero entry is empty.
type digestEntry struct {
	key  uint64
	slot uint32
}

func digestKey(d *accesstoken.Digest) uint64 { return binary.LittleEndian.Uint64(d[:8]) }

// lookup returns the slot whose digest is d, comparing whole digests with
// slots.
func (x *digestIndex) lookup(d *accesstoken.Digest, slots []slot) (uint32, bool) {
	if x.n == 0 {
		return 0, false
	}
	key, mask := digestKey(d), uint64(len(x.entries)-1)
	for i := x.home(key); ; i = (i + 1) & mask {
		e := &x.entries[i]
		if e.slot == 0 {
			return 0, false
		}
		if e.key == key && slots[e.slot-1].digest == *d {
			return e.slot - 1, true
		}
	}
}

// add indexes slot i under digest d, which must not be indexed yet.
func (x *digestIndex) add(d *accesstoken.Digest, i uint32) {
	if 2*(x.n+1) > len(x.entries) {
		x.grow()
	}
	x.put(digestEntry{key: digestKey(d), slot: i + 1})
	x.n++
}

func (x *digestIndex) put(e digestEntry) {
	mask := uint64(len(x.entries) - 1)
	i := x.home(e.key)
	for x.entries[i].slot != 0 {
		i = (i + 1) & mask
	}
	x.entries[i] = e
}

func (x *digestIndex) grow() {
	old := x.entries
	x.entries = make([]digestEntry, max(16, 2*len(old)))
	x.shift = uint(64 - bits.TrailingZeros(uint(len(x.entries))))
	for _, e := range old {
		if e.slot != 0 {
			x.put(e)
		}
	}
}

// remove unindexes slot i, whose digest is d.
func (x *digestIndex) remove(d *accesstoken.Digest, i uint32) {
	if x.n == 0 {
		return
	}
	key, mask := digestKey(d), uint64(len(x.entries)-1)
	hole := x.home(key)
	for x.entries[hole].slot != i+1 {
		if x.entries[hole].slot == 0 {
			return // not indexed
		}
		hole = (hole + 1) & mask
	}
	// Shift back each following entry of the run that may move into the
	// hole: one whose home is not after the hole (cyclically) and before
	// or at its own position.
	for j := (hole + 1) & mask; x.entries[j].slot != 0; j = (j + 1) & mask {
		home := x.home(x.entries[j].key)
		if (j-home)&mask >= (j-hole)&mask {
			x.entries[hole] = x.entries[j]
			hole = j
		}
	}
	x.entries[hole] = digestEntry{}
	x.n--
}
