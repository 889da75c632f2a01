// Package memstore is an in-memory jobartifacts.Store that can be seeded
// directly (PutProject, PutPipeline, PutJob, PutArchive). It is meant for
// tests, demos and examples: everything is lost when the process exits.
//
// # Seeding
//
// A project, a pipeline, a job and its archive take a few lines:
//
//	s := memstore.New()
//	_ = s.PutProject(ctx, jobartifacts.Project{ID: 1, PathWithNamespace: "group/app"})
//	_ = s.PutPipeline(ctx, jobartifacts.Pipeline{ID: 10, ProjectID: 1, Ref: "main", Status: "success"})
//	_ = s.PutJob(ctx, jobartifacts.Job{ID: 100, ProjectID: 1, Pipeline: jobartifacts.Pipeline{ID: 10}, Name: "build", Status: "success"})
//	_, _ = s.PutArchive(ctx, 1, 100, zipBytes)
//
// # Copies
//
// The store keeps deep copies of the values it is given and hands out deep
// copies, so callers may change what they passed in or got back.
//
// # Atomicity and views
//
// Every method is one step under one lock, so each conditional write of the
// MetadataStore contract (CreateArtifact, KeepArtifacts,
// SweepExpiredArtifacts, ClaimBlobDeletions, …) checks and writes without
// another call in between. View returns a second Store over the same data,
// as a second replica sharing one database would see it: tests of the
// contract's cross-instance rules use one view per "replica".
//
// # Blob deletion queue
//
// A record removed by ReplaceArtifact, ForgetArtifacts or
// SweepExpiredArtifacts queues its blob key in the same step, stamped with
// the store's clock (WithClock, default time.Now). ClaimBlobDeletions hands
// out keys queued at least the grace period ago and not under an unexpired
// claim, in the order they were queued (then by key), and claims them for
// the lease.
//
// # Blobs
//
// Blobs are immutable byte slices, written once: PutBlob reads its reader to
// the end into a new slice and then stores it only if the key is new
// (ErrConflict otherwise, the old blob untouched), so a failed or cancelled
// put leaves nothing. A Blob opened earlier keeps reading its bytes after a
// delete. The context given to OpenBlob is kept by the returned Blob: once it
// is done, ReadAt and the readers of NewRangeReader fail with its error.
// Blob modification times come from the store's clock. SignedURL is not
// supported (ErrNotSupported): the handler serves the bytes itself.
package memstore
