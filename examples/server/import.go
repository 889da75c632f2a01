package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/ciartifacts/jobartifacts"
	"github.com/ciartifacts/jobartifacts/internal/ziparchive"
)

// errImportConflict: the flags contradict what the store already holds
// (a project id with another path, a job in another project or pipeline).
var errImportConflict = errors.New("conflicts with data already in the store")

// importConfig is what the import flags say.
type importConfig struct {
	storeConfig
	projectPath    string
	projectID      int64
	visibility     string
	pipelineID     int64
	ref            string
	sha            string
	pipelineStatus string
	jobID          int64
	jobName        string
	stage          string
	status         string
	expireIn       time.Duration
	filename       string
	archivePath    string // "" with -no-archive

	// What GitLab's request specs set up: project settings (for a new
	// project), job settings, and the archive's state.
	publicPipelines bool
	allowlist       []int64
	artifactsAccess string
	erased          bool
	expired         bool
	locked          bool
	noArchive       bool
}

// runImport is the import command: it registers a project, pipeline and job
// and stores a zip as the job's artifacts archive.
func runImport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseImportFlags(args, stderr)
	if err != nil {
		return err
	}
	var archive io.Reader
	if !cfg.noArchive {
		f, err := os.Open(cfg.archivePath)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := validateZip(ctx, f); err != nil {
			return fmt.Errorf("%s: %w", cfg.archivePath, err)
		}
		archive = f
	}
	store, err := openStore(ctx, cfg.storeConfig, os.Getenv)
	if err != nil {
		return err
	}
	defer store.Close()
	job, err := importArchive(ctx, store, cfg, archive, time.Now())
	if err != nil {
		return err
	}
	if cfg.noArchive {
		fmt.Fprintf(stdout, "registered job %d (%s, pipeline %d, ref %s) of project %s (id %d), without an archive\n",
			job.ID, job.Name, job.Pipeline.ID, job.Ref, cfg.projectPath, cfg.projectID)
		return nil
	}
	a, _ := job.Archive()
	fmt.Fprintf(stdout, "imported %s as the archive of job %d (%s, pipeline %d, ref %s) of project %s (id %d): %d bytes, sha256 %s\n",
		cfg.archivePath, job.ID, job.Name, job.Pipeline.ID, job.Ref, cfg.projectPath, cfg.projectID, a.Size, a.SHA256)
	return nil
}

func parseImportFlags(args []string, stderr io.Writer) (importConfig, error) {
	var cfg importConfig
	fs := flag.NewFlagSet("server import", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addStoreFlags(fs, &cfg.storeConfig) // the server's: import into what it serves
	fs.StringVar(&cfg.projectPath, "project", "", "project full path, e.g. group/app (required)")
	fs.Int64Var(&cfg.projectID, "project-id", 0, "project id (required)")
	fs.StringVar(&cfg.visibility, "visibility", "private", "visibility of a new project: private, internal or public")
	fs.Int64Var(&cfg.pipelineID, "pipeline", 0, "pipeline id (required)")
	fs.StringVar(&cfg.ref, "ref", "main", "branch or tag the pipeline ran for")
	fs.StringVar(&cfg.sha, "sha", "", "commit SHA the pipeline ran on")
	fs.StringVar(&cfg.pipelineStatus, "pipeline-status", "", "pipeline status (default: the job's -status)")
	fs.Int64Var(&cfg.jobID, "job-id", 0, "job id (required)")
	fs.StringVar(&cfg.jobName, "job", "build", "job name, as ?job= asks for it")
	fs.StringVar(&cfg.stage, "stage", "build", "job stage")
	fs.StringVar(&cfg.status, "status", jobartifacts.StatusSuccess, "job status: success, failed, running, …")
	fs.DurationVar(&cfg.expireIn, "expire-in", 0, "archive expires this long after the import (0: never)")
	fs.StringVar(&cfg.filename, "filename", "artifacts.zip", "file name clients are given for the archive")
	fs.BoolVar(&cfg.publicPipelines, "public-pipelines", false, "a new project's \"public pipelines\" setting: whoever sees the project reads its artifacts")
	fs.Func("job-token-allowlist", "a new project's job token allowlist: ids of projects whose job tokens may read it, comma-separated (turns the scope on)", func(v string) error {
		for _, f := range strings.Split(v, ",") {
			id, err := strconv.ParseInt(strings.TrimSpace(f), 10, 64)
			if err != nil || id <= 0 {
				return fmt.Errorf("%q is not a project id", f)
			}
			cfg.allowlist = append(cfg.allowlist, id)
		}
		return nil
	})
	fs.StringVar(&cfg.artifactsAccess, "artifacts-access", "", "the job's artifacts:access: all, developer or none (default: all)")
	fs.BoolVar(&cfg.erased, "erased", false, "the job was erased (the runner download route refuses it)")
	fs.BoolVar(&cfg.expired, "expired", false, "the archive expires at the import (a swept-to-be archive; see -locked)")
	fs.BoolVar(&cfg.locked, "locked", false, "the job's artifacts are kept (locked): they never expire, even with -expired")
	fs.BoolVar(&cfg.noArchive, "no-archive", false, "register the project, pipeline and job only: no zip argument")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: server import [flags] archive.zip
       server import -no-archive [flags]

Registers a project, a pipeline and a job in the store in -data (or -postgres
and -s3-bucket, as the server has them) and stores the zip as the job's
artifacts archive, replacing any archive it had. The project is created if
missing (an existing one must have the same path); the pipeline and the job
are created or updated from the flags. Works while servers run on the same
store, which serve the new job at once.

Example:
  server import -project group/app -project-id 7 -pipeline 7 -ref main \
    -job build -job-id 99 -status success build.zip

Flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	switch {
	case cfg.noArchive && fs.NArg() != 0:
		return cfg, errors.New("-no-archive takes no zip file")
	case !cfg.noArchive && fs.NArg() != 1:
		return cfg, errors.New("import takes exactly one zip file (run import -h for usage)")
	case cfg.noArchive && (cfg.expired || cfg.expireIn > 0):
		return cfg, errors.New("-expired and -expire-in need an archive")
	case cfg.projectPath == "" || cfg.projectID <= 0:
		return cfg, errors.New("import needs -project and a positive -project-id")
	case cfg.pipelineID <= 0 || cfg.jobID <= 0:
		return cfg, errors.New("import needs a positive -pipeline and -job-id")
	case cfg.ref == "" || cfg.jobName == "" || cfg.status == "":
		return cfg, errors.New("-ref, -job and -status must not be empty")
	case cfg.expireIn < 0:
		return cfg, errors.New("-expire-in must not be negative")
	case cfg.expired && cfg.expireIn > 0:
		return cfg, errors.New("-expired and -expire-in exclude each other")
	}
	switch cfg.artifactsAccess {
	case "", "all", "developer", "none":
	default:
		return cfg, fmt.Errorf("-artifacts-access %q: want all, developer or none", cfg.artifactsAccess)
	}
	if err := cfg.storeConfig.check(); err != nil {
		return cfg, err
	}
	if cfg.pipelineStatus == "" {
		cfg.pipelineStatus = cfg.status
	}
	cfg.archivePath = fs.Arg(0)
	return cfg, nil
}

// validateZip checks, before anything is stored, the archive as a runner
// upload is checked (ziparchive.Validate, the library's one validation): its
// central directory must read completely. Entry data is not read, so an
// archive of overlapping entries costs what its directory costs; entries
// are checked when served.
func validateZip(ctx context.Context, f *os.File) error {
	info, err := f.Stat()
	if err != nil {
		return err
	}
	if err := ziparchive.Validate(ctx, f, info.Size()); err != nil {
		if errors.Is(err, ziparchive.ErrFormat) {
			return fmt.Errorf("%w: %w", jobartifacts.ErrInvalidArchive, err)
		}
		return err
	}
	return nil
}

// importArchive creates or updates the project, pipeline and job that cfg
// describes and stores archive as the job's artifacts archive.
func importArchive(ctx context.Context, s seedStore, cfg importConfig, archive io.Reader, now time.Time) (*jobartifacts.Job, error) {
	if err := ensureImportProject(ctx, s, cfg); err != nil {
		return nil, err
	}
	existing, err := s.JobByID(ctx, cfg.jobID)
	switch {
	case err == nil && existing.ProjectID != cfg.projectID:
		return nil, fmt.Errorf("job %d belongs to project %d: %w", cfg.jobID, existing.ProjectID, errImportConflict)
	case err == nil && existing.Pipeline.ID != cfg.pipelineID:
		return nil, fmt.Errorf("job %d is in pipeline %d: %w", cfg.jobID, existing.Pipeline.ID, errImportConflict)
	case err != nil && !errors.Is(err, jobartifacts.ErrNotFound):
		return nil, err
	}

	err = s.PutPipeline(ctx, jobartifacts.Pipeline{
		ID: cfg.pipelineID, IID: cfg.pipelineID, ProjectID: cfg.projectID,
		SHA: cfg.sha, Ref: cfg.ref, Status: cfg.pipelineStatus, Source: "push",
		CreatedAt: &now, UpdatedAt: &now,
	})
	if err != nil {
		return nil, fmt.Errorf("pipeline %d: %w", cfg.pipelineID, err)
	}
	job := jobartifacts.Job{
		ID: cfg.jobID, ProjectID: cfg.projectID, Pipeline: jobartifacts.Pipeline{ID: cfg.pipelineID},
		Name: cfg.jobName, Stage: cfg.stage, Status: cfg.status, Ref: cfg.ref,
		CreatedAt: &now, StartedAt: &now, FinishedAt: &now,
		ArtifactsAccess: cfg.artifactsAccess,
	}
	if cfg.erased {
		job.ErasedAt = &now
	}
	if existing != nil {
		// PutJob records the artifacts it is given: keep the job's own, so
		// that StoreArtifact replaces the archive and the store queues its
		// blob for the sweeper.
		job.CreatedAt, job.StartedAt = existing.CreatedAt, existing.StartedAt
		job.Artifacts, job.ArtifactsExpireAt, job.ArtifactsLocked = existing.Artifacts, existing.ArtifactsExpireAt, existing.ArtifactsLocked
	}
	// Locked here, before the archive: StoreArtifact keeps the flag, and a
	// locked archive stays readable whatever its expiry (GitLab's
	// "locked and expired").
	job.ArtifactsLocked = job.ArtifactsLocked || cfg.locked
	if err := s.PutJob(ctx, job); err != nil {
		return nil, fmt.Errorf("job %d: %w", cfg.jobID, err)
	}
	if archive == nil {
		return s.JobByID(ctx, cfg.jobID)
	}

	a := jobartifacts.Artifact{FileType: jobartifacts.ArtifactTypeArchive, FileFormat: "zip", Filename: cfg.filename}
	switch {
	case cfg.expired:
		expireAt := now.UTC()
		a.ExpireAt = &expireAt
	case cfg.expireIn > 0:
		expireAt := now.Add(cfg.expireIn).UTC()
		a.ExpireAt = &expireAt
	}
	stored, err := jobartifacts.StoreArtifact(ctx, s, cfg.projectID, cfg.jobID, a, archive)
	if err != nil {
		return nil, fmt.Errorf("store archive of job %d: %w", cfg.jobID, err)
	}
	return stored, nil
}

// ensureImportProject creates the project unless it exists; an existing
// project must have the path given.
func ensureImportProject(ctx context.Context, s seedStore, cfg importConfig) error {
	p, err := s.Project(ctx, cfg.projectID)
	switch {
	case err == nil && p.PathWithNamespace != cfg.projectPath:
		return fmt.Errorf("project %d is %q, not %q: %w", cfg.projectID, p.PathWithNamespace, cfg.projectPath, errImportConflict)
	case err == nil:
		return nil
	case !errors.Is(err, jobartifacts.ErrNotFound):
		return err
	}
	switch cfg.visibility {
	case "private", "internal", "public":
	default:
		return fmt.Errorf("-visibility %q: want private, internal or public", cfg.visibility)
	}
	err = s.PutProject(ctx, jobartifacts.Project{
		ID: cfg.projectID, PathWithNamespace: cfg.projectPath, Visibility: cfg.visibility,
		PublicPipelines: cfg.publicPipelines, JobTokenAllowlist: cfg.allowlist, CIJobTokenScopeEnabled: len(cfg.allowlist) > 0,
	})
	if err != nil {
		return fmt.Errorf("project %d: %w", cfg.projectID, err)
	}
	return nil
}
