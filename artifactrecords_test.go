package jobartifacts

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestJobArtifactRecords(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	at := func(d time.Duration) *time.Time { t := now.Add(d); return &t }
	newJob := func() *Job {
		return &Job{
			ArtifactsExpireAt: at(time.Hour),
			Artifacts: []Artifact{
				{FileType: "archive", ExpireAt: at(time.Hour)},
				{FileType: "trace"},
				{FileType: "junit", ExpireAt: at(-time.Hour)},
			},
		}
	}

	t.Run("Keep", func(t *testing.T) {
		j := newJob()
		j.Keep()
		require.True(t, j.ArtifactsLocked)
		require.Nil(t, j.ArtifactsExpireAt)
		for _, a := range j.Artifacts {
			require.Nil(t, a.ExpireAt, a.FileType)
		}
		require.False(t, j.ExpireArtifacts(now), "a kept job does not expire")
		require.False(t, j.HasExpiredArtifacts(now.Add(1000*time.Hour)))
	})

	t.Run("PutArtifact replaces the same type and sets the job's expiry", func(t *testing.T) {
		j := newJob()
		j.PutArtifact(Artifact{FileType: "archive", Filename: "new.zip", ExpireAt: at(2 * time.Hour)})
		require.Len(t, j.Artifacts, 3)
		require.Equal(t, "new.zip", j.Artifacts[0].Filename)
		require.Equal(t, *at(2 * time.Hour), *j.ArtifactsExpireAt)
		j.PutArtifact(Artifact{FileType: "dotenv"})
		require.Len(t, j.Artifacts, 4)
		require.Nil(t, j.ArtifactsExpireAt, "the last upload decides, never included")
	})

	t.Run("RemoveArtifacts", func(t *testing.T) {
		j := newJob()
		removed := j.RemoveArtifacts("archive", "junit")
		require.Equal(t, []string{"archive", "junit"}, fileTypes(removed))
		require.Equal(t, []string{"trace"}, fileTypes(j.Artifacts))
		require.Empty(t, j.RemoveArtifacts("archive"), "nothing left to remove is no error")
		require.Equal(t, []string{"trace"}, fileTypes(j.RemoveArtifacts()))
		require.Empty(t, j.Artifacts)
	})

	t.Run("ExpireArtifacts", func(t *testing.T) {
		j := newJob()
		require.True(t, j.ExpireArtifacts(now))
		require.Equal(t, now, *j.Artifacts[0].ExpireAt, "a later expiry moves to now")
		require.Equal(t, now, *j.Artifacts[1].ExpireAt, "never expiring becomes now")
		require.Equal(t, *at(-time.Hour), *j.Artifacts[2].ExpireAt, "an earlier expiry is not pushed later")
		require.Equal(t, now, *j.ArtifactsExpireAt)
		require.NotSame(t, j.Artifacts[0].ExpireAt, j.Artifacts[1].ExpireAt, "no shared time values")
		require.False(t, j.ExpireArtifacts(now), "a second call changes nothing")
		require.False(t, (&Job{}).ExpireArtifacts(now), "no artifacts, nothing to expire")
	})

	t.Run("HasExpiredArtifacts", func(t *testing.T) {
		j := newJob()
		require.True(t, j.HasExpiredArtifacts(now), "junit expired an hour ago")
		j.RemoveArtifacts("junit")
		require.False(t, j.HasExpiredArtifacts(now))
		require.True(t, j.HasExpiredArtifacts(now.Add(time.Hour)), "expiry at exactly now counts")
	})
}

func fileTypes(as []Artifact) []string {
	types := []string{}
	for _, a := range as {
		types = append(types, a.FileType)
	}
	return types
}
