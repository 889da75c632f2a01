package memstore

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/ciartifacts/jobartifacts"
	"github.com/ciartifacts/jobartifacts/internal/records"
)

// recentPipelineWindow is how many of the newest successful pipelines
// RecentSuccessfulJob searches, as GitLab's search_recent_successful_pipelines.
const recentPipelineWindow = 100

// Store is an in-memory jobartifacts.Store that can be seeded. It is safe
// for concurrent use. The zero value is not usable; call New.
type Store struct {
	st *state
}

// state is what every view of one store shares.
type state struct {
	now func() time.Time

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

	blobs     map[jobartifacts.BlobKey]*blobVersion
	deletions map[jobartifacts.BlobKey]*queuedDeletion
}

var _ jobartifacts.Store = (*Store)(nil)

// Option configures New.
type Option func(*config)

type config struct {
	now func() time.Time
}

// WithClock sets the store's clock (default time.Now): it stamps queued blob
// deletions, measures their grace periods and leases, and dates stored
// blobs. Tests move it to make time pass.
func WithClock(now func() time.Time) Option {
	return func(c *config) {
		if now != nil {
			c.now = now
		}
	}
}

// New returns an empty store.
func New(opts ...Option) *Store {
	cfg := config{now: time.Now}
	for _, o := range opts {
		o(&cfg)
	}
	return &Store{st: &state{
		now:              cfg.now,
		projects:         make(map[int64]jobartifacts.Project),
		projectByPath:    make(map[string]int64),
		pipelines:        make(map[int64]jobartifacts.Pipeline),
		projectPipelines: make(map[int64]map[int64]struct{}),
		jobs:             make(map[int64]jobartifacts.Job),
		pipelineJobs:     make(map[int64]map[int64]struct{}),
		blobs:            make(map[jobartifacts.BlobKey]*blobVersion),
		deletions:        make(map[jobartifacts.BlobKey]*queuedDeletion),
	}}
}

// View returns another Store over the same data and clock, as a second
// replica sharing one database sees it: a change made through either is
// seen by both, and the conditional writes of one race those of the other
// exactly as they would across processes.
func (s *Store) View() *Store {
	return &Store{st: s.st}
}

// PutProject creates or replaces a project. A path already used by another
// project is ErrConflict.
func (s *Store) PutProject(ctx context.Context, p jobartifacts.Project) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	st := s.st
	st.mu.Lock()
	defer st.mu.Unlock()
	if other, ok := st.projectByPath[p.PathWithNamespace]; ok && other != p.ID {
		return fmt.Errorf("memstore: project %d: path %q belongs to project %d: %w", p.ID, p.PathWithNamespace, other, jobartifacts.ErrConflict)
	}
	if old, ok := st.projects[p.ID]; ok {
		delete(st.projectByPath, old.PathWithNamespace)
	}
	st.projects[p.ID] = records.CloneProject(p)
	st.projectByPath[p.PathWithNamespace] = p.ID
	return nil
}

// PutPipeline creates or replaces a pipeline. Its project must exist
// (ErrNotFound otherwise), and a pipeline cannot move to another project
// (ErrConflict).
func (s *Store) PutPipeline(ctx context.Context, p jobartifacts.Pipeline) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	st := s.st
	st.mu.Lock()
	defer st.mu.Unlock()
	if _, ok := st.projects[p.ProjectID]; !ok {
		return fmt.Errorf("memstore: pipeline %d: project %d: %w", p.ID, p.ProjectID, jobartifacts.ErrNotFound)
	}
	if old, ok := st.pipelines[p.ID]; ok && old.ProjectID != p.ProjectID {
		return fmt.Errorf("memstore: pipeline %d belongs to project %d, not %d: %w", p.ID, old.ProjectID, p.ProjectID, jobartifacts.ErrConflict)
	}
	st.pipelines[p.ID] = records.ClonePipeline(p)
	addToIndex(st.projectPipelines, p.ProjectID, p.ID)
	return nil
}

// PutJob creates or replaces a job. Its project and its pipeline
// (j.Pipeline.ID) must exist (ErrNotFound otherwise) and the pipeline must
// belong to the project (ErrConflict otherwise). Only j.Pipeline.ID is used:
// jobs read back carry the pipeline as last stored with PutPipeline.
// j.Artifacts are recorded as given; their blobs are the caller's business,
// and records replaced by PutJob queue nothing.
func (s *Store) PutJob(ctx context.Context, j jobartifacts.Job) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	st := s.st
	st.mu.Lock()
	defer st.mu.Unlock()
	if _, ok := st.projects[j.ProjectID]; !ok {
		return fmt.Errorf("memstore: job %d: project %d: %w", j.ID, j.ProjectID, jobartifacts.ErrNotFound)
	}
	pl, ok := st.pipelines[j.Pipeline.ID]
	if !ok {
		return fmt.Errorf("memstore: job %d: pipeline %d: %w", j.ID, j.Pipeline.ID, jobartifacts.ErrNotFound)
	}
	if pl.ProjectID != j.ProjectID {
		return fmt.Errorf("memstore: job %d of project %d: pipeline %d belongs to project %d: %w", j.ID, j.ProjectID, pl.ID, pl.ProjectID, jobartifacts.ErrConflict)
	}
	if old, ok := st.jobs[j.ID]; ok {
		delete(st.pipelineJobs[old.Pipeline.ID], j.ID)
	}
	stored := records.CloneJob(j)
	// Only the id is kept; reads fill in the pipeline as stored.
	stored.Pipeline = jobartifacts.Pipeline{ID: j.Pipeline.ID}
	st.jobs[j.ID] = stored
	addToIndex(st.pipelineJobs, j.Pipeline.ID, j.ID)
	return nil
}

// PutArchive stores zip as the job's "archive" artifact, named
// "artifacts.zip" and never expiring, with jobartifacts.StoreArtifact (an
// archive it replaces is queued for deletion). It is a shorthand for
// seeding.
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
	st := s.st
	st.mu.RLock()
	defer st.mu.RUnlock()
	p, ok := st.projects[id]
	if !ok {
		return nil, fmt.Errorf("memstore: project %d: %w", id, jobartifacts.ErrNotFound)
	}
	c := records.CloneProject(p)
	return &c, nil
}

// ProjectByPath returns the project whose full path equals path exactly
// (case-sensitive), or ErrNotFound.
func (s *Store) ProjectByPath(ctx context.Context, path string) (*jobartifacts.Project, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	st := s.st
	st.mu.RLock()
	defer st.mu.RUnlock()
	id, ok := st.projectByPath[path]
	if !ok {
		return nil, fmt.Errorf("memstore: project %q: %w", path, jobartifacts.ErrNotFound)
	}
	c := records.CloneProject(st.projects[id])
	return &c, nil
}

// Job returns job jobID of project projectID, or ErrNotFound, also when the
// job belongs to another project.
func (s *Store) Job(ctx context.Context, projectID, jobID int64) (*jobartifacts.Job, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	st := s.st
	st.mu.RLock()
	defer st.mu.RUnlock()
	j, err := st.projectJob(projectID, jobID)
	if err != nil {
		return nil, err
	}
	return st.jobOut(j), nil
}

// JobByID returns a job by its id alone, or ErrNotFound.
func (s *Store) JobByID(ctx context.Context, jobID int64) (*jobartifacts.Job, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	st := s.st
	st.mu.RLock()
	defer st.mu.RUnlock()
	j, ok := st.jobs[jobID]
	if !ok {
		return nil, fmt.Errorf("memstore: job %d: %w", jobID, jobartifacts.ErrNotFound)
	}
	return st.jobOut(j), nil
}

// projectJob returns the stored job (not a copy). st.mu must be held.
func (st *state) projectJob(projectID, jobID int64) (jobartifacts.Job, error) {
	j, ok := st.jobs[jobID]
	if !ok || j.ProjectID != projectID {
		return jobartifacts.Job{}, fmt.Errorf("memstore: job %d of project %d: %w", jobID, projectID, jobartifacts.ErrNotFound)
	}
	return j, nil
}

// jobOut returns a copy of a stored job carrying its pipeline as stored.
// st.mu must be held.
func (st *state) jobOut(j jobartifacts.Job) *jobartifacts.Job {
	c := records.CloneJob(j)
	c.Pipeline = records.ClonePipeline(st.pipelines[j.Pipeline.ID])
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
	st := s.st
	st.mu.RLock()
	defer st.mu.RUnlock()
	var newest int64
	found := false
	for id := range st.projectPipelines[projectID] {
		p := st.pipelines[id]
		if p.Ref == ref && p.Status == jobartifacts.StatusSuccess && (!found || id > newest) {
			newest, found = id, true
		}
	}
	if found {
		if j, ok := st.namedJob(newest, name, func(jobartifacts.Job) bool { return true }); ok {
			return st.jobOut(j), nil
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
	st := s.st
	st.mu.RLock()
	defer st.mu.RUnlock()
	pipelines := st.successfulPipelines(projectID, ref)
	if len(pipelines) > recentPipelineWindow {
		pipelines = pipelines[:recentPipelineWindow]
	}
	usable := func(j jobartifacts.Job) bool {
		_, hasArchive := j.Archive()
		return j.Status == jobartifacts.StatusSuccess && hasArchive
	}
	for _, pipelineID := range pipelines {
		if j, ok := st.namedJob(pipelineID, name, usable); ok {
			return st.jobOut(j), nil
		}
	}
	return nil, fmt.Errorf("memstore: recent successful job %q of ref %q in project %d: %w", name, ref, projectID, jobartifacts.ErrNotFound)
}

// successfulPipelines returns the ids of the project's successful pipelines
// of ref, newest (highest id) first. st.mu must be held.
func (st *state) successfulPipelines(projectID int64, ref string) []int64 {
	var ids []int64
	for id := range st.projectPipelines[projectID] {
		p := st.pipelines[id]
		if p.Ref == ref && p.Status == jobartifacts.StatusSuccess {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	slices.Reverse(ids)
	return ids
}

// namedJob returns the pipeline's job named name, accepted by ok, with the
// highest id. st.mu must be held.
func (st *state) namedJob(pipelineID int64, name string, ok func(jobartifacts.Job) bool) (jobartifacts.Job, bool) {
	var best jobartifacts.Job
	found := false
	for id := range st.pipelineJobs[pipelineID] {
		j := st.jobs[id]
		if j.Name == name && (!found || j.ID > best.ID) && ok(j) {
			best, found = j, true
		}
	}
	return best, found
}
