package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ciartifacts/jobartifacts"
	"github.com/ciartifacts/jobartifacts/fsstore"
	"github.com/ciartifacts/jobartifacts/memstore"
	"github.com/ciartifacts/jobartifacts/pgstore"
	"github.com/ciartifacts/jobartifacts/s3store"
)

func TestParseStoreFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr string
		check   func(t *testing.T, cfg serveConfig)
	}{
		{name: "fsstore by default", check: func(t *testing.T, cfg serveConfig) {
			require.Empty(t, cfg.postgresDSN)
			require.Empty(t, cfg.s3.bucket)
			require.Equal(t, pgstore.DefaultSchema, cfg.postgresSchema)
			require.Equal(t, time.Hour, cfg.blobGrace)
			require.Equal(t, 24*time.Hour, cfg.orphanAge)
			require.Equal(t, fsstore.DefaultIdleBlobFiles, cfg.idleBlobFiles)
			require.Equal(t, int64(fsstore.DefaultSpaceReserve), cfg.spaceReserve)
			require.True(t, cfg.directIO)
		}},
		{name: "no direct I/O", args: []string{"-direct-io=false"}, check: func(t *testing.T, cfg serveConfig) {
			require.False(t, cfg.directIO)
		}},
		{name: "idle blob files", args: []string{"-idle-blob-files", "0"}, check: func(t *testing.T, cfg serveConfig) {
			require.Zero(t, cfg.idleBlobFiles)
		}},
		{name: "negative idle blob files", args: []string{"-idle-blob-files", "-1"}, wantErr: "-idle-blob-files must not be negative"},
		{name: "no space reserve", args: []string{"-space-reserve", "0"}, check: func(t *testing.T, cfg serveConfig) {
			require.Zero(t, cfg.spaceReserve)
		}},
		{name: "negative space reserve", args: []string{"-space-reserve", "-1"}, wantErr: "-space-reserve must not be negative"},
		{name: "no read-ahead", args: []string{"-s3-bucket", "b", "-s3-read-ahead", "0"}, wantErr: "-s3-read-ahead must be at least 1"},
		{name: "part size under S3's least", args: []string{"-s3-bucket", "b", "-s3-part-size", "5242879"}, wantErr: "S3 takes parts of 5 MiB"},
		{name: "part size over S3's most", args: []string{"-s3-bucket", "b", "-s3-part-size", "5368709121"}, wantErr: "S3 takes parts of 5 MiB"},
		{name: "postgres and s3", args: []string{
			"-postgres", "host=/run/postgresql dbname=ci", "-postgres-schema", "ci_artifacts",
			"-s3-bucket", "artifacts", "-s3-endpoint", "127.0.0.1:7070", "-s3-region", "eu-west-1",
			"-s3-addressing", "path", "-s3-tls=false", "-s3-prefix", "ja/", "-s3-part-size", "5242880", "-s3-part-memory", "67108864", "-s3-read-ahead", "262144", "-s3-create-only=false",
			"-blob-grace", "0", "-orphan-age", "2h",
		}, check: func(t *testing.T, cfg serveConfig) {
			require.Equal(t, "host=/run/postgresql dbname=ci", cfg.postgresDSN)
			require.Equal(t, "ci_artifacts", cfg.postgresSchema)
			require.Equal(t, s3Config{endpoint: "127.0.0.1:7070", bucket: "artifacts", region: "eu-west-1", prefix: "ja/", addressing: "path", tls: false, partSize: 5 << 20, partMemory: 64 << 20, readAhead: 256 << 10, createOnly: false}, cfg.s3)
			require.Zero(t, cfg.blobGrace)
			require.Equal(t, 2*time.Hour, cfg.orphanAge)
		}},
		{name: "s3 defaults", args: []string{"-s3-bucket", "b"}, check: func(t *testing.T, cfg serveConfig) {
			require.Equal(t, s3Config{endpoint: "s3.amazonaws.com", bucket: "b", addressing: "auto", tls: true, partSize: s3store.DefaultPartSize, partMemory: s3store.DefaultPartMemory, readAhead: s3store.DefaultReadAheadMax, createOnly: true}, cfg.s3)
		}},
		{name: "schema without postgres", args: []string{"-postgres-schema", "x"}, wantErr: "-postgres-schema goes with -postgres"},
		{name: "prefix without bucket", args: []string{"-s3-prefix", "x/"}, wantErr: "-s3-prefix goes with -s3-bucket"},
		{name: "unknown addressing", args: []string{"-s3-bucket", "b", "-s3-addressing", "dns"}, wantErr: "want path, virtual or auto"},
		{name: "negative grace", args: []string{"-blob-grace", "-1s"}, wantErr: "must not be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := parseServeFlags(tt.args, io.Discard)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			tt.check(t, cfg)
		})
	}
}

func TestS3Credentials(t *testing.T) {
	env := func(vars map[string]string) func(string) string {
		return func(k string) string { return vars[k] }
	}
	tests := []struct {
		name       string
		vars       map[string]string
		wantID     string
		wantSecret string
		wantErr    string
	}{
		{name: "ours", vars: map[string]string{"JOBARTIFACTS_S3_ACCESS_KEY": "id", "JOBARTIFACTS_S3_SECRET_KEY": "secret", "AWS_ACCESS_KEY_ID": "aws"}, wantID: "id", wantSecret: "secret"},
		{name: "aws", vars: map[string]string{"AWS_ACCESS_KEY_ID": "aws-id", "AWS_SECRET_ACCESS_KEY": "aws-secret"}, wantID: "aws-id", wantSecret: "aws-secret"},
		{name: "half of ours", vars: map[string]string{"JOBARTIFACTS_S3_ACCESS_KEY": "id", "AWS_ACCESS_KEY_ID": "aws-id", "AWS_SECRET_ACCESS_KEY": "aws-secret"}, wantErr: "set both"},
		{name: "none", vars: map[string]string{}, wantErr: "S3 credentials"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			creds, err := s3Credentials(env(tt.vars))
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			v, err := creds.GetWithContext(nil)
			require.NoError(t, err)
			require.Equal(t, tt.wantID, v.AccessKeyID)
			require.Equal(t, tt.wantSecret, v.SecretAccessKey)
		})
	}
}

// TestOpenStoreDefault: without -postgres and -s3-bucket the store is the
// fsstore in -data alone, as before.
func TestOpenStoreDefault(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	s, err := openStore(context.Background(), storeConfig{dataDir: dir, postgresSchema: pgstore.DefaultSchema, s3: s3Config{addressing: "auto"}}, func(string) string { return "" })
	require.NoError(t, err)
	defer s.Close()
	fs, ok := s.seedStore.(*fsstore.Store)
	require.True(t, ok, "%T", s.seedStore)
	require.Equal(t, dir, fs.Dir())
	require.Nil(t, s.abortIncompleteUploads)
}

// TestOpenStoreDirectIO: -direct-io reaches the fsstore.
func TestOpenStoreDirectIO(t *testing.T) {
	for _, direct := range []bool{true, false} {
		s, err := openStore(t.Context(), storeConfig{dataDir: t.TempDir(), directIO: direct, postgresSchema: pgstore.DefaultSchema, s3: s3Config{addressing: "auto"}}, func(string) string { return "" })
		require.NoError(t, err)
		fs, ok := s.seedStore.(*fsstore.Store)
		require.True(t, ok, "%T", s.seedStore)
		require.Equal(t, direct, fs.DirectIO(), "-direct-io=%v", direct)
		s.Close()
	}
}

// TestOpenStoreSpaceReserve: -space-reserve reaches the fsstore, whose
// reserve file in -data has that size; with 0 there is none.
func TestOpenStoreSpaceReserve(t *testing.T) {
	for _, size := range []int64{fsstore.DefaultSpaceReserve, 3 << 20, 0} {
		dir := t.TempDir()
		s, err := openStore(t.Context(), storeConfig{dataDir: dir, spaceReserve: size, postgresSchema: pgstore.DefaultSchema, s3: s3Config{addressing: "auto"}}, func(string) string { return "" })
		require.NoError(t, err)
		fi, err := os.Stat(filepath.Join(dir, "reserve"))
		if size == 0 {
			require.ErrorIs(t, err, fs.ErrNotExist, "-space-reserve 0")
		} else {
			require.NoError(t, err)
			require.Equal(t, size, fi.Size(), "-space-reserve %d", size)
		}
		s.Close()
	}
}

// TestOpenStoreS3PartSize: -s3-part-size reaches the s3store: an archive of
// 6 MiB goes up in one PUT with the default 16 MiB parts and as a multipart
// upload of two parts with 5 MiB ones, whose object's ETag says so (S3's
// "<hash>-<parts>").
func TestOpenStoreS3PartSize(t *testing.T) {
	svc := testServices(t)
	bucket := svc.newBucket(t, svc.s3Client(t))
	archive := bytes.Repeat([]byte("0123456789abcdef"), 6<<20/16)
	for _, tc := range []struct {
		partSize  int64
		multipart bool
	}{{s3store.DefaultPartSize, false}, {5 << 20, true}} {
		s := openS3TestStore(t, svc, svc.s3Endpoint, bucket, func(c *s3Config) { c.partSize = tc.partSize })
		key := jobartifacts.BlobKey(fmt.Sprintf("part-size-%d", tc.partSize))
		info, err := s.PutBlob(t.Context(), key, bytes.NewReader(archive))
		require.NoError(t, err)
		require.Equal(t, int64(len(archive)), info.Size)
		if tc.multipart {
			require.True(t, strings.HasSuffix(info.ETag, `-2"`), "-s3-part-size %d: ETag %s, want two parts", tc.partSize, info.ETag)
		} else {
			require.NotContains(t, info.ETag, "-", "-s3-part-size %d: ETag %s, want a single PUT", tc.partSize, info.ETag)
		}
	}
}

// TestOpenStoreS3ReadAhead: -s3-read-ahead reaches the s3store: reading a
// 2 MiB archive from its start in 4 KiB reads takes a ranged GET for each
// window, which doubles from 64 KiB up to the flag's value (counted by a
// proxy in front of the S3 service): 6 GETs with the default 1 MiB, 32
// with 64 KiB.
func TestOpenStoreS3ReadAhead(t *testing.T) {
	svc := testServices(t)
	bucket := svc.newBucket(t, svc.s3Client(t))
	proxy := newS3Proxy(t, svc.s3Endpoint)
	rangedGETs := func() int {
		return len(proxy.seen(func(r *http.Request) bool { return r.Method == http.MethodGet && r.Header.Get("Range") != "" }))
	}
	archive := bytes.Repeat([]byte("0123456789abcdef"), 2<<20/16)
	for _, tc := range []struct {
		readAhead int
		gets      int
	}{{s3store.DefaultReadAheadMax, 6}, {64 << 10, 32}} {
		s := openS3TestStore(t, svc, proxy.addr, bucket, func(c *s3Config) { c.readAhead = tc.readAhead })
		key := jobartifacts.BlobKey(fmt.Sprintf("read-ahead-%d", tc.readAhead))
		_, err := s.PutBlob(t.Context(), key, bytes.NewReader(archive))
		require.NoError(t, err)
		b, err := s.OpenBlob(t.Context(), key)
		require.NoError(t, err)
		before := rangedGETs()
		got := make([]byte, len(archive))
		for off := 0; off < len(got); off += 4 << 10 {
			_, err := b.ReadAt(got[off:off+4<<10], int64(off))
			require.NoError(t, err)
		}
		require.Equal(t, archive, got)
		require.Equal(t, tc.gets, rangedGETs()-before, "-s3-read-ahead %d: ranged GETs", tc.readAhead)
		require.NoError(t, b.Close())
	}
}

// TestOpenStoreS3CreateOnly: -s3-create-only reaches the s3store: a
// PUT of an archive carries If-None-Match: * by default, and none with
// -s3-create-only=false (seen by the proxy in front of the S3 service).
func TestOpenStoreS3CreateOnly(t *testing.T) {
	svc := testServices(t)
	bucket := svc.newBucket(t, svc.s3Client(t))
	proxy := newS3Proxy(t, svc.s3Endpoint)
	for _, createOnly := range []bool{true, false} {
		s := openS3TestStore(t, svc, proxy.addr, bucket, func(c *s3Config) { c.createOnly = createOnly })
		key := fmt.Sprintf("create-only-%v", createOnly)
		_, err := s.PutBlob(t.Context(), jobartifacts.BlobKey(key), strings.NewReader("archive bytes"))
		require.NoError(t, err)
		puts := proxy.seen(func(r *http.Request) bool { return r.Method == http.MethodPut && path.Base(r.URL.Path) == key })
		require.Len(t, puts, 1, "-s3-create-only=%v: the archive's PUTs", createOnly)
		want := "*"
		if !createOnly {
			want = ""
		}
		require.Equal(t, want, puts[0].Header.Get("If-None-Match"), "-s3-create-only=%v", createOnly)
	}
}

// openS3TestStore opens the program's store with its blobs in bucket of the
// test S3 service, reached at endpoint, and the -s3 flags' defaults but for
// what tune changes. It is closed when the test ends.
func openS3TestStore(t *testing.T, svc services, endpoint, bucket string, tune func(*s3Config)) *openedStore {
	t.Helper()
	cfg := s3Config{endpoint: endpoint, bucket: bucket, region: svc.s3Region, addressing: "path",
		partSize: s3store.DefaultPartSize, partMemory: s3store.DefaultPartMemory, readAhead: s3store.DefaultReadAheadMax, createOnly: true}
	tune(&cfg)
	getenv := func(name string) string {
		return map[string]string{"JOBARTIFACTS_S3_ACCESS_KEY": svc.s3AccessKey, "JOBARTIFACTS_S3_SECRET_KEY": svc.s3SecretKey}[name]
	}
	s, err := openStore(t.Context(), storeConfig{dataDir: t.TempDir(), postgresSchema: pgstore.DefaultSchema, s3: cfg}, getenv)
	require.NoError(t, err)
	t.Cleanup(s.Close)
	return s
}

// TestOpenStoreIdleBlobFiles: -idle-blob-files reaches the fsstore: an
// archive's file stays open after its download by default, and not with 0.
func TestOpenStoreIdleBlobFiles(t *testing.T) {
	openFiles := func() int {
		t.Helper()
		fds, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			t.Skipf("no /proc/self/fd: %v", err)
		}
		return len(fds)
	}
	for _, tc := range []struct {
		idle     int
		keptOpen int
	}{{fsstore.DefaultIdleBlobFiles, 1}, {0, 0}} {
		s, err := openStore(t.Context(), storeConfig{dataDir: t.TempDir(), idleBlobFiles: tc.idle, postgresSchema: pgstore.DefaultSchema, s3: s3Config{addressing: "auto"}}, func(string) string { return "" })
		require.NoError(t, err)
		_, err = s.PutBlob(t.Context(), "k", strings.NewReader("archive bytes"))
		require.NoError(t, err)
		before := openFiles()
		b, err := s.OpenBlob(t.Context(), "k")
		require.NoError(t, err)
		require.NoError(t, b.Close())
		require.Equal(t, before+tc.keptOpen, openFiles(), "-idle-blob-files %d", tc.idle)
		s.Close()
	}
}

// TestComposeStoreProjectJobReader: the composed store is a
// ProjectJobReader exactly when its metadata half is one, so that the
// handler reads pgstore's project and job in one round trip.
func TestComposeStoreProjectJobReader(t *testing.T) {
	fs, err := fsstore.Open(t.TempDir())
	require.NoError(t, err)
	t.Cleanup(func() { _ = fs.Close() })
	pj, ok := composeStore(fs, fs).(jobartifacts.ProjectJobReader)
	require.True(t, ok, "fsstore's ProjectJob is kept")
	require.NoError(t, fs.PutProject(t.Context(), jobartifacts.Project{ID: 1, PathWithNamespace: "group/app"}))
	p, j, err := pj.ProjectJob(t.Context(), 1, 100)
	require.ErrorIs(t, err, jobartifacts.ErrNotFound)
	require.Equal(t, int64(1), p.ID)
	require.Nil(t, j)

	m := memstore.New()
	_, ok = composeStore(m, m).(jobartifacts.ProjectJobReader)
	require.False(t, ok, "memstore has no ProjectJob")
}

// The halves the flags can name are all seedable Stores.
var (
	_ seedMetadata = (*fsstore.Store)(nil)
	_ seedMetadata = (*pgstore.Store)(nil)
	_ seedStore    = composedStore{}
	_ seedStore    = composedProjectJobStore{}
)
