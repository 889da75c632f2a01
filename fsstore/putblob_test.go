package fsstore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"testing"

	"github.com/stretchr/testify/require"
)

// smallReads yields at most 4 KiB per Read, as a multipart part does.
type smallReads struct{ r io.Reader }

func (s smallReads) Read(p []byte) (int, error) { return s.r.Read(p[:min(len(p), 4096)]) }

// hashedReads is a jobartifacts.SHA256Reader that reports a fixed sum, so
// that a test can tell whether the store used it.
type hashedReads struct {
	smallReads
	sum []byte
}

func (h hashedReads) SHA256() []byte { return h.sum }

// recordingWriter records the size of each Write.
type recordingWriter struct {
	bytes.Buffer
	writes []int
}

func (w *recordingWriter) Write(p []byte) (int, error) {
	w.writes = append(w.writes, len(p))
	return w.Buffer.Write(p)
}

// TestWriteBlobBlocks: PutBlob's copy collects small reads into 1 MiB writes.
func TestWriteBlobBlocks(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789abcdef"), (5<<20)/16+100) // 5 MiB + 1600
	var w recordingWriter
	sum, err := writeBlob(context.Background(), &w, smallReads{bytes.NewReader(data)}, nil)
	require.NoError(t, err)
	require.Equal(t, data, w.Bytes())
	require.Equal(t, []int{1 << 20, 1 << 20, 1 << 20, 1 << 20, 1 << 20, 1600}, w.writes)
	want := sha256.Sum256(data)
	require.Equal(t, want[:], sum)
}

// TestPutBlobTakesReadersHash: given a SHA256Reader, PutBlob takes its sum
// for the ETag instead of hashing again; given any other reader, it hashes.
func TestPutBlobTakesReadersHash(t *testing.T) {
	ctx := context.Background()
	s, err := Open(t.TempDir())
	require.NoError(t, err)
	defer s.Close()
	data := bytes.Repeat([]byte("x"), 100_000)

	given := bytes.Repeat([]byte{0xab}, sha256.Size)
	info, err := s.PutBlob(ctx, "1/1/given", hashedReads{smallReads{bytes.NewReader(data)}, given})
	require.NoError(t, err)
	require.Equal(t, `"`+hex.EncodeToString(given)+`"`, info.ETag, "the reader's sum is the ETag")
	b, err := s.OpenBlob(ctx, "1/1/given")
	require.NoError(t, err)
	require.Equal(t, info.ETag, b.Info().ETag, "and is recorded in blobinfo/")
	require.NoError(t, b.Close())

	info, err = s.PutBlob(ctx, "1/1/hashed", smallReads{bytes.NewReader(data)})
	require.NoError(t, err)
	want := sha256.Sum256(data)
	require.Equal(t, `"`+hex.EncodeToString(want[:])+`"`, info.ETag)
}

// TestWriteBlobStartsWriteback: with fsync on, the writeback of each full
// window starts as soon as it is written, and a partial window is left to
// the fsync.
func TestWriteBlobStartsWriteback(t *testing.T) {
	data := make([]byte, 2*writebackWindow+3<<20+5)
	var w recordingWriter
	var started [][2]int64
	wb := &writeback{start: func(off, n int64) { started = append(started, [2]int64{off, n}) }}
	_, err := writeBlob(context.Background(), &w, smallReads{bytes.NewReader(data)}, wb)
	require.NoError(t, err)
	require.Equal(t, [][2]int64{{0, writebackWindow}, {writebackWindow, writebackWindow}}, started)
}

// TestStartWritebackOnFile: the hint leaves the file's bytes as they are,
// and a file the kernel cannot sync (closed) is no error for it to report.
func TestStartWritebackOnFile(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "wb")
	require.NoError(t, err)
	data := bytes.Repeat([]byte("writeback"), 1<<17)
	_, err = f.Write(data)
	require.NoError(t, err)
	startWriteback(f, 0, int64(len(data)))
	require.NoError(t, f.Sync())
	got, err := os.ReadFile(f.Name())
	require.NoError(t, err)
	require.Equal(t, data, got)
	require.NoError(t, f.Close())
	startWriteback(f, 0, int64(len(data)))
}

// blockReader is a SHA256Reader that hands its bytes over with WriteTo,
// in blocks, as the handler's uploads do.
type blockReader struct {
	hashedReads
	blocks   [][]byte
	wroteTo  bool
	afterOne func() // called after the first block is written
}

func (b *blockReader) WriteTo(w io.Writer) (int64, error) {
	b.wroteTo = true
	var n int64
	for i, block := range b.blocks {
		m, err := w.Write(block)
		n += int64(m)
		if err != nil {
			return n, err
		}
		if i == 0 && b.afterOne != nil {
			b.afterOne()
		}
	}
	return n, nil
}

// TestWriteBlobTakesReadersBlocks: a SHA256Reader that is an io.WriterTo
// writes its own blocks, whose writeback still starts; a done context
// stops the copy at the next block.
func TestWriteBlobTakesReadersBlocks(t *testing.T) {
	block := bytes.Repeat([]byte{7}, writebackWindow/2)
	sum := bytes.Repeat([]byte{1}, sha256.Size)
	r := &blockReader{hashedReads: hashedReads{sum: sum}, blocks: [][]byte{block, block, block}}
	var w recordingWriter
	var started [][2]int64
	wb := &writeback{start: func(off, n int64) { started = append(started, [2]int64{off, n}) }}
	got, err := writeBlob(context.Background(), &w, r, wb)
	require.NoError(t, err)
	require.True(t, r.wroteTo)
	require.Equal(t, sum, got)
	require.Equal(t, []int{len(block), len(block), len(block)}, w.writes)
	require.Equal(t, [][2]int64{{0, writebackWindow}}, started)

	ctx, cancel := context.WithCancel(context.Background())
	r = &blockReader{hashedReads: hashedReads{sum: sum}, blocks: [][]byte{block, block}, afterOne: cancel}
	w = recordingWriter{}
	_, err = writeBlob(ctx, &w, r, nil)
	require.ErrorIs(t, err, context.Canceled)
	require.Equal(t, []int{len(block)}, w.writes)
}
