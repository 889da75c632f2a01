// Package fsstore is a jobartifacts.Store that keeps everything under one
// directory of a single machine's file system: metadata as small JSON and
// text files, archives as plain files. It can also be seeded directly
// (PutProject, PutPipeline, PutJob, PutJobs). It survives restarts and
// crashes, and several goroutines and processes may use one directory at
// once: every mutation is atomic across processes.
//
// fsstore relies on POSIX rename, link, fsync and flock(2). It is written
// and tested for Linux; it also builds on other Unix systems (macOS), where
// a case-insensitive file system would merge refs and project paths that
// differ only in case.
//
// # Layout
//
// Everything under the directory can be read with ls and cat:
//
//	LOCK                                    held shared by every open Store
//	meta.lock                               flock for metadata reads (shared) and writes (exclusive); the generation
//	removals                                8 bytes: a generation replaced by every removal of a blob file (idle files, below)
//	reserve                                 preallocated space for a full file system (see below)
//	projects/<pid>/project.json             a Project
//	projects/<pid>/pipelines/<plid>.json    a Pipeline
//	projects/<pid>/pipelines/<plid>.jobs.json   index: job name → job ids, highest first
//	projects/<pid>/refs/<ref>.pipelines     index: ids of the ref's successful pipelines, one a line, highest first
//	project-paths/<path>.id                 index: the project id that has this full path
//	jobs/<jid>.json                         a Job (its Pipeline holds only the id)
//	deleted-blobs/<key>.json                the blob deletion queue: {"key", "queued_at"}; mtime: end of the last claim
//	blobs/<key>                             an archive's bytes, exactly as uploaded
//	blobinfo/<key>.json                     the blob's SHA-256 and the file identity it belongs to
//
// Refs, paths and, in deleted-blobs/, keys are written into file names with
// every byte outside [A-Za-z0-9._-] (and a leading '.') escaped as %XX, so
// a key's '/' becomes %2F and the queue is one flat directory; a name that
// would be longer than 200 bytes becomes "%sha256-<hex of the string>"
// (which is why a queue entry also holds its key).
//
// # Concurrency
//
// A Store is safe for concurrent use, and several Stores, in one process or
// in several, may share a directory. Two locks order them:
//
//   - meta.lock, with flock(2): every metadata operation holds it for its
//     whole read-modify-write, shared to read and exclusive to write, on a
//     descriptor of its own (flock locks belong to an open file description,
//     so two Stores in one process exclude each other as two processes do).
//     Every conditional write of the MetadataStore contract checks and
//     writes under the exclusive lock: CreateArtifact's "no artifact of this
//     type", KeepArtifacts' "an unexpired archive", SweepExpiredArtifacts'
//     "expired, not a log, not kept", ClaimBlobDeletions' grace and lease.
//     The blob deletion queue is metadata and is changed under the same
//     lock, in the same step as the records. Within a Store, a
//     sync.RWMutex queues goroutines before they take meta.lock.
//   - meta.lock's content, 8 bytes, is the store's generation: every write
//     replaces it with a fresh random value, under the exclusive lock and
//     before it changes anything. A read first reads the generation (on
//     Linux a load from a shared mapping of the file's first page, else one
//     pread(2); no lock) and, if it is the one its Store last read the
//     files at, answers from the records it kept (a bounded cache of
//     decoded files and of blobinfo/), opening and locking nothing; else
//     it reads the files under the shared lock, as above, and keeps them.
//     A write by any Store, in any process, is therefore seen by the next
//     read everywhere, and a write that crashed midway has already made
//     every cache stale. Every process sharing a directory must run a
//     version that sets the generation: one that writes without it leaves
//     other processes' caches stale. An empty meta.lock (made by an older
//     version) turns the cache off until the first write.
//   - LOCK, with flock(2): held shared by every open Store; an Open that can
//     take it exclusively is alone and removes crashed writers' temporary
//     files.
//
// Blobs take no lock: PutBlob writes its own temporary file and links it
// into place with link(2), which fails atomically (EEXIST) if the key
// exists, so of two puts of one key exactly one succeeds and the other gets
// ErrConflict. What is not supported: sharing a directory over a network
// file system (flock, link and rename are not reliable there), and
// pipelines with one id in two projects (each project keeps its own, so
// they would be two pipelines).
//
// # Crash safety
//
// Every metadata file is written to a temporary file in its own directory
// (named ".tmp~…"), fsynced, renamed over its target, and the directory is
// fsynced: a process killed at any moment leaves each file old or new, never
// partial. Temporary files left by a crash are ignored by reads and removed
// by the next Open that finds no other Store open on the directory.
//
// An operation that changes several files (a job and the index of its
// pipeline, say) writes index additions before the record and index removals
// after it, and every lookup checks the records it reaches through an index.
// A crash in between therefore leaves a stale index entry at worst, which
// lookups check and skip. Likewise a removed record's blob key is queued
// before the record that drops it is written: a crash in between leaves a
// queued key that a record still names, which the Sweeper checks before
// deleting and takes off the queue, never a blob that nothing names.
//
// WithoutFsync skips the fsyncs, for tests and bulk imports: writes stay
// atomic against a killed process but not against power loss. PutJobs
// stores many jobs under one lock, writing each pipeline's job index once.
//
// # Blobs
//
// Blobs are written once: PutBlob streams into a temporary file in 1 MiB
// writes, hashing on the way (or taking the sum of a
// jobartifacts.SHA256Reader, as the handler's uploads are), dates it by
// the store's clock (WithClock), fsyncs it and links it into place; on any
// error, including a cancelled context, the temporary file is removed and
// nothing is visible under the key. DeleteBlob of a missing key, or of a
// key the store could never hold, succeeds. Freeing a large file's blocks
// is slow (~0.3 s per GiB on ext4, more when mounted with discard), so
// DeleteBlob of a blob of 4 MiB or more unlinks it and returns, the key
// gone, while a descriptor it opened first holds the blocks; a goroutine
// closes that descriptor, which frees them (at most 16 at once; past that,
// DeleteBlob frees before it returns). Close waits for those goroutines.
// The handler's answer to an upload it discards (the same bytes again, a
// conflict) thus does not wait for the file system.
//
// Where the file system has direct I/O (O_DIRECT on Linux), the blob's
// full 1 MiB blocks go to the disk around the page cache, each written by
// a goroutine while the next one arrives, from two aligned blocks per
// upload (pooled); the last, partial block goes through the cache. The
// handler's uploads, which write their own aligned blocks from a goroutine
// of their own, have them written where they are, without a copy. A
// blob then costs no copy into the page cache and no cache memory, and
// the fsync finds almost nothing left to write. Where O_DIRECT is refused,
// or with WithoutDirectIO, the blob goes through the cache and PutBlob
// starts the disk writes of every 8 MiB as it goes (sync_file_range on
// Linux), so that the fsync waits for the last few only.
//
// A store without fsync (WithoutFsync) writes the handler's uploads both
// ways at once on Linux: while fewer than four blocks are on their way to
// the disk, a block is submitted there with O_DIRECT by asynchronous I/O
// (io_submit(2)), from where it is, and the upload reads on; otherwise it
// goes through the page cache at once. The first 4 MiB of an upload go
// through the cache, so that a small upload's answer does not wait for the
// disk. A disk slower than the upload takes the blocks it keeps up with,
// the cache the rest, and only the cache's share costs CPU. The file's
// space is allocated ahead of the direct writes (fallocate(2)), since ext4
// lets go of the file's lock for a submitted write only when it does not
// extend the file, and is cut back to what was written at the end. The AIO
// contexts are kept for the next uploads (up to 16 idle): ending one waits
// for the kernel's RCU grace period, tens of milliseconds, which small
// uploads would feel. With fsync every byte must reach the disk before the
// blob is linked, so nothing is gained by the cache, and the blocks all go
// around it as above.
//
// OpenBlob returns a Blob backed by an *os.File: ReadAt and the readers of
// NewRangeReader (io.SectionReader, pread(2) at their own offsets) read the
// file, so concurrent reads are safe, and a blob deleted after it was opened
// keeps its bytes for that reader (Unix unlink semantics). The context given
// to OpenBlob governs the Blob's reads: once it is done, they fail with its
// error. SignedURL is not supported (ErrNotSupported): the handler serves
// the bytes itself. The Blob is a jobartifacts.FileBlob: the handler sends
// whole archives from its file with sendfile(2).
//
// A Blob owns its file alone. Once closed, the file stays open, idle, for
// the next OpenBlob of its key (at most 256 files, the most recently used,
// each for at most 5 seconds; WithIdleBlobFiles), which takes it if a
// stat(2) of the key's path finds that very file (device and inode, which
// cannot be reused while the file is open) with the same size and
// modification time: one syscall instead of open, fstat and close; and
// not even that while no blob file has been removed: every Store that
// removes one from its key's path (DeleteBlob, or PutBlob taking back a
// blob whose record it could not write) replaces the random value in
// "removals" before the unlink and again after it, as every metadata write
// replaces meta.lock's generation, and an idle file found at its path when
// that value was what it still is needs no stat (the value is read as the generation is: on Linux a load
// from a shared mapping). So a blob deleted, or deleted and put again, by
// any Store in any process is never read from an idle file (as with the
// generation, every process on a directory must run a version that writes
// it; a file removed by hand, not through a Store, can be served from an
// idle file for those 5 seconds, and so can one found in the instant
// between a removal's first value and its unlink by a process that died
// before writing the second); a blob another process deletes keeps its
// disk space until the idle file's time is up. DeleteBlob and Close close the Store's
// idle files at once, and a Blob open while its Store deleted its key does
// not keep its file idle.
//
// The ETag is the quoted hex SHA-256 of the bytes, computed while PutBlob
// streams them and kept in blobinfo/ together with the inode, size and
// modification time of the file it describes. If that identity does not
// match the file opened (a crash between the blob's link and its info's
// write), OpenBlob hashes the file instead, so the ETag is always the
// bytes' hash, and writes the info back as PutBlob would have (the same
// record, describing the file it hashed), so that the next open, in any
// process, does not hash it again. A blob deleted meanwhile does not keep
// it: the open removes the info it wrote if the blob is gone once it is
// written (DeleteBlob removes the blob first, then the info).
//
// ListBlobs walks blobs/ in key order (sorting each directory's entries with
// "/" after directory names) and skips directories that cannot hold a key
// of the page, so a page reads about limit files however many blobs there
// are.
//
// # Blob deletion queue
//
// ReplaceArtifact, ForgetArtifacts and SweepExpiredArtifacts queue the
// removed records' blob keys in deleted-blobs/, one small JSON file per key
// holding the key and when it was queued (the store's clock), written once;
// a key queued already keeps its entry. The file's modification time is
// when its last claim ends (when it was queued, until it is first claimed).
// ClaimBlobDeletions goes through the entries in file-name order until it
// has limit keys whose claim has ended (a stat) and whose grace has passed
// (a read), and claims each by setting its modification time to the end of
// the lease (utimensat(2): atomic, and no data written);
// FinishBlobDeletions removes entries. A claim therefore looks at the
// queue's entries up to the ones it hands out: the queue is meant to stay
// short, emptied by every sweep.
//
// # Full file system
//
// Open keeps a reserve file of preallocated space (WithSpaceReserve, 1 MiB
// by default; fallocate(2) on Linux). When an operation that removes or
// expires records — ForgetArtifacts, KeepArtifacts, ExpireProjectArtifacts,
// SweepExpiredArtifacts, QueueBlobDeletions — fails with ENOSPC, the Store
// removes the reserve, under the exclusive meta.lock, and runs the
// operation once more (each is written so that a partial first run is safe
// to repeat). ClaimBlobDeletions only sets modification times, and
// FinishBlobDeletions and DeleteBlob only remove files: they need no space.
// So on a full file system the API's deletes and the Sweeper still work,
// and space comes back once the Sweeper deletes the queued blobs after
// their grace period. DeleteBlob (once the blob's space is freed), and the
// next Open, make the reserve again when there is room for it. Uploads and
// seeding never use the reserve: they fail with ENOSPC, except that a blob
// write refused while this Store is still freeing a deleted blob's blocks
// (see DeleteBlob) waits for those frees and tries once more. Once
// released, the reserve's space is free for any writer until it is made
// again, and it holds a bounded number of record
// rewrites and queue entries (about one file-system block each): a sweep
// of a larger backlog than the reserve holds fails part way, with what it
// removed so far.
//
// # Lookups
//
// LatestSuccessfulJob reads the first line of the ref's index, the
// pipeline's job index and the job: its cost does not depend on how many jobs
// or pipelines the project has (see BenchmarkLatestSuccessfulJob).
// RecentSuccessfulJob reads at most the first 100 pipelines of the same index.
// ExpireProjectArtifacts reads every job of the project.
// SweepExpiredArtifacts goes round the jobs in id order from where this
// Store's last sweep stopped, reading job files until it has limit records,
// so a sweep in batches reads each job about once; it returns fewer than
// limit only after reading them all.
package fsstore
