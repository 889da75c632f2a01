package fsstore_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"strings"

	"github.com/ciartifacts/jobartifacts"
	"github.com/ciartifacts/jobartifacts/fsstore"
)

// A store seeded, closed and opened again finds the same jobs and archives.
func Example() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "fsstore-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	s, err := fsstore.Open(dir)
	if err != nil {
		log.Fatal(err)
	}
	_ = s.PutProject(ctx, jobartifacts.Project{ID: 1, PathWithNamespace: "group/app"})
	_ = s.PutPipeline(ctx, jobartifacts.Pipeline{ID: 10, ProjectID: 1, Ref: "main", Status: jobartifacts.StatusSuccess})
	_ = s.PutJob(ctx, jobartifacts.Job{ID: 100, ProjectID: 1, Pipeline: jobartifacts.Pipeline{ID: 10}, Name: "build", Status: jobartifacts.StatusSuccess})
	archive := jobartifacts.Artifact{FileType: jobartifacts.ArtifactTypeArchive, FileFormat: "zip", Filename: "artifacts.zip"}
	if _, err := jobartifacts.StoreArtifact(ctx, s, 1, 100, archive, strings.NewReader("not really a zip")); err != nil {
		log.Fatal(err)
	}
	if err := s.Close(); err != nil {
		log.Fatal(err)
	}

	s, err = fsstore.Open(dir)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	job, err := s.LatestSuccessfulJob(ctx, 1, "main", "build")
	if err != nil {
		log.Fatal(err)
	}
	stored, _ := job.Archive()
	blob, err := s.OpenBlob(ctx, stored.Blob)
	if err != nil {
		log.Fatal(err)
	}
	defer blob.Close()
	data, err := io.ReadAll(io.NewSectionReader(blob, 0, blob.Info().Size))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(job.ID, job.Name, job.Pipeline.Ref)
	fmt.Println(stored.Filename, stored.Size, string(data))
	fmt.Println(blob.Info().ETag == `"`+stored.SHA256+`"`)
	// Output:
	// 100 build main
	// artifacts.zip 16 not really a zip
	// true
}
