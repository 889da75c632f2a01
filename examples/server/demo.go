package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ciartifacts/jobartifacts"
	"github.com/ciartifacts/jobartifacts/internal/ziptest"
)

// seedStore is what the demo and the import command need: a Store that can
// also be filled directly. memstore and fsstore are both.
type seedStore interface {
	jobartifacts.Store
	PutProject(ctx context.Context, p jobartifacts.Project) error
	PutPipeline(ctx context.Context, p jobartifacts.Pipeline) error
	PutJob(ctx context.Context, j jobartifacts.Job) error
}

// errDemoConflict: the store already holds a project or job with one of the
// demo's ids that is not the demo's.
var errDemoConflict = errors.New("demo data conflicts with data already in the store")

// The demo project, and the jobs that GitLab's Job Artifacts API docs name
// in their examples.
const (
	demoProjectID    int64 = 1
	demoProjectPath        = "demo/project"
	demoWebURL             = "https://gitlab.example.com/" + demoProjectPath
	demoKeepJobID    int64 = 1   // keep and delete examples
	demoPDFJobID     int64 = 5   // single file by job id: some/release/file.pdf
	demoTestJobID    int64 = 42  // whole archive and tree by job id
	demoRunningJobID int64 = 100 // the job whose CI job token the demo hands out
	demoMergeRequest       = "refs/merge-requests/123/head"
	demoPDFPath            = "some/release/file.pdf"

	// demoCommitSHA and the times below are those of the docs' keep example.
	demoCommitSHA = "0ff3ae198f8601a285adcf5c0fff204ee6fba5fd"

	// demoArchiveExpiry is when job 1's archive expires after seeding:
	// GitLab's default expire_in, so that the keep example has an expiry to
	// clear.
	demoArchiveExpiry = 30 * 24 * time.Hour
)

// demoJob is one job of the demo and the archive it is seeded with.
type demoJob struct {
	job jobartifacts.Job
	// archive is the job's artifacts zip; nil for a job without artifacts.
	archive []byte
	// expires makes the archive expire demoArchiveExpiry after seeding.
	expires bool
}

// demoPipeline is a pipeline of the demo and its jobs.
type demoPipeline struct {
	pipeline jobartifacts.Pipeline
	jobs     []demoJob
}

// seedDemo fills s with the data that GitLab's Job Artifacts API docs use in
// their examples, so that each of their curl lines works against the demo.
// It creates only what is missing: a job that already exists is left as it
// is, with whatever keep or delete did to its artifacts. It returns the ids
// of the jobs it created. now sets the expiry of job 1's archive.
func seedDemo(ctx context.Context, s seedStore, now time.Time) ([]int64, error) {
	project, pipelines, err := demoData()
	if err != nil {
		return nil, err
	}
	if err := ensureDemoProject(ctx, s, project); err != nil {
		return nil, err
	}
	var created []int64
	for _, dp := range pipelines {
		missing, err := missingDemoJobs(ctx, s, dp.jobs)
		if err != nil {
			return created, err
		}
		if len(missing) == 0 {
			continue
		}
		// The pipeline's fields are constants, so writing it again over an
		// existing copy changes nothing.
		if err := s.PutPipeline(ctx, dp.pipeline); err != nil {
			return created, fmt.Errorf("demo: pipeline %d: %w", dp.pipeline.ID, err)
		}
		for _, dj := range missing {
			if err := putDemoJob(ctx, s, dj, now); err != nil {
				return created, err
			}
			created = append(created, dj.job.ID)
		}
	}
	return created, nil
}

// ensureDemoProject creates the demo project unless it exists; a project 1
// with another path is a conflict.
func ensureDemoProject(ctx context.Context, s seedStore, project jobartifacts.Project) error {
	p, err := s.Project(ctx, project.ID)
	switch {
	case err == nil && p.PathWithNamespace != project.PathWithNamespace:
		return fmt.Errorf("demo: project %d is %q, not %q: %w", project.ID, p.PathWithNamespace, project.PathWithNamespace, errDemoConflict)
	case err == nil:
		return nil
	case !errors.Is(err, jobartifacts.ErrNotFound):
		return fmt.Errorf("demo: project %d: %w", project.ID, err)
	}
	if err := s.PutProject(ctx, project); err != nil {
		return fmt.Errorf("demo: project %d: %w", project.ID, err)
	}
	return nil
}

// missingDemoJobs returns the jobs that the store does not have yet.
func missingDemoJobs(ctx context.Context, s seedStore, jobs []demoJob) ([]demoJob, error) {
	var missing []demoJob
	for _, dj := range jobs {
		j, err := s.JobByID(ctx, dj.job.ID)
		switch {
		case err == nil && j.ProjectID != dj.job.ProjectID:
			return nil, fmt.Errorf("demo: job %d belongs to project %d: %w", j.ID, j.ProjectID, errDemoConflict)
		case err == nil:
		case errors.Is(err, jobartifacts.ErrNotFound):
			missing = append(missing, dj)
		default:
			return nil, fmt.Errorf("demo: job %d: %w", dj.job.ID, err)
		}
	}
	return missing, nil
}

// putDemoJob stores the job's archive blob first and then the job with the
// artifact's record, so that the job appears with its archive or not at all:
// an interrupted seeding is completed by the next one.
func putDemoJob(ctx context.Context, s seedStore, dj demoJob, now time.Time) error {
	j := dj.job
	if dj.archive != nil {
		key := jobartifacts.NewBlobKey(j.ProjectID, j.ID, jobartifacts.ArtifactTypeArchive)
		info, err := s.PutBlob(ctx, key, bytes.NewReader(dj.archive))
		if err != nil {
			return fmt.Errorf("demo: archive of job %d: %w", j.ID, err)
		}
		sum := sha256.Sum256(dj.archive)
		a := jobartifacts.Artifact{
			FileType:   jobartifacts.ArtifactTypeArchive,
			FileFormat: "zip",
			Filename:   "artifacts.zip",
			Size:       info.Size,
			SHA256:     hex.EncodeToString(sum[:]),
			Blob:       key,
		}
		if dj.expires {
			expireAt := now.Add(demoArchiveExpiry).UTC()
			a.ExpireAt, j.ArtifactsExpireAt = &expireAt, &expireAt
		}
		j.Artifacts = []jobartifacts.Artifact{a}
		if err := s.PutJob(ctx, j); err != nil {
			_ = s.DeleteBlob(context.WithoutCancel(ctx), key)
			return fmt.Errorf("demo: job %d: %w", j.ID, err)
		}
		return nil
	}
	if err := s.PutJob(ctx, j); err != nil {
		return fmt.Errorf("demo: job %d: %w", j.ID, err)
	}
	return nil
}

// demoData returns the demo project and its pipelines, oldest first:
//
//	pipeline 1  master  failed   job 1 rubocop (the docs' keep example; expiring archive)
//	pipeline 2  master  success  job 42 test, job 5 pdf
//	pipeline 3  main    success  job 43 test, job 44 pdf
//	pipeline 4  refs/merge-requests/123/head  success  job 45 test (file.txt)
//	pipeline 5  master  running  job 100 deploy (running: its job token works)
//
// The docs use ref main in newer versions and master in older ones, so both
// refs have a newest successful pipeline with jobs test and pdf.
func demoData() (jobartifacts.Project, []demoPipeline, error) {
	project := jobartifacts.Project{
		ID:                demoProjectID,
		PathWithNamespace: demoProjectPath,
		Visibility:        "private",
		WebURL:            demoWebURL,
	}
	testArchive, err := demoTestArchive()
	if err != nil {
		return project, nil, err
	}
	pdfArchive := ziptest.MustBuild(ziptest.Files(map[string]string{
		demoPDFPath:                 string(tinyPDF("Release notes of demo/project")),
		"some/release/CHANGELOG.md": "# Changelog\n\n- First release of the demo.\n",
	})...)
	rubocopArchive := ziptest.MustBuild(ziptest.Files(map[string]string{
		"rubocop.json": `{"summary":{"offense_count":1,"target_file_count":12,"inspected_file_count":12}}` + "\n",
	})...)
	mrArchive := ziptest.MustBuild(ziptest.Files(map[string]string{
		"file.txt": "Built by the merge request pipeline of !123.\n",
	})...)

	docsCommitDate := ptr(mustTime("2015-12-24T16:51:14.000+01:00"))
	commit := &jobartifacts.Commit{
		ID:             demoCommitSHA,
		ShortID:        demoCommitSHA[:8],
		Title:          "Test the CI integration.",
		Message:        "Test the CI integration.",
		AuthorName:     "Administrator",
		AuthorEmail:    "admin@example.com",
		AuthoredDate:   docsCommitDate,
		CommitterName:  "Administrator",
		CommitterEmail: "admin@example.com",
		CommittedDate:  docsCommitDate,
		CreatedAt:      docsCommitDate,
		WebURL:         demoWebURL + "/-/commit/" + demoCommitSHA,
	}
	// Times after the docs' keep example, a few minutes apart, so that
	// pipeline ids and creation times grow together as in GitLab.
	at := func(minutes int) *time.Time {
		t := mustTime("2016-01-11T10:13:33.506Z").Add(time.Duration(minutes) * time.Minute)
		return &t
	}
	pipeline := func(id int64, ref, status, source string, minutes int) jobartifacts.Pipeline {
		return jobartifacts.Pipeline{
			ID: id, IID: id, ProjectID: demoProjectID, SHA: demoCommitSHA, Ref: ref,
			Status: status, Source: source, CreatedAt: at(minutes), UpdatedAt: at(minutes + 2),
			WebURL: fmt.Sprintf("%s/-/pipelines/%d", demoWebURL, id),
		}
	}
	job := func(id int64, p jobartifacts.Pipeline, name, stage, status string, minutes int) jobartifacts.Job {
		duration, queued := 62.5, 0.8
		return jobartifacts.Job{
			ID: id, ProjectID: demoProjectID, Pipeline: jobartifacts.Pipeline{ID: p.ID},
			Name: name, Stage: stage, Status: status, Ref: p.Ref,
			CreatedAt: at(minutes), StartedAt: at(minutes), FinishedAt: at(minutes + 1),
			Duration: &duration, QueuedDuration: &queued,
			Commit: commit, WebURL: fmt.Sprintf("%s/-/jobs/%d", demoWebURL, id),
		}
	}

	failed := pipeline(1, "master", jobartifacts.StatusFailed, "push", 0)
	rubocop := job(demoKeepJobID, failed, "rubocop", "test", jobartifacts.StatusFailed, 0)
	// The docs' keep example response, field by field.
	docsDuration := 97.0
	rubocop.CreatedAt = at(0)
	rubocop.StartedAt = at(0)
	rubocop.FinishedAt = ptr(mustTime("2016-01-11T10:15:10.506Z"))
	rubocop.Duration, rubocop.QueuedDuration = &docsDuration, nil
	rubocop.FailureReason = "script_failure"

	master := pipeline(2, "master", jobartifacts.StatusSuccess, "push", 10)
	mainline := pipeline(3, "main", jobartifacts.StatusSuccess, "push", 20)
	mr := pipeline(4, demoMergeRequest, jobartifacts.StatusSuccess, "merge_request_event", 30)
	running := pipeline(5, "master", jobartifacts.StatusRunning, "push", 40)
	deploy := job(demoRunningJobID, running, "deploy", "deploy", jobartifacts.StatusRunning, 41)
	deploy.FinishedAt, deploy.Duration = nil, nil

	return project, []demoPipeline{
		{pipeline: failed, jobs: []demoJob{{job: rubocop, archive: rubocopArchive, expires: true}}},
		{pipeline: master, jobs: []demoJob{
			{job: job(demoTestJobID, master, "test", "test", jobartifacts.StatusSuccess, 11), archive: testArchive},
			{job: job(demoPDFJobID, master, "pdf", "build", jobartifacts.StatusSuccess, 12), archive: pdfArchive},
		}},
		{pipeline: mainline, jobs: []demoJob{
			{job: job(43, mainline, "test", "test", jobartifacts.StatusSuccess, 21), archive: testArchive},
			{job: job(44, mainline, "pdf", "build", jobartifacts.StatusSuccess, 22), archive: pdfArchive},
		}},
		{pipeline: mr, jobs: []demoJob{
			{job: job(45, mr, "test", "test", jobartifacts.StatusSuccess, 31), archive: mrArchive},
		}},
		{pipeline: running, jobs: []demoJob{{job: deploy}}},
	}, nil
}

// demoTestArchive is the archive of the test jobs. Its root holds what the
// docs' tree example response lists (ci_build_artifacts.zip of 1024 bytes and
// the directory other_artifacts_0.1.2/), and coverage/reports/ is the
// directory the docs browse with ?path=.
func demoTestArchive() ([]byte, error) {
	inner, err := zipOfSize(map[string]string{"build/app.txt": "demo build output\n"}, 1024)
	if err != nil {
		return nil, err
	}
	return ziptest.MustBuild(ziptest.Files(map[string]string{
		"ci_build_artifacts.zip":           string(inner),
		"other_artifacts_0.1.2/":           "",
		"other_artifacts_0.1.2/README.txt": "Other artifacts, version 0.1.2.\n",
		"coverage/reports/index.html":      "<!doctype html><title>Coverage</title><p>Coverage: 87.5%</p>\n",
		"coverage/reports/coverage.txt":    "total: 87.5%\n",
		"junit.xml":                        `<testsuite name="demo" tests="3" failures="0"></testsuite>` + "\n",
	})...), nil
}

// zipOfSize returns a zip of files (stored, not compressed) padded to exactly
// size bytes with the archive comment, the one field that may grow without
// touching the entries.
func zipOfSize(files map[string]string, size int) ([]byte, error) {
	archive := ziptest.Archive{Entries: ziptest.Files(files)}
	for i := range archive.Entries {
		archive.Entries[i].Method = ziptest.Store
	}
	bare, err := archive.Bytes()
	if err != nil {
		return nil, fmt.Errorf("demo: build zip: %w", err)
	}
	if len(bare) > size {
		return nil, fmt.Errorf("demo: a zip of these files takes %d bytes, more than %d", len(bare), size)
	}
	archive.Comment = strings.Repeat(" ", size-len(bare))
	padded, err := archive.Bytes()
	if err != nil {
		return nil, fmt.Errorf("demo: build zip: %w", err)
	}
	return padded, nil
}

// mustTime parses an RFC 3339 constant of this file.
func mustTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(fmt.Sprintf("demo: bad time constant %q: %v", s, err))
	}
	return t
}

func ptr[T any](v T) *T { return &v }
