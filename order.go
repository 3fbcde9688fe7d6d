package accesstoken

import (
	"bytes"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// Order is the order of a listing ([ListOptions], [Query]): by creation
// time, then, among tokens created in the same microsecond, by the bytes
// of the ID.
type Order uint8

// The orders of a listing. The zero value is OldestFirst.
const (
	// OldestFirst lists the oldest token first: by CreatedAt, then by
	// the bytes of ID, ascending. It is the default, and the only order
	// there was before Order.
	OldestFirst Order = iota
	// NewestFirst lists the newest token first, as GitHub and GitLab
	// list tokens: exactly the reverse of OldestFirst (the latest
	// CreatedAt first, and among equal ones the greatest ID first).
	NewestFirst
)

// String returns "oldest first" or "newest first".
func (o Order) String() string {
	switch o {
	case OldestFirst:
		return "oldest first"
	case NewestFirst:
		return "newest first"
	}
	return fmt.Sprintf("Order(%d)", uint8(o))
}

// Position is a place in the order of [Store.List]: a record's CreatedAt
// and ID. The zero Position, as [Query].After, is before every record in
// either order (it leaves nothing out).
type Position struct {
	// CreatedAt is the record's creation time.
	CreatedAt time.Time
	// ID is the record's ID, which orders records created at the same
	// time (by its bytes).
	ID uuid.UUID
}

// IsZero reports whether p is the zero Position.
func (p Position) IsZero() bool { return p.ID == uuid.Nil && p.CreatedAt.IsZero() }

// PositionOf returns the position of the record of tok.
func PositionOf(tok Token) Position { return Position{CreatedAt: tok.CreatedAt, ID: tok.ID} }

// before reports whether a comes before b in lists of order o.
func (o Order) before(a, b Position) bool {
	c := a.CreatedAt.Compare(b.CreatedAt)
	if c == 0 {
		c = bytes.Compare(a.ID[:], b.ID[:])
	}
	if o == NewestFirst {
		return c > 0
	}
	return c < 0
}
