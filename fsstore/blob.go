package fsstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/ciartifacts/jobartifacts"
	"github.com/ciartifacts/jobartifacts/internal/ctxio"
)

// maxKeyLen bounds a blob key; the handler's keys are well under 100 bytes.
const maxKeyLen = 1024

// validateKey checks a key before it becomes a path under blobs/: only
// [a-z0-9/._-], no leading or trailing '/', no empty, "." or ".." segment.
// Such a key can never leave the directory nor name a temporary file.
func validateKey(key jobartifacts.BlobKey) error {
	k := string(key)
	if k == "" || len(k) > maxKeyLen {
		return fmt.Errorf("%w: %q: empty or longer than %d bytes", ErrInvalidKey, k, maxKeyLen)
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '/' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("%w: %q: character %q", ErrInvalidKey, k, c)
		}
	}
	for seg := range strings.SplitSeq(k, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return fmt.Errorf("%w: %q: segment %q", ErrInvalidKey, k, seg)
		}
	}
	return nil
}

func (s *Store) blobFile(key jobartifacts.BlobKey) string {
	return filepath.Join(s.dir, "blobs", filepath.FromSlash(string(key)))
}

func (s *Store) blobInfoFile(key jobartifacts.BlobKey) string {
	return filepath.Join(s.dir, "blobinfo", filepath.FromSlash(string(key))+".json")
}

// blobRecord is blobinfo/<key>.json: the SHA-256 of a blob file's bytes and
// the identity of the file it was computed for.
type blobRecord struct {
	SHA256    string `json:"sha256"`
	Size      int64  `json:"size"`
	Inode     uint64 `json:"inode"`
	ModTimeNS int64  `json:"mtime_ns"`
	// etag is the quoted SHA-256, made once for the cache.
	etag string
}

func (r blobRecord) describes(id fileID) bool {
	return r.Size == id.size && r.ModTimeNS == id.mtimeNS && r.Inode == id.ino
}

func etag(sum []byte) string { return `"` + hex.EncodeToString(sum) + `"` }

func (s *Store) checkOpen(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.closed.Load() {
		return ErrClosed
	}
	return nil
}

// OpenBlob opens the blob stored under key, or returns ErrNotFound. The
// returned Blob reads the file opened now, even if the key is deleted later.
// It keeps ctx: once ctx is done, its reads fail with ctx's error.
//
// The file of a closed Blob stays open a while (WithIdleBlobFiles): the
// next OpenBlob of its key takes it if no Store on the directory has
// removed a blob file since the file was found at the key's path (the
// removal generation), else if a stat(2) of the key's path finds
// that very file, with the same size and modification time. A blob
// deleted, or deleted and put again, by any Store in any process is
// therefore never served from an idle file.
func (s *Store) OpenBlob(ctx context.Context, key jobartifacts.BlobKey) (jobartifacts.Blob, error) {
	if err := s.checkOpen(ctx); err != nil {
		return nil, err
	}
	// Before the file is found: a delete from here on changes them.
	drops := s.blobFiles.drops.Load()
	removals, counted := s.removals.load() // counted: there is one
	// Only a key that was valid has idle files: its check can wait.
	if bf := s.takeIdleBlobFile(key, removals, counted); bf != nil {
		bf.drops = drops
		return &fileBlob{bf: bf, ctx: ctx, idle: s.blobFiles}, nil
	}
	if err := validateKey(key); err != nil {
		return nil, err
	}
	f, err := openBlobFile(s.blobFile(key))
	if err != nil {
		return nil, notFound(err, fmt.Sprintf("blob %q", key))
	}
	bf, err := s.describeBlob(ctx, key, f)
	if err != nil {
		f.Close()
		return nil, err
	}
	bf.drops = drops
	bf.removals, bf.counted = removals, counted
	return &fileBlob{bf: bf, ctx: ctx, idle: s.blobFiles}, nil
}

// takeIdleBlobFile returns an idle file of key that the key's path still
// names, or nil. Idle files of key that it no longer names are closed.
// removals is the removal generation read before this OpenBlob looked: if
// it is the one read before the file was found at the path, the path still
// names it; else a stat(2) of the path tells.
func (s *Store) takeIdleBlobFile(key jobartifacts.BlobKey, removals uint64, counted bool) *blobFile {
	bf := s.blobFiles.take(key)
	if bf == nil {
		return nil
	}
	if counted && bf.counted && bf.removals == removals {
		return bf
	}
	id, err := statBlobPath(bf.f.Name()) // the key's path, made by the open
	for ; bf != nil; bf = s.blobFiles.take(key) {
		if err == nil && bf.id.sameFile(id) {
			bf.removals, bf.counted = removals, counted
			return bf
		}
		bf.f.Close()
	}
	return nil
}

// statBlobPath is statPath; tests count its calls.
var statBlobPath = statPath

// removeBlobFile removes key's file (path) and replaces the removal
// generation for every Store on the directory (removalgeneration.go), then
// closes this Store's idle files of key. ErrClosed once the Store is
// closed.
func (s *Store) removeBlobFile(key jobartifacts.BlobKey, path string) error {
	err := s.removals.remove(func() error { return s.removeFile(path) })
	if !errors.Is(err, ErrClosed) {
		s.blobFiles.drop(key)
	}
	return err
}

// openBlobFile opens a blob's file to read. The runtime's poller never
// watches a regular file, so open(2) is enough: os.Open would also set and
// clear O_NONBLOCK (four fcntl) and try epoll_ctl, which refuses it.
func openBlobFile(path string) (*os.File, error) {
	for {
		fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
		switch {
		case err == syscall.EINTR:
			continue
		case err != nil:
			return nil, &fs.PathError{Op: "open", Path: path, Err: err}
		}
		return os.NewFile(uintptr(fd), path), nil
	}
}

// describeBlob makes the blobFile of an opened blob file: the ETag comes
// from blobinfo/ (read once, then kept in memory) when it describes this
// very file, or from hashing the file.
func (s *Store) describeBlob(ctx context.Context, key jobartifacts.BlobKey, f *os.File) (*blobFile, error) {
	id, err := statFile(f)
	if err != nil {
		return nil, fmt.Errorf("fsstore: blob %q: %w", key, err)
	}
	if id.dir {
		return nil, errNotFound("blob %q", key)
	}
	bf := &blobFile{f: f, key: key, id: id, info: jobartifacts.BlobInfo{Size: id.size, ModTime: id.modTime()}}
	if rec, ok := s.blobInfos.lookup(key); ok && rec.describes(id) {
		bf.info.ETag = rec.etag
		return bf, nil
	}
	var rec blobRecord
	if err := readJSON(s.blobInfoFile(key), "blob info", &rec); err == nil && rec.describes(id) {
		rec.etag = `"` + rec.SHA256 + `"`
		s.blobInfos.store(key, rec)
		bf.info.ETag = rec.etag
		return bf, nil
	}
	// A crash between the blob's link and its info's write.
	h := sha256.New()
	if _, err := io.Copy(h, ctxio.NewReader(ctx, io.NewSectionReader(f, 0, id.size))); err != nil {
		return nil, fmt.Errorf("fsstore: blob %q: hashing: %w", key, err)
	}
	sum := h.Sum(nil)
	bf.info.ETag = etag(sum)
	if s.testHookRehashed != nil {
		s.testHookRehashed(key)
	}
	s.restoreBlobRecord(key, f.Name(), blobRecord{SHA256: hex.EncodeToString(sum), Size: id.size, Inode: id.ino, ModTimeNS: id.mtimeNS, etag: bf.info.ETag})
	return bf, nil
}

// restoreBlobRecord writes back the info of a blob that had to be hashed,
// so that later opens, in any process, need not hash it again. rec
// describes the file opened, which blobFile named then: a file put there
// since (keys are never reused) does not match it and is hashed as before.
// Best effort: the open has its ETag either way. A DeleteBlob removes the
// blob and then its info, so if blobFile is gone once the info is written,
// the delete may have missed it, and it is removed here.
func (s *Store) restoreBlobRecord(key jobartifacts.BlobKey, blobFile string, rec blobRecord) {
	if err := s.writeBlobRecord(key, rec); err != nil {
		return
	}
	if _, err := os.Lstat(blobFile); errors.Is(err, fs.ErrNotExist) {
		s.removeBlobRecord(key)
		return
	}
	s.blobInfos.store(key, rec)
}

// removeBlobRecord removes blobinfo/<key>.json, if any, and the
// directories it leaves empty.
func (s *Store) removeBlobRecord(key jobartifacts.BlobKey) {
	infoPath := s.blobInfoFile(key)
	_ = s.removeFile(infoPath)
	s.removeEmptyDirs(filepath.Dir(infoPath), filepath.Join(s.dir, "blobinfo"))
}

// writeBlobRecord writes blobinfo/<key>.json, atomically.
func (s *Store) writeBlobRecord(key jobartifacts.BlobKey, rec blobRecord) error {
	data, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	return s.writeFile(s.blobInfoFile(key), append(data, '\n'))
}

// PutBlob streams r into a temporary file next to the blob's file, in
// blocks of 1 MiB, hashing it on the way (or taking the hash from r, a
// jobartifacts.SHA256Reader such as the handler's uploads), starting the
// writeback of every 8 MiB as it goes, dates it by the store's clock,
// fsyncs it and links it into place with link(2), which fails atomically if the key exists
// (ErrConflict, the old blob untouched); then it records the hash. On any
// error, including ctx ending between reads of r, the temporary file is
// removed and nothing is left under key. A write refused for lack of space
// while this Store frees a deleted blob's blocks in the background waits
// for those frees and is tried once more.
func (s *Store) PutBlob(ctx context.Context, key jobartifacts.BlobKey, r io.Reader) (jobartifacts.BlobInfo, error) {
	if err := s.checkOpen(ctx); err != nil {
		return jobartifacts.BlobInfo{}, err
	}
	if err := validateKey(key); err != nil {
		return jobartifacts.BlobInfo{}, err
	}
	path := s.blobFile(key)
	// Fail early rather than store a whole upload for nothing; the check
	// that counts is the link below.
	if _, err := os.Lstat(path); err == nil {
		return jobartifacts.BlobInfo{}, errTaken(key)
	}
	f, err := s.createTemp(filepath.Dir(path))
	if err != nil {
		return jobartifacts.BlobInfo{}, fmt.Errorf("fsstore: put blob %q: %w", key, err)
	}
	defer func() {
		f.Close() // closed already unless an error came first
		os.Remove(f.Name())
	}()
	var wb *writeback
	if s.sync {
		wb = &writeback{start: func(off, n int64) { startWriteback(f, off, n) }}
	}
	at := spaceWaitingFile{File: f, frees: s.frees}
	var out io.Writer = io.NewOffsetWriter(at, 0)
	var dw *directWriter
	if s.directIO {
		// The direct writer starts the writeback of what it writes
		// through the page cache; the blockWriter has none to start.
		dw = newDirectWriter(f, wb)
		dw.at = at
		// With fsync, every byte is on the disk before the link anyway:
		// writing some through the cache would only add its copy and
		// its writeback (see asyncWriter).
		dw.allowAsync = !s.sync
		defer dw.abort()
		out, wb = dw, nil
	}
	sum, err := writeBlob(ctx, out, r, wb)
	if err == nil && dw != nil {
		err = dw.finish()
	}
	if err != nil {
		return jobartifacts.BlobInfo{}, fmt.Errorf("fsstore: put blob %q: %w", key, err)
	}
	if err := ctx.Err(); err != nil {
		return jobartifacts.BlobInfo{}, err
	}
	now := s.now()
	if err := os.Chtimes(f.Name(), now, now); err != nil {
		return jobartifacts.BlobInfo{}, fmt.Errorf("fsstore: put blob %q: %w", key, err)
	}
	fi, err := f.Stat()
	if err != nil {
		return jobartifacts.BlobInfo{}, fmt.Errorf("fsstore: put blob %q: %w", key, err)
	}
	if err := s.linkNew(f, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return jobartifacts.BlobInfo{}, errTaken(key)
		}
		return jobartifacts.BlobInfo{}, fmt.Errorf("fsstore: put blob %q: %w", key, err)
	}
	// The blob is in place; its info comes second, so a reader that finds
	// no info, or stale info, hashes the file rather than trusting it.
	id := idOf(fi)
	rec := blobRecord{SHA256: hex.EncodeToString(sum), Size: id.size, Inode: id.ino, ModTimeNS: id.mtimeNS}
	if err := s.writeBlobRecord(key, rec); err != nil {
		// The key is ours (the link made it) and no record names it yet:
		// take the blob back, so that a failed put leaves nothing, then
		// any info an OpenBlob wrote back meanwhile (restoreBlobRecord).
		_ = s.removeBlobFile(key, path)
		s.removeBlobRecord(key)
		return jobartifacts.BlobInfo{}, fmt.Errorf("fsstore: put blob %q: %w", key, err)
	}
	return jobartifacts.BlobInfo{Size: fi.Size(), ModTime: fi.ModTime().UTC(), ETag: etag(sum)}, nil
}

func errTaken(key jobartifacts.BlobKey) error {
	return fmt.Errorf("fsstore: put blob %q: key exists: %w", key, jobartifacts.ErrConflict)
}

// DeleteBlob removes the blob; a missing blob is no error, nor is a key
// that this store could never hold (ErrInvalidKey for OpenBlob and PutBlob),
// since no blob has it. Blobs opened before keep reading their bytes; the
// Store's idle files of the blob are closed. Directories left empty are
// removed. The key is gone when DeleteBlob returns; the space of a blob of
// 4 MiB or more is freed in the background just after (see
// backgroundfree.go), and Close waits for it. Once space is freed, a
// reserve given back to a full file system is made again.
func (s *Store) DeleteBlob(ctx context.Context, key jobartifacts.BlobKey) error {
	if err := s.checkOpen(ctx); err != nil {
		return err
	}
	if validateKey(key) != nil {
		return nil
	}
	path := s.blobFile(key)
	var held *os.File // keeps the blob's blocks past the unlink
	if fi, err := os.Lstat(path); err == nil {
		if fi.IsDir() {
			return nil // a directory of other keys: no blob has this one
		}
		if fi.Size() >= backgroundFreeMinSize {
			held, _ = os.Open(path) // without it, the unlink frees them
		}
	}
	// Best effort: without room yet, a later delete tries again.
	restoreReserve := func() { _ = s.restoreReserve(context.WithoutCancel(ctx)) }
	if err := s.removeBlobFile(key, path); err != nil && !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR) {
		if held != nil {
			held.Close()
		}
		if errors.Is(err, ErrClosed) {
			return err
		}
		return fmt.Errorf("fsstore: delete blob %q: %w", key, err)
	}
	if held != nil {
		s.frees.free(held, restoreReserve)
		restoreReserve = func() {}
	}
	infoPath := s.blobInfoFile(key)
	if err := s.removeFile(infoPath); err != nil && !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR) {
		return fmt.Errorf("fsstore: delete blob %q: %w", key, err)
	}
	s.removeEmptyDirs(filepath.Dir(path), filepath.Join(s.dir, "blobs"))
	s.removeEmptyDirs(filepath.Dir(infoPath), filepath.Join(s.dir, "blobinfo"))
	restoreReserve()
	return nil
}

// SignedURL returns an error wrapping ErrNotSupported: files have no URL,
// and the handler serves their bytes itself.
func (s *Store) SignedURL(ctx context.Context, key jobartifacts.BlobKey, opts jobartifacts.SignedURLOptions) (string, error) {
	return "", errNoSignedURLs
}

// errNoSignedURLs is made once: the handler asks on every archive download.
var errNoSignedURLs = fmt.Errorf("fsstore: no signed URLs: %w", jobartifacts.ErrNotSupported)

// removeEmptyDirs removes dir and its parents up to (not including) root
// while they are empty. It is tidying only: a directory that is not empty,
// or that a concurrent put just filled, stays.
func (s *Store) removeEmptyDirs(dir, root string) {
	for dir != root && strings.HasPrefix(dir, root+string(filepath.Separator)) {
		if os.Remove(dir) != nil {
			return
		}
		dir = filepath.Dir(dir)
	}
}
