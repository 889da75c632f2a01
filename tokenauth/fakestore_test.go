package tokenauth

import (
	"context"
	"fmt"
	"sync"

	"github.com/ciartifacts/jobartifacts"
)

// fakeStore is the part of a MetadataStore the Authorizer uses: JobByID and
// Project. Any other method panics through the nil embedded interface, which
// would show that the Authorizer reaches further than it should.
type fakeStore struct {
	jobartifacts.MetadataStore

	mu       sync.Mutex
	projects map[int64]jobartifacts.Project
	jobs     map[int64]jobartifacts.Job
	// failJobs makes JobByID fail with this error (not "not found").
	failJobs error
}

func newFakeStore() *fakeStore {
	return &fakeStore{projects: map[int64]jobartifacts.Project{}, jobs: map[int64]jobartifacts.Job{}}
}

func (s *fakeStore) putProject(p jobartifacts.Project) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.projects[p.ID] = p
}

func (s *fakeStore) putJob(j jobartifacts.Job) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.jobs[j.ID] = j
}

func (s *fakeStore) Project(_ context.Context, id int64) (*jobartifacts.Project, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.projects[id]
	if !ok {
		return nil, fmt.Errorf("project %d: %w", id, jobartifacts.ErrNotFound)
	}
	return &p, nil
}

func (s *fakeStore) JobByID(_ context.Context, id int64) (*jobartifacts.Job, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failJobs != nil {
		return nil, s.failJobs
	}
	j, ok := s.jobs[id]
	if !ok {
		return nil, fmt.Errorf("job %d: %w", id, jobartifacts.ErrNotFound)
	}
	return &j, nil
}
