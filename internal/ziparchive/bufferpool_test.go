package ziparchive

import (
	"bytes"
	"context"
	"io"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ciartifacts/jobartifacts/internal/ziptest"
)

// TestBufferPoolClasses: a buffer has the length asked for and its class's
// capacity; one given back is handed out again; sizes past the largest
// class, and a nil pool, allocate.
func TestBufferPoolClasses(t *testing.T) {
	var p BufferPool
	for n, wantCap := range map[int]int{1: 512, 512: 512, 513: 1024, 4096: 4096, 4097: 8192, keepVerifiedLimit: keepVerifiedLimit, copyBufferSize: copyBufferSize} {
		b := p.get(n)
		require.Len(t, *b, n)
		require.Equal(t, wantCap, cap(*b), "size %d", n)
	}
	reused := false
	for range 20 { // sync.Pool may drop a buffer (always under -race, sometimes)
		b := p.get(3000)
		p.put(b)
		if again := p.get(3500); again == b {
			require.Len(t, *again, 3500)
			reused = true
			break
		}
	}
	require.True(t, reused, "a buffer given back is never handed out again")

	big := p.get(maxPooledBuffer + 1)
	require.Len(t, *big, maxPooledBuffer+1)
	p.put(big) // dropped
	var none *BufferPool
	require.Len(t, *none.get(100), 100)
	none.put(none.get(100))
}

// TestEntryReaderKeptBuffer: the memory VerifyWhole keeps an entry in is
// the reader's alone until Close, which gives it back; a read racing with
// Close (ServeContent's multi-range goroutine) sees the entry or
// ErrClosed, never the bytes of the reader that got the buffer next.
func TestEntryReaderKeptBuffer(t *testing.T) {
	ctx := context.Background()
	first, second := bytes.Repeat([]byte("1"), 3000), bytes.Repeat([]byte("2"), 3000)
	archive := ziptest.Build(t, ziptest.Stored("first", string(first)), ziptest.Deflated("second", string(second)))
	a := NewArchive(bytes.NewReader(archive), int64(len(archive)))
	var pool BufferPool
	open := func(name string) *EntryReader {
		e, err := a.Find(ctx, name)
		require.NoError(t, err)
		er, err := a.NewEntryReader(ctx, e, nil, &pool)
		require.NoError(t, err)
		require.NoError(t, er.VerifyWhole())
		require.NotNil(t, er.kept)
		return er
	}
	r1, r2 := open("first"), open("second")
	require.NotSame(t, &(*r1.kept)[0], &(*r2.kept)[0])
	for _, tc := range []struct {
		er   *EntryReader
		want []byte
	}{{r1, first}, {r2, second}} {
		got, err := io.ReadAll(tc.er)
		require.NoError(t, err)
		require.Equal(t, tc.want, got)
	}
	require.NoError(t, r2.Close())
	require.Nil(t, r2.kept)
	require.Nil(t, r2.head)
	require.NoError(t, r2.Close()) // twice is fine
	_, err := r2.Read(make([]byte, 1))
	require.ErrorIs(t, err, ErrClosed)
	_, err = r2.CopyN(io.Discard, 1)
	require.ErrorIs(t, err, ErrClosed)
	require.ErrorIs(t, r2.VerifyWhole(), ErrClosed)

	var wg sync.WaitGroup
	sawOther := false
	wg.Go(func() {
		buf := make([]byte, 100)
		for {
			if _, err := r1.Seek(0, io.SeekStart); err != nil {
				return
			}
			n, err := r1.Read(buf)
			if err != nil {
				return
			}
			if !bytes.Equal(buf[:n], first[:n]) {
				sawOther = true
				return
			}
		}
	})
	require.NoError(t, r1.Close())
	for range 50 {
		require.NoError(t, open("second").Close())
	}
	wg.Wait()
	require.False(t, sawOther, "a read after Close saw another reader's bytes")
}
