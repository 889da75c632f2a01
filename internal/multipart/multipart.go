// Package multipart reads a multipart/form-data body as mime/multipart does,
// part by part, but cheaply for large parts: a part's bytes are read from
// the body straight into the caller's buffer and scanned there with
// bytes.Index, where mime/multipart copies every byte through a 4 KiB peek
// buffer. Only bytes that may begin a boundary are kept back, in a window
// of WindowSize bytes, which with the header limit bounds the memory a
// Reader holds whatever the body.
//
// What it accepts and refuses is mime/multipart's (its fuzz test compares
// the two on the same bodies), within tighter limits: a part's header
// block may not exceed WindowSize bytes (mime/multipart allows 10 MiB), and
// the boundary is at most MaxBoundary bytes (RFC 2046 allows 70).
package multipart

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/quotedprintable"
	"net/textproto"
	"path/filepath"
	"strings"
)

// WindowSize is the size of a Reader's buffer: the most it reads ahead of
// the caller, and the largest header block it parses.
const WindowSize = 64 << 10

// MaxBoundary bounds the boundary parameter.
const MaxBoundary = 200

// maxLine bounds a line between parts (preamble, boundary lines) as
// mime/multipart's 4 KiB buffer does.
const maxLine = 4096

// maxHeaders bounds the header lines of a part, as mime/multipart does by
// default.
const maxHeaders = 10000

// directReadMin is the smallest Read that the body is read into directly;
// smaller ones (form fields read a little at a time) go through the window.
const directReadMin = 4096

// ErrMessageTooLarge is returned by NextPart when a part's header block
// does not fit in the window.
var ErrMessageTooLarge = errors.New("multipart: message too large")

// errBufferFull is a line between parts longer than maxLine.
var errBufferFull = errors.New("multipart: line too long")

// Reader iterates over the parts of a multipart body.
type Reader struct {
	src  io.Reader
	buf  []byte // buf[r:w] is read from src and not yet consumed
	r, w int
	err  error // src's first error, kept

	// "\r\n--boundary--" sliced as mime/multipart does; nl and
	// nlDashBoundary lose their '\r' when the first boundary line ends in
	// a bare '\n'.
	nl, nlDashBoundary, dashBoundary, dashBoundaryDash []byte
	find                                               finder // of nlDashBoundary

	partsRead int
	current   *Part
}

// NewReader returns a Reader of the body r whose parts are separated by
// boundary.
func NewReader(r io.Reader, boundary string) *Reader {
	b := []byte("\r\n--" + boundary + "--")
	return &Reader{
		src:              r,
		buf:              make([]byte, WindowSize),
		nl:               b[:2],
		nlDashBoundary:   b[:len(b)-2],
		dashBoundaryDash: b[2:],
		dashBoundary:     b[2 : len(b)-2],
		find:             newFinder(b[:len(b)-2]),
	}
}

// Part is one part of a multipart body. Its Read reads the part's data.
type Part struct {
	// Header is the part's header; a quoted-printable part is decoded
	// and loses its Content-Transfer-Encoding, as with mime/multipart.
	Header textproto.MIMEHeader

	mr      *Reader
	data    io.Reader // the part's bytes, decoded if need be
	total   int64     // bytes of the part read so far
	n       int       // bytes at the front of the window known to be data
	err     error     // what follows those n bytes: io.EOF at the boundary
	readErr error     // the body's error, once the scan has needed it

	disposition       string
	dispositionParams map[string]string
}

// NextPart returns the next part, or io.EOF after the last one. The
// previous part's unread data is skipped.
func (r *Reader) NextPart() (*Part, error) {
	if r.current != nil {
		_, _ = io.Copy(io.Discard, r.current) // errors come again below
		r.current = nil
	}
	if string(r.dashBoundary) == "--" {
		return nil, errors.New("multipart: boundary is empty")
	}
	if len(r.dashBoundary)-2 > MaxBoundary {
		return nil, fmt.Errorf("multipart: boundary longer than %d bytes", MaxBoundary)
	}
	expectNewPart := false
	for {
		line, err := r.readLine()
		if errors.Is(err, io.EOF) && r.isFinalBoundary(line) {
			return nil, io.EOF // "--boundary--" without a line end
		}
		if err != nil {
			return nil, fmt.Errorf("multipart: NextPart: %w", err)
		}
		if r.isBoundaryDelimiterLine(line) {
			r.partsRead++
			p, err := r.newPart()
			if err != nil {
				return nil, err
			}
			r.current = p
			return p, nil
		}
		if r.isFinalBoundary(line) {
			return nil, io.EOF
		}
		if expectNewPart {
			return nil, fmt.Errorf("multipart: expecting a new Part; got line %q", line)
		}
		if r.partsRead == 0 {
			continue // preamble
		}
		// The line end between a part's data and the boundary line.
		if bytes.Equal(line, r.nl) {
			expectNewPart = true
			continue
		}
		return nil, fmt.Errorf("multipart: unexpected line in NextPart: %q", line)
	}
}

func (r *Reader) newPart() (*Part, error) {
	h, err := r.readHeader()
	if err != nil {
		return nil, err
	}
	p := &Part{Header: h, mr: r}
	p.data = partData{p}
	const cte = "Content-Transfer-Encoding"
	if strings.EqualFold(h.Get(cte), "quoted-printable") {
		h.Del(cte)
		p.data = quotedprintable.NewReader(p.data)
	}
	return p, nil
}

// isFinalBoundary reports whether line is "--boundary--", with optional
// linear white space and line end.
func (r *Reader) isFinalBoundary(line []byte) bool {
	rest, ok := bytes.CutPrefix(line, r.dashBoundaryDash)
	if !ok {
		return false
	}
	rest = skipLWSP(rest)
	return len(rest) == 0 || bytes.Equal(rest, r.nl)
}

// isBoundaryDelimiterLine reports whether line is "--boundary" with
// optional linear white space and a line end. A bare '\n' on the first
// boundary line makes '\n' the line end from then on, as mime/multipart
// tolerates.
func (r *Reader) isBoundaryDelimiterLine(line []byte) bool {
	rest, ok := bytes.CutPrefix(line, r.dashBoundary)
	if !ok {
		return false
	}
	rest = skipLWSP(rest)
	if r.partsRead == 0 && len(rest) == 1 && rest[0] == '\n' {
		r.nl = r.nl[1:]
		r.nlDashBoundary = r.nlDashBoundary[1:]
		r.find = newFinder(r.nlDashBoundary)
	}
	return bytes.Equal(rest, r.nl)
}

func skipLWSP(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	return b
}

// fill reads more of the body into the window, after moving what is left
// to its front. It returns the body's error, or errBufferFull when the
// window holds WindowSize bytes already.
func (r *Reader) fill() error {
	if r.err != nil {
		return r.err
	}
	if r.r > 0 {
		r.w = copy(r.buf, r.buf[r.r:r.w])
		r.r = 0
	}
	if r.w == len(r.buf) {
		return errBufferFull
	}
	for range 100 {
		n, err := r.src.Read(r.buf[r.w:])
		r.w += n
		if err != nil {
			r.err = err
		}
		if n > 0 || err != nil {
			return nil
		}
	}
	r.err = io.ErrNoProgress
	return r.err
}

// readLine returns the next line, '\n' included, as bufio.Reader's
// ReadSlice would from mime/multipart's 4 KiB buffer: a longer line is an
// error, and the last line of the body comes with the body's error. The
// line is valid until the next read.
func (r *Reader) readLine() ([]byte, error) {
	for {
		win := r.buf[r.r:r.w]
		if i := bytes.IndexByte(win[:min(len(win), maxLine)], '\n'); i >= 0 {
			r.r += i + 1
			return win[:i+1], nil
		}
		if len(win) >= maxLine {
			r.r += maxLine
			return win[:maxLine], errBufferFull
		}
		if r.err != nil {
			r.r = r.w
			return win, r.err
		}
		if err := r.fill(); err != nil && r.err == nil {
			return nil, err
		}
	}
}

// readHeader parses the header block at the front of the window with
// net/textproto, once the window holds all of it: up to its first empty
// line.
func (r *Reader) readHeader() (textproto.MIMEHeader, error) {
	for !headerComplete(r.buf[r.r:r.w]) {
		if r.err != nil {
			break // textproto finds what is wrong
		}
		if r.w-r.r >= len(r.buf) {
			return nil, ErrMessageTooLarge
		}
		if err := r.fill(); err != nil && r.err == nil {
			return nil, err
		}
	}
	win := r.buf[r.r:r.w]
	src := bytes.NewReader(win)
	br := bufio.NewReader(src)
	h, err := textproto.NewReader(br).ReadMIMEHeader()
	switch {
	case err == nil && !headerComplete(win):
		err = io.ErrUnexpectedEOF
	case err != nil && r.err != nil && !errors.Is(r.err, io.EOF):
		err = r.err // the body's own failure (a size limit) tells more
	}
	if err != nil {
		return nil, err
	}
	r.r += len(win) - src.Len() - br.Buffered()
	if countValues(h) > maxHeaders {
		return nil, ErrMessageTooLarge
	}
	return h, nil
}

// headerComplete reports whether b holds a whole header block: an empty
// line, at the start or after a line end.
func headerComplete(b []byte) bool {
	if bytes.HasPrefix(b, []byte("\n")) || bytes.HasPrefix(b, []byte("\r\n")) {
		return true
	}
	return bytes.Contains(b, []byte("\n\n")) || bytes.Contains(b, []byte("\n\r\n"))
}

func countValues(h textproto.MIMEHeader) int {
	n := 0
	for _, vs := range h {
		n += len(vs)
	}
	return n
}

// FormName returns the name parameter of a form-data Content-Disposition,
// else "".
func (p *Part) FormName() string {
	if p.dispositionParams == nil {
		p.parseContentDisposition()
	}
	if p.disposition != "form-data" {
		return ""
	}
	return p.dispositionParams["name"]
}

// FileName returns the base name of the Content-Disposition's filename
// parameter, else "".
func (p *Part) FileName() string {
	if p.dispositionParams == nil {
		p.parseContentDisposition()
	}
	name := p.dispositionParams["filename"]
	if name == "" {
		return ""
	}
	return filepath.Base(name) // RFC 7578 §4.2: no directories
}

func (p *Part) parseContentDisposition() {
	var err error
	p.disposition, p.dispositionParams, err = mime.ParseMediaType(p.Header.Get("Content-Disposition"))
	if err != nil {
		p.dispositionParams = map[string]string{}
	}
}

// Read reads the part's data; io.EOF at its end.
func (p *Part) Read(d []byte) (int, error) { return p.data.Read(d) }

// Close skips the rest of the part.
func (p *Part) Close() error {
	_, _ = io.Copy(io.Discard, p)
	return nil
}
