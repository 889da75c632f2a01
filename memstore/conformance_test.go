package memstore_test

import (
	"testing"
	"time"

	"github.com/ciartifacts/jobartifacts/memstore"
	"github.com/ciartifacts/jobartifacts/storetest"
)

// TestConformance runs the whole suite; each view of a backing store is a
// View of one Store, as replicas sharing one database would be. The clock
// cases run on the store's own clock (WithClock).
func TestConformance(t *testing.T) {
	storetest.Run(t, storetest.Harness{
		New: func(t *testing.T) func() storetest.StoreUnderTest {
			s := memstore.New()
			return func() storetest.StoreUnderTest { return s.View() }
		},
		NewWithClock: func(t *testing.T, now func() time.Time) func() storetest.StoreUnderTest {
			s := memstore.New(memstore.WithClock(now))
			return func() storetest.StoreUnderTest { return s.View() }
		},
	})
}
