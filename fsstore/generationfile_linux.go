//go:build linux

package fsstore

import (
	"encoding/binary"
	"os"
	"runtime/debug"
	"syscall"
)

// mapGeneration maps f's first page shared, or returns nil if it cannot
// (loads then pread). Linux has one page cache: a generation another
// process writes with pwrite(2) is in the mapping as soon as its write
// returns, as a pread would have read it.
func mapGeneration(f *os.File) []byte {
	rc, err := f.SyscallConn()
	if err != nil {
		return nil
	}
	var mapped []byte
	_ = rc.Control(func(fd uintptr) {
		m, err := syscall.Mmap(int(fd), 0, 8, syscall.PROT_READ, syscall.MAP_SHARED)
		if err == nil {
			mapped = m
		}
	})
	return mapped
}

// loadMapped reads the generation from the mapping. With meta.lock empty
// (made by an older version, or truncated by a write that could not set
// the generation), the page lies past the file's end and reading it raises
// SIGBUS, which SetPanicOnFault turns into a panic recovered here: no
// generation, as a short pread says. A file shorter than 8 bytes (never
// written by this package) reads as its bytes and zeros: some generation,
// replaced by the next write like any other.
func loadMapped(m []byte) (gen uint64) {
	defer func() {
		if recover() != nil {
			gen = 0
		}
	}()
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	return binary.LittleEndian.Uint64(m[:8])
}

func unmapGeneration(m []byte) { _ = syscall.Munmap(m) }
