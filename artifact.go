package jobartifacts

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
)

// StoreArtifact writes the bytes of r to a fresh blob and records them as the
// job's artifact a, replacing any artifact of the same FileType, and fills in
// a.Blob, a.Size and a.SHA256. The replaced artifact's blob is queued for
// deletion by the store. A reader sees the old artifact or the new one, never
// a partial one. When the put fails nothing is left; when recording fails,
// the new blob is queued for deletion rather than deleted, since a store
// may have recorded it all the same (a commit whose acknowledgement was
// lost): the Sweeper deletes it unless a record names it.
//
// Hosts and seeding tools use it (the example server's import does); the
// upload route does not replace, it creates (MetadataStore.CreateArtifact).
func StoreArtifact(ctx context.Context, s Store, projectID, jobID int64, a Artifact, r io.Reader) (*Job, error) {
	if a.FileType == "" {
		a.FileType = ArtifactTypeArchive
	}
	if !validFileType(a.FileType) {
		return nil, fmt.Errorf("jobartifacts: artifact type %q: want lower-case letters, digits and underscores", a.FileType)
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
	job, _, err := s.ReplaceArtifact(context.WithoutCancel(ctx), projectID, jobID, a)
	if err != nil {
		return nil, errors.Join(err, abandonBlob(ctx, s, a.Blob))
	}
	return job, nil
}

// validFileType reports whether t can go into a blob key: GitLab's artifact
// types are lower-case words joined by underscores.
func validFileType(t string) bool {
	return t != "" && strings.Trim(t, "abcdefghijklmnopqrstuvwxyz0123456789_") == ""
}

// abandonBlob queues a blob whose record may or may not have been written,
// even when the request was cancelled. The Sweeper deletes it after the
// grace period unless a record names it; if queueing fails, the Sweeper's
// orphan collection finds it.
func abandonBlob(ctx context.Context, s MetadataStore, key BlobKey) error {
	return s.QueueBlobDeletions(context.WithoutCancel(ctx), key)
}
