// Package memstore is an in-memory jobartifacts.Store that can be seeded
// directly (jobartifacts.Seeder). It is meant for tests, demos and examples:
// everything is lost when the process exits.
//
// # Seeding
//
// A project, a pipeline, a job and its archive take a few lines:
//
//	s := memstore.New()
//	_ = s.PutProject(ctx, jobartifacts.Project{ID: 1, PathWithNamespace: "group/app"})
//	_ = s.PutPipeline(ctx, jobartifacts.Pipeline{ID: 10, ProjectID: 1, Ref: "main", Status: "success"})
//	_ = s.PutJob(ctx, jobartifacts.Job{ID: 100, ProjectID: 1, Pipeline: jobartifacts.Pipeline{ID: 10}, Name: "build", Status: "success"})
//	_, _ = s.PutArchive(ctx, 1, 100, memstore.BuildZip(map[string]string{"out/app.txt": "hello"}))
//
// # Copies
//
// The store keeps deep copies of the values it is given and hands out deep
// copies, so callers may change what they passed in or got back.
//
// # Blobs
//
// Blobs are immutable byte slices. PutBlob reads its reader to the end into a
// new slice and only then swaps it in, so a failed put leaves the old blob
// as it was, and a Blob opened earlier keeps reading the bytes it opened.
// The context given to OpenBlob is kept by the returned Blob: once it is
// done, ReadAt fails with its error.
package memstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/ciartifacts/jobartifacts"
)

// recentPipelineWindow is how many of the newest successful pipelines
// RecentSuccessfulJob searches, as GitLab's search_recent_successful_pipelines.
const recentPipelineWindow = 100

// errConflict reports seeding that would break the store's invariants, such
// as two projects with one path.
var errConflict = errors.New("memstore: conflict")

// Store is an in-memory jobartifacts.Store and jobartifacts.Seeder. It is
// safe for concurrent use. The zero value is not usable; call New.
type Store struct {
	mu sync.RWMutex

	projects      map[int64]jobartifacts.Project
	projectByPath map[string]int64
	pipelines     map[int64]jobartifacts.Pipeline
	// projectPipelines and pipelineJobs index ids, so that the "latest
	// successful" lookups look at one project's pipelines and one pipeline's
	// jobs instead of everything.
	projectPipelines map[int64]map[int64]struct{}
	jobs             map[int64]jobartifacts.Job
	pipelineJobs     map[int64]map[int64]struct{}

	blobs map[jobartifacts.BlobKey]*blobVersion
}

var (
	_ jobartifacts.Store  = (*Store)(nil)
	_ jobartifacts.Seeder = (*Store)(nil)
)

// New returns an empty store.
func New() *Store {
	return &Store{
		projects:         make(map[int64]jobartifacts.Project),
		projectByPath:    make(map[string]int64),
		pipelines:        make(map[int64]jobartifacts.Pipeline),
		projectPipelines: make(map[int64]map[int64]struct{}),
		jobs:             make(map[int64]jobartifacts.Job),
		pipelineJobs:     make(map[int64]map[int64]struct{}),
		blobs:            make(map[jobartifacts.BlobKey]*blobVersion),
	}
}

// PutProject creates or replaces a project. A path already used by another
// project is an error.
func (s *Store) PutProject(ctx context.Context, p jobartifacts.Project) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if other, ok := s.projectByPath[p.PathWithNamespace]; ok && other != p.ID {
		return fmt.Errorf("%w: project %d: path %q belongs to project %d", errConflict, p.ID, p.PathWithNamespace, other)
	}
	if old, ok := s.projects[p.ID]; ok {
		delete(s.projectByPath, old.PathWithNamespace)
	}
	s.projects[p.ID] = cloneProject(p)
	s.projectByPath[p.PathWithNamespace] = p.ID
	return nil
}

// PutPipeline creates or replaces a pipeline. Its project must exist
// (ErrNotFound otherwise), and a pipeline cannot move to another project.
func (s *Store) PutPipeline(ctx context.Context, p jobartifacts.Pipeline) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.projects[p.ProjectID]; !ok {
		return fmt.Errorf("memstore: pipeline %d: project %d: %w", p.ID, p.ProjectID, jobartifacts.ErrNotFound)
	}
	if old, ok := s.pipelines[p.ID]; ok && old.ProjectID != p.ProjectID {
		return fmt.Errorf("%w: pipeline %d belongs to project %d, not %d", errConflict, p.ID, old.ProjectID, p.ProjectID)
	}
	s.pipelines[p.ID] = clonePipeline(p)
	addToIndex(s.projectPipelines, p.ProjectID, p.ID)
	return nil
}

// PutJob creates or replaces a job. Its project and its pipeline
// (j.Pipeline.ID) must exist (ErrNotFound otherwise) and the pipeline must
// belong to the project. Only j.Pipeline.ID is used: jobs read back carry the
// pipeline as last stored with PutPipeline. j.Artifacts are recorded as
// given; their blobs are the caller's business.
func (s *Store) PutJob(ctx context.Context, j jobartifacts.Job) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.projects[j.ProjectID]; !ok {
		return fmt.Errorf("memstore: job %d: project %d: %w", j.ID, j.ProjectID, jobartifacts.ErrNotFound)
	}
	pl, ok := s.pipelines[j.Pipeline.ID]
	if !ok {
		return fmt.Errorf("memstore: job %d: pipeline %d: %w", j.ID, j.Pipeline.ID, jobartifacts.ErrNotFound)
	}
	if pl.ProjectID != j.ProjectID {
		return fmt.Errorf("%w: job %d of project %d: pipeline %d belongs to project %d", errConflict, j.ID, j.ProjectID, pl.ID, pl.ProjectID)
	}
	if old, ok := s.jobs[j.ID]; ok {
		delete(s.pipelineJobs[old.Pipeline.ID], j.ID)
	}
	stored := cloneJob(j)
	// Only the id is kept; reads fill in the pipeline as stored.
	stored.Pipeline = jobartifacts.Pipeline{ID: j.Pipeline.ID}
	s.jobs[j.ID] = stored
	addToIndex(s.pipelineJobs, j.Pipeline.ID, j.ID)
	return nil
}

// PutArchive stores zip as the job's "archive" artifact, named
// "artifacts.zip" and never expiring, with jobartifacts.StoreArtifact. It is
// a shorthand for seeding; BuildZip makes archives.
func (s *Store) PutArchive(ctx context.Context, projectID, jobID int64, zip []byte) (*jobartifacts.Job, error) {
	a := jobartifacts.Artifact{
		FileType:   jobartifacts.ArtifactTypeArchive,
		FileFormat: "zip",
		Filename:   "artifacts.zip",
	}
	return jobartifacts.StoreArtifact(ctx, s, projectID, jobID, a, bytesReader(zip))
}

func addToIndex(index map[int64]map[int64]struct{}, parent, child int64) {
	children, ok := index[parent]
	if !ok {
		children = make(map[int64]struct{})
		index[parent] = children
	}
	children[child] = struct{}{}
}

// Project returns the project with the given id, or ErrNotFound.
func (s *Store) Project(ctx context.Context, id int64) (*jobartifacts.Project, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	p, ok := s.projects[id]
	if !ok {
		return nil, fmt.Errorf("memstore: project %d: %w", id, jobartifacts.ErrNotFound)
	}
	c := cloneProject(p)
	return &c, nil
}

// ProjectByPath returns the project whose full path equals path exactly
// (case-sensitive), or ErrNotFound.
func (s *Store) ProjectByPath(ctx context.Context, path string) (*jobartifacts.Project, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	id, ok := s.projectByPath[path]
	if !ok {
		return nil, fmt.Errorf("memstore: project %q: %w", path, jobartifacts.ErrNotFound)
	}
	c := cloneProject(s.projects[id])
	return &c, nil
}

// Job returns job jobID of project projectID, or ErrNotFound, also when the
// job belongs to another project.
func (s *Store) Job(ctx context.Context, projectID, jobID int64) (*jobartifacts.Job, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	j, err := s.projectJob(projectID, jobID)
	if err != nil {
		return nil, err
	}
	return s.jobOut(j), nil
}

// JobByID returns a job by its id alone, or ErrNotFound.
func (s *Store) JobByID(ctx context.Context, jobID int64) (*jobartifacts.Job, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	j, ok := s.jobs[jobID]
	if !ok {
		return nil, fmt.Errorf("memstore: job %d: %w", jobID, jobartifacts.ErrNotFound)
	}
	return s.jobOut(j), nil
}

// projectJob returns the stored job (not a copy). s.mu must be held.
func (s *Store) projectJob(projectID, jobID int64) (jobartifacts.Job, error) {
	j, ok := s.jobs[jobID]
	if !ok || j.ProjectID != projectID {
		return jobartifacts.Job{}, fmt.Errorf("memstore: job %d of project %d: %w", jobID, projectID, jobartifacts.ErrNotFound)
	}
	return j, nil
}

// jobOut returns a copy of a stored job carrying its pipeline as stored.
// s.mu must be held.
func (s *Store) jobOut(j jobartifacts.Job) *jobartifacts.Job {
	c := cloneJob(j)
	c.Pipeline = clonePipeline(s.pipelines[j.Pipeline.ID])
	return &c
}

// LatestSuccessfulJob takes the newest (highest id) pipeline of the project
// whose ref is ref and whose status is "success", and returns its job named
// name with the highest id, whatever that job's status. There is no fallback
// to older pipelines.
func (s *Store) LatestSuccessfulJob(ctx context.Context, projectID int64, ref, name string) (*jobartifacts.Job, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	var newest int64
	found := false
	for id := range s.projectPipelines[projectID] {
		p := s.pipelines[id]
		if p.Ref == ref && p.Status == jobartifacts.StatusSuccess && (!found || id > newest) {
			newest, found = id, true
		}
	}
	if found {
		if j, ok := s.namedJob(newest, name, func(jobartifacts.Job) bool { return true }); ok {
			return s.jobOut(j), nil
		}
	}
	return nil, fmt.Errorf("memstore: latest successful job %q of ref %q in project %d: %w", name, ref, projectID, jobartifacts.ErrNotFound)
}

// RecentSuccessfulJob searches the 100 newest successful pipelines of the ref,
// newest first, for a job named name whose status is "success" and that has
// an archive artifact. Within one pipeline the highest job id wins.
func (s *Store) RecentSuccessfulJob(ctx context.Context, projectID int64, ref, name string) (*jobartifacts.Job, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	pipelines := s.successfulPipelines(projectID, ref)
	if len(pipelines) > recentPipelineWindow {
		pipelines = pipelines[:recentPipelineWindow]
	}
	usable := func(j jobartifacts.Job) bool {
		_, hasArchive := j.Archive()
		return j.Status == jobartifacts.StatusSuccess && hasArchive
	}
	for _, pipelineID := range pipelines {
		if j, ok := s.namedJob(pipelineID, name, usable); ok {
			return s.jobOut(j), nil
		}
	}
	return nil, fmt.Errorf("memstore: recent successful job %q of ref %q in project %d: %w", name, ref, projectID, jobartifacts.ErrNotFound)
}

// successfulPipelines returns the ids of the project's successful pipelines
// of ref, newest (highest id) first. s.mu must be held.
func (s *Store) successfulPipelines(projectID int64, ref string) []int64 {
	var ids []int64
	for id := range s.projectPipelines[projectID] {
		p := s.pipelines[id]
		if p.Ref == ref && p.Status == jobartifacts.StatusSuccess {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	slices.Reverse(ids)
	return ids
}

// namedJob returns the pipeline's job named name, accepted by ok, with the
// highest id. s.mu must be held.
func (s *Store) namedJob(pipelineID int64, name string, ok func(jobartifacts.Job) bool) (jobartifacts.Job, bool) {
	var best jobartifacts.Job
	found := false
	for id := range s.pipelineJobs[pipelineID] {
		j := s.jobs[id]
		if j.Name == name && (!found || j.ID > best.ID) && ok(j) {
			best, found = j, true
		}
	}
	return best, found
}

// KeepArtifacts clears the expiry of the job's artifacts and locks them.
func (s *Store) KeepArtifacts(ctx context.Context, projectID, jobID int64) (*jobartifacts.Job, error) {
	return s.updateJob(ctx, projectID, jobID, (*jobartifacts.Job).Keep)
}

// RecordArtifact adds a to the job's artifacts, replacing the one of the same
// FileType, and sets the job's ArtifactsExpireAt to a.ExpireAt.
func (s *Store) RecordArtifact(ctx context.Context, projectID, jobID int64, a jobartifacts.Artifact) (*jobartifacts.Job, error) {
	return s.updateJob(ctx, projectID, jobID, func(j *jobartifacts.Job) { j.PutArtifact(cloneArtifact(a)) })
}

// ForgetArtifacts removes the records of the job's artifacts whose FileType
// is in types (all of them when types is empty) and returns them.
func (s *Store) ForgetArtifacts(ctx context.Context, projectID, jobID int64, types ...string) ([]jobartifacts.Artifact, error) {
	var removed []jobartifacts.Artifact
	_, err := s.updateJob(ctx, projectID, jobID, func(j *jobartifacts.Job) {
		for _, a := range j.RemoveArtifacts(types...) {
			removed = append(removed, cloneArtifact(a))
		}
	})
	if err != nil {
		return nil, err
	}
	return removed, nil
}

// updateJob applies change to the stored job under the write lock and
// returns a copy of the result.
func (s *Store) updateJob(ctx context.Context, projectID, jobID int64, change func(*jobartifacts.Job)) (*jobartifacts.Job, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	j, err := s.projectJob(projectID, jobID)
	if err != nil {
		return nil, err
	}
	// Change a copy so that no slice is shared with values handed out earlier.
	j = cloneJob(j)
	change(&j)
	s.jobs[jobID] = j
	return s.jobOut(j), nil
}

// ExpireProjectArtifacts makes every artifact of the project's jobs that are
// not ArtifactsLocked expire at now, unless it expires earlier already. The
// jobs' ArtifactsExpireAt follow the same rule.
func (s *Store) ExpireProjectArtifacts(ctx context.Context, projectID int64, now time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.projects[projectID]; !ok {
		return fmt.Errorf("memstore: project %d: %w", projectID, jobartifacts.ErrNotFound)
	}
	for pipelineID := range s.projectPipelines[projectID] {
		for jobID := range s.pipelineJobs[pipelineID] {
			// Change a copy: values handed out earlier share no slice with it.
			if j := cloneJob(s.jobs[jobID]); j.ExpireArtifacts(now) {
				s.jobs[jobID] = j
			}
		}
	}
	return nil
}

// ExpiredArtifacts lists, in job id order, up to limit jobs that are not
// ArtifactsLocked and have an artifact whose ExpireAt is not after now.
// limit <= 0 means no limit.
func (s *Store) ExpiredArtifacts(ctx context.Context, now time.Time, limit int) ([]*jobartifacts.Job, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	var ids []int64
	for id, j := range s.jobs {
		if j.HasExpiredArtifacts(now) {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	if limit > 0 && len(ids) > limit {
		ids = ids[:limit]
	}
	jobs := make([]*jobartifacts.Job, len(ids))
	for i, id := range ids {
		jobs[i] = s.jobOut(s.jobs[id])
	}
	return jobs, nil
}
