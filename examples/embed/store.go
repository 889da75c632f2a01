package main

import (
	"context"
	"errors"

	"github.com/ciartifacts/jobartifacts"
	"github.com/ciartifacts/jobartifacts/memstore"
)

// aliasStore is a host's own Store: memstore for everything, except that a
// project can also be found by its old paths, the way GitLab keeps a renamed
// project reachable. Embedding *memstore.Store provides every other method
// of jobartifacts.Store; only ProjectByPath is overridden.
type aliasStore struct {
	*memstore.Store
	// aliases maps an old full path to the project's current one. It is
	// filled before serving and only read afterwards.
	aliases map[string]string
}

var _ jobartifacts.Store = (*aliasStore)(nil)

// ProjectByPath finds the project by its path, then by an alias of it.
func (s *aliasStore) ProjectByPath(ctx context.Context, path string) (*jobartifacts.Project, error) {
	p, err := s.Store.ProjectByPath(ctx, path)
	if errors.Is(err, jobartifacts.ErrNotFound) {
		if current, ok := s.aliases[path]; ok {
			return s.Store.ProjectByPath(ctx, current)
		}
	}
	return p, err
}
