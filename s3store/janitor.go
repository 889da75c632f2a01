package s3store

import (
	"context"
	"fmt"
	"time"
)

// AbortIncompleteUploads aborts the multipart uploads under the store's
// prefix that were started more than olderThan ago, and returns how many it
// aborted. An upload is left incomplete when PutBlob could not abort it (the
// process died, the service was unreachable); its parts take space but are
// never visible as a blob.
//
// olderThan must exceed the longest upload, or uploads still running are
// aborted and fail. Ages are measured from the service's timestamp of the
// upload, on the local clock. Run it periodically on one replica, or on all:
// aborting an upload twice is harmless.
func (s *Store) AbortIncompleteUploads(ctx context.Context, olderThan time.Duration) (int, error) {
	cutoff := time.Now().Add(-olderThan)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // stops minio-go's listing goroutine on an early return
	aborted := 0
	for up := range s.client.ListIncompleteUploads(ctx, s.bucket, s.cfg.prefix, true) {
		if up.Err != nil {
			return aborted, fmt.Errorf("s3store: list incomplete uploads: %w", up.Err)
		}
		if up.Initiated.After(cutoff) {
			continue
		}
		// By upload ID: RemoveIncompleteUpload would abort every upload of
		// the key, however young.
		if err := s.core.AbortMultipartUpload(ctx, s.bucket, up.Key, up.UploadID); err != nil && !isNoSuchUpload(err) {
			return aborted, fmt.Errorf("s3store: abort upload of %q: %w", up.Key, err)
		}
		aborted++
	}
	return aborted, nil
}
