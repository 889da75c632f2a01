package pgstore_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/ciartifacts/jobartifacts"
	"github.com/ciartifacts/jobartifacts/fsstore"
	"github.com/ciartifacts/jobartifacts/pgstore"
)

// A replica's store: metadata in PostgreSQL (migrated on Open, once however
// many replicas start together), archives in a blob store, here a
// directory. The handler takes the pair.
func Example() {
	ctx := context.Background()
	meta, err := pgstore.Open(ctx, os.Getenv("DATABASE_URL"))
	if err != nil {
		log.Fatal(err)
	}
	defer meta.Close()
	blobs, err := fsstore.Open("/var/lib/ci-artifacts")
	if err != nil {
		log.Fatal(err)
	}
	store := jobartifacts.CombineStores(meta, blobs)

	// Seeding, as a host's import would do it.
	_ = meta.PutProject(ctx, jobartifacts.Project{ID: 1, PathWithNamespace: "group/app", Visibility: "private"})
	_ = meta.PutPipeline(ctx, jobartifacts.Pipeline{ID: 10, ProjectID: 1, Ref: "main", Status: jobartifacts.StatusSuccess})
	_ = meta.PutJob(ctx, jobartifacts.Job{ID: 100, ProjectID: 1, Pipeline: jobartifacts.Pipeline{ID: 10}, Name: "build", Status: jobartifacts.StatusSuccess})

	job, err := store.LatestSuccessfulJob(ctx, 1, "main", "build")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(job.ID, job.Pipeline.Ref)
}
