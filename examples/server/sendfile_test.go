package main

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// readFromRecorder is a ResponseWriter with ReadFrom, as net/http's is: it
// records what each ReadFrom was handed.
type readFromRecorder struct {
	*httptest.ResponseRecorder
	srcs []*io.LimitedReader
}

func (w *readFromRecorder) ReadFrom(r io.Reader) (int64, error) {
	lr, _ := r.(*io.LimitedReader)
	w.srcs = append(w.srcs, lr)
	return io.Copy(struct{ io.Writer }{w.ResponseRecorder}, r)
}

// TestStallWriterKeepsSendfile: under the stall deadlines, a file's copy
// still reaches the response's ReadFrom (where net/http uses sendfile), in
// pieces that are one *io.LimitedReader around the file each, and the
// listener's connections keep ReadFrom too.
func TestStallWriterKeepsSendfile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "blob")
	data := bytes.Repeat([]byte("0123456789abcdef"), 10000) // 160,000 bytes
	require.NoError(t, os.WriteFile(path, data, 0o600))
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()

	rec := &readFromRecorder{ResponseRecorder: httptest.NewRecorder()}
	sw := &stallWriter{ResponseWriter: rec, rc: http.NewResponseController(rec), clock: stallClock{timeout: time.Minute, minBytes: 16 << 10}}
	n, err := io.CopyN(sw, f, 150000) // as http.ServeContent copies
	require.NoError(t, err)
	require.Equal(t, int64(150000), n)
	require.Equal(t, data[:150000], rec.ResponseRecorder.Body.Bytes())
	require.Len(t, rec.srcs, 5) // 4 × 32 KiB + the rest
	for _, lr := range rec.srcs {
		require.NotNil(t, lr)
		require.Same(t, f, lr.R, "one layer around the file")
	}

	var c net.Conn = &limitedConn{}
	_, ok := c.(io.ReaderFrom)
	require.True(t, ok, "limitedConn keeps the connection's ReadFrom")
}
