package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/ciartifacts/jobartifacts"
	"github.com/ciartifacts/jobartifacts/s3store"
	"github.com/ciartifacts/jobartifacts/tokenauth"
)

// serveConfig is what the serve flags say.
type serveConfig struct {
	storeConfig
	sweepConfig
	addr            string
	authFile        string
	demo            bool
	token           string // the demo maintainer's personal access token
	jobToken        string // the CI job token of the demo's running job
	shutdownTimeout time.Duration
	maxEntrySize    int64
	indexBudget     int64
	zstdDecoders    int
	zstdMemory      int64
	uploadMemory    int64
	maxUploadSize   int64
	defaultExpireIn time.Duration
	signedURLExpiry time.Duration
	corsOrigin      string
	limits          connLimits
}

// demoUser is the name of the demo's maintainer in logs.
const demoUser = "demo-maintainer"

// parseServeFlags reads the serve flags. With -demo, tokens not given are
// generated.
func parseServeFlags(args []string, stderr io.Writer) (serveConfig, error) {
	var cfg serveConfig
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.addr, "addr", "127.0.0.1:8080", "address to listen on")
	addStoreFlags(fs, &cfg.storeConfig)
	fs.StringVar(&cfg.authFile, "auth", "", "JSON file of users and job tokens (tokenauth.Config)")
	fs.BoolVar(&cfg.demo, "demo", false, "seed the data of GitLab's Job Artifacts API docs (see above)")
	fs.StringVar(&cfg.token, "token", "", "with -demo: the maintainer's personal access token (default: generated and printed)")
	fs.StringVar(&cfg.jobToken, "job-token", "", "with -demo: the CI job token of running job 100 (default: generated and printed)")
	fs.DurationVar(&cfg.shutdownTimeout, "shutdown-timeout", 30*time.Second, "how long downloads in flight may take to finish after SIGINT or SIGTERM")
	fs.Int64Var(&cfg.maxEntrySize, "max-entry-size", jobartifacts.DefaultMaxEntrySize, "largest single file served from an archive, in bytes (0: no limit)")
	fs.Int64Var(&cfg.indexBudget, "index-budget", jobartifacts.DefaultArchiveIndexBudget, "memory, in bytes, for the indexes of archives' central directories, shared by all requests (0: none)")
	fs.IntVar(&cfg.zstdDecoders, "zstd-decoders", jobartifacts.DefaultZstdDecoders, "zstd decoders kept at most, in use or idle (0: no bound)")
	fs.Int64Var(&cfg.zstdMemory, "zstd-memory", jobartifacts.DefaultZstdMemory, "memory, in bytes, for zstd decoders in use or idle, each holding its frame's window (0: no bound)")
	fs.Int64Var(&cfg.uploadMemory, "upload-memory", jobartifacts.DefaultUploadMemory, "memory, in bytes, for the 4 MiB blocks of uploads in flight, three an upload, up to eight while half of it is free; past it uploads read into 64 KiB blocks (0: no bound)")
	fs.Int64Var(&cfg.maxUploadSize, "max-upload-size", 100<<20, "largest artifact file a runner may upload, in bytes (0: no limit)")
	fs.DurationVar(&cfg.defaultExpireIn, "default-expire-in", 30*24*time.Hour, "how long uploads without expire_in are kept (0: forever)")
	fs.DurationVar(&cfg.signedURLExpiry, "signed-url-expiry", 5*time.Minute, "with -s3-bucket: how long the URLs that whole-archive downloads are redirected to stay valid, 1s to 168h; keep it under -blob-grace")
	addSweepFlags(fs, &cfg.sweepConfig)
	fs.StringVar(&cfg.corsOrigin, "cors-origin", "", "the origin allowed CORS requests with credentials, as GitLab allows its own URL (e.g. https://gitlab.example.com); other origins get Access-Control-Allow-Origin: * without")
	addLimitFlags(fs, &cfg.limits)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: server [flags]
       server import [flags] archive.zip   (server import -h for its flags)

Serves GitLab's Job Artifacts API (under /api/v4) from the store in -data,
runner uploads included, and deletes expired artifacts every -sweep-interval.
-postgres keeps the metadata in PostgreSQL and -s3-bucket the archives in S3
instead: replicas on several machines that share both serve the same API.
Users and job tokens come from the -auth file (tokenauth.Config JSON):

  {"users": [{"name": "alice", "tokens": ["glpat-..."], "roles": {"1": "maintainer"}}],
   "job_tokens": {"glcbt-...": 100}}

Each process knows only the users and job tokens it was given: give every
replica the same -auth file (and the same -token and -job-token with -demo).

-demo creates project 1 (demo/project) with the jobs that GitLab's docs use in
their curl examples (jobs 1, 5, 42, refs main and master, ...), a maintainer
token (-token) and the job token of running job 100 (-job-token). Only what is
missing is created: a job that exists is left as it is, so keeps and deletes
survive a restart. Remove the -data directory to start over.

Flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected argument %q (run with -h for usage)", fs.Arg(0))
	}
	if cfg.signedURLExpiry < time.Second || cfg.signedURLExpiry > s3store.MaxURLExpiry {
		return cfg, fmt.Errorf("-signed-url-expiry %v: S3 signs URLs valid for 1s to %v", cfg.signedURLExpiry, s3store.MaxURLExpiry)
	}
	if err := cfg.sweepConfig.check(); err != nil {
		return cfg, err
	}
	if err := cfg.storeConfig.check(); err != nil {
		return cfg, err
	}
	if err := cfg.limits.check(); err != nil {
		return cfg, err
	}
	if !cfg.demo && (cfg.token != "" || cfg.jobToken != "") {
		return cfg, errors.New("-token and -job-token go with -demo; without it, give users in the -auth file")
	}
	if cfg.demo && cfg.token == "" {
		cfg.token = tokenauth.GeneratePersonalToken()
	}
	if cfg.demo && cfg.jobToken == "" {
		cfg.jobToken = tokenauth.GenerateJobToken()
	}
	return cfg, nil
}

// serve opens the store, builds the server and serves until ctx is done,
// then shuts down gracefully. The log goes to stderr in batches (logBuffer),
// all of it written before serve returns.
func serve(ctx context.Context, cfg serveConfig, stdout, stderr io.Writer) (err error) {
	logOut := newLogBuffer(stderr, logFlushDelay)
	defer func() {
		if closeErr := logOut.Close(); err == nil && closeErr != nil {
			err = fmt.Errorf("writing the log: %w", closeErr)
		}
	}()
	logger := slog.New(flushingHandler{slog.NewTextHandler(logOut, nil), logOut})
	store, err := openStore(ctx, cfg.storeConfig, os.Getenv)
	if err != nil {
		return err
	}
	defer store.Close()

	// The store itself, not openedStore, whose embedding would hide its
	// optional capabilities (ProjectJobReader) from the handler.
	handler, err := newServer(ctx, cfg, store.seedStore, logger)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return err
	}
	ln = limitListener(ln, cfg.limits.maxConnections)
	logger.Info("serving the Job Artifacts API", append([]any{"addr", ln.Addr().String()}, store.where...)...)
	if cfg.demo {
		printTry(stdout, baseURL(ln.Addr()), cfg)
	}
	if cfg.s3.bucket != "" && cfg.sweepInterval > 0 && cfg.blobGrace < cfg.signedURLExpiry {
		logger.Warn("-blob-grace is shorter than -signed-url-expiry: a redirect's URL may outlive the archive it names",
			"blob_grace", cfg.blobGrace, "signed_url_expiry", cfg.signedURLExpiry)
	}
	sweepCtx, stopSweeping := context.WithCancel(ctx)
	defer stopSweeping()
	swept := make(chan struct{})
	go func() {
		defer close(swept)
		if cfg.sweepInterval > 0 {
			maintain(sweepCtx, store, cfg.sweepConfig, logger)
		}
	}()
	srv := newHTTPServer(handler, cfg.limits, slog.NewLogLogger(logger.Handler(), slog.LevelWarn))
	err = serveUntilDone(ctx, srv, ln, cfg.shutdownTimeout, handler.Close)
	stopSweeping()
	<-swept // the store closes after the last sweep
	if err != nil {
		return err
	}
	logger.Info("shut down")
	return nil
}

// apiServer is the program's http.Handler: the Job Artifacts API handler
// behind the access log.
type apiServer struct {
	http.Handler
	api *jobartifacts.Handler
}

// Close ends the API handler's background work, which reads the store
// (jobartifacts.Handler.Close).
func (s *apiServer) Close(ctx context.Context) error { return s.api.Close(ctx) }

// newServer builds the program's http.Handler on store: the authorizer
// from the -auth file and the demo's tokens, the demo data if asked for, the
// Job Artifacts API handler and the token-redacting access log around it.
func newServer(ctx context.Context, cfg serveConfig, store seedStore, logger *slog.Logger) (*apiServer, error) {
	authz := tokenauth.New(store)
	if cfg.authFile != "" {
		if err := applyAuthFile(authz, cfg.authFile); err != nil {
			return nil, err
		}
	}
	if cfg.demo {
		created, err := seedDemo(ctx, store, time.Now())
		if err != nil {
			return nil, err
		}
		logger.Info("demo data ready", "project", demoProjectPath, "jobs_created", created)
		err = authz.Apply(tokenauth.Config{
			Users: []tokenauth.User{{
				Name:   demoUser,
				Tokens: []string{cfg.token},
				Roles:  map[int64]tokenauth.Role{demoProjectID: tokenauth.Maintainer},
			}},
			JobTokens: map[string]int64{cfg.jobToken: demoRunningJobID},
		})
		if err != nil {
			return nil, fmt.Errorf("demo tokens: %w", err)
		}
	}
	if cfg.authFile == "" && !cfg.demo {
		logger.Warn("no users configured (-auth): only public projects can be read")
	}
	api := jobartifacts.New(store, authz,
		jobartifacts.WithLogger(logger),
		jobartifacts.WithMaxEntrySize(cfg.maxEntrySize),
		jobartifacts.WithArchiveIndexBudget(cfg.indexBudget),
		jobartifacts.WithZstdDecoders(cfg.zstdDecoders),
		jobartifacts.WithZstdMemory(cfg.zstdMemory),
		jobartifacts.WithMaxUploadSize(cfg.maxUploadSize),
		jobartifacts.WithUploadMemory(cfg.uploadMemory),
		jobartifacts.WithDefaultExpireIn(cfg.defaultExpireIn),
		jobartifacts.WithSignedURLExpiry(cfg.signedURLExpiry),
		jobartifacts.WithCORSOrigin(cfg.corsOrigin),
	)
	return &apiServer{Handler: jobartifacts.AccessLog(api, logger), api: api}, nil
}

// applyAuthFile adds the users and job tokens of a tokenauth.Config file.
func applyAuthFile(authz *tokenauth.Authorizer, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	authCfg, err := tokenauth.LoadConfig(f)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := authz.Apply(authCfg); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// serveUntilDone serves on ln until ctx is done, then stops accepting
// connections and waits, up to timeout, for the requests in flight (a long
// download, say) to finish. Requests' contexts do not derive from ctx, so
// they are not cancelled by it. Last, closeAPI (given another timeout) ends
// what requests left running in the background and reading the store
// (archive index builds), since the caller closes the store next.
func serveUntilDone(ctx context.Context, srv *http.Server, ln net.Listener, timeout time.Duration, closeAPI func(context.Context) error) (err error) {
	defer func() {
		closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
		defer cancel()
		if closeErr := closeAPI(closeCtx); err == nil && closeErr != nil {
			err = fmt.Errorf("graceful shutdown: %w", closeErr)
		}
	}()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()
	shutdownErr := srv.Shutdown(shutdownCtx)
	if serveErr := <-served; !errors.Is(serveErr, http.ErrServerClosed) {
		return serveErr
	}
	if shutdownErr != nil {
		// Time is up: cut the remaining connections.
		_ = srv.Close()
		return fmt.Errorf("graceful shutdown: %w", shutdownErr)
	}
	return nil
}

// baseURL is the URL clients use to reach addr; a wildcard listen address
// is reached through the loopback address.
func baseURL(addr net.Addr) string {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return "http://" + addr.String()
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// printTry prints the demo's tokens and a few curl lines of GitLab's docs
// with their host and tokens filled in.
func printTry(w io.Writer, base string, cfg serveConfig) {
	api := base + "/api/v4/projects/1"
	fmt.Fprintf(w, `Demo project %s (id %d), maintainer %s.
  personal access token: %s
  CI job token (job %d): %s
try:
  curl --location --output artifacts.zip --header "PRIVATE-TOKEN: %[4]s" "%[7]s/jobs/42/artifacts"
  curl --location --header "PRIVATE-TOKEN: %[4]s" "%[7]s/jobs/artifacts/main/download?job=test" --output artifacts.zip
  curl --location --header "PRIVATE-TOKEN: %[4]s" "%[7]s/jobs/5/artifacts/some/release/file.pdf" --output file.pdf
  curl --location --output artifacts.zip "%[7]s/jobs/artifacts/master/download?job=test&job_token=%[6]s"
  curl --header "PRIVATE-TOKEN: %[4]s" "%[7]s/jobs/42/artifacts/tree?recursive=true"
  curl --request POST --header "PRIVATE-TOKEN: %[4]s" "%[7]s/jobs/1/artifacts/keep"
runner upload and download, as job %[5]d:
  curl --request POST --header "JOB-TOKEN: %[6]s" --form "file=@artifacts.zip" "%[8]s/api/v4/jobs/%[5]d/artifacts?artifact_format=zip&artifact_type=archive&expire_in=1%%20week"
  curl --location --output artifacts.zip --header "JOB-TOKEN: %[6]s" "%[8]s/api/v4/jobs/%[5]d/artifacts"
`, demoProjectPath, demoProjectID, demoUser, cfg.token, demoRunningJobID, cfg.jobToken, api, base)
}
