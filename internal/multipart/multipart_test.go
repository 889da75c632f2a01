package multipart_test

import (
	"bytes"
	"errors"
	"io"
	stdmultipart "mime/multipart"
	"net/textproto"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ciartifacts/jobartifacts/internal/multipart"
)

// parsedPart is what a reader made of one part.
type parsedPart struct {
	Header   textproto.MIMEHeader
	FormName string
	FileName string
	Data     []byte
}

// parsed is what a reader made of a body. End is how it ended: "eof"
// (NextPart's io.EOF, wrapped or not: the handler treats both as the end)
// or "error".
type parsed struct {
	Parts []parsedPart
	End   string
}

func endOf(err error) string {
	if errors.Is(err, io.EOF) {
		return "eof"
	}
	return "error"
}

// partReader is the API both readers share.
type partReader interface {
	next() (header textproto.MIMEHeader, formName, fileName string, data io.Reader, err error)
}

type ours struct{ r *multipart.Reader }

func (o ours) next() (textproto.MIMEHeader, string, string, io.Reader, error) {
	p, err := o.r.NextPart()
	if err != nil {
		return nil, "", "", nil, err
	}
	return p.Header, p.FormName(), p.FileName(), p, nil
}

type std struct{ r *stdmultipart.Reader }

func (s std) next() (textproto.MIMEHeader, string, string, io.Reader, error) {
	p, err := s.r.NextPart()
	if err != nil {
		return nil, "", "", nil, err
	}
	return p.Header, p.FormName(), p.FileName(), p, nil
}

// parse reads every part of r, each with reads of the sizes in readSizes
// (cycled), up to the first error.
func parse(r partReader, readSizes []int) parsed {
	var out parsed
	buf := make([]byte, slices.Max(readSizes))
	k := 0
	for range 1000 {
		h, name, file, data, err := r.next()
		if err != nil {
			out.End = endOf(err)
			return out
		}
		p := parsedPart{Header: h, FormName: name, FileName: file, Data: []byte{}}
		for {
			size := readSizes[k%len(readSizes)]
			k++
			n, err := data.Read(buf[:size])
			p.Data = append(p.Data, buf[:n]...)
			if err != nil {
				out.Parts = append(out.Parts, p)
				if !errors.Is(err, io.EOF) {
					out.End = "error"
					return out
				}
				break
			}
		}
	}
	out.End = "too many parts"
	return out
}

// chunkedSource yields body in reads of the sizes given, cycled, as a
// socket would.
type chunkedSource struct {
	body  []byte
	sizes []int
	k     int
}

func (c *chunkedSource) Read(p []byte) (int, error) {
	if len(c.body) == 0 {
		return 0, io.EOF
	}
	size := c.sizes[c.k%len(c.sizes)]
	c.k++
	n := copy(p[:min(len(p), size)], c.body)
	c.body = c.body[n:]
	return n, nil
}

// compare parses body with both readers and fails where they differ.
func compare(t *testing.T, boundary string, body []byte, srcSizes, readSizes []int) parsed {
	t.Helper()
	want := parse(std{stdmultipart.NewReader(&chunkedSource{body: body, sizes: srcSizes}, boundary)}, readSizes)
	got := parse(ours{multipart.NewReader(&chunkedSource{body: body, sizes: srcSizes}, boundary)}, readSizes)
	require.Equal(t, want, got)
	return got
}

// form builds a body with mime/multipart's writer: fields, then a file.
func form(t *testing.T, boundary string, fields [][2]string, fileName string, file []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	mw := stdmultipart.NewWriter(&buf)
	require.NoError(t, mw.SetBoundary(boundary))
	for _, f := range fields {
		require.NoError(t, mw.WriteField(f[0], f[1]))
	}
	if fileName != "" {
		w, err := mw.CreateFormFile("file", fileName)
		require.NoError(t, err)
		_, err = w.Write(file)
		require.NoError(t, err)
	}
	require.NoError(t, mw.Close())
	return buf.Bytes()
}

// pseudoRandom returns n bytes of a fixed sequence with line ends and
// dashes enough to come close to boundaries.
func pseudoRandom(n int, seed uint32) []byte {
	b := make([]byte, n)
	x := seed | 1
	const alphabet = "\r\n-ab-\r\n--xyz\r"
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		if x%4 == 0 {
			b[i] = alphabet[x/4%uint32(len(alphabet))]
		} else {
			b[i] = byte(x >> 8)
		}
	}
	return b
}

func TestSameAsMimeMultipart(t *testing.T) {
	const b = "------------------------a1b2c3d4e5f6"
	big := pseudoRandom(3<<20+17, 7)
	nearBoundary := []byte(strings.Repeat("x\r\n--"+b+"X\r\n--"+b[:10]+"\r\n-", 3000))
	tests := []struct {
		name string
		body []byte
	}{
		{"runner upload", form(t, b, [][2]string{{"artifact_format", "zip"}, {"artifact_type", "archive"}, {"expire_in", "1 week"}}, "artifacts.zip", big)},
		{"fields after the file", form(t, b, nil, "a.zip", big[:100000])},
		{"file of boundary look-alikes", form(t, b, [][2]string{{"expire_in", "never"}}, "a.zip", nearBoundary)},
		{"empty file", form(t, b, nil, "a.zip", nil)},
		{"no parts", []byte("--" + b + "--\r\n")},
		{"final boundary without a line end", []byte("--" + b + "\r\nA: b\r\n\r\nx\r\n--" + b + "--")},
		{"preamble and epilogue", []byte("pre\r\namble\r\n--" + b + "\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nv\r\n--" + b + "--\r\nepilogue")},
		{"bare line ends", []byte("--" + b + "\nContent-Disposition: form-data; name=\"a\"\n\nv\n--" + b + "\nA: 1\n\nw\n--" + b + "--\n")},
		{"boundary with white space", []byte("--" + b + " \t\r\nA: 1\r\n\r\nv\r\n--" + b + "\t\r\n\r\nw\r\n--" + b + "-- \r\n")},
		{"truncated in data", []byte("--" + b + "\r\nA: 1\r\n\r\nsome data\r\n--" + b[:5])},
		{"truncated in header", []byte("--" + b + "\r\nA: 1\r\nB")},
		{"truncated after a part", []byte("--" + b + "\r\nA: 1\r\n\r\nv\r\n--" + b + "\r\n")},
		{"junk after a part", []byte("--" + b + "\r\nA: 1\r\n\r\nv\r\n--" + b + "x\r\nmore\r\n--" + b + "--")},
		{"junk line between parts", []byte("--" + b + "\r\nA: 1\r\n\r\nv\r\n--" + b + " x\r\nmore")},
		{"malformed header", []byte("--" + b + "\r\n no key\r\n\r\nv\r\n--" + b + "--")},
		{"quoted-printable", []byte("--" + b + "\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\na=3Db=\r\nc\r\n--" + b + "--")},
		{"broken quoted-printable", []byte("--" + b + "\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\na=ZZb\r\n--" + b + "--")},
		{"long preamble line", []byte(strings.Repeat("p", 5000) + "\r\n--" + b + "--")},
		{"empty", nil},
		{"path in file name", []byte("--" + b + "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"../../x/a.zip\"\r\n\r\nv\r\n--" + b + "--")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, pattern := range []struct{ src, read []int }{
				{[]int{1 << 20}, []int{1 << 20}},
				{[]int{32 << 10, 7, 65536, 1}, []int{1 << 20}},
				{[]int{4096}, []int{512, 1 << 20, 3}},
				{[]int{1}, []int{1}},
				{[]int{65537, 3}, []int{70000, 8192}},
			} {
				if len(tt.body) > 1<<20 && pattern.src[0] == 1 {
					continue
				}
				compare(t, b, tt.body, pattern.src, pattern.read)
			}
		})
	}
}

// TestReadsGoToTheCallersBuffer: a large part's bytes come to the caller
// in reads as large as the body gives them (up to the window), not 4 KiB
// at a time.
func TestReadsGoToTheCallersBuffer(t *testing.T) {
	const b = "xyz"
	file := pseudoRandom(4<<20, 3)
	body := form(t, b, nil, "a.zip", file)
	r := multipart.NewReader(&chunkedSource{body: body, sizes: []int{1 << 20}}, b)
	p, err := r.NextPart()
	require.NoError(t, err)
	buf := make([]byte, 1<<20)
	var got []byte
	reads := 0
	for {
		n, err := p.Read(buf)
		got = append(got, buf[:n]...)
		reads++
		if err != nil {
			require.ErrorIs(t, err, io.EOF)
			break
		}
	}
	require.Equal(t, file, got)
	require.Less(t, reads, 2*len(file)/multipart.WindowSize+8)
	_, err = r.NextPart()
	require.ErrorIs(t, err, io.EOF)
}

// TestLimits: what would need unbounded memory is refused.
func TestLimits(t *testing.T) {
	const b = "xyz"
	tests := []struct {
		name     string
		boundary string
		body     string
		want     error
	}{
		{"header block past the window", b, "--" + b + "\r\n" + strings.Repeat("A: 123456789\r\n", multipart.WindowSize/14+1) + "\r\nv\r\n--" + b + "--", multipart.ErrMessageTooLarge},
		{"header line past the window", b, "--" + b + "\r\nA: " + strings.Repeat("1", multipart.WindowSize) + "\r\n\r\nv\r\n--" + b + "--", multipart.ErrMessageTooLarge},
		{"too many headers", b, "--" + b + "\r\n" + strings.Repeat("A:\r\n", 10001) + "\r\nv\r\n--" + b + "--", multipart.ErrMessageTooLarge},
		{"boundary too long", strings.Repeat("b", multipart.MaxBoundary+1), "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := multipart.NewReader(strings.NewReader(tt.body), tt.boundary)
			_, err := r.NextPart()
			require.Error(t, err)
			require.False(t, errors.Is(err, io.EOF), "%v", err)
			if tt.want != nil {
				require.ErrorIs(t, err, tt.want)
			}
		})
	}
}

// errSource fails with err after body.
type errSource struct {
	body []byte
	err  error
}

func (e *errSource) Read(p []byte) (int, error) {
	if len(e.body) == 0 {
		return 0, e.err
	}
	n := copy(p, e.body)
	e.body = e.body[n:]
	return n, nil
}

// TestBodyErrorsComeThrough: the body's own error (a size limit) reaches
// the caller of NextPart and Read, wrapped at most.
func TestBodyErrorsComeThrough(t *testing.T) {
	const b = "xyz"
	errLimit := errors.New("body too large")
	head := "--" + b + "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a\"\r\n\r\n"
	for _, cut := range []int{0, 5, len(head) - 3, len(head) + 100, len(head) + 200000} {
		body := []byte(head + string(pseudoRandom(300000, 9)))[:cut]
		r := multipart.NewReader(&errSource{body: body, err: errLimit}, b)
		p, err := r.NextPart()
		if err == nil {
			_, err = io.Copy(io.Discard, struct{ io.Reader }{p})
		}
		require.ErrorIs(t, err, errLimit, "cut at %d", cut)
	}
}

func FuzzSameAsMimeMultipart(f *testing.F) {
	const b = "fuzzboundary"
	f.Add(b, []byte("--"+b+"\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.zip\"\r\n\r\nPK\x03\x04data\r\n--"+b+"--\r\n"), uint16(1000), uint16(4096))
	f.Add(b, []byte("--"+b+"\nA: 1\n\nv\n--"+b+"\nB: 2\n\n\n--"+b+"--"), uint16(1), uint16(1))
	f.Add("x", []byte("--x\r\nA: 1\r\n\r\n\r\n--x-\r\n--xx\r\n--x \r\n\r\n--x--"), uint16(3), uint16(5000))
	f.Add(b, []byte("--"+b+"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\na=3D\r\n--"+b+"--"), uint16(7), uint16(65535))
	f.Fuzz(func(t *testing.T, boundary string, body []byte, srcSize, readSize uint16) {
		if len(boundary) == 0 || len(boundary) > 70 || strings.ContainsAny(boundary, "\r\n") {
			return // RFC 2046: 1 to 70 characters, none of them line ends
		}
		src := []int{int(srcSize)%70000 + 1, 1, int(srcSize)*13%5000 + 1}
		read := []int{int(readSize)%70000 + 1, 4096, int(readSize)%17 + 1}
		compare(t, boundary, body, src, read)
	})
}
