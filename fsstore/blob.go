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
)

// maxKeyLen bounds a blob key; the handler's keys are well under 100 bytes.
const maxKeyLen = 1024

// copyBufferSize is PutBlob's read size.
const copyBufferSize = 256 << 10

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
}

func (r blobRecord) describes(fi fs.FileInfo) bool {
	return r.Size == fi.Size() && r.ModTimeNS == fi.ModTime().UnixNano() && r.Inode == inode(fi)
}

func inode(fi fs.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Ino) // Ino is not uint64 on every platform
	}
	return 0
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
// returned Blob reads the file opened now, even if the key is replaced or
// deleted later. It keeps ctx: once ctx is done, ReadAt fails with ctx's
// error.
func (s *Store) OpenBlob(ctx context.Context, key jobartifacts.BlobKey) (jobartifacts.Blob, error) {
	if err := s.checkOpen(ctx); err != nil {
		return nil, err
	}
	if err := validateKey(key); err != nil {
		return nil, err
	}
	f, err := os.Open(s.blobFile(key))
	if err != nil {
		return nil, notFound(err, fmt.Sprintf("blob %q", key))
	}
	b, err := s.describeBlob(ctx, key, f)
	if err != nil {
		f.Close()
		return nil, err
	}
	return b, nil
}

// describeBlob makes the Blob for an opened blob file: the ETag comes from
// blobinfo/ when it describes this very file, or from hashing the file.
func (s *Store) describeBlob(ctx context.Context, key jobartifacts.BlobKey, f *os.File) (*fileBlob, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("fsstore: blob %q: %w", key, err)
	}
	if fi.IsDir() {
		return nil, errNotFound("blob %q", key)
	}
	b := &fileBlob{f: f, ctx: ctx, info: jobartifacts.BlobInfo{Size: fi.Size(), ModTime: fi.ModTime()}}
	var rec blobRecord
	if err := readJSON(s.blobInfoFile(key), "blob info", &rec); err == nil && rec.describes(fi) {
		b.info.ETag = `"` + rec.SHA256 + `"`
		return b, nil
	}
	// A crash or a concurrent put between the blob's rename and its info's.
	h := sha256.New()
	if _, err := io.Copy(h, contextReader{ctx: ctx, r: io.NewSectionReader(f, 0, fi.Size())}); err != nil {
		return nil, fmt.Errorf("fsstore: blob %q: hashing: %w", key, err)
	}
	b.info.ETag = etag(h.Sum(nil))
	return b, nil
}

// PutBlob streams r into a temporary file next to the blob's file, hashing
// it on the way, then renames it into place and records the hash. On any
// error, including ctx ending between reads of r, the temporary file is
// removed and the old blob, if any, is left as it was.
func (s *Store) PutBlob(ctx context.Context, key jobartifacts.BlobKey, r io.Reader) (jobartifacts.BlobInfo, error) {
	if err := s.checkOpen(ctx); err != nil {
		return jobartifacts.BlobInfo{}, err
	}
	if err := validateKey(key); err != nil {
		return jobartifacts.BlobInfo{}, err
	}
	path := s.blobFile(key)
	f, err := s.createTemp(filepath.Dir(path))
	if err != nil {
		return jobartifacts.BlobInfo{}, fmt.Errorf("fsstore: put blob %q: %w", key, err)
	}
	committed := false
	defer func() {
		if !committed {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	h := sha256.New()
	buf := make([]byte, copyBufferSize)
	if _, err := io.CopyBuffer(io.MultiWriter(f, h), contextReader{ctx: ctx, r: r}, buf); err != nil {
		return jobartifacts.BlobInfo{}, fmt.Errorf("fsstore: put blob %q: %w", key, err)
	}
	if err := ctx.Err(); err != nil {
		return jobartifacts.BlobInfo{}, err
	}
	fi, err := f.Stat()
	if err != nil {
		return jobartifacts.BlobInfo{}, fmt.Errorf("fsstore: put blob %q: %w", key, err)
	}
	if err := s.commit(f, path); err != nil {
		return jobartifacts.BlobInfo{}, fmt.Errorf("fsstore: put blob %q: %w", key, err)
	}
	committed = true
	sum := h.Sum(nil)
	// The blob is in place; its info comes second, so a reader that finds
	// stale info hashes the file rather than trusting the info.
	rec := blobRecord{SHA256: hex.EncodeToString(sum), Size: fi.Size(), Inode: inode(fi), ModTimeNS: fi.ModTime().UnixNano()}
	data, err := json.Marshal(rec)
	if err != nil {
		return jobartifacts.BlobInfo{}, fmt.Errorf("fsstore: put blob %q: %w", key, err)
	}
	if err := s.writeFile(s.blobInfoFile(key), append(data, '\n')); err != nil {
		return jobartifacts.BlobInfo{}, fmt.Errorf("fsstore: put blob %q: %w", key, err)
	}
	return jobartifacts.BlobInfo{Size: fi.Size(), ModTime: fi.ModTime(), ETag: etag(sum)}, nil
}

// DeleteBlob removes the blob, or returns ErrNotFound. Blobs opened before
// keep reading their bytes. Directories left empty are removed.
func (s *Store) DeleteBlob(ctx context.Context, key jobartifacts.BlobKey) error {
	if err := s.checkOpen(ctx); err != nil {
		return err
	}
	if err := validateKey(key); err != nil {
		return err
	}
	path := s.blobFile(key)
	if fi, err := os.Lstat(path); err == nil && fi.IsDir() {
		return errNotFound("blob %q", key)
	}
	if err := s.removeFile(path); err != nil {
		return notFound(err, fmt.Sprintf("blob %q", key))
	}
	infoPath := s.blobInfoFile(key)
	if err := s.removeFile(infoPath); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("fsstore: delete blob %q: %w", key, err)
	}
	s.removeEmptyDirs(filepath.Dir(path), filepath.Join(s.dir, "blobs"))
	s.removeEmptyDirs(filepath.Dir(infoPath), filepath.Join(s.dir, "blobinfo"))
	return nil
}

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

// contextReader stops reading once ctx is done.
type contextReader struct {
	ctx context.Context
	r   io.Reader
}

func (c contextReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// fileBlob is a Blob over an open file. It keeps the context of OpenBlob,
// as the BlobStore contract asks.
type fileBlob struct {
	f    *os.File
	ctx  context.Context
	info jobartifacts.BlobInfo
}

// ReadAt reads the file as io.ReaderAt does; concurrent calls are safe. It
// fails with the open's context error once that context is done.
func (b *fileBlob) ReadAt(p []byte, off int64) (int, error) {
	if err := b.ctx.Err(); err != nil {
		return 0, err
	}
	return b.f.ReadAt(p, off)
}

// Close closes the file.
func (b *fileBlob) Close() error { return b.f.Close() }

// Info returns the size, modification time and ETag of the opened file.
func (b *fileBlob) Info() jobartifacts.BlobInfo { return b.info }
