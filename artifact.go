package jobartifacts

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
)

// StoreArtifact writes the bytes of r to a fresh blob and records them as the
// job's artifact a, replacing any artifact of the same FileType, and fills in
// a.Blob, a.Size and a.SHA256. The replaced artifact's blob is queued for
// deletion by the store. On any failure nothing is recorded and the new blob
// is removed, so a reader sees the old artifact or the new one, never a
// partial one.
//
// Hosts and seeding tools use it (the example server's import does); the
// upload route does not replace, it creates (MetadataStore.CreateArtifact).
func StoreArtifact(ctx context.Context, s Store, projectID, jobID int64, a Artifact, r io.Reader) (*Job, error) {
	if a.FileType == "" {
		a.FileType = ArtifactTypeArchive
	}
	if _, err := s.Job(ctx, projectID, jobID); err != nil {
		return nil, err
	}
	a.Blob = NewBlobKey(projectID, jobID, a.FileType)
	src := &uploadReader{r: r, sum: sha256.New()}
	info, err := s.PutBlob(ctx, a.Blob, src)
	if err != nil {
		return nil, err
	}
	a.Size = info.Size
	a.SHA256 = hex.EncodeToString(src.SHA256())
	job, _, err := s.ReplaceArtifact(ctx, projectID, jobID, a)
	if err != nil {
		// The request may be cancelled; the clean-up must still happen.
		_ = s.DeleteBlob(context.WithoutCancel(ctx), a.Blob)
		return nil, err
	}
	return job, nil
}
