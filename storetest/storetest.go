// Package storetest is the conformance suite for implementations of
// [accesstoken.Store], in the manner of [testing/fstest.TestFS]: it checks
// every contract written in the Store's doc comments. A store's author calls
// [Run] from an ordinary test in the store's own package:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) accesstoken.Store {
//			db := openTestDatabase(t) // a fresh, empty schema
//			return mystore.New(db)
//		})
//	}
//
// and runs it with the race detector: go test -race ./mystore/.
//
// Run calls newStore once for every subtest. It must return a new, empty
// store that no other subtest uses; it may register cleanup with
// t.Cleanup, and it should call t.Skip when the store's database is not
// available rather than return nil. Subtests are not run in parallel.
//
// The suite drives the store both directly, with records it builds itself,
// and through an [accesstoken.Manager] built on it with
// [accesstoken.InsecureAllowAll] and a fake clock, which it moves on instead
// of sleeping. Its subtests are named after the Store method or the Manager
// operation they check ("Rotate/AlreadyRevoked",
// "Manager/ConcurrentRotate"), so one can be picked with go test -run. The
// concurrent parts are kept small (8 goroutines of 20 operations, 50 for
// the last-used race) so that the suite stays quick against a real
// database.
package storetest

import (
	"testing"

	"github.com/forgekit/accesstoken"
)

// Run runs the conformance suite against the stores newStore returns, each
// check in its own subtest of t with a store of its own. newStore must
// return a new, empty store each time it is called.
func Run(t *testing.T, newStore func(t *testing.T) accesstoken.Store) {
	s := suite{newStore: newStore}
	groups := []struct {
		name  string
		tests []subtest
	}{
		{"Insert", []subtest{
			{"RoundTrip", s.testRoundTrip},
			{"TimeRange", s.testTimeRange},
			{"AnyState", s.testAnyState},
			{"DuplicateID", s.testDuplicateID},
			{"DuplicateDigest", s.testDuplicateDigest},
			{"NotFound", s.testNotFound},
			{"DescriptionUnique", s.testDescriptionUnique},
			{"DescriptionConcurrent", s.testDescriptionConcurrent},
		}},
		{"List", []subtest{
			{"EmptyStore", s.testListEmptyStore},
			{"ByOwner", s.testListByOwner},
			{"ByProjectTarget", s.testListByProjectTarget},
			{"ByRepositoryTarget", s.testListByRepositoryTarget},
			{"Covering", s.testListCovering},
			{"Active", s.testListActive},
			{"Order", s.testListOrder},
			{"States", s.testListStates},
			{"All", s.testListAll},
			{"Pages", s.testListPages},
			{"UnknownOrder", s.testListUnknownOrder},
		}},
		{"Revoke", []subtest{
			{"SetsRevoked", s.testRevoke},
			{"Idempotent", s.testRevokeIdempotent},
			{"NotFound", s.testRevokeNotFound},
			{"Concurrent", s.testRevokeConcurrent},
			{"Reason", s.testRevokeReason},
		}},
		{"RevokeOwner", []subtest{
			{"ActiveOnly", s.testRevokeOwner},
			{"Concurrent", s.testRevokeOwnerConcurrent},
		}},
		{"Rotate", []subtest{
			{"RevokesAndInserts", s.testRotate},
			{"AlreadyRevoked", s.testRotateRevoked},
			{"Twice", s.testRotateTwice},
			{"NotFound", s.testRotateNotFound},
			{"Duplicate", s.testRotateDuplicate},
			{"Concurrent", s.testRotateConcurrent},
		}},
		{"TouchLastUsed", []subtest{
			{"Interval", s.testTouchInterval},
			{"NotFound", s.testTouchNotFound},
			{"Concurrent", s.testTouchConcurrent},
			{"Contended", s.testTouchContended},
		}},
		{"DeleteTarget", []subtest{
			{"Repository", s.testDeleteRepository},
			{"Project", s.testDeleteProject},
			{"Unknown", s.testDeleteUnknown},
		}},
		{"DeleteInactive", []subtest{
			{"Retention", s.testDeleteInactive},
		}},
		{"CancelledContext", []subtest{
			{"Insert", s.testCancelledInsert},
			{"ByDigest", s.testCancelledByDigest},
			{"ByID", s.testCancelledByID},
			{"List", s.testCancelledList},
			{"Revoke", s.testCancelledRevoke},
			{"Rotate", s.testCancelledRotate},
			{"TouchLastUsed", s.testCancelledTouch},
			{"DeleteTarget", s.testCancelledDelete},
			{"RevokeOwner", s.testCancelledRevokeOwner},
			{"DeleteInactive", s.testCancelledDeleteInactive},
		}},
		{"Manager", []subtest{
			{"IssueVerify", s.testManagerIssue},
			{"Coverage", s.testManagerCoverage},
			{"Expiry", s.testManagerExpiry},
			{"Revoke", s.testManagerRevoke},
			{"Rotate", s.testManagerRotate},
			{"ConcurrentRotate", s.testManagerConcurrentRotate},
			{"LastUsed", s.testManagerLastUsed},
			{"ConcurrentUse", s.testManagerConcurrentUse},
			{"DeleteTarget", s.testManagerDeleteTarget},
			{"CancelledContext", s.testManagerCancelled},
			{"Concurrent", s.testManagerConcurrent},
			{"RevokeLeaked", s.testManagerRevokeLeaked},
			{"RevokeOwner", s.testManagerRevokeOwner},
			{"RevokeSelf", s.testManagerRevokeSelf},
			{"RotateWithExpiry", s.testManagerRotateWithExpiry},
			{"Pages", s.testManagerPages},
			{"PagesNewestFirst", s.testManagerPagesNewestFirst},
			{"DescriptionUnique", s.testManagerDescriptionUnique},
			{"DeleteInactive", s.testManagerDeleteInactive},
		}},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			for _, st := range g.tests {
				t.Run(st.name, st.run)
			}
		})
	}
}

type subtest struct {
	name string
	run  func(t *testing.T)
}

// suite holds what every subtest needs.
type suite struct {
	newStore func(t *testing.T) accesstoken.Store
}

// store returns a new, empty store for the subtest t.
func (s suite) store(t *testing.T) accesstoken.Store {
	t.Helper()
	st := s.newStore(t)
	if st == nil {
		t.Fatal("newStore returned nil; want a new, empty store (call t.Skip if it cannot be made)")
	}
	return st
}
