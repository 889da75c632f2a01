package fsstore

import (
	"testing"

	"github.com/ciartifacts/jobartifacts/storetest"
)

// TestConformance runs the whole suite with the options a deployment uses
// (every write fsynced). Each view of a backing store is a Store opened on
// one directory, as another process would open it, so each reads only what
// the others wrote to disk and takes its own flocks.
func TestConformance(t *testing.T) {
	storetest.Run(t, storetest.Harness{
		New: func(t *testing.T) func() storetest.StoreUnderTest {
			dir := t.TempDir()
			return func() storetest.StoreUnderTest { return openTestStore(t, dir) }
		},
	})
}
