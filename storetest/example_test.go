package storetest_test

import (
	"testing"

	"github.com/forgekit/accesstoken"
	"github.com/forgekit/accesstoken/memstore"
	"github.com/forgekit/accesstoken/storetest"
)

// A store's conformance test, in the store's own test file, here for
// memstore: newStore returns a new, empty store for every subtest. Run it
// with the race detector (go test -race). An example cannot run it (it
// has no *testing.T); memstore's test and sqlstore's, in module
// github.com/forgekit/accesstoken/sqlstore/drivertest, run exactly this.
func ExampleRun() {
	testConformance := func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) accesstoken.Store {
			return memstore.New() // a database store: a fresh schema, dropped with t.Cleanup
		})
	}
	_ = testConformance // func TestConformance(t *testing.T) { ... }
}
