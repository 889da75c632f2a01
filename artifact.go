package jobartifacts

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
)

// StoreArtifact writes the bytes of r to a fresh blob and records them as the
// job's artifact a, filling in a.Blob, a.Size and a.SHA256. The artifact of
// the same FileType that it replaces, if any, has its blob deleted afterwards.
// On any failure nothing is recorded and the new blob is removed, so a
// reader sees the old artifact or the new one, never a partial one.
//
// The upload route uses it, and so can a host or a seeding tool.
func StoreArtifact(ctx context.Context, s Store, projectID, jobID int64, a Artifact, r io.Reader) (*Job, error) {
	if a.FileType == "" {
		a.FileType = ArtifactTypeArchive
	}
	old, err := s.Job(ctx, projectID, jobID)
	if err != nil {
		return nil, err
	}
	a.Blob = NewBlobKey(projectID, jobID, a.FileType)
	h := sha256.New()
	info, err := s.PutBlob(ctx, a.Blob, io.TeeReader(r, h))
	if err != nil {
		return nil, err
	}
	a.Size = info.Size
	a.SHA256 = hex.EncodeToString(h.Sum(nil))
	job, err := s.RecordArtifact(ctx, projectID, jobID, a)
	if err != nil {
		// The request may be cancelled; the clean-up must still happen.
		_ = s.DeleteBlob(context.WithoutCancel(ctx), a.Blob)
		return nil, err
	}
	for _, prev := range old.Artifacts {
		if prev.FileType == a.FileType && prev.Blob != a.Blob {
			if err := s.DeleteBlob(context.WithoutCancel(ctx), prev.Blob); err != nil && !isNotFound(err) {
				return job, err
			}
		}
	}
	return job, nil
}

// DeleteArtifacts forgets the job's artifacts of the given types (all of
// them when types is empty) and deletes their blobs. Blobs already gone are
// not an error.
func DeleteArtifacts(ctx context.Context, s Store, projectID, jobID int64, types ...string) error {
	gone, err := s.ForgetArtifacts(ctx, projectID, jobID, types...)
	if err != nil {
		return err
	}
	var errs []error
	for _, a := range gone {
		if err := s.DeleteBlob(context.WithoutCancel(ctx), a.Blob); err != nil && !isNotFound(err) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
