package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ciartifacts/jobartifacts"
)

// ProjectJob MUST return what Project(ctx, projectID) and then Job(ctx,
// projectID, jobID) would: when the project lookup fails, a nil project and
// its error; else the project, and the job or the job lookup's error. Only
// a store that is a jobartifacts.ProjectJobReader is checked.
func testProjectJob(t *testing.T, s MetadataUnderTest) {
	pj, ok := s.(jobartifacts.ProjectJobReader)
	if !ok {
		t.Skipf("%T is not a jobartifacts.ProjectJobReader", s)
	}
	expireAt := at(3600 * time.Second)
	jobWithArtifacts(t, s, expireAt,
		artifactRecord(1, 100, archive, expireAt),
		artifactRecord(1, 100, "junit", nil))
	tests := []struct {
		name             string
		projectID, jobID int64
	}{
		{"found", 1, 100},
		{"found in the other project", 2, 200},
		{"no such job", 1, 999},
		{"job of another project", 1, 200},
		{"job of another project, the other way", 2, 100},
		{"no such project", 3, 100},
		{"neither", 3, 999},
	}
	for _, tc := range tests {
		requireProjectThenJob(t, t.Context(), s, pj, tc.projectID, tc.jobID, tc.name)
	}
	// A failed lookup that is not "does not exist": whatever each method
	// makes of a cancelled context, ProjectJob makes the same.
	cancelled, cancel := context.WithCancel(t.Context())
	cancel()
	for _, tc := range tests {
		requireProjectThenJob(t, cancelled, s, pj, tc.projectID, tc.jobID, tc.name+", cancelled")
	}
}

// requireProjectThenJob checks one ProjectJob call against Project and then
// Job with the same arguments.
func requireProjectThenJob(t *testing.T, ctx context.Context, s jobartifacts.MetadataStore, pj jobartifacts.ProjectJobReader, projectID, jobID int64, name string) {
	t.Helper()
	wantP, errP := s.Project(ctx, projectID)
	p, j, err := pj.ProjectJob(ctx, projectID, jobID)
	if errP != nil {
		require.Nil(t, p, "%s: the project lookup failed (%v)", name, errP)
		require.Nil(t, j, "%s: the project lookup failed (%v)", name, errP)
		requireSameFailure(t, errP, err, name)
		return
	}
	require.Equal(t, wantP, p, name)
	wantJ, errJ := s.Job(ctx, projectID, jobID)
	if errJ != nil {
		require.Nil(t, j, "%s: the job lookup failed (%v)", name, errJ)
		requireSameFailure(t, errJ, err, name)
		return
	}
	require.NoError(t, err, name)
	require.Equal(t, wantJ, j, name)
}

// requireSameFailure: got is an error, and the handler tells it apart from
// want in no way: both mean "does not exist", or neither does, and a
// context's error is kept by both or by neither.
func requireSameFailure(t *testing.T, want, got error, name string) {
	t.Helper()
	require.Error(t, got, "%s: want an error like %v", name, want)
	require.Equal(t, isNotFound(want), isNotFound(got), "%s: want an error like %v, got %v", name, want, got)
	for _, sentinel := range []error{context.Canceled, context.DeadlineExceeded} {
		require.Equal(t, errors.Is(want, sentinel), errors.Is(got, sentinel), "%s: want an error like %v, got %v", name, want, got)
	}
}
