package accesstoken

import (
	"context"
	"crypto/subtle"
	"encoding/binary"
	"time"

	"github.com/google/uuid"
)

// Digest is the stored form of a secret: SHA-256 of the token string, or
// HMAC-SHA256 keyed with the server-side pepper set by [WithPepper]. The
// plaintext cannot be recovered from it.
type Digest [32]byte

// Record is a token as a [Store] keeps it: the token and the digest of its
// secret.
type Record struct {
	Token
	Digest Digest
}

// Query selects tokens for [Store.List]. Owner and Target filter: a record
// must match every one that is set. A Query that sets neither selects
// nothing, unless All is set: then it selects every record (an operator's
// listing).
type Query struct {
	// Owner, when not empty, selects the tokens owned by this user.
	Owner string
	// Target, when not nil, selects the tokens whose target is exactly
	// Target (a project target selects project tokens only, not the
	// project's repository tokens), unless Covering is set.
	Target *Target
	// Covering, with a repository Target, also selects the project tokens
	// of that repository's project: every token that can be used on the
	// repository. Launchpad's repository page lists these.
	Covering bool
	// All, with neither Owner nor Target, selects every record.
	All bool
	// Active, when not zero, leaves out tokens revoked or expired at that
	// time.
	Active time.Time
	// Inactive, when not zero, leaves out tokens that are neither revoked
	// nor expired at that time. (With Active too, nothing is selected.)
	Inactive time.Time
	// ExpiringBefore, when not zero, leaves out tokens that never expire
	// or expire at or after it.
	ExpiringBefore time.Time
	// Order is the order of the records returned: [OldestFirst] (the
	// zero value) or [NewestFirst]. See [Store.List].
	Order Order
	// After, when not zero, leaves out the tokens up to and including
	// this position in Order (the last record of the previous page):
	// keyset pagination. Oldest first, that is the record at After and
	// every older one; newest first, the record at After and every newer
	// one.
	After Position
	// Limit, when positive, is the largest number of records returned:
	// the first Limit of those selected, in Order.
	Limit int
}

// Revocation says when a token was revoked, by whom and why: by a user or
// by a system actor ([SystemActor]), for a reason that may be empty.
type Revocation struct {
	// At is when the token was revoked.
	At time.Time
	// By is who revoked it: a user's name, or a system actor's.
	By string
	// Reason is why, or empty.
	Reason string
}

// Store keeps tokens. Every method takes a context first and must honour its
// cancellation. All methods must be safe for concurrent use by multiple
// goroutines, and by multiple processes where the store is shared (a
// database): what one caller commits is seen by every later call of any
// caller.
//
// "Not found" is a normal answer, reported with [ErrNotFound]; every other
// error is a system error (the database is down, a query failed, the
// context was cancelled), which [Manager] turns into [ErrStoreFailure] and
// never treats as valid. A Store must not return a token it is unsure of.
//
// Times are stored with at least microsecond precision and returned in UTC;
// [Manager] truncates every time it stores to the microsecond, so a store
// round-trips them exactly. A zero time (never expires, never used, not
// revoked) is stored as such (NULL in SQL) and returned as the zero
// [time.Time].
//
// A record is active at a time t when it is not revoked and does not expire
// at or before t ([Token.Active]).
//
// Records are values, passed and returned by copy; nothing in them is
// shared (a [ScopeSet] is immutable). The conformance suite in package storetest checks
// all of this; run it against any implementation.
type Store interface {
	// Insert stores a new record. It returns an error matching
	// [ErrDuplicate] if a record with the same ID or digest exists, and
	// stores nothing then.
	//
	// Descriptions are unique among an owner's active tokens of a
	// target: when rec is active at rec.CreatedAt and its Description is
	// not empty, Insert returns an error matching
	// [ErrDuplicateDescription], and stores nothing, if another record
	// with the same Owner, Target and Description is active at
	// rec.CreatedAt. The check and the insertion are one atomic step: of
	// concurrent Inserts of such records (from any number of processes,
	// for a shared store), at most one succeeds.
	Insert(ctx context.Context, rec Record) error

	// ByDigest returns the record whose digest is d, whatever its state
	// (revoked and expired records too), or [ErrNotFound].
	ByDigest(ctx context.Context, d Digest) (Record, error)

	// ByID returns the record with the given ID, or [ErrNotFound].
	ByID(ctx context.Context, id uuid.UUID) (Record, error)

	// List returns the records q selects, in q.Order, at most q.Limit
	// when it is positive. [OldestFirst] (the zero value) is by
	// CreatedAt, then by the bytes of ID (unsigned, as bytes.Compare
	// orders them), ascending; [NewestFirst] is exactly the reverse: the
	// latest CreatedAt first, and among records created in the same
	// microsecond the greatest ID first. q.After leaves out the records
	// up to and including it in that order. An Order that is neither is
	// an error (the Manager never asks for one). List returns an empty
	// list, not an error, when nothing matches.
	//
	// A page (q.After and q.Limit) should cost about the same however
	// many records the store holds, in either order: keep records in
	// list order, by owner, by target and in all, so that a page is read
	// from where it starts, forwards for oldest first and backwards for
	// newest first, not found by reading every record. [Manager] checks
	// the order of what List returns and treats a list out of order as
	// a store failure.
	List(ctx context.Context, q Query) ([]Record, error)

	// Revoke marks the record revoked (RevokedAt, RevokedBy and
	// RevocationReason from rev) and returns it. Revoking a revoked record
	// changes nothing and returns it as it is (the first revocation
	// stands). It returns [ErrNotFound] if there is no such record.
	Revoke(ctx context.Context, id uuid.UUID, rev Revocation) (Record, error)

	// RevokeOwner revokes, as Revoke does, every record of owner that is
	// active at rev.At, in one atomic step, and returns them, revoked,
	// oldest first (an empty list when there are none). Records already
	// revoked or expired at rev.At are left as they are.
	RevokeOwner(ctx context.Context, owner string, rev Revocation) ([]Record, error)

	// Rotate atomically revokes the record oldID (as Revoke, with
	// ReplacedBy set to next.ID) and inserts next: both happen or neither
	// does. It returns [ErrNotFound] if oldID does not exist, an error
	// matching [ErrRevoked] if it is already revoked (so two concurrent
	// rotations produce one new token), and [ErrDuplicate] as Insert does.
	// It does not check next's description: next takes the place of the
	// record it replaces (the Manager gives it the same owner, target
	// and description), which it revokes in the same step.
	Rotate(ctx context.Context, oldID uuid.UUID, rev Revocation, next Record) error

	// TouchLastUsed sets LastUsedAt to at if it is zero or at least
	// interval older than at, and reports whether it wrote. The condition
	// is checked and written atomically, so concurrent callers (and, for a
	// shared database, other processes) write at most once per interval.
	//
	// It is live: when callers race to record the same due use, one of
	// them writes. It may wait for other writers (a database row lock, a
	// busy database) for as long as ctx allows, and must not give up a
	// write it could make because the wait was long: a store that skips
	// writes under contention would show tokens used all day as never
	// used. [Manager] calls it from a goroutine of its own, never from
	// [Manager.Verify], so waiting holds no request up. A missing record
	// is not an error (false, nil).
	TouchLastUsed(ctx context.Context, id uuid.UUID, at time.Time, interval time.Duration) (bool, error)

	// DeleteTarget deletes the records of a deleted repository or project
	// and returns how many it deleted. For a repository target it deletes
	// that repository's tokens; for a project target every token whose
	// Target.Project is that project (project and repository tokens).
	DeleteTarget(ctx context.Context, t Target) (int, error)

	// DeleteInactive deletes every record revoked before before, or whose
	// expiry is before before, and returns how many it deleted: the
	// retention of inactive records. Records revoked or expiring at or
	// after before, and active ones, stay.
	DeleteInactive(ctx context.Context, before time.Time) (int, error)
}

// digestsEqual compares two digests in constant time: it reads every byte
// of both whatever they hold and branches only on the result. It is
// crypto/subtle.ConstantTimeCompare done a word at a time.
func digestsEqual(a, b *Digest) bool {
	var diff uint64
	for i := 0; i < len(a); i += 8 {
		diff |= binary.LittleEndian.Uint64(a[i:]) ^ binary.LittleEndian.Uint64(b[i:])
	}
	return subtle.ConstantTimeEq(int32(diff>>32|diff&0xffffffff), 0) == 1
}
