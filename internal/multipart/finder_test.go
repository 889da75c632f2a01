package multipart

import (
	"bytes"
	"fmt"
	"testing"
)

// TestFinderIsBytesIndex: on buffers made mostly of the delimiter's own
// bytes, finder.index answers as bytes.Index does.
func TestFinderIsBytesIndex(t *testing.T) {
	for _, delim := range []string{"\r\n--xyz", "\r\n--abcd", "\r\n--0123456789abcdef", "\n--" + string(bytes.Repeat([]byte("ab-"), 30))} {
		f := newFinder([]byte(delim))
		x := uint32(1)
		for n := range 3000 {
			b := make([]byte, n%700)
			for i := range b {
				x ^= x << 13
				x ^= x >> 17
				x ^= x << 5
				if x%3 == 0 {
					b[i] = byte(x >> 8)
				} else {
					b[i] = delim[x>>8%uint32(len(delim))]
				}
			}
			if x%4 == 0 {
				at := int(x>>16) % (len(b) + 1) // the end too
				b = append(b[:at:at], append([]byte(delim), b[at:]...)...)
			}
			if got, want := f.index(b), bytes.Index(b, []byte(delim)); got != want {
				t.Fatalf("delim %q, buffer %q: index %d, bytes.Index %d", delim, b, got, want)
			}
		}
	}
}

func FuzzFinder(f *testing.F) {
	f.Add([]byte("\r\n--b"), []byte("xx\r\n--b\r\n--b"))
	f.Fuzz(func(t *testing.T, delim, b []byte) {
		if len(delim) == 0 {
			return
		}
		fd := newFinder(delim)
		if got, want := fd.index(b), bytes.Index(b, delim); got != want {
			t.Fatalf("index %d, bytes.Index %d", got, want)
		}
	})
}

// BenchmarkFinder: 1 MiB of random bytes, in one buffer and in 32 KiB
// pieces (a chunked body as the reader sees it), with the delimiters of
// GitLab Runner's boundary (Go's mime/multipart: 60 hex digits) and curl's
// (24 dashes, 16 hex digits).
func BenchmarkFinder(b *testing.B) {
	data := make([]byte, 1<<20)
	x := uint32(7)
	for i := range data {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		data[i] = byte(x >> 8)
	}
	for _, bd := range []struct{ name, boundary string }{
		{"runner", "8f3c2e91d0a47b65c1e9f0278d3b4a6e5c19b7d2f08e4a3c6b1d9e7f2a05"},
		{"curl", "------------------------7b0707c2ae2b5359"},
	} {
		delim := []byte("\r\n--" + bd.boundary)
		for _, piece := range []int{len(data), 32 << 10} {
			b.Run(fmt.Sprintf("%s/piece=%d/finder", bd.name, piece), func(b *testing.B) {
				f := newFinder(delim)
				b.SetBytes(int64(len(data)))
				for b.Loop() {
					for p := 0; p < len(data); p += piece {
						f.index(data[p : p+piece])
					}
				}
			})
		}
		b.Run(bd.name+"/bytes.Index", func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				bytes.Index(data, delim)
			}
		})
	}
}

// BenchmarkFinderWorstCase: bodies made of the delimiter's bytes, where
// every probe looks closer.
func BenchmarkFinderWorstCase(b *testing.B) {
	delim := []byte("\r\n--" + string(bytes.Repeat([]byte("3f"), 30)))
	for name, data := range map[string][]byte{
		"CR":        bytes.Repeat([]byte("\r"), 1<<20),
		"near miss": bytes.Repeat(append(append([]byte{}, delim[:len(delim)-1]...), 'x'), (1<<20)/len(delim)),
		"prefixes":  bytes.Repeat([]byte("\r\n--3f"), (1<<20)/6),
	} {
		b.Run(name+"/finder", func(b *testing.B) {
			f := newFinder(delim)
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				f.index(data)
			}
		})
		b.Run(name+"/bytes.Index", func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				bytes.Index(data, delim)
			}
		})
	}
}
