package memstore_test

import (
	"testing"

	"github.com/ciartifacts/jobartifacts/memstore"
	"github.com/ciartifacts/jobartifacts/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.StoreUnderTest { return memstore.New() })
}
