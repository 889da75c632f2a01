package fsstore

import (
	"context"
	"testing"

	"github.com/ciartifacts/jobartifacts"
	"github.com/ciartifacts/jobartifacts/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.StoreUnderTest {
		return openTestStore(t, t.TempDir())
	})
}

// TestConformanceAcrossStores runs the suite with seeding done by one Store
// and everything else by another on the same directory, as two processes
// sharing it would: each reads only what the other wrote to disk.
func TestConformanceAcrossStores(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.StoreUnderTest {
		dir := t.TempDir()
		return seededElsewhere{Store: openTestStore(t, dir, WithoutFsync()), seeder: openTestStore(t, dir, WithoutFsync())}
	})
}

// seededElsewhere is a Store whose Seeder methods go to another Store.
type seededElsewhere struct {
	*Store
	seeder *Store
}

func (s seededElsewhere) PutProject(ctx context.Context, p jobartifacts.Project) error {
	return s.seeder.PutProject(ctx, p)
}

func (s seededElsewhere) PutPipeline(ctx context.Context, p jobartifacts.Pipeline) error {
	return s.seeder.PutPipeline(ctx, p)
}

func (s seededElsewhere) PutJob(ctx context.Context, j jobartifacts.Job) error {
	return s.seeder.PutJob(ctx, j)
}
