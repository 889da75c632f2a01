// Package ctxio ties reads to a context, for the stores' uploads and for
// blobs whose reads the context of their open governs.
package ctxio

import (
	"context"
	"io"
)

// Reader is an io.Reader that fails with its context's error, and reads
// nothing more, once the context is done. It checks before every read; a
// read already blocked in the underlying reader is not interrupted.
type Reader struct {
	ctx context.Context
	r   io.Reader
}

// NewReader returns a Reader of r governed by ctx.
func NewReader(ctx context.Context, r io.Reader) *Reader {
	return &Reader{ctx: ctx, r: r}
}

// Read reads from the underlying reader unless the context is done.
func (c *Reader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
