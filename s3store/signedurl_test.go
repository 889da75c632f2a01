package s3store_test

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ciartifacts/jobartifacts"
)

// fetch sends method to u and returns the response with its body read.
func fetch(t *testing.T, method, u string, header http.Header) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, u, nil)
	require.NoError(t, err)
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, body
}

// Signed URLs fetched over HTTP: GET with the asked-for headers and Range,
// HEAD on its own signature (a GET-signed URL answers HEAD with 403).
func TestSignedURL(t *testing.T) {
	f := newFixture(t)
	data := pseudoRandom(50, 70_000)
	key := f.put(t, "archive", data)
	const disposition = `attachment; filename="artifacts.zip"; filename*=UTF-8''artifacts.zip`
	opts := jobartifacts.SignedURLOptions{ContentDisposition: disposition, ContentType: "application/zip"}

	get, err := f.store.SignedURL(t.Context(), key, opts)
	require.NoError(t, err)
	resp, body := fetch(t, http.MethodGet, get, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	require.Equal(t, data, body)
	require.Equal(t, disposition, resp.Header.Get("Content-Disposition"))
	require.Equal(t, "application/zip", resp.Header.Get("Content-Type"))

	resp, body = fetch(t, http.MethodGet, get, http.Header{"Range": {"bytes=100-199"}})
	require.Equal(t, http.StatusPartialContent, resp.StatusCode)
	require.Equal(t, data[100:200], body)

	resp, _ = fetch(t, http.MethodHead, get, nil)
	require.Equal(t, http.StatusForbidden, resp.StatusCode, "HEAD on a GET-signed URL")

	opts.Method = http.MethodHead
	head, err := f.store.SignedURL(t.Context(), key, opts)
	require.NoError(t, err)
	resp, body = fetch(t, http.MethodHead, head, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Empty(t, body)
	require.Equal(t, strconv.Itoa(len(data)), resp.Header.Get("Content-Length"))
	require.Equal(t, disposition, resp.Header.Get("Content-Disposition"))
	require.Equal(t, "application/zip", resp.Header.Get("Content-Type"))

	resp, _ = fetch(t, http.MethodGet, head, nil)
	require.Equal(t, http.StatusForbidden, resp.StatusCode, "GET on a HEAD-signed URL")

	missing, err := f.store.SignedURL(t.Context(), blobKey("missing"), jobartifacts.SignedURLOptions{})
	require.NoError(t, err, "a missing blob may still get a URL")
	resp, _ = fetch(t, http.MethodGet, missing, nil)
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
}

func TestSignedURLExpiry(t *testing.T) {
	f := newFixture(t)
	key := f.put(t, "archive", []byte("bytes"))
	tests := []struct {
		expiry time.Duration
		want   string
	}{
		{0, "300"},
		{time.Hour, "3600"},
		{30 * 24 * time.Hour, "604800"},
		{time.Millisecond, "1"},
	}
	for _, tc := range tests {
		t.Run(tc.expiry.String(), func(t *testing.T) {
			u, err := f.store.SignedURL(t.Context(), key, jobartifacts.SignedURLOptions{Expiry: tc.expiry})
			require.NoError(t, err)
			parsed, err := url.Parse(u)
			require.NoError(t, err)
			require.Equal(t, tc.want, parsed.Query().Get("X-Amz-Expires"))
		})
	}

	u, err := f.store.SignedURL(t.Context(), key, jobartifacts.SignedURLOptions{Expiry: time.Second})
	require.NoError(t, err)
	time.Sleep(2100 * time.Millisecond)
	resp, _ := fetch(t, http.MethodGet, u, nil)
	require.Equal(t, http.StatusForbidden, resp.StatusCode, "after expiry")

	_, err = f.store.SignedURL(t.Context(), key, jobartifacts.SignedURLOptions{Expiry: -time.Second})
	require.Error(t, err)
}

func TestSignedURLOtherMethods(t *testing.T) {
	f := newFixture(t)
	for _, m := range []string{http.MethodPut, http.MethodPost, http.MethodDelete, "get"} {
		_, err := f.store.SignedURL(t.Context(), blobKey("archive"), jobartifacts.SignedURLOptions{Method: m})
		require.Error(t, err, m)
		require.ErrorIs(t, err, jobartifacts.ErrNotSupported, m)
	}
}

// ListBlobs pages in key order, under a prefix, with the last key as token.
func TestListBlobs(t *testing.T) {
	f := newFixture(t)
	var keys []jobartifacts.BlobKey
	for i := range 7 {
		key := jobartifacts.BlobKey(fmt.Sprintf("projects/1/jobs/%d/archive-00", i+1))
		f.put2(t, key, pseudoRandom(byte(60+i), 10*(i+1)))
		keys = append(keys, key)
	}
	f.put2(t, "projects/2/jobs/1/archive-00", []byte("other project"))

	var got []jobartifacts.BlobAttributes
	token := ""
	pages := 0
	for {
		page, next, err := f.store.ListBlobs(t.Context(), "projects/1/", token, 3)
		require.NoError(t, err)
		require.LessOrEqual(t, len(page), 3)
		got = append(got, page...)
		pages++
		if next == "" {
			break
		}
		require.Equal(t, string(page[len(page)-1].Key), next)
		token = next
	}
	require.Equal(t, 3, pages)
	require.Len(t, got, 7)
	for i, b := range got {
		require.Equal(t, keys[i], b.Key)
		require.Equal(t, int64(10*(i+1)), b.Size)
		require.False(t, b.ModTime.IsZero())
	}

	page, next, err := f.store.ListBlobs(t.Context(), "", "", 100)
	require.NoError(t, err)
	require.Len(t, page, 8)
	require.Empty(t, next)

	page, next, err = f.store.ListBlobs(t.Context(), "projects/1/", "projects/1/jobs/7/archive-00", 3)
	require.NoError(t, err)
	require.Empty(t, page)
	require.Empty(t, next)

	_, _, err = f.store.ListBlobs(t.Context(), "", "", 0)
	require.Error(t, err)
}
