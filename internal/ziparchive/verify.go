package ziparchive

import (
	"encoding/binary"
	"errors"
	"fmt"
	crc32pkg "hash/crc32"
	"io"
)

// ErrChecksum is an entry whose data does not match its CRC-32.
var ErrChecksum = errors.New("ziparchive: checksum error")

// ErrUnsupported is an entry compressed with a method this package does not
// decompress.
var ErrUnsupported = errors.New("ziparchive: unsupported compression method")

// NewVerifyingReader returns rc checked against what the central directory
// declares (crc32, size) and, if descriptor is not nil, against the data
// descriptor read from it: see verifyingReader. Close closes rc.
func NewVerifyingReader(rc io.ReadCloser, crc32 uint32, size uint64, descriptor io.Reader) io.ReadCloser {
	return &verifyingReader{rc: rc, crc32: crc32, size: size, descriptor: descriptor}
}

// verifyingReader checks what a decompressor yields against the central
// directory, with the zip reader's rules: more bytes than declared is
// ErrFormat at once; at io.EOF, fewer is io.ErrUnexpectedEOF, and the
// CRC-32 must match (ErrChecksum) — always when there is a data
// descriptor, whose CRC must match too, otherwise only when it is not 0.
type verifyingReader struct {
	rc         io.ReadCloser
	sum        uint32 // CRC-32 (IEEE) of what was read
	read       uint64
	crc32      uint32
	size       uint64
	descriptor io.Reader // where the data descriptor is, if the entry has one
	err        error     // sticky
	// descriptorSection and descriptorBuf let OpenEntry's reader find and
	// read its descriptor without allocations of their own.
	descriptorSection io.SectionReader
	descriptorBuf     [DataDescriptorLen]byte
}

func (v *verifyingReader) Read(p []byte) (int, error) {
	if v.err != nil {
		return 0, v.err
	}
	n, err := v.rc.Read(p)
	v.sum = crc32pkg.Update(v.sum, crc32pkg.IEEETable, p[:n])
	v.read += uint64(n)
	if v.read > v.size {
		v.err = fmt.Errorf("%w: entry holds more than its declared %d bytes", ErrFormat, v.size)
		return 0, v.err
	}
	if err == nil {
		return n, nil
	}
	if errors.Is(err, io.EOF) {
		err = v.verifyEnd()
	}
	v.err = err
	return n, err
}

// verifyEnd runs at the decompressor's io.EOF; it returns io.EOF if all holds.
func (v *verifyingReader) verifyEnd() error {
	if v.read != v.size {
		return io.ErrUnexpectedEOF
	}
	var descriptorCRC uint32
	if v.descriptor != nil {
		var err error
		if descriptorCRC, err = readDataDescriptorCRC(v.descriptor, &v.descriptorBuf); err != nil {
			return err
		}
	}
	if err := checkSum(v.sum, v.crc32, v.descriptor != nil, descriptorCRC); err != nil {
		return err
	}
	return io.EOF
}

// checkSum is the zip reader's CRC rule: the CRC-32 of the data must match
// the declared one, and the data descriptor's when there is one; without a
// descriptor a declared 0 is not checked.
func checkSum(sum, declared uint32, hasDescriptor bool, descriptorCRC uint32) error {
	if hasDescriptor && (descriptorCRC != declared || sum != declared) {
		return ErrChecksum
	}
	if !hasDescriptor && declared != 0 && sum != declared {
		return ErrChecksum
	}
	return nil
}

func (v *verifyingReader) Close() error { return v.rc.Close() }

// readDataDescriptorCRC reads the CRC-32 of a data descriptor, whose
// signature is optional. Its sizes are ignored: the central directory's are
// authoritative (and their width is ambiguous).
func readDataDescriptorCRC(r io.Reader, buf *[DataDescriptorLen]byte) (uint32, error) {
	// Read as much as the zip reader does: CRC and both 32-bit sizes. Both
	// forms at once (one read, not two): 12 bytes at least, 16 if the
	// signature is there.
	n, err := io.ReadAtLeast(r, buf[:], 12)
	if err != nil {
		return 0, descriptorReadError(err)
	}
	if want := descriptorCRCOffset(buf[:n]) + 12; n < want {
		if _, err := io.ReadFull(r, buf[n:want]); err != nil {
			return 0, descriptorReadError(err)
		}
		n = want
	}
	return parseDataDescriptorCRC(buf[:n])
}

// descriptorCRCOffset is where the CRC-32 of the data descriptor that b
// starts is: after the signature, if it is there.
func descriptorCRCOffset(b []byte) int {
	if len(b) >= 4 && binary.LittleEndian.Uint32(b) == DataDescriptorSignature {
		return 4
	}
	return 0
}

// parseDataDescriptorCRC is readDataDescriptorCRC of the bytes b that
// follow an entry's data; too few for the descriptor is a truncated entry.
func parseDataDescriptorCRC(b []byte) (uint32, error) {
	crcAt := descriptorCRCOffset(b)
	if len(b) < crcAt+12 {
		return 0, io.ErrUnexpectedEOF
	}
	return binary.LittleEndian.Uint32(b[crcAt:]), nil
}

// descriptorReadError: a descriptor cut by the end of the file is a
// truncated entry.
func descriptorReadError(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}
