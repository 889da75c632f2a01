package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/stretchr/testify/require"

	"github.com/ciartifacts/jobartifacts/pgstore"
	"github.com/ciartifacts/jobartifacts/s3store"
)

// The tokens every replica of a test cluster knows: the demo's (-token,
// -job-token) and a reporter of the -auth file.
const (
	clusterToken         = "glpat-replicas-maintainer"
	clusterJobToken      = "glcbt-replicas-job-100"
	clusterReporterToken = "glpat-replicas-reporter"
)

// services are the PostgreSQL and S3 servers that .ci/start-postgres and
// .ci/start-s3 start, from the variables they export.
type services struct {
	dsn                                            string
	s3Endpoint, s3AccessKey, s3SecretKey, s3Region string
}

// testServices returns the services to run replicas on. Without them the
// test is skipped, except under CI, where every suite must run.
func testServices(tb testing.TB) services {
	tb.Helper()
	s := services{
		dsn:         os.Getenv("JOBARTIFACTS_TEST_POSTGRES_DSN"),
		s3Endpoint:  os.Getenv("JOBARTIFACTS_TEST_S3_ENDPOINT"),
		s3AccessKey: os.Getenv("JOBARTIFACTS_TEST_S3_ACCESS_KEY"),
		s3SecretKey: os.Getenv("JOBARTIFACTS_TEST_S3_SECRET_KEY"),
		s3Region:    os.Getenv("JOBARTIFACTS_TEST_S3_REGION"),
	}
	if s.dsn == "" || s.s3Endpoint == "" {
		const hint = "PostgreSQL or S3 not available: run .ci/test-all to start both and run every suite"
		if os.Getenv("CI") == "true" {
			tb.Fatal(hint)
		}
		tb.Skip(hint)
	}
	if s.s3Region == "" {
		s.s3Region = "us-east-1"
	}
	return s
}

// s3Client is a path-style client of the test S3 service.
func (s services) s3Client(tb testing.TB) *minio.Client {
	tb.Helper()
	c, err := minio.New(s.s3Endpoint, &minio.Options{
		Creds:        credentials.NewStaticV4(s.s3AccessKey, s.s3SecretKey, ""),
		Region:       s.s3Region,
		BucketLookup: minio.BucketLookupPath,
	})
	require.NoError(tb, err)
	return c
}

// newSchema returns a fresh PostgreSQL schema name, dropped with
// everything in it when the test ends.
func (s services) newSchema(tb testing.TB) string {
	tb.Helper()
	name := "replicas_test_" + strings.ToLower(rand.Text()[:12])
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		conn, err := pgx.Connect(ctx, s.dsn)
		if err != nil {
			tb.Errorf("drop schema %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{name}.Sanitize()+" CASCADE"); err != nil {
			tb.Errorf("drop schema %s: %v", name, err)
		}
	})
	return name
}

// newBucket makes a bucket with a random name, emptied and removed when the
// test ends.
func (s services) newBucket(tb testing.TB, client *minio.Client) string {
	tb.Helper()
	bucket := "jobartifacts-replicas-" + strings.ToLower(rand.Text()[:12])
	require.NoError(tb, client.MakeBucket(tb.Context(), bucket, minio.MakeBucketOptions{}))
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		for obj := range client.ListObjects(ctx, bucket, minio.ListObjectsOptions{Recursive: true}) {
			if obj.Err == nil {
				_ = client.RemoveObject(ctx, bucket, obj.Key, minio.RemoveObjectOptions{})
			}
		}
		for up := range client.ListIncompleteUploads(ctx, bucket, "", true) {
			if up.Err == nil {
				_ = minio.Core{Client: client}.AbortMultipartUpload(ctx, bucket, up.Key, up.UploadID)
			}
		}
		if err := client.RemoveBucket(ctx, bucket); err != nil {
			tb.Errorf("remove bucket %s: %v", bucket, err)
		}
	})
	return bucket
}

// buildServer builds this program into a temp dir and returns the binary.
func buildServer(tb testing.TB) string {
	tb.Helper()
	bin := filepath.Join(tb.TempDir(), "server")
	// go test puts its own toolchain's bin first in PATH.
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	require.NoError(tb, err, "go build: %s", out)
	return bin
}

// s3Proxy stands between the program and S3, on loopback, and keeps the
// method, path, query and headers of every request it passes on: a blob
// deleted twice by two replicas shows there, and so do the options a store
// sends with. SigV4 signs the Host header, which the proxy passes on
// unchanged.
type s3Proxy struct {
	mu       sync.Mutex
	requests []*http.Request // the incoming requests, their bodies left out
	addr     string
}

func newS3Proxy(tb testing.TB, endpoint string) *s3Proxy {
	tb.Helper()
	p := &s3Proxy{}
	target := &url.URL{Scheme: "http", Host: endpoint}
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(target)
			r.Out.Host = r.In.Host
		},
		// A replica killed mid-request is what some tests do: not news.
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, _ error) { w.WriteHeader(http.StatusBadGateway) },
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(tb, err)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen := &http.Request{Method: r.Method, URL: r.URL, Header: r.Header.Clone()}
		p.mu.Lock()
		p.requests = append(p.requests, seen)
		p.mu.Unlock()
		rp.ServeHTTP(w, r)
	}), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	tb.Cleanup(func() { _ = srv.Close() })
	p.addr = ln.Addr().String()
	return p
}

// seen returns the requests passed on so far that keep says to.
func (p *s3Proxy) seen(keep func(r *http.Request) bool) []*http.Request {
	p.mu.Lock()
	defer p.mu.Unlock()
	var rs []*http.Request
	for _, r := range p.requests {
		if keep(r) {
			rs = append(rs, r)
		}
	}
	return rs
}

// deleteCounts returns how often each object was deleted, by object name.
func (p *s3Proxy) deleteCounts(bucket string) map[string]int {
	counts := map[string]int{}
	for _, r := range p.seen(func(r *http.Request) bool {
		return r.Method == http.MethodDelete && !r.URL.Query().Has("uploadId")
	}) {
		if key, ok := strings.CutPrefix(r.URL.Path, "/"+bucket+"/"); ok {
			counts[key]++
		}
	}
	return counts
}

// cluster is two replicas of this program on one PostgreSQL schema and one
// bucket, both fresh.
type cluster struct {
	t        *testing.T
	svc      services
	bin      string
	schema   string
	bucket   string
	s3       *minio.Client
	proxy    *s3Proxy
	args     []string
	env      []string
	replicas [2]*replica
	db       *pgxpool.Pool
}

// newCluster starts two replicas with the given extra flags. The first
// seeds the demo data; the second starts once the first serves, and finds
// the data there.
func newCluster(t *testing.T, bin string, extra ...string) *cluster {
	t.Helper()
	svc := testServices(t)
	c := &cluster{t: t, svc: svc, bin: bin, s3: svc.s3Client(t)}
	c.schema = svc.newSchema(t)
	c.bucket = svc.newBucket(t, c.s3)
	c.proxy = newS3Proxy(t, svc.s3Endpoint)

	auth := filepath.Join(t.TempDir(), "auth.json")
	authJSON, err := json.Marshal(map[string]any{
		"users": []map[string]any{{"name": "reporter", "tokens": []string{clusterReporterToken}, "roles": map[string]string{"1": "reporter"}}},
	})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(auth, authJSON, 0o600))

	c.args = append([]string{"-addr", "127.0.0.1:0"}, c.storeArgs()...)
	c.args = append(c.args,
		"-auth", auth,
		"-demo", "-token", clusterToken, "-job-token", clusterJobToken,
		"-shutdown-timeout", "5s",
	)
	c.args = append(c.args, extra...)
	c.env = os.Environ()
	for k, v := range c.credentials() {
		c.env = append(c.env, k+"="+v)
	}
	c.replicas[0] = c.start("a")
	c.replicas[1] = c.start("b")

	c.db, err = pgxpool.New(t.Context(), svc.dsn)
	require.NoError(t, err)
	t.Cleanup(c.db.Close)
	return c
}

// storeArgs are the store flags of the cluster's replicas.
func (c *cluster) storeArgs() []string {
	return []string{
		"-postgres", c.svc.dsn, "-postgres-schema", c.schema,
		"-s3-endpoint", c.proxy.addr, "-s3-bucket", c.bucket, "-s3-region", c.svc.s3Region,
		"-s3-addressing", "path", "-s3-tls=false",
	}
}

// credentials are the environment variables that give the replicas their
// S3 credentials.
func (c *cluster) credentials() map[string]string {
	return map[string]string{
		"JOBARTIFACTS_S3_ACCESS_KEY": c.svc.s3AccessKey,
		"JOBARTIFACTS_S3_SECRET_KEY": c.svc.s3SecretKey,
	}
}

// replica is one server process.
type replica struct {
	name   string
	cmd    *exec.Cmd
	url    string
	log    string
	exited chan struct{}
}

// servingLine is the log line with the address the server listens on.
var servingLine = regexp.MustCompile(`msg="serving the Job Artifacts API" addr=(\S+)`)

// start starts a replica and waits, at most 30 s, until it listens.
func (c *cluster) start(name string) *replica {
	t := c.t
	t.Helper()
	r := &replica{name: name, log: filepath.Join(t.TempDir(), name+".log"), exited: make(chan struct{})}
	logFile, err := os.Create(r.log)
	require.NoError(t, err)
	defer logFile.Close()
	r.cmd = exec.Command(c.bin, c.args...)
	r.cmd.Env = c.env
	r.cmd.Dir = t.TempDir() // -data is never opened: both halves are elsewhere
	r.cmd.Stdout, r.cmd.Stderr = logFile, logFile
	require.NoError(t, r.cmd.Start())
	go func() {
		_ = r.cmd.Wait()
		close(r.exited)
	}()
	t.Cleanup(func() { r.stop(t) })
	deadline := time.Now().Add(30 * time.Second)
	for {
		data, _ := os.ReadFile(r.log)
		if m := servingLine.FindSubmatch(data); m != nil {
			r.url = "http://" + string(m[1])
			return r
		}
		select {
		case <-r.exited:
			t.Fatalf("replica %s exited before serving:\n%s", name, data)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("replica %s did not serve within 30s:\n%s", name, data)
		}
	}
}

// kill9 kills the replica with SIGKILL and waits until it is gone.
func (r *replica) kill9(t *testing.T) {
	t.Helper()
	require.NoError(t, r.cmd.Process.Signal(syscall.SIGKILL))
	select {
	case <-r.exited:
	case <-time.After(10 * time.Second):
		t.Fatalf("replica %s still runs 10s after SIGKILL", r.name)
	}
}

// stop stops the replica with SIGTERM (SIGKILL after 10 s) unless it has
// exited, and reports log lines of level ERROR.
func (r *replica) stop(t *testing.T) {
	select {
	case <-r.exited:
	default:
		_ = r.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-r.exited:
		case <-time.After(10 * time.Second):
			_ = r.cmd.Process.Kill()
			<-r.exited
		}
	}
	data, _ := os.ReadFile(r.log)
	for line := range strings.Lines(string(data)) {
		if strings.Contains(line, "level=ERROR") {
			t.Errorf("replica %s logged: %s", r.name, line)
		}
	}
}

// restart starts replica i again, after it was killed.
func (c *cluster) restart(i int) {
	c.t.Helper()
	c.replicas[i] = c.start(c.replicas[i].name + "2")
}

// client is an HTTP client that does not follow redirects.
func testClient() *http.Client {
	return &http.Client{
		Transport:     http.DefaultTransport.(*http.Transport).Clone(),
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       2 * time.Minute,
	}
}

// answer is a response read whole.
type answer struct {
	status int
	header http.Header
	body   []byte
}

// do sends a request and reads the whole answer.
func do(t *testing.T, client *http.Client, method, rawURL string, header http.Header, body io.Reader) answer {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, rawURL, body)
	require.NoError(t, err)
	for k, vs := range header {
		if k == "Host" { // as a load balancer passes it on
			req.Host = vs[0]
			continue
		}
		req.Header[k] = vs
	}
	resp, err := client.Do(req)
	require.NoError(t, err, "%s %s", method, rawURL)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err, "%s %s", method, rawURL)
	return answer{status: resp.StatusCode, header: resp.Header, body: data}
}

// uploadURL is the runner upload route of job 100 on base.
func uploadURL(base string) string {
	return base + "/api/v4/jobs/100/artifacts?artifact_format=zip&artifact_type=archive&expire_in=1%20week"
}

// recordedKeys returns the blob keys that the schema's records name.
func (c *cluster) recordedKeys() []string {
	c.t.Helper()
	return c.queryKeys("SELECT blob_key FROM " + pgx.Identifier{c.schema, "artifacts"}.Sanitize())
}

// queuedKeys returns the keys of the blob deletion queue.
func (c *cluster) queuedKeys() []string {
	c.t.Helper()
	return c.queryKeys("SELECT blob_key FROM " + pgx.Identifier{c.schema, "deleted_blobs"}.Sanitize())
}

func (c *cluster) queryKeys(sql string) []string {
	c.t.Helper()
	rows, err := c.db.Query(c.t.Context(), sql)
	require.NoError(c.t, err)
	keys, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(c.t, err)
	slices.Sort(keys)
	return keys
}

// objects returns the bucket's object names, in order.
func (c *cluster) objects() []string {
	c.t.Helper()
	var keys []string
	for obj := range c.s3.ListObjects(c.t.Context(), c.bucket, minio.ListObjectsOptions{Recursive: true}) {
		require.NoError(c.t, obj.Err)
		keys = append(keys, obj.Key)
	}
	slices.Sort(keys)
	return keys
}

// incompleteUploads returns how many multipart uploads the bucket holds.
func (c *cluster) incompleteUploads() int {
	c.t.Helper()
	n := 0
	for up := range c.s3.ListIncompleteUploads(c.t.Context(), c.bucket, "", true) {
		require.NoError(c.t, up.Err)
		n++
	}
	return n
}

// blobStore is an s3store.Store on the cluster's bucket, as a replica has.
func (c *cluster) blobStore() *s3store.Store {
	c.t.Helper()
	s := s3store.New(c.s3, c.bucket)
	return s
}

// metadataStore is a pgstore.Store on the cluster's schema, as a replica
// has, for seeding.
func (c *cluster) metadataStore() *pgstore.Store {
	c.t.Helper()
	s, err := pgstore.Open(c.t.Context(), c.svc.dsn, pgstore.WithSchema(c.schema))
	require.NoError(c.t, err)
	c.t.Cleanup(s.Close)
	return s
}

// eventually polls cond every 20 ms until it holds, for at most timeout.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// header is a one-header http.Header.
func header(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	return h
}
