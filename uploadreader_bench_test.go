//go:build unix

package jobartifacts

import (
	"crypto/sha256"
	"fmt"
	"io"
	"syscall"
	"testing"
	"time"
)

// pieceReader returns left bytes, buf over and over, at most len(buf) a
// Read, as a socket hands out a chunked body.
type pieceReader struct {
	buf  []byte
	left int64
}

func (r *pieceReader) Read(p []byte) (int, error) {
	if r.left == 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(int64(len(p)), r.left)], r.buf)
	r.left -= int64(n)
	return n, nil
}

// BenchmarkUploadReader: an upload of 4 KiB (a dotenv report, a small
// archive) or 64 MiB, in 32 KiB reads, to io.Discard, hashed on a second
// goroutine (WriteTo, as fsstore takes it; in 4 MiB blocks, or in 64 KiB
// ones as when the Handler's upload memory is spent) or on the reading one
// (Read, as any other store does). cpu-ms/op is the process's CPU time: at
// 64 MiB, the difference is what the hand-off between the goroutines costs.
func BenchmarkUploadReader(b *testing.B) {
	piece := make([]byte, 32<<10)
	for i := range piece {
		piece[i] = byte(i * 31 / 7)
	}
	for _, size := range []int64{4 << 10, 64 << 20} {
		for _, mode := range []string{"pipelined", "pipelined-small-blocks", "read"} {
			pipelined := mode != "read"
			var mem *uploadMemory
			if mode == "pipelined-small-blocks" {
				mem = newUploadMemory(1) // under a block: spent
			}
			b.Run(fmt.Sprintf("size=%d/%s", size, mode), func(b *testing.B) {
				b.SetBytes(size)
				b.ReportAllocs()
				cpu := processCPU(b)
				buf := make([]byte, uploadBlockSize)
				for b.Loop() {
					u := &uploadReader{r: &pieceReader{buf: piece, left: size}, mem: mem, sum: sha256.New()}
					var err error
					if pipelined {
						_, err = u.WriteTo(io.Discard)
					} else {
						_, err = io.CopyBuffer(io.Discard, struct{ io.Reader }{u}, buf)
					}
					if err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(processCPU(b)-cpu)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
			})
		}
	}
}

// processCPU is the CPU time the process has used so far, user and system.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
