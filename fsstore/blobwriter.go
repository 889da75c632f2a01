package fsstore

import (
	"context"
	"crypto/sha256"
	"errors"
	"hash"
	"io"

	"github.com/ciartifacts/jobartifacts"
	"github.com/ciartifacts/jobartifacts/internal/blockio"
	"github.com/ciartifacts/jobartifacts/internal/ctxio"
)

// writeBlockSize is how much PutBlob collects before each write(2) from a
// reader that yields less per Read (the handler's uploads hand over 4 MiB
// blocks of their own, see writeBlob).
const writeBlockSize = 1 << 20

// writeBlob copies r to f in blocks of writeBlockSize and returns the
// SHA-256 of what it copied: r's, when r is a SHA256Reader, else its own.
// A SHA256Reader that is also an io.WriterTo (the handler's uploads, which
// hash a block while it is written) hands over its own blocks. wb, when
// not nil, starts the writeback of what is written as it goes. Once ctx is
// done, nothing more is read or written.
func writeBlob(ctx context.Context, f io.Writer, r io.Reader, wb *writeback) ([]byte, error) {
	sr, _ := r.(jobartifacts.SHA256Reader)
	out := &blockWriter{ctx: ctx, f: f, wb: wb}
	if sr == nil {
		out.h = sha256.New()
	}
	if wt, ok := r.(io.WriterTo); ok && sr != nil {
		if _, err := wt.WriteTo(out); err != nil {
			return nil, err
		}
		return sr.SHA256(), nil
	}
	src := ctxio.NewReader(ctx, r)
	buf := make([]byte, writeBlockSize)
	for {
		n, rerr := fill(src, buf)
		if n > 0 {
			if _, err := out.Write(buf[:n]); err != nil {
				return nil, err
			}
		}
		if errors.Is(rerr, io.EOF) {
			break
		}
		if rerr != nil {
			return nil, rerr
		}
	}
	if out.h != nil {
		return out.h.Sum(nil), nil
	}
	return sr.SHA256(), nil
}

// blockWriter writes a blob's blocks to its file: it stops once ctx is
// done, starts their writeback, and hashes them unless the reader does.
type blockWriter struct {
	ctx context.Context
	f   io.Writer
	wb  *writeback
	h   hash.Hash // nil: the reader hashes
}

func (w *blockWriter) Write(p []byte) (int, error) {
	return w.write(p, w.f.Write)
}

// WriteInPlace lets a reader that writes from a goroutine of its own (the
// handler's uploads) have its aligned blocks written without a copy, when
// the file is written by a directWriter.
func (w *blockWriter) WriteInPlace(p []byte) (int, error) {
	if ipw, ok := w.f.(blockio.InPlaceWriter); ok {
		return w.write(p, ipw.WriteInPlace)
	}
	return w.Write(p)
}

// WriteAsync lets such a reader have its blocks written while it reads
// the next, when the file is written by a directWriter.
func (w *blockWriter) WriteAsync(p []byte, release func()) (int, error) {
	aw, ok := w.f.(blockio.AsyncWriter)
	if !ok {
		n, err := w.WriteInPlace(p)
		release()
		return n, err
	}
	if err := w.ctx.Err(); err != nil {
		release()
		return 0, err
	}
	if w.h != nil {
		// Before the write: p is the caller's again once released.
		w.h.Write(p)
	}
	n, err := aw.WriteAsync(p, release)
	w.wb.wrote(n)
	return n, err
}

var _ blockio.AsyncWriter = (*blockWriter)(nil)

func (w *blockWriter) write(p []byte, write func([]byte) (int, error)) (int, error) {
	if err := w.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := write(p)
	w.wb.wrote(n)
	if w.h != nil {
		w.h.Write(p[:n])
	}
	return n, err
}

// fill reads into buf until it is full or r fails; io.EOF at the end.
func fill(r io.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}
