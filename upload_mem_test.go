package jobartifacts_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ciartifacts/jobartifacts"
	"github.com/ciartifacts/jobartifacts/internal/ziptest"
	"github.com/ciartifacts/jobartifacts/memstore"
)

// The memory check: uploading a 1 GiB archive through the handler keeps the
// process's peak RSS (VmHWM) under 64 MiB. It runs in a child process, so
// that the peak is the upload's alone, and in a binary built without -race,
// whose shadow memory would dwarf what is measured.
const (
	uploadRSSChildEnv = "JOBARTIFACTS_UPLOAD_RSS_CHILD"
	uploadRSSSize     = 1 << 30
	uploadRSSLimit    = 64 << 20
	// tailKept is what tailStore keeps of each blob: enough for a zip's end
	// records and a small central directory, all that validation reads.
	tailKept = 128 << 10
)

func TestUploadPeakRSS(t *testing.T) {
	if os.Getenv(uploadRSSChildEnv) != "" {
		uploadRSSChild(t)
		return
	}
	if testing.Short() {
		t.Skip("-short: the 1 GiB upload takes seconds")
	}
	if runtime.GOOS != "linux" {
		t.Skip("VmHWM is read from /proc/self/status, which only Linux has")
	}
	child := childTestBinary(t)
	cmd := exec.Command(child, "-test.run=^TestUploadPeakRSS$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), uploadRSSChildEnv+"=1")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "child: %s", out)
	var peakKiB, uploaded int64 = -1, -1
	for _, line := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "VmHWM_KiB="); ok {
			peakKiB, err = strconv.ParseInt(v, 10, 64)
			require.NoError(t, err)
		}
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "uploaded_bytes="); ok {
			uploaded, err = strconv.ParseInt(v, 10, 64)
			require.NoError(t, err)
		}
	}
	require.Positive(t, peakKiB, "child output: %s", out)
	require.Greater(t, uploaded, int64(uploadRSSSize), "the whole archive went through")
	t.Logf("peak RSS while uploading %d bytes: %.1f MiB", uploaded, float64(peakKiB)/1024)
	require.Less(t, peakKiB*1024, int64(uploadRSSLimit))
}

// childTestBinary returns this test binary, or, when it was built with the
// race detector, a copy of the package's tests built without it.
func childTestBinary(t *testing.T) string {
	t.Helper()
	race := false
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "-race" && s.Value == "true" {
				race = true
			}
		}
	}
	if !race {
		exe, err := os.Executable()
		require.NoError(t, err)
		return exe
	}
	bin := filepath.Join(t.TempDir(), "jobartifacts-rss.test")
	// go test puts its own toolchain's bin first in PATH for the tests.
	build := exec.Command("go", "test", "-c", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		// The race binary itself stays under the limit too, only slower.
		t.Logf("building the child without -race failed, measuring the race binary: %v: %s", err, out)
		exe, err := os.Executable()
		require.NoError(t, err)
		return exe
	}
	return bin
}

// uploadRSSChild uploads a generated archive of uploadRSSSize bytes the way
// GitLab Runner does and prints its peak RSS.
func uploadRSSChild(t *testing.T) {
	f := newRunnerFixture(t) // for its projects, authorizer and job helpers
	// The same metadata, but blobs that keep only their tail.
	store := &tailStore{Store: f.store.Store, blobs: make(map[jobartifacts.BlobKey]*tailBlob)}
	srv := httptest.NewServer(jobartifacts.New(store, f.authz, jobartifacts.WithMaxUploadSize(2*uploadRSSSize)))
	t.Cleanup(srv.Close)
	f.runner.apiURL = srv.URL + "/api/v4"
	jobID, token := f.addJob(runnerProjectID, jobartifacts.StatusRunning)

	archive := generatedZip(uploadRSSSize)
	start := time.Now()
	resp := f.runner.upload(t, jobID, token, archive, runnerUploadOptions{artifactType: "archive", artifactFormat: "zip", expireIn: "1 day"})
	require.Equal(t, http.StatusCreated, resp.status, string(resp.body))
	a, ok := f.job(jobID).Archive()
	require.True(t, ok)
	require.Equal(t, archive.written(), a.Size)
	t.Logf("uploaded %d bytes in %v", a.Size, time.Since(start))

	status, err := os.ReadFile("/proc/self/status")
	require.NoError(t, err)
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kib := strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB"))
			fmt.Printf("VmHWM_KiB=%s\nuploaded_bytes=%d\n", kib, a.Size)
		}
	}
}

// zipStream is a zip archive written on the fly: one stored entry of
// pseudo-random bytes, never held in memory.
type zipStream struct {
	*io.PipeReader
	mu sync.Mutex
	n  int64
}

func (z *zipStream) written() int64 {
	z.mu.Lock()
	defer z.mu.Unlock()
	return z.n
}

func generatedZip(size int64) *zipStream {
	pr, pw := io.Pipe()
	z := &zipStream{PipeReader: pr}
	counted := &countingWriter{w: pw, z: z}
	go func() {
		bw := bufio.NewWriterSize(counted, 64<<10)
		random := io.LimitReader(rand.NewChaCha8([32]byte{1, 2, 3}), size)
		_, err := ziptest.Archive{Entries: []ziptest.Entry{{Name: "big.bin", Content: random}}}.WriteTo(bw)
		if err == nil {
			err = bw.Flush()
		}
		pw.CloseWithError(err)
	}()
	return z
}

type countingWriter struct {
	w io.Writer
	z *zipStream
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.z.mu.Lock()
	c.z.n += int64(n)
	c.z.mu.Unlock()
	return n, err
}

// tailStore is a Store whose blobs keep only their size and last tailKept
// bytes: enough to validate a zip's central directory, and no memory or
// disk spent on the rest. Reads before the tail fail.
type tailStore struct {
	*memstore.Store
	mu    sync.Mutex
	blobs map[jobartifacts.BlobKey]*tailBlob
}

type tailBlob struct {
	info jobartifacts.BlobInfo
	tail []byte
}

var errBeforeTail = errors.New("tailStore: bytes before the tail are not kept")

func (s *tailStore) PutBlob(ctx context.Context, key jobartifacts.BlobKey, r io.Reader) (jobartifacts.BlobInfo, error) {
	ring := make([]byte, 0, 2*tailKept)
	buf := make([]byte, 256<<10)
	var size int64
	for {
		n, err := r.Read(buf)
		size += int64(n)
		ring = append(ring, buf[:n]...)
		if len(ring) > tailKept {
			ring = append(ring[:0], ring[len(ring)-tailKept:]...)
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return jobartifacts.BlobInfo{}, err
		}
		if err := ctx.Err(); err != nil {
			return jobartifacts.BlobInfo{}, err
		}
	}
	b := &tailBlob{info: jobartifacts.BlobInfo{Size: size, ModTime: time.Now(), ETag: fmt.Sprintf("%q", key)}, tail: ring}
	s.mu.Lock()
	s.blobs[key] = b
	s.mu.Unlock()
	return b.info, nil
}

func (s *tailStore) OpenBlob(_ context.Context, key jobartifacts.BlobKey) (jobartifacts.Blob, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.blobs[key]
	if !ok {
		return nil, jobartifacts.ErrNotFound
	}
	return b, nil
}

func (s *tailStore) DeleteBlob(_ context.Context, key jobartifacts.BlobKey) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.blobs[key]; !ok {
		return nil // deleting a missing blob succeeds
	}
	delete(s.blobs, key)
	return nil
}

// NewRangeReader reads what ReadAt can: the upload test only validates the
// central directory, which lies in the tail.
func (b *tailBlob) NewRangeReader(off, n int64) (io.ReadCloser, error) {
	if n < 0 || n > b.info.Size-off {
		n = b.info.Size - off
	}
	return io.NopCloser(io.NewSectionReader(b, off, n)), nil
}

func (b *tailBlob) ReadAt(p []byte, off int64) (int, error) {
	start := b.info.Size - int64(len(b.tail))
	if off < start {
		return 0, errBeforeTail
	}
	if off >= b.info.Size {
		return 0, io.EOF
	}
	n := copy(p, b.tail[off-start:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (b *tailBlob) Close() error                { return nil }
func (b *tailBlob) Info() jobartifacts.BlobInfo { return b.info }

// BenchmarkRunnerUpload measures the upload route's throughput for a 64 MiB
// archive streamed as GitLab Runner sends it, into a store that keeps only
// the blob's tail.
func BenchmarkRunnerUpload(b *testing.B) {
	const size = 64 << 20
	f := newRunnerFixture(b)
	store := &tailStore{Store: f.store.Store, blobs: make(map[jobartifacts.BlobKey]*tailBlob)}
	srv := httptest.NewServer(jobartifacts.New(store, f.authz, jobartifacts.WithMaxUploadSize(2*size)))
	b.Cleanup(srv.Close)
	f.runner.apiURL = srv.URL + "/api/v4"
	b.SetBytes(size)
	for b.Loop() {
		b.StopTimer()
		jobID, token := f.addJob(runnerProjectID, jobartifacts.StatusRunning)
		b.StartTimer()
		resp := f.runner.upload(b, jobID, token, generatedZip(size), runnerUploadOptions{artifactType: "archive", artifactFormat: "zip"})
		require.Equal(b, http.StatusCreated, resp.status, string(resp.body))
	}
}

// writeRecordingStore is a memstore whose PutBlob takes the upload's
// blocks (io.Copy: the upload's WriteTo, as fsstore's does) and notes, for
// each blob, the bytes written and the largest write past the first; it
// keeps the blob, or with drop keeps nothing, so that the heap holds only
// what the uploads in flight hold.
type writeRecordingStore struct {
	*memstore.Store
	drop    bool
	mu      sync.Mutex
	written map[jobartifacts.BlobKey]int64
	largest int
	puts    int
}

// recordingBlobWriter is one PutBlob's writer of a writeRecordingStore.
type recordingBlobWriter struct {
	s      *writeRecordingStore
	key    jobartifacts.BlobKey
	writes int
	kept   bytes.Buffer
}

func (w *recordingBlobWriter) Write(p []byte) (int, error) {
	w.s.mu.Lock()
	if w.writes++; w.writes > 1 {
		w.s.largest = max(w.s.largest, len(p))
	}
	w.s.written[w.key] += int64(len(p))
	w.s.mu.Unlock()
	if w.s.drop {
		return len(p), nil
	}
	return w.kept.Write(p)
}

func (s *writeRecordingStore) PutBlob(ctx context.Context, key jobartifacts.BlobKey, r io.Reader) (jobartifacts.BlobInfo, error) {
	w := &recordingBlobWriter{s: s, key: key}
	n, err := io.Copy(w, r)
	s.mu.Lock()
	s.puts++
	s.mu.Unlock()
	if err != nil || s.drop {
		return jobartifacts.BlobInfo{Size: n}, err
	}
	return s.Store.PutBlob(ctx, key, &w.kept)
}

// writtenAtLeast reports whether n blobs have had at least min bytes
// written each.
func (s *writeRecordingStore) writtenAtLeast(n int, min int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, w := range s.written {
		if w >= min {
			n--
		}
	}
	return n <= 0
}

// TestUploadMemoryOption: the runner's upload reads into 4 MiB blocks
// within WithUploadMemory's budget, into 64 KiB ones once it is spent.
func TestUploadMemoryOption(t *testing.T) {
	for _, tt := range []struct {
		name    string
		opts    []jobartifacts.Option
		largest int
	}{
		{name: "default budget", largest: 4 << 20},
		{name: "no bound", opts: []jobartifacts.Option{jobartifacts.WithUploadMemory(0)}, largest: 4 << 20},
		{name: "budget under a block", opts: []jobartifacts.Option{jobartifacts.WithUploadMemory(4<<20 - 1)}, largest: 64 << 10},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newRunnerFixture(t) // for its projects, authorizer and job helpers
			store := &writeRecordingStore{Store: f.store.Store, written: make(map[jobartifacts.BlobKey]int64)}
			srv := httptest.NewServer(jobartifacts.New(store, f.authz, tt.opts...))
			t.Cleanup(srv.Close)
			f.runner.apiURL = srv.URL + "/api/v4"
			jobID, token := f.addJob(runnerProjectID, jobartifacts.StatusRunning)
			archive := generatedZip(8 << 20)
			resp := f.runner.upload(t, jobID, token, archive, runnerUploadOptions{artifactType: "archive", artifactFormat: "zip"})
			require.Equal(t, http.StatusCreated, resp.status, string(resp.body))
			a, ok := f.job(jobID).Archive()
			require.True(t, ok)
			require.Equal(t, archive.written(), a.Size)
			require.Equal(t, 1, store.puts)
			require.Equal(t, tt.largest, store.largest)
		})
	}
}

// pausedBody returns first bytes, then blocks until release is closed,
// then ends.
type pausedBody struct {
	first   int64
	release <-chan struct{}
	buf     []byte
}

func (b *pausedBody) Read(p []byte) (int, error) {
	if b.first == 0 {
		<-b.release
		return 0, io.EOF
	}
	n := copy(p[:min(int64(len(p)), b.first)], b.buf)
	b.first -= int64(n)
	return n, nil
}

// TestUploadMemoryBoundsHeap: many uploads in flight at once, each paused
// by its client past its first large block (or its third small one), hold
// the upload memory budget and a few hundred KiB each beyond it (their
// small blocks, both ends of the connection: 20 MiB in all here), not
// 4 MiB blocks each (two at least, 256 MiB and more without the bound).
func TestUploadMemoryBoundsHeap(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: 144 MiB of uploads")
	}
	const (
		uploads = 32
		budget  = 8 << 20
		sent    = 4<<20 + 512<<10 // past a large block, or three small ones
		allowed = budget + uploads*(512<<10)
	)
	f := newRunnerFixture(t) // for its projects, authorizer and jobs
	store := &writeRecordingStore{Store: f.store.Store, drop: true, written: make(map[jobartifacts.BlobKey]int64)}
	srv := httptest.NewServer(jobartifacts.New(store, f.authz, jobartifacts.WithUploadMemory(budget)))
	t.Cleanup(srv.Close)
	client := &http.Client{Transport: &http.Transport{MaxConnsPerHost: uploads}}
	t.Cleanup(client.CloseIdleConnections)

	var jobs []int64
	var tokens []string
	for range uploads {
		id, token := f.addJob(runnerProjectID, jobartifacts.StatusRunning)
		jobs, tokens = append(jobs, id), append(tokens, token)
	}
	piece := make([]byte, 64<<10)
	runtime.GC()
	runtime.GC() // pooled blocks of earlier tests gone
	var before runtime.MemStats
	runtime.ReadMemStats(&before)

	release := make(chan struct{})
	var wg sync.WaitGroup
	statuses := make([]int, uploads)
	errs := make([]error, uploads)
	for i := range uploads {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pr, pw := io.Pipe()
			mpw := multipart.NewWriter(pw)
			go func() {
				part, err := mpw.CreateFormFile("file", "artifacts.zip")
				if err == nil {
					_, err = io.Copy(part, &pausedBody{first: sent, release: release, buf: piece})
				}
				if err == nil {
					err = mpw.Close()
				}
				pw.CloseWithError(err)
			}()
			req, err := http.NewRequest(http.MethodPost, fmt.Sprintf("%s/api/v4/jobs/%d/artifacts", srv.URL, jobs[i]), pr)
			if err != nil {
				errs[i] = err
				return
			}
			req.Header.Set("Content-Type", mpw.FormDataContentType())
			req.Header.Set("JOB-TOKEN", tokens[i])
			resp, err := client.Do(req)
			if err != nil {
				errs[i] = err
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			statuses[i] = resp.StatusCode
		}()
	}
	defer func() {
		close(release)
		wg.Wait()
		for i := range uploads {
			require.NoError(t, errs[i])
			// Answered once the whole body is in: the store kept no
			// blob for the archive's check to find.
			require.Equal(t, http.StatusNotFound, statuses[i])
		}
	}()

	// Every upload has had all but its last block written: it holds its
	// three blocks, waiting for its client.
	require.Eventually(t, func() bool { return store.writtenAtLeast(uploads, sent-1<<20) }, 30*time.Second, 10*time.Millisecond)
	runtime.GC()
	var during runtime.MemStats
	runtime.ReadMemStats(&during)
	grown := int64(during.HeapInuse) - int64(before.HeapInuse)
	t.Logf("heap in use grew %.1f MiB with %d uploads paused (budget %d MiB)", float64(grown)/(1<<20), uploads, budget>>20)
	require.Less(t, grown, int64(allowed))
}
