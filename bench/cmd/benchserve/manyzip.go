package main

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
)

// A manyZipEntry is one stored entry of a zip written by writeManyZip.
type manyZipEntry struct {
	name string
	body []byte
}

// writeManyZip writes a zip of n stored entries, entry(i) giving the i-th,
// streamed: local records go to the file as they come and central records
// to a temporary file appended at the end, so memory stays flat at a
// million entries (archive/zip's Writer keeps every header until Close).
// More than 65,534 entries need the zip64 end records, which it writes;
// offsets and sizes must stay under 4 GiB.
func writeManyZip(path string, n int, entry func(i int) manyZipEntry) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	cdFile, err := os.CreateTemp("", "benchserve-cd-*")
	if err != nil {
		return err
	}
	defer os.Remove(cdFile.Name())
	defer cdFile.Close()

	out := bufio.NewWriterSize(f, 1<<20)
	cd := bufio.NewWriterSize(cdFile, 1<<20)
	var offset, cdSize uint64
	const dosDate = (2026-1980)<<9 | 1<<5 | 1 // 2026-01-01, 00:00
	for i := range n {
		e := entry(i)
		crc := crc32.ChecksumIEEE(e.body)
		size := uint64(len(e.body))
		if offset+size > 0xfffffff0 {
			return errors.New("writeManyZip: over 4 GiB")
		}
		var h [46]byte
		// Local file header: version 20, no flags, method 0 (stored).
		le := binary.LittleEndian
		le.PutUint32(h[0:], 0x04034b50)
		le.PutUint16(h[4:], 20)
		le.PutUint16(h[12:], dosDate)
		le.PutUint32(h[14:], crc)
		le.PutUint32(h[18:], uint32(size))
		le.PutUint32(h[22:], uint32(size))
		le.PutUint16(h[26:], uint16(len(e.name)))
		if _, err := out.Write(h[:30]); err != nil {
			return err
		}
		out.WriteString(e.name)
		out.Write(e.body)
		// Central directory header of the same entry.
		clear(h[:])
		le.PutUint32(h[0:], 0x02014b50)
		le.PutUint16(h[4:], 3<<8|20) // made by: Unix, 2.0
		le.PutUint16(h[6:], 20)
		le.PutUint16(h[14:], dosDate)
		le.PutUint32(h[16:], crc)
		le.PutUint32(h[20:], uint32(size))
		le.PutUint32(h[24:], uint32(size))
		le.PutUint16(h[28:], uint16(len(e.name)))
		le.PutUint32(h[38:], 0o100644<<16)
		le.PutUint32(h[42:], uint32(offset))
		cd.Write(h[:])
		if _, err := cd.WriteString(e.name); err != nil {
			return err
		}
		offset += 30 + uint64(len(e.name)) + size
		cdSize += 46 + uint64(len(e.name))
	}
	if err := cd.Flush(); err != nil {
		return err
	}
	if _, err := cdFile.Seek(0, io.SeekStart); err != nil {
		return err
	}
	if _, err := io.Copy(out, cdFile); err != nil {
		return err
	}
	if _, err := out.Write(endRecords(uint64(n), offset, cdSize)); err != nil {
		return err
	}
	if err := out.Flush(); err != nil {
		return err
	}
	return f.Sync()
}

// endRecords returns the end of central directory record, preceded by the
// zip64 end record and its locator when the entry count needs them.
func endRecords(n, cdOffset, cdSize uint64) []byte {
	le := binary.LittleEndian
	var b []byte
	count := uint16(n)
	if n >= 0xffff {
		count = 0xffff
		z := make([]byte, 56+20)
		le.PutUint32(z[0:], 0x06064b50)
		le.PutUint64(z[4:], 44) // size of the rest of the record
		le.PutUint16(z[12:], 45)
		le.PutUint16(z[14:], 45)
		le.PutUint64(z[24:], n)
		le.PutUint64(z[32:], n)
		le.PutUint64(z[40:], cdSize)
		le.PutUint64(z[48:], cdOffset)
		// Locator: where the zip64 end record starts, of one disk.
		le.PutUint32(z[56:], 0x07064b50)
		le.PutUint64(z[64:], cdOffset+cdSize)
		le.PutUint32(z[72:], 1)
		b = z
	}
	e := make([]byte, 22)
	le.PutUint32(e[0:], 0x06054b50)
	le.PutUint16(e[8:], count)
	le.PutUint16(e[10:], count)
	le.PutUint32(e[12:], uint32(cdSize))
	le.PutUint32(e[16:], uint32(cdOffset))
	return append(b, e...)
}

// coverageEntry is the i-th of the million-entry archive: an HTML page of a
// coverage report, public/coverage/pkgNNN/dirNNN/fileNNN.html, as the
// research's 1M-entry archive named them (100 × 100 × 100).
func coverageEntry(i int) manyZipEntry {
	name := fmt.Sprintf("public/coverage/pkg%03d/dir%03d/file%03d.html", i/10000, i/100%100, i%100)
	body := fmt.Sprintf("<!DOCTYPE html>\n<html><head><title>%s</title></head>\n<body><table>\n"+
		"<tr><td>lines</td><td>%d</td></tr><tr><td>covered</td><td>%d</td></tr>\n"+
		"<tr><td>branches</td><td>%d</td></tr>\n</table></body></html>\n", name, i%997, i%991, i%89)
	return manyZipEntry{name: name, body: []byte(body)}
}
