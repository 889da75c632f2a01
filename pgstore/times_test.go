package pgstore

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ciartifacts/jobartifacts"
)

// Times come back as the same instants, in UTC: to the microsecond in
// columns (expiry), to the nanosecond in the doc (presentation times).
func TestTimesComeBackUTC(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	zone := time.FixedZone("UTC+5:30", 5*3600+1800)
	micro := time.Date(2026, 7, 8, 9, 10, 11, 123_456_000, zone)
	nano := time.Date(2026, 7, 8, 9, 10, 11, 123_456_789, zone)

	require.NoError(t, s.PutProject(ctx, jobartifacts.Project{ID: 1, PathWithNamespace: "g/a"}))
	require.NoError(t, s.PutPipeline(ctx, jobartifacts.Pipeline{ID: 10, ProjectID: 1, Ref: "main", Status: "success", CreatedAt: &nano}))
	require.NoError(t, s.PutJob(ctx, jobartifacts.Job{
		ID: 100, ProjectID: 1, Pipeline: jobartifacts.Pipeline{ID: 10}, Name: "build", Status: "success",
		StartedAt:         &nano,
		User:              &jobartifacts.User{ID: 7, CreatedAt: &nano},
		ArtifactsExpireAt: &micro,
		Artifacts:         []jobartifacts.Artifact{{FileType: "archive", FileFormat: "zip", Blob: "k", ExpireAt: &micro}},
	}))
	j, err := s.JobByID(ctx, 100)
	require.NoError(t, err)
	for name, got := range map[string]*time.Time{
		"pipeline created_at": j.Pipeline.CreatedAt, "started_at": j.StartedAt, "user created_at": j.User.CreatedAt,
	} {
		require.Equal(t, nano.UTC(), *got, name)
	}
	require.Equal(t, micro.UTC(), *j.ArtifactsExpireAt)
	require.Equal(t, micro.UTC(), *j.Artifacts[0].ExpireAt)
}
