package jobartifacts

import (
	"errors"
	"fmt"
	"hash"
	"io"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/ciartifacts/jobartifacts/internal/blockio"
)

// uploadBlockSize is the size of the blocks uploadReader.WriteTo reads,
// hashes and writes past its first read (uploadFirstBlockSize). In
// bench/compare.sh's upload rounds (1 GiB) on the 2-core VM, interleaved
// against 1 MiB blocks (the handler alone, two builds side by side): with
// fsync 2.33 s against 2.60 (medians of 9 rounds; faster in 6), without
// 1.67 against 1.99 and 1.40 against 1.52 (9 and 11 rounds; faster in 14
// of 20). The disk takes fewer, larger writes, and eight blocks in flight
// hold four times as much of the upload while the disk or the hash
// stalls. The 4 MiB build ran there in the slot started later; on a
// later VM two servers of one binary differed by 10-25 % with their places
// (start order, store), so it was measured again there with the places
// swapped (two servers, each way, medians of 7 or 8 rounds): 4 MiB took
// 1.83 and 1.70 s against 1.61 and 2.10 without fsync, and 4.13 and 3.53 s
// against 3.45 and 4.23 with it: about 5 % faster without fsync, the same
// with it.
const uploadBlockSize = 4 << 20

// uploadFirstBlockSize is the size of WriteTo's first read, the largest
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
	r     io.Reader
	limit int64 // <= 0: none
	// mem lends WriteTo its blocks: large ones while its budget lasts
	// (nil: no budget).
	mem      *uploadMemory
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

// uploadBlocks is how many blocks an upload's WriteTo uses past its first
// read, at the least: one being read into while the two before it are
// hashed and written.
const uploadBlocks = 3

// uploadMaxBlocks is how many it uses at the most: past uploadBlocks it
// takes spare large blocks while half of the upload memory is free
// (uploadMemory.spareBlock). The disk's writes and the hash each stall now
// and then; more blocks in flight let the others run on meanwhile: a
// 1 GiB upload took 15–20 % less time with eight than with three on the
// 2-core VM of the harness, and no less with sixteen.
const uploadMaxBlocks = 8

// WriteTo copies the upload to w in blocks of uploadBlockSize (of
// uploadSmallBlockSize once u.mem's budget is spent): each block is hashed
// on one goroutine and written on another while the next is read, and
// read into again once both are done with it. SHA-256 and the
// disk are the largest costs of an upload, and this takes both off the
// request's path when a second core is free. (Hashing each read on the
// reading goroutine instead, while its bytes are in the cache, was 5-8 %
// slower: 1 GiB without fsync, two servers side by side, each build in
// each place twice, medians of 9 rounds.) The blocks are aligned for
// direct I/O, and a w that is a blockio.InPlaceWriter (fsstore's) is
// asked to write them where they are; one that is a blockio.AsyncWriter
// (fsstore's without fsync) may hold a block past its write and give it
// back later, in any order. An upload that fits in the first,
// smaller read is hashed and written here, with no goroutine. A store
// reaches WriteTo through io.Copy, or asks for it as fsstore does.
func (u *uploadReader) WriteTo(w io.Writer) (int64, error) {
	first := make([]byte, uploadFirstBlockSize)
	n, rerr := fillBlock(u.read, first)
	if rerr == nil {
		return u.pipeline(w, first)
	}
	u.sum.Write(first[:n])
	if n > 0 {
		if _, err := w.Write(first[:n]); err != nil {
			return 0, err
		}
	}
	if errors.Is(rerr, io.EOF) {
		rerr = nil
	}
	return int64(n), rerr
}

// errWritePanicked stops the reading once a write has panicked; the panic
// itself is raised again on WriteTo's goroutine.
var errWritePanicked = errors.New("jobartifacts: the store's write panicked")

// pipeline is WriteTo past a full first read: first goes at the start of
// the first block, so that every block is aligned and a store writes each
// in place, none from a copy of its own.
func (u *uploadReader) pipeline(w io.Writer, first []byte) (int64, error) {
	// write writes a block and calls release once the writer is done with
	// it: before it returns, or later for an AsyncWriter (fsstore's, which
	// writes a block while the next ones are read).
	write := func(b []byte, release func()) (int, error) {
		defer release()
		return w.Write(b)
	}
	switch w := w.(type) {
	case blockio.AsyncWriter:
		write = w.WriteAsync
	case blockio.InPlaceWriter:
		write = func(b []byte, release func()) (int, error) {
			defer release()
			return w.WriteInPlace(b)
		}
	}
	// A block is free to read into again once both goroutines are done
	// with it: the hashing one takes the blocks in order, the writing one
	// may let go of them in any order (an AsyncWriter writes a block
	// through the cache before one still on its way to the disk). No send
	// waits: freed holds every block that can be in flight.
	const inFlight = uploadMaxBlocks
	type block struct {
		b       []byte
		pending atomic.Int32 // goroutines not done with b
	}
	toHash, toWrite := make(chan *block, inFlight), make(chan *block, inFlight)
	freed := make(chan *block, inFlight)
	done := func(blk *block) {
		if blk.pending.Add(-1) == 0 {
			freed <- blk
		}
	}
	writerDone := make(chan struct{})
	var (
		written  int64
		werr     error
		panicked any         // what a write panicked with
		failed   atomic.Bool // werr is set: read no more
	)
	go func() {
		for blk := range toHash {
			u.sum.Write(blk.b)
			done(blk)
		}
	}()
	go func() {
		defer close(writerDone)
		for blk := range toWrite {
			release := sync.OnceFunc(func() { done(blk) })
			if werr != nil {
				release()
				continue
			}
			func() {
				// A store's panic is the request's, raised again on its
				// goroutine, not the process's. Its block is given up.
				defer func() {
					if p := recover(); p != nil {
						panicked, werr = p, errWritePanicked
						failed.Store(true)
						release()
					}
				}()
				n, err := write(blk.b, release)
				written += int64(n)
				if err != nil {
					werr = err
					failed.Store(true)
				}
			}()
		}
	}()
	// queue holds the blocks in flight; free the blocks to read into.
	queue := make([]*block, 0, inFlight)
	free := make([][]byte, 0, uploadMaxBlocks)
	send := func(b []byte) {
		blk := &block{b: b}
		blk.pending.Store(2)
		queue = append(queue, blk)
		toHash <- blk
		toWrite <- blk
	}
	retire := func() {
		blk := <-freed
		queue = slices.DeleteFunc(queue, func(q *block) bool { return q == blk })
		free = append(free, blk.b[:cap(blk.b)])
	}
	var rerr error
	pending := first // read already: the start of the next block
	spares := true   // spare blocks may be had: false once refused
	for allocated := 0; !failed.Load(); {
		var b []byte
		switch {
		case len(free) > 0:
			b, free = free[len(free)-1], free[:len(free)-1]
		case allocated < uploadBlocks:
			b = u.mem.block()
			allocated++
		case allocated < uploadMaxBlocks && spares:
			if b = u.mem.spareBlock(); b == nil {
				spares = false
				continue
			}
			allocated++
		default:
			retire()
			continue
		}
		n := copy(b, pending)
		pending = nil
		m, err := fillBlock(u.read, b[n:])
		if n += m; n > 0 {
			send(b[:n])
		} else {
			free = append(free, b)
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				rerr = err
			}
			break
		}
	}
	close(toHash)
	close(toWrite)
	// The writing goroutine ends once it has taken every block: werr,
	// panicked and written are its no more.
	<-writerDone
	if panicked == nil {
		for len(queue) > 0 {
			retire()
		}
	}
	for _, b := range free {
		u.mem.putBlock(b)
	}
	if panicked != nil {
		// A store that panicked may never let go of the blocks it
		// holds, nor stop writing from them: they are not read into
		// again.
		for _, blk := range queue {
			u.mem.dropBlock(blk.b[:cap(blk.b)])
		}
		panic(panicked)
	}
	if werr != nil {
		return written, werr
	}
	return written, rerr
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
