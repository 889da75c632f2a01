package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/ciartifacts/jobartifacts"
	"github.com/ciartifacts/jobartifacts/fsstore"
	"github.com/ciartifacts/jobartifacts/pgstore"
	"github.com/ciartifacts/jobartifacts/s3store"
)

// storeConfig says where the metadata and the blobs live. Each half is an
// fsstore in dataDir unless its flags name another place: -postgres moves
// the metadata to PostgreSQL, -s3-bucket moves the blobs to S3. Replicas on
// several machines need both; replicas on one machine may share dataDir.
type storeConfig struct {
	dataDir        string
	idleBlobFiles  int   // fsstore.WithIdleBlobFiles
	spaceReserve   int64 // fsstore.WithSpaceReserve
	directIO       bool  // false: fsstore.WithoutDirectIO
	postgresDSN    string
	postgresSchema string
	s3             s3Config
}

// s3Config is what the -s3 flags say; the credentials come from the
// environment (s3Credentials).
type s3Config struct {
	endpoint   string
	bucket     string
	region     string
	prefix     string
	addressing string
	tls        bool
	partSize   int64 // bytes of a multipart upload's part (s3store.WithPartSize)
	partMemory int64 // bytes of part buffers for the uploads in flight
	readAhead  int   // the most a Blob's ReadAt fetches at once (s3store.WithReadAhead)
	createOnly bool  // s3store.WithCreateOnly
}

// s3Addressing maps -s3-addressing to s3store's.
var s3Addressing = map[string]s3store.Addressing{
	"auto":    s3store.AddressingAuto,
	"path":    s3store.PathStyle,
	"virtual": s3store.VirtualHostStyle,
}

// addStoreFlags declares the flags of storeConfig.
func addStoreFlags(fs *flag.FlagSet, c *storeConfig) {
	fs.StringVar(&c.dataDir, "data", "./artifacts-data", "directory of the fsstore that holds what -postgres and -s3-bucket do not; created if missing")
	fs.IntVar(&c.idleBlobFiles, "idle-blob-files", fsstore.DefaultIdleBlobFiles, "archive files in -data kept open, for a few seconds, after their download for the next one (0: none)")
	fs.Int64Var(&c.spaceReserve, "space-reserve", fsstore.DefaultSpaceReserve, "bytes of -data's reserve file, given back to a full disk so that deletions and expiries can still be written (0: none)")
	fs.BoolVar(&c.directIO, "direct-io", true, "write uploaded archives in -data around the page cache (O_DIRECT) where the file system allows it; -direct-io=false writes them through it")
	fs.StringVar(&c.postgresDSN, "postgres", "", "PostgreSQL connection string or URL: keep the metadata there (pgstore) instead of -data")
	fs.StringVar(&c.postgresSchema, "postgres-schema", pgstore.DefaultSchema, "with -postgres: the schema of the tables, created if missing; every replica uses the same")
	fs.StringVar(&c.s3.bucket, "s3-bucket", "", "S3 bucket (must exist): keep the archives there (s3store) instead of -data; credentials from JOBARTIFACTS_S3_ACCESS_KEY and JOBARTIFACTS_S3_SECRET_KEY, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
	fs.StringVar(&c.s3.endpoint, "s3-endpoint", "s3.amazonaws.com", "with -s3-bucket: the S3 service's host[:port], without a scheme")
	fs.StringVar(&c.s3.region, "s3-region", "", "with -s3-bucket: the bucket's region (default: us-east-1, or asked of Amazon S3)")
	fs.StringVar(&c.s3.prefix, "s3-prefix", "", "with -s3-bucket: a prefix of every object name, to share the bucket (e.g. jobartifacts/)")
	fs.StringVar(&c.s3.addressing, "s3-addressing", "auto", "with -s3-bucket: how requests name the bucket: path (endpoint/bucket/key), virtual (bucket.endpoint/key) or auto")
	fs.BoolVar(&c.s3.tls, "s3-tls", true, "with -s3-bucket: connect with HTTPS (-s3-tls=false for a plain-HTTP service on loopback)")
	fs.Int64Var(&c.s3.partSize, "s3-part-size", s3store.DefaultPartSize, "with -s3-bucket: bytes of each part of a multipart upload, 5 MiB to 5 GiB; an archive smaller than one part is stored with a single PUT, and S3's 10,000 parts bound an archive to 10,000 times this")
	fs.BoolVar(&c.s3.createOnly, "s3-create-only", true, "with -s3-bucket: uploads ask the service to refuse an existing object (If-None-Match: *); -s3-create-only=false for a service that rejects the header (archives' keys are never reused, so nothing relies on it)")
	fs.IntVar(&c.s3.readAhead, "s3-read-ahead", s3store.DefaultReadAheadMax, "with -s3-bucket: the most, in bytes, that a request reading an archive's directory or files fetches ahead of its reads and holds; reads that continue one another double the fetch from 64 KiB up to it")
	fs.Int64Var(&c.s3.partMemory, "s3-part-memory", s3store.DefaultPartMemory, "with -s3-bucket: memory, in bytes, for the part buffers (-s3-part-size each) of uploads in flight; past it an upload larger than 1 MiB waits for one; their 1 MiB first buffers take at most a quarter as much again (0: no bound)")
}

// check refuses flags that cannot work together.
func (c storeConfig) check() error {
	switch {
	case c.postgresDSN == "" && c.postgresSchema != pgstore.DefaultSchema:
		return errors.New("-postgres-schema goes with -postgres")
	case c.postgresSchema == "":
		return errors.New("-postgres-schema must not be empty")
	case c.idleBlobFiles < 0:
		return errors.New("-idle-blob-files must not be negative")
	case c.spaceReserve < 0:
		return errors.New("-space-reserve must not be negative")
	case c.s3.partSize < 5<<20 || c.s3.partSize > 5<<30:
		return fmt.Errorf("-s3-part-size %d: S3 takes parts of 5 MiB (5242880) to 5 GiB (5368709120)", c.s3.partSize)
	case c.s3.readAhead < 1:
		return errors.New("-s3-read-ahead must be at least 1")
	case c.s3.bucket == "" && c.s3.prefix != "":
		return errors.New("-s3-prefix goes with -s3-bucket")
	case c.s3.bucket != "" && c.s3.endpoint == "":
		return errors.New("-s3-endpoint must not be empty")
	}
	if _, ok := s3Addressing[c.s3.addressing]; !ok {
		return fmt.Errorf("-s3-addressing %q: want path, virtual or auto", c.s3.addressing)
	}
	return nil
}

// s3Credentials reads static S3 credentials from the environment:
// JOBARTIFACTS_S3_ACCESS_KEY and JOBARTIFACTS_S3_SECRET_KEY, else AWS's
// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN. Never
// flags: a command line is visible to every user of the machine.
func s3Credentials(getenv func(string) string) (*credentials.Credentials, error) {
	if id, secret := getenv("JOBARTIFACTS_S3_ACCESS_KEY"), getenv("JOBARTIFACTS_S3_SECRET_KEY"); id != "" || secret != "" {
		if id == "" || secret == "" {
			return nil, errors.New("S3 credentials: set both JOBARTIFACTS_S3_ACCESS_KEY and JOBARTIFACTS_S3_SECRET_KEY")
		}
		return credentials.NewStaticV4(id, secret, getenv("JOBARTIFACTS_S3_SESSION_TOKEN")), nil
	}
	if id, secret := getenv("AWS_ACCESS_KEY_ID"), getenv("AWS_SECRET_ACCESS_KEY"); id != "" && secret != "" {
		return credentials.NewStaticV4(id, secret, getenv("AWS_SESSION_TOKEN")), nil
	}
	return nil, errors.New("S3 credentials: set JOBARTIFACTS_S3_ACCESS_KEY and JOBARTIFACTS_S3_SECRET_KEY (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)")
}

// seeder is what the demo and the import command write with besides a
// Store: fsstore and pgstore both have it.
type seeder interface {
	PutProject(ctx context.Context, p jobartifacts.Project) error
	PutPipeline(ctx context.Context, p jobartifacts.Pipeline) error
	PutJob(ctx context.Context, j jobartifacts.Job) error
}

// seedMetadata is a metadata half that can be seeded.
type seedMetadata interface {
	jobartifacts.MetadataStore
	seeder
}

// composedStore is a Store made of two halves, seeded through its
// metadata half.
type composedStore struct {
	jobartifacts.Store
	seeder
}

// composedProjectJobStore is a composedStore whose Store is a
// jobartifacts.ProjectJobReader, which embedding the Store alone hides.
type composedProjectJobStore struct {
	composedStore
	jobartifacts.ProjectJobReader
}

// composeStore joins the halves with jobartifacts.CombineStores, seeded
// through meta; like CombineStores' Store, it is a ProjectJobReader exactly
// when meta is one (pgstore is), so that the handler finds the capability.
func composeStore(meta seedMetadata, blobs jobartifacts.BlobStore) seedStore {
	s := composedStore{Store: jobartifacts.CombineStores(meta, blobs), seeder: meta}
	if pj, ok := s.Store.(jobartifacts.ProjectJobReader); ok {
		return composedProjectJobStore{s, pj}
	}
	return s
}

// openedStore is the store the flags name and what goes with it.
type openedStore struct {
	seedStore
	// where says where the halves are, for the log.
	where []any
	// abortIncompleteUploads is the S3 janitor, nil without S3.
	abortIncompleteUploads func(ctx context.Context, olderThan time.Duration) (int, error)
	closers                []func()
}

// Close closes what openStore opened, in reverse order.
func (s *openedStore) Close() {
	for i := len(s.closers) - 1; i >= 0; i-- {
		s.closers[i]()
	}
}

// openStore opens the halves that cfg names and composes them with
// jobartifacts.CombineStores; with neither -postgres nor -s3-bucket it is
// the fsstore in dataDir alone. The fsstore is opened only for a half that
// needs it.
func openStore(ctx context.Context, cfg storeConfig, getenv func(string) string) (_ *openedStore, err error) {
	s := &openedStore{}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	var fs *fsstore.Store
	if cfg.postgresDSN == "" || cfg.s3.bucket == "" {
		opts := []fsstore.Option{fsstore.WithIdleBlobFiles(cfg.idleBlobFiles), fsstore.WithSpaceReserve(cfg.spaceReserve)}
		if !cfg.directIO {
			opts = append(opts, fsstore.WithoutDirectIO())
		}
		if fs, err = fsstore.Open(cfg.dataDir, opts...); err != nil {
			return nil, err
		}
		s.closers = append(s.closers, func() { _ = fs.Close() })
	}
	var meta seedMetadata = fs
	if cfg.postgresDSN != "" {
		pg, err := pgstore.Open(ctx, cfg.postgresDSN, pgstore.WithSchema(cfg.postgresSchema))
		if err != nil {
			// The DSN may hold a password: pgx's errors do not repeat it.
			return nil, fmt.Errorf("-postgres: %w", err)
		}
		s.closers = append(s.closers, pg.Close)
		meta = pg
		s.where = append(s.where, "metadata", "postgres schema "+cfg.postgresSchema)
	} else {
		s.where = append(s.where, "metadata", fs.Dir())
	}
	var blobs jobartifacts.BlobStore = fs
	if cfg.s3.bucket != "" {
		creds, err := s3Credentials(getenv)
		if err != nil {
			return nil, err
		}
		s3, err := s3store.Open(ctx, s3store.Config{
			Endpoint:    cfg.s3.endpoint,
			Region:      cfg.s3.region,
			Credentials: creds,
			Bucket:      cfg.s3.bucket,
			UseSSL:      cfg.s3.tls,
			Addressing:  s3Addressing[cfg.s3.addressing],
		}, s3store.WithPrefix(cfg.s3.prefix), s3store.WithPartSize(cfg.s3.partSize), s3store.WithPartMemory(cfg.s3.partMemory),
			s3store.WithReadAhead(min(s3store.DefaultReadAheadMin, cfg.s3.readAhead), cfg.s3.readAhead),
			s3store.WithCreateOnly(cfg.s3.createOnly))
		if err != nil {
			return nil, fmt.Errorf("-s3-bucket: %w", err)
		}
		blobs = s3
		s.abortIncompleteUploads = s3.AbortIncompleteUploads
		s.where = append(s.where, "blobs", "s3://"+cfg.s3.bucket+"/"+cfg.s3.prefix)
	} else {
		s.where = append(s.where, "blobs", fs.Dir())
	}
	if cfg.postgresDSN == "" && cfg.s3.bucket == "" {
		s.seedStore = fs
	} else {
		s.seedStore = composeStore(meta, blobs)
	}
	return s, nil
}
