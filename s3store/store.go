package s3store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/ciartifacts/jobartifacts"
)

var _ jobartifacts.BlobStore = (*Store)(nil)

// S3's limits on multipart uploads.
const (
	minPartSize = 5 << 20
	maxPartSize = 5 << 30
	maxParts    = 10_000
	// headSize is how much PutBlob reads before it takes a part buffer:
	// most uploads (reports, dotenv files, small archives) end within it.
	headSize = 1 << 20
)

// Defaults of the options.
const (
	// DefaultPartSize is the part size of multipart uploads: 16 MiB parts
	// allow objects of 156 GiB within S3's 10,000 parts.
	DefaultPartSize = 16 << 20
	// DefaultPartMemory bounds the part buffers of the uploads in flight
	// (WithPartMemory): 16 parts of DefaultPartSize.
	DefaultPartMemory = 256 << 20
	// DefaultURLExpiry is how long a signed URL stays valid when
	// SignedURLOptions.Expiry is zero.
	DefaultURLExpiry = 5 * time.Minute
	// MaxURLExpiry is the longest validity S3 accepts for a signed URL
	// (signature version 4); longer expiries are cut to it.
	MaxURLExpiry = 7 * 24 * time.Hour
	// DefaultReadAheadMin and DefaultReadAheadMax bound the window of
	// Blob.ReadAt (WithReadAhead): a read starts it at 64 KiB, reads that
	// continue one another double it up to 1 MiB.
	DefaultReadAheadMin = 64 << 10
	DefaultReadAheadMax = 1 << 20
)

// Store is a jobartifacts.BlobStore on one bucket of an S3-compatible object
// store. Several Stores, in one process or in several, may share a bucket.
// It is safe for concurrent use.
type Store struct {
	client *minio.Client
	core   minio.Core
	bucket string
	cfg    config
	// parts recycles PutBlob's part buffers, heads its first reads'.
	parts, heads sync.Pool
	// partTokens holds a token for each part buffer in use (nil: no
	// bound); an upload that needs one waits for room, in order.
	partTokens chan struct{}
	// headTokens holds a token for each head buffer in use, a quarter of
	// the part memory's worth (at least one); nil when partTokens is.
	headTokens chan struct{}
}

// config is what the options set; its zero value is completed by New.
type config struct {
	prefix                     string
	partSize                   int64
	partMemory                 int64
	readAheadMin, readAheadMax int
	createOnly                 bool
	logger                     *slog.Logger
}

// Option configures a Store.
type Option func(*config)

// WithPrefix stores every blob under prefix + key (for example
// "jobartifacts/"), so that one bucket can hold other objects too. ListBlobs
// and AbortIncompleteUploads see only objects under the prefix.
func WithPrefix(prefix string) Option {
	return func(c *config) { c.prefix = prefix }
}

// WithPartSize sets the size of the parts in which PutBlob uploads a blob
// (DefaultPartSize if not set). PutBlob holds one part in memory per upload,
// and a blob smaller than one part is stored with a single PUT. Sizes are
// kept within S3's limits of 5 MiB and 5 GiB.
func WithPartSize(bytes int64) Option {
	return func(c *config) { c.partSize = min(max(bytes, minPartSize), maxPartSize) }
}

// WithPartMemory bounds, in bytes, the memory of the part buffers of the
// uploads in flight (DefaultPartMemory if not set; at least one part). A
// blob's first MiB is read into a small buffer of its own, so a blob that
// ends there never takes a part buffer; a larger one waits for room, first
// come first served, under its context, holding its first MiB while its
// client waits too. Those first-MiB buffers are bounded as well, to a
// quarter of bytes (at least one): an upload that finds none free and no
// part buffer either waits for whichever comes first, holding nothing. So
// the uploads in flight hold at most 1.25 × bytes, however many there are.
// bytes <= 0 lifts both bounds: each upload in flight may then hold a
// part.
func WithPartMemory(bytes int64) Option {
	return func(c *config) { c.partMemory = bytes }
}

// WithReadAhead sets the window of Blob.ReadAt: a read missing the window
// fetches at least minBytes, and each read continuing the previous one
// doubles the window up to maxBytes (DefaultReadAheadMin and
// DefaultReadAheadMax if not set). An open Blob holds at most one window in
// memory, so maxBytes bounds what each request reading an archive's entries
// or directory holds.
func WithReadAhead(minBytes, maxBytes int) Option {
	return func(c *config) {
		c.readAheadMin = max(minBytes, 1)
		c.readAheadMax = max(maxBytes, c.readAheadMin)
	}
}

// WithCreateOnly says whether PutBlob asks the service to refuse an existing
// key (If-None-Match: *), on single PUTs and on completing a multipart
// upload; it is on if not set. A service that ignores the header replaces
// the object instead: the safety of PutBlob never depends on it, since
// blob keys are never reused. Turn it off for a service that rejects the
// header.
func WithCreateOnly(on bool) Option {
	return func(c *config) { c.createOnly = on }
}

// WithLogger sets where the Store reports what it cannot return as an error,
// such as a failed abort of a multipart upload. It logs nothing if not set.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) { c.logger = l }
}

// New returns a Store on bucket, which must exist, through client. A client
// made with a Region (minio.Options.Region) signs URLs without asking the
// service for the bucket's location.
func New(client *minio.Client, bucket string, opts ...Option) *Store {
	cfg := config{
		partSize:     DefaultPartSize,
		partMemory:   DefaultPartMemory,
		readAheadMin: DefaultReadAheadMin,
		readAheadMax: DefaultReadAheadMax,
		createOnly:   true,
	}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.logger == nil {
		cfg.logger = slog.New(slog.DiscardHandler)
	}
	s := &Store{client: client, core: minio.Core{Client: client}, bucket: bucket, cfg: cfg}
	s.parts.New = func() any {
		b := make([]byte, cfg.partSize)
		return &b
	}
	s.heads.New = func() any {
		b := make([]byte, headSize)
		return &b
	}
	if cfg.partMemory > 0 {
		s.partTokens = make(chan struct{}, max(cfg.partMemory/cfg.partSize, 1))
		s.headTokens = make(chan struct{}, max(cfg.partMemory/(4*headSize), 1))
	}
	return s
}

// Addressing says how requests name the bucket.
type Addressing int

const (
	// AddressingAuto lets minio-go choose: virtual-host style for Amazon S3
	// and a few other known services, path style otherwise.
	AddressingAuto Addressing = iota
	// PathStyle sends requests to https://endpoint/bucket/key.
	PathStyle
	// VirtualHostStyle sends requests to https://bucket.endpoint/key.
	VirtualHostStyle
)

// Config says how Open reaches a bucket.
type Config struct {
	// Endpoint is the service's host and optional port, without a scheme
	// ("s3.eu-west-1.amazonaws.com", "127.0.0.1:7070").
	Endpoint string
	// Region is the bucket's region; it is signed into every request. Empty
	// means "us-east-1" for services other than Amazon S3, which is then
	// asked for the bucket's location once.
	Region string
	// AccessKey and SecretKey are static credentials, and SessionToken an
	// optional session token for them. They are ignored when Credentials is
	// set.
	AccessKey, SecretKey, SessionToken string
	// Credentials, if set, provides the credentials (for example
	// credentials.NewIAM or credentials.NewEnvAWS).
	Credentials *credentials.Credentials
	// Bucket is the bucket's name. It must exist.
	Bucket string
	// UseSSL connects with HTTPS.
	UseSSL bool
	// Addressing is path or virtual-host style (AddressingAuto if zero).
	Addressing Addressing
	// Transport, if set, carries the requests (http.DefaultTransport's
	// settings otherwise).
	Transport http.RoundTripper
}

// Open connects to the bucket that cfg names and checks that it exists.
func Open(ctx context.Context, cfg Config, opts ...Option) (*Store, error) {
	creds := cfg.Credentials
	if creds == nil {
		creds = credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, cfg.SessionToken)
	}
	lookup := map[Addressing]minio.BucketLookupType{
		AddressingAuto:   minio.BucketLookupAuto,
		PathStyle:        minio.BucketLookupPath,
		VirtualHostStyle: minio.BucketLookupDNS,
	}[cfg.Addressing]
	region := cfg.Region
	if region == "" && !strings.HasSuffix(cfg.Endpoint, "amazonaws.com") {
		region = "us-east-1"
	}
	client, err := minio.New(cfg.Endpoint, &minio.Options{
		Creds:        creds,
		Secure:       cfg.UseSSL,
		Region:       region,
		BucketLookup: lookup,
		Transport:    cfg.Transport,
	})
	if err != nil {
		return nil, fmt.Errorf("s3store: %w", err)
	}
	ok, err := client.BucketExists(ctx, cfg.Bucket)
	if err != nil {
		return nil, fmt.Errorf("s3store: bucket %q: %w", cfg.Bucket, err)
	}
	if !ok {
		return nil, fmt.Errorf("s3store: bucket %q does not exist", cfg.Bucket)
	}
	return New(client, cfg.Bucket, opts...), nil
}

// objectName is the object that holds key.
func (s *Store) objectName(key jobartifacts.BlobKey) string {
	return s.cfg.prefix + string(key)
}

// DeleteBlob removes the blob's object. A missing object is not an error.
// Readers of the blob may fail afterwards: every request of an open Blob
// names the object's ETag, so they never read other bytes.
func (s *Store) DeleteBlob(ctx context.Context, key jobartifacts.BlobKey) error {
	if key == "" {
		return nil // no blob has the empty key; nothing to retry forever
	}
	err := s.client.RemoveObject(ctx, s.bucket, s.objectName(key), minio.RemoveObjectOptions{})
	if err != nil && !isNoSuchKey(err) {
		return fmt.Errorf("s3store: delete blob %q: %w", key, err)
	}
	return nil
}

// ListBlobs lists the blobs whose keys start with prefix, in key order, after
// pageToken; the next page's token is the last key returned. It costs one
// LIST request for pages of up to 1,000 blobs (the service's page size).
func (s *Store) ListBlobs(ctx context.Context, prefix, pageToken string, limit int) ([]jobartifacts.BlobAttributes, string, error) {
	if limit <= 0 {
		return nil, "", fmt.Errorf("s3store: list blobs: limit %d must be positive", limit)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // stops minio-go's listing goroutine once we have enough
	opts := minio.ListObjectsOptions{
		Prefix:    s.cfg.prefix + prefix,
		Recursive: true,
		MaxKeys:   limit + 1, // one more, to know whether another page follows
	}
	if pageToken != "" {
		opts.StartAfter = s.cfg.prefix + pageToken
	}
	var blobs []jobartifacts.BlobAttributes
	for obj := range s.client.ListObjects(ctx, s.bucket, opts) {
		if obj.Err != nil {
			return nil, "", fmt.Errorf("s3store: list blobs: %w", obj.Err)
		}
		if len(blobs) == limit {
			return blobs, string(blobs[limit-1].Key), nil
		}
		blobs = append(blobs, jobartifacts.BlobAttributes{
			Key:     jobartifacts.BlobKey(strings.TrimPrefix(obj.Key, s.cfg.prefix)),
			Size:    obj.Size,
			ModTime: obj.LastModified,
		})
	}
	if err := ctx.Err(); err != nil {
		return nil, "", fmt.Errorf("s3store: list blobs: %w", err)
	}
	return blobs, "", nil
}

// SignedURL presigns a GET (or, for Method "HEAD", a HEAD: a URL signed for
// GET answers HEAD with 403) of the blob's object, valid for opts.Expiry
// (DefaultURLExpiry if zero, at most MaxURLExpiry). ContentDisposition and
// ContentType become the response-content-disposition and
// response-content-type parameters, which the service echoes as headers,
// for HEAD as for GET. Signing needs no request when the client knows the
// bucket's region.
func (s *Store) SignedURL(ctx context.Context, key jobartifacts.BlobKey, opts jobartifacts.SignedURLOptions) (string, error) {
	method := opts.Method
	if method == "" {
		method = http.MethodGet
	}
	if method != http.MethodGet && method != http.MethodHead {
		return "", fmt.Errorf("s3store: signed URL for %s: %w", method, jobartifacts.ErrNotSupported)
	}
	expiry := opts.Expiry
	switch {
	case expiry < 0:
		return "", fmt.Errorf("s3store: signed URL: negative expiry %v", expiry)
	case expiry == 0:
		expiry = DefaultURLExpiry
	case expiry < time.Second:
		expiry = time.Second // the smallest validity S3 signs
	}
	expiry = min(expiry, MaxURLExpiry)
	params := url.Values{}
	if opts.ContentDisposition != "" {
		params.Set("response-content-disposition", opts.ContentDisposition)
	}
	if opts.ContentType != "" {
		params.Set("response-content-type", opts.ContentType)
	}
	u, err := s.client.Presign(ctx, method, s.bucket, s.objectName(key), expiry, params)
	if err != nil {
		return "", fmt.Errorf("s3store: signed URL for %q: %w", key, err)
	}
	return u.String(), nil
}

// isNoSuchKey reports whether err is S3's "no such object". A HEAD answered
// 404 has no body; minio-go names it NoSuchKey too.
func isNoSuchKey(err error) bool {
	code := minio.ToErrorResponse(err).Code
	return code == minio.NoSuchKey || code == "NotFound"
}

// isPreconditionFailed reports whether err is a 412 answer to If-Match or
// If-None-Match.
func isPreconditionFailed(err error) bool {
	r := minio.ToErrorResponse(err)
	return r.StatusCode == http.StatusPreconditionFailed || r.Code == "PreconditionFailed"
}

// isConditionalConflict reports whether err says a conditional write lost:
// 412, or Amazon S3's 409 ConditionalRequestConflict for a completion that
// raced another write of the key.
func isConditionalConflict(err error) bool {
	return isPreconditionFailed(err) || minio.ToErrorResponse(err).Code == "ConditionalRequestConflict"
}

// readFull reads from r until buf is full or r ends, checking ctx between
// reads. It returns io.EOF only when buf is not full.
func readFull(ctx context.Context, r io.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		m, err := r.Read(buf[n:])
		n += m
		if errors.Is(err, io.EOF) {
			return n, io.EOF
		}
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// isNoSuchUpload reports whether err says a multipart upload is gone
// (completed or aborted meanwhile).
func isNoSuchUpload(err error) bool {
	return minio.ToErrorResponse(err).Code == minio.NoSuchUpload
}
