package jobartifacts

import (
	"io"
	"log/slog"
	"strings"
	"time"
)

// Option configures a Handler. The zero configuration works: base path
// /api/v4, no logging, single files up to DefaultMaxEntrySize.
type Option func(*config)

type config struct {
	basePath      string
	logger        *slog.Logger
	now           func() time.Time
	maxEntrySize  int64
	maxUploadSize int64
	// archiveIndexBudget bounds the memory of cached central directories.
	archiveIndexBudget int64
	// zstdDecoders and zstdMemory bound the zstd decoders: their number
	// and their memory.
	zstdDecoders int
	zstdMemory   int64
	// uploadMemory bounds the large blocks of uploads in flight.
	uploadMemory  int64
	defaultExpiry time.Duration
	// signedURLExpiry is how long redirect URLs live; keep it shorter than
	// the Sweeper's blob grace period.
	signedURLExpiry time.Duration
	// corsOrigin is GitLab's own URL for CORS: the origin allowed
	// credentials; "" for none.
	corsOrigin string
}

func defaultConfig() config {
	return config{
		basePath:           "/api/v4",
		logger:             slog.New(slog.NewTextHandler(io.Discard, nil)),
		now:                time.Now,
		maxUploadSize:      100 << 20, // GitLab's default maximum artifacts size: 100 MiB
		archiveIndexBudget: DefaultArchiveIndexBudget,
		maxEntrySize:       DefaultMaxEntrySize,
		zstdDecoders:       DefaultZstdDecoders,
		zstdMemory:         DefaultZstdMemory,
		uploadMemory:       DefaultUploadMemory,
		defaultExpiry:      30 * 24 * time.Hour, // GitLab's default expire_in
		// GitLab's object storage URLs live for minutes too.
		signedURLExpiry: 5 * time.Minute,
	}
}

// WithBasePath sets the path prefix the routes live under (default
// "/api/v4"). Use "" when an outer router strips the prefix before calling
// the handler. A trailing slash is ignored.
func WithBasePath(p string) Option {
	return func(c *config) { c.basePath = strings.TrimSuffix(p, "/") }
}

// WithLogger sets the logger. The handler logs only server errors (5xx) and
// aborted streams, never tokens. By default it logs nothing.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) {
		if l != nil {
			c.logger = l
		}
	}
}

// WithClock sets the function that tells the time, for expiry decisions.
// Tests inject a fixed clock; the default is time.Now.
func WithClock(now func() time.Time) Option {
	return func(c *config) {
		if now != nil {
			c.now = now
		}
	}
}

// DefaultMaxEntrySize is the largest single file served from an archive
// unless WithMaxEntrySize says otherwise.
const DefaultMaxEntrySize = 2 << 30

// WithMaxEntrySize caps the uncompressed size of a single file served from an
// archive (routes 3 and 4): a larger entry is answered 413 before any byte is
// sent. The default is 2 GiB (DefaultMaxEntrySize): an upload of 100 MiB
// may hold a bomb of 100 GiB, and every byte of an entry is decompressed to
// be sent. n <= 0 means no limit.
func WithMaxEntrySize(n int64) Option {
	return func(c *config) { c.maxEntrySize = n }
}

// WithMaxUploadSize caps the size of one artifact file uploaded by a runner
// (route 9), GitLab's "maximum artifacts size" (default 100 MiB): a larger
// upload is answered 413 and nothing of it is kept. n <= 0 means no limit.
func WithMaxUploadSize(n int64) Option {
	return func(c *config) { c.maxUploadSize = n }
}

// WithDefaultExpireIn sets how long uploaded artifacts are kept when the
// runner sends no expire_in (route 9): GitLab's "default artifacts
// expiration", 30 days unless set. d <= 0 means they never expire.
func WithDefaultExpireIn(d time.Duration) Option {
	return func(c *config) { c.defaultExpiry = max(d, 0) }
}

// WithSignedURLExpiry sets how long the URLs of whole-archive redirects stay
// valid (default 5 minutes; see BlobStore.SignedURL). Keep it shorter than
// the Sweeper's blob grace period (WithBlobGrace), so that no URL outlives
// the blob it points at. d <= 0 keeps the default.
func WithSignedURLExpiry(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.signedURLExpiry = d
		}
	}
}

// WithArchiveIndexBudget bounds the memory, in bytes, of the index of
// archives' central directories that the handler keeps to answer single-file
// requests and tree pages without reading the directory again (default
// DefaultArchiveIndexBudget, 256 MiB; least recently used archives leave
// first). An archive whose index alone would exceed it is
// read as a stream on every request, and its tree pages are not counted
// (no X-Total). n <= 0 keeps no index.
func WithArchiveIndexBudget(n int64) Option {
	return func(c *config) { c.archiveIndexBudget = max(n, 0) }
}

// WithZstdDecoders bounds how many zstd (method 93) decoders exist at once,
// in use or idle (default 8); WithZstdMemory bounds their memory. A request
// finding no decoder waits for one, under its context, before any header.
// n <= 0 lifts this bound; with WithZstdMemory(0) too, every zstd entry
// gets a decoder of its own, freed when it ends (no bound at all).
func WithZstdDecoders(n int) Option {
	return func(c *config) { c.zstdDecoders = n }
}

// WithZstdMemory bounds, in bytes, the memory of the zstd decoders, in use
// or idle (default 64 MiB). Each stream holds its frame's window (8 MiB at
// the usual levels, up to 32 MiB, never more than about the entry's size)
// plus about 0.5 MiB; idle decoders make room first, then requests wait,
// first come first served, under their context. A stream
// whose window alone exceeds n runs when no other decoder exists. n <= 0
// lifts this bound.
func WithZstdMemory(n int64) Option {
	return func(c *config) { c.zstdMemory = n }
}

// WithUploadMemory bounds, in bytes, the memory of the large (4 MiB)
// blocks that the uploads in flight read into, hash and write: three an
// upload, and up to eight while half of n is free (default
// DefaultUploadMemory, 256 MiB). An upload that finds the budget spent
// takes 64 KiB blocks instead, some 15 % slower (BenchmarkUploadReader),
// and never waits: about 224 KiB an upload whatever its size. n <= 0 lifts this bound. Uploads of StoreArtifact,
// which has no Handler, are not counted.
func WithUploadMemory(n int64) Option {
	return func(c *config) { c.uploadMemory = n }
}

// WithCORSOrigin names the origin that GitLab's first Rack::Cors block
// allows with credentials: GitLab's own URL (Gitlab.config.gitlab.url, such
// as "https://gitlab.example.com"). A request whose Origin is exactly this
// string is answered with Access-Control-Allow-Origin echoing it and
// Access-Control-Allow-Credentials: true; any other Origin gets
// Access-Control-Allow-Origin: * without credentials, which is all the
// handler sends by default (origin ""). As in GitLab, the comparison is
// byte for byte: no trailing slash, no default port, no path (a GitLab
// under a relative URL root never matches an Origin).
func WithCORSOrigin(origin string) Option {
	return func(c *config) { c.corsOrigin = origin }
}
