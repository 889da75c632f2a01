// Package bareupload is the harness's bare Go upload: what receiving a
// multipart upload costs with net/http and mime/multipart and nothing else,
// the reference for the handler's upload (bench/cmd/benchserve bare and the
// upload benchmarks).
package bareupload

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"hash"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"os"
)

// Handler returns a handler that writes each part of a multipart body to a
// fresh file in dir through a 1 MiB buffer and removes it again; 201 when
// all went well. With sha256Sum, each part also goes through SHA-256 as it
// is written, on the same goroutine, and the response body is the last
// part's sum in hex: the work every upload must do to keep GitLab's
// SHA-256, which nginx and the plain variant leave out.
func Handler(dir string, sha256Sum bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		_, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if err != nil {
			http.Error(w, "content type", http.StatusBadRequest)
			return
		}
		var sum hash.Hash
		if sha256Sum {
			sum = sha256.New()
		}
		mr := multipart.NewReader(r.Body, params["boundary"])
		for {
			part, err := mr.NextPart()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				http.Error(w, "body", http.StatusBadRequest)
				return
			}
			if sum != nil {
				sum.Reset()
			}
			if err := writePart(dir, part, sum); err != nil {
				http.Error(w, "write", http.StatusInternalServerError)
				return
			}
		}
		w.WriteHeader(http.StatusCreated)
		if sum != nil {
			_, _ = io.WriteString(w, hex.EncodeToString(sum.Sum(nil)))
		}
	}
}

// writePart writes part to a temporary file in dir, hashing it into sum
// unless sum is nil, and removes the file.
func writePart(dir string, part io.Reader, sum hash.Hash) error {
	f, err := os.CreateTemp(dir, ".upload-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	bw := bufio.NewWriterSize(f, 1<<20)
	var out io.Writer = bw
	if sum != nil {
		out = io.MultiWriter(bw, sum)
	}
	// Through the buffer, not around it: bufio.Writer.ReadFrom would hand
	// the part to os.File.ReadFrom, which writes each of the part's small
	// reads (4 KiB) to the file by itself.
	if _, err := io.CopyBuffer(struct{ io.Writer }{out}, struct{ io.Reader }{part}, make([]byte, 64<<10)); err != nil {
		return err
	}
	return bw.Flush()
}
