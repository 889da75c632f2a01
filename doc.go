// Package jobartifacts serves GitLab's Job Artifacts API (REST v4) as an
// embeddable net/http handler, so that everything written against GitLab —
// the curl lines of GitLab's docs, GitLab's Go client, python-gitlab,
// gitbeaker, GitLab Runner — works unchanged against a Go program that
// mounts it.
//
// # Mounting
//
// New returns an http.Handler. It answers under /api/v4 by default
// (WithBasePath changes that) and can serve alone, be mounted on an
// http.ServeMux with a "/api/v4/" pattern, or on a gorilla/mux router with
// PathPrefix("/api/v4").Handler(h). Paths are matched still percent-encoded
// and are never cleaned or redirected, because an artifact path must match a
// zip entry name byte for byte. (http.ServeMux itself redirects paths that
// contain "..", "." or "//" segments before the handler sees them; serve the
// handler directly, or through gorilla/mux with SkipClean, to keep them.)
// AccessLog wraps it, or any handler, in a request log that never shows a
// token. On shutdown, call Handler.Close after http.Server.Shutdown and
// before closing the Store: it ends the archive index builds that requests
// left reading the Store.
//
// # Stores
//
// A Store is a MetadataStore (projects, pipelines, jobs, artifact records,
// the blob deletion queue) plus a BlobStore (write-once archive bytes), so a
// host can pair its own database with any blob storage (CombineStores), and
// several server processes can share them: every mutation is one atomic,
// conditional store call, and a lost race is ErrConflict. Package memstore
// keeps everything in memory, package fsstore in a directory. Package
// storetest is the conformance suite every Store runs.
//
// Archives are read through Blob: ReadAt for the zip's central directory,
// NewRangeReader (one request on object storage) for whole archives and
// entry data; the archive is never read whole into memory. A Blob backed
// by a local file (FileBlob, as fsstore's are) is sent with sendfile(2).
// Uploads reach PutBlob as a SHA256Reader, so a store that hashes for its
// ETag can take the handler's hash instead of computing it again.
//
// # Authorization
//
// An Authorizer turns a request's credential into a Principal
// (Authenticate) and decides each action (Authorize) with a Decision whose
// zero value hides: 404, exactly as for a missing project or job. The
// handler asks first at project level, before any job lookup, then with the
// job. Package tokenauth is a ready-made Authorizer with GitLab's roles,
// public pipelines and CI/CD job tokens.
//
// # Runner and expiry
//
// The runner routes take GitLab Runner's upload (POST /jobs/:id/artifacts,
// a chunked multipart body streamed to the BlobStore, at most
// WithMaxUploadSize bytes, expire_in parsed by ParseExpireIn) and its
// download (GET /jobs/:id/artifacts), both with the job token of a running
// job. A Sweeper deletes expired artifacts that were not kept, and the
// blobs of removed records once their grace period has passed: call Sweep
// once, or Run it every so often, on every replica if you like.
//
// A stream that fails after its headers went out is logged and cut with
// panic(http.ErrAbortHandler), as net/http's own handlers do, so that the
// client sees a truncated transfer rather than a short body. Recovery
// middleware in front of the handler must let that panic through
// (re-panic it).
//
// # Errors
//
// Stores and Authorizers report failures with the sentinel errors of this
// package (ErrNotFound, ErrUnauthorized, …), wrapped with %w. The handler
// maps them to GitLab's status codes and JSON bodies in one place; no error
// text ever reaches a client, and server errors are logged through the
// slog.Logger given with WithLogger. A request whose context ended (the
// client went away) is not one: it is answered 499 and logged at Debug.
//
// # Caching
//
// Responses carry GitLab's Cache-Control ("max-age=0, private,
// must-revalidate" on 200 and 201 JSON, "no-cache" otherwise), made
// "private, no-cache" whenever the request carried a credential or its
// project is not known to be public, and Vary on the credential headers
// and on Origin: a shared cache in front of the handler never stores what
// not everyone may read.
//
// # Cross-origin requests
//
// The handler answers browsers as GitLab's Rack::Cors answers /api/*: a
// preflight (OPTIONS with Origin and Access-Control-Request-Method) is 200
// before any route is tried, with Access-Control-Allow-Origin: * and the
// methods, exposed headers and max age GitLab sends, echoing the requested
// headers; every other request with an Origin gets the same headers on
// whatever it is answered, errors included. WithCORSOrigin names GitLab's
// own URL, the one origin allowed credentials.
package jobartifacts
