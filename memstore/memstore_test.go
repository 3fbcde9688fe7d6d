package memstore_test

import (
	"testing"

	"github.com/forgekit/accesstoken"
	"github.com/forgekit/accesstoken/memstore"
	"github.com/forgekit/accesstoken/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) accesstoken.Store { return memstore.New() })
}
