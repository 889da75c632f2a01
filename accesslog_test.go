package jobartifacts

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ciartifacts/jobartifacts/internal/logtest"
)

func TestRedactURL(t *testing.T) {
	tests := []struct{ raw, want string }{
		{"/api/v4/projects/1/jobs/42/artifacts", "/api/v4/projects/1/jobs/42/artifacts"},
		{"/p?job=test&job_token=glcbt-x", "/p?job=test&job_token=REDACTED"},
		{"/p?private_token=glpat-x&job=a%20b", "/p?private_token=REDACTED&job=a%20b"},
		{"/p?token=t&TOKEN=u&Job_Token=v", "/p?token=REDACTED&TOKEN=REDACTED&Job_Token=REDACTED"},
		{"/p?PRIVATE-TOKEN=a&private-token=b&Private_Token=c&JOB-TOKEN=d", "/p?PRIVATE-TOKEN=REDACTED&private-token=REDACTED&Private_Token=REDACTED&JOB-TOKEN=REDACTED"},
		{"/p?job%5Ftoken=glcbt-x", "/p?job%5Ftoken=REDACTED"}, // an escaped key is still the key
		{"/p?%50RIVATE%5fTOKEN=glpat-x", "/p?%50RIVATE%5fTOKEN=REDACTED"},
		{"/p?access_token=oauth&Authorization=Bearer%20x", "/p?access_token=REDACTED&Authorization=REDACTED"},
		{"/p?job=a;private_token=glpat-x", "/p?job=a;private_token=REDACTED"}, // ";" separates too
		{"/p?private_token=a=b=c", "/p?private_token=REDACTED"},
		{"/p?private_token=x&private_token=y", "/p?private_token=REDACTED&private_token=REDACTED"},
		{"/p?token", "/p?token"}, // no value, nothing to hide
		{"/p?&&job=x&", "/p?&&job=x&"},
		{"/p?", "/p?"},
		{"/projects/demo%2Fproject/jobs/1/artifacts", "/projects/demo%2Fproject/jobs/1/artifacts"},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			u, err := url.ParseRequestURI(tt.raw)
			require.NoError(t, err)
			require.Equal(t, tt.want, redactURL(u))
		})
	}
}

func TestRedactHeader(t *testing.T) {
	h := http.Header{
		"Private-Token":       {"glpat-a"},
		"private_token":       {"glpat-b"}, // not canonical: set directly, as a proxy might
		"Job-Token":           {"glcbt-c"},
		"Authorization":       {"Bearer d", "Basic e"},
		"Proxy-Authorization": {"Basic f"},
		"Cookie":              {"_gitlab_session=g"},
		"X-Gitlab-Token":      {"h"},
		"User-Agent":          {"python-gitlab/4.4.0"},
		"Accept":              {"*/*"},
	}
	got := redactHeader(h)
	require.Equal(t, http.Header{
		"Private-Token":       {"REDACTED"},
		"private_token":       {"REDACTED"},
		"Job-Token":           {"REDACTED"},
		"Authorization":       {"REDACTED", "REDACTED"},
		"Proxy-Authorization": {"REDACTED"},
		"Cookie":              {"REDACTED"},
		"X-Gitlab-Token":      {"REDACTED"},
		"User-Agent":          {"python-gitlab/4.4.0"},
		"Accept":              {"*/*"},
	}, got)
	require.Equal(t, []string{"glpat-a"}, h["Private-Token"], "the request's own header is left alone")
}

// accessLogServer serves h through AccessLog, logging at level into the
// returned buffer.
func accessLogServer(t *testing.T, h http.Handler, level slog.Level) (*httptest.Server, *logtest.Buffer) {
	t.Helper()
	logs := &logtest.Buffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: level}))
	ts := httptest.NewServer(AccessLog(h, logger))
	t.Cleanup(ts.Close)
	return ts, logs
}

// awaitLog waits for the server to log a line containing want: a record is
// written after the response, so the client may be done before it.
func awaitLog(t *testing.T, logs *logtest.Buffer, want string) string {
	t.Helper()
	require.Eventually(t, func() bool { return strings.Contains(logs.String(), want) }, 10*time.Second, time.Millisecond,
		"log: %s", logs)
	return logs.String()
}

func TestAccessLogRecordsWithoutTokens(t *testing.T) {
	const secret = "glpat-never-in-the-log-4f2a"
	ts, logs := accessLogServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/missing" {
			http.NotFound(w, r)
			return
		}
		_, _ = io.WriteString(w, "twelve bytes")
	}), slog.LevelDebug)

	for _, r := range []struct {
		target string
		header http.Header
	}{
		{target: "/a?private_token=" + secret},
		{target: "/a?Private_Token=" + secret + "&job=x"},
		{target: "/a?JOB-TOKEN=" + secret},
		{target: "/a", header: http.Header{"Private-Token": {secret}}},
		{target: "/a", header: http.Header{"JOB-TOKEN": {secret}}},
		{target: "/a", header: http.Header{"Authorization": {"Bearer " + secret}}},
		{target: "/missing?token=" + secret},
	} {
		req, err := http.NewRequest(http.MethodGet, ts.URL+r.target, nil)
		require.NoError(t, err)
		for k, v := range r.header {
			req.Header[k] = v
		}
		resp, err := ts.Client().Do(req)
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	log := awaitLog(t, logs, `path="/missing?token=REDACTED"`)
	require.NotContains(t, log, secret)
	require.Equal(t, 7, strings.Count(log, "\n"), "one record per request: %s", log)
	require.Equal(t, 6, strings.Count(log, `status=200 bytes=12`))
	require.Equal(t, 7, strings.Count(log, `level=INFO msg=request method=GET`))
	require.Contains(t, log, `path="/a?Private_Token=REDACTED&job=x" status=200 bytes=12 duration=`)
	require.Contains(t, log, `msg=request method=GET path="/missing?token=REDACTED" status=404 bytes=19`)
	require.Contains(t, log, `Private-Token:[REDACTED]`)
	require.Contains(t, log, `Authorization:[REDACTED]`)
}

func TestAccessLogServerErrorAndAbort(t *testing.T) {
	ts, logs := accessLogServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/fail":
			http.Error(w, "boom", http.StatusInternalServerError)
		case "/abort":
			w.Header().Set("Content-Length", "100")
			_, _ = io.WriteString(w, "partial")
			panic(http.ErrAbortHandler)
		}
	}), slog.LevelInfo)

	resp, err := ts.Client().Get(ts.URL + "/fail")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusInternalServerError, resp.StatusCode)
	awaitLog(t, logs, `level=ERROR msg="request failed" method=GET path=/fail status=500`)

	resp, err = ts.Client().Get(ts.URL + "/abort")
	if err == nil {
		_, err = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	require.Error(t, err, "the aborted response is cut short")
	awaitLog(t, logs, `level=WARN msg="response aborted" method=GET path=/abort status=200 bytes=7`)
}

// TestAccessLogClientWentAway: a client that disconnects in the middle of a
// response is logged as gone, at Info, not as a server error.
func TestAccessLogClientWentAway(t *testing.T) {
	started := make(chan struct{})
	ts, logs := accessLogServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "first chunk\n")
		http.NewResponseController(w).Flush()
		close(started)
		chunk := bytes.Repeat([]byte("x"), 32<<10)
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			if _, err := w.Write(chunk); err != nil {
				return
			}
			if r.Context().Err() != nil {
				http.Error(w, "gone", http.StatusInternalServerError) // what a store error would become
				return
			}
		}
	}), slog.LevelInfo)

	conn, err := net.Dial("tcp", ts.Listener.Addr().String())
	require.NoError(t, err)
	_, err = io.WriteString(conn, "GET /stream HTTP/1.1\r\nHost: x\r\n\r\n")
	require.NoError(t, err)
	line, err := bufio.NewReader(conn).ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "HTTP/1.1 200 OK\r\n", line)
	<-started
	require.NoError(t, conn.Close())

	log := awaitLog(t, logs, `msg="client went away"`)
	require.Contains(t, log, `level=INFO msg="client went away" method=GET path=/stream status=200`)
	require.NotContains(t, log, "level=ERROR")
}

// recordingWriter is a ResponseWriter with its own ReadFrom, as net/http's
// is: ReadFrom tells whether a body went through it.
type recordingWriter struct {
	*httptest.ResponseRecorder
	readFrom bool
}

func (w *recordingWriter) ReadFrom(r io.Reader) (int64, error) {
	w.readFrom = true
	return io.Copy(w.ResponseRecorder, r)
}

// TestAccessLogKeepsWriterInterfaces: the writer a handler sees through
// AccessLog still offers io.ReaderFrom (http.ServeContent's copy of a file
// reaches the connection's ReadFrom, where net/http uses sendfile),
// http.Flusher, and, through Unwrap, http.ResponseController's deadlines.
func TestAccessLogKeepsWriterInterfaces(t *testing.T) {
	path := filepath.Join(t.TempDir(), "blob")
	require.NoError(t, os.WriteFile(path, bytes.Repeat([]byte("0123456789"), 1000), 0o600))
	logs := &logtest.Buffer{}
	h := AccessLog(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, isReaderFrom := w.(io.ReaderFrom)
		_, isFlusher := w.(http.Flusher)
		require.True(t, isReaderFrom)
		require.True(t, isFlusher)
		f, err := os.Open(path)
		require.NoError(t, err)
		defer f.Close()
		http.ServeContent(w, r, "blob", time.Time{}, f)
	}), slog.New(slog.NewTextHandler(logs, nil)))

	w := &recordingWriter{ResponseRecorder: httptest.NewRecorder()}
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/blob", nil))
	require.True(t, w.readFrom, "the body went through the underlying ReadFrom")
	require.Equal(t, 10000, w.Body.Len())
	require.Contains(t, logs.String(), "status=200 bytes=10000")

	// And on a real connection: a deadline set through the wrapper works.
	ts, _ := accessLogServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		if err := rc.SetWriteDeadline(time.Now().Add(time.Minute)); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		_, _ = io.WriteString(w, "ok")
		if err := rc.Flush(); err != nil {
			_, _ = io.WriteString(w, " but Flush: "+err.Error())
		}
	}), slog.LevelInfo)
	resp, err := ts.Client().Get(ts.URL)
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.Equal(t, "ok", string(body))
}

// FuzzRedactQuery: whatever the query, a non-empty value of a token parameter
// that a server would read from it (url.ParseQuery) is logged as REDACTED, every
// other parameter is logged as sent, and redacting twice changes nothing.
func FuzzRedactQuery(f *testing.F) {
	f.Add("job=test&private_token=glpat-x")
	f.Add("PRIVATE-TOKEN=a&Job_Token=b;token=c")
	f.Add("%50rivate%5Ftoken=glpat-x&job=a+b")
	f.Fuzz(func(t *testing.T, raw string) {
		got := redactQuery(raw)
		if again := redactQuery(got); again != got {
			t.Fatalf("redacting %q twice: %q, then %q", raw, got, again)
		}
		if strings.Count(got, "&")+strings.Count(got, ";") != strings.Count(raw, "&")+strings.Count(raw, ";") {
			t.Fatalf("pairs of %q changed: %q", raw, got)
		}
		sent, err := url.ParseQuery(raw)
		if err != nil {
			return // a server rejects such a query; the pair checks above hold still
		}
		logged, err := url.ParseQuery(got)
		if err != nil {
			t.Fatalf("%q parses, its redaction %q does not: %v", raw, got, err)
		}
		for key, values := range sent {
			if isSecretName(key) {
				for _, v := range logged[key] {
					if v != redacted && v != "" { // "token" alone has nothing to hide
						t.Fatalf("%q: %s=%q logged as %q", raw, key, v, got)
					}
				}
				continue
			}
			if !slices.Equal(values, logged[key]) && !rawKeyRedacted(raw, key) {
				t.Fatalf("%q: %s=%q logged as %q", raw, key, values, logged[key])
			}
		}
	})
}

// rawKeyRedacted reports whether some spelling of key in raw is a secret
// name as written (escaped), which redactQuery honours too.
func rawKeyRedacted(raw, key string) bool {
	for _, pair := range strings.Split(raw, "&") {
		rawKey, _, _ := strings.Cut(pair, "=")
		if k, err := url.QueryUnescape(rawKey); err == nil && k == key && isSecretName(rawKey) {
			return true
		}
	}
	return false
}

// TestAccessLogRecordFields: the record AccessLog builds itself is what
// Logger.LogAttrs made: its time within the request, the attributes in
// order, and, for a handler that asks for the source, logRequest's.
func TestAccessLogRecordFields(t *testing.T) {
	var out bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&out, &slog.HandlerOptions{AddSource: true}))
	h := AccessLog(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(2 * time.Millisecond)
		_, _ = io.WriteString(w, "hello")
	}), logger)
	before := time.Now()
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/x?job_token=secret", nil))
	after := time.Now()

	line := out.String()
	require.Equal(t, 1, strings.Count(line, "\n"), line)
	var rec struct {
		Time     time.Time
		Level    string
		Msg      string
		Method   string
		Path     string
		Status   int
		Bytes    int64
		Duration time.Duration
		Source   struct{ Function, File string }
	}
	require.NoError(t, json.Unmarshal([]byte(line), &rec))
	require.Equal(t, "INFO", rec.Level)
	require.Equal(t, "request", rec.Msg)
	require.Equal(t, "GET", rec.Method)
	require.Equal(t, "/x?job_token=REDACTED", rec.Path)
	require.Equal(t, 200, rec.Status)
	require.Equal(t, int64(5), rec.Bytes)
	require.GreaterOrEqual(t, rec.Duration, 2*time.Millisecond)
	require.LessOrEqual(t, rec.Duration, after.Sub(before))
	require.False(t, rec.Time.Before(before.Add(rec.Duration).Truncate(time.Millisecond)), "the record's time ends the duration")
	require.False(t, rec.Time.After(after))
	require.Equal(t, "github.com/ciartifacts/jobartifacts.logRequest", rec.Source.Function)
	require.Equal(t, "accesslog.go", filepath.Base(rec.Source.File))
	keys := regexp.MustCompile(`"([a-z]+)":`).FindAllStringSubmatch(line, -1)
	var order []string
	for _, k := range keys {
		order = append(order, k[1])
	}
	require.Equal(t, []string{"time", "level", "source", "function", "file", "line", "msg", "method", "path", "status", "bytes", "duration"}, order)
}
