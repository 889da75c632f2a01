package memstore_test

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"

	"github.com/ciartifacts/jobartifacts"
	"github.com/ciartifacts/jobartifacts/memstore"
)

// Seeding a project, a successful pipeline, a job and its archive, then
// finding the job the way the "latest successful" route does.
func Example() {
	ctx := context.Background()
	s := memstore.New()

	must(s.PutProject(ctx, jobartifacts.Project{ID: 1, PathWithNamespace: "group/app", Visibility: "private"}))
	must(s.PutPipeline(ctx, jobartifacts.Pipeline{ID: 10, ProjectID: 1, Ref: "main", Status: jobartifacts.StatusSuccess}))
	must(s.PutJob(ctx, jobartifacts.Job{
		ID: 100, ProjectID: 1, Pipeline: jobartifacts.Pipeline{ID: 10},
		Name: "build", Status: jobartifacts.StatusSuccess, Ref: "main",
	}))
	var archive bytes.Buffer
	zw := zip.NewWriter(&archive)
	for _, f := range []struct{ name, content string }{
		{"out/", ""}, {"out/app.txt", "hello"}, {"out/notes.md", "# notes"},
	} {
		w, err := zw.Create(f.name)
		must(err)
		_, err = w.Write([]byte(f.content))
		must(err)
	}
	must(zw.Close())
	_, err := s.PutArchive(ctx, 1, 100, archive.Bytes())
	must(err)

	job, err := s.LatestSuccessfulJob(ctx, 1, "main", "build")
	must(err)
	stored, _ := job.Archive()
	fmt.Println("job", job.ID, "pipeline", job.Pipeline.ID, job.Pipeline.Ref, stored.Filename)

	blob, err := s.OpenBlob(ctx, stored.Blob)
	must(err)
	defer blob.Close()
	zr, err := zip.NewReader(blob, blob.Info().Size)
	must(err)
	for _, f := range zr.File {
		fmt.Println(f.Name, f.UncompressedSize64)
	}
	// Output:
	// job 100 pipeline 10 main artifacts.zip
	// out/ 0
	// out/app.txt 5
	// out/notes.md 7
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}
