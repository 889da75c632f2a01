package multipart

import (
	"bytes"
	"testing"
)

// TestFinderIsBytesIndex: on buffers made mostly of the delimiter's own
// bytes, finder.index answers as bytes.Index does.
func TestFinderIsBytesIndex(t *testing.T) {
	for _, delim := range []string{"\r\n--xyz", "\r\n--0123456789abcdef", "\n--" + string(bytes.Repeat([]byte("ab-"), 30))} {
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
			if len(b) > 0 && x%4 == 0 {
				at := int(x>>16) % len(b)
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

func BenchmarkFinder(b *testing.B) {
	delim := []byte("\r\n--" + string(bytes.Repeat([]byte("3f"), 30)))
	data := make([]byte, 1<<20)
	x := uint32(7)
	for i := range data {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		data[i] = byte(x >> 8)
	}
	b.Run("finder", func(b *testing.B) {
		f := newFinder(delim)
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			f.index(data)
		}
	})
	b.Run("bytes.Index", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			bytes.Index(data, delim)
		}
	})
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
