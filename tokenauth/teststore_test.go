package tokenauth

import (
	"context"
	"sync"

	"github.com/ciartifacts/jobartifacts"
	"github.com/ciartifacts/jobartifacts/memstore"
)

// testStore is a memstore that can be made to fail: JobByID with jobErr,
// Project with projectErr, to show how the Authorizer treats a broken or
// changed store.
type testStore struct {
	*memstore.Store

	mu         sync.Mutex
	jobErr     error
	projectErr error
}

func (s *testStore) failJobs(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.jobErr = err
}

func (s *testStore) failProjects(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.projectErr = err
}

func (s *testStore) JobByID(ctx context.Context, id int64) (*jobartifacts.Job, error) {
	s.mu.Lock()
	err := s.jobErr
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return s.Store.JobByID(ctx, id)
}

func (s *testStore) Project(ctx context.Context, id int64) (*jobartifacts.Project, error) {
	s.mu.Lock()
	err := s.projectErr
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return s.Store.Project(ctx, id)
}
