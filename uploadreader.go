package jobartifacts

import (
	"errors"
	"fmt"
	"hash"
	"io"
)

// uploadBlockSize is the size of the blocks uploadReader.WriteTo reads,
// hashes and writes; the first is uploadFirstBlockSize.
const uploadBlockSize = 1 << 20

// uploadFirstBlockSize is the size of WriteTo's first block, the largest
// of Go's small allocations: most uploads (reports, dotenv files, small
// archives) fit in it, and need no more memory than that and no second
// goroutine.
const uploadFirstBlockSize = 32 << 10

// uploadReader passes an uploaded file to PutBlob, hashing and counting it,
// and fails with ErrTooLarge as soon as it is past the limit, so that the
// store aborts the blob. It remembers why it failed: a store may wrap or
// replace the error it returns. It is a SHA256Reader, so that a store that
// hashes for its ETag need not hash again.
type uploadReader struct {
	r        io.Reader
	limit    int64 // <= 0: none
	sum      hash.Hash
	n        int64
	tooLarge bool
	readErr  error
}

func (u *uploadReader) Read(p []byte) (int, error) {
	n, err := u.read(p)
	u.sum.Write(p[:n])
	return n, err
}

// read reads, counts and checks the limit, without hashing.
func (u *uploadReader) read(p []byte) (int, error) {
	if u.tooLarge {
		return 0, ErrTooLarge
	}
	n, err := u.r.Read(p)
	u.n += int64(n)
	if u.limit > 0 && u.n > u.limit {
		u.tooLarge = true
		return 0, fmt.Errorf("upload over %d bytes: %w", u.limit, ErrTooLarge)
	}
	if err != nil && !errors.Is(err, io.EOF) {
		u.readErr = err
	}
	return n, err
}

// WriteTo copies the upload to w in blocks of uploadBlockSize, hashing
// each block on a second goroutine while w writes it and the next block is
// read: SHA-256 is the largest single cost of an upload, and this takes it
// off the request's path when a second core is free. An upload that fits
// in the first, smaller block is hashed here. A store reaches WriteTo
// through io.Copy, or asks for it as fsstore does.
func (u *uploadReader) WriteTo(w io.Writer) (int64, error) {
	// The hasher goroutine starts at the first full block, when more may
	// follow. The first block, small, is made again at full size when it
	// is refilled.
	var blocks [2][]byte
	var toHash chan []byte
	var hashed chan struct{}
	var written int64
	var err error
	pending := 0 // blocks handed to the hasher and not hashed yet
	for i, size := 0, uploadFirstBlockSize; ; i, size = i^1, uploadBlockSize {
		if pending == 2 {
			// The older one is blocks[i], which is about to be refilled.
			<-hashed
			pending--
		}
		if len(blocks[i]) < size {
			blocks[i] = make([]byte, size)
		}
		n, rerr := fillBlock(u.read, blocks[i])
		if n > 0 {
			b := blocks[i][:n]
			if toHash == nil && rerr == nil {
				toHash, hashed = make(chan []byte, 2), make(chan struct{}, 2)
				go func() {
					for b := range toHash {
						u.sum.Write(b)
						hashed <- struct{}{}
					}
				}()
			}
			if toHash != nil {
				toHash <- b
				pending++
			} else {
				u.sum.Write(b) // the first block, and the last
			}
			if _, werr := w.Write(b); werr != nil {
				err = werr
				break
			}
			written += int64(n)
		}
		if errors.Is(rerr, io.EOF) {
			break
		}
		if rerr != nil {
			err = rerr
			break
		}
	}
	if toHash != nil {
		close(toHash)
	}
	for ; pending > 0; pending-- {
		<-hashed
	}
	return written, err
}

// fillBlock reads into b until it is full or read fails; io.EOF at the end.
func fillBlock(read func([]byte) (int, error), b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := read(b[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// SHA256 returns the SHA-256 of the bytes read so far (by Read, or written
// by WriteTo once it has returned).
func (u *uploadReader) SHA256() []byte { return u.sum.Sum(nil) }

var _ SHA256Reader = (*uploadReader)(nil)
