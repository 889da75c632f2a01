package jobartifacts

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"time"
)

// redacted replaces the value of a token in what AccessLog logs.
const redacted = "REDACTED"

// AccessLog returns a handler that serves next and then logs the request
// once, with method, path (query included), status, bytes and duration.
// Tokens never reach the log: the values of query parameters that can carry
// one (private_token, job_token, token, access_token, … in any case) are
// replaced by "REDACTED", and headers are logged only at Debug level, with the
// values of Authorization, Cookie, PRIVATE-TOKEN, JOB-TOKEN and any other
// header whose name mentions a token replaced.
//
// Records are "request" at Info; "request failed" at Error for a 5xx; "client
// went away" at Info when the client disconnected before the answer was
// complete (whatever status the handler chose, nobody got it); and "response
// aborted" at Warn when the handler aborted a stream that failed midway with
// panic(http.ErrAbortHandler), which AccessLog lets through to net/http.
//
// The ResponseWriter that next sees keeps io.ReaderFrom (so that net/http
// can still send files with sendfile) and http.Flusher, and unwraps for
// http.ResponseController. A nil logger logs nothing.
func AccessLog(next http.Handler, logger *slog.Logger) http.Handler {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &accessLogWriter{ResponseWriter: w}
		defer func() {
			v := recover()
			logRequest(r, logger, rec, start, v)
			if v != nil {
				panic(v)
			}
		}()
		next.ServeHTTP(rec, r)
	})
}

// logRequest writes the one record of a request that started at start;
// panicked is what the handler panicked with, or nil.
//
// It builds the record as Logger.LogAttrs would, with its five common
// attributes in the record itself (no slice) and the time that ends the
// duration as the record's (one clock read, not two).
func logRequest(r *http.Request, logger *slog.Logger, rec *accessLogWriter, start time.Time, panicked any) {
	ctx := r.Context()
	level, msg := slog.LevelInfo, "request"
	clientGone := rec.writeErr != nil || errors.Is(ctx.Err(), context.Canceled)
	switch {
	case panicked == http.ErrAbortHandler:
		level, msg = slog.LevelWarn, "response aborted"
	case panicked != nil:
		level, msg = slog.LevelError, "request panicked"
	case clientGone:
		msg = "client went away"
	case rec.statusCode() >= http.StatusInternalServerError:
		level, msg = slog.LevelError, "request failed"
	}
	h := logger.Handler()
	if !h.Enabled(ctx, level) {
		return
	}
	end := time.Now()
	var pc [1]uintptr
	runtime.Callers(1, pc[:]) // this function, as LogAttrs would record it
	record := slog.NewRecord(end, level, msg, pc[0])
	record.AddAttrs(
		slog.String("method", r.Method),
		slog.String("path", redactURL(r.URL)),
		slog.Int("status", rec.statusCode()),
		slog.Int64("bytes", rec.bytes),
		slog.Duration("duration", end.Sub(start)),
	)
	if h.Enabled(ctx, slog.LevelDebug) {
		record.AddAttrs(slog.Any("header", redactHeader(r.Header)))
	}
	switch {
	case panicked == http.ErrAbortHandler:
	case panicked != nil:
		record.AddAttrs(slog.Any("panic", panicked))
	case clientGone && rec.writeErr != nil:
		record.AddAttrs(slog.String("error", rec.writeErr.Error()))
	}
	_ = h.Handle(ctx, record) // as Logger.LogAttrs, which drops the error
}

// redactURL returns u's escaped path and query as sent, with the value of
// every query parameter that can carry a token replaced by redacted. The
// query is rewritten pair by pair ("&" and ";" both separate pairs, as some
// servers take either), so that the rest is exactly what the client sent.
func redactURL(u *url.URL) string {
	path := u.EscapedPath()
	if u.RawQuery == "" && !u.ForceQuery {
		return path
	}
	return path + "?" + redactQuery(u.RawQuery)
}

// redactQuery replaces the values of token parameters in a raw query.
func redactQuery(raw string) string {
	var b strings.Builder
	b.Grow(len(raw))
	for raw != "" {
		pair := raw
		sep := ""
		if i := strings.IndexAny(raw, "&;"); i >= 0 {
			pair, sep, raw = raw[:i], raw[i:i+1], raw[i+1:]
		} else {
			raw = ""
		}
		if rawKey, _, hasValue := strings.Cut(pair, "="); hasValue && isSecretQueryKey(rawKey) {
			pair = rawKey + "=" + redacted
		}
		b.WriteString(pair)
		b.WriteString(sep)
	}
	return b.String()
}

// isSecretQueryKey reports whether a raw (still escaped) query key names a
// parameter that can carry a token. It errs on the side of redacting: any
// key that mentions "token", in any case and however escaped, and GitLab's
// other credential names.
func isSecretQueryKey(rawKey string) bool {
	key, err := url.QueryUnescape(rawKey)
	if err != nil {
		key = rawKey
	}
	return isSecretName(key) || isSecretName(rawKey)
}

// redactHeader returns a copy of h in which the values of every header that
// can carry a credential (Authorization, Proxy-Authorization, Cookie,
// PRIVATE-TOKEN, JOB-TOKEN, and any name that mentions a token, in any case)
// are replaced by redacted.
func redactHeader(h http.Header) http.Header {
	out := make(http.Header, len(h))
	for name, values := range h {
		if isSecretName(name) {
			masked := make([]string, len(values))
			for i := range masked {
				masked[i] = redacted
			}
			out[name] = masked
			continue
		}
		out[name] = append([]string(nil), values...)
	}
	return out
}

// isSecretName reports whether a header or parameter name can carry a
// credential: "_" and "-" are the same and case does not matter.
func isSecretName(name string) bool {
	n := strings.ReplaceAll(strings.ToLower(name), "_", "-")
	if strings.Contains(n, "token") {
		return true // private-token, job-token, token, access-token, x-gitlab-token …
	}
	switch n {
	case "authorization", "proxy-authorization", "cookie", "set-cookie", "password", "secret":
		return true
	}
	return false
}

// accessLogWriter records the status, the body bytes and the first write
// error of a response.
type accessLogWriter struct {
	http.ResponseWriter
	status   int
	bytes    int64
	writeErr error
}

func (w *accessLogWriter) WriteHeader(code int) {
	if w.status == 0 && code >= http.StatusOK {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *accessLogWriter) Write(p []byte) (int, error) {
	w.wroteBody()
	n, err := w.ResponseWriter.Write(p)
	w.record(int64(n), err)
	return n, err
}

// ReadFrom lets io.Copy (and so http.ServeContent) hand the body to the
// connection's own ReadFrom, which uses sendfile for files.
func (w *accessLogWriter) ReadFrom(src io.Reader) (int64, error) {
	w.wroteBody()
	var n int64
	var err error
	if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok {
		n, err = rf.ReadFrom(src)
	} else {
		n, err = io.Copy(writerOnly{w.ResponseWriter}, src)
	}
	w.record(n, err)
	return n, err
}

// Flush flushes what the underlying writer buffered, if it can.
func (w *accessLogWriter) Flush() {
	w.wroteBody()
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap lets http.ResponseController reach the connection's writer
// (deadlines, full duplex).
func (w *accessLogWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// wroteBody notes the implicit 200 of a body written without WriteHeader.
func (w *accessLogWriter) wroteBody() {
	if w.status == 0 {
		w.status = http.StatusOK
	}
}

func (w *accessLogWriter) record(n int64, err error) {
	w.bytes += n
	if err != nil && w.writeErr == nil {
		w.writeErr = err
	}
}

// statusCode is the status sent, 200 when the handler wrote nothing.
func (w *accessLogWriter) statusCode() int {
	if w.status == 0 {
		return http.StatusOK
	}
	return w.status
}

// writerOnly hides every method but Write, so that io.Copy into it does not
// come back to ReadFrom.
type writerOnly struct{ io.Writer }
