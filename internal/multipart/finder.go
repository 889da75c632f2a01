package multipart

import "bytes"

// finder finds a part delimiter ("\r\n--boundary") in large buffers faster
// than bytes.Index does on binary data, where bytes.Index stops at every
// '\r' (one byte in 256). An occurrence of the delimiter (m bytes) covers
// exactly one of the positions m-1, 2m-1, …: finder looks only at those,
// and searches around one only when its byte is one the delimiter has.
// When too many probes have to look closer (a body made of the
// delimiter's own bytes), it leaves the rest of the buffer to bytes.Index,
// so that it is never much slower than bytes.Index.
type finder struct {
	delim []byte
	in    [256]bool // bytes the delimiter contains
}

// minProbeDelim is the shortest delimiter probing is worth it for.
const minProbeDelim = 8

func newFinder(delim []byte) finder {
	f := finder{delim: delim}
	for _, c := range delim {
		f.in[c] = true
	}
	return f
}

// index returns the index of the first delimiter in b, or -1: bytes.Index.
func (f *finder) index(b []byte) int {
	m := len(f.delim)
	if m < minProbeDelim || len(b) < 4*m {
		return bytes.Index(b, f.delim)
	}
	probes, closer := 0, 0
	for p := m - 1; p < len(b); p += m {
		probes++
		if !f.in[b[p]] {
			continue // no delimiter covers p
		}
		// A delimiter covering p starts in [p-m+1, p]; earlier ones would
		// have covered an earlier probe.
		lo := p - m + 1
		if closer++; closer > 16 && closer*4 > probes {
			if i := bytes.Index(b[lo:], f.delim); i >= 0 {
				return lo + i
			}
			return -1
		}
		if i := bytes.Index(b[lo:min(p+m, len(b))], f.delim); i >= 0 {
			return lo + i
		}
	}
	return -1
}
