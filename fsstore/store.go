package fsstore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/ciartifacts/jobartifacts"
)

// Sentinel errors of this package, wrapped with %w.
var (
	// ErrClosed: the Store was closed.
	ErrClosed = errors.New("fsstore: store closed")
	// ErrInvalidKey: a BlobKey is empty, has an empty, "." or ".." segment,
	// starts or ends with '/', or has a character outside [a-z0-9/._-].
	ErrInvalidKey = errors.New("fsstore: invalid blob key")
	// errBadLimit answers a limit that is not positive.
	errBadLimit = errors.New("fsstore: limit must be positive")
)

// Store is a jobartifacts.Store kept in a directory, which can also be
// seeded (PutProject, PutPipeline, PutJob, PutJobs). It is safe for
// concurrent use; see the package documentation for sharing a directory
// between processes. Open makes one; Close releases it.
type Store struct {
	dir         string
	sync        bool
	directIO    bool
	now         func() time.Time
	reserveSize int64

	// mu keeps this Store's goroutines in order before they take meta.lock,
	// so that goroutines waiting for a write do not each block an OS thread
	// in flock. Readers share it; writers and Close hold it alone.
	mu       sync.RWMutex
	metaLock *lockFile
	// genFile is meta.lock, open to read the store's generation, and
	// records the metadata read at that generation (metacache.go).
	genFile *generationFile
	records recordCache
	// blobInfos keeps the blob records OpenBlob read.
	blobInfos blobInfos
	// blobFiles keeps closed Blobs' files open for the next OpenBlob.
	blobFiles *blobFiles
	// removals is replaced whenever any Store on the directory removes
	// a blob file from its path, so that an idle file is taken without a
	// stat while none has been (removalgeneration.go).
	removals *removalGeneration
	// frees frees deleted blobs' blocks after DeleteBlob returns.
	frees *backgroundFrees
	// openLock is LOCK, held shared for the Store's lifetime.
	openLock *os.File
	closed   atomic.Bool

	// sweepFrom is the job id where the next SweepExpiredArtifacts starts
	// looking, so that a sweep in batches reads each job about once. It is
	// a hint: a sweep goes round all jobs before it returns fewer than its
	// limit. Guarded by sweepMu.
	sweepFrom int64
	sweepMu   sync.Mutex

	// testHookRehashed, if set, runs after OpenBlob hashed a blob whose
	// info did not describe its file, before the info is written back.
	testHookRehashed func(jobartifacts.BlobKey)
}

var _ jobartifacts.Store = (*Store)(nil)
var _ jobartifacts.ProjectJobReader = (*Store)(nil)

// Option configures Open.
type Option func(*config)

type config struct {
	noFsync       bool
	noDirectIO    bool
	now           func() time.Time
	reserveSize   int64
	idleBlobFiles int
}

// DefaultSpaceReserve is the size of the file that Open keeps in reserve
// for freeing space on a full file system (see WithSpaceReserve).
const DefaultSpaceReserve = 1 << 20

// WithClock sets the store's clock (default time.Now): it stamps queued blob
// deletions, measures their grace periods and leases, and dates stored
// blobs (their files' modification times). Tests move it to make time pass.
func WithClock(now func() time.Time) Option {
	return func(c *config) {
		if now != nil {
			c.now = now
		}
	}
}

// WithSpaceReserve sets the size of the reserve file (default
// DefaultSpaceReserve, 1 MiB); 0 keeps no reserve. When the file system is
// full, the operations that remove or expire records give the reserve back
// to it so that they can still be written, and the space can then be freed
// by the Sweeper; see the package documentation's "Full file system".
// n < 0 keeps the default.
func WithSpaceReserve(n int64) Option {
	return func(c *config) {
		if n >= 0 {
			c.reserveSize = n
		}
	}
}

// WithIdleBlobFiles sets how many blob files the Store keeps open once
// their Blobs are closed (default DefaultIdleBlobFiles, 256), the most
// recently used, each for at most a few seconds: OpenBlob of such a file's
// key then costs a stat(2) of its path, which checks that the key still
// names that file, rather than open(2), fstat(2) and close(2). 0 keeps
// none; n < 0 keeps the default. A blob deleted by another process keeps
// its disk space until this Store closes its idle file.
func WithIdleBlobFiles(n int) Option {
	return func(c *config) {
		if n >= 0 {
			c.idleBlobFiles = n
		}
	}
}

// WithoutFsync makes the Store skip every fsync. Writes still go through a
// temporary file and a rename, so a killed process leaves old or new files,
// but a power loss or kernel crash may lose or tear recent writes. Meant for
// tests and bulk imports that can be redone. The handler's uploads are then
// written around the page cache and through it at once (see the package
// documentation).
func WithoutFsync() Option {
	return func(c *config) { c.noFsync = true }
}

// WithoutDirectIO makes PutBlob write blobs through the page cache. By
// default, where the file system has direct I/O (O_DIRECT on Linux), a
// blob's full 1 MiB blocks go to the disk around the page cache, written
// while the next block arrives: no copy into the cache, no writeback
// competing with the upload for the CPU, and no cache memory for archives
// that are written once and seldom read. Each write then waits for the
// disk, so a host whose disk is much slower than its uploads arrive, and
// which does not fsync (WithoutFsync), may answer uploads sooner with this.
func WithoutDirectIO() Option {
	return func(c *config) { c.noDirectIO = true }
}

// Open opens the store kept in dir, creating the directory if needed. When
// no other Store has dir open, Open first removes the temporary files that a
// crashed writer may have left. It makes the space reserve if it is missing
// and there is room for it (WithSpaceReserve).
func Open(dir string, opts ...Option) (*Store, error) {
	cfg := config{now: time.Now, reserveSize: DefaultSpaceReserve, idleBlobFiles: DefaultIdleBlobFiles}
	for _, opt := range opts {
		opt(&cfg)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("fsstore: open %q: %w", dir, err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, fmt.Errorf("fsstore: open: %w", err)
	}
	s := &Store{
		dir:         abs,
		sync:        !cfg.noFsync,
		directIO:    !cfg.noDirectIO,
		now:         cfg.now,
		reserveSize: cfg.reserveSize,
		metaLock:    newLockFile(filepath.Join(abs, "meta.lock")),
		blobFiles:   newBlobFiles(cfg.idleBlobFiles),
		frees:       newBackgroundFrees(),
	}
	lock, err := os.OpenFile(filepath.Join(abs, "LOCK"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("fsstore: open: %w", err)
	}
	// Only a Store that is alone on the directory may remove temporary
	// files: another one may be writing them right now.
	switch err := flock(lock, syscall.LOCK_EX|syscall.LOCK_NB); {
	case err == nil:
		if err := removeTempFiles(abs); err != nil {
			lock.Close()
			return nil, fmt.Errorf("fsstore: open: removing temporary files: %w", err)
		}
	case !errors.Is(err, syscall.EWOULDBLOCK):
		lock.Close()
		return nil, fmt.Errorf("fsstore: open: lock: %w", err)
	}
	// Downgrade (or take) the shared lock that tells later Opens we are here.
	if err := flock(lock, syscall.LOCK_SH); err != nil {
		lock.Close()
		return nil, fmt.Errorf("fsstore: open: lock: %w", err)
	}
	s.openLock = lock
	if s.genFile, err = openGenerationFile(filepath.Join(abs, "meta.lock")); err != nil {
		lock.Close()
		return nil, fmt.Errorf("fsstore: open: %w", err)
	}
	if s.removals, err = openRemovalGeneration(filepath.Join(abs, "removals")); err != nil {
		s.genFile.close()
		lock.Close()
		return nil, fmt.Errorf("fsstore: open: %w", err)
	}
	// A full file system must not keep the store from opening: the reserve
	// comes back once space is freed (see DeleteBlob).
	_ = s.restoreReserve(context.Background())
	return s, nil
}

// Dir returns the store's directory, as an absolute path.
func (s *Store) Dir() string { return s.dir }

// DirectIO reports whether PutBlob writes blobs around the page cache
// where the file system allows it: true unless Open had WithoutDirectIO.
func (s *Store) DirectIO() bool { return s.directIO }

// Close waits for the metadata operations in progress and for the space of
// deleted blobs to be freed, closes the idle blob files and releases the
// directory. Blobs opened before stay readable until they are closed,
// which closes their files. Later calls fail with ErrClosed.
func (s *Store) Close() error {
	// Before mu: a free ends by making the reserve again, which takes it.
	s.frees.close()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Swap(true) {
		return ErrClosed
	}
	s.metaLock.closeIdle()
	s.blobFiles.close()
	s.genFile.close()
	s.removals.close()
	return s.openLock.Close() // closing the last descriptor releases the flock
}

// read runs fn holding the metadata lock shared.
func (s *Store) read(ctx context.Context, fn func() error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed.Load() {
		return ErrClosed
	}
	f, err := s.metaLock.acquire(syscall.LOCK_SH)
	if err != nil {
		return fmt.Errorf("fsstore: %w", err)
	}
	defer s.metaLock.release(f)
	return fn()
}

// write runs fn holding the metadata lock exclusively, after replacing the
// store's generation, so that no process answers from records it read
// before.
func (s *Store) write(ctx context.Context, fn func() error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Load() {
		return ErrClosed
	}
	f, err := s.metaLock.acquire(syscall.LOCK_EX)
	if err != nil {
		return fmt.Errorf("fsstore: %w", err)
	}
	defer s.metaLock.release(f)
	if err := newGeneration(f); err != nil {
		return fmt.Errorf("fsstore: new generation: %w", err)
	}
	return fn()
}

// writeFreeing is write for the operations that must work on a full file
// system (they remove or expire records, or hand out queued blob
// deletions): if fn fails for lack of space, the reserve file is given back
// to the file system and fn runs once more, under the same lock. fn must
// therefore be safe to run again after a partial failure.
func (s *Store) writeFreeing(ctx context.Context, fn func() error) error {
	return s.write(ctx, func() error {
		err := fn()
		if errors.Is(err, syscall.ENOSPC) && s.releaseReserve() {
			err = fn()
		}
		return err
	})
}

// lockFile hands out descriptors of one lock file. flock locks belong to an
// open file description, so every concurrent holder needs its own
// descriptor; idle ones are kept for reuse.
type lockFile struct {
	path string
	idle chan *os.File
}

func newLockFile(path string) *lockFile {
	return &lockFile{path: path, idle: make(chan *os.File, 16)}
}

// acquire returns a descriptor locked with how (syscall.LOCK_SH or LOCK_EX).
func (l *lockFile) acquire(how int) (*os.File, error) {
	var f *os.File
	select {
	case f = <-l.idle:
	default:
		var err error
		if f, err = os.OpenFile(l.path, os.O_RDWR|os.O_CREATE, 0o644); err != nil {
			return nil, err
		}
	}
	if err := flock(f, how); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", l.path, err)
	}
	return f, nil
}

// release unlocks f and keeps it for reuse.
func (l *lockFile) release(f *os.File) {
	if err := flock(f, syscall.LOCK_UN); err != nil {
		f.Close() // closing releases the lock anyway
		return
	}
	select {
	case l.idle <- f:
	default:
		f.Close()
	}
}

// closeIdle closes the kept descriptors. No lock may be held.
func (l *lockFile) closeIdle() {
	for {
		select {
		case f := <-l.idle:
			f.Close()
		default:
			return
		}
	}
}

func flock(f *os.File, how int) error {
	for {
		err := syscall.Flock(int(f.Fd()), how)
		if !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}

// Paths of the layout described in the package documentation.

func id(n int64) string { return strconv.FormatInt(n, 10) }

func (s *Store) projectDir(projectID int64) string {
	return filepath.Join(s.dir, "projects", id(projectID))
}

func (s *Store) projectFile(projectID int64) string {
	return filepath.Join(s.projectDir(projectID), "project.json")
}

func (s *Store) pipelinesDir(projectID int64) string {
	return filepath.Join(s.projectDir(projectID), "pipelines")
}

func (s *Store) pipelineFile(projectID, pipelineID int64) string {
	return filepath.Join(s.pipelinesDir(projectID), id(pipelineID)+".json")
}

func (s *Store) pipelineJobsFile(projectID, pipelineID int64) string {
	return filepath.Join(s.pipelinesDir(projectID), id(pipelineID)+pipelineJobsSuffix)
}

func (s *Store) refFile(projectID int64, ref string) string {
	return filepath.Join(s.projectDir(projectID), "refs", nameFor(ref)+".pipelines")
}

func (s *Store) pathFile(path string) string {
	return filepath.Join(s.dir, "project-paths", nameFor(path)+".id")
}

func (s *Store) jobsDir() string { return filepath.Join(s.dir, "jobs") }

func (s *Store) jobFile(jobID int64) string {
	return filepath.Join(s.jobsDir(), id(jobID)+".json")
}

const pipelineJobsSuffix = ".jobs.json"

func (s *Store) queueDir() string { return filepath.Join(s.dir, "deleted-blobs") }

// queueFile is the blob deletion queue's entry for key. Keys are escaped
// into one flat directory's names; an overlong one is hashed, which is why
// the entry also holds the key.
func (s *Store) queueFile(key jobartifacts.BlobKey) string {
	return filepath.Join(s.queueDir(), nameFor(string(key))+".json")
}

func (s *Store) reserveFile() string { return filepath.Join(s.dir, "reserve") }
