package main

import (
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// redactedValue replaces a token in a logged query string.
const redactedValue = "REDACTED"

// logRequests logs each request once it is answered: method, path (with
// tokens in the query replaced), status, bytes and duration. Headers, where
// the other tokens travel, are not logged at all.
func logRequests(logger *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		defer func() {
			attrs := []any{
				"method", r.Method,
				"path", loggablePath(r.URL),
				"status", rec.statusCode(),
				"bytes", rec.bytes,
				"duration", time.Since(start),
			}
			// The handler aborts a stream that fails midway with
			// http.ErrAbortHandler; log it, then let net/http cut the
			// connection as intended.
			if v := recover(); v != nil {
				logger.WarnContext(r.Context(), "request aborted", attrs...)
				panic(v)
			}
			logger.InfoContext(r.Context(), "request", attrs...)
		}()
		next.ServeHTTP(rec, r)
	})
}

// loggablePath is the request's escaped path and query, with the values of
// token parameters replaced. The query is rewritten pair by pair, so that
// what is logged is otherwise what the client sent.
func loggablePath(u *url.URL) string {
	path := u.EscapedPath()
	if u.RawQuery == "" {
		return path
	}
	pairs := strings.Split(u.RawQuery, "&")
	for i, pair := range pairs {
		rawKey, _, hasValue := strings.Cut(pair, "=")
		key, err := url.QueryUnescape(rawKey)
		if err != nil {
			key = rawKey
		}
		if hasValue && isSecretParam(key) {
			pairs[i] = rawKey + "=" + redactedValue
		}
	}
	return path + "?" + strings.Join(pairs, "&")
}

// isSecretParam reports whether a query parameter carries a token on
// GitLab's API; its value never reaches the log.
func isSecretParam(key string) bool {
	switch strings.ToLower(key) {
	case "private_token", "job_token", "token", "access_token":
		return true
	}
	return false
}

// statusRecorder remembers the status and counts the body bytes of a
// response for the log.
type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 && code >= http.StatusOK {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(p)
	r.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the connection's writer
// (flushing, deadlines).
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// statusCode is the status sent, 200 when the handler wrote nothing.
func (r *statusRecorder) statusCode() int {
	if r.status == 0 {
		return http.StatusOK
	}
	return r.status
}
