package blockio

import (
	"runtime"
	"testing"
)

func TestMake(t *testing.T) {
	for _, size := range []int{Align, 32 << 10, 1 << 20, 1<<20 + 1} {
		for range 50 {
			b := Make(size)
			if len(b) != size || cap(b) != size {
				t.Fatalf("Make(%d): len %d cap %d", size, len(b), cap(b))
			}
			if !Aligned(b) {
				t.Fatalf("Make(%d): not aligned to %d", size, Align)
			}
			if Aligned(b[1:]) {
				t.Fatalf("Make(%d)[1:] is aligned", size)
			}
			runtime.KeepAlive(b)
		}
	}
}
