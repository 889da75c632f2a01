package jobartifacts

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ciartifacts/jobartifacts/internal/blockio"
)

// failingWriter fails every write after the first n bytes.
type failingWriter struct {
	bytes.Buffer
	n int
}

var errDiskFull = errors.New("disk full")

func (w *failingWriter) Write(p []byte) (int, error) {
	if w.Len()+len(p) > w.n {
		return 0, errDiskFull
	}
	return w.Buffer.Write(p)
}

// TestUploadReaderWriteTo: the pipelined copy writes and hashes exactly
// what Read would return, keeps the limit, and remembers why it failed.
func TestUploadReaderWriteTo(t *testing.T) {
	data := make([]byte, 5*uploadBlockSize+12345)
	for i := range data {
		data[i] = byte(i * 31 / 7)
	}
	errBody := errors.New("connection reset")
	tests := []struct {
		name      string
		src       io.Reader
		limit     int64
		w         io.Writer
		wantErr   error
		tooLarge  bool
		readErr   error
		wantBytes int
	}{
		{name: "whole", src: bytes.NewReader(data), wantBytes: len(data)},
		{name: "within the first block", src: bytes.NewReader(data[:1000]), wantBytes: 1000},
		{name: "exactly the first block", src: bytes.NewReader(data[:uploadFirstBlockSize]), wantBytes: uploadFirstBlockSize},
		{name: "the first block and a byte", src: bytes.NewReader(data[:uploadFirstBlockSize+1]), wantBytes: uploadFirstBlockSize + 1},
		{name: "the first block and a full one", src: bytes.NewReader(data[:uploadFirstBlockSize+uploadBlockSize]), wantBytes: uploadFirstBlockSize + uploadBlockSize},
		{name: "small reads", src: iotest.HalfReader(bytes.NewReader(data)), wantBytes: len(data)},
		{name: "exactly the limit", src: bytes.NewReader(data), limit: int64(len(data)), wantBytes: len(data)},
		{name: "empty", src: bytes.NewReader(nil)},
		{name: "past the limit", src: bytes.NewReader(data), limit: int64(len(data) - 1), wantErr: ErrTooLarge, tooLarge: true},
		{name: "body fails", src: io.MultiReader(bytes.NewReader(data[:3*uploadBlockSize+5]), iotest.ErrReader(errBody)), wantErr: errBody, readErr: errBody},
		{name: "write fails", src: bytes.NewReader(data), w: &failingWriter{n: 2 * uploadBlockSize}, wantErr: errDiskFull},
		{name: "small, past the limit", src: bytes.NewReader(data[:1000]), limit: 999, wantErr: ErrTooLarge, tooLarge: true},
		{name: "small, body fails", src: io.MultiReader(bytes.NewReader(data[:100]), iotest.ErrReader(errBody)), wantErr: errBody, readErr: errBody},
		{name: "small, write fails", src: bytes.NewReader(data[:1000]), w: &failingWriter{n: 10}, wantErr: errDiskFull},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := &uploadReader{r: tt.src, limit: tt.limit, sum: sha256.New()}
			w := tt.w
			var buf bytes.Buffer
			if w == nil {
				w = &buf
			}
			n, err := u.WriteTo(w)
			require.ErrorIs(t, err, tt.wantErr)
			require.Equal(t, tt.tooLarge, u.tooLarge)
			require.ErrorIs(t, u.readErr, tt.readErr)
			if tt.wantErr != nil {
				return
			}
			require.Equal(t, int64(tt.wantBytes), n)
			require.True(t, bytes.Equal(data[:tt.wantBytes], buf.Bytes()))
			want := sha256.Sum256(data[:tt.wantBytes])
			require.Equal(t, want[:], u.SHA256())
			require.Equal(t, int64(tt.wantBytes), u.n)
		})
	}
}

// inPlaceRecorder is a blockio.InPlaceWriter that counts how blocks come
// to it, and takes its time over each block written in place, checking
// that the block does not change meanwhile.
type inPlaceRecorder struct {
	bytes.Buffer
	copied, inPlace int
	misaligned      int // blocks whose address is not aligned
}

func (w *inPlaceRecorder) Write(p []byte) (int, error) {
	w.copied++
	return w.Buffer.Write(p)
}

func (w *inPlaceRecorder) WriteInPlace(p []byte) (int, error) {
	if w.inPlace++; !blockio.Aligned(p) {
		w.misaligned++
	}
	held := bytes.Clone(p)
	time.Sleep(time.Millisecond) // a disk's time: the next block is read meanwhile
	if !bytes.Equal(held, p) {
		return 0, errors.New("the block changed while it was written")
	}
	return w.Buffer.Write(p)
}

// TestUploadReaderWritesInPlace: a store that can write blocks in place is
// given every block that way, aligned (the first read at the start of the
// first block), and none is read into again before it is written and
// hashed; a small upload is written with Write.
func TestUploadReaderWritesInPlace(t *testing.T) {
	data := make([]byte, 7*uploadBlockSize+12345)
	for i := range data {
		data[i] = byte(i * 13 / 5)
	}
	for _, tt := range []struct {
		name            string
		size            int
		copied, inPlace int
	}{
		{name: "large", size: len(data), inPlace: 7 + 1}, // 7 MiB, then 12345 bytes
		{name: "past the first read", size: uploadFirstBlockSize + 1, inPlace: 1},
		{name: "a block and a byte", size: uploadBlockSize + 1, inPlace: 2},
		{name: "small", size: 1000, copied: 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			u := &uploadReader{r: iotest.HalfReader(bytes.NewReader(data[:tt.size])), sum: sha256.New()}
			var w inPlaceRecorder
			n, err := u.WriteTo(&w)
			require.NoError(t, err)
			require.Equal(t, int64(tt.size), n)
			require.True(t, bytes.Equal(data[:tt.size], w.Bytes()))
			want := sha256.Sum256(data[:tt.size])
			require.Equal(t, want[:], u.SHA256())
			require.Equal(t, tt.copied, w.copied)
			require.Equal(t, tt.inPlace, w.inPlace)
			require.Zero(t, w.misaligned)
		})
	}
}

// panickingWriter panics on its second write.
type panickingWriter struct{ writes int }

func (w *panickingWriter) Write(p []byte) (int, error) {
	if w.writes++; w.writes == 2 {
		panic("store bug")
	}
	return len(p), nil
}

// TestUploadReaderWritePanics: a store whose write panics on the writing
// goroutine panics the request's goroutine, which net/http recovers, not
// the process; nothing is left running.
func TestUploadReaderWritePanics(t *testing.T) {
	data := make([]byte, 4*uploadBlockSize)
	u := &uploadReader{r: bytes.NewReader(data), sum: sha256.New()}
	require.PanicsWithValue(t, "store bug", func() { _, _ = u.WriteTo(&panickingWriter{}) })
}

// asyncRecorder is a blockio.AsyncWriter that holds every other block
// until a later one arrives, then writes and releases it, so that blocks
// are let go of out of order; each is checked not to have changed while
// held. Its file is a map of offsets.
type asyncRecorder struct {
	inPlaceRecorder
	mu      sync.Mutex
	off     int
	file    map[int][]byte
	held    []heldBlock
	changed bool
	async   int
}

type heldBlock struct {
	p, copy []byte
	off     int
	release func()
}

func (w *asyncRecorder) WriteAsync(p []byte, release func()) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.async++
	off := w.off
	w.off += len(p)
	if w.async%2 == 1 {
		w.held = append(w.held, heldBlock{p: p, copy: bytes.Clone(p), off: off, release: release})
		return len(p), nil
	}
	// Written at once, before the held one.
	w.file[off] = bytes.Clone(p)
	release()
	w.flush()
	return len(p), nil
}

// flush writes and releases the held blocks; w.mu is held.
func (w *asyncRecorder) flush() {
	for _, h := range w.held {
		if !bytes.Equal(h.p, h.copy) {
			w.changed = true
		}
		w.file[h.off] = bytes.Clone(h.p)
		h.release()
	}
	w.held = nil
}

// bytes returns the file's bytes in order.
func (w *asyncRecorder) bytes() []byte {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.flush()
	var out []byte
	for off := 0; ; {
		p, ok := w.file[off]
		if !ok {
			return out
		}
		out = append(out, p...)
		off += len(p)
	}
}

// TestUploadReaderWritesAsync: a store that writes blocks asynchronously
// (fsstore without fsync) gets every block through WriteAsync and may let
// go of them in any order; none is read into again before it is released,
// and WriteTo returns only once all are.
func TestUploadReaderWritesAsync(t *testing.T) {
	data := make([]byte, 8*uploadBlockSize+4321)
	for i := range data {
		data[i] = byte(i * 7 / 3)
	}
	u := &uploadReader{r: iotest.HalfReader(bytes.NewReader(data)), sum: sha256.New()}
	w := &asyncRecorder{file: map[int][]byte{}}
	done := make(chan struct{})
	var n int64
	var err error
	go func() {
		defer close(done)
		n, err = u.WriteTo(w)
	}()
	// Every block reaches the writer, the last (the ninth) held until
	// something releases it. Wait for that: releasing the held blocks any
	// earlier would leave a later odd one held for good.
	require.Eventually(t, func() bool {
		w.mu.Lock()
		defer w.mu.Unlock()
		return w.async == 9
	}, time.Minute, time.Millisecond, "the writer did not get every block")
	// WriteTo waits for it.
	require.Never(t, func() bool {
		select {
		case <-done:
			return true
		default:
			return false
		}
	}, 100*time.Millisecond, 10*time.Millisecond, "WriteTo returned with a block still held")
	got := w.bytes() // releases it
	<-done
	require.NoError(t, err)
	require.Equal(t, int64(len(data)), n)
	require.False(t, w.changed, "a block was read into while held")
	require.True(t, bytes.Equal(data, got))
	require.Equal(t, 9, w.async) // the ninth, the tail, held until w.bytes
	want := sha256.Sum256(data)
	require.Equal(t, want[:], u.SHA256())
}

// heldPanicWriter holds its first block and panics on its second.
type heldPanicWriter struct{ writes int }

func (w *heldPanicWriter) Write(p []byte) (int, error) { return len(p), nil }

func (w *heldPanicWriter) WriteInPlace(p []byte) (int, error) { return len(p), nil }

func (w *heldPanicWriter) WriteAsync(p []byte, release func()) (int, error) {
	if w.writes++; w.writes == 2 {
		panic("store bug")
	}
	return len(p), nil // never released
}

// TestUploadReaderAsyncWritePanics: a panic in WriteAsync is raised on the
// request's goroutine.
func TestUploadReaderAsyncWritePanics(t *testing.T) {
	data := make([]byte, 4*uploadBlockSize)
	u := &uploadReader{r: bytes.NewReader(data), sum: sha256.New()}
	require.PanicsWithValue(t, "store bug", func() { _, _ = u.WriteTo(&heldPanicWriter{}) })
}
