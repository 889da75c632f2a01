package main

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"html"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ciartifacts/jobartifacts"
	"github.com/ciartifacts/jobartifacts/internal/ziptest"
)

// TestReplicas runs two processes of this program on one PostgreSQL schema
// and one bucket, fresh for each case, with requests spread across both,
// as behind a load balancer.
func TestReplicas(t *testing.T) {
	testServices(t) // skips before building when the services are missing
	bin := buildServer(t)
	t.Run("uploads race", func(t *testing.T) { testReplicasUploadRace(t, bin) })
	t.Run("every route answers the same", func(t *testing.T) { testReplicasAnswerAlike(t, bin) })
	t.Run("kill -9", func(t *testing.T) { testReplicasKill(t, bin) })
	t.Run("sweepers", func(t *testing.T) { testReplicasSweepers(t, bin) })
}

// testReplicasUploadRace: uploads of two different archives to one job race
// on both replicas. As in GitLab, the first archive recorded wins: every
// upload of it answers 201, every upload of the other 400. The losers'
// blobs are deleted, so once the sweepers have run the bucket holds exactly
// the recorded blobs.
func testReplicasUploadRace(t *testing.T, bin string) {
	c := newCluster(t, bin, "-sweep-interval", "200ms", "-blob-grace", "0")
	archives := [][]byte{
		ziptest.Build(t, ziptest.Stored("p.txt", "archive P\n")),
		ziptest.Build(t, ziptest.Stored("q.txt", "archive Q\n")),
	}
	const uploads = 16
	statuses := make([]int, uploads)
	errs := make([]error, uploads)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range uploads {
		// Each archive goes to both replicas: P to a, Q to b, P to b, Q to a, …
		archive, replica := i%2, (i/2+i)%2
		base := c.replicas[replica].url
		wg.Go(func() {
			contentType, body := uploadBody(t, archives[archive])
			req, err := http.NewRequest(http.MethodPost, uploadURL(base), bytes.NewReader(body))
			if err != nil {
				errs[i] = err
				return
			}
			req.Header.Set("JOB-TOKEN", clusterJobToken)
			req.Header.Set("Content-Type", contentType)
			<-start
			resp, err := testClient().Do(req)
			if err != nil {
				errs[i] = err
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			statuses[i] = resp.StatusCode
		})
	}
	close(start)
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	winner := -1
	for i, status := range statuses {
		if status == http.StatusCreated && winner < 0 {
			winner = i % 2
		}
	}
	require.GreaterOrEqual(t, winner, 0, "no upload won: %v", statuses)
	for i, status := range statuses {
		want := http.StatusBadRequest
		if i%2 == winner {
			want = http.StatusCreated
		}
		require.Equal(t, want, status, "upload %d of archive %d, replica %d: %v", i, i%2, (i/2+i)%2, statuses)
	}

	t.Logf("archive %d won; statuses %v", winner, statuses)

	// Both replicas serve the winner.
	for _, r := range c.replicas {
		got := do(t, testClient(), http.MethodGet, r.url+"/api/v4/jobs/100/artifacts", header("JOB-TOKEN", clusterJobToken), nil)
		require.Equal(t, http.StatusOK, got.status, r.name)
		require.Equal(t, archives[winner], got.body, r.name)
	}

	// No orphan: the losers were deleted once each, the winner never.
	eventually(t, 30*time.Second, "the bucket holds exactly the recorded blobs", func() bool {
		return slices.Equal(c.objects(), c.recordedKeys()) && len(c.queuedKeys()) == 0
	})
	deletes := c.proxy.deleteCounts(c.bucket)
	require.Len(t, deletes, uploads-1, "every upload but the recorded one was deleted")
	for key, n := range deletes {
		require.Equal(t, 1, n, "deletions of %s", key)
		require.NotContains(t, c.recordedKeys(), key)
	}
}

// testReplicasAnswerAlike sends every request to both replicas and compares
// the answers: status, headers but Date, and bytes (those behind a redirect
// to S3 too). Changes made through one replica are seen by the other at
// once.
func testReplicasAnswerAlike(t *testing.T, bin string) {
	c := newCluster(t, bin)
	a, b := c.replicas[0].url, c.replicas[1].url
	maintainer := header("PRIVATE-TOKEN", clusterToken)
	reporter := header("PRIVATE-TOKEN", clusterReporterToken)
	job := header("JOB-TOKEN", clusterJobToken)
	type request struct {
		method, path string
		header       http.Header
		want         int
	}
	// same asks both replicas, through the host name of a load balancer in
	// front of them, and requires alike answers with status want.
	same := func(r request) answer {
		t.Helper()
		got := [2]answer{}
		h := r.header.Clone()
		if h == nil {
			h = http.Header{}
		}
		h.Set("Host", "artifacts.example.test")
		for i, base := range []string{a, b} {
			got[i] = do(t, testClient(), r.method, base+"/api/v4"+r.path, h, nil)
			require.Equal(t, r.want, got[i].status, "%s %s on replica %d: %s", r.method, r.path, i, got[i].body)
		}
		require.Equal(t, comparable(t, r.method, got[0]), comparable(t, r.method, got[1]), "%s %s", r.method, r.path)
		return got[0]
	}

	reads := []request{
		{"GET", "/projects/1/jobs/42/artifacts", maintainer, http.StatusFound},
		{"HEAD", "/projects/1/jobs/42/artifacts", maintainer, http.StatusFound},
		{"GET", "/projects/1/jobs/42/artifacts", reporter, http.StatusFound},
		{"GET", "/projects/demo%2Fproject/jobs/artifacts/main/download?job=test", maintainer, http.StatusFound},
		{"GET", "/projects/1/jobs/artifacts/master/download?job=test&job_token=" + clusterJobToken, nil, http.StatusFound},
		{"GET", "/projects/1/jobs/5/artifacts/some/release/file.pdf", maintainer, http.StatusOK},
		{"HEAD", "/projects/1/jobs/5/artifacts/some/release/file.pdf", maintainer, http.StatusOK},
		{"GET", "/projects/1/jobs/artifacts/main/raw/some/release/file.pdf?job=pdf", maintainer, http.StatusOK},
		{"GET", "/projects/1/jobs/42/artifacts/tree?recursive=true", maintainer, http.StatusOK},
		{"GET", "/projects/1/jobs/42/artifacts/tree?path=coverage/reports&per_page=1&page=2", maintainer, http.StatusOK},
		{"GET", "/jobs/42/artifacts", job, http.StatusOK},
		{"GET", "/jobs/42/artifacts", header("JOB-TOKEN", clusterJobToken, "Range", "bytes=100-199"), http.StatusPartialContent},
		{"GET", "/projects/1/jobs/999/artifacts", maintainer, http.StatusNotFound},
		{"GET", "/projects/1/jobs/42/artifacts/missing.txt", maintainer, http.StatusNotFound},
		{"GET", "/projects/1/jobs/42/artifacts", header("PRIVATE-TOKEN", "glpat-wrong"), http.StatusUnauthorized},
		{"DELETE", "/projects/1/jobs/42/artifacts", reporter, http.StatusForbidden},
	}
	for _, r := range reads {
		same(r)
	}

	// Keep through a, then through b: the same job, kept.
	kept := do(t, testClient(), "POST", a+"/api/v4/projects/1/jobs/1/artifacts/keep", maintainer, nil)
	require.Equal(t, http.StatusOK, kept.status, "%s", kept.body)
	keptAgain := do(t, testClient(), "POST", b+"/api/v4/projects/1/jobs/1/artifacts/keep", maintainer, nil)
	require.Equal(t, comparable(t, "POST", kept), comparable(t, "POST", keptAgain))
	require.Contains(t, string(kept.body), `"artifacts_expire_at":null`)

	// An upload through b is served by a, by job and by ref once the
	// pipeline succeeds.
	archive := ziptest.Build(t, ziptest.Stored("deploy.txt", "deployed\n"))
	contentType, body := uploadBody(t, archive)
	up := do(t, testClient(), "POST", uploadURL(b), header("JOB-TOKEN", clusterJobToken, "Content-Type", contentType), bytes.NewReader(body))
	require.Equal(t, http.StatusCreated, up.status, "%s", up.body)
	got := same(request{"GET", "/jobs/100/artifacts", job, http.StatusOK})
	require.Equal(t, archive, got.body)
	same(request{"GET", "/projects/1/jobs/artifacts/master/raw/deploy.txt?job=deploy", maintainer, http.StatusNotFound}) // pipeline 5 still runs

	// A newer successful pipeline of main, imported by another process
	// (server import, with the replicas' store flags), changes the latest
	// successful job on both at once.
	newer := filepath.Join(t.TempDir(), "newer.zip")
	require.NoError(t, os.WriteFile(newer, ziptest.Build(t, ziptest.Stored("newer.txt", "pipeline 6\n")), 0o600))
	for k, v := range c.credentials() {
		t.Setenv(k, v)
	}
	importArgs := append([]string{"import"}, c.storeArgs()...)
	importArgs = append(importArgs, "-project", "demo/project", "-project-id", "1", "-ref", "main", "-pipeline", "6",
		"-job", "test", "-job-id", "46", "-status", "success", newer)
	require.NoError(t, run(t.Context(), importArgs, io.Discard, io.Discard))
	same(request{"GET", "/projects/1/jobs/artifacts/main/raw/newer.txt?job=test", maintainer, http.StatusOK})
	same(request{"GET", "/projects/1/jobs/artifacts/main/raw/some/release/file.pdf?job=pdf", maintainer, http.StatusNotFound}) // no fallback
	loc := same(request{"GET", "/projects/1/jobs/artifacts/main/download?job=test", maintainer, http.StatusFound})
	require.Contains(t, loc.header.Get("Location"), "/projects/1/jobs/46/")

	// Delete through b: gone on both; deleting again answers alike.
	deleted := do(t, testClient(), "DELETE", b+"/api/v4/projects/1/jobs/42/artifacts", maintainer, nil)
	require.Equal(t, http.StatusNoContent, deleted.status, "%s", deleted.body)
	same(request{"GET", "/projects/1/jobs/42/artifacts", maintainer, http.StatusNotFound})
	same(request{"GET", "/projects/1/jobs/42/artifacts/tree", maintainer, http.StatusNotFound})
	same(request{"DELETE", "/projects/1/jobs/42/artifacts", maintainer, http.StatusNoContent}) // GitLab's too

	// Expire the project's artifacts through a: single files are gone on
	// both, the kept job's too stays.
	expired := do(t, testClient(), "DELETE", a+"/api/v4/projects/1/artifacts", maintainer, nil)
	require.Equal(t, http.StatusAccepted, expired.status, "%s", expired.body)
	same(request{"GET", "/projects/1/jobs/5/artifacts/some/release/file.pdf", maintainer, http.StatusNotFound})
	same(request{"GET", "/projects/1/jobs/1/artifacts/rubocop.json", maintainer, http.StatusOK})
}

// comparable is what must be alike in two replicas' answers: the status,
// the headers but Date, the body; a redirect's URL without the parts of its
// signature that depend on the second it was made, in the Location header
// and in the body's link alike, and the bytes behind it (the status, for a
// HEAD).
func comparable(t *testing.T, method string, got answer) shownAnswer {
	t.Helper()
	h := got.header.Clone()
	h.Del("Date")
	body := string(got.body)
	if loc := h.Get("Location"); loc != "" {
		u, err := url.Parse(loc)
		require.NoError(t, err)
		q := u.Query()
		for _, k := range []string{"X-Amz-Date", "X-Amz-Signature", "X-Amz-Credential"} {
			require.True(t, q.Has(k), "the redirect is signed: %s", loc)
			q.Del(k)
		}
		u.RawQuery = q.Encode()
		h.Set("Location", u.String())
		if method == http.MethodGet { // http.Redirect links to it in a GET's body
			link := html.EscapeString(loc)
			require.Contains(t, body, link, "the body links to the redirect")
			body = strings.Replace(body, link, html.EscapeString(u.String()), 1)
		}
		behind := do(t, testClient(), method, loc, nil, nil)
		require.Equal(t, http.StatusOK, behind.status, "%s %s: %s", method, loc, behind.body)
		h.Set("X-Test-Redirected-Sha256", fmt.Sprintf("%x", sha256.Sum256(behind.body)))
	}
	return shownAnswer{status: got.status, header: h, body: body}
}

// shownAnswer is an answer whose differences read well.
type shownAnswer struct {
	status int
	header http.Header
	body   string
}

// putJob stores archive (if not nil) and records the job with it in
// pipeline p, as an importer does: the blob first, then the record.
func putJob(t *testing.T, meta seedMetadata, blobs jobartifacts.BlobStore, p jobartifacts.Pipeline, j jobartifacts.Job, archive []byte, expireAt *time.Time) jobartifacts.BlobKey {
	t.Helper()
	ctx := t.Context()
	require.NoError(t, meta.PutPipeline(ctx, p))
	j.Pipeline, j.Ref = jobartifacts.Pipeline{ID: p.ID}, p.Ref
	key := jobartifacts.NewBlobKey(j.ProjectID, j.ID, jobartifacts.ArtifactTypeArchive)
	info, err := blobs.PutBlob(ctx, key, bytes.NewReader(archive))
	require.NoError(t, err)
	sum := sha256.Sum256(archive)
	j.Artifacts = []jobartifacts.Artifact{{
		FileType: jobartifacts.ArtifactTypeArchive, FileFormat: "zip", Filename: "artifacts.zip",
		Size: info.Size, SHA256: fmt.Sprintf("%x", sum), ExpireAt: expireAt, Blob: key,
	}}
	j.ArtifactsExpireAt = expireAt
	require.NoError(t, meta.PutJob(ctx, j))
	return key
}

// testReplicasKill kills replicas with SIGKILL in the middle of an upload
// and of downloads.
func testReplicasKill(t *testing.T, bin string) {
	c := newCluster(t, bin)
	archive := bigArchive(t, 40<<20) // three 16 MiB parts on S3
	sum := sha256.Sum256(archive)
	job := header("JOB-TOKEN", clusterJobToken)

	// Mid-upload: a's upload has sent a part to S3 when a dies. Nothing is
	// visible, b accepts the retry, and the janitor removes what a left.
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	req, err := http.NewRequest(http.MethodPost, uploadURL(c.replicas[0].url), pr)
	require.NoError(t, err)
	req.Header.Set("JOB-TOKEN", clusterJobToken)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	uploaded := make(chan error, 1)
	go func() {
		resp, err := testClient().Do(req)
		if err == nil {
			resp.Body.Close()
			err = fmt.Errorf("the upload to the killed replica answered %d", resp.StatusCode)
		}
		pr.CloseWithError(err)
		uploaded <- err
	}()
	part, err := mw.CreateFormFile("file", "artifacts.zip")
	require.NoError(t, err)
	const sent = 36 << 20
	for off := 0; off < sent; off += 1 << 20 {
		_, err := part.Write(archive[off : off+1<<20])
		require.NoError(t, err)
	}
	eventually(t, 30*time.Second, "a multipart upload on S3", func() bool { return c.incompleteUploads() > 0 })
	c.replicas[0].kill9(t)
	pw.CloseWithError(io.ErrClosedPipe)
	select {
	case err := <-uploaded:
		require.Error(t, err)
	case <-time.After(30 * time.Second):
		t.Fatal("the upload to the killed replica did not end")
	}
	b := c.replicas[1].url
	require.Equal(t, http.StatusNotFound, do(t, testClient(), "GET", b+"/api/v4/jobs/100/artifacts", job, nil).status)
	for _, key := range c.objects() {
		require.NotContains(t, key, "/jobs/100/", "no object of the killed upload")
	}
	contentType, body := uploadBody(t, archive)
	retried := do(t, testClient(), "POST", uploadURL(b), header("JOB-TOKEN", clusterJobToken, "Content-Type", contentType), bytes.NewReader(body))
	require.Equal(t, http.StatusCreated, retried.status, "%s", retried.body)
	require.Positive(t, c.incompleteUploads(), "the killed upload left its parts")
	aborted, err := c.blobStore().AbortIncompleteUploads(t.Context(), 0)
	require.NoError(t, err)
	require.Positive(t, aborted)
	t.Logf("the janitor aborted %d upload(s) left by the killed replica", aborted)
	require.Zero(t, c.incompleteUploads())
	require.Equal(t, c.recordedKeys(), c.objects(), "no orphan")

	// Mid-download: a slow client reads part of the archive from a, which
	// dies; it resumes on b with Range and If-Range, gets 206 and the rest.
	c.restart(0)
	resp, err := testClient().Do(mustRequest(t, "GET", c.replicas[0].url+"/api/v4/jobs/100/artifacts", job))
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	etag := resp.Header.Get("ETag")
	require.NotEmpty(t, etag)
	head := make([]byte, 4<<20)
	_, err = io.ReadFull(resp.Body, head)
	require.NoError(t, err)
	c.replicas[0].kill9(t)
	rest, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.ErrorIs(t, err, io.ErrUnexpectedEOF, "a short body")
	got := append(head, rest...)
	require.Less(t, len(got), len(archive), "the download was cut")
	resumed := do(t, testClient(), "GET", b+"/api/v4/jobs/100/artifacts",
		header("JOB-TOKEN", clusterJobToken, "Range", "bytes="+strconv.Itoa(len(got))+"-", "If-Range", etag), nil)
	require.Equal(t, http.StatusPartialContent, resumed.status)
	require.Equal(t, etag, resumed.header.Get("ETag"))
	require.Equal(t, fmt.Sprintf("bytes %d-%d/%d", len(got), len(archive)-1, len(archive)), resumed.header.Get("Content-Range"))
	require.Equal(t, sum, sha256.Sum256(append(got, resumed.body...)), "the joined bytes are the archive")
	t.Logf("download cut after %d of %d bytes, resumed on the other replica with 206", len(got), len(archive))

	// A redirect to S3 outlives the replica that made it.
	redirect := do(t, testClient(), "GET", b+"/api/v4/projects/1/jobs/100/artifacts", header("PRIVATE-TOKEN", clusterToken), nil)
	require.Equal(t, http.StatusFound, redirect.status)
	c.replicas[1].kill9(t)
	direct := do(t, testClient(), "GET", redirect.header.Get("Location"), nil, nil)
	require.Equal(t, http.StatusOK, direct.status)
	require.Equal(t, sum, sha256.Sum256(direct.body))
}

// mustRequest is a request with header.
func mustRequest(t *testing.T, method, rawURL string, h http.Header) *http.Request {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, rawURL, nil)
	require.NoError(t, err)
	for k, vs := range h {
		req.Header[k] = vs
	}
	return req
}

// testReplicasSweepers: both replicas sweep every 100 ms with no grace,
// over hundreds of expired records, while kept jobs and records about to
// expire are kept through both replicas. Every expired record is removed
// and its blob deleted exactly once; nothing kept is lost.
func testReplicasSweepers(t *testing.T, bin string) {
	c := newCluster(t, bin, "-sweep-interval", "100ms", "-blob-grace", "0")
	meta, blobs := c.metadataStore(), c.blobStore()
	pipeline := jobartifacts.Pipeline{ID: 7, ProjectID: 1, Ref: "sweep", Status: jobartifacts.StatusSuccess}
	past := time.Now().Add(-time.Hour)
	var soon time.Time
	const jobs = 300
	var swept, kept, keepThroughAPI []string
	for n := range jobs {
		// The jobs that expire soon come last, so that seeding the others
		// does not eat into their time.
		i := n%(jobs/3)*3 + n/(jobs/3)
		if n == 2*jobs/3 {
			soon = time.Now().Add(5 * time.Second)
		}
		id := int64(1000 + i)
		j := jobartifacts.Job{ID: id, ProjectID: 1, Name: "sweep-" + strconv.Itoa(i), Stage: "test", Status: jobartifacts.StatusSuccess}
		archive := ziptest.Build(t, ziptest.Stored("n.txt", strconv.Itoa(i)))
		switch i % 3 {
		case 0: // expired
			swept = append(swept, string(putJob(t, meta, blobs, pipeline, j, archive, &past)))
		case 1: // expired but kept (ArtifactsLocked)
			j.ArtifactsLocked = true
			kept = append(kept, string(putJob(t, meta, blobs, pipeline, j, archive, &past)))
		case 2: // expires soon: kept through the API for half of them
			key := string(putJob(t, meta, blobs, pipeline, j, archive, &soon))
			if i%2 == 0 {
				kept = append(kept, key)
				keepThroughAPI = append(keepThroughAPI, strconv.FormatInt(id, 10))
			} else {
				swept = append(swept, key)
			}
		}
	}
	for n, id := range keepThroughAPI {
		r := c.replicas[n%2]
		got := do(t, testClient(), "POST", r.url+"/api/v4/projects/1/jobs/"+id+"/artifacts/keep", header("PRIVATE-TOKEN", clusterToken), nil)
		require.Equal(t, http.StatusOK, got.status, "keep job %s on %s: %s", id, r.name, got.body)
	}
	require.True(t, time.Now().Before(soon), "seeding and keeping took too long for this test's clock")

	eventually(t, 60*time.Second, "every expired record swept and its blob deleted", func() bool {
		recorded := c.recordedKeys()
		for _, key := range swept {
			if slices.Contains(recorded, key) {
				return false
			}
		}
		return len(c.queuedKeys()) == 0 && slices.Equal(c.objects(), recorded)
	})
	recorded := c.recordedKeys()
	for _, key := range kept {
		require.Contains(t, recorded, key, "a kept record")
	}
	deletes := c.proxy.deleteCounts(c.bucket)
	for _, key := range swept {
		require.Equal(t, 1, deletes[key], "deletions of swept blob %s", key)
	}
	for _, key := range kept {
		require.Zero(t, deletes[key], "deletions of kept blob %s", key)
	}
	require.Len(t, deletes, len(swept), "only swept blobs were deleted")
	t.Logf("%d records swept and their blobs deleted once each, %d kept (%d through the API)", len(swept), len(kept), len(keepThroughAPI))
	// A kept job's files are still served, by both.
	for _, r := range c.replicas {
		got := do(t, testClient(), "GET", r.url+"/api/v4/projects/1/jobs/1001/artifacts/n.txt", header("PRIVATE-TOKEN", clusterToken), nil)
		require.Equal(t, http.StatusOK, got.status, r.name)
		require.Equal(t, "1", string(got.body))
	}
}
