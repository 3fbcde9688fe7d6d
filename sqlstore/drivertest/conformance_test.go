package drivertest_test

import (
	"testing"

	"github.com/forgekit/accesstoken"
	"github.com/forgekit/accesstoken/storetest"
)

// TestConformance runs the Store conformance suite on each backend, with a
// new database (SQLite) or schema (PostgreSQL) for every subtest.
func TestConformance(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		storetest.Run(t, func(t *testing.T) accesstoken.Store {
			return newStore(t, b.open(t), b.dialect)
		})
	})
}
