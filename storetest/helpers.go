package storetest

import (
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/forgekit/accesstoken"
	"github.com/forgekit/accesstoken/internal/clocktest"
	"github.com/google/uuid"
)

// clock is the fake clock of the Manager tests, for
// [accesstoken.WithClock]: time stands still until the test moves it on, so
// expiry and last-used intervals are tested without sleeping.
type clock struct{ *clocktest.Clock }

// clockStart is where every fake clock starts: not in UTC and with
// nanoseconds, so that the Manager's conversion to stored times is exercised.
var clockStart = time.Date(2026, time.March, 4, 5, 6, 7, 123456789, time.FixedZone("UTC+1", 3600))

func newClock() *clock { return &clock{clocktest.New(clockStart)} }

// Stored returns the current fake time as a Manager stores it: in UTC,
// truncated to the microsecond.
func (c *clock) Stored() time.Time { return c.Now().UTC().Truncate(time.Microsecond) }

// base is the creation time of the records the direct tests make: in UTC,
// with microseconds.
var base = time.Date(2026, time.January, 2, 3, 4, 5, 678901000, time.UTC)

// elsewhere is a time zone that is not UTC, for times the tests hand to the
// store, which must return them in UTC.
var elsewhere = time.FixedZone("UTC-7", -7*3600)

// newRecord returns a record with a new random ID and digest, scope
// [accesstoken.ScopePull] and the given owner, target and creation time.
// Its description is name, which the tests use to report which record is
// wrong.
func newRecord(name, owner string, target accesstoken.Target, created time.Time) *accesstoken.Record {
	return &accesstoken.Record{
		Token: accesstoken.Token{
			ID:          uuid.New(),
			Owner:       owner,
			Description: name,
			Target:      target,
			Scopes:      accesstoken.NewScopeSet(accesstoken.ScopePull),
			CreatedAt:   created,
		},
		Digest: randomDigest(),
	}
}

// randomDigest returns a digest that no other record has.
func randomDigest() accesstoken.Digest {
	var d accesstoken.Digest
	_, _ = rand.Read(d[:]) // crypto/rand.Read never fails
	return d
}

// mustInsert inserts copies of recs, failing the test on any error.
func mustInsert(t *testing.T, st accesstoken.Store, recs ...*accesstoken.Record) {
	t.Helper()
	for _, rec := range recs {
		if err := st.Insert(t.Context(), *rec); err != nil {
			t.Fatalf("Insert(%q): %v", rec.Description, err)
		}
	}
}

// timeProblem describes how got differs from the time a store should
// return for want, or returns "".
func timeProblem(got, want time.Time) string {
	switch {
	case want.IsZero() && !got.IsZero():
		return fmt.Sprintf("got %v; want the zero time", got)
	case want.IsZero():
		return ""
	case !got.Equal(want):
		return fmt.Sprintf("got %v; want %v", got, want.UTC())
	case got.Location() != time.UTC:
		return fmt.Sprintf("got %v in location %q; want the same instant in UTC", got, got.Location())
	}
	return ""
}

// checkRecord fails the test unless got holds exactly what want does, as
// the Store contract says it must come back: every field equal, times equal
// and in UTC, zero times zero, scopes in the same order.
func checkRecord(t *testing.T, what string, got, want *accesstoken.Record) {
	t.Helper()
	label := fmt.Sprintf("%q", want.Description)
	if want.Description == "" {
		label = "with an empty description, ID " + want.ID.String()
	}
	ok := true
	errorf := func(format string, args ...any) {
		t.Helper()
		ok = false
		t.Errorf("%s: record %s: "+format, append([]any{what, label}, args...)...)
	}
	if got.ID != want.ID {
		errorf("ID: got %v; want %v", got.ID, want.ID)
	}
	if got.Digest != want.Digest {
		errorf("Digest: got %x; want %x", got.Digest, want.Digest)
	}
	if got.Owner != want.Owner {
		errorf("Owner: got %q; want %q", got.Owner, want.Owner)
	}
	if got.Description != want.Description {
		errorf("Description: got %q; want %q", got.Description, want.Description)
	}
	if got.Target != want.Target {
		errorf("Target: got %#v; want %#v", got.Target, want.Target)
	}
	if got.Scopes != want.Scopes {
		errorf("Scopes: got %q; want %q", got.Scopes, want.Scopes)
	}
	for _, f := range []struct {
		name      string
		got, want time.Time
	}{
		{"CreatedAt", got.CreatedAt, want.CreatedAt},
		{"ExpiresAt", got.ExpiresAt, want.ExpiresAt},
		{"LastUsedAt", got.LastUsedAt, want.LastUsedAt},
		{"RevokedAt", got.RevokedAt, want.RevokedAt},
	} {
		if p := timeProblem(f.got, f.want); p != "" {
			errorf("%s: %s", f.name, p)
		}
	}
	if got.RevokedBy != want.RevokedBy {
		errorf("RevokedBy: got %q; want %q", got.RevokedBy, want.RevokedBy)
	}
	if got.RevocationReason != want.RevocationReason {
		errorf("RevocationReason: got %q; want %q", got.RevocationReason, want.RevocationReason)
	}
	if got.ReplacedBy != want.ReplacedBy {
		errorf("ReplacedBy: got %v; want %v", got.ReplacedBy, want.ReplacedBy)
	}
	if !ok {
		t.FailNow()
	}
}

// names lists the descriptions of recs, which name them in messages.
func names(recs []accesstoken.Record) string {
	s := make([]string, len(recs))
	for i, r := range recs {
		s[i] = fmt.Sprintf("%q", r.Description)
	}
	return "[" + strings.Join(s, " ") + "]"
}

// values returns copies of the records recs point to.
func values(recs []*accesstoken.Record) []accesstoken.Record {
	out := make([]accesstoken.Record, len(recs))
	for i, r := range recs {
		out[i] = *r
	}
	return out
}

// reversed returns a copy of s in the reverse order.
func reversed[T any](s []T) []T {
	out := slices.Clone(s)
	slices.Reverse(out)
	return out
}

// checkList fails the test unless got holds the records of want, in that
// order, each exactly as checkRecord demands.
func checkList(t *testing.T, what string, got []accesstoken.Record, want ...*accesstoken.Record) {
	t.Helper()
	same := len(got) == len(want)
	for i := 0; same && i < len(got); i++ {
		same = got[i].ID == want[i].ID
	}
	if !same {
		t.Fatalf("%s: got %s; want %s", what, names(got), names(values(want)))
	}
	for i := range got {
		checkRecord(t, fmt.Sprintf("%s[%d]", what, i), &got[i], want[i])
	}
}

// byID fetches a record that must exist.
func byID(t *testing.T, st accesstoken.Store, id uuid.UUID) *accesstoken.Record {
	t.Helper()
	rec, err := st.ByID(t.Context(), id)
	if err != nil {
		t.Fatalf("ByID(%v): %v", id, err)
	}
	return &rec
}

// checkStored fails the test unless st holds want, by ID and by digest.
func checkStored(t *testing.T, st accesstoken.Store, want *accesstoken.Record) {
	t.Helper()
	checkRecord(t, "ByID", byID(t, st, want.ID), want)
	rec, err := st.ByDigest(t.Context(), want.Digest)
	if err != nil {
		t.Fatalf("ByDigest(digest of %q): %v", want.Description, err)
	}
	checkRecord(t, "ByDigest", &rec, want)
}

// checkAbsent fails the test unless st has nothing with rec's ID or digest.
func checkAbsent(t *testing.T, st accesstoken.Store, rec *accesstoken.Record) {
	t.Helper()
	got, err := st.ByID(t.Context(), rec.ID)
	if !errors.Is(err, accesstoken.ErrNotFound) || got != (accesstoken.Record{}) {
		t.Fatalf("ByID(ID of %q): got %s, %v; want no record, ErrNotFound", rec.Description, names([]accesstoken.Record{got}), err)
	}
	got, err = st.ByDigest(t.Context(), rec.Digest)
	if !errors.Is(err, accesstoken.ErrNotFound) || got != (accesstoken.Record{}) {
		t.Fatalf("ByDigest(digest of %q): got %s, %v; want no record, ErrNotFound", rec.Description, names([]accesstoken.Record{got}), err)
	}
}

// list runs a query that must succeed.
func list(t *testing.T, st accesstoken.Store, q accesstoken.Query) []accesstoken.Record {
	t.Helper()
	recs, err := st.List(t.Context(), q)
	if err != nil {
		t.Fatalf("List(%s): %v", queryString(q), err)
	}
	return recs
}

// queryString describes q for messages.
func queryString(q accesstoken.Query) string {
	var parts []string
	if q.Owner != "" {
		parts = append(parts, fmt.Sprintf("Owner %q", q.Owner))
	}
	if q.Target != nil {
		parts = append(parts, fmt.Sprintf("Target %#v", *q.Target))
	}
	if q.Covering {
		parts = append(parts, "Covering")
	}
	if q.All {
		parts = append(parts, "All")
	}
	if !q.Active.IsZero() {
		parts = append(parts, "Active "+q.Active.String())
	}
	if !q.Inactive.IsZero() {
		parts = append(parts, "Inactive "+q.Inactive.String())
	}
	if !q.ExpiringBefore.IsZero() {
		parts = append(parts, "ExpiringBefore "+q.ExpiringBefore.String())
	}
	if q.Order != accesstoken.OldestFirst {
		parts = append(parts, "Order "+q.Order.String())
	}
	if !q.After.IsZero() {
		parts = append(parts, fmt.Sprintf("After {%v %v}", q.After.CreatedAt, q.After.ID))
	}
	if q.Limit != 0 {
		parts = append(parts, fmt.Sprintf("Limit %d", q.Limit))
	}
	return strings.Join(parts, ", ")
}

// target returns a pointer to t, for [accesstoken.Query].
func target(t accesstoken.Target) *accesstoken.Target { return &t }

// start returns a channel that the goroutines of a concurrent test wait on,
// so that they begin together, and the function that releases them.
func start() (<-chan struct{}, func()) {
	c := make(chan struct{})
	return c, func() { close(c) }
}
