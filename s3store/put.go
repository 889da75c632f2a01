package s3store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/ciartifacts/jobartifacts"
)

// abortTimeout bounds the abort of a failed multipart upload, which runs
// even when the upload's context is done.
const abortTimeout = time.Minute

// PutBlob reads r one part (WithPartSize) at a time into a buffer, so an
// upload holds one part in memory whatever its length, and the uploads in
// flight no more than WithPartMemory together: a blob's first MiB is read
// into a small buffer, and a blob that ends there is stored from it; a
// larger one waits, under ctx, for a part buffer. The small buffers are
// bounded too (a quarter of WithPartMemory): without one free, PutBlob
// waits for one or for a part buffer, reading nothing meanwhile. A blob smaller than
// one part is stored with a single PUT; a larger one with a multipart
// upload, which S3 makes visible only on completion and which PutBlob
// aborts on any error, including ctx ending. An upload it could not abort
// (the service unreachable) is left incomplete, never visible: see
// AbortIncompleteUploads.
//
// With WithCreateOnly (the default), the PUT and the completion carry
// If-None-Match: *, and a service that refuses them (412, or Amazon S3's
// 409 ConditionalRequestConflict) makes PutBlob return ErrConflict, leaving
// the existing object. Services that ignore the header
// replace the object; keys are never reused, so nothing relies on it.
//
// It ends with a HEAD of the new object, for its modification time.
func (s *Store) PutBlob(ctx context.Context, key jobartifacts.BlobKey, r io.Reader) (jobartifacts.BlobInfo, error) {
	if err := ctx.Err(); err != nil {
		return jobartifacts.BlobInfo{}, fmt.Errorf("s3store: put blob %q: %w", key, err)
	}
	up, err := s.put(ctx, key, r)
	if err != nil {
		if isConditionalConflict(err) {
			return jobartifacts.BlobInfo{}, fmt.Errorf("s3store: put blob %q: %w (%w)", key, jobartifacts.ErrConflict, err)
		}
		return jobartifacts.BlobInfo{}, fmt.Errorf("s3store: put blob %q: %w", key, err)
	}
	return s.putInfo(ctx, key, up), nil
}

// put reads the blob's first MiB into a head buffer and stores a blob
// that ends there; a larger one continues in a part buffer. Without a
// head buffer free, it starts in a part buffer if one frees up first.
func (s *Store) put(ctx context.Context, key jobartifacts.BlobKey, r io.Reader) (minio.UploadInfo, error) {
	withHead, err := s.takeHeadOrPart(ctx)
	if err != nil {
		return minio.UploadInfo{}, fmt.Errorf("waiting for upload memory: %w", err)
	}
	n := 0
	if withHead {
		headp := s.heads.Get().(*[]byte)
		held := true
		release := func() {
			if held {
				held = false
				s.heads.Put(headp)
				s.giveHead()
			}
		}
		defer release()
		head := *headp
		n, err = readFull(ctx, r, head)
		switch {
		case errors.Is(err, io.EOF):
			return s.putSingle(ctx, key, head[:n])
		case err != nil:
			return minio.UploadInfo{}, fmt.Errorf("reading: %w", err)
		}
		if err := s.takePart(ctx); err != nil {
			return minio.UploadInfo{}, fmt.Errorf("waiting for part memory: %w", err)
		}
		defer s.givePart()
		bufp := s.parts.Get().(*[]byte)
		defer s.parts.Put(bufp)
		copy(*bufp, head[:n])
		release()
		return s.putFromPart(ctx, key, *bufp, n, r)
	}
	defer s.givePart()
	bufp := s.parts.Get().(*[]byte)
	defer s.parts.Put(bufp)
	return s.putFromPart(ctx, key, *bufp, 0, r)
}

// putFromPart reads on into buf, whose first n bytes are the blob's, and
// stores the blob with one PUT if it ends within buf, else as a multipart
// upload.
func (s *Store) putFromPart(ctx context.Context, key jobartifacts.BlobKey, buf []byte, n int, r io.Reader) (minio.UploadInfo, error) {
	m, err := readFull(ctx, r, buf[n:])
	n += m
	switch {
	case errors.Is(err, io.EOF):
		return s.putSingle(ctx, key, buf[:n])
	case err != nil:
		return minio.UploadInfo{}, fmt.Errorf("reading: %w", err)
	}
	return s.putMultipart(ctx, key, buf, r)
}

// takeHeadOrPart waits for room for a head buffer (true) or, should one
// free up first, a part buffer (false), or for ctx to end; a head when
// both are free. Without a bound it is always a head.
func (s *Store) takeHeadOrPart(ctx context.Context) (bool, error) {
	if s.headTokens == nil {
		return true, nil
	}
	select {
	case s.headTokens <- struct{}{}:
		return true, nil
	default:
	}
	select {
	case s.headTokens <- struct{}{}:
		return true, nil
	case s.partTokens <- struct{}{}:
		return false, nil
	case <-ctx.Done():
		return false, ctx.Err()
	}
}

// giveHead says a head buffer from takeHeadOrPart is free again.
func (s *Store) giveHead() {
	if s.headTokens != nil {
		<-s.headTokens
	}
}

// takePart waits for room for one more part buffer, or for ctx to end.
func (s *Store) takePart(ctx context.Context) error {
	if s.partTokens == nil {
		return nil
	}
	select {
	case s.partTokens <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// givePart says a part buffer from takePart is free again.
func (s *Store) givePart() {
	if s.partTokens != nil {
		<-s.partTokens
	}
}

// putOptions are the options of a PUT and of a multipart completion.
func (s *Store) putOptions() minio.PutObjectOptions {
	opts := minio.PutObjectOptions{ContentType: "application/octet-stream"}
	if s.cfg.createOnly {
		opts.SetMatchETagExcept("*")
	}
	return opts
}

// putSingle stores data with one PUT.
func (s *Store) putSingle(ctx context.Context, key jobartifacts.BlobKey, data []byte) (minio.UploadInfo, error) {
	obj := s.objectName(key)
	up, err := s.core.PutObject(ctx, s.bucket, obj, bytes.NewReader(data), int64(len(data)), "", "", s.putOptions())
	if err != nil {
		s.undoUncertainWrite(ctx, obj, err)
	}
	up.Size = int64(len(data))
	return up, err
}

// putMultipart uploads buf (one full part already read) and the rest of r,
// part by part through buf, and completes the upload; on any error it
// aborts it.
func (s *Store) putMultipart(ctx context.Context, key jobartifacts.BlobKey, buf []byte, r io.Reader) (up minio.UploadInfo, err error) {
	obj := s.objectName(key)
	uploadID, err := s.core.NewMultipartUpload(ctx, s.bucket, obj, minio.PutObjectOptions{ContentType: "application/octet-stream"})
	if err != nil {
		return up, err
	}
	defer func() {
		if err != nil {
			s.abort(ctx, obj, uploadID)
		}
	}()
	var parts []minio.CompletePart
	var size int64
	n, eof := len(buf), false
	for n > 0 {
		if len(parts) == maxParts {
			return up, fmt.Errorf("more than %d parts of %d bytes: %w", maxParts, len(buf), jobartifacts.ErrTooLarge)
		}
		part, err := s.core.PutObjectPart(ctx, s.bucket, obj, uploadID, len(parts)+1, bytes.NewReader(buf[:n]), int64(n), minio.PutObjectPartOptions{})
		if err != nil {
			return up, err
		}
		parts = append(parts, minio.CompletePart{PartNumber: part.PartNumber, ETag: part.ETag})
		size += int64(n)
		if eof {
			break
		}
		var rerr error
		n, rerr = readFull(ctx, r, buf)
		switch {
		case errors.Is(rerr, io.EOF):
			eof = true
		case rerr != nil:
			return up, fmt.Errorf("reading: %w", rerr)
		}
	}
	if err := ctx.Err(); err != nil {
		return up, err
	}
	up, err = s.core.CompleteMultipartUpload(ctx, s.bucket, obj, uploadID, parts, s.putOptions())
	if err != nil {
		s.undoUncertainWrite(ctx, obj, err)
	}
	up.Size = size
	return up, err
}

// undoUncertainWrite removes obj after the request that would have made it
// visible (a PUT, a completion) failed with err: a request cut off by a
// cancelled context or a broken connection may have succeeded on the
// service. Keys are unique per upload, so an object there is this put's.
// A refused conditional write left the existing object, which stays.
func (s *Store) undoUncertainWrite(ctx context.Context, obj string, err error) {
	if isConditionalConflict(err) {
		return
	}
	var resp minio.ErrorResponse
	if errors.As(err, &resp) && resp.StatusCode != 0 && resp.StatusCode < http.StatusInternalServerError {
		return // the service answered and refused: nothing was written
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abortTimeout)
	defer cancel()
	if err := s.client.RemoveObject(ctx, s.bucket, obj, minio.RemoveObjectOptions{}); err != nil && !isNoSuchKey(err) {
		s.cfg.logger.WarnContext(ctx, "s3store: removing the object of a failed put failed", "object", obj, "error", err)
	}
}

// abort aborts a failed multipart upload, even when ctx is done.
func (s *Store) abort(ctx context.Context, obj, uploadID string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abortTimeout)
	defer cancel()
	if err := s.core.AbortMultipartUpload(ctx, s.bucket, obj, uploadID); err != nil {
		s.cfg.logger.WarnContext(ctx, "s3store: aborting a failed upload failed; AbortIncompleteUploads will remove it",
			"object", obj, "upload_id", uploadID, "error", err)
	}
}

// putInfo returns the attributes of the object just stored. PUT and
// CompleteMultipartUpload answer its ETag but not its modification time,
// which a HEAD gives; if that fails, the upload still succeeded, and the
// local clock stands in.
func (s *Store) putInfo(ctx context.Context, key jobartifacts.BlobKey, up minio.UploadInfo) jobartifacts.BlobInfo {
	info := jobartifacts.BlobInfo{Size: up.Size, ModTime: up.LastModified, ETag: quoteETag(up.ETag)}
	opts := minio.StatObjectOptions{}
	if up.ETag != "" {
		_ = opts.SetMatchETag(up.ETag) // not empty: cannot fail
	}
	st, err := s.client.StatObject(ctx, s.bucket, s.objectName(key), opts)
	if err != nil {
		s.cfg.logger.WarnContext(ctx, "s3store: reading a stored blob's attributes failed", "key", string(key), "error", err)
		if info.ModTime.IsZero() {
			info.ModTime = time.Now().UTC()
		}
		return info
	}
	return jobartifacts.BlobInfo{Size: st.Size, ModTime: st.LastModified, ETag: quoteETag(st.ETag)}
}
