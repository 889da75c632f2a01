// Package s3store is a jobartifacts.BlobStore on a bucket of Amazon S3 or
// any S3-compatible service (MinIO, Ceph RGW, versitygw, Cloudflare R2, …),
// through github.com/minio/minio-go/v7. Pair it with a metadata store with
// jobartifacts.CombineStores. Several replicas may share one bucket.
//
// It is a module of its own, so that hosts that do not use it do not
// download minio-go.
//
// # Connecting
//
// Open takes an endpoint, a region, credentials and a bucket, with path or
// virtual-host addressing (Config.Addressing); New takes a *minio.Client
// made by the host. WithPrefix keeps the blobs under a prefix of a shared
// bucket. The bucket must exist.
//
// # Reads
//
// OpenBlob is one HEAD request, for the size, modification time and ETag.
// Every later read of the Blob is a ranged GET conditional on that ETag
// (If-Match), made with OpenBlob's context, so a Blob never reads bytes of
// another object, and one whose object was deleted fails with ErrNotFound.
//
//   - NewRangeReader is one GET per call, streamed: the handler sends whole
//     archives and entries through it.
//   - ReadAt, which the handler uses for a zip's central directory (a few
//     small reads near the end, then sequential ones), reads through a
//     window (WithReadAhead): a read outside the window fetches at least
//     64 KiB, placed so that a read near the end caches the bytes before it;
//     each read continuing where the window ends doubles it, up to 1 MiB.
//     Concurrent ReadAt calls are safe and take turns on one window, so an
//     open Blob holds at most 1 MiB.
//
// # Writes
//
// PutBlob streams its reader in parts of an explicit size (WithPartSize,
// 16 MiB by default), holding one part in memory: minio-go's own default
// for a body of unknown length would allocate about 537 MiB. Its first MiB
// goes into a small buffer, so a blob that ends there (most do) takes no
// part, and the part buffers of all uploads in flight stay within
// WithPartMemory (256 MiB by default): an upload that finds no room waits
// for it, in turn, under its context. The first-MiB buffers are bounded to
// a quarter of that (64 at the default); an upload that finds none, and no
// part buffer either, waits for either before it reads a byte, so the
// uploads in flight hold at most 1.25 × WithPartMemory. A blob smaller
// than one part is one PUT; a larger one is a multipart upload, which S3
// makes visible only when completed and which PutBlob aborts on any error
// or cancellation. AbortIncompleteUploads removes the uploads that could not
// be aborted (the process died), once they are older than the longest
// upload.
//
// Blob keys are never reused (jobartifacts.NewBlobKey), and that, not a
// conditional request, is what keeps a blob write-once. PutBlob still asks
// for create-only writes (If-None-Match: * on the PUT and on the multipart
// completion; WithCreateOnly) and answers ErrConflict when the service
// refuses: Amazon S3 and versitygw do, on both; other services may ignore
// the header on one or both and replace the object.
//
// # Signed URLs
//
// SignedURL presigns a GET, or a HEAD for Method "HEAD" (S3 answers HEAD on a
// GET-signed URL with 403), valid 5 minutes unless asked otherwise and at
// most 7 days, with the download's Content-Disposition and Content-Type as
// response-content-disposition and response-content-type.
//
// # Deletion and listing
//
// DeleteBlob of a missing object succeeds. ListBlobs lists keys in order
// with the last key of a page as the next page's token (ListObjectsV2
// StartAfter), one request per page of up to 1,000.
package s3store
