package s3store_test

import (
	"bytes"
	"io"
	"testing"

	"github.com/minio/minio-go/v7"
	"github.com/stretchr/testify/require"

	"github.com/ciartifacts/jobartifacts/s3store"
)

const benchSize = 64 << 20

// Downloading one 64 MiB object: the Blob's streaming read (what the
// handler sends a whole archive with) and ReadAt in 32 KiB reads (what
// http.ServeContent over a SectionReader would do) against minio-go's own
// GetObject. Compare the MB/s of the sub-benchmarks.
func BenchmarkDownload(b *testing.B) {
	f := newFixture(b)
	data := pseudoRandom(90, benchSize)
	key := blobKey("archive")
	_, err := f.store.PutBlob(b.Context(), key, bytes.NewReader(data))
	require.NoError(b, err)
	buf := make([]byte, 32<<10)

	b.Run("MinioGetObject", func(b *testing.B) {
		b.SetBytes(benchSize)
		for b.Loop() {
			obj, err := f.client.GetObject(b.Context(), f.bucket, string(key), minio.GetObjectOptions{})
			require.NoError(b, err)
			n, err := io.CopyBuffer(io.Discard, obj, buf)
			require.NoError(b, err)
			require.Equal(b, int64(benchSize), n)
			require.NoError(b, obj.Close())
		}
	})
	b.Run("BlobNewRangeReader", func(b *testing.B) {
		b.SetBytes(benchSize)
		for b.Loop() {
			blob, err := f.store.OpenBlob(b.Context(), key)
			require.NoError(b, err)
			rc, err := blob.NewRangeReader(0, -1)
			require.NoError(b, err)
			n, err := io.CopyBuffer(io.Discard, rc, buf)
			require.NoError(b, err)
			require.Equal(b, int64(benchSize), n)
			require.NoError(b, rc.Close())
			require.NoError(b, blob.Close())
		}
	})
	b.Run("BlobReadAt32KiB", func(b *testing.B) {
		b.SetBytes(benchSize)
		for b.Loop() {
			blob, err := f.store.OpenBlob(b.Context(), key)
			require.NoError(b, err)
			n, err := io.CopyBuffer(io.Discard, io.NewSectionReader(blob, 0, benchSize), buf)
			require.NoError(b, err)
			require.Equal(b, int64(benchSize), n)
			require.NoError(b, blob.Close())
		}
	})
}

// Uploading 64 MiB of unknown length in 16 MiB parts: PutBlob against
// minio-go's own streaming PutObject with the same part size.
func BenchmarkUpload(b *testing.B) {
	f := newFixture(b)
	data := pseudoRandom(91, benchSize)

	b.Run("MinioPutObject", func(b *testing.B) {
		b.SetBytes(benchSize)
		for b.Loop() {
			_, err := f.client.PutObject(b.Context(), f.bucket, string(blobKey("direct")), onlyReader{bytes.NewReader(data)}, -1,
				minio.PutObjectOptions{PartSize: s3store.DefaultPartSize})
			require.NoError(b, err)
		}
	})
	b.Run("PutBlob", func(b *testing.B) {
		b.SetBytes(benchSize)
		for b.Loop() {
			_, err := f.store.PutBlob(b.Context(), blobKey("archive"), onlyReader{bytes.NewReader(data)})
			require.NoError(b, err)
		}
	})
}
