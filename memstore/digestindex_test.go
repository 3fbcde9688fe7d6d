package memstore

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"

	"github.com/forgekit/accesstoken"
)

// TestDigestIndex checks the table against a map through random inserts
// and removals, with keys crowded into few home entries (so runs are long
// and wrap around the end) and keys shared by several digests.
func TestDigestIndex(t *testing.T) {
	for _, keys := range []uint64{1, 3, 64, 1 << 40} {
		rng := rand.New(rand.NewPCG(keys, 7))
		var x digestIndex
		var slots []slot
		want := map[accesstoken.Digest]uint32{}
		var live []uint32
		check := func(step int) {
			t.Helper()
			if x.n != len(want) {
				t.Fatalf("keys %d, step %d: n = %d; want %d", keys, step, x.n, len(want))
			}
			for d, i := range want {
				if got, ok := x.lookup(&d, slots); !ok || got != i {
					t.Fatalf("keys %d, step %d: lookup(slot %d) = %d, %v", keys, step, i, got, ok)
				}
			}
			var absent accesstoken.Digest
			binary.LittleEndian.PutUint64(absent[:8], rng.Uint64N(keys))
			absent[31] = 0xff // the inserted ones never have this
			if _, ok := x.lookup(&absent, slots); ok {
				t.Fatalf("keys %d, step %d: found a digest never inserted", keys, step)
			}
		}
		for step := range 3000 {
			if len(live) > 0 && rng.IntN(3) == 0 {
				k := rng.IntN(len(live))
				i := live[k]
				live[k] = live[len(live)-1]
				live = live[:len(live)-1]
				x.remove(&slots[i].digest, i)
				delete(want, slots[i].digest)
			} else {
				var d accesstoken.Digest
				binary.LittleEndian.PutUint64(d[:8], rng.Uint64N(keys))
				binary.LittleEndian.PutUint64(d[8:], uint64(step))
				i := uint32(len(slots))
				slots = append(slots, slot{digest: d})
				x.add(&d, i)
				want[d] = i
				live = append(live, i)
			}
			if step%97 == 0 {
				check(step)
			}
		}
		check(-1)
		for _, i := range live {
			x.remove(&slots[i].digest, i)
			delete(want, slots[i].digest)
		}
		check(-2)
		for _, e := range x.entries {
			if e.slot != 0 {
				t.Fatalf("keys %d: entry left after removing everything", keys)
			}
		}
	}
}

// TestDigestIndexSpreadsStructuredKeys checks that keys that are not
// random (counters, in either byte order, as test data has) still spread
// over the table: no entry ends up far from its home.
func TestDigestIndexSpreadsStructuredKeys(t *testing.T) {
	for _, order := range []binary.ByteOrder{binary.LittleEndian, binary.BigEndian} {
		var x digestIndex
		slots := make([]slot, 1<<16)
		for i := range slots {
			order.PutUint64(slots[i].digest[:8], uint64(i))
			x.add(&slots[i].digest, uint32(i))
		}
		mask := uint64(len(x.entries) - 1)
		longest := uint64(0)
		for j, e := range x.entries {
			if e.slot != 0 {
				longest = max(longest, (uint64(j)-x.home(e.key))&mask)
			}
		}
		if longest > 64 {
			t.Errorf("%v counters: an entry is %d places from its home; want a few", order, longest)
		}
	}
}
