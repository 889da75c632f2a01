package jobartifacts

import (
	"context"
	"io"
	"time"
)

// Store is everything the handler needs from a host's persistence. It is two
// halves, so that a host can pair its own database (MetadataStore) with any
// blob storage (BlobStore): embed one of each in a struct to get a Store.
//
// Every method takes the request's context first. Errors are reported with
// the sentinels of this package (ErrNotFound, …), wrapped with %w as needed;
// fs.ErrNotExist is also understood as ErrNotFound. The handler never shows
// an error's text to a client.
//
// The storetest package checks an implementation against this contract.
type Store interface {
	MetadataStore
	BlobStore
}

// MetadataStore holds projects, pipelines, jobs and the records of the
// artifacts that jobs have. Implementations MUST be safe for concurrent use.
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

	// KeepArtifacts clears the expiry of the job's artifacts (the job's
	// ArtifactsExpireAt and every Artifact.ExpireAt become nil, ArtifactsLocked
	// becomes true) and returns the updated job, or ErrNotFound.
	KeepArtifacts(ctx context.Context, projectID, jobID int64) (*Job, error)

	// RecordArtifact adds a to the job's artifacts, replacing any artifact of
	// the same FileType, and sets the job's ArtifactsExpireAt to a.ExpireAt
	// (the last upload decides, as in GitLab). It returns the updated job.
	RecordArtifact(ctx context.Context, projectID, jobID int64, a Artifact) (*Job, error)

	// ForgetArtifacts removes the records of the job's artifacts whose FileType
	// is in types, or of all of them when types is empty, and returns the
	// records it removed so that the caller can delete their blobs. A job with
	// nothing to forget is not an error; a missing job is ErrNotFound.
	ForgetArtifacts(ctx context.Context, projectID, jobID int64, types ...string) ([]Artifact, error)

	// ExpireProjectArtifacts makes every artifact of the project that is not
	// kept (job not ArtifactsLocked) expire at now, if it would expire later
	// or never. It returns ErrNotFound for an unknown project.
	ExpireProjectArtifacts(ctx context.Context, projectID int64, now time.Time) error

	// ExpiredArtifacts lists up to limit jobs (across all projects) that have
	// at least one artifact whose ExpireAt is not after now and that are not
	// ArtifactsLocked. The sweeper uses it; limit <= 0 means no limit.
	ExpiredArtifacts(ctx context.Context, now time.Time, limit int) ([]*Job, error)
}

// BlobKey names a blob. The handler makes keys from numeric ids and random
// suffixes only (characters [a-z0-9/._-]), never from user-supplied strings,
// so a store may use a key directly as a file or object name.
type BlobKey string

// BlobStore holds archive bytes. Implementations MUST be safe for concurrent
// use.
type BlobStore interface {
	// OpenBlob opens the blob for reading, or returns ErrNotFound. The context
	// given to OpenBlob governs every later ReadAt of the returned Blob: once
	// it is done, reads MAY fail with its error. The caller closes the Blob.
	OpenBlob(ctx context.Context, key BlobKey) (Blob, error)

	// PutBlob stores everything read from r under key, atomically: readers
	// that opened the old blob keep reading the old bytes, a reader opening
	// the key sees the old or the new bytes, never a mix, and on error
	// (including a read error from r or a cancelled context) the old blob is
	// left as it was and no partial blob is visible. It returns the stored
	// blob's attributes.
	PutBlob(ctx context.Context, key BlobKey, r io.Reader) (BlobInfo, error)

	// DeleteBlob removes the blob. Deleting a missing blob returns ErrNotFound.
	// Readers that opened the blob before MAY keep reading it.
	DeleteBlob(ctx context.Context, key BlobKey) error
}

// BlobInfo describes a stored blob.
type BlobInfo struct {
	// Size is the blob's length in bytes.
	Size int64
	// ModTime is when the blob was stored.
	ModTime time.Time
	// ETag is a strong entity tag, quoted as HTTP wants it ("\"…\""). It MUST
	// change whenever the bytes change.
	ETag string
}

// Blob is an open blob: random access to its bytes plus its attributes.
//
// ReadAt follows io.ReaderAt: reading at offset Size returns 0, io.EOF; a
// negative offset is an error; a read spanning the end returns the bytes up to
// the end and io.EOF. Concurrent ReadAt calls MUST be safe.
type Blob interface {
	io.ReaderAt
	io.Closer
	// Info returns the blob's size, modification time and ETag.
	Info() BlobInfo
}

// BlobURLer is an optional capability of a BlobStore that can hand out a
// direct, time-limited URL for a blob (object storage presigned URLs). When
// the store implements it, whole-archive downloads answer 302 to that URL.
// Returning ErrNotSupported makes the handler serve the bytes itself.
type BlobURLer interface {
	BlobURL(ctx context.Context, key BlobKey, filename string) (string, error)
}

// Seeder is implemented by stores that can be filled directly: memstore and
// fsstore. Tests, storetest and the example server's demo and import use it;
// the handler never does, and a host's own Store need not implement it.
type Seeder interface {
	// PutProject creates or replaces a project.
	PutProject(ctx context.Context, p Project) error
	// PutPipeline creates or replaces a pipeline; its project must exist.
	PutPipeline(ctx context.Context, p Pipeline) error
	// PutJob creates or replaces a job; its project and pipeline
	// (j.Pipeline.ID) must exist. Jobs read back carry the pipeline as last
	// stored with PutPipeline, not the copy in j. j.Artifacts are recorded as
	// given; their blobs are the caller's business.
	PutJob(ctx context.Context, j Job) error
}
