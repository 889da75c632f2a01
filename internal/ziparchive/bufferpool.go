package ziparchive

import (
	"math/bits"
	"sync"
)

const (
	// A BufferPool keeps buffers of 1<<minPooledShift to 1<<maxPooledShift
	// bytes, in classes of powers of two; keepVerifiedLimit and
	// copyBufferSize must fit.
	minPooledShift  = 9
	maxPooledShift  = 16
	minPooledBuffer = 1 << minPooledShift
	maxPooledBuffer = 1 << maxPooledShift
	bufferClasses   = maxPooledShift - minPooledShift + 1
	// copyBufferSize is io.Copy's buffer size, which CopyN keeps.
	copyBufferSize = 32 << 10
)

// BufferPool lends EntryReaders the memory that keeps a verified small
// entry and the buffer that CopyN copies through, so that a server reuses
// them from one request to the next instead of allocating them each time.
// Its zero value is ready; it is safe for concurrent use. A nil
// *BufferPool allocates.
type BufferPool struct {
	// classes[c] holds *[]byte of capacity minPooledBuffer<<c (a pointer:
	// a slice put in a sync.Pool would be allocated to box it).
	classes [bufferClasses]sync.Pool
}

// get returns a buffer of length n, from the pool when one of its class is
// there.
func (p *BufferPool) get(n int) *[]byte {
	c, ok := bufferClass(n)
	if p == nil || !ok {
		b := make([]byte, n)
		return &b
	}
	if b, _ := p.classes[c].Get().(*[]byte); b != nil {
		*b = (*b)[:n]
		return b
	}
	b := make([]byte, n, minPooledBuffer<<c)
	return &b
}

// put gives b back; the caller must not use it afterwards. Buffers that
// get did not take from a class are dropped.
func (p *BufferPool) put(b *[]byte) {
	if p == nil || b == nil {
		return
	}
	c, ok := bufferClass(cap(*b))
	if !ok || cap(*b) != minPooledBuffer<<c {
		return
	}
	p.classes[c].Put(b)
}

// bufferClass is the class whose buffers hold n bytes; false above
// maxPooledBuffer.
func bufferClass(n int) (int, bool) {
	if n > maxPooledBuffer {
		return 0, false
	}
	if n <= minPooledBuffer {
		return 0, true
	}
	return bits.Len(uint(n-1)) - minPooledShift, true
}
