package storetest

import (
	"errors"
	"io"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ciartifacts/jobartifacts"
)

// SignedURL returns a URL that an HTTP client fetches the blob from with
// the method it was signed for, with the headers the options ask for. A
// store that cannot hand out URLs says ErrNotSupported, and the case is
// skipped.
func testSignedURL(t *testing.T, h BlobHarness) {
	s := h.New(t)()
	client := h.HTTPClient
	if client == nil {
		client = http.DefaultClient
	}
	key := blobKey("archive")
	data := pseudoRandom(40, 70_000)
	putBlob(t, s, key, data)

	const disposition = `attachment; filename="artifacts.zip"; filename*=UTF-8''artifacts.zip`
	get, err := s.SignedURL(t.Context(), key, jobartifacts.SignedURLOptions{
		Method: http.MethodGet, Expiry: 5 * time.Minute,
		ContentDisposition: disposition, ContentType: "application/zip",
	})
	if errors.Is(err, jobartifacts.ErrNotSupported) {
		t.Skip("SignedURL: ErrNotSupported; the handler serves the bytes itself")
	}
	require.NoError(t, err)

	resp := fetch(t, client, http.MethodGet, get)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, "GET %s: %s", get, body)
	require.Equal(t, data, body)
	require.Equal(t, disposition, resp.Header.Get("Content-Disposition"))
	require.Equal(t, "application/zip", resp.Header.Get("Content-Type"))

	t.Run("DefaultMethodIsGET", func(t *testing.T) {
		u, err := s.SignedURL(t.Context(), key, jobartifacts.SignedURLOptions{})
		require.NoError(t, err)
		resp := fetch(t, client, http.MethodGet, u)
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode, "GET %s: %s", u, body)
		require.Equal(t, data, body)
	})

	t.Run("HEAD", func(t *testing.T) {
		u, err := s.SignedURL(t.Context(), key, jobartifacts.SignedURLOptions{
			Method: http.MethodHead, Expiry: 5 * time.Minute, ContentType: "application/zip",
		})
		require.NoError(t, err)
		resp := fetch(t, client, http.MethodHead, u)
		require.Equal(t, http.StatusOK, resp.StatusCode, "HEAD %s", u)
		require.Equal(t, strconv.Itoa(len(data)), resp.Header.Get("Content-Length"))
		require.Equal(t, "application/zip", resp.Header.Get("Content-Type"))
	})
}

// fetch sends one request and closes the response body at the test's end.
func fetch(t *testing.T, client *http.Client, method, url string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, nil)
	require.NoError(t, err)
	resp, err := client.Do(req)
	require.NoError(t, err)
	t.Cleanup(func() { _ = resp.Body.Close() })
	return resp
}
