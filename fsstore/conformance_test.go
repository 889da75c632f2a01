package fsstore

import (
	"testing"
	"time"

	"github.com/ciartifacts/jobartifacts/storetest"
)

// TestConformance runs the whole suite with the options a deployment uses
// (every write fsynced). Each view of a backing store is a Store opened on
// one directory, as another process would open it, so each reads only what
// the others wrote to disk and takes its own flocks. The clock cases run on
// the store's own clock (WithClock), without fsync.
func TestConformance(t *testing.T) {
	storetest.Run(t, storetest.Harness{
		New: func(t *testing.T) func() storetest.StoreUnderTest {
			dir := t.TempDir()
			return func() storetest.StoreUnderTest { return openTestStore(t, dir) }
		},
		NewWithClock: func(t *testing.T, now func() time.Time) func() storetest.StoreUnderTest {
			dir := t.TempDir()
			return func() storetest.StoreUnderTest { return openTestStore(t, dir, WithClock(now), WithoutFsync()) }
		},
	})
}
