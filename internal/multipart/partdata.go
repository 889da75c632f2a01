package multipart

import (
	"bytes"
	"io"
)

// partData reads a part's raw bytes up to the boundary that ends it.
type partData struct{ p *Part }

// Read returns the part's next bytes. With nothing in the window and room
// in d, it reads the body straight into d and moves back into the window
// only what is not the part's (a boundary and what follows it) or not yet
// known to be (a tail that may begin a boundary); otherwise it hands out
// what the window holds, scanned the same way.
func (pd partData) Read(d []byte) (int, error) {
	p := pd.p
	r := p.mr
	for p.n == 0 && p.err == nil {
		if r.r == r.w && r.err == nil && len(d) >= directReadMin {
			if n, err, ok := p.readDirect(d); ok {
				return n, err
			}
			continue
		}
		p.n, p.err = r.scan(r.buf[r.r:r.w], p.total, p.readErr)
		if p.n == 0 && p.err == nil {
			p.readErr = r.fill()
			if p.readErr == io.EOF {
				p.readErr = io.ErrUnexpectedEOF
			}
		}
	}
	if p.n == 0 {
		return 0, p.err
	}
	n := copy(d[:min(len(d), p.n)], r.buf[r.r:])
	r.r += n
	p.total += int64(n)
	p.n -= n
	if p.n == 0 {
		return n, p.err
	}
	return n, nil
}

// readDirect reads the body into d (at most a window's worth, so that what
// goes back always fits) and returns the part's bytes found there; ok is
// false when it found none and the caller should go on with the window.
func (p *Part) readDirect(d []byte) (n int, err error, ok bool) {
	r := p.mr
	m, rerr := r.src.Read(d[:min(len(d), len(r.buf))])
	if rerr != nil {
		r.err = rerr
	}
	// The body's error counts only once the window cannot grow; the next
	// scan of the window sees it.
	n, err = r.scan(d[:m], p.total, nil)
	r.r, r.w = 0, copy(r.buf, d[n:m])
	p.total += int64(n)
	if err != nil {
		p.err = err
	}
	if n == 0 && p.err == nil {
		return 0, nil, false // nothing yet, or only the start of a delimiter
	}
	return n, p.err, true
}

// scan returns how many bytes at the front of buf are the part's data, and
// io.EOF when the boundary that ends the part follows them, or readErr
// when buf is all there will be. total is how much of the part came
// before buf. The decisions are mime/multipart's: a "\r\n--boundary"
// followed by white space, a line end or "--" ends the part; followed by
// anything else it is data; a tail of buf that may begin one waits for
// more bytes.
func (r *Reader) scan(buf []byte, total int64, readErr error) (int, error) {
	n := 0
	for {
		k, err := r.scanOnce(buf[n:], total+int64(n), readErr)
		n += k
		if err != nil || k == 0 || n == len(buf) {
			return n, err
		}
	}
}

// scanOnce is one step of scan: data up to the first delimiter or the
// possible start of one, and past that delimiter when it is not one.
func (r *Reader) scanOnce(buf []byte, total int64, readErr error) (int, error) {
	if total == 0 {
		// A part with no data may start right at its boundary.
		if bytes.HasPrefix(buf, r.dashBoundary) {
			switch matchAfterPrefix(buf, r.dashBoundary, readErr) {
			case -1:
				return len(r.dashBoundary), nil
			case 0:
				return 0, nil
			case +1:
				return 0, io.EOF
			}
		}
		if bytes.HasPrefix(r.dashBoundary, buf) {
			return 0, readErr
		}
	}
	if i := r.find.index(buf); i >= 0 {
		switch matchAfterPrefix(buf[i:], r.nlDashBoundary, readErr) {
		case -1:
			return i + len(r.nlDashBoundary), nil
		case 0:
			return i, nil
		case +1:
			return i, io.EOF
		}
	}
	if bytes.HasPrefix(r.nlDashBoundary, buf) {
		return 0, readErr
	}
	// Only the last line end can begin a delimiter that buf cuts short.
	if i := bytes.LastIndexByte(buf, r.nlDashBoundary[0]); i >= 0 && bytes.HasPrefix(r.nlDashBoundary, buf[i:]) {
		return i, nil
	}
	return len(buf), readErr
}

// matchAfterPrefix tells what buf, which starts with a delimiter prefix,
// holds after it: +1 the end of the part (white space, a line end, "--";
// or nothing more at all), -1 data, 0 not known without more bytes.
func matchAfterPrefix(buf, prefix []byte, readErr error) int {
	if len(buf) == len(prefix) {
		if readErr != nil {
			return +1
		}
		return 0
	}
	switch c := buf[len(prefix)]; c {
	case ' ', '\t', '\r', '\n':
		return +1
	case '-':
		if len(buf) == len(prefix)+1 {
			if readErr != nil {
				return -1
			}
			return 0
		}
		if buf[len(prefix)+1] == '-' {
			return +1
		}
	}
	return -1
}
