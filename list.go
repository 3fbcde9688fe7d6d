package accesstoken

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// State selects tokens by state in a listing ([ListOptions]).
type State uint8

// The states a listing selects. The zero value is StateActive.
const (
	// StateActive lists tokens neither revoked nor expired: the default,
	// as on Launchpad's token pages.
	StateActive State = iota
	// StateInactive lists tokens revoked or expired.
	StateInactive
	// StateAll lists every token.
	StateAll
)

// String returns "active", "inactive" or "all".
func (s State) String() string {
	switch s {
	case StateActive:
		return "active"
	case StateInactive:
		return "inactive"
	case StateAll:
		return "all"
	}
	return fmt.Sprintf("State(%d)", uint8(s))
}

// Page sizes.
const (
	// DefaultPageSize is the page size of the paginated listings when
	// [ListOptions].Limit is zero.
	DefaultPageSize = 100
	// MaxPageSize is the largest [ListOptions].Limit accepted.
	MaxPageSize = 1000
)

// ListOptions refines a listing: which tokens, in which order, and which
// page of them. The zero value lists active tokens, oldest first, from the
// first.
type ListOptions struct {
	// IncludeInactive also lists revoked and expired tokens: the same as
	// State StateAll. (It predates State; with State set too, State
	// applies.)
	IncludeInactive bool
	// State selects active tokens (the default), inactive ones (revoked
	// or expired) or all of them, at the time of the call.
	State State
	// ExpiringBefore, when not zero, lists only tokens that expire before
	// it (never-expiring tokens are left out): with StateActive, the
	// tokens to warn about ("your token expires in 7 days").
	ExpiringBefore time.Time
	// Limit is the largest number of tokens returned, at most
	// [MaxPageSize]. Zero means [DefaultPageSize] for the Page methods,
	// and no limit for ListForOwner and ListForTarget.
	Limit int
	// Order is the order of the tokens: [OldestFirst] (the zero value)
	// or [NewestFirst]. Pages of either order are ranges of the store's
	// indexes, read forwards or backwards: they cost the same.
	Order Order
	// Cursor, when not empty, is a [Page]'s Next: the listing goes on
	// after the last token of that page, in the same order. It is
	// opaque, and valid with the same listing only: a cursor of a page
	// listed in the other Order is refused with an error matching
	// [ErrBadListOptions] (and [ErrInvalidInput]), never read as a
	// position in this one.
	Cursor string
}

// Page is one page of a listing: its tokens, in the order asked
// ([ListOptions].Order, oldest first by default), and the cursor of the
// next page.
type Page struct {
	// Tokens are the page's tokens. They never hold secrets.
	Tokens []Token
	// Next is the Cursor of the next page ([ListOptions]), or "" when
	// this page is the last.
	Next string
}

// TokenFilter selects tokens for [Manager.PageAll], an operator's listing
// of every token: each field that is set must match.
type TokenFilter struct {
	// Owner, when not empty, selects one user's tokens.
	Owner string
	// Target, when not nil, selects the tokens of exactly this target.
	Target *Target
	// Covering, with a repository Target, also selects the project tokens
	// that cover it.
	Covering bool
}

// ListForTarget lists the tokens of target, oldest first (or as
// opts.Order says), if actor may manage them. For a repository target it also lists the project tokens that
// cover the repository (each with its own Target), as Launchpad's
// repository page does. It never returns secrets; there are none to return.
// opts selects the tokens and the page; without a Limit it lists every
// token selected (use [Manager.PageForTarget] to page through many).
func (m *Manager) ListForTarget(ctx context.Context, actor string, target Target, opts ListOptions) ([]Token, error) {
	p, err := m.pageForTarget(ctx, actor, target, opts, false)
	return p.Tokens, err
}

// PageForTarget is [Manager.ListForTarget] one page at a time: it returns
// at most opts.Limit tokens ([DefaultPageSize] if zero) and the cursor of
// the next page.
func (m *Manager) PageForTarget(ctx context.Context, actor string, target Target, opts ListOptions) (Page, error) {
	return m.pageForTarget(ctx, actor, target, opts, true)
}

func (m *Manager) pageForTarget(ctx context.Context, actor string, target Target, opts ListOptions, paged bool) (Page, error) {
	if err := target.Validate(); err != nil {
		return Page{}, err
	}
	if err := m.mayManage(ctx, actor, target); err != nil {
		return Page{}, err
	}
	return m.page(ctx, Query{Target: &target, Covering: !target.IsProject()}, opts, paged)
}

// ListForOwner lists the tokens owned by owner, oldest first (or as
// opts.Order says), for the owner's own settings page. The caller checks that the signed-in user is
// owner (or an administrator). opts selects the tokens and the page;
// without a Limit it lists every token selected (use
// [Manager.PageForOwner] to page through many).
func (m *Manager) ListForOwner(ctx context.Context, owner string, opts ListOptions) ([]Token, error) {
	p, err := m.pageForOwner(ctx, owner, opts, false)
	return p.Tokens, err
}

// PageForOwner is [Manager.ListForOwner] one page at a time: it returns at
// most opts.Limit tokens ([DefaultPageSize] if zero) and the cursor of the
// next page.
func (m *Manager) PageForOwner(ctx context.Context, owner string, opts ListOptions) (Page, error) {
	return m.pageForOwner(ctx, owner, opts, true)
}

func (m *Manager) pageForOwner(ctx context.Context, owner string, opts ListOptions, paged bool) (Page, error) {
	if err := checkOwner("owner", owner); err != nil {
		return Page{}, err
	}
	return m.page(ctx, Query{Owner: owner}, opts, paged)
}

// PageAll lists every token that f selects, one page at a time, for a
// forge's administration page: oldest first (or as opts.Order says), at
// most opts.Limit tokens ([DefaultPageSize] if zero), and the cursor of
// the next page. It checks no permission: the forge calls it for its
// operators only.
func (m *Manager) PageAll(ctx context.Context, f TokenFilter, opts ListOptions) (Page, error) {
	q := Query{All: true}
	if f.Owner != "" {
		if err := checkName(ErrBadOwner, "owner", f.Owner, false); err != nil {
			return Page{}, err
		}
		q.Owner = f.Owner
	}
	if f.Target != nil {
		t := *f.Target
		if err := t.Validate(); err != nil {
			return Page{}, err
		}
		q.Target, q.Covering = &t, f.Covering
	}
	return m.page(ctx, q, opts, true)
}

// page runs q with opts: paged for the Page methods (a default limit, and
// one record more than the page, to know whether another follows).
func (m *Manager) page(ctx context.Context, q Query, opts ListOptions, paged bool) (Page, error) {
	state := opts.State
	if opts.IncludeInactive && state == StateActive {
		state = StateAll
	}
	switch state {
	case StateActive:
		q.Active = m.clock()
	case StateInactive:
		q.Inactive = m.clock()
	case StateAll:
	default:
		return Page{}, invalid(ErrBadListOptions, "unknown state "+state.String())
	}
	switch opts.Order {
	case OldestFirst, NewestFirst:
		q.Order = opts.Order
	default:
		return Page{}, invalid(ErrBadListOptions, "unknown order "+opts.Order.String())
	}
	if !opts.ExpiringBefore.IsZero() {
		q.ExpiringBefore = opts.ExpiringBefore.UTC().Truncate(time.Microsecond)
	}
	limit := opts.Limit
	switch {
	case limit < 0 || limit > MaxPageSize:
		return Page{}, invalid(ErrBadListOptions, fmt.Sprintf("limit %d out of range: want 0 to %d", limit, MaxPageSize))
	case limit == 0 && paged:
		limit = DefaultPageSize
	}
	if opts.Cursor != "" {
		after, err := parseCursor(opts.Cursor, q.Order)
		if err != nil {
			return Page{}, err
		}
		q.After = after
	}
	if limit > 0 {
		q.Limit = limit + 1
	}
	recs, err := m.store.List(ctx, q)
	if err != nil {
		return Page{}, storeErr(err)
	}
	if err := checkListed(recs, &q); err != nil {
		return Page{}, storeErr(err)
	}
	var p Page
	if limit > 0 && len(recs) > limit {
		recs = recs[:limit]
		p.Next = cursorOf(PositionOf(recs[limit-1].Token), q.Order)
	}
	p.Tokens = make([]Token, len(recs))
	for i := range recs {
		p.Tokens[i] = recs[i].Token
	}
	return p, nil
}

// checkListed checks that a Store listed recs as q asks: no more than
// q.Limit, each after q.After and after the one before in q.Order. A
// store that does not (one written before [Query].Order, which lists
// oldest first whatever the order asked) would make cursors that skip
// tokens or come back to them; its answer is a store failure, not a page.
func checkListed(recs []Record, q *Query) error {
	if q.Limit > 0 && len(recs) > q.Limit {
		return fmt.Errorf("accesstoken: the store listed %d records; the limit was %d", len(recs), q.Limit)
	}
	prev := q.After
	for i := range recs {
		p := PositionOf(recs[i].Token)
		if (i > 0 || !prev.IsZero()) && !q.Order.before(prev, p) {
			return fmt.Errorf("accesstoken: the store listed record %d of %d out of the order asked (%v)", i+1, len(recs), q.Order)
		}
		prev = p
	}
	return nil
}

// A cursor is a Position and the order it was made for: a kind byte (1
// for oldest first, the only kind of the cursors made before orders, which
// stay valid; 2 for newest first), the creation time in Unix microseconds
// (8 bytes, big-endian) and the ID (16 bytes), in unpadded base64url. It
// says no more than the token it points at, which its holder has seen.
const (
	cursorOldestFirst = 1
	cursorNewestFirst = 2
)

func cursorKind(o Order) byte {
	if o == NewestFirst {
		return cursorNewestFirst
	}
	return cursorOldestFirst
}

func cursorOf(p Position, o Order) string {
	var b [25]byte
	b[0] = cursorKind(o)
	binary.BigEndian.PutUint64(b[1:9], uint64(p.CreatedAt.UnixMicro()))
	copy(b[9:], p.ID[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// parseCursor returns the position of a cursor made for a listing in
// order o; a cursor made for the other order is refused, as is one no
// listing made.
func parseCursor(s string, o Order) (Position, error) {
	var b [25]byte
	if base64.RawURLEncoding.DecodedLen(len(s)) != len(b) {
		return Position{}, invalid(ErrBadListOptions, "malformed cursor")
	}
	if _, err := base64.RawURLEncoding.Decode(b[:], []byte(s)); err != nil {
		return Position{}, invalid(ErrBadListOptions, "malformed cursor")
	}
	switch b[0] {
	case cursorKind(o):
	case cursorOldestFirst, cursorNewestFirst:
		made := OldestFirst
		if b[0] == cursorNewestFirst {
			made = NewestFirst
		}
		return Position{}, invalid(ErrBadListOptions, fmt.Sprintf("the cursor is of a listing %v, not %v: a cursor goes on in the order of its listing", made, o))
	default:
		return Position{}, invalid(ErrBadListOptions, "malformed cursor")
	}
	var id uuid.UUID
	copy(id[:], b[9:])
	us := int64(binary.BigEndian.Uint64(b[1:9]))
	if id == uuid.Nil || time.UnixMicro(us).Year() > 9999 {
		return Position{}, invalid(ErrBadListOptions, "malformed cursor")
	}
	return Position{CreatedAt: time.UnixMicro(us).UTC(), ID: id}, nil
}
