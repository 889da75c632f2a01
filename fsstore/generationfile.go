package fsstore

import (
	"encoding/binary"
	"os"
)

// generationFile is meta.lock, open to read the store's generation: its
// first 8 bytes, little-endian (metacache.go). Every metadata read starts
// with it, so where the system allows it reads from a shared mapping of the
// file's first page (generationfile_linux.go), a load from memory instead
// of a pread(2).
type generationFile struct {
	f *os.File
	// mapped is the file's first page, mapped shared and read-only, or nil
	// (read with pread).
	mapped []byte
}

func openGenerationFile(path string) (*generationFile, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	g := &generationFile{f: f}
	g.mapped = mapGeneration(f)
	return g, nil
}

// load returns the store's generation, or 0 when there is none (fewer than
// 8 bytes).
func (g *generationFile) load() uint64 {
	if g.mapped != nil {
		return loadMapped(g.mapped)
	}
	var b [8]byte
	if n, _ := g.f.ReadAt(b[:], 0); n < len(b) {
		return 0
	}
	return binary.LittleEndian.Uint64(b[:])
}

// close unmaps and closes the file; no load may run meanwhile or after.
func (g *generationFile) close() error {
	if g.mapped != nil {
		unmapGeneration(g.mapped)
		g.mapped = nil
	}
	return g.f.Close()
}
