package memstore_test

import (
	"testing"

	"github.com/ciartifacts/jobartifacts/memstore"
	"github.com/ciartifacts/jobartifacts/storetest"
)

// TestConformance runs the whole suite; each view of a backing store is a
// View of one Store, as replicas sharing one database would be.
func TestConformance(t *testing.T) {
	storetest.Run(t, storetest.Harness{
		New: func(t *testing.T) func() storetest.StoreUnderTest {
			s := memstore.New()
			return func() storetest.StoreUnderTest { return s.View() }
		},
	})
}
