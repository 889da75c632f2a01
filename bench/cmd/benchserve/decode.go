package main

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/klauspost/compress/zip"
	"github.com/klauspost/compress/zstd"
)

// decode reads one entry of a zip to its end in process, as the handler's
// peer without HTTP: open, klauspost's zip.OpenReader, Open, read. It
// prints the seconds it took and the bytes read.
//
//	benchserve decode ZIP NAME
func decode(args []string) error {
	if len(args) != 2 {
		return errors.New("usage: decode ZIP NAME")
	}
	start := time.Now()
	zr, err := zip.OpenReader(args[0])
	if err != nil {
		return err
	}
	defer zr.Close()
	zr.RegisterDecompressor(zipMethodZstd, func(r io.Reader) io.ReadCloser {
		d, err := zstd.NewReader(r)
		if err != nil {
			return io.NopCloser(errReader{err})
		}
		return d.IOReadCloser()
	})
	f, err := zr.Open(args[1])
	if err != nil {
		return err
	}
	defer f.Close()
	buf := make([]byte, 256<<10)
	n, err := io.CopyBuffer(io.Discard, struct{ io.Reader }{f}, buf)
	if err != nil {
		return err
	}
	fmt.Printf("%.6f %d\n", time.Since(start).Seconds(), n)
	return nil
}

// errReader fails every read with its error.
type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }
