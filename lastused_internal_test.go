package accesstoken

import (
	"testing"

	"github.com/google/uuid"
)

// TestLastUseSlotsSpread: the slots of recent are chosen by random bits of
// token IDs (version 4 and version 7), so tokens use all of them: 40,960
// IDs land in nearly every one of the 4,096 (a choice that took the
// variant's fixed bits used a quarter of them).
func TestLastUseSlotsSpread(t *testing.T) {
	q := newLastUseWriter(nil, 0)
	for _, gen := range []struct {
		name string
		id   func() uuid.UUID
	}{{"v4", uuid.New}, {"v7", func() uuid.UUID { return uuid.Must(uuid.NewV7()) }}} {
		used := map[any]bool{}
		for range 10 * recentSlots {
			used[q.slot(gen.id())] = true
		}
		if len(used) < recentSlots*9/10 {
			t.Errorf("%s: %d of %d slots used by %d IDs", gen.name, len(used), recentSlots, 10*recentSlots)
		}
	}
}
