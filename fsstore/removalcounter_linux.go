//go:build linux

package fsstore

import (
	"os"
	"runtime/debug"
	"sync/atomic"
	"syscall"
	"unsafe"
)

// mapCounter maps f's first page shared and writable, or returns nil.
// Linux has one page cache: an atomic add through one process's mapping
// is seen through every other's at once.
func mapCounter(f *os.File) []byte {
	return mapShared(f, syscall.PROT_READ|syscall.PROT_WRITE)
}

// counterWord is the count in the mapping: its first 8 bytes, aligned as
// the page is.
func counterWord(m []byte) *uint64 { return (*uint64)(unsafe.Pointer(&m[0])) }

// loadCounter reads the count. A file truncated to nothing behind the
// Store's back puts the page past its end, and the read raises SIGBUS,
// which SetPanicOnFault turns into a panic recovered here: no count.
func loadCounter(m []byte) (n uint64, ok bool) {
	defer func() {
		if recover() != nil {
			n, ok = 0, false
		}
	}()
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	return atomic.LoadUint64(counterWord(m)), true
}

// addCounter adds one to the count; on a truncated file it does nothing
// (loads then trust no count).
func addCounter(m []byte) {
	defer func() { _ = recover() }()
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	atomic.AddUint64(counterWord(m), 1)
}

func unmapCounter(m []byte) { unmapShared(m) }
