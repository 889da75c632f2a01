package ziparchive

import (
	"encoding/binary"
	"io"
)

// A zstd frame declares the window its decoder must keep (klauspost's
// decoder allocates it, plus two blocks, on the first block), and writers
// that stream declare their level's window whatever the size: a 200 KiB
// entry from a zip writer asks for 8 MiB. A zip entry states its size, and
// no match of a frame can reach further back than what the frame has
// decoded, at most that size. So the frames of an entry are handed to the
// decoder with their window lowered to the smallest descriptor at least
// the entry's size: the same bytes decode, with history in the entry's
// size. A frame whose content is longer than the entry fails either way
// (here as corrupt data, or at the size check).

// Zstd frame magic numbers (RFC 8878, 3.1.1 and 3.1.2).
const (
	zstdFrameMagic     = 0xFD2FB528
	zstdSkippableMagic = 0x184D2A50 // the low 4 bits are free
	zstdMinWindow      = 1 << 10
)

// zstdClampState is where a zstdWindowClamp is in the stream.
type zstdClampState int

const (
	clampFrame    zstdClampState = iota // a frame (or skippable frame) starts
	clampBlock                          // a block header comes
	clampChecksum                       // the frame's content checksum comes
	clampOpaque                         // not understood: passed through as it is
)

// zstdWindowClamp passes a zstd stream through, lowering every frame's
// Window_Descriptor above limit to the smallest one at least limit. What
// it does not understand it passes through unchanged, for the decoder to
// refuse.
type zstdWindowClamp struct {
	src      io.Reader
	limit    uint64
	state    zstdClampState
	checksum bool   // the current frame ends with a checksum
	pass     int64  // bytes to pass through before the next header
	pending  []byte // header bytes read and ready to hand out
	buf      [18]byte
}

// clampZstdWindows returns src with every frame's window at most the
// smallest descriptor at least size (and at least 1 KiB).
func clampZstdWindows(src io.Reader, size uint64) io.Reader {
	return &zstdWindowClamp{src: src, limit: max(size, zstdMinWindow)}
}

func (z *zstdWindowClamp) Read(p []byte) (int, error) {
	for {
		switch {
		case len(z.pending) > 0:
			n := copy(p, z.pending)
			z.pending = z.pending[n:]
			return n, nil
		case z.state == clampOpaque:
			return z.src.Read(p)
		case z.pass > 0:
			if int64(len(p)) > z.pass {
				p = p[:z.pass]
			}
			n, err := z.src.Read(p)
			z.pass -= int64(n)
			return n, err
		}
		if err := z.next(); err != nil {
			return 0, err
		}
	}
}

// readHeader reads n header bytes into pending; a stream cut short hands
// out what it had and passes the rest through.
func (z *zstdWindowClamp) readHeader(n int) ([]byte, bool) {
	start := len(z.pending)
	z.pending = z.buf[:start+n]
	got, err := io.ReadFull(z.src, z.pending[start:])
	if err != nil {
		z.pending = z.pending[:start+got]
		z.state = clampOpaque
		return nil, false
	}
	return z.pending[start:], true
}

// next reads the next header into pending and says what follows it.
func (z *zstdWindowClamp) next() error {
	z.pending = z.buf[:0]
	switch z.state {
	case clampChecksum:
		z.pass, z.state = 4, clampFrame
	case clampBlock:
		h, ok := z.readHeader(3)
		if !ok {
			return nil
		}
		header := uint32(h[0]) | uint32(h[1])<<8 | uint32(h[2])<<16
		last, blockType, size := header&1 == 1, (header>>1)&3, int64(header>>3)
		switch blockType {
		case 0, 2: // raw, compressed
			z.pass = size
		case 1: // RLE: one byte repeated
			z.pass = 1
		default:
			z.state = clampOpaque
			return nil
		}
		if last {
			z.state = clampFrame
			if z.checksum {
				z.state = clampChecksum
			}
		}
	case clampFrame:
		m, err := io.ReadFull(z.src, z.buf[:4])
		if err == io.EOF {
			return io.EOF // the stream ends between frames
		}
		if err != nil {
			z.pending, z.state = z.buf[:m], clampOpaque
			return nil
		}
		z.pending = z.buf[:4]
		magic := binary.LittleEndian.Uint32(z.buf[:4])
		switch {
		case magic == zstdFrameMagic:
			z.frameHeader()
		case magic&^0xF == zstdSkippableMagic:
			if h, ok := z.readHeader(4); ok {
				z.pass = int64(binary.LittleEndian.Uint32(h))
			}
		default:
			z.state = clampOpaque
		}
	}
	return nil
}

// frameHeader reads the rest of a frame header (after its magic),
// lowering its window when it has a descriptor and no dictionary.
func (z *zstdWindowClamp) frameHeader() {
	d, ok := z.readHeader(1)
	if !ok {
		return
	}
	descriptor := d[0]
	singleSegment := descriptor&0x20 != 0
	z.checksum = descriptor&0x04 != 0
	dictLen := [4]int{0, 1, 2, 4}[descriptor&3]
	fcsLen := [4]int{0, 2, 4, 8}[descriptor>>6]
	if singleSegment && descriptor>>6 == 0 {
		fcsLen = 1
	}
	windowLen := 1
	if singleSegment {
		windowLen = 0
	}
	rest, ok := z.readHeader(windowLen + dictLen + fcsLen)
	if !ok {
		return
	}
	z.state = clampBlock
	if windowLen == 1 && dictLen == 0 && zstdWindowSize(rest[0]) > z.limit {
		rest[0] = zstdWindowDescriptor(z.limit)
	}
}

// zstdWindowSize is the window a Window_Descriptor declares.
func zstdWindowSize(d byte) uint64 {
	base := uint64(1) << (10 + d>>3)
	return base + base/8*uint64(d&7)
}

// zstdWindowDescriptor is the smallest Window_Descriptor declaring at
// least size bytes.
func zstdWindowDescriptor(size uint64) byte {
	for d := 0; d < 256; d++ {
		if zstdWindowSize(byte(d)) >= size {
			return byte(d)
		}
	}
	return 255
}
