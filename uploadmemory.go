package jobartifacts

import (
	"sync"
	"sync/atomic"

	"github.com/ciartifacts/jobartifacts/internal/blockio"
)

// DefaultUploadMemory bounds the memory of the large blocks that a
// Handler's uploads in flight read into, hash and write (WithUploadMemory):
// 64 blocks of 4 MiB. An upload takes three, and spare ones up to eight
// while half of the budget is free: at least 14 uploads at once read into
// large blocks.
const DefaultUploadMemory = 256 << 20

// uploadSmallBlockSize is the size of the blocks an upload reads into when
// the Handler's upload memory is spent: a multiple of blockio.Align, so
// that fsstore still writes them in place with direct I/O, and small
// enough that many uploads at once cost little (three of them and the first
// read: 224 KiB an upload). An upload never waits for memory: a slow client
// holding blocks cannot hold up the others.
const uploadSmallBlockSize = 64 << 10

// uploadBlockPool holds large upload blocks (*[]byte, aligned) between
// uploads.
var uploadBlockPool = sync.Pool{New: func() any {
	b := blockio.Make(uploadBlockSize)
	return &b
}}

// uploadSmallBlockPool holds small upload blocks (*[]byte, aligned)
// between uploads.
var uploadSmallBlockPool = sync.Pool{New: func() any {
	b := blockio.Make(uploadSmallBlockSize)
	return &b
}}

// uploadMemory counts the large upload blocks (uploadBlockSize) in use by a
// Handler's uploads against a budget. A nil *uploadMemory, or one with no
// budget, lets every upload take large blocks.
type uploadMemory struct {
	budget int64 // bytes; <= 0: no bound
	used   atomic.Int64
}

func newUploadMemory(budget int64) *uploadMemory {
	return &uploadMemory{budget: budget}
}

// block returns a block to read an upload into: a large one if the budget
// has room for it (counted until putBlock), a small one otherwise.
func (m *uploadMemory) block() []byte {
	if m != nil && m.budget > 0 {
		if m.used.Add(uploadBlockSize) > m.budget {
			m.used.Add(-uploadBlockSize)
			return *uploadSmallBlockPool.Get().(*[]byte)
		}
	}
	return *uploadBlockPool.Get().(*[]byte)
}

// spareBlock returns a large block for an upload that has its first
// uploadBlocks already, or nil: only while half of the budget is free, so
// that one upload's spare blocks never leave the next ones small blocks
// to start with. Without a budget there is always one.
func (m *uploadMemory) spareBlock() []byte {
	if m != nil && m.budget > 0 {
		if m.used.Add(uploadBlockSize) > m.budget/2 {
			m.used.Add(-uploadBlockSize)
			return nil
		}
	}
	return *uploadBlockPool.Get().(*[]byte)
}

// putBlock gives back a block from block, whole (len == cap).
func (m *uploadMemory) putBlock(b []byte) {
	if cap(b) != uploadBlockSize {
		uploadSmallBlockPool.Put(&b)
		return
	}
	if m != nil && m.budget > 0 {
		m.used.Add(-uploadBlockSize)
	}
	uploadBlockPool.Put(&b)
}

// dropBlock gives back the budget of a block from block that cannot be
// used again (a store may still write from it) and leaves it to the GC.
func (m *uploadMemory) dropBlock(b []byte) {
	if cap(b) == uploadBlockSize && m != nil && m.budget > 0 {
		m.used.Add(-uploadBlockSize)
	}
}
