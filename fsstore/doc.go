// Package fsstore is a jobartifacts.Store and jobartifacts.Seeder that keeps
// everything under one directory of a single machine's file system: metadata
// as small JSON and text files, archives as plain files. It survives
// restarts and crashes, and several goroutines and processes may use one
// directory at once.
//
// fsstore relies on POSIX rename, fsync and flock(2). It is written and
// tested for Linux; it also builds on other Unix systems (macOS), where a
// case-insensitive file system would merge refs and project paths that differ
// only in case.
//
// # Layout
//
// Everything under the directory can be read with ls and cat:
//
//	LOCK                                    held shared by every open Store
//	meta.lock                               flock for metadata reads (shared) and writes (exclusive)
//	projects/<pid>/project.json             a Project
//	projects/<pid>/pipelines/<plid>.json    a Pipeline
//	projects/<pid>/pipelines/<plid>.jobs.json   index: job name → job ids, highest first
//	projects/<pid>/refs/<ref>.pipelines     index: ids of the ref's successful pipelines, one a line, highest first
//	project-paths/<path>.id                 index: the project id that has this full path
//	jobs/<jid>.json                         a Job (its Pipeline holds only the id)
//	blobs/<key>                             an archive's bytes, exactly as uploaded
//	blobinfo/<key>.json                     the blob's SHA-256 and the file identity it belongs to
//
// Refs and paths are written into file names with every byte outside
// [A-Za-z0-9._-] (and a leading '.') escaped as %XX; a name that would be
// longer than 200 bytes becomes "%sha256-<hex of the string>".
//
// # Crash safety
//
// Every file is written to a temporary file in its own directory (named
// ".tmp~…"), fsynced, renamed over its target, and the directory is fsynced:
// a process killed at any moment leaves each file old or new, never partial.
// Temporary files left by a crash are ignored by reads and removed by the
// next Open that finds no other Store open on the directory.
//
// An operation that changes several files (a job and the index of its
// pipeline, say) writes index additions before the record and index removals
// after it, and every lookup checks the records it reaches through an index.
// A crash in between therefore leaves a stale index entry at worst, which
// lookups check and skip.
//
// WithoutFsync skips the fsyncs, for tests and bulk imports: writes stay
// atomic against a killed process but not against power loss. PutJobs
// stores many jobs under one lock, writing each pipeline's job index once.
//
// # Concurrency
//
// A Store is safe for concurrent use. Metadata operations hold meta.lock
// (flock: shared to read, exclusive to write) for their whole
// read-modify-write, so several Stores, in one process or in several, may
// share a directory without losing updates. Blobs need no lock: each put
// writes its own temporary file and renames it into place, and
// BlobStore.PutBlob of one key from two writers ends with one of the two.
// What is not supported: sharing a directory over a network file system
// (flock and rename are not reliable there), and pipelines with one id in
// two projects (each project keeps its own, so they would be two pipelines).
//
// # Blobs
//
// OpenBlob returns a Blob backed by an *os.File: ReadAt reads the file, so
// concurrent reads are safe, and a blob replaced or deleted after it was
// opened keeps its old bytes for that reader (Unix unlink semantics). The
// context given to OpenBlob governs the Blob's reads: once it is done, ReadAt
// fails with its error.
//
// The ETag is the quoted hex SHA-256 of the bytes, computed while PutBlob
// streams them and kept in blobinfo/ together with the inode, size and
// modification time of the file it describes. If that identity does not match
// the file opened (a crash or a concurrent put between the blob's rename and
// its info's), OpenBlob hashes the file instead, so the ETag is always the
// bytes' hash.
//
// # Lookups
//
// LatestSuccessfulJob reads the first line of the ref's index, the
// pipeline's job index and the job: its cost does not depend on how many jobs
// or pipelines the project has (see BenchmarkLatestSuccessfulJob).
// RecentSuccessfulJob reads at most the first 100 pipelines of the same index.
// ExpireProjectArtifacts reads every job of the project, and
// ExpiredArtifacts reads every job of the store, in job id order, until it
// has limit of them: both are meant for an occasional sweep.
package fsstore
