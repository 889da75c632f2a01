package jobartifacts_test

import (
	"archive/zip"
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ciartifacts/jobartifacts"
	"github.com/ciartifacts/jobartifacts/fsstore"
	"github.com/ciartifacts/jobartifacts/internal/benchfixture"
)

// BenchmarkSmallRequest is the per-request cost of issue 12's small rows in
// process, as the example server serves them: fsstore, tokenauth and
// AccessLog writing text records, for a 4 KiB whole archive (route 1) and a
// 4 KiB stored entry of a 10-entry zip (route 3), and the same entry as the
// last of 100,000 (issue 12: "the same once warm"; run with -count to
// interleave it with the 10-entry case), and the 10-entry case again with
// an Origin (the CORS headers). Allocations per request are the
// figure to watch; the client and the connection are left out (the
// response is discarded, through ReadFrom as net/http's takes it).
func BenchmarkSmallRequest(b *testing.B) {
	must := func(err error) {
		if err != nil {
			b.Fatal(err)
		}
	}
	four := bytes.Repeat([]byte("0123456789abcdef"), 256)
	var tinyLen int
	archives := make(map[int64][]byte)
	many := make([]string, 99_999)
	for i := range many {
		many[i] = fmt.Sprintf("d%03d/f%05d", i/1000, i)
	}
	for jobID, names := range map[int64][]string{1: nil, 2: {"a", "b", "c", "d", "e", "f", "g", "h", "i"}, 3: many} {
		var buf bytes.Buffer
		zw := zip.NewWriter(&buf)
		for _, name := range names {
			// The many small entries are stored, as deflating each would
			// take the setup longer than the benchmark.
			method := zip.Deflate
			if jobID == 3 {
				method = zip.Store
			}
			w, err := zw.CreateHeader(&zip.FileHeader{Name: "src/" + name + ".txt", Method: method})
			must(err)
			_, err = io.WriteString(w, name+" is a small file\n")
			must(err)
		}
		w, err := zw.CreateHeader(&zip.FileHeader{Name: "dist/4k.bin", Method: zip.Store})
		must(err)
		_, err = w.Write(four)
		must(err)
		must(zw.Close())
		if jobID == 1 {
			tinyLen = buf.Len()
		}
		archives[jobID] = buf.Bytes()
	}
	h := benchfixture.Handler(b, benchfixture.Config{
		Store: []fsstore.Option{fsstore.WithoutFsync()},
		Jobs: []benchfixture.Job{
			{ID: 1, Name: "tiny", Status: jobartifacts.StatusSuccess, Archive: archives[1]},
			{ID: 2, Name: "small10", Status: jobartifacts.StatusSuccess, Archive: archives[2]},
			{ID: 3, Name: "many100k", Status: jobartifacts.StatusSuccess, Archive: archives[3]},
		},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	for _, tc := range []struct{ name, path, origin string }{
		{"tiny-archive", "/api/v4/projects/1/jobs/1/artifacts", ""},
		{"entry", "/api/v4/projects/1/jobs/2/artifacts/dist/4k.bin", ""},
		{"entry-last-of-100k", "/api/v4/projects/1/jobs/3/artifacts/dist/4k.bin", ""},
		// A browser's cross-origin request: what the CORS headers cost.
		{"entry-cross-origin", "/api/v4/projects/1/jobs/2/artifacts/dist/4k.bin", "https://app.example.com"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			req := httptest.NewRequest(http.MethodGet, tc.path, nil)
			req.Header.Set("Private-Token", benchfixture.Token)
			if tc.origin != "" {
				req.Header.Set("Origin", tc.origin)
			}
			warm(b, h, req)
			b.ReportAllocs()
			for b.Loop() {
				w := &discardResponse{header: make(http.Header)}
				h.ServeHTTP(w, req)
				if w.status != http.StatusOK || w.n != 4096 && w.n != int64(tinyLen) {
					b.Fatal(w.status, w.n)
				}
			}
		})
	}
}

// warm makes req's archive warm: a first request (a cold lookup walks and
// leaves the index build to the background, zipindex.go), then a tree page
// of the same archive, which waits for that build, so that what is measured
// is the lookup in a cached index.
func warm(b *testing.B, h http.Handler, req *http.Request) {
	b.Helper()
	job, _, ok := strings.Cut(req.URL.Path, "/artifacts")
	if !ok {
		b.Fatal(req.URL.Path)
	}
	tree := httptest.NewRequest(http.MethodGet, job+"/artifacts/tree?per_page=1", nil)
	tree.Header = req.Header
	for _, r := range []*http.Request{req, tree} {
		w := &discardResponse{header: make(http.Header)}
		h.ServeHTTP(w, r)
		if w.status != http.StatusOK {
			b.Fatal(r.URL, w.status)
		}
	}
}

// discardResponse is a ResponseWriter that counts the body and drops it.
type discardResponse struct {
	header http.Header
	status int
	n      int64
}

func (w *discardResponse) Header() http.Header { return w.header }

func (w *discardResponse) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}

func (w *discardResponse) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	w.n += int64(len(p))
	return len(p), nil
}

func (w *discardResponse) ReadFrom(r io.Reader) (int64, error) {
	w.WriteHeader(http.StatusOK)
	n, err := io.Copy(io.Discard, r)
	w.n += n
	return n, err
}
