//go:build linux && (amd64 || arm64 || riscv64 || loong64)

package fsstore

import (
	"bytes"
	"fmt"
	"os"
	"slices"
	"testing"

	"github.com/ciartifacts/jobartifacts"
	"github.com/ciartifacts/jobartifacts/internal/blockio"
	"github.com/stretchr/testify/require"
)

// holds reports whether ctx is kept idle in p.
func (p *aioContextPool) holds(ctx aioContext) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Contains(p.idle, ctx)
}

// TestAIOContextPool: a context given back is taken again, the newest
// first, up to max kept; one taken again writes as a new one does.
func TestAIOContextPool(t *testing.T) {
	dir := t.TempDir()
	if !aioHere(t, dir) {
		t.Skipf("%s: no O_DIRECT or no AIO here", dir)
	}
	p := aioContextPool{max: 2}
	var made []aioContext
	for range 3 {
		ctx, err := p.get()
		require.NoError(t, err)
		require.NotContains(t, made, ctx)
		made = append(made, ctx)
	}
	for _, ctx := range made {
		p.put(ctx)
	}
	require.Equal(t, made[:2], p.idle, "kept: the first two given back; the third is ended")

	f, err := os.CreateTemp(dir, "blob")
	require.NoError(t, err)
	defer f.Close()
	df, err := openDirect(f.Name())
	require.NoError(t, err)
	defer df.Close()
	block := blockio.Make(directBlockSize)
	var want []byte
	for i := range 2 {
		ctx, err := p.get()
		require.NoError(t, err)
		require.Equal(t, made[1], ctx, "the newest idle context")
		for j := range block {
			block[j] = byte(i*7 + j)
		}
		off := int64(i) * directBlockSize
		require.NoError(t, ctx.submitWrite(df.Fd(), block, off, uint64(100+i)))
		seq, res, err := ctx.reap()
		require.NoError(t, err)
		require.EqualValues(t, 100+i, seq)
		require.EqualValues(t, directBlockSize, res)
		want = append(want, block...)
		p.put(ctx)
	}
	got, err := os.ReadFile(f.Name())
	require.NoError(t, err)
	require.True(t, bytes.Equal(want, got), "the file differs")
	for _, ctx := range p.idle {
		ctx.destroy()
	}
}

// TestPutBlobReusesAIOContext: a store without fsync gives an upload's
// AIO context back when the blob is written, and the next upload takes
// it: no io_destroy, which waits for an RCU grace period, on the way to
// an upload's answer.
func TestPutBlobReusesAIOContext(t *testing.T) {
	dir := t.TempDir()
	if !aioHere(t, dir) {
		t.Skipf("%s: no O_DIRECT or no AIO here", dir)
	}
	s, err := Open(dir, WithoutFsync())
	require.NoError(t, err)
	defer s.Close()
	data := randomBytes(asyncCachedFirst+4*directBlockSize+5, 3)
	var idle []aioContext
	for _, key := range []jobartifacts.BlobKey{"a", "b", "c"} {
		_, err := s.PutBlob(t.Context(), key, &asyncUploadReader{t: t, data: data})
		require.NoError(t, err)
		aioContexts.mu.Lock()
		now := slices.Clone(aioContexts.idle)
		aioContexts.mu.Unlock()
		require.NotEmpty(t, now, "%s: the context was not given back", key)
		if idle != nil {
			require.Equal(t, idle, now, "%s: a context made or lost", key)
		}
		idle = now
		got, err := os.ReadFile(s.blobFile(key))
		require.NoError(t, err)
		require.True(t, bytes.Equal(data, got), "%s: the blob differs", key)
	}
}

// BenchmarkPutBlobAsync: an upload's PutBlob into a store without fsync,
// its blocks given as the handler gives them (WriteAsync): "both" is the
// default (the first asyncCachedFirst bytes through the page cache, the
// rest both ways at once), "cache" the store WithoutDirectIO, for
// reference. Small uploads take the same time both ways; large ones less
// with the default.
func BenchmarkPutBlobAsync(b *testing.B) {
	dir := b.TempDir()
	if !aioHere(b, dir) {
		b.Skipf("%s: no O_DIRECT or no AIO here", dir)
	}
	for _, size := range []int{1 << 20, 8 << 20, 64 << 20} {
		for _, mode := range []string{"both", "cache"} {
			b.Run(fmt.Sprintf("%dMiB/%s", size>>20, mode), func(b *testing.B) {
				opts := []Option{WithoutFsync()}
				if mode == "cache" {
					opts = append(opts, WithoutDirectIO())
				}
				s, err := Open(b.TempDir(), opts...)
				require.NoError(b, err)
				defer s.Close()
				data := randomBytes(size, 5)
				b.SetBytes(int64(size))
				i := 0
				for b.Loop() {
					key := jobartifacts.BlobKey(fmt.Sprintf("k%d", i))
					i++
					if _, err := s.PutBlob(b.Context(), key, &asyncUploadReader{t: b, data: data}); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
