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
				{FileType: "archive", ExpireAt: at(time.Hour), Blob: "a"},
				{FileType: "trace", Blob: "t"},
				{FileType: "junit", ExpireAt: at(-time.Hour), Blob: "j"},
			},
		}
	}

	t.Run("Keep", func(t *testing.T) {
		j := newJob()
		require.True(t, j.Keep(now))
		require.True(t, j.ArtifactsLocked)
		require.Nil(t, j.ArtifactsExpireAt)
		for _, a := range j.Artifacts {
			require.Nil(t, a.ExpireAt, a.FileType)
		}
		require.False(t, j.ExpireArtifacts(now), "a kept job does not expire")
		require.False(t, j.HasSweepableArtifacts(now.Add(1000*time.Hour)))
		require.Empty(t, j.SweepArtifacts(now.Add(1000*time.Hour), 0))
	})

	t.Run("Keep needs an archive that has not expired", func(t *testing.T) {
		j := newJob()
		require.False(t, j.Keep(now.Add(time.Hour)), "the archive expires at exactly that time")
		require.Equal(t, newJob(), j, "a refused keep changes nothing")
		j.RemoveArtifacts("trace", "junit")
		require.False(t, j.Keep(now))
		require.False(t, j.ArtifactsLocked)

		locked := newJob()
		locked.ArtifactsLocked = true
		require.True(t, locked.Keep(now.Add(24*time.Hour)), "kept artifacts never expire")

		fallback := &Job{ArtifactsExpireAt: at(-time.Minute), Artifacts: []Artifact{{FileType: "archive"}}}
		require.False(t, fallback.Keep(now), "an archive without its own expiry takes the job's")
	})

	t.Run("CreateArtifact only where the type is free", func(t *testing.T) {
		j := newJob()
		existing, ok := j.CreateArtifact(Artifact{FileType: "archive", Blob: "new"})
		require.False(t, ok)
		require.Equal(t, BlobKey("a"), existing.Blob)
		require.Equal(t, newJob(), j, "a refused create changes nothing")

		existing, ok = j.CreateArtifact(Artifact{FileType: "dotenv", Blob: "d", ExpireAt: at(2 * time.Hour)})
		require.True(t, ok)
		require.Nil(t, existing)
		require.Equal(t, []string{"archive", "trace", "junit", "dotenv"}, fileTypes(j.Artifacts))
		require.Equal(t, *at(2 * time.Hour), *j.ArtifactsExpireAt, "the last upload decides")
	})

	t.Run("ReplaceArtifact returns what it replaced", func(t *testing.T) {
		j := newJob()
		replaced := j.ReplaceArtifact(Artifact{FileType: "archive", Filename: "new.zip", ExpireAt: at(2 * time.Hour), Blob: "a2"})
		require.Equal(t, BlobKey("a"), replaced.Blob)
		require.Len(t, j.Artifacts, 3)
		require.Equal(t, "new.zip", j.Artifacts[0].Filename)
		require.Equal(t, *at(2 * time.Hour), *j.ArtifactsExpireAt)
		require.Nil(t, j.ReplaceArtifact(Artifact{FileType: "dotenv"}))
		require.Len(t, j.Artifacts, 4)
		require.Nil(t, j.ArtifactsExpireAt, "the last upload decides, never included")
	})

	t.Run("RemoveArtifacts keeps what is excepted", func(t *testing.T) {
		j := newJob()
		removed := j.RemoveArtifacts("trace")
		require.Equal(t, []string{"archive", "junit"}, fileTypes(removed))
		require.Equal(t, []string{"trace"}, fileTypes(j.Artifacts))
		require.Empty(t, j.RemoveArtifacts("trace"), "nothing left to remove is no error")
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

	t.Run("SweepArtifacts never takes a log", func(t *testing.T) {
		j := newJob()
		require.True(t, j.HasSweepableArtifacts(now), "junit expired an hour ago")
		require.Equal(t, []string{"junit"}, fileTypes(j.SweepArtifacts(now, 0)))
		require.False(t, j.HasSweepableArtifacts(now))
		j.ExpireArtifacts(now)
		require.Equal(t, []string{"archive"}, fileTypes(j.SweepArtifacts(now, 0)), "expiry at exactly now counts; the expired log stays")
		require.Equal(t, []string{"trace"}, fileTypes(j.Artifacts))
		require.False(t, j.HasSweepableArtifacts(now.Add(1000*time.Hour)), "a job whose only expired artifact is its log is never listed")

		j = newJob()
		j.ExpireArtifacts(now)
		require.Equal(t, []string{"archive"}, fileTypes(j.SweepArtifacts(now, 1)), "at most limit, in order")
		require.Equal(t, []string{"trace", "junit"}, fileTypes(j.Artifacts), "the rest keep their order")
	})
}

func TestParseBlobKey(t *testing.T) {
	key := NewBlobKey(12, 345, "archive")
	p, j, ok := ParseBlobKey(key)
	require.True(t, ok)
	require.Equal(t, [2]int64{12, 345}, [2]int64{p, j})
	for _, bad := range []BlobKey{"", "projects/1/jobs/2/", "projects/1/jobs/2/a/b", "projects/x/jobs/2/a", "projects/1/job/2/a", "blobs/1/jobs/2/a", "projects/0/jobs/2/a"} {
		_, _, ok := ParseBlobKey(bad)
		require.False(t, ok, "%q", bad)
	}
}

func fileTypes(as []Artifact) []string {
	types := []string{}
	for _, a := range as {
		types = append(types, a.FileType)
	}
	return types
}
