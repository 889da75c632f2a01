package jobartifacts

import (
	"context"
	"io"
	"os"
	"time"
)

// Store is everything the handler needs from a host's persistence. It is two
// halves, so that a host can pair its own database (MetadataStore) with any
// blob storage (BlobStore): CombineStores joins them, or a struct embedding
// one of each. Every method of both halves is required, so nothing is lost by
// composing them.
//
// Several processes may share one store (replicas behind a load balancer):
// every mutation MUST be atomic across processes, not only across
// goroutines. Mutations that depend on what is stored are conditional and
// report a lost race with ErrConflict; none is a read followed by an
// unconditional write.
//
// Every method takes the request's context first. Errors are reported with
// the sentinels of this package (ErrNotFound, ErrConflict, …), wrapped with
// %w as needed; fs.ErrNotExist is also understood as ErrNotFound. The
// handler never shows an error's text to a client.
//
// The storetest package checks an implementation against this contract.
type Store interface {
	MetadataStore
	BlobStore
}

// CombineStores returns the Store made of a metadata half and a blob half,
// for example a PostgreSQL store and an S3 store. The Store is a
// ProjectJobReader exactly when meta is one.
func CombineStores(meta MetadataStore, blobs BlobStore) Store {
	s := combinedStore{meta, blobs}
	if pj, ok := meta.(ProjectJobReader); ok {
		return combinedProjectJobStore{s, pj}
	}
	return s
}

type combinedStore struct {
	MetadataStore
	BlobStore
}

// combinedProjectJobStore is a combinedStore whose metadata half is a
// ProjectJobReader: a separate type, since the handler discovers the
// capability by type assertion and combinedStore must not claim it.
type combinedProjectJobStore struct {
	combinedStore
	ProjectJobReader
}

// MetadataStore holds projects, pipelines, jobs, the records of the artifacts
// that jobs have, and the queue of blobs whose records are gone.
// Implementations MUST be safe for concurrent use by several goroutines and,
// where the store is shared, by several processes: each method is one atomic
// step.
//
// # Blob deletion queue
//
// A blob is never deleted when its record goes. Every method that removes an
// artifact record (ReplaceArtifact, ForgetArtifacts, SweepExpiredArtifacts)
// MUST queue the record's blob key in the same atomic step, stamped with the
// store's clock; a record without a key (Blob == "") queues nothing.
// ClaimBlobDeletions hands queued keys out only after a grace period, so
// that downloads already streaming the blob, or holding a signed URL to it,
// stay whole; a crash between the two steps leaves a queued key,
// never an orphaned blob. The Sweeper deletes claimed blobs.
type MetadataStore interface {
	// Project returns the project with the given numeric id, or ErrNotFound.
	Project(ctx context.Context, id int64) (*Project, error)

	// ProjectByPath returns the project whose full path (e.g. "group/sub/app")
	// equals path exactly, or ErrNotFound. Matching is case-sensitive.
	ProjectByPath(ctx context.Context, path string) (*Project, error)

	// Job returns job jobID of project projectID. A job that exists but belongs
	// to another project MUST be reported as ErrNotFound.
	Job(ctx context.Context, projectID, jobID int64) (*Job, error)

	// JobByID returns a job by its id alone, whatever its project, or
	// ErrNotFound. The runner routes (/jobs/:id/artifacts) use it.
	JobByID(ctx context.Context, jobID int64) (*Job, error)

	// LatestSuccessfulJob implements GitLab's "latest successful" rule: take the
	// single newest (highest id) pipeline of the project whose ref equals ref
	// exactly and whose status is "success"; return the job named name in it.
	// There is no fallback to older pipelines: if that pipeline has no such
	// job, the result is ErrNotFound even when an older pipeline has one. The
	// job's own status is not checked. When several jobs of that pipeline share
	// the name, the one with the highest id wins.
	LatestSuccessfulJob(ctx context.Context, projectID int64, ref, name string) (*Job, error)

	// RecentSuccessfulJob implements search_recent_successful_pipelines: among
	// the 100 newest successful pipelines of the ref (newest first), return the
	// first job named name whose status is "success" and that has an archive
	// artifact, or ErrNotFound.
	RecentSuccessfulJob(ctx context.Context, projectID int64, ref, name string) (*Job, error)

	// CreateArtifact records a as the job's artifact only if the job has no
	// artifact of a.FileType, sets the job's ArtifactsExpireAt to a.ExpireAt
	// (the last upload decides, as in GitLab) and returns the updated job.
	// If the job has an artifact of that type, it changes nothing and returns
	// the job as stored, holding the existing record, with an error wrapping
	// ErrConflict. The check and the write MUST be one atomic step: of
	// several creates of one type racing, exactly one succeeds. A missing job
	// is ErrNotFound (and a nil job).
	CreateArtifact(ctx context.Context, projectID, jobID int64, a Artifact) (*Job, error)

	// ReplaceArtifact records a as the job's artifact, replacing any artifact
	// of the same FileType, sets the job's ArtifactsExpireAt to a.ExpireAt
	// and returns the updated job and the record it replaced (nil if none).
	// The replaced record's blob is queued for deletion in the same atomic
	// step, unless a.Blob is that same key. Of several replaces racing, each
	// replaced record is returned by exactly one of them.
	ReplaceArtifact(ctx context.Context, projectID, jobID int64, a Artifact) (*Job, *Artifact, error)

	// KeepArtifacts keeps the job's artifacts if, at now, the job has an
	// archive that has not expired (Job.HasAvailableArchive: the archive's
	// ExpireAt, or the job's ArtifactsExpireAt when the archive has none, is
	// nil or after now, or the job is ArtifactsLocked): the job's ArtifactsExpireAt and every
	// Artifact.ExpireAt become nil and ArtifactsLocked becomes true. It
	// returns the updated job. Without such an archive it changes nothing and
	// returns an error wrapping ErrConflict. The check and the write MUST be
	// one atomic step, so that a sweep racing a keep either removes the
	// archive (and the keep fails) or leaves it kept. A missing job is
	// ErrNotFound.
	KeepArtifacts(ctx context.Context, projectID, jobID int64, now time.Time) (*Job, error)

	// ForgetArtifacts removes the records of all the job's artifacts whose
	// FileType is not in except (all of them when except is empty), queues
	// their blobs for deletion and returns the removed records, in one atomic
	// step. A job with nothing to forget is not an error; a missing job is
	// ErrNotFound.
	ForgetArtifacts(ctx context.Context, projectID, jobID int64, except ...string) ([]Artifact, error)

	// ExpireProjectArtifacts makes every artifact of the project that is not
	// kept (job not ArtifactsLocked) expire at now, if it would expire later
	// or never; the jobs' ArtifactsExpireAt follow the same rule. It returns
	// ErrNotFound for an unknown project.
	ExpireProjectArtifacts(ctx context.Context, projectID int64, now time.Time) error

	// SweepExpiredArtifacts removes up to limit (> 0) artifact records that
	// are expired at now (ExpireAt not after now), are not a job log
	// (FileType "trace") and belong to jobs that are not ArtifactsLocked;
	// it queues their blobs for deletion and returns what it removed. Each
	// record is checked and removed in one atomic step: a record kept or
	// replaced meanwhile is never removed, and of several sweeps running at
	// once (on several replicas) each record is removed and returned by at
	// most one. Records that do not match are never returned, so a sweep
	// that returns fewer than limit records has left none behind, but for
	// those another call held at that moment (a SQL store skips locked
	// rows), which the next sweep takes.
	SweepExpiredArtifacts(ctx context.Context, now time.Time, limit int) ([]SweptArtifact, error)

	// QueueBlobDeletions adds keys to the blob deletion queue, stamped with
	// the store's clock; a key queued already keeps its place. The Sweeper
	// queues blobs it finds without a record.
	QueueBlobDeletions(ctx context.Context, keys ...BlobKey) error

	// ClaimBlobDeletions returns up to limit (> 0) queued keys that were
	// queued at least grace ago and that no unexpired claim holds, and claims
	// them for lease: until the lease ends, no other call returns them. A key
	// whose deletion fails is therefore retried once its lease has ended.
	ClaimBlobDeletions(ctx context.Context, grace, lease time.Duration, limit int) ([]BlobKey, error)

	// FinishBlobDeletions removes keys from the queue, once their blobs are
	// deleted. Keys not in the queue are ignored.
	FinishBlobDeletions(ctx context.Context, keys ...BlobKey) error
}

// SweptArtifact is an artifact record that SweepExpiredArtifacts removed.
type SweptArtifact struct {
	// ProjectID and JobID name the job the record belonged to.
	ProjectID, JobID int64
	// Artifact is the removed record.
	Artifact Artifact
}

// BlobKey names a blob. The handler makes keys with NewBlobKey, from numeric
// ids and random suffixes only (characters [a-z0-9/._-]), never from
// user-supplied strings, so a store may use a key directly as a file or
// object name. Keys are never reused.
type BlobKey string

// ProjectJobReader is an optional capability of a Store: the project and
// one of its jobs in one read, which the Handler uses on job routes that
// name the project by its numeric id (one metadata read per request
// instead of two). ProjectJob MUST return what Project(ctx, projectID) and
// then Job(ctx, projectID, jobID) would: when the project lookup fails, a
// nil project and its error (ErrNotFound if it does not exist); else the
// project, and the job or the job lookup's error.
type ProjectJobReader interface {
	ProjectJob(ctx context.Context, projectID, jobID int64) (*Project, *Job, error)
}

// BlobStore holds archive bytes. Blobs are write-once: a key is written by
// one PutBlob and never replaced, then read, then deleted.
// Implementations MUST be safe for concurrent use by several goroutines and
// processes.
type BlobStore interface {
	// OpenBlob opens the blob for reading, or returns ErrNotFound. The context
	// given to OpenBlob governs every later read of the returned Blob: once
	// it is done, reads MAY fail with its error. The caller closes the Blob.
	OpenBlob(ctx context.Context, key BlobKey) (Blob, error)

	// PutBlob stores everything read from r under key, which MUST be new:
	// a store that can tell MUST answer an existing key with ErrConflict and
	// leave it as it was (stores that cannot, such as S3 multipart uploads,
	// rely on keys never being reused). Nothing is visible under key until
	// PutBlob succeeds; on error (a read error from r, a cancelled context)
	// nothing is left behind. It returns the stored blob's attributes.
	// A store that needs the bytes' SHA-256 (for its ETag) MAY take it from
	// r when r is a SHA256Reader, as the handler's uploads are, once r has
	// returned io.EOF, rather than hash every byte a second time.
	PutBlob(ctx context.Context, key BlobKey, r io.Reader) (BlobInfo, error)

	// DeleteBlob removes the blob. Deleting a missing blob succeeds. Readers
	// that opened the blob before MAY keep reading it or MAY fail; they never
	// read other bytes.
	DeleteBlob(ctx context.Context, key BlobKey) error

	// SignedURL returns a URL from which an HTTP client can fetch the blob
	// directly, with opts.Method, until opts.Expiry has passed (object
	// storage presigned URLs). A store that cannot hand out URLs returns
	// ErrNotSupported and the handler serves the bytes itself. A missing blob
	// MAY still get a URL: the handler checks records, not blobs.
	SignedURL(ctx context.Context, key BlobKey, opts SignedURLOptions) (string, error)

	// ListBlobs returns, in key order, up to limit (> 0) blobs whose key
	// starts with prefix and sorts after pageToken ("" for the first page),
	// and the token of the next page ("" after the last). The Sweeper lists
	// blobs to find those that no record names.
	ListBlobs(ctx context.Context, prefix, pageToken string, limit int) ([]BlobAttributes, string, error)
}

// SignedURLOptions says what a signed URL must allow.
type SignedURLOptions struct {
	// Method is the HTTP method the URL is signed for: "GET" (also when
	// empty) or "HEAD". A URL signed for GET need not answer HEAD.
	Method string
	// Expiry is how long the URL stays valid. Zero means the store's default.
	Expiry time.Duration
	// ContentDisposition, if set, is the Content-Disposition header the
	// storage must send with the bytes (S3: response-content-disposition).
	ContentDisposition string
	// ContentType, if set, is the Content-Type the storage must send
	// (S3: response-content-type).
	ContentType string
}

// BlobAttributes describes a listed blob.
type BlobAttributes struct {
	// Key names the blob.
	Key BlobKey
	// Size is the blob's length in bytes.
	Size int64
	// ModTime is when the blob was stored.
	ModTime time.Time
}

// BlobInfo describes a stored blob.
type BlobInfo struct {
	// Size is the blob's length in bytes.
	Size int64
	// ModTime is when the blob was stored.
	ModTime time.Time
	// ETag is a strong entity tag, quoted as HTTP wants it ("\"…\""). It MUST
	// differ between blobs of different bytes, whatever their keys: one
	// download URL serves a job's archives one after another as they are
	// replaced, so the tag must tell them apart. An object store's own ETag
	// will do.
	ETag string
}

// Blob is an open blob: random access and streaming reads of its bytes, plus
// its attributes.
//
// ReadAt follows io.ReaderAt: reading at offset Size returns 0, io.EOF; a
// negative offset is an error; a read spanning the end returns the bytes up to
// the end and io.EOF. Concurrent ReadAt calls MUST be safe. The handler uses
// ReadAt for small, scattered reads (a zip's central directory) and
// NewRangeReader for everything it streams.
type Blob interface {
	io.ReaderAt
	io.Closer
	// Info returns the blob's size, modification time and ETag.
	Info() BlobInfo
	// NewRangeReader returns a reader of length bytes starting at offset, or
	// of everything from offset to the end when length is negative. On object
	// storage each call MUST cost one request (one ranged GET), however the
	// reader is then read. An offset past Size is an error; a length running
	// past the end reads up to the end. Several range readers of one Blob may
	// be open at once; the caller closes each.
	NewRangeReader(offset, length int64) (io.ReadCloser, error)
}

// FileBlob is an optional capability of a Blob whose bytes are those of a
// local file (fsstore's blobs): the handler then sends whole archives from
// the file with sendfile(2), rather than copying them through user space.
type FileBlob interface {
	Blob
	// File returns the open file the Blob reads. Its bytes from 0 to
	// Info().Size are the blob's and never change. The Blob itself reads
	// the file only at explicit offsets (ReadAt, pread(2)), so the file's
	// own offset is the caller's, for one goroutine at a time. The caller
	// MUST NOT close the file, nor use it once the Blob is closed.
	File() *os.File
}

// SHA256Reader is a reader that hashes what is read from it. The handler
// hands PutBlob one for every upload, since it needs the artifact's SHA-256
// anyway: a store may use it instead of hashing the same bytes again (see
// PutBlob). Stores MUST still work with any io.Reader.
type SHA256Reader interface {
	io.Reader
	// SHA256 returns the SHA-256 of exactly the bytes that Read has
	// returned so far.
	SHA256() []byte
}
